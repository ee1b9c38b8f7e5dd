// DiskEngine against a real log in a temporary directory: group commit,
// reads through the backward chain, recovery of every kind of state,
// failures, retention.
#include <doctest/doctest.h>
#include <uv.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "base/clock.h"
#include "core/disk_engine.h"
#include "core/ops.h"
#include "proto/reply.h"
#include "storage/fault_env.h"
#include "storage/store.h"

using namespace longlink;
using namespace longlink::core;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "ll-engine-XXXXXX").string();
    path_ = ::mkdtemp(t.data()) != nullptr ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_ + "/data"; }

 private:
  std::string path_;
};

struct Listener : EngineListener {
  std::vector<std::pair<uint64_t, bool>> durable;  // (seq, ok)
  std::vector<bool> states;
  void OnDurable(ConvState* c, Op* op, const StoredMsg& m, bool ok) override {
    durable.emplace_back(m.seq, ok);
    if (ok && m.seq > c->durable_seq) c->durable_seq = m.seq;
    delete op;
  }
  void OnStateDurable(Op* op, bool ok) override {
    states.push_back(ok);
    delete op;
  }
};

std::string Body(uint64_t i, size_t pad = 0) {
  return "{\"n\":" + std::to_string(i) + ",\"s\":\"" + std::string(pad, 'z') + "\"}";
}

// A shard's worth of engine over a store, with a loop to complete fsyncs.
struct Rig {
  explicit Rig(const std::string& dir, DiskOptions opts = {}, storage::Env* env = nullptr,
               uint64_t segment_size = 1 << 20) {
    uv_loop_init(&loop);
    auto st = storage::Store::Open(env != nullptr ? env : storage::PosixEnv(), dir, 4,
                                   segment_size);
    REQUIRE(st.ok());
    store = std::move(st.value());
    REQUIRE(RecoverLog(store.get(), 1, &recovered).ok());
    engine = std::make_unique<DiskEngine>(&loop, store.get(), 0, 1, opts, &metrics);
    engine->SetListener(&listener);
    for (auto& c : recovered[0].convs) {
      engine->Adopted(c.get());
      convs[c->id] = std::move(c);
    }
  }
  ~Rig() {
    engine->Shutdown();
    uv_run(&loop, UV_RUN_DEFAULT);
    engine.reset();
    uv_loop_close(&loop);
  }
  ConvState& Conv(const std::string& id) {
    auto& p = convs[id];
    if (!p) {
      p = std::make_unique<ConvState>();
      p->id = id;
      p->group = id[0] == 'g';
      p->partition = storage::PartitionOf(id, store->partitions(), store->version());
    }
    return *p;
  }
  void Send(ConvState& c, const std::string& from, const std::string& cmid,
            const std::string& body) {
    auto* op = new Op();
    op->user = from;
    op->device = "phone";
    op->cmid = cmid;
    op->body = body;
    StoredMsg m;
    m.seq = ++c.last_seq;
    m.ts = int64_t(WallMs());
    m.frame = net::SharedBuf::New(16);
    m.frame->len = 0;
    engine->Append(&c, op, m);
  }
  void RunUntil(size_t durable) {
    for (int i = 0; i < 100000 && listener.durable.size() < durable; i++) {
      uv_run(&loop, UV_RUN_ONCE);
    }
  }
  // The frame a push of this message would carry.
  static std::string Expected(const ConvState& c, uint64_t seq, const std::string& from,
                              const std::string& cmid, const std::string& body, int64_t ts) {
    proto::Message m;
    m.conv = c.id;
    m.seq = seq;
    m.from = from;
    m.device = "phone";
    m.ts = ts;
    m.cmid = cmid;
    m.body = body;
    std::string out;
    proto::AppendMsg(&out, m);
    return out;
  }

  uv_loop_t loop;
  ops::ShardMetrics metrics;
  std::unique_ptr<storage::Store> store;
  std::vector<Recovered> recovered;
  std::unique_ptr<DiskEngine> engine;
  Listener listener;
  std::map<std::string, std::unique_ptr<ConvState>> convs;
};

