// Sequences under concurrency (PROTOCOL.md sections 3 and 5): many
// connections, landing on different shards, send to one group at once,
// pipelined. The acks must hand out 1..N exactly once, and every device
// must see the pushes in seq order without duplicates (anything missing
// can be pulled). Worker threads only collect frames; every assertion runs
// on the test thread.
#include <algorithm>
#include <csignal>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

constexpr int kSenders = 8;
constexpr int kPerSender = 200;
constexpr int kTotal = kSenders * kPerSender;

struct Seen {
  std::vector<int64_t> ack_seqs;                 // in arrival order
  std::vector<std::pair<int64_t, Json>> pushes;  // seq, frame, in arrival order
  std::vector<std::string> errors;               // unexpected frames or failures
};

// Reads until `acks` acks and `pushes` pushes have arrived, or nothing
// arrives for 15 s.
void Collect(ImClient* c, int acks, int pushes, Seen* out) {
  while (int(out->ack_seqs.size()) < acks || int(out->pushes.size()) < pushes) {
    Json f;
    if (!c->Next(&f, 15s)) {
      out->errors.push_back("stopped: " + c->error());
      return;
    }
    std::string t = f.Str("t");
    if (t == "ack")
      out->ack_seqs.push_back(f.Int("seq"));
    else if (t == "msg")
      out->pushes.emplace_back(f.Int("seq"), std::move(f));
    else
      out->errors.push_back(f.raw());
  }
}

