// Inbound frame rate limit (PROTOCOL.md section 7): a token bucket of `rate`
// frames per second with a burst of twice that, where every data frame takes
// one token. A frame that finds no whole token is dropped and answered
// `rate_limited` with `retry_ms`, the exact number of milliseconds until one
// token is back (at least 1). A connection that has had more than 4 * `rate`
// frames dropped within 2 s is closed with 4029.
//
// Memory: the parameters live once in a RateLimiter (one per server, shared
// read-only by every shard after start-up); each connection keeps only a
// 12-byte RateState. Tokens are kept in thousandths, so the refill of `rate`
// tokens per second is exactly `rate` thousandths per millisecond: no rounding
// drift, whatever the rate (3/s refills 3 thousandths per ms).
//
// Time is a uint32_t count of milliseconds on a monotonic clock (shard
// relative); it wraps after 49.7 days and every difference is taken unsigned,
// so the wrap is invisible. The one blind spot: a connection silent for a
// whole multiple of 2^32 ms (plus less than 2 s) sees a partly refilled bucket.
//
// The abuse window is fixed, not sliding: it opens at the first drop when no
// window is open and counts the drops at times [start, start + 2000) ms; the
// first drop at or after start + 2000 opens a new window with a count of one.
// The close comes on the drop that makes the count 4 * rate + 1. A flood that
// straddles two windows can therefore get up to twice the threshold dropped
// before the close; it still pays for every frame with a drop.
//
// Thread contract: RateLimiter is immutable after construction and may be read
// from any shard. A RateState belongs to one connection and is used on its
// shard's thread only. No exceptions, no allocation.
#pragma once

#include <cstdint>

namespace longlink::core {

// Per-connection bucket state. Fill it with RateLimiter::Init before use.
struct RateState {
  uint32_t milli_tokens;  // tokens * 1000, at most 2 * rate * 1000
  uint32_t last_ms;       // time of the last Take (or Init)
  // Drops in the open abuse window; 0 when no window is open. Saturates.
  uint32_t drops : 20;
  // Start of the open abuse window, in ms modulo 4096. Twelve bits are
  // enough because of the invariant below: the true age of the window is
  // always below 4000 ms when it is read.
  //
  // Invariant: drops > 0 implies last_ms - window start < 2000 ms. Take
  // closes the window when more than 2000 ms passed since the last Take, so
  // the window age it then computes is < 2000 + 2000 < 4096, exact mod 4096.
  uint32_t window_start : 12;
};
static_assert(sizeof(RateState) == 12, "RateState is kept per connection");

class RateLimiter {
 public:
  struct Decision {
    bool allowed;       // the frame took a token; handle it
    bool abuse;         // dropped, and the drop count crossed 4 * rate: close 4029
    uint32_t retry_ms;  // when dropped: ms until one token is available, >= 1
  };

  static constexpr uint32_t kMilli = 1000;               // fixed point: one token
  static constexpr uint32_t kAbuseWindowMs = 2000;       // PROTOCOL.md: "within 2 s"
  static constexpr uint32_t kAbuseFactor = 4;            // "more than four times --rate"
  static constexpr uint32_t kMaxRate = 1000000;          // --rate's upper bound (cli/flags.cc)
  static constexpr uint32_t kMaxDrops = (1u << 20) - 1;  // RateState::drops saturates here

  // `rate` is clamped into [1, kMaxRate]. Above 262,143 frames/s the abuse
  // threshold is capped at kMaxDrops - 1 by the 20-bit counter (a rate no
  // deployment sets; the flag default is 200).
  explicit RateLimiter(uint32_t rate);

  // A full bucket (a new connection may burst at once), no abuse window.
  void Init(RateState* s, uint32_t now_ms) const {
    s->milli_tokens = capacity_;
    s->last_ms = now_ms;
    s->drops = 0;
    s->window_start = 0;
  }

  // Charges one frame arriving at `now_ms`.
  // REQUIRES: now_ms does not go backwards (modulo 2^32) between calls on `s`.
  Decision Take(RateState* s, uint32_t now_ms) const;

  uint32_t rate() const { return rate_; }
  uint32_t capacity_milli() const { return capacity_; }
  uint32_t abuse_threshold() const { return abuse_threshold_; }

 private:
  uint32_t rate_;             // tokens per second == thousandths per ms
  uint32_t capacity_;         // 2 * rate tokens, in thousandths (<= 2e9)
  uint32_t abuse_threshold_;  // close when drops in the window exceed this
};

inline RateLimiter::RateLimiter(uint32_t rate) {
  rate_ = rate < 1 ? 1 : (rate > kMaxRate ? kMaxRate : rate);
  capacity_ = 2 * rate_ * kMilli;
  const uint32_t t = kAbuseFactor * rate_;
  abuse_threshold_ = t < kMaxDrops - 1 ? t : kMaxDrops - 1;
}

inline RateLimiter::Decision RateLimiter::Take(RateState* s, uint32_t now_ms) const {
  const uint32_t elapsed = now_ms - s->last_ms;  // unsigned: wrap-safe
  s->last_ms = now_ms;
  const uint64_t refilled = uint64_t{s->milli_tokens} + uint64_t{elapsed} * rate_;
  s->milli_tokens = refilled < capacity_ ? static_cast<uint32_t>(refilled) : capacity_;

  // Close an abuse window that is 2 s old (see the invariant on RateState).
  if (s->drops != 0 &&
      (elapsed >= kAbuseWindowMs || ((now_ms - s->window_start) & 0xFFFu) >= kAbuseWindowMs)) {
    s->drops = 0;
  }

  if (s->milli_tokens >= kMilli) {
    s->milli_tokens -= kMilli;
    return {true, false, 0};
  }
  if (s->drops == 0)
    s->window_start = now_ms & 0xFFFu;
  if (s->drops < kMaxDrops)
    s->drops = s->drops + 1;
  // Ceiling of the missing thousandths over the refill per ms; >= 1 because
  // milli_tokens < kMilli here.
  const uint32_t retry_ms = (kMilli - s->milli_tokens + rate_ - 1) / rate_;
  return {false, s->drops > abuse_threshold_, retry_ms};
}

}  // namespace longlink::core
