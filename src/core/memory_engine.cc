#include "core/engine.h"

namespace longlink::core {

MemoryEngine::~MemoryEngine() = default;

void MemoryEngine::Append(ConvState* c, Op* op, StoredMsg m) {
  c->msgs.push_back(m);
  listener_->OnDurable(c, op, c->msgs.back(), true);
}

void MemoryEngine::Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
                        std::vector<StoredMsg>* out) {
  // msgs holds seqs 1..last_seq in order (index = seq - 1).
  if (c->msgs.empty() || lo > hi) return;
  if (lo < 1) lo = 1;
  if (hi > c->msgs.size()) hi = c->msgs.size();
  if (lo > hi) return;
  uint64_t n = hi - lo + 1;
  if (n > limit) {
    if (from_top) {
      lo = hi - limit + 1;
    } else {
      hi = lo + limit - 1;
    }
  }
  for (uint64_t s = lo; s <= hi; s++) {
    const StoredMsg& m = c->msgs[s - 1];
    m.frame->Ref();
    out->push_back(m);
  }
}

}  // namespace longlink::core