void RunGroupStorm(const std::string& threads) {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", threads, "--rate", "100000", "--ack-timeout", "300"}));
  LL_START(srv);
  std::vector<std::string> members;
  for (int i = 0; i < kSenders; ++i) members.push_back("user" + std::to_string(i));
  members.push_back("watcher");
  REQUIRE(CreateGroup(srv.port(), "storm", members));

  std::vector<ImClient> senders(kSenders);
  for (int i = 0; i < kSenders; ++i) LL_LOGIN(senders[i], srv.port(), members[i], "phone");
  // Receivers that never send: two devices of a non-sender, and a second
  // device of a sender.
  std::vector<ImClient> watchers(3);
  LL_LOGIN(watchers[0], srv.port(), "watcher", "phone");
  LL_LOGIN(watchers[1], srv.port(), "watcher", "tablet");
  LL_LOGIN(watchers[2], srv.port(), "user0", "laptop");
  // Give every session time to register everywhere; pushes right after a
  // welcome have their own test.
  std::this_thread::sleep_for(1s);

  std::vector<Seen> sent(kSenders), watched(watchers.size());
  std::vector<std::thread> workers;
  std::atomic<int> ready{0};
  for (int i = 0; i < kSenders; ++i) {
    workers.emplace_back([&, i] {
      std::string batch;
      for (int k = 0; k < kPerSender; ++k) {
        std::string cmid = "u" + std::to_string(i) + "-" + std::to_string(k);
        batch += EncodeFrame(op::kText, SendFrame("g:storm", cmid, std::to_string(i * 1000 + k)));
      }
      ++ready;
      while (ready.load() < kSenders) std::this_thread::yield();
      if (!senders[i].ws().SendRaw(batch, 60s)) {
        sent[i].errors.push_back("send failed");
        return;
      }
      Collect(&senders[i], kPerSender, kTotal - kPerSender, &sent[i]);
    });
  }
  for (size_t w = 0; w < watchers.size(); ++w)
    workers.emplace_back([&, w] { Collect(&watchers[w], 0, kTotal, &watched[w]); });
  for (auto& t : workers) t.join();

  // 1. The acks hand out 1..kTotal exactly once; each sender's acks rise.
  std::vector<int64_t> all;
  for (int i = 0; i < kSenders; ++i) {
    INFO("sender " << i << " errors: " << sent[i].errors.size()
                   << (sent[i].errors.empty() ? "" : " first: " + sent[i].errors[0]));
    CHECK(sent[i].errors.empty());
    CHECK(sent[i].ack_seqs.size() == size_t(kPerSender));
    CHECK(std::is_sorted(sent[i].ack_seqs.begin(), sent[i].ack_seqs.end()));
    all.insert(all.end(), sent[i].ack_seqs.begin(), sent[i].ack_seqs.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kTotal);
  for (int i = 0; i < kTotal; ++i) want[i] = i + 1;
  CHECK(all == want);

  // seq -> the sender index, from the acks (acks of one sender come in its send order).
  std::map<int64_t, std::pair<int, int>> owner;  // seq -> (sender, k)
  for (int i = 0; i < kSenders; ++i)
    for (size_t k = 0; k < sent[i].ack_seqs.size(); ++k) owner[sent[i].ack_seqs[k]] = {i, int(k)};

  // 2. Every connection's pushes are in seq order, without duplicates, and
  // carry the right sender, cmid and body.
  auto check_pushes = [&](const Seen& seen, const std::string& who, int own) {
    INFO("connection " << who);
    int64_t prev = 0;
    int out_of_order = 0, wrong = 0;
    std::set<int64_t> got;
    for (const auto& [seq, f] : seen.pushes) {
      if (seq <= prev)
        ++out_of_order;
      prev = std::max(prev, seq);
      got.insert(seq);
      auto it = owner.find(seq);
      if (it == owner.end()) {
        ++wrong;
        continue;
      }
      auto [i, k] = it->second;
      if (f.Str("from") != members[i] ||
          f.Str("cmid") != "u" + std::to_string(i) + "-" + std::to_string(k) ||
          f["body"].raw() != std::to_string(i * 1000 + k) || f.Str("conv") != "g:storm")
        ++wrong;
      if (i == own)
        ++wrong;  // never pushed back to the sending connection
    }
    CHECK(out_of_order == 0);
    CHECK(wrong == 0);
    int expected = own >= 0 ? kTotal - kPerSender : kTotal;
    int missing = expected - int(got.size());
    CHECK_MESSAGE(missing == 0, missing << " pushes missing on " << who);
  };
  for (int i = 0; i < kSenders; ++i) check_pushes(sent[i], members[i] + "/phone", i);
  for (size_t w = 0; w < watchers.size(); ++w) {
    INFO("watcher errors: " << (watched[w].errors.empty() ? "" : watched[w].errors[0]));
    CHECK(watched[w].errors.empty());
    check_pushes(watched[w], "watcher " + std::to_string(w), -1);
  }

  // 3. The stored history holds exactly 1..kTotal with the sent bodies.
  ImClient reader;
  LL_LOGIN(reader, srv.port(), "watcher", "reader");
  std::vector<int64_t> pulled;
  int bad_body = 0;
  for (int64_t after = 0;;) {
    int64_t id = reader.NextId();
    Json page =
        MustRequest(reader,
                    R"({"t":"pull","id":)" + std::to_string(id) + R"(,"conv":"g:storm","after":)" +
                        std::to_string(after) + R"(,"limit":1000})",
                    id, 20s);
    REQUIRE(page.Str("t") == "page");
    for (const Json& m : page["msgs"].items()) {
      pulled.push_back(m.Int("seq"));
      auto [i, k] = owner[m.Int("seq")];
      if (m["body"].raw() != std::to_string(i * 1000 + k))
        ++bad_body;
      after = m.Int("seq");
    }
    if (page["more"].raw() != "true" || page["msgs"].size() == 0)
      break;
  }
  CHECK(pulled == want);
  CHECK(bad_body == 0);
}

TEST_CASE(
    "msg: 8 clients sending 200 messages each to one group on 2 shards get seqs 1..1600 and all "
    "pushes in order") {
  RunGroupStorm("2");
}

TEST_CASE(
    "msg: 8 clients sending 200 messages each to one group on 1 shard get seqs 1..1600 and all "
    "pushes in order") {
  RunGroupStorm("1");
}

TEST_CASE("msg: concurrent direct conversations across shards each get their own gapless seqs") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2", "--rate", "100000", "--ack-timeout", "300"}));
  LL_START(srv);
  constexpr int kPairs = 4, kEach = 100;
  std::vector<ImClient> left(kPairs), right(kPairs);
  for (int p = 0; p < kPairs; ++p) {
    LL_LOGIN(left[p], srv.port(), "l" + std::to_string(p), "phone");
    LL_LOGIN(right[p], srv.port(), "r" + std::to_string(p), "phone");
  }
  std::this_thread::sleep_for(1s);
  std::vector<Seen> ls(kPairs), rs(kPairs);
  std::vector<std::thread> workers;
  for (int p = 0; p < kPairs; ++p) {
    for (int side = 0; side < 2; ++side) {
      workers.emplace_back([&, p, side] {
        ImClient& me = side == 0 ? left[p] : right[p];
        std::string peer = (side == 0 ? "u:r" : "u:l") + std::to_string(p);
        std::string batch;
        for (int k = 0; k < kEach; ++k)
          batch += EncodeFrame(op::kText, SendFrame(peer, "c" + std::to_string(k), "1"));
        Seen* seen = side == 0 ? &ls[p] : &rs[p];
        if (!me.ws().SendRaw(batch, 30s)) {
          seen->errors.push_back("send failed");
          return;
        }
        Collect(&me, kEach, kEach, seen);
      });
    }
  }
  for (auto& t : workers) t.join();
  for (int p = 0; p < kPairs; ++p) {
    INFO("pair " << p);
    CHECK(ls[p].errors.empty());
    CHECK(rs[p].errors.empty());
    std::vector<int64_t> seqs = ls[p].ack_seqs;
    seqs.insert(seqs.end(), rs[p].ack_seqs.begin(), rs[p].ack_seqs.end());
    std::sort(seqs.begin(), seqs.end());
    std::vector<int64_t> want(2 * kEach);
    for (int i = 0; i < 2 * kEach; ++i) want[i] = i + 1;
    CHECK(seqs == want);
    for (const Seen* seen : {&ls[p], &rs[p]}) {
      std::vector<int64_t> pushed;
      for (const auto& pr : seen->pushes) pushed.push_back(pr.first);
      CHECK(std::is_sorted(pushed.begin(), pushed.end()));
      CHECK(std::adjacent_find(pushed.begin(), pushed.end()) == pushed.end());
      CHECK(pushed.size() == size_t(kEach));
    }
  }
}

