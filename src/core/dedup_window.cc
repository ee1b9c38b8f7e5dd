#include "core/dedup_window.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

#include "base/assert.h"

namespace longlink::core {

namespace {
constexpr size_t kMinSlots = 8;
constexpr size_t kMinRing = 4;
constexpr uint32_t kMinChunk = 256;
constexpr uint32_t kMaxChunk = 64 * 1024;
}  // namespace

uint64_t DedupWindow::Hash(std::string_view cmid) {
  return std::hash<std::string_view>{}(cmid);
}

bool DedupWindow::Find(std::string_view cmid, Entry* out) const {
  if (empty()) return false;
  const uint64_t h = Hash(cmid);
  const uint32_t tag = Tag(h);
  const size_t mask = slots_.size() - 1;
  for (size_t i = Bucket(tag);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.tag == 0) return false;
    if (s.tag != tag) continue;
    const uint64_t num = first_ + uint32_t(s.num - uint32_t(first_));
    const Rec& r = RecAt(num);
    if (r.hash != h || r.cmid_len != cmid.size()) continue;
    const char* b = BytesOf(r);
    if (std::memcmp(b, cmid.data(), cmid.size()) != 0) continue;
    out->conv = std::string_view(b + r.cmid_len, r.conv_len);
    out->seq = r.seq;
    out->ts = r.ts;
    return true;
  }
}

void DedupWindow::Add(std::string_view cmid, std::string_view conv, uint64_t seq, int64_t ts) {
  LL_CHECK(cmid.size() <= 255 && conv.size() <= 255);
  const size_t n = size() + 1;
  if (n * 4 > slots_.size() * 3) Rebuild(std::max(kMinSlots, slots_.size() * 2));
  if (n > ring_cap_) ResizeRing(std::max(kMinRing, ring_cap_ * 2));

  const uint32_t need = uint32_t(cmid.size() + conv.size());
  if (bytes_.empty() || bytes_.back().cap - bytes_.back().used < need) {
    uint32_t cap = bytes_.empty() ? kMinChunk : std::min(kMaxChunk, bytes_.back().cap * 2);
    Chunk c;
    c.cap = std::max(cap, need);
    c.data = std::make_unique_for_overwrite<char[]>(c.cap);
    bytes_.push_back(std::move(c));
  }
  Chunk& c = bytes_.back();
  Rec r;
  r.hash = Hash(cmid);
  r.ts = ts;
  r.seq = seq;
  r.chunk = first_chunk_ + uint32_t(bytes_.size() - 1);
  r.off = uint16_t(c.used);
  r.cmid_len = uint8_t(cmid.size());
  r.conv_len = uint8_t(conv.size());
  std::memcpy(c.data.get() + c.used, cmid.data(), cmid.size());
  std::memcpy(c.data.get() + c.used + cmid.size(), conv.data(), conv.size());
  c.used += need;

  ring_[next_ & (ring_cap_ - 1)] = r;
  InsertSlot(r.hash, next_);
  next_++;
}

void DedupWindow::Reserve(size_t n) {
  if (n > ring_cap_) ResizeRing(std::bit_ceil(n));
  if (n * 4 > slots_.size() * 3) Rebuild(std::max(kMinSlots, std::bit_ceil(n * 4 / 3 + 1)));
}

void DedupWindow::Expire(int64_t cutoff_ms) {
  bool dropped = false;
  while (!empty() && RecAt(first_).ts < cutoff_ms) {
    EraseSlot(RecAt(first_).hash, first_);
    first_++;
    dropped = true;
  }
  if (!dropped) return;
  if (empty()) {
    // Give everything back: an idle user's window costs nothing.
    first_chunk_ += uint32_t(bytes_.size());
    bytes_.clear();
    ring_.reset();
    ring_cap_ = 0;
    std::vector<Slot>().swap(slots_);
    shift_ = 32;
    return;
  }
  const uint32_t keep = RecAt(first_).chunk;
  if (first_chunk_ != keep) {
    const uint32_t n = keep - first_chunk_;
    bytes_.erase(bytes_.begin(), bytes_.begin() + n);
    first_chunk_ = keep;
  }
  const size_t n = size();
  if (slots_.size() > kMinSlots && n * 8 < slots_.size()) {
    Rebuild(std::max(kMinSlots, std::bit_ceil(n * 2)));
  }
  if (ring_cap_ > kMinRing && n * 4 < ring_cap_) {
    ResizeRing(std::max(kMinRing, std::bit_ceil(n * 2)));
  }
}

size_t DedupWindow::MemoryBytes() const {
  size_t b = ring_cap_ * sizeof(Rec) + slots_.capacity() * sizeof(Slot);
  for (const Chunk& c : bytes_) b += c.cap;
  return b;
}

void DedupWindow::Rebuild(size_t slots) {
  LL_DCHECK(std::has_single_bit(slots) && slots <= (size_t(1) << 31));
  std::vector<Slot>(slots, Slot{0, 0}).swap(slots_);  // (assign would keep a bigger capacity)
  shift_ = 32 - std::countr_zero(slots);
  for (uint64_t num = first_; num < next_; num++) InsertSlot(RecAt(num).hash, num);
}

void DedupWindow::InsertSlot(uint64_t h, uint64_t num) {
  const uint32_t tag = Tag(h);
  const size_t mask = slots_.size() - 1;
  size_t i = Bucket(tag);
  while (slots_[i].tag != 0) i = (i + 1) & mask;
  slots_[i] = Slot{tag, uint32_t(num)};
}

void DedupWindow::EraseSlot(uint64_t h, uint64_t num) {
  const uint32_t tag = Tag(h);
  const size_t mask = slots_.size() - 1;
  size_t i = Bucket(tag);
  while (!(slots_[i].tag == tag && slots_[i].num == uint32_t(num))) {
    LL_CHECK(slots_[i].tag != 0);
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: pull later entries of the probe run into the
  // hole unless their home bucket lies cyclically in (hole, their slot].
  for (size_t j = i;;) {
    j = (j + 1) & mask;
    if (slots_[j].tag == 0) break;
    const size_t k = Bucket(slots_[j].tag);
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{0, 0};
}

void DedupWindow::ResizeRing(size_t cap) {
  LL_DCHECK(std::has_single_bit(cap) && cap >= size());
  auto ring = std::make_unique_for_overwrite<Rec[]>(cap);
  // Contiguous runs: at most three memcpys.
  for (uint64_t num = first_; num < next_;) {
    const size_t from = num & (ring_cap_ - 1), to = num & (cap - 1);
    const size_t run = std::min<uint64_t>({next_ - num, ring_cap_ - from, cap - to});
    std::memcpy(&ring[to], &ring_[from], run * sizeof(Rec));
    num += run;
  }
  ring_ = std::move(ring);
  ring_cap_ = cap;
}

}  // namespace longlink::core