std::vector<StoredMsg> ReadRange(Rig& r, ConvState& c, uint64_t lo, uint64_t hi, size_t limit,
                                 bool top) {
  std::vector<StoredMsg> out;
  r.engine->Read(&c, lo, hi, limit, top, &out);
  return out;
}

std::string FrameText(const StoredMsg& m) {
  return std::string(reinterpret_cast<const char*>(m.frame->payload()), m.frame->payload_len());
}

void Release(std::vector<StoredMsg>& v) {
  for (auto& m : v) m.frame->Unref();
  v.clear();
}

}  // namespace

TEST_CASE("disk engine: acks wait for one fsync covering the batch; reads return what was sent") {
  TempDir d;
  Rig r(d.path());
  ConvState& c = r.Conv("d:alice:bob");
  for (int i = 1; i <= 300; i++) r.Send(c, "alice", "c" + std::to_string(i), Body(uint64_t(i)));
  r.engine->Flush();
  CHECK(r.listener.durable.empty());  // --fsync always: not before the fsync
  r.RunUntil(300);
  REQUIRE(r.listener.durable.size() == 300);
  for (size_t i = 0; i < 300; i++) {
    CHECK(r.listener.durable[i].first == i + 1);  // in seq order
    CHECK(r.listener.durable[i].second);
  }
  CHECK(r.metrics.fsyncs_total.Get() >= 1);
  CHECK(r.metrics.fsyncs_total.Get() <= 2);  // one group commit (plus none or one more)
  CHECK(c.durable_seq == 300);

  auto page = ReadRange(r, c, 1, 300, 100, false);
  REQUIRE(page.size() == 100);
  for (size_t i = 0; i < 100; i++) {
    CHECK(page[i].seq == i + 1);
    CHECK(FrameText(page[i]) == Rig::Expected(c, i + 1, "alice", "c" + std::to_string(i + 1),
                                              Body(i + 1), page[i].ts));
  }
  Release(page);
  page = ReadRange(r, c, 1, 300, 100, true);
  REQUIRE(page.size() == 100);
  CHECK(page.front().seq == 201);
  CHECK(page.back().seq == 300);
  Release(page);
  page = ReadRange(r, c, 150, 170, 1000, false);
  REQUIRE(page.size() == 21);
  CHECK(page.front().seq == 150);
  Release(page);
  page = ReadRange(r, c, 299, 1000, 10, false);  // clamped to what is durable
  CHECK(page.size() == 2);
  Release(page);
}