TEST_CASE("msg: the same cmids sent at once from two devices of a user make one message each") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2", "--rate", "100000", "--ack-timeout", "300"}));
  LL_START(srv);
  constexpr int kDevices = 3, kCmids = 100;
  std::vector<ImClient> devices(kDevices);
  for (int d = 0; d < kDevices; ++d)
    LL_LOGIN(devices[d], srv.port(), "alice", "dev" + std::to_string(d));
  std::this_thread::sleep_for(500ms);
  std::vector<std::vector<Json>> acks(kDevices);
  std::vector<std::string> errors(kDevices);
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int d = 0; d < kDevices; ++d) {
    workers.emplace_back([&, d] {
      std::string batch;
      // Each device uses other conversations for the same cmids.
      for (int k = 0; k < kCmids; ++k)
        batch += EncodeFrame(op::kText, SendFrame("u:peer" + std::to_string((k + d) % 5),
                                                  "race-" + std::to_string(k), "1", k));
      ++ready;
      while (ready.load() < kDevices) std::this_thread::yield();
      if (!devices[d].ws().SendRaw(batch, 30s)) {
        errors[d] = "send failed";
        return;
      }
      while (int(acks[d].size()) < kCmids) {
        Json f;
        if (!devices[d].Next(&f, 15s)) {
          errors[d] = devices[d].error();
          return;
        }
        if (f.Str("t") == "ack" || f.Str("t") == "error")
          acks[d].push_back(std::move(f));
      }
    });
  }
  for (auto& t : workers) t.join();
  std::map<std::string, std::vector<Json>> by_cmid;
  for (int d = 0; d < kDevices; ++d) {
    INFO("device " << d << ": " << errors[d]);
    CHECK(errors[d].empty());
    for (const Json& a : acks[d]) by_cmid[a.Str("cmid")].push_back(a);
  }
  int bad = 0;
  std::string example;
  for (const auto& [cmid, list] : by_cmid) {
    int originals = 0;
    for (const Json& a : list) originals += a["dup"].raw() != "true";
    bool same = true;
    for (const Json& a : list)
      same = same && a.Str("conv") == list[0].Str("conv") && a.Int("seq") == list[0].Int("seq");
    if (originals != 1 || !same || list.size() != size_t(kDevices)) {
      ++bad;
      if (example.empty())
        for (const Json& a : list) example += a.raw() + "\n";
    }
  }
  CHECK(by_cmid.size() == size_t(kCmids));
  CHECK_MESSAGE(bad == 0, bad << " cmids not acked as one original and dups, e.g.:\n" << example);
  // And the conversations hold exactly kCmids messages in all.
  ImClient reader;
  LL_LOGIN(reader, srv.port(), "alice", "reader");
  size_t stored = 0;
  for (int p = 0; p < 5; ++p) {
    int64_t id = reader.NextId();
    Json page =
        MustRequest(reader,
                    R"({"t":"pull","id":)" + std::to_string(id) + R"(,"conv":"d:alice:peer)" +
                        std::to_string(p) + R"(","limit":1000})",
                    id);
    stored += page["msgs"].size();
  }
  CHECK(stored == size_t(kCmids));
}

