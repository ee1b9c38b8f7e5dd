// DiskEngine against a real log in a temporary directory: group commit,
// reads through the backward chain, recovery of every kind of state,
// failures, retention.
#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "base/clock.h"
#include "core/disk_engine.h"
#include "core/ops.h"
#include "proto/reply.h"
#include "storage/coding.h"
#include "storage/fault_env.h"
#include "storage/record_format.h"
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
    if (recovered[0].last_seen) {
      for (const RecoveredLastSeen& ls : *recovered[0].last_seen) {
        engine->AdoptedLastSeen(ls.user, ls.last_seen_ms, ls.pos);
      }
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

// The seqs of a page and whether Read said there were more.
struct Page {
  std::vector<uint64_t> seqs;
  bool more = false;
};

Page ReadPage(Rig& r, ConvState& c, uint64_t lo, uint64_t hi, size_t limit, bool top) {
  std::vector<StoredMsg> out;
  Page p;
  p.more = r.engine->Read(&c, lo, hi, limit, top, &out);
  for (auto& m : out) {
    p.seqs.push_back(m.seq);
    m.frame->Unref();
  }
  return p;
}

// A kMsg record as it lies on disk.
struct DiskMsg {
  std::string file;
  uint64_t off = 0;
  uint32_t len = 0;  // payload
  std::string conv;
  uint64_t seq = 0;
};

// Calls f(file, position, type, payload) for every record of a partition
// directory, in position order (stops at the first record that is not
// whole, as recovery would).
template <typename F>
void ForEachRecordOnDisk(const std::string& pdir, F f) {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(pdir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t off = 0;
    while (off + storage::kHeaderSize <= data.size()) {
      uint32_t len;
      std::memcpy(&len, data.data() + off + 4, 4);
      auto type = uint8_t(data[off + 8]);
      if (type == storage::kZeroType || off + storage::kHeaderSize + len > data.size()) break;
      f(file, off, type, std::string_view(data).substr(off + storage::kHeaderSize, len));
      off += storage::kHeaderSize + len;
    }
  }
}

// Every kMsg record of a partition directory, in position order.
std::vector<DiskMsg> MsgsOnDisk(const std::string& pdir) {
  std::vector<DiskMsg> out;
  ForEachRecordOnDisk(pdir, [&](const std::string& file, uint64_t off, uint8_t type,
                                std::string_view payload) {
    if (type != storage::kMsg) return;
    storage::Reader rd(payload);
    uint64_t seq = 0, ts = 0, prev = 0;
    std::string_view conv;
    REQUIRE((rd.Varint(&seq) && rd.Varint(&ts) && rd.Varint(&prev) && rd.String(&conv)));
    out.push_back(DiskMsg{file, off, uint32_t(payload.size()), std::string(conv), seq});
  });
  return out;
}

// A kLastSeen record as it lies on disk.
struct DiskLastSeen {
  std::string file;
  std::string user;
  int64_t ms = 0;
};

// Every kLastSeen record of a partition directory, in position order.
std::vector<DiskLastSeen> LastSeenOnDisk(const std::string& pdir) {
  std::vector<DiskLastSeen> out;
  ForEachRecordOnDisk(pdir, [&](const std::string& file, uint64_t, uint8_t type,
                                std::string_view payload) {
    if (type != storage::kLastSeen) return;
    storage::Reader rd(payload);
    std::string_view user;
    uint64_t ms = 0;
    REQUIRE((rd.String(&user) && rd.Varint(&ms)));
    out.push_back(DiskLastSeen{file, std::string(user), int64_t(ms)});
  });
  return out;
}

// The recovered last_seen of every user (each shard's list must be the same).
std::map<std::string, int64_t> RecoveredLastSeens(const std::vector<Recovered>& rec) {
  std::map<std::string, int64_t> first;
  for (size_t i = 0; i < rec.size(); i++) {
    std::map<std::string, int64_t> m;
    if (rec[i].last_seen) {
      for (const RecoveredLastSeen& ls : *rec[i].last_seen) {
        CHECK(m.emplace(ls.user, ls.last_seen_ms).second);  // once per user
      }
    }
    if (i == 0) {
      first = m;
    } else {
      CHECK(m == first);
    }
  }
  return first;
}

std::string UserPartitionDir(Rig& r, const std::string& user) {
  char name[16];
  std::snprintf(name, sizeof(name), "/p%03u",
                storage::PartitionOf(user, r.store->partitions(), r.store->version()));
  return r.store->dir() + name;
}

// Flips a byte in the middle of a record's payload: its CRC no longer
// matches, and recovery cuts its segment there.
void Corrupt(const DiskMsg& m) {
  std::fstream f(m.file, std::ios::binary | std::ios::in | std::ios::out);
  auto at = std::streamoff(m.off + storage::kHeaderSize + m.len / 2);
  f.seekg(at);
  char ch;
  f.get(ch);
  f.seekp(at);
  f.put(char(ch ^ 0x5a));
}

// The seqs of `conv` that survive a cut at `bad`: every record except
// those of bad's segment at or after it.
std::vector<uint64_t> Surviving(const std::vector<DiskMsg>& all, const std::string& conv,
                                const DiskMsg& bad) {
  std::vector<uint64_t> v;
  for (const DiskMsg& m : all) {
    if (m.conv != conv || (m.file == bad.file && m.off >= bad.off)) continue;
    v.push_back(m.seq);
  }
  return v;
}

std::string PartitionDir(Rig& r, const ConvState& c) {
  char name[16];
  std::snprintf(name, sizeof(name), "/p%03u", c.partition);
  return r.store->dir() + name;
}

// Every page of c, after and before each seq, with a few limits, holds
// exactly the lowest (highest) `limit` of `expect` (ascending seqs) in the
// range, and `more` says whether any of `expect` lies beyond it.
void CheckPages(Rig& r, ConvState& c, const std::vector<uint64_t>& expect) {
  const uint64_t last = c.durable_seq;
  for (size_t limit : {size_t(1), size_t(2), size_t(5), size_t(64), size_t(100), size_t(1000)}) {
    CAPTURE(limit);
    for (uint64_t after = 0; after <= last; after++) {
      CAPTURE(after);
      auto from = std::upper_bound(expect.begin(), expect.end(), after);
      std::vector<uint64_t> want(from, from + long(std::min<size_t>(limit, size_t(expect.end() - from))));
      Page p = ReadPage(r, c, after + 1, last, limit, false);
      CHECK(p.seqs == want);
      CHECK(p.more == (size_t(expect.end() - from) > limit));
    }
    for (uint64_t before = 1; before <= last + 1; before++) {
      CAPTURE(before);
      auto to = std::lower_bound(expect.begin(), expect.end(), before);
      size_t n = std::min<size_t>(limit, size_t(to - expect.begin()));
      std::vector<uint64_t> want(to - long(n), to);
      Page p = ReadPage(r, c, 1, before - 1, limit, true);
      CHECK(p.seqs == want);
      CHECK(p.more == (size_t(to - expect.begin()) > limit));
    }
    // Paging with after until more is false: every surviving seq once, and
    // never an empty page that says more.
    std::vector<uint64_t> all;
    uint64_t after = 0;
    for (int pages = 0; pages < 10000; pages++) {
      Page p = ReadPage(r, c, after + 1, last, limit, false);
      all.insert(all.end(), p.seqs.begin(), p.seqs.end());
      if (!p.more) break;
      REQUIRE(!p.seqs.empty());
      after = p.seqs.back();
    }
    CHECK(all == expect);
    all.clear();
    uint64_t before = last + 1;
    for (int pages = 0; pages < 10000; pages++) {
      Page p = ReadPage(r, c, 1, before - 1, limit, true);
      all.insert(all.begin(), p.seqs.begin(), p.seqs.end());
      if (!p.more) break;
      REQUIRE(!p.seqs.empty());
      before = p.seqs.front();
    }
    CHECK(all == expect);
  }
}

std::string FrameText(const StoredMsg& m) {
  return std::string(reinterpret_cast<const char*>(m.frame->payload()), m.frame->payload_len());
}

void Release(std::vector<StoredMsg>& v) {
  for (auto& m : v) m.frame->Unref();
  v.clear();
}

}  // namespace