TEST_CASE("disk engine: recovery rebuilds seqs, cursors, groups, cmids and conversation lists") {
  TempDir d;
  int64_t ts_of_5 = 0;
  {
    Rig r(d.path());
    ConvState& c = r.Conv("d:alice:bob");
    for (int i = 1; i <= 130; i++) r.Send(c, i % 2 ? "alice" : "bob", "m" + std::to_string(i), Body(uint64_t(i), 40));
    ConvState& g = r.Conv("g:team");
    g.exists = true;
    g.open = true;
    g.members = {"alice", "bob", "carol"};
    GroupChange full;
    full.full = true;
    r.engine->GroupChanged(&g, full, new Op());
    GroupChange delta;
    delta.add = {"dave"};
    delta.remove = {"bob"};
    g.members = {"alice", "carol", "dave"};
    r.engine->GroupChanged(&g, delta, new Op());
    r.Send(g, "carol", "g1", Body(1));
    c.cursors["bob/phone"] = Cursor{120, 100};
    r.engine->CursorMoved(&c, "bob/phone", c.cursors["bob/phone"]);
    r.engine->Flush();
    r.RunUntil(131);
    REQUIRE(r.listener.durable.size() == 131);
    CHECK(r.listener.states == std::vector<bool>{true, true});
    auto p = ReadRange(r, c, 5, 5, 1, false);
    REQUIRE(p.size() == 1);
    ts_of_5 = p[0].ts;
    Release(p);
  }
  Rig r(d.path());  // a restart
  REQUIRE(r.convs.count("d:alice:bob") == 1);
  ConvState& c = *r.convs["d:alice:bob"];
  CHECK(c.last_seq == 130);
  CHECK(c.durable_seq == 130);
  CHECK(c.exists);
  CHECK(c.cursors["bob/phone"].recv == 120);
  CHECK(c.cursors["bob/phone"].read == 100);
  CHECK(c.index.size() == 2);  // seqs 64 and 128
  ConvState& g = *r.convs["g:team"];
  CHECK(g.exists);
  CHECK(g.open);
  CHECK(g.members == std::unordered_set<std::string>{"alice", "carol", "dave"});
  CHECK(g.last_seq == 1);
  // Every cmid of the last 24 h, with its seq and ts.
  size_t seeds = 0;
  bool found = false;
  for (auto& [user, s] : r.recovered[0].dedup) {
    seeds += s.recs.size();
    for (auto& rec : s.recs) {
      if (user == "alice" && s.cmid(rec) == "m5") {
        found = true;
        CHECK(s.conv(rec) == "d:alice:bob");
        CHECK(rec.seq == 5);
        CHECK(rec.ts == ts_of_5);
      }
    }
  }
  CHECK(seeds == 131);
  CHECK(found);
  auto& idx = r.recovered[0].conv_index;
  auto has = [&](const char* u, const char* conv) {
    return std::find(idx.begin(), idx.end(), std::make_pair(std::string(u), std::string(conv))) !=
           idx.end();
  };
  CHECK(has("alice", "d:alice:bob"));
  CHECK(has("bob", "d:alice:bob"));
  CHECK(has("dave", "g:team"));
  CHECK_FALSE(has("bob", "g:team"));
  // Reads work from the recovered index; appends continue the sequence.
  auto page = ReadRange(r, c, 60, 70, 100, false);
  REQUIRE(page.size() == 11);
  CHECK(FrameText(page[5]) ==
        Rig::Expected(c, 65, "alice", "m65", Body(65, 40), page[5].ts));
  Release(page);
  r.Send(c, "alice", "m131", Body(131));
  r.engine->Flush();
  r.RunUntil(1);
  page = ReadRange(r, c, 129, 131, 10, false);
  REQUIRE(page.size() == 3);
  CHECK(page.back().seq == 131);
  Release(page);
}

TEST_CASE("disk engine: --fsync never acks once written, no fsync") {
  TempDir d;
  DiskOptions o;
  o.fsync = FsyncPolicy::kNever;
  Rig r(d.path(), o);
  ConvState& c = r.Conv("d:a:b");
  for (int i = 0; i < 10; i++) r.Send(c, "a", "x" + std::to_string(i), Body(uint64_t(i)));
  CHECK(r.listener.durable.empty());  // not before the loop turn's write
  r.engine->Flush();
  CHECK(r.listener.durable.size() == 10);
  CHECK(r.metrics.fsyncs_total.Get() == 0);
}

TEST_CASE("disk engine: a failed fsync answers the waiting and the later appends with errors") {
  TempDir d;
  storage::FaultEnv env;
  Rig r(d.path(), {}, &env);
  ConvState& c = r.Conv("d:a:b");
  ConvState& g = r.Conv("g:x");
  // Same partition or not, both must fail once theirs fails: use one conv.
  (void)g;
  r.Send(c, "a", "ok1", Body(1));
  r.engine->Flush();
  r.RunUntil(1);
  REQUIRE(r.listener.durable.size() == 1);
  CHECK(r.listener.durable[0].second);
  env.FailSyncs(true);
  r.Send(c, "a", "bad1", Body(2));
  r.Send(c, "a", "bad2", Body(3));
  r.engine->Flush();
  r.RunUntil(3);
  REQUIRE(r.listener.durable.size() == 3);
  CHECK_FALSE(r.listener.durable[1].second);
  CHECK_FALSE(r.listener.durable[2].second);
  CHECK(r.metrics.log_failed_partitions.Get() == 1);
  env.FailSyncs(false);  // the partition stays failed: nothing is acked silently
  r.Send(c, "a", "bad3", Body(4));
  CHECK(r.listener.durable.size() == 4);
  CHECK_FALSE(r.listener.durable[3].second);
  CHECK(c.durable_seq == 1);  // reads never show what was not stored
}

