// RateLimiter: the burst and retry_ms of PROTOCOL.md section 7 by example, the
// exactness of fractional refill, the 4029 threshold at its boundary, the
// fixed 2-s abuse window, the uint32 clock wrap, and a comparison against a
// reference model written from the protocol text (64-bit time, no packing)
// over random traffic.
#include "core/rate_limiter.h"

#include <cstdint>
#include <random>

#include <doctest/doctest.h>

namespace longlink::core {
namespace {

// Takes `n` frames at `now` and returns how many were allowed.
int TakeN(const RateLimiter& rl, RateState* s, uint32_t now, int n) {
  int allowed = 0;
  for (int i = 0; i < n; ++i) allowed += rl.Take(s, now).allowed ? 1 : 0;
  return allowed;
}

// Empties a bucket just filled by Init at `now`; returns the frames it held.
int Drain(const RateLimiter& rl, RateState* s, uint32_t now) {
  int allowed = 0;
  while (s->milli_tokens >= RateLimiter::kMilli) allowed += rl.Take(s, now).allowed ? 1 : 0;
  return allowed;
}

// The protocol's rule, stated directly: 64-bit time, tokens in thousandths,
// abuse window [first drop, first drop + 2000).
struct Model {
  uint64_t rate;
  uint64_t milli;
  uint64_t last;
  uint64_t drops = 0;
  uint64_t window_start = 0;

  Model(uint64_t r, uint64_t now) : rate(r), milli(2 * r * 1000), last(now) {}

  RateLimiter::Decision Take(uint64_t now) {
    milli = std::min(milli + (now - last) * rate, 2 * rate * 1000);
    last = now;
    if (drops > 0 && now - window_start >= 2000)
      drops = 0;
    if (milli >= 1000) {
      milli -= 1000;
      return {true, false, 0};
    }
    if (drops == 0)
      window_start = now;
    ++drops;
    uint64_t retry = (1000 - milli + rate - 1) / rate;
    return {false, drops > 4 * rate, static_cast<uint32_t>(retry)};
  }
};

}  // namespace

TEST_CASE("rate_limiter: per-connection state is 12 bytes") {
  CHECK(sizeof(RateState) == 12);
}

TEST_CASE("rate_limiter: a full bucket allows a burst of twice the rate, then drops") {
  for (uint32_t rate : {1u, 3u, 10u, 200u, 1000u, 3000u}) {
    CAPTURE(rate);
    RateLimiter rl(rate);
    RateState s;
    rl.Init(&s, 5000);
    CHECK(TakeN(rl, &s, 5000, static_cast<int>(2 * rate)) == static_cast<int>(2 * rate));
    RateLimiter::Decision d = rl.Take(&s, 5000);
    CHECK_FALSE(d.allowed);
    CHECK_FALSE(d.abuse);
    // One token's time, rounded up, at least 1 ms.
    CHECK(d.retry_ms == std::max<uint32_t>(1, (1000 + rate - 1) / rate));
  }
}

TEST_CASE("rate_limiter: retry_ms is exactly when the next token is available") {
  RateLimiter rl(200);
  RateState s;
  rl.Init(&s, 0);
  Drain(rl, &s, 0);
  RateLimiter::Decision d = rl.Take(&s, 0);
  REQUIRE_FALSE(d.allowed);
  CHECK(d.retry_ms == 5);
  CHECK_FALSE(rl.Take(&s, 4).allowed);  // 0.8 tokens
  CHECK(rl.Take(&s, 5).allowed);        // 1.0 token
}

TEST_CASE("rate_limiter: refill keeps thousandths of a token, so 3 per second does not drift") {
  RateLimiter rl(3);
  RateState s;
  rl.Init(&s, 100);
  CHECK(Drain(rl, &s, 100) == 6);
  // 1000 / 3 ms per token: 333 ms leave 0.999 of a token, 334 ms give one.
  RateLimiter::Decision d = rl.Take(&s, 433);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_ms == 1);
  CHECK(rl.Take(&s, 434).allowed);

  // Frames sent as soon as retry_ms allows: exactly 3 per second over a
  // minute, the k-th at ceil(1000 k / 3) ms after the bucket emptied.
  RateState t;
  rl.Init(&t, 0);
  Drain(rl, &t, 0);
  uint32_t now = 0;
  int allowed = 0;
  while (true) {
    RateLimiter::Decision e = rl.Take(&t, now);
    if (e.allowed) {
      ++allowed;
      CHECK(now == (1000u * allowed + 2) / 3);
      if (allowed == 180)
        break;
      continue;
    }
    now += e.retry_ms;
  }
  CHECK(now == 60000);
}

TEST_CASE("rate_limiter: the bucket never holds more than twice the rate") {
  RateLimiter rl(10);
  RateState s;
  rl.Init(&s, 0);
  Drain(rl, &s, 0);
  CHECK(TakeN(rl, &s, 3600 * 1000, 25) == 20);
}

TEST_CASE(
    "rate_limiter: closes on the drop that makes more than 4 x rate within 2 s, not at 4 x rate") {
  RateLimiter rl(10);
  CHECK(rl.abuse_threshold() == 40);
  RateState s;
  rl.Init(&s, 0);
  CHECK(Drain(rl, &s, 0) == 20);
  for (int i = 1; i <= 40; ++i) {
    RateLimiter::Decision d = rl.Take(&s, static_cast<uint32_t>(i));  // 0.4 s of refill at most
    CAPTURE(i);
    REQUIRE_FALSE(d.allowed);
    CHECK_FALSE(d.abuse);
  }
  RateLimiter::Decision d = rl.Take(&s, 41);
  CHECK_FALSE(d.allowed);
  CHECK(d.abuse);
}