TEST_CASE("disk engine: acks wait for one fsync covering the batch, and reads return what was sent") {
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

TEST_CASE("disk engine: a cursor move gets no fsync of its own: the next message's covers it, or one 100 ms later") {
  TempDir d;
  Rig r(d.path());
  ConvState& c = r.Conv("d:alice:bob");
  storage::Partition* p = r.store->partition(c.partition);
  r.Send(c, "alice", "c1", Body(1));
  r.engine->Flush();
  r.RunUntil(1);
  REQUIRE(r.listener.durable.size() == 1);
  const uint64_t synced_after_msg = r.metrics.fsyncs_total.Get();
  REQUIRE(p->synced_end() == p->written_end());

  // A move alone: written at once, synced only by the lazy timer.
  c.cursors["bob/phone"] = Cursor{1, 0};
  r.engine->CursorMoved(&c, "bob/phone", c.cursors["bob/phone"]);
  r.engine->Flush();
  CHECK(p->written_end() > p->synced_end());
  for (int i = 0; i < 5; i++) uv_run(&r.loop, UV_RUN_NOWAIT);
  CHECK(r.metrics.fsyncs_total.Get() == synced_after_msg);
  const uint64_t t0 = MonoMs();
  while (p->synced_end() < p->written_end() && MonoMs() - t0 < 5000) uv_run(&r.loop, UV_RUN_ONCE);
  CHECK(p->synced_end() == p->written_end());
  CHECK(MonoMs() - t0 >= 50);
  CHECK(r.metrics.fsyncs_total.Get() == synced_after_msg + 1);

  // A move, then a message: one fsync covers both, at once.
  c.cursors["bob/phone"] = Cursor{1, 1};
  r.engine->CursorMoved(&c, "bob/phone", c.cursors["bob/phone"]);
  r.engine->Flush();
  r.Send(c, "alice", "c2", Body(2));
  r.engine->Flush();
  r.RunUntil(2);
  REQUIRE(r.listener.durable.size() == 2);
  CHECK(p->synced_end() == p->written_end());
  CHECK(r.metrics.fsyncs_total.Get() == synced_after_msg + 2);
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

TEST_CASE("disk engine: a cut in a sealed segment keeps the messages before it and after it") {
  // PROTOCOL.md section 8: records before the first corrupt one are served
  // as written. 10 messages of ~1.2 KB in 4 KiB segments: [1 2 3] [4 5 6]
  // [7 8 9] [10]; a byte flipped in 5 cuts the 2nd segment there. The
  // chain of 7 points at 6, which is gone: reads must step over the hole.
  TempDir d;
  std::vector<DiskMsg> disk;
  std::map<uint64_t, std::string> texts;
  std::vector<uint64_t> expect;
  {
    Rig r(d.path(), {}, nullptr, 4096);
    ConvState& c = r.Conv("d:alice:bob");
    for (int i = 1; i <= 10; i++) r.Send(c, "alice", "c" + std::to_string(i), Body(uint64_t(i), 1200));
    r.engine->Flush();
    r.RunUntil(10);
    REQUIRE(r.listener.durable.size() == 10);
    std::vector<StoredMsg> all;
    CHECK_FALSE(r.engine->Read(&c, 1, 10, 100, false, &all));
    for (auto& m : all) texts[m.seq] = FrameText(m);
    Release(all);
    disk = MsgsOnDisk(PartitionDir(r, c));
  }
  REQUIRE(disk.size() == 10);
  const DiskMsg& bad = disk[4];
  REQUIRE(bad.seq == 5);
  REQUIRE(bad.off > 0);                 // 4 is before it in its segment
  REQUIRE(disk[6].file != bad.file);    // 7 is in a later segment
  expect = Surviving(disk, "d:alice:bob", bad);
  REQUIRE(expect == std::vector<uint64_t>{1, 2, 3, 4, 7, 8, 9, 10});
  Corrupt(bad);
  for (int restart = 0; restart < 2; restart++) {
    CAPTURE(restart);
    Rig r(d.path(), {}, nullptr, 4096);
    ConvState& c = *r.convs["d:alice:bob"];
    CHECK(c.last_seq == expect.back());
    CHECK(c.durable_seq == expect.back());  // sync's `last`
    CHECK(c.first_seq == 1);
    std::vector<StoredMsg> all;
    CHECK_FALSE(r.engine->Read(&c, 1, c.durable_seq, 100, false, &all));
    REQUIRE(all.size() == expect.size());
    for (size_t i = 0; i < all.size(); i++) {
      CHECK(all[i].seq == expect[i]);
      CHECK(FrameText(all[i]) == texts[all[i].seq]);  // byte for byte
    }
    Release(all);
    CHECK(ReadPage(r, c, 1, 10, 2, false).seqs == std::vector<uint64_t>{1, 2});
    CHECK(ReadPage(r, c, 1, 10, 2, false).more);
    CHECK(ReadPage(r, c, 5, 10, 2, false).seqs == std::vector<uint64_t>{7, 8});
    CHECK(ReadPage(r, c, 1, 6, 10, true).seqs == std::vector<uint64_t>{1, 2, 3, 4});
    CHECK_FALSE(ReadPage(r, c, 1, 6, 10, true).more);
    Page hole = ReadPage(r, c, 5, 6, 10, false);
    CHECK(hole.seqs.empty());
    CHECK_FALSE(hole.more);
    CheckPages(r, c, expect);
    // Sends go on after the last seq, chained to the newest message.
    uint64_t next = c.last_seq + 1;
    r.Send(c, "alice", "n" + std::to_string(next), Body(next, 1200));
    r.engine->Flush();
    r.RunUntil(1);
    REQUIRE(r.listener.durable.size() == 1);
    CHECK(r.listener.durable[0].first == next);
    expect.push_back(next);
    CHECK_FALSE(r.engine->Read(&c, next, next, 1, false, &all));
    REQUIRE(all.size() == 1);
    texts[next] = FrameText(all[0]);
    Release(all);
    CheckPages(r, c, expect);
  }
}

TEST_CASE("disk engine: a cut in the middle of a long conversation (sparse index) and retention") {
  // Two conversations of one partition, interleaved over many 4 KiB
  // segments, one with 300 messages (index entries at 64, 128, ...). A
  // corrupt record of it in a middle segment cuts that segment there; every
  // page, after and before each seq, must hold exactly the surviving seqs.
  TempDir d;
  DiskOptions o;
  o.retention_ms = 3600 * 1000;
  std::vector<DiskMsg> disk;
  std::string a_id = "d:alice:bob", b_id;
  std::string pdir;
  {
    Rig r(d.path(), o, nullptr, 4096);
    uint32_t pa = r.Conv(a_id).partition;
    for (int i = 0; b_id.empty() && i < 1000; i++) {
      std::string id = "d:c" + std::to_string(i) + ":d" + std::to_string(i);
      if (storage::PartitionOf(id, r.store->partitions(), r.store->version()) == pa) b_id = id;
    }
    REQUIRE(!b_id.empty());
    ConvState& a = r.Conv(a_id);
    ConvState& b = r.Conv(b_id);
    for (int i = 1; i <= 450; i++) {
      if (i % 3 == 0) {
        r.Send(b, "carol", "b" + std::to_string(i), Body(uint64_t(i), 60));
      } else {
        r.Send(a, "alice", "a" + std::to_string(i), Body(uint64_t(i), 60));
      }
      if (i % 25 == 0) r.engine->Flush();
    }
    r.engine->Flush();
    r.RunUntil(450);
    REQUIRE(r.listener.durable.size() == 450);
    REQUIRE(a.last_seq == 300);
    pdir = PartitionDir(r, a);
    disk = MsgsOnDisk(pdir);
  }
  std::vector<std::string> files;
  for (const DiskMsg& m : disk) {
    if (files.empty() || files.back() != m.file) files.push_back(m.file);
  }
  REQUIRE(files.size() >= 10);
  // A middle segment that starts with a message of b: cut it at its first
  // message of a, so that a's last message before the hole is in the
  // segment before (retention below drops it) and b keeps some of the
  // segment.
  const DiskMsg* bad = nullptr;
  for (size_t k = files.size() / 3; bad == nullptr && k + 3 < files.size(); k++) {
    auto first = std::find_if(disk.begin(), disk.end(), [&](const DiskMsg& m) { return m.file == files[k]; });
    if (first->conv != b_id) continue;
    for (auto it = first; it != disk.end() && it->file == files[k]; ++it) {
      if (it->conv == a_id) {
        bad = &*it;
        break;
      }
    }
  }
  REQUIRE(bad != nullptr);
  CAPTURE(bad->seq);
  REQUIRE(bad->seq > 64);
  REQUIRE(bad->seq < 300 - 64);
  std::vector<uint64_t> expect_a = Surviving(disk, a_id, *bad);
  std::vector<uint64_t> expect_b = Surviving(disk, b_id, *bad);
  REQUIRE(expect_a.size() < 300);
  REQUIRE(expect_b.size() < 150);
  Corrupt(*bad);
  uint64_t last_before_hole = 0;  // a's last message before the hole
  for (uint64_t s : expect_a) {
    if (s < bad->seq) last_before_hole = s;
  }
  {
    Rig r(d.path(), o, nullptr, 4096);
    ConvState& a = *r.convs[a_id];
    ConvState& b = *r.convs[b_id];
    CHECK(a.last_seq == 300);
    CHECK(a.durable_seq == 300);
    CHECK(b.durable_seq == 150);
    CHECK(a.index.size() <= 300 / 64 + 1);  // still sparse: the stride and the hole
    CheckPages(r, a, expect_a);
    CheckPages(r, b, expect_b);
    for (int i = 1; i <= 5; i++) {
      r.Send(a, "alice", "x" + std::to_string(i), Body(uint64_t(1000 + i), 60));
      expect_a.push_back(300 + uint64_t(i));
    }
    r.engine->Flush();
    r.RunUntil(5);
    CHECK(r.listener.durable.back().first == 305);
    CheckPages(r, a, expect_a);
  }
  // Retention drops the segments before the cut one, a's message before
  // the hole among them.
  auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(2);
  for (const std::string& f : files) {
    if (f == bad->file) break;
    std::filesystem::last_write_time(f, old);
  }
  auto kept = [](std::vector<uint64_t> v, uint64_t first) {
    v.erase(v.begin(), std::lower_bound(v.begin(), v.end(), first));
    return v;
  };
  {
    Rig r(d.path(), o, nullptr, 4096);
    ConvState& a = *r.convs[a_id];
    ConvState& b = *r.convs[b_id];
    CheckPages(r, a, expect_a);
    r.engine->RunRetention(int64_t(WallMs()));
    CHECK(r.metrics.log_segments_deleted_total.Get() > 0);
    CHECK(a.first_seq == last_before_hole + 1);
    expect_a = kept(expect_a, a.first_seq);
    expect_b = kept(expect_b, b.first_seq);
    REQUIRE(!expect_a.empty());
    CHECK(expect_a.front() > bad->seq);
    CheckPages(r, a, expect_a);
    CheckPages(r, b, expect_b);
  }
  Rig r(d.path(), o, nullptr, 4096);
  ConvState& a = *r.convs[a_id];
  ConvState& b = *r.convs[b_id];
  CHECK(a.last_seq == 305);
  CHECK(a.first_seq == expect_a.front());  // what is before it is gone
  CheckPages(r, a, expect_a);
  CheckPages(r, b, expect_b);
}

TEST_CASE("disk engine: a cut that takes a conversation's newest messages keeps its last seq") {
  // A retention snapshot (last seq 60) outlives a cut that takes a's newest
  // messages: the seqs between its newest surviving message and 60 are
  // missing at the top. Pages there are empty and say nothing more (a
  // client pulling until more is false must stop), and sends go on at 61.
  TempDir d;
  DiskOptions o;
  o.retention_ms = 3600 * 1000;
  std::string a_id = "d:alice:bob", b_id;
  std::string pdir;
  {
    Rig r(d.path(), o, nullptr, 4096);
    ConvState& a = r.Conv(a_id);
    for (int i = 0; b_id.empty() && i < 1000; i++) {
      std::string id = "d:c" + std::to_string(i) + ":d" + std::to_string(i);
      if (storage::PartitionOf(id, r.store->partitions(), r.store->version()) == a.partition) {
        b_id = id;
      }
    }
    REQUIRE(!b_id.empty());
    ConvState& b = r.Conv(b_id);
    for (int i = 1; i <= 60; i++) {
      r.Send(a, "alice", "a" + std::to_string(i), Body(uint64_t(i), 100));
      r.Send(b, "carol", "b" + std::to_string(i), Body(uint64_t(i), 100));
    }
    for (int i = 61; i <= 120; i++) r.Send(b, "carol", "b" + std::to_string(i), Body(uint64_t(i), 100));
    r.engine->Flush();
    r.RunUntil(180);
    REQUIRE(r.listener.durable.size() == 180);
    pdir = PartitionDir(r, a);
  }
  std::vector<DiskMsg> disk = MsgsOnDisk(pdir);
  REQUIRE(!disk.empty());
  std::filesystem::last_write_time(disk.front().file, std::filesystem::file_time_type::clock::now() -
                                                          std::chrono::hours(2));
  {
    Rig r(d.path(), o, nullptr, 4096);
    r.engine->RunRetention(int64_t(WallMs()));  // drops the first segment, writes the snapshot
    REQUIRE(r.metrics.log_segments_deleted_total.Get() == 1);
  }
  disk = MsgsOnDisk(pdir);
  // The first message of a in the segment that holds a's newest.
  auto newest = std::find_if(disk.begin(), disk.end(),
                             [&](const DiskMsg& m) { return m.conv == a_id && m.seq == 60; });
  REQUIRE(newest != disk.end());
  REQUIRE(newest->file != disk.front().file);  // not the oldest kept segment
  auto bad = std::find_if(disk.begin(), disk.end(), [&](const DiskMsg& m) {
    return m.file == newest->file && m.conv == a_id;
  });
  std::vector<uint64_t> expect_a = Surviving(disk, a_id, *bad);
  std::vector<uint64_t> expect_b = Surviving(disk, b_id, *bad);
  REQUIRE(!expect_a.empty());
  REQUIRE(expect_a.back() < 60);
  Corrupt(*bad);
  for (int restart = 0; restart < 2; restart++) {
    CAPTURE(restart);
    Rig r(d.path(), o, nullptr, 4096);
    ConvState& a = *r.convs[a_id];
    ConvState& b = *r.convs[b_id];
    CHECK(a.last_seq == 60 + uint64_t(restart));
    CHECK(a.durable_seq == 60 + uint64_t(restart));
    CHECK(a.first_seq == expect_a.front());
    CheckPages(r, a, expect_a);
    CheckPages(r, b, expect_b);
    Page top = ReadPage(r, a, bad->seq, a.durable_seq, 100, false);
    CHECK(top.seqs == std::vector<uint64_t>(std::lower_bound(expect_a.begin(), expect_a.end(), bad->seq),
                                            expect_a.end()));
    CHECK_FALSE(top.more);
    if (restart == 0) {
      r.Send(a, "alice", "a61", Body(61, 100));
      r.engine->Flush();
      r.RunUntil(1);
      REQUIRE(r.listener.durable.size() == 1);
      CHECK(r.listener.durable[0].first == 61);
      expect_a.push_back(61);
      CheckPages(r, a, expect_a);
    }
  }
}

TEST_CASE("disk engine: last_seen goes to the user's partition and recovery finds the newest") {
  TempDir d;
  const int64_t t0 = 1763800000123;
  {
    Rig r(d.path());
    r.engine->UserOffline("bob", t0);
    r.engine->UserOffline("bob", t0 + 2000);
    r.engine->UserOffline("bob", t0 + 1000);  // older than the newest: nothing to write
    r.engine->UserOffline("carol", t0 + 5);
    r.engine->Flush();
    for (int i = 0; i < 1000 && r.metrics.fsyncs_total.Get() == 0; i++) {
      uv_run(&r.loop, UV_RUN_ONCE);
    }
    // Each in its user's partition, as a conversation id would be placed.
    auto bob = LastSeenOnDisk(UserPartitionDir(r, "bob"));
    std::vector<int64_t> bobs;
    for (auto& ls : bob) {
      if (ls.user == "bob")
        bobs.push_back(ls.ms);
    }
    CHECK(bobs == std::vector<int64_t>{t0, t0 + 2000});
    auto carol = LastSeenOnDisk(UserPartitionDir(r, "carol"));
    CHECK(std::count_if(carol.begin(), carol.end(),
                        [](const DiskLastSeen& ls) { return ls.user == "carol"; }) == 1);
    size_t all = 0;
    for (uint32_t p = 0; p < r.store->partitions(); p++) {
      char name[16];
      std::snprintf(name, sizeof(name), "/p%03u", p);
      all += LastSeenOnDisk(r.store->dir() + name).size();
    }
    CHECK(all == 3);
  }
  std::map<std::string, int64_t> want{{"bob", t0 + 2000}, {"carol", t0 + 5}};
  {
    Rig r(d.path());  // a restart
    CHECK(RecoveredLastSeens(r.recovered) == want);
    // The engine adopted them: an older value writes nothing, a newer one does.
    r.engine->UserOffline("bob", t0 + 1500);
    r.engine->UserOffline("carol", t0 + 9000);
    r.engine->Flush();
  }
  want["carol"] = t0 + 9000;
  // Another number of shards: every shard gets every user's last_seen.
  auto st = storage::Store::Open(storage::PosixEnv(), d.path(), 4, 1 << 20);
  REQUIRE(st.ok());
  std::vector<Recovered> rec;
  REQUIRE(RecoverLog(st.value().get(), 3, &rec).ok());
  REQUIRE(rec.size() == 3);
  CHECK(RecoveredLastSeens(rec) == want);
}

TEST_CASE("disk engine: retention re-appends the last_seen whose record is in a dropped segment") {
  TempDir d;
  DiskOptions o;
  o.retention_ms = 1000;
  const int64_t t_bob = 1763800000123, t_carol = 1763800009999;
  std::string bob_first_segment;
  // A conversation in bob's partition, to fill it with segments.
  auto conv_with = [](Rig& r, const std::string& user) {
    const uint32_t want = storage::PartitionOf(user, r.store->partitions(), r.store->version());
    for (int i = 0;; i++) {
      std::string id = "d:x" + std::to_string(i) + ":y";
      if (storage::PartitionOf(id, r.store->partitions(), r.store->version()) == want)
        return id;
    }
  };
  auto fill = [](Rig& r, ConvState& c, int n) {
    const size_t before = r.listener.durable.size();
    for (int i = 1; i <= n; i++) {
      r.Send(c, "x", "f" + std::to_string(c.last_seq + 1), Body(uint64_t(i), 100));
      if (i % 20 == 0)
        r.engine->Flush();
    }
    r.engine->Flush();
    r.RunUntil(before + size_t(n));
    REQUIRE(r.listener.durable.size() == before + size_t(n));
  };
  {
    Rig r(d.path(), o, nullptr, 4096);
    REQUIRE_NE(storage::PartitionOf("bob", 4, r.store->version()),
               storage::PartitionOf("carol", 4, r.store->version()));
    r.engine->UserOffline("bob", t_bob);
    ConvState& c = r.Conv(conv_with(r, "bob"));
    fill(r, c, 200);
    ConvState& c2 = r.Conv(conv_with(r, "carol"));
    fill(r, c2, 200);
    r.engine->UserOffline("carol", t_carol);  // in carol's active segment: stays where it is
    r.engine->Flush();
    // No sync in flight (retention skips a partition that syncs).
    for (int i = 0; i < 100000; i++) {
      bool synced = true;
      for (uint32_t p = 0; p < r.store->partitions(); p++) {
        synced =
            synced && r.store->partition(p)->synced_end() >= r.store->partition(p)->written_end();
      }
      if (synced)
        break;
      uv_run(&r.loop, UV_RUN_ONCE);
    }
    auto carol_before = LastSeenOnDisk(UserPartitionDir(r, "carol"));
    REQUIRE(carol_before.size() == 1);
    const uint64_t deleted_before = r.metrics.log_segments_deleted_total.Get();
    auto on_disk = LastSeenOnDisk(UserPartitionDir(r, "bob"));
    REQUIRE(on_disk.size() == 1);
    bob_first_segment = on_disk[0].file;
    r.engine->RunRetention(int64_t(WallMs()) + 10000);  // everything sealed has expired
    CHECK_FALSE(std::filesystem::exists(bob_first_segment));
    on_disk = LastSeenOnDisk(UserPartitionDir(r, "bob"));
    REQUIRE(on_disk.size() == 1);  // the re-appended one
    CHECK(on_disk[0].user == "bob");
    CHECK(on_disk[0].ms == t_bob);
    CHECK(on_disk[0].file != bob_first_segment);
    // carol's partition dropped segments too, but hers is in the active one:
    // not appended again.
    CHECK_FALSE(
        std::filesystem::exists(UserPartitionDir(r, "carol") + "/00000000000000000000.log"));
    auto carol_after = LastSeenOnDisk(UserPartitionDir(r, "carol"));
    REQUIRE(carol_after.size() == 1);
    CHECK(carol_after[0].file == carol_before[0].file);
    CHECK(r.metrics.log_segments_deleted_total.Get() > deleted_before);
  }
  {
    Rig r(d.path(), o, nullptr, 4096);
    CHECK(RecoveredLastSeens(r.recovered) ==
          std::map<std::string, int64_t>{{"bob", t_bob}, {"carol", t_carol}});
    // Recovery gave the engine the record's position: the next retention
    // that drops it re-appends it again.
    ConvState& c = *r.convs[conv_with(r, "bob")];
    std::string seg = LastSeenOnDisk(UserPartitionDir(r, "bob")).at(0).file;
    fill(r, c, 200);
    r.engine->RunRetention(int64_t(WallMs()) + 10000);
    CHECK_FALSE(std::filesystem::exists(seg));
  }
  Rig r(d.path(), o, nullptr, 4096);
  CHECK(RecoveredLastSeens(r.recovered) ==
        std::map<std::string, int64_t>{{"bob", t_bob}, {"carol", t_carol}});
}