TEST_CASE("disk engine: retention drops old segments after a snapshot that recovery reads") {
  TempDir d;
  DiskOptions o;
  o.retention_ms = 1000;
  uint64_t first = 0;
  {
    Rig r(d.path(), o, nullptr, 4096);
    ConvState& c = r.Conv("d:alice:bob");
    ConvState& g = r.Conv("g:team");
    g.exists = true;
    g.members = {"alice", "bob"};
    GroupChange full;
    full.full = true;
    r.engine->GroupChanged(&g, full, nullptr);
    for (int i = 1; i <= 200; i++) {
      r.Send(c, "alice", "k" + std::to_string(i), Body(uint64_t(i), 100));
      if (i % 20 == 0) r.engine->Flush();
    }
    c.cursors["bob/phone"] = Cursor{150, 140};
    r.engine->CursorMoved(&c, "bob/phone", c.cursors["bob/phone"]);
    r.engine->Flush();
    r.RunUntil(200);
    REQUIRE(r.listener.durable.size() == 200);
    size_t segs_before = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(d.path())) {
      segs_before += e.path().extension() == ".log" ? 1 : 0;
    }
    REQUIRE(segs_before > 4);
    r.engine->RunRetention(int64_t(WallMs()) + 10000);  // everything sealed has expired
    CHECK(r.metrics.log_segments_deleted_total.Get() > 0);
    first = c.first_seq;
    CHECK(first > 1);
    CHECK(first <= 201);
    // Pulls start at the first kept message.
    auto page = ReadRange(r, c, 1, 200, 1000, false);
    if (first <= 200) {
      REQUIRE(!page.empty());
      CHECK(page.front().seq == first);
      CHECK(page.back().seq == 200);
    }
    Release(page);
  }
  Rig r(d.path(), o, nullptr, 4096);
  ConvState& c = *r.convs["d:alice:bob"];
  CHECK(c.last_seq == 200);
  CHECK(c.first_seq == first);
  CHECK(c.cursors["bob/phone"].recv == 150);
  ConvState& g = *r.convs["g:team"];
  CHECK(g.exists);
  CHECK(g.members.size() == 2);
  // The cmids of dropped messages are still deduplicated (24 h window).
  size_t alice = 0;
  std::set<std::string> cmids;
  for (auto& [user, s] : r.recovered[0].dedup) {
    if (user != "alice") continue;
    for (auto& rec : s.recs) cmids.insert(std::string(s.cmid(rec)));
  }
  alice = cmids.size();
  CHECK(alice == 200);
}

TEST_CASE("disk engine: a version-1 directory keeps its partition placement across restarts") {
  TempDir d;
  { Rig r(d.path()); }  // creates a version-2 directory with 4 partitions
  REQUIRE(storage::PosixEnv()
              ->WriteFileAtomic(d.path() + "/LONGLINK", "longlink-log 1\npartitions 4\n")
              .ok());
  // Ids whose partition differs between the versions.
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 3 && i < 1000; i++) {
    std::string id = "d:a" + std::to_string(i) + ":b" + std::to_string(i);
    if (storage::PartitionOf(id, 4, 1) != storage::PartitionOf(id, 4, 2)) ids.push_back(id);
  }
  REQUIRE(ids.size() == 3);
  {
    Rig r(d.path());
    REQUIRE(r.store->version() == 1);
    for (const std::string& id : ids) {
      ConvState& c = r.Conv(id);
      CHECK(c.partition == storage::PartitionOf(id, 4, 1));
      for (int i = 1; i <= 5; i++) r.Send(c, "alice", id + "-" + std::to_string(i), Body(uint64_t(i)));
    }
    r.engine->Flush();
    r.RunUntil(15);
    REQUIRE(r.listener.durable.size() == 15);
  }
  Rig r(d.path());
  CHECK(r.store->version() == 1);
  for (const std::string& id : ids) {
    CAPTURE(id);
    REQUIRE(r.convs.count(id) == 1);
    ConvState& c = *r.convs[id];
    CHECK(c.partition == storage::PartitionOf(id, 4, 1));
    CHECK(c.last_seq == 5);
    auto page = ReadRange(r, c, 1, 5, 100, false);
    CHECK(page.size() == 5);
    Release(page);
  }
}
