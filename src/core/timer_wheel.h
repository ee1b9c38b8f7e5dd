// TimerWheel: one hierarchical hashed timer wheel per shard, for the many
// timers of the messaging core (redelivery of unacked pushes, PROTOCOL.md
// section 5) so that a shard arms one uv_timer_t, not one timer per message.
//
// Nodes are intrusive: a TimerNode is embedded in (or a base of) whatever
// owns the timer, and the wheel only links it. Schedule and Cancel are O(1);
// a node fires once per Schedule. Time is quantised to ticks of `tick_ms`: a
// node with deadline d fires in the tick ceil(d / tick_ms), i.e. during the
// first Advance(now) with now >= ceil(d / tick_ms) * tick_ms. So a node never
// fires before its deadline, and if Advance is called at NextDeadline() it
// fires less than one tick after it. Within one Advance, nodes fire tick by
// tick and, within a tick, in deadline order (ties in an unspecified order).
//
// Layout (the Linux timer wheel before 4.8, Varghese & Lauck scheme 6, with
// a wider first level): five levels, 4096 slots of one tick, then four of 64
// slots of 2^12, 2^18, 2^24 and 2^30 ticks, covering 2^36 ticks (218 years at
// 100 ms). A node sits at the lowest level whose span holds its distance; at
// each level boundary the slot that comes due is cascaded to the levels
// below, so a node is moved at most four times in its life. The first level
// spans 409.6 s at 100 ms ticks, so redelivery timers (<= 300 s) and the
// other timers of a connection never cascade: each is touched once when
// armed and once when it fires. Deadlines beyond the span are parked in the
// top level and re-placed when cascaded. Bitmaps of non-empty slots (with a
// summary word over the first level) let Advance jump over idle ticks and let
// NextDeadline answer without scanning nodes.
//
// Cost, measured by the performance case of tests/unit/core/timer_wheel_test.cc
// (Release, 2-core EPYC VM, 10-300 s deadlines, 100 ms ticks): with 10k
// nodes in cache, Schedule ~4 ns, Cancel ~5 ns, fire ~22 ns; with 1M nodes
// scattered over 56 MB, Schedule ~10 ns, Cancel ~20 ns, fire ~450 ns, which
// is one cache miss per node (a random pointer chase over 56 MB costs ~410 ns
// a hop on that machine) when its tick's list is walked.
//
// Memory: the wheel is ~140 KB (4352 list heads of 32 bytes); keep it in the
// shard's heap-allocated state, not on a small stack.
//
// Thread contract: single-threaded; a TimerWheel and its nodes are used on the
// owner shard's thread only. No exceptions; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/assert.h"

namespace longlink::core {

// Embed one per timer. The fields belong to the TimerWheel while the node is
// scheduled; read `deadline_ms` freely. A scheduled node must not be moved or
// destroyed: Cancel it first (the destructor checks this in debug builds).
struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t deadline_ms = 0;
  uint32_t slot = 0;  // 0: idle; otherwise where the wheel keeps it

  TimerNode() = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;
  ~TimerNode() { LL_DCHECK(slot == 0); }

  bool scheduled() const { return slot != 0; }
};
static_assert(sizeof(TimerNode) == 32, "TimerNode is embedded per pending message");

// Redelivery backoff: the interval after `current_ms`, doubled and capped at
// `cap_ms` (PROTOCOL.md 5: 10 s, 20 s, 40 s, ... 300 s, 300 s). Saturating;
// 0 stays 0.
inline uint64_t NextBackoff(uint64_t current_ms, uint64_t cap_ms = 300000) {
  return current_ms >= cap_ms / 2 + cap_ms % 2 ? cap_ms : current_ms * 2;
}

class TimerWheel {
 public:
  static constexpr uint32_t kDefaultTickMs = 100;
  static constexpr uint64_t kNever = UINT64_MAX;