// Many connections readable at once are read in one io_uring submission,
// each into its part of the shard's read buffer (net::Shard::ReadBatch);
// one whose part fills is read on afterwards. The server is stopped
// (SIGSTOP) while every client writes a pipelined batch several parts long,
// so that they are all ready together when it continues; every frame must
// be handled once and in its connection's order, with io_uring on and off.
void CheckBatchedReads(const std::string& io_uring) {
  INFO("--io-uring " << io_uring);
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "1", "--io-uring", io_uring, "--rate", "100000"}));
  LL_START(srv);
  constexpr int kClients = 24, kFrames = 150;
  std::vector<std::unique_ptr<ImClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<ImClient>());
    LL_LOGIN(*clients.back(), srv.port(), "br" + std::to_string(i), "phone");
  }
  auto body_of = [](int i, int k) {
    return "\"" + std::string(size_t(200 + (i * 37 + k * 11) % 700), char('a' + (i + k) % 26)) +
           std::to_string(k) + "\"";
  };
  std::vector<std::string> batches(kClients);
  for (int i = 0; i < kClients; ++i) {
    for (int k = 0; k < kFrames; ++k) {
      batches[size_t(i)] += EncodeFrame(
          op::kText, SendFrame("u:sink", "b" + std::to_string(k), body_of(i, k), 100 + k));
    }
  }
  REQUIRE(srv.Signal(SIGSTOP));
  for (int i = 0; i < kClients; ++i) REQUIRE(clients[size_t(i)]->ws().SendRaw(batches[size_t(i)], 20s));
  REQUIRE(srv.Signal(SIGCONT));
  for (int i = 0; i < kClients; ++i) {
    INFO("client " << i);
    for (int k = 0; k < kFrames; ++k) {
      Json ack = MustNext(*clients[size_t(i)], 20s);
      REQUIRE(ack.Str("t") == "ack");
      REQUIRE(ack.Int("id") == 100 + k);
      REQUIRE(ack.Int("seq") == k + 1);
    }
  }
  // The bodies arrived intact: the sink pulls every conversation.
  ImClient sink;
  LL_LOGIN(sink, srv.port(), "sink", "phone");
  for (int i = 0; i < kClients; ++i) {
    int64_t id = sink.NextId();
    std::string conv = "d:br" + std::to_string(i) + ":sink";
    Json page = MustRequest(
        sink, R"({"t":"pull","id":)" + std::to_string(id) + R"(,"conv":")" + conv + R"(","after":0,"limit":1000})",
        id);
    REQUIRE(page["msgs"].size() == size_t(kFrames));
    for (int k = 0; k < kFrames; ++k) CHECK(page["msgs"][size_t(k)]["body"].raw() == body_of(i, k));
  }
  int64_t batches_read = FetchMetricSum(srv.port(), "read_batches_total");
  if (io_uring == "off") {
    CHECK(batches_read == 0);
  } else if (srv.Stderr().find("no io_uring") == std::string::npos) {
    CHECK(batches_read > 0);
  }
}

