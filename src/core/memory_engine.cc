#include "core/engine.h"

namespace longlink::core {

MemoryEngine::~MemoryEngine() = default;

void MemoryEngine::Append(ConvState* c, Op* op, StoredMsg m) {
  c->msgs.push_back(m);
  listener_->OnDurable(c, op, c->msgs.back(), true);
}

bool MemoryEngine::Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
                        std::vector<StoredMsg>* out) {
  // msgs holds seqs 1..last_seq in order (index = seq - 1).
  if (lo < 1) lo = 1;
  if (hi > c->msgs.size()) hi = c->msgs.size();
  if (lo > hi) return false;
  uint64_t a = lo, b = hi;
  if (b - a + 1 > limit) {
    if (from_top) {
      a = b - limit + 1;
    } else {
      b = a + limit - 1;
    }
  }
  for (uint64_t s = a; s <= b; s++) {
    const StoredMsg& m = c->msgs[s - 1];
    m.frame->Ref();
    out->push_back(m);
  }
  return limit == 0 || (from_top ? a > lo : b < hi);
}

}  // namespace longlink::core