  // `now_ms` is where the wheel's clock starts (any deadline before it fires
  // at the first Advance). REQUIRES: tick_ms > 0.
  explicit TimerWheel(uint32_t tick_ms = kDefaultTickMs, uint64_t now_ms = 0);
  // Unlinks every node still scheduled (they become idle; none fires).
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `node` to fire at `deadline_ms`; if it is already scheduled, it is
  // moved. A deadline in the past (or in a tick already processed, as when a
  // callback reschedules with a deadline <= now) fires at the next tick.
  void Schedule(TimerNode* node, uint64_t deadline_ms);

  // Disarms `node`. Returns false if it was not scheduled (already fired,
  // cancelled, or never armed). Safe from inside an Advance callback, on any
  // node, including ones due in the same tick (they then do not fire).
  bool Cancel(TimerNode* node);

  // Fires every node whose tick has come by `now_ms`, calling
  // `on_fire(TimerNode*)` once for each. The node is idle when the callback
  // runs, so the callback may Schedule it again, destroy it, Cancel or
  // Schedule other nodes. It must not call Advance. Returns how many fired.
  // REQUIRES: now_ms < UINT64_MAX.
  template <class F>
  size_t Advance(uint64_t now_ms, F&& on_fire);

  // The time at which Advance should next be called: no node fires before it,
  // and it is exact when the earliest node is within 256 ticks. Otherwise it
  // is the time of the cascade that brings that node closer (a cheap early
  // wake-up; call NextDeadline again after Advance). kNever when empty.
  uint64_t NextDeadline() const;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  uint32_t tick_ms() const { return tick_ms_; }

 private:
  static constexpr int kLevels = 5;
  static constexpr int kRootBits = 12;  // level 0: 4096 slots of one tick
  static constexpr int kLevelBits = 6;  // levels 1..4: 64 slots each
  static constexpr uint32_t kRootSlots = 1u << kRootBits;
  static constexpr uint32_t kLevelSlots = 1u << kLevelBits;
  static constexpr uint32_t kSlots = kRootSlots + (kLevels - 1) * kLevelSlots;  // 4352
  static constexpr uint64_t kSpanTicks = uint64_t{1} << (kRootBits + (kLevels - 1) * kLevelBits);
  static constexpr uint32_t kDueSlot = UINT32_MAX;  // TimerNode::slot while in due_
  static constexpr uint64_t kNoTick = UINT64_MAX;

  static int Shift(int level) { return kRootBits + (level - 1) * kLevelBits; }
  uint64_t TickOf(uint64_t deadline_ms) const;  // ceil(deadline / tick), >= next_tick_
  void Insert(TimerNode* node, uint64_t expiry_tick);
  void MarkOccupied(uint32_t index);
  void MarkEmpty(uint32_t index);
  void Cascade(int level, uint32_t index);
  // The first tick >= next_tick_ at which a node fires or a non-empty slot
  // cascades; kNoTick if the wheel's slots are empty.
  uint64_t NextEventTick() const;
  // Processes the cascades of `tick` and moves its due nodes, sorted by
  // deadline, to due_. Leaves next_tick_ = tick + 1.
  void BeginTick(uint64_t tick);
  TimerNode* PopDue();

  TimerNode slots_[kSlots];              // list sentinels
  TimerNode due_;                        // sentinel: nodes of the tick being fired
  uint64_t occupied_[kSlots / 64] = {};  // bit i: slots_[i] is non-empty
  uint64_t root_summary_ = 0;            // bit w: occupied_[w] != 0, for w < 64
  uint64_t next_tick_;                   // first tick not yet processed
  size_t size_ = 0;                      // scheduled nodes, due_ included
  uint32_t tick_ms_;
  bool advancing_ = false;
};

template <class F>
size_t TimerWheel::Advance(uint64_t now_ms, F&& on_fire) {
  LL_DCHECK(!advancing_);
  advancing_ = true;
  const uint64_t target = now_ms / tick_ms_;
  size_t fired = 0;
  while (next_tick_ <= target) {
    const uint64_t t = NextEventTick();
    if (t > target) {
      next_tick_ = target + 1;  // nothing happens in the ticks skipped
      break;
    }
    BeginTick(t);
    while (TimerNode* node = PopDue()) {
      ++fired;
      on_fire(node);
    }
  }
  advancing_ = false;
  return fired;
}

}  // namespace longlink::core