// The same, with one of the connections read together sending to a big
// group: its part fans out past the flush budget, which writes the turn's
// output in the middle of the batch of reads (net::Shard::FlushIfDue); the
// parts after it must still be handled whole.
void CheckBatchedReadsWithBurst(const std::string& io_uring) {
  INFO("--io-uring " << io_uring);
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "1", "--io-uring", io_uring, "--rate", "100000",
                         "--ack-timeout", "3600", "--max-outbuf", "64MiB"}));
  LL_START(srv);
  constexpr int kMembers = 200, kBurst = 60, kOthers = 4, kFrames = 100;
  std::vector<std::string> names;
  for (int i = 0; i < kMembers; ++i) names.push_back("gm" + std::to_string(i));
  REQUIRE(CreateGroup(srv.port(), "wide", names));
  std::vector<std::unique_ptr<ImClient>> members;
  for (int i = 0; i < kMembers; ++i) {
    members.push_back(std::make_unique<ImClient>());
    LL_LOGIN(*members.back(), srv.port(), names[size_t(i)], "phone");
  }
  std::vector<std::unique_ptr<ImClient>> others;
  for (int i = 0; i < kOthers; ++i) {
    others.push_back(std::make_unique<ImClient>());
    LL_LOGIN(*others.back(), srv.port(), "ot" + std::to_string(i), "phone");
  }
  const std::string big = "\"" + std::string(4000, 'w') + "\"";
  std::string burst;
  for (int k = 0; k < kBurst; ++k)
    burst += EncodeFrame(op::kText, SendFrame("g:wide", "w" + std::to_string(k), big, 100 + k));
  auto body_of = [](int i, int k) { return "\"" + std::string(size_t(300 + i * 50 + k), 'o') + "\""; };
  std::vector<std::string> batches(kOthers);
  for (int i = 0; i < kOthers; ++i) {
    for (int k = 0; k < kFrames; ++k) {
      batches[size_t(i)] += EncodeFrame(
          op::kText, SendFrame("u:sink", "o" + std::to_string(k), body_of(i, k), 100 + k));
    }
  }
  REQUIRE(srv.Signal(SIGSTOP));
  for (int i = 0; i < kOthers / 2; ++i) REQUIRE(others[size_t(i)]->ws().SendRaw(batches[size_t(i)], 20s));
  REQUIRE(members[0]->ws().SendRaw(burst, 20s));
  for (int i = kOthers / 2; i < kOthers; ++i)
    REQUIRE(others[size_t(i)]->ws().SendRaw(batches[size_t(i)], 20s));
  REQUIRE(srv.Signal(SIGCONT));
  for (int i = 0; i < kOthers; ++i) {
    INFO("client " << i);
    for (int k = 0; k < kFrames; ++k) {
      Json ack = MustNext(*others[size_t(i)], 20s);
      REQUIRE(ack.Str("t") == "ack");
      REQUIRE(ack.Int("id") == 100 + k);
      REQUIRE(ack.Int("seq") == k + 1);
    }
  }
  for (int k = 0; k < kBurst; ++k) {
    Json ack;
    REQUIRE_MESSAGE(members[0]->WaitId(100 + k, &ack), members[0]->error());
    REQUIRE(ack.Int("seq") == k + 1);
  }
  for (int i = 1; i < kMembers; i += 37) {
    INFO("member " << i);
    for (int k = 0; k < kBurst; ++k) REQUIRE(MustPush(*members[size_t(i)], "g:wide", 20s).Int("seq") == k + 1);
  }
  CHECK(FetchMetricSum(srv.port(), "early_flushes_total") > 0);
}

TEST_CASE("msg: frames from many connections readable at once are all handled in order") {
  CheckBatchedReads("on");
  CheckBatchedReads("off");
}

TEST_CASE("msg: a batch of reads that writes mid-way for a big group still handles every part") {
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    CheckBatchedReadsWithBurst("on");
  }
  CheckBatchedReadsWithBurst("off");
}

}  // namespace
}  // namespace longlink::test
