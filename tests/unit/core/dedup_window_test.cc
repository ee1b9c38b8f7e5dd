// DedupWindow: lookups of present and absent cmids, entries that keep their
// conv/seq/ts, expiry oldest-first (with the index's backward-shift
// deletion), shrinking back to nothing, cmids and convs of every legal
// length, and a long random run checked against std::unordered_map after
// every step. Also the memory per entry the header promises.
#include "core/dedup_window.h"

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>

#include <doctest/doctest.h>

namespace longlink::core {
namespace {

struct Want {
  std::string conv;
  uint64_t seq;
  int64_t ts;
};

void CheckSame(const DedupWindow& w, const std::unordered_map<std::string, Want>& model,
               const std::string& cmid) {
  DedupWindow::Entry e{};
  auto it = model.find(cmid);
  const bool found = w.Find(cmid, &e);
  REQUIRE(found == (it != model.end()));
  if (found) {
    CHECK(e.conv == it->second.conv);
    CHECK(e.seq == it->second.seq);
    CHECK(e.ts == it->second.ts);
  }
}

TEST_CASE("dedup window: find what was added, not what was not") {
  DedupWindow w;
  DedupWindow::Entry e{};
  CHECK_FALSE(w.Find("c-1", &e));
  w.Add("c-1", "d:alice:bob", 17, 1000);
  w.Add("c-2", "g:team", 18, 1001);
  REQUIRE(w.Find("c-1", &e));
  CHECK(e.conv == "d:alice:bob");
  CHECK(e.seq == 17);
  CHECK(e.ts == 1000);
  REQUIRE(w.Find("c-2", &e));
  CHECK(e.conv == "g:team");
  CHECK_FALSE(w.Find("c-3", &e));
  CHECK_FALSE(w.Find("c-", &e));
  CHECK_FALSE(w.Find("c-10", &e));
  CHECK(w.size() == 2);
}

TEST_CASE("dedup window: expiry drops the oldest first and frees everything at the end") {
  DedupWindow w;
  for (int i = 0; i < 1000; i++) w.Add("m" + std::to_string(i), "g:x", uint64_t(i + 1), i);
  CHECK(w.size() == 1000);
  w.Expire(500);  // drops ts < 500
  CHECK(w.size() == 500);
  DedupWindow::Entry e{};
  for (int i = 0; i < 1000; i++) {
    CAPTURE(i);
    CHECK(w.Find("m" + std::to_string(i), &e) == (i >= 500));
  }
  REQUIRE(w.Find("m777", &e));
  CHECK(e.seq == 778);
  w.Expire(1000);
  CHECK(w.empty());
  CHECK(w.MemoryBytes() == 0);
  CHECK_FALSE(w.Find("m999", &e));
  // Usable again after emptying.
  w.Add("again", "g:y", 1, 2000);
  REQUIRE(w.Find("again", &e));
  CHECK(e.conv == "g:y");
}

TEST_CASE("dedup window: every legal cmid and conv length") {
  DedupWindow w;
  std::unordered_map<std::string, Want> model;
  for (size_t n = 1; n <= 64; n++) {
    std::string cmid(n, char('a' + n % 26));
    std::string conv = "d:" + std::string(64, 'u') + ":" + std::string(n, 'v');  // up to 131 B
    w.Add(cmid, conv, n, int64_t(n));
    model[cmid] = Want{conv, n, int64_t(n)};
  }
  for (auto& [cmid, want] : model) CheckSame(w, model, cmid);
}

TEST_CASE("dedup window: a long random run agrees with unordered_map") {
  std::mt19937_64 rng(42);
  DedupWindow w;
  std::unordered_map<std::string, Want> model;
  std::deque<std::pair<int64_t, std::string>> order;
  int64_t now = 0;
  uint64_t seq = 0;
  auto random_cmid = [&] {
    // A small id space so that repeats and near-misses are common.
    std::string s = "c" + std::to_string(rng() % 20000);
    if (rng() % 4 == 0) s += std::string(rng() % 50, 'x');
    return s;
  };
  for (int step = 0; step < 200000; step++) {
    now += int64_t(rng() % 3);
    const int op = int(rng() % 10);
    if (op < 6) {
      std::string cmid = random_cmid();
      DedupWindow::Entry e{};
      if (!w.Find(cmid, &e)) {
        REQUIRE(model.count(cmid) == 0);
        std::string conv = "g:" + std::to_string(rng() % 100);
        w.Add(cmid, conv, ++seq, now);
        model[cmid] = Want{conv, seq, now};
        order.emplace_back(now, cmid);
      } else {
        REQUIRE(model.count(cmid) == 1);
      }
    } else if (op < 9) {
      CheckSame(w, model, random_cmid());
    } else {
      const int64_t cutoff = now - int64_t(rng() % 20000);
      w.Expire(cutoff);
      while (!order.empty() && order.front().first < cutoff) {
        model.erase(order.front().second);
        order.pop_front();
      }
    }
    REQUIRE(w.size() == model.size());
  }
  for (auto& [cmid, want] : model) CheckSame(w, model, cmid);
  w.Expire(now + 1);
  CHECK(w.empty());
}

TEST_CASE("dedup window: memory per entry stays under 100 bytes") {
  DedupWindow w;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    w.Add("c-" + std::to_string(1000000 + i), "d:a12:b12", uint64_t(i + 1), i);
  }
  const double per = double(w.MemoryBytes()) / n;
  MESSAGE("bytes per entry (10 B cmid, 9 B conv): " << per);
  CHECK(per < 100);
  // Half expired: the index and the ring shrink, the chunks are freed.
  w.Expire(n - n / 10);
  CHECK(w.size() == size_t(n / 10));
  MESSAGE("after expiring 90%: " << double(w.MemoryBytes()) / double(n / 10));
  CHECK(double(w.MemoryBytes()) / double(n / 10) < 200);
}

}  // namespace
}  // namespace longlink::core