TEST_CASE("rate_limiter: drops spread over 1999 ms share one window") {
  RateLimiter rl(10);
  RateState s;
  rl.Init(&s, 0);
  Drain(rl, &s, 0);
  for (int i = 0; i < 40; ++i) CHECK_FALSE(rl.Take(&s, 0).abuse);
  // At 1999 ms the bucket holds 19.99 tokens: 19 pass, and the next drop is
  // the 41st of the window that opened at 0.
  CHECK(TakeN(rl, &s, 1999, 19) == 19);
  RateLimiter::Decision d = rl.Take(&s, 1999);
  CHECK_FALSE(d.allowed);
  CHECK(d.abuse);
}

TEST_CASE("rate_limiter: the abuse window closes 2 s after its first drop") {
  RateLimiter rl(10);
  RateState s;
  rl.Init(&s, 0);
  Drain(rl, &s, 0);
  for (int i = 0; i < 40; ++i) CHECK_FALSE(rl.Take(&s, 0).abuse);
  // At 2000 ms the window [0, 2000) is over: 40 more drops are fine again.
  CHECK(TakeN(rl, &s, 2000, 20) == 20);
  for (int i = 0; i < 40; ++i) {
    RateLimiter::Decision d = rl.Take(&s, 2000);
    CHECK_FALSE(d.allowed);
    CHECK_FALSE(d.abuse);
  }
  CHECK(rl.Take(&s, 2000).abuse);
}

TEST_CASE("rate_limiter: a window is judged by its first drop, not by the frames since") {
  // One drop at 0, then allowed frames every 1500 ms: the window closes at
  // 2000 ms although no Take is 2 s after the previous one.
  RateLimiter rl(1);
  RateState s;
  rl.Init(&s, 0);
  Drain(rl, &s, 0);
  CHECK_FALSE(rl.Take(&s, 0).allowed);
  CHECK(uint32_t{s.drops} == 1u);
  CHECK(rl.Take(&s, 1500).allowed);
  CHECK(uint32_t{s.drops} == 1u);
  CHECK(rl.Take(&s, 3000).allowed);
  CHECK(uint32_t{s.drops} == 0u);
}

TEST_CASE("rate_limiter: the millisecond clock may wrap past UINT32_MAX") {
  RateLimiter rl(10);
  RateState s;
  const uint32_t start = UINT32_MAX - 999;
  rl.Init(&s, start);
  CHECK(Drain(rl, &s, start) == 20);
  // 1000 ms later the clock reads 0 and the bucket holds 10 tokens.
  CHECK(TakeN(rl, &s, start + 1000u, 11) == 10);

  // An abuse window opened just before the wrap still counts just after it.
  RateState t;
  const uint32_t w = UINT32_MAX - 5;
  rl.Init(&t, w);
  Drain(rl, &t, w);
  for (int i = 0; i < 40; ++i) CHECK_FALSE(rl.Take(&t, w).abuse);
  RateLimiter::Decision d = rl.Take(&t, w + 9u);  // 3 after the wrap; 0.09 tokens
  CHECK_FALSE(d.allowed);
  CHECK(d.abuse);
  CHECK(d.retry_ms == 91);
}

TEST_CASE("rate_limiter: rates are clamped to what the state can count") {
  CHECK(RateLimiter(0).rate() == 1);
  CHECK(RateLimiter(RateLimiter::kMaxRate + 1).rate() == RateLimiter::kMaxRate);
  RateLimiter top(RateLimiter::kMaxRate);
  CHECK(top.capacity_milli() == 2000000000u);
  CHECK(top.abuse_threshold() == RateLimiter::kMaxDrops - 1);
  RateState s;
  top.Init(&s, 7);
  CHECK(Drain(top, &s, 7) == 2000000);
  RateLimiter::Decision d = top.Take(&s, 7);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_ms == 1);
}

TEST_CASE("rate_limiter: agrees with a 64-bit reference model over random traffic") {
  std::mt19937_64 rng(20251122);
  for (int round = 0; round < 200; ++round) {
    const uint32_t rate = std::uniform_int_distribution<uint32_t>(1, 50)(rng);
    // Start anywhere, including just before the 32-bit wrap.
    const uint64_t start = round % 2 == 0 ? UINT32_MAX - rng() % 20000 : rng() % UINT32_MAX;
    RateLimiter rl(rate);
    RateState s;
    rl.Init(&s, static_cast<uint32_t>(start));
    Model m(rate, start);
    uint64_t now = start;
    for (int i = 0; i < 5000; ++i) {
      // Mostly bursts (same ms or a few ms apart), sometimes gaps of seconds.
      const uint64_t r = rng() % 100;
      now += r < 60 ? 0 : r < 95 ? rng() % 50 : rng() % 5000;
      RateLimiter::Decision want = m.Take(now);
      RateLimiter::Decision got = rl.Take(&s, static_cast<uint32_t>(now));
      CAPTURE(round);
      CAPTURE(i);
      REQUIRE(got.allowed == want.allowed);
      REQUIRE(got.abuse == want.abuse);
      REQUIRE(got.retry_ms == want.retry_ms);
      if (want.abuse) {  // the connection would be closed: start over
        rl.Init(&s, static_cast<uint32_t>(now));
        m = Model(rate, now);
      }
    }
  }
}

}  // namespace longlink::core
