// TimerWheel internals: slot placement, cascades, the skip to the next
// non-empty slot, and the per-tick sort. See timer_wheel.h for the layout.
//
// Invariants (n = next_tick_, the first tick not yet processed):
// * A node in level-0 slot j expires at the unique tick e in [n, n + 4096)
//   with e % 4096 == j.
// * A node in level-k slot s (k >= 1, shift S = 12 + 6 (k - 1)) is cascaded at
//   the first tick t >= n with t % 2^S == 0 and (t >> S) % 64 == s, and its
//   expiry tick is >= t (and < t + 2^S unless it was parked beyond the span).
// * Every node is counted in size_, and occupied_ has bit i set exactly when
//   slots_[i] is non-empty, and root_summary_ bit w exactly when occupied_[w]
//   (w < 64, the first level) is non-zero. Nodes in due_ have slot == kDueSlot.
#include "core/timer_wheel.h"

#include <bit>

namespace longlink::core {
namespace {

void LinkTail(TimerNode* head, TimerNode* node) {
  node->prev = head->prev;
  node->next = head;
  head->prev->next = node;
  head->prev = node;
}

void Unlink(TimerNode* node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = nullptr;
  node->next = nullptr;
}

// Merges two deadline-sorted chains linked by `next` (nullptr-terminated).
// Stable: on equal deadlines `a` goes first.
TimerNode* Merge(TimerNode* a, TimerNode* b) {
  TimerNode head;
  TimerNode* tail = &head;
  while (a != nullptr && b != nullptr) {
    if (b->deadline_ms < a->deadline_ms) {
      tail->next = b;
      b = b->next;
    } else {
      tail->next = a;
      a = a->next;
    }
    tail = tail->next;
  }
  tail->next = a != nullptr ? a : b;
  return head.next;
}

// Stable merge sort of a chain of `n` nodes linked by `next`; O(n log n),
// recursion depth log2(n).
TimerNode* SortChain(TimerNode* first, size_t n) {
  if (n < 2) {
    if (first != nullptr)
      first->next = nullptr;
    return first;
  }
  // Each half is walked and relinked only within its own n nodes.
  TimerNode* mid = first;
  for (size_t i = 0; i < n / 2; ++i) mid = mid->next;
  TimerNode* right = SortChain(mid, n - n / 2);
  TimerNode* left = SortChain(first, n / 2);
  return Merge(left, right);
}

}  // namespace

TimerWheel::TimerWheel(uint32_t tick_ms, uint64_t now_ms) : tick_ms_(tick_ms) {
  LL_CHECK(tick_ms > 0);
  for (TimerNode& head : slots_) head.prev = head.next = &head;
  due_.prev = due_.next = &due_;
  // The tick that holds now_ms is due (its end is <= now_ms) but unprocessed.
  next_tick_ = now_ms / tick_ms_;
}

TimerWheel::~TimerWheel() {
  auto detach = [](TimerNode* head) {
    for (TimerNode* node = head->next; node != head;) {
      TimerNode* next = node->next;
      node->prev = node->next = nullptr;
      node->slot = 0;
      node = next;
    }
    head->prev = head->next = head;
  };
  for (TimerNode& head : slots_) detach(&head);
  detach(&due_);
}

uint64_t TimerWheel::TickOf(uint64_t deadline_ms) const {
  const uint64_t tick = deadline_ms / tick_ms_ + (deadline_ms % tick_ms_ != 0 ? 1 : 0);
  return tick < next_tick_ ? next_tick_ : tick;
}

void TimerWheel::Schedule(TimerNode* node, uint64_t deadline_ms) {
  if (node->slot != 0)
    Cancel(node);
  node->deadline_ms = deadline_ms;
  Insert(node, TickOf(deadline_ms));
  ++size_;
}

void TimerWheel::Insert(TimerNode* node, uint64_t expiry_tick) {
  uint64_t delta = expiry_tick - next_tick_;
  uint32_t index;
  if (delta < kRootSlots) {
    index = static_cast<uint32_t>(expiry_tick & (kRootSlots - 1));
  } else {
    if (delta >= kSpanTicks) {  // park at the far end; re-placed when cascaded
      delta = kSpanTicks - 1;
      expiry_tick = next_tick_ + delta;
    }
    // delta in [2^(12+6(k-1)), 2^(12+6k)) selects level k.
    const int level = (static_cast<int>(std::bit_width(delta)) - 1 - kRootBits) / kLevelBits + 1;
    index = kRootSlots + (level - 1) * kLevelSlots +
            static_cast<uint32_t>((expiry_tick >> Shift(level)) & (kLevelSlots - 1));
  }
  LinkTail(&slots_[index], node);
  node->slot = index + 1;
  MarkOccupied(index);
}

void TimerWheel::MarkOccupied(uint32_t index) {
  occupied_[index / 64] |= uint64_t{1} << (index % 64);
  if (index < kRootSlots)
    root_summary_ |= uint64_t{1} << (index / 64);
}

void TimerWheel::MarkEmpty(uint32_t index) {
  occupied_[index / 64] &= ~(uint64_t{1} << (index % 64));
  if (index < kRootSlots && occupied_[index / 64] == 0) {
    root_summary_ &= ~(uint64_t{1} << (index / 64));
  }
}

bool TimerWheel::Cancel(TimerNode* node) {
  if (node->slot == 0)
    return false;
  Unlink(node);
  if (node->slot != kDueSlot) {
    const uint32_t index = node->slot - 1;
    if (slots_[index].next == &slots_[index])
      MarkEmpty(index);
  }
  node->slot = 0;
  --size_;
  return true;
}

void TimerWheel::Cascade(int level, uint32_t index) {
  const uint32_t slot = kRootSlots + (level - 1) * kLevelSlots + index;
  TimerNode* head = &slots_[slot];
  if (head->next == head)
    return;
  // Detach the whole list first: re-placing never targets this slot, but
  // walking a detached chain does not depend on that.
  TimerNode* node = head->next;
  head->prev->next = nullptr;
  head->prev = head->next = head;
  MarkEmpty(slot);
  while (node != nullptr) {
    TimerNode* next = node->next;
    Insert(node, TickOf(node->deadline_ms));
    node = next;
  }
}

uint64_t TimerWheel::NextEventTick() const {
  const uint64_t n = next_tick_;
  uint64_t best = kNoTick;
  // Level 0: the first non-empty slot cyclically from n % 4096: the rest of
  // the start word, then the other words in order (found through the
  // summary), then the start word's bits below the start (the next lap).
  const uint32_t start = static_cast<uint32_t>(n & (kRootSlots - 1));
  const uint32_t w0 = start / 64;
  uint32_t j = kRootSlots;
  if (uint64_t bits = occupied_[w0] & (~uint64_t{0} << (start % 64)); bits != 0) {
    j = w0 * 64 + static_cast<uint32_t>(std::countr_zero(bits));
  } else if (uint64_t others = root_summary_ & ~(uint64_t{1} << w0); others != 0) {
    const uint32_t from = (w0 + 1) % 64;
    const uint32_t w = (from + static_cast<uint32_t>(
                                   std::countr_zero(std::rotr(others, static_cast<int>(from))))) %
                       64;
    j = w * 64 + static_cast<uint32_t>(std::countr_zero(occupied_[w]));
  } else if (occupied_[w0] != 0) {
    j = w0 * 64 + static_cast<uint32_t>(std::countr_zero(occupied_[w0]));
  }
  if (j != kRootSlots)
    best = n + ((j - start) & (kRootSlots - 1));
  // Levels 1..4: the first non-empty slot cyclically from the slot of the
  // first level boundary >= n; the cascade at that boundary comes first.
  for (int level = 1; level < kLevels; ++level) {
    const uint64_t bits = occupied_[kRootSlots / 64 + level - 1];
    if (bits == 0)
      continue;
    const int shift = Shift(level);
    const uint64_t boundary = (n + (uint64_t{1} << shift) - 1) >> shift;  // in 2^shift ticks
    const uint32_t from = static_cast<uint32_t>(boundary & (kLevelSlots - 1));
    const uint64_t rotated = std::rotr(bits, static_cast<int>(from));
    const uint64_t t = (boundary + static_cast<uint64_t>(std::countr_zero(rotated))) << shift;
    if (t < best)
      best = t;
  }
  return best;
}

uint64_t TimerWheel::NextDeadline() const {
  const uint64_t t = NextEventTick();
  return t == kNoTick ? kNever : t * tick_ms_;
}

void TimerWheel::BeginTick(uint64_t tick) {
  LL_DCHECK(due_.next == &due_);
  next_tick_ = tick;
  // At a level-0 wrap, cascade the level-1 slot that comes due, and the
  // level-2 one when level 1 wraps too, and so on. Lower levels go first, as
  // in Linux: a node coming down from level k + 1 lands at least one slot
  // past the level-k slot just emptied.
  if ((tick & (kRootSlots - 1)) == 0) {
    for (int level = 1; level < kLevels; ++level) {
      const uint32_t index = static_cast<uint32_t>((tick >> Shift(level)) & (kLevelSlots - 1));
      Cascade(level, index);
      if (index != 0)
        break;
    }
  }

  const uint32_t index = static_cast<uint32_t>(tick & (kRootSlots - 1));
  TimerNode* head = &slots_[index];
  next_tick_ = tick + 1;
  if (head->next == head)
    return;
  // Move the slot's chain to due_, sorted by deadline unless it already is.
  size_t count = 0;
  bool sorted = true;
  for (TimerNode* node = head->next; node != head; node = node->next) {
    if (node->next != head && node->next->deadline_ms < node->deadline_ms)
      sorted = false;
    ++count;
  }
  TimerNode* first = head->next;
  head->prev->next = nullptr;
  head->prev = head->next = head;
  MarkEmpty(index);
  if (!sorted)
    first = SortChain(first, count);
  for (TimerNode* node = first; node != nullptr;) {
    TimerNode* next = node->next;
    LinkTail(&due_, node);
    node->slot = kDueSlot;
    node = next;
  }
}

TimerNode* TimerWheel::PopDue() {
  TimerNode* node = due_.next;
  if (node == &due_)
    return nullptr;
  Unlink(node);
  node->slot = 0;
  --size_;
  return node;
}

}  // namespace longlink::core
