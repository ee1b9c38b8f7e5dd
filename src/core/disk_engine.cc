#include "core/disk_engine.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "base/clock.h"
#include "base/log.h"
#include "core/dedup_window.h"
#include "proto/ids.h"
#include "proto/reply.h"
#include "storage/coding.h"

namespace longlink::core {

namespace {

using storage::PutString;
using storage::PutVarint;

constexpr uint64_t kIndexStride = 64;

// Under --fsync always, records that nothing waits for (cursor moves,
// last_seen) get no fsync of their own: the next one of their partition
// covers them, or a sync at most this long after they were written. A
// crash cannot lose them anyway (they are in the kernel); a power cut may
// take the moves of the last moments, as section 8 allows ("a cursor may be
// behind ..., never ahead": the messages they cover were synced first).
constexpr uint64_t kLazySyncMs = 100;

struct MsgRec {
  uint64_t seq = 0, ts = 0, prev = 0;
  std::string_view conv, from, device, cmid, body;
};

bool DecodeMsg(std::string_view payload, MsgRec* m) {
  storage::Reader r(payload);
  return r.Varint(&m->seq) && r.Varint(&m->ts) && r.Varint(&m->prev) && r.String(&m->conv) &&
         r.String(&m->from) && r.String(&m->device) && r.String(&m->cmid) && r.String(&m->body);
}

void EncodeConvMeta(std::string* out, const ConvState* c) {
  out->clear();
  PutString(out, c->id);
  PutVarint(out, c->durable_seq);
  PutVarint(out, c->first_seq);
}

void EncodeGroup(std::string* out, const ConvState* c) {
  out->clear();
  PutString(out, c->id);
  out->push_back(char((c->exists ? 1 : 0) | (c->open ? 2 : 0)));
  PutVarint(out, c->members.size());
  for (const std::string& m : c->members) PutString(out, m);
}

void EncodeCursor(std::string* out, const ConvState* c, std::string_view key, const Cursor& cur) {
  out->clear();
  PutString(out, c->id);
  PutString(out, key);
  PutVarint(out, cur.recv);
  PutVarint(out, cur.read);
}

void EncodeDedup(std::string* out, std::string_view from, std::string_view cmid,
                 std::string_view conv, uint64_t seq, uint64_t ts) {
  out->clear();
  PutString(out, from);
  PutString(out, cmid);
  PutString(out, conv);
  PutVarint(out, seq);
  PutVarint(out, ts);
}

void EncodeLastSeen(std::string* out, std::string_view user, int64_t ms) {
  out->clear();
  PutString(out, user);
  PutVarint(out, uint64_t(ms));
}

net::SharedBuf* FrameOf(const MsgRec& r, std::string* scratch) {
  proto::Message m;
  m.conv = r.conv;
  m.seq = r.seq;
  m.from = r.from;
  m.device = r.device;
  m.ts = int64_t(r.ts);
  m.cmid = r.cmid;
  m.body = r.body;
  scratch->clear();
  proto::AppendMsg(scratch, m);
  return NewSharedFrame(*scratch);
}

}  // namespace

// --- Writing.

DiskEngine::DiskEngine(uv_loop_t* loop, storage::Store* store, int shard, int nshards,
                       const DiskOptions& opts, ops::ShardMetrics* metrics)
    : loop_(loop), store_(store), shard_(shard), n_(nshards), opts_(opts), metrics_(metrics) {
  parts_.resize(store->partitions());
  for (uint32_t i = 0; i < store->partitions(); i++) {
    if (int(i % uint32_t(n_)) != shard_) continue;
    auto pt = std::make_unique<Part>();
    pt->engine = this;
    pt->p = store->partition(i);
    pt->work.data = pt.get();
    parts_[i] = std::move(pt);
  }
  uv_timer_init(loop_, &interval_timer_);
  interval_timer_.data = this;
  uv_timer_init(loop_, &retention_timer_);
  retention_timer_.data = this;
  if (opts_.fsync == FsyncPolicy::kInterval) {
    uv_timer_start(&interval_timer_, &DiskEngine::OnIntervalTimer, opts_.fsync_ms,
                   opts_.fsync_ms);
  }
  if (opts_.retention_ms > 0) {
    uint64_t every = std::clamp<uint64_t>(opts_.retention_ms / 4, 1000, 60000);
    uv_timer_start(&retention_timer_, &DiskEngine::OnRetentionTimer, every, every);
  }
}

DiskEngine::~DiskEngine() {
  for (auto& pt : parts_) {
    if (!pt) continue;
    for (Waiter& w : pt->waiters) {
      if (w.m.frame != nullptr) w.m.frame->Unref();
      delete w.op;
    }
  }
}

DiskEngine::Part* DiskEngine::PartOf(const ConvState* c) {
  Part* pt = c->partition < parts_.size() ? parts_[c->partition].get() : nullptr;
  LL_CHECK(pt != nullptr);  // routed to the shard that owns its partition
  return pt;
}

void DiskEngine::Register(ConvState* c) {
  if (c->registered) return;
  c->registered = true;
  PartOf(c)->convs.push_back(c);
}

void DiskEngine::MarkDirty(Part* pt) {
  if (pt->dirty) return;
  pt->dirty = true;
  dirty_.push_back(pt);
}

uint64_t DiskEngine::AppendRecord(Part* pt, uint8_t type) {
  uint64_t pos = pt->p->Append(type, payload_);
  if (pos == storage::Partition::kNoPos) {
    FailAll(pt);
    return pos;
  }
  metrics_->log_records_total.Add();
  metrics_->log_bytes_total.Add(storage::kHeaderSize + payload_.size());
  MarkDirty(pt);
  return pos;
}

void DiskEngine::Append(ConvState* c, Op* op, StoredMsg m) {
  Register(c);
  Part* pt = PartOf(c);
  payload_.clear();
  PutVarint(&payload_, m.seq);
  PutVarint(&payload_, uint64_t(m.ts));
  PutVarint(&payload_, c->tail_pos);
  PutString(&payload_, c->id);
  PutString(&payload_, op->user);
  PutString(&payload_, op->device);
  PutString(&payload_, op->cmid);
  PutString(&payload_, op->body);
  uint64_t pos = pt->p->failed() ? storage::Partition::kNoPos : AppendRecord(pt, storage::kMsg);
  if (pos == storage::Partition::kNoPos) {
    listener_->OnDurable(c, op, m, false);
    m.frame->Unref();
    return;
  }
  c->tail_pos = pos + 1;
  Waiter w;
  w.end = pos + storage::kHeaderSize + payload_.size();
  w.pos = pos;
  w.c = c;
  w.op = op;
  w.m = m;
  pt->waiters.push_back(w);
}

void DiskEngine::CursorMoved(ConvState* c, const std::string& key, const Cursor& cur) {
  Register(c);
  Part* pt = PartOf(c);
  if (pt->p->failed()) return;
  EncodeCursor(&payload_, c, key, cur);
  AppendRecord(pt, storage::kCursor);
}

DiskEngine::Part* DiskEngine::PartOfUser(std::string_view user) {
  uint32_t p = storage::PartitionOf(user, store_->partitions(), store_->version());
  return p < parts_.size() ? parts_[p].get() : nullptr;
}

void DiskEngine::UserOffline(const std::string& user, int64_t last_seen_ms) {
  Part* pt = PartOfUser(user);
  LL_CHECK(pt != nullptr);  // called on the shard that owns the user's partition
  if (pt->p->failed() || last_seen_ms <= 0) return;
  auto it = pt->last_seen.find(user);
  if (it == pt->last_seen.end()) {
    it = pt->last_seen.emplace(user, Part::LastSeen{}).first;
  } else if (last_seen_ms <= it->second.ms) {
    return;  // the newest wins: an older one would change nothing
  }
  EncodeLastSeen(&payload_, user, last_seen_ms);
  uint64_t pos = AppendRecord(pt, storage::kLastSeen);
  if (pos == storage::Partition::kNoPos) return;
  it->second.ms = last_seen_ms;
  it->second.pos = pos;
}

void DiskEngine::AdoptedLastSeen(const std::string& user, int64_t last_seen_ms, uint64_t pos) {
  Part* pt = PartOfUser(user);
  if (pt == nullptr)
    return;  // another shard's partition
  Part::LastSeen& e = pt->last_seen[user];
  if (last_seen_ms > e.ms)
    e = Part::LastSeen{last_seen_ms, pos};
}

void DiskEngine::GroupChanged(ConvState* c, const GroupChange& ch, Op* op) {
  Register(c);
  Part* pt = PartOf(c);
  uint64_t pos = storage::Partition::kNoPos;
  if (!pt->p->failed()) {
    if (ch.full) {
      EncodeGroup(&payload_, c);
    } else {
      payload_.clear();
      PutString(&payload_, c->id);
      PutVarint(&payload_, ch.add.size());
      for (const std::string& u : ch.add) PutString(&payload_, u);
      PutVarint(&payload_, ch.remove.size());
      for (const std::string& u : ch.remove) PutString(&payload_, u);
    }
    pos = AppendRecord(pt, ch.full ? storage::kGroup : storage::kMembers);
  }
  if (op == nullptr) return;
  if (pos == storage::Partition::kNoPos) {
    listener_->OnStateDurable(op, false);
    return;
  }
  Waiter w;
  w.end = pos + storage::kHeaderSize + payload_.size();
  w.pos = pos;
  w.op = op;
  pt->waiters.push_back(w);
}

void DiskEngine::Flush() {
  if (dirty_.empty()) return;
  // Swap out: completions may append (and mark partitions dirty) again.
  flushing_.swap(dirty_);
  for (Part* pt : flushing_) {
    pt->dirty = false;
    if (!pt->p->Flush().ok()) {
      FailAll(pt);
      continue;
    }
    if (stopped_) {
      SyncNow(pt);
    } else if (opts_.fsync == FsyncPolicy::kAlways) {
      SyncIfWaited(pt);
    } else {
      Complete(pt, pt->p->written_end());
    }
  }
  flushing_.clear();
}

void DiskEngine::Complete(Part* pt, uint64_t upto) {
  while (!pt->waiters.empty() && pt->waiters.front().end <= upto) {
    Waiter w = pt->waiters.front();
    pt->waiters.pop_front();
    if (w.c == nullptr) {
      listener_->OnStateDurable(w.op, true);
      continue;
    }
    ConvState* c = w.c;
    c->durable_pos = w.pos + 1;
    if (w.m.seq % kIndexStride == 0) c->index.emplace_back(w.m.seq, w.pos);
    listener_->OnDurable(c, w.op, w.m, true);
    w.m.frame->Unref();
  }
}

void DiskEngine::FailAll(Part* pt) {
  if (!pt->p->failed()) pt->p->Fail(Status::Error(-5, "append failed"));
  std::deque<Waiter> waiters;
  waiters.swap(pt->waiters);
  for (Waiter& w : waiters) {
    if (w.c == nullptr) {
      listener_->OnStateDurable(w.op, false);
    } else {
      listener_->OnDurable(w.c, w.op, w.m, false);
      w.m.frame->Unref();
    }
  }
  uint64_t failed = 0;
  for (auto& p : parts_) failed += p && p->p->failed() ? 1 : 0;
  metrics_->log_failed_partitions.Set(failed);
}

void DiskEngine::MaybeSync(Part* pt) {
  if (pt->syncing || pt->p->failed()) return;
  if (stopped_) {
    SyncNow(pt);
    return;
  }
  if (pt->p->synced_end() >= pt->p->written_end()) {
    Complete(pt, pt->p->written_end());
    return;
  }
  pt->batch = pt->p->TakeSync();
  pt->syncing = true;
  pt->started_us = MonoNs() / 1000;
  uv_queue_work(loop_, &pt->work, &DiskEngine::OnWork, &DiskEngine::OnWorkDone);
}

void DiskEngine::OnWork(uv_work_t* w) {
  auto* pt = static_cast<Part*>(w->data);
  pt->result = pt->p->RunSync(pt->batch);
}

void DiskEngine::OnWorkDone(uv_work_t* w, int) {
  auto* pt = static_cast<Part*>(w->data);
  DiskEngine* self = pt->engine;
  pt->syncing = false;
  self->metrics_->fsyncs_total.Add();
  self->metrics_->fsync_latency.Observe(MonoNs() / 1000 - pt->started_us);
  pt->p->SyncDone(pt->batch, pt->result);
  if (pt->p->failed()) {
    self->FailAll(pt);
    return;
  }
  if (self->opts_.fsync == FsyncPolicy::kAlways || self->stopped_) {
    self->Complete(pt, pt->p->synced_end());
    self->SyncIfWaited(pt);  // what was written while this one ran
  }
}

void DiskEngine::SyncIfWaited(Part* pt) {
  if (stopped_ || !pt->waiters.empty()) {
    MaybeSync(pt);
  } else if (pt->p->synced_end() < pt->p->written_end() &&
             !uv_is_active(reinterpret_cast<uv_handle_t*>(&interval_timer_))) {
    uv_timer_start(&interval_timer_, &DiskEngine::OnIntervalTimer, kLazySyncMs, 0);
  }
}

void DiskEngine::SyncNow(Part* pt) {
  if (pt->p->failed()) return;
  storage::Partition::SyncBatch b = pt->p->TakeSync();
  if (pt->syncing) {
    // A batch is in flight on the threadpool: sync its files here too (an
    // fdatasync may run twice at once), so that all up to b.upto is covered.
    for (storage::File* f : pt->batch.files) {
      if (std::find(b.files.begin(), b.files.end(), f) == b.files.end()) b.files.push_back(f);
    }
  }
  uint64_t t0 = MonoNs() / 1000;
  Status s = pt->p->RunSync(b);
  metrics_->fsyncs_total.Add();
  metrics_->fsync_latency.Observe(MonoNs() / 1000 - t0);
  if (!pt->syncing) {
    pt->p->SyncDone(b, s);
  } else if (!s.ok()) {
    pt->p->Fail(s);
  }
  if (pt->p->failed()) {
    FailAll(pt);
    return;
  }
  // With a batch still in flight, synced_end moves when it returns; what
  // this sync covered is durable now either way.
  Complete(pt, b.upto);
}

// --fsync interval: every --fsync-ms; always: kLazySyncMs after a write
// that nothing waited for.
void DiskEngine::OnIntervalTimer(uv_timer_t* t) {
  auto* self = static_cast<DiskEngine*>(t->data);
  for (auto& pt : self->parts_) {
    if (pt) self->MaybeSync(pt.get());
  }
}

void DiskEngine::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  uv_timer_stop(&interval_timer_);
  uv_timer_stop(&retention_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&interval_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&retention_timer_), nullptr);
  for (auto& pt : parts_) {
    if (!pt) continue;
    if (!pt->p->Flush().ok()) {
      FailAll(pt.get());
      continue;
    }
    SyncNow(pt.get());
  }
  dirty_.clear();
  for (auto& pt : parts_) {
    if (pt) pt->dirty = false;
  }
}

// --- Reading.

namespace {

// Walks c's chain of messages down from the record at `pos`, calling
// f(record) until it returns false or the chain ends. Index entries [0, k)
// have seqs below the first record's.
//
// A chain may cross holes: after a recovery cut in a sealed segment, the
// first message of a conversation after the cut has a `prev` into the cut
// bytes. Recovery indexes the last message before each such hole (Builder
// below), so a `prev` into bytes that are gone goes on at the nearest
// indexed message below; with none (everything before was dropped by
// retention or cut), the chain ends there.
template <class F>
void WalkChain(storage::Partition* p, const ConvState* c, uint64_t pos, size_t k,
               std::string* payload, F&& f) {
  const auto& ix = c->index;
  if (p->Gone(pos)) return;
  uint64_t above = UINT64_MAX;  // the seq of the record before, walking down
  for (;;) {
    uint8_t type;
    if (!p->Read(pos, &type, payload)) {
      LL_WARN("log: partition %u: no readable record at %" PRIu64 " for %s", p->id(), pos,
              c->id.c_str());
      return;
    }
    MsgRec r;
    if (type != storage::kMsg || !DecodeMsg(*payload, &r) || r.conv != c->id || r.seq >= above) {
      LL_WARN("log: partition %u: the chain of %s is broken at %" PRIu64, p->id(), c->id.c_str(),
              pos);
      return;
    }
    above = r.seq;
    if (!f(r)) return;
    while (k > 0 && ix[k - 1].first >= r.seq) k--;
    uint64_t next = r.prev;  // position + 1; 0: none
    if (next != 0 && p->Gone(next - 1)) next = k > 0 ? ix[k - 1].second + 1 : 0;  // a hole
    if (next == 0) return;
    if (next - 1 >= pos) {
      LL_WARN("log: partition %u: the chain of %s is broken at %" PRIu64, p->id(), c->id.c_str(),
              pos);
      return;
    }
    pos = next - 1;
  }
}

}  // namespace

bool DiskEngine::Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
                      std::vector<StoredMsg>* out) {
  if (hi > c->durable_seq) hi = c->durable_seq;
  if (lo < c->first_seq) lo = c->first_seq;
  if (lo > hi || c->durable_pos == 0) return false;
  storage::Partition* p = PartOf(c)->p;
  const auto& ix = c->index;
  // One message more than the page, to know whether there are more: seqs
  // may be missing, so the range alone does not tell.
  const uint64_t want = uint64_t(std::min<size_t>(limit, UINT64_MAX - 1)) + 1;
  // Where a walk down from seq `s` starts: the nearest indexed message at or
  // above it, else the newest one. Returns the index entries below it.
  auto start_at = [&](uint64_t s, uint64_t* pos) -> size_t {
    auto it = std::lower_bound(ix.begin(), ix.end(), std::make_pair(s, uint64_t(0)));
    *pos = it != ix.end() ? it->second : c->durable_pos - 1;
    return size_t(it - ix.begin());
  };
  auto frame = [&](const MsgRec& r) {
    return StoredMsg{r.seq, int64_t(r.ts), FrameOf(r, &frame_)};
  };
  std::string payload;
  const size_t start = out->size();
  bool more = false;
  if (from_top) {
    // One walk down from hi, across holes, until the page (and one) is full.
    uint64_t pos;
    size_t k = start_at(hi, &pos);
    uint64_t got = 0;
    WalkChain(p, c, pos, k, &payload, [&](const MsgRec& r) {
      if (r.seq < lo) return false;
      if (r.seq > hi) return true;
      if (++got == want) {
        more = true;
        return false;
      }
      out->push_back(frame(r));
      return r.seq > lo;
    });
    std::reverse(out->begin() + long(start), out->end());
    return more;
  }
  // The lowest: walks over windows of seqs (below, top], each from the
  // nearest indexed message at or above its top, collecting the window's
  // messages (a walk goes down, so the lowest of a window come last). The
  // first window is as wide as the page; the next ones end at the following
  // index entries, until the page (and one) is full or hi is reached. With
  // no hole, that is one walk, as before.
  uint64_t below = lo - 1;
  uint64_t top = hi - lo + 1 > want ? lo + want - 1 : hi;
  for (;;) {
    uint64_t pos;
    size_t k = start_at(top, &pos);
    const size_t win = out->size();
    WalkChain(p, c, pos, k, &payload, [&](const MsgRec& r) {
      if (r.seq <= below) return false;
      if (r.seq <= top) out->push_back(frame(r));
      return r.seq > below + 1;
    });
    std::reverse(out->begin() + long(win), out->end());
    if (out->size() - start >= want || top >= hi) break;
    // The next window ends at the next index entry above, else at hi.
    below = top;
    auto it = std::upper_bound(ix.begin(), ix.end(), std::make_pair(top, UINT64_MAX));
    top = it != ix.end() && it->first < hi ? it->first : hi;
  }
  more = out->size() - start >= want;
  while (out->size() - start > want - 1) {  // the one more, and any beyond it
    out->back().frame->Unref();
    out->pop_back();
  }
  return more;
}

// --- Retention.

void DiskEngine::OnRetentionTimer(uv_timer_t* t) {
  static_cast<DiskEngine*>(t->data)->RunRetention(int64_t(WallMs()));
}

void DiskEngine::RunRetention(int64_t now_ms) {
  if (opts_.retention_ms == 0) return;
  for (auto& pt : parts_) {
    if (pt && !pt->p->failed() && !pt->syncing) Retain(pt.get(), now_ms);
  }
}

void DiskEngine::Retain(Part* pt, int64_t now_ms) {
  auto segs = pt->p->Segments();
  std::vector<uint64_t> drop;
  for (size_t i = 0; i + 1 < segs.size(); i++) {  // never the active one
    if (segs[i].mtime_ms + int64_t(opts_.retention_ms) > now_ms) break;
    drop.push_back(segs[i].base);
  }
  if (drop.empty()) return;
  // What the dropped segments hold that must outlive them: the highest seq
  // of each conversation there (the new first seq is one above) and the
  // cmids still in the dedup window.
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> top;
  std::vector<std::string> dedups;  // encoded kDedup payloads
  for (uint64_t base : drop) {
    Status s = pt->p->ScanSegment(base, [&](uint64_t, uint8_t type, std::string_view payload) {
      if (type == storage::kMsg) {
        MsgRec r;
        if (!DecodeMsg(payload, &r)) return;
        auto it = top.find(r.conv);
        if (it == top.end()) {
          top.emplace(std::string(r.conv), r.seq);
        } else if (r.seq > it->second) {
          it->second = r.seq;
        }
        if (int64_t(r.ts) + kDedupWindowMs > now_ms) {
          std::string d;
          EncodeDedup(&d, r.from, r.cmid, r.conv, r.seq, r.ts);
          dedups.push_back(std::move(d));
        }
      } else if (type == storage::kDedup) {
        storage::Reader rd(payload);
        std::string_view from, cmid, conv;
        uint64_t seq, ts;
        if (rd.String(&from) && rd.String(&cmid) && rd.String(&conv) && rd.Varint(&seq) &&
            rd.Varint(&ts) && int64_t(ts) + kDedupWindowMs > now_ms) {
          dedups.emplace_back(payload);
        }
      }
    });
    if (!s.ok()) {
      LL_WARN("log: retention of partition %u stopped: %s", pt->p->id(), s.message().c_str());
      return;
    }
  }
  for (ConvState* c : pt->convs) {
    auto it = top.find(c->id);
    if (it != top.end() && it->second + 1 > c->first_seq) {
      c->first_seq = std::min(it->second + 1, c->durable_seq + 1);
    }
  }
  // The snapshot, then one sync before anything is deleted.
  for (ConvState* c : pt->convs) {
    EncodeConvMeta(&payload_, c);
    if (AppendRecord(pt, storage::kConvMeta) == storage::Partition::kNoPos) return;
    if (c->group) {
      EncodeGroup(&payload_, c);
      if (AppendRecord(pt, storage::kGroup) == storage::Partition::kNoPos) return;
    }
    for (const auto& [key, cur] : c->cursors) {
      EncodeCursor(&payload_, c, key, cur);
      if (AppendRecord(pt, storage::kCursor) == storage::Partition::kNoPos) return;
    }
  }
  for (const std::string& d : dedups) {
    payload_ = d;
    if (AppendRecord(pt, storage::kDedup) == storage::Partition::kNoPos) return;
  }
  // The users whose newest last_seen is in a dropped segment (they are a
  // prefix of the log: everything below the first kept segment's base).
  const uint64_t kept = segs[drop.size()].base;
  for (auto& [user, e] : pt->last_seen) {
    if (e.pos >= kept) continue;
    EncodeLastSeen(&payload_, user, e.ms);
    uint64_t pos = AppendRecord(pt, storage::kLastSeen);
    if (pos == storage::Partition::kNoPos) return;
    e.pos = pos;
  }
  if (!pt->p->Flush().ok()) {
    FailAll(pt);
    return;
  }
  SyncNow(pt);
  if (pt->p->failed()) return;
  for (uint64_t base : drop) {
    Status s = pt->p->DeleteSegment(base);
    if (!s.ok()) {
      LL_WARN("log: partition %u: %s", pt->p->id(), s.message().c_str());
      continue;
    }
    metrics_->log_segments_deleted_total.Add();
  }
  uint64_t first = pt->p->first_pos();
  for (ConvState* c : pt->convs) {
    auto& ix = c->index;
    ix.erase(ix.begin(), std::find_if(ix.begin(), ix.end(),
                                      [&](const auto& e) { return e.second >= first; }));
  }
  LL_INFO("log: partition %u: retention dropped %zu segment(s)", pt->p->id(), drop.size());
}

// --- Recovery.

namespace {

struct Builder {
  uint32_t partitions = 0;
  uint32_t version = storage::kLogVersion;
  int shards = 1;
  int64_t dedup_after_ms = 0;
  std::unordered_map<std::string, std::unique_ptr<ConvState>, StringHash, std::equal_to<>> convs;
  std::unordered_map<std::string, DedupSeeds, StringHash, std::equal_to<>> dedup;  // by user
  // The newest last_seen of each user (their partitions are this thread's).
  std::unordered_map<std::string, std::pair<int64_t, uint64_t>, StringHash, std::equal_to<>>
      last_seen;  // (ms, pos)

  ConvState& Get(std::string_view id) {
    auto it = convs.find(id);
    if (it != convs.end()) return *it->second;
    auto c = std::make_unique<ConvState>();
    c->id = std::string(id);
    c->group = id.size() > 2 && id[0] == 'g';
    c->partition = storage::PartitionOf(id, partitions, version);
    ConvState& ref = *c;
    convs.emplace(c->id, std::move(c));
    return ref;
  }
  int UserOwner(std::string_view user) const { return UserOwnerOf(user, shards); }
  void AddDedup(std::string_view from, std::string_view cmid, std::string_view conv,
                uint64_t seq, uint64_t ts) {
    if (int64_t(ts) < dedup_after_ms) return;
    if (cmid.size() > proto::kMaxIdLen || conv.size() > proto::kMaxConvLen) return;  // not ours
    auto it = dedup.find(from);
    if (it == dedup.end()) it = dedup.emplace(std::string(from), DedupSeeds{}).first;
    it->second.Add(cmid, conv, seq, int64_t(ts));
  }

  void Visit(uint64_t pos, uint8_t type, std::string_view payload) {
    storage::Reader r(payload);
    switch (type) {
      case storage::kMsg: {
        MsgRec m;
        if (!DecodeMsg(payload, &m)) return;
        ConvState& c = Get(m.conv);
        // Records come in position order, so durable_pos is the message
        // read before this one (durable_seq its seq, until the end).
        if (m.prev != c.durable_pos) {
          // The chain skips what is gone: cut by a recovery, or dropped by
          // retention.
          if (c.durable_pos == 0) {
            // Nothing of the conversation is left before it.
            c.first_seq = std::max(c.first_seq, m.seq);
          } else if (c.index.empty() || c.index.back().first < c.durable_seq) {
            // A hole after the message read before: index that one, so
            // that reads walking down step over the hole (WalkChain).
            c.index.emplace_back(c.durable_seq, c.durable_pos - 1);
          }
        }
        c.last_seq = std::max(c.last_seq, m.seq);
        c.durable_seq = m.seq;
        c.durable_pos = c.tail_pos = pos + 1;
        if (!c.group) c.exists = true;
        if (m.seq % kIndexStride == 0) c.index.emplace_back(m.seq, pos);
        AddDedup(m.from, m.cmid, m.conv, m.seq, m.ts);
        return;
      }
      case storage::kCursor: {
        std::string_view conv, key;
        uint64_t recv, read;
        if (!r.String(&conv) || !r.String(&key) || !r.Varint(&recv) || !r.Varint(&read)) return;
        Cursor& cur = Get(conv).cursors[std::string(key)];
        cur.recv = std::max(cur.recv, recv);
        cur.read = std::max(cur.read, read);
        return;
      }
      case storage::kGroup: {
        std::string_view conv;
        uint8_t flags;
        uint64_t n;
        if (!r.String(&conv) || !r.Byte(&flags) || !r.Varint(&n)) return;
        ConvState& c = Get(conv);
        c.exists = (flags & 1) != 0;
        c.open = (flags & 2) != 0;
        c.members.clear();
        for (uint64_t i = 0; i < n; i++) {
          std::string_view m;
          if (!r.String(&m)) return;
          c.members.emplace(m);
        }
        return;
      }
      case storage::kMembers: {
        std::string_view conv;
        uint64_t n;
        if (!r.String(&conv) || !r.Varint(&n)) return;
        ConvState& c = Get(conv);
        for (uint64_t i = 0; i < n; i++) {
          std::string_view m;
          if (!r.String(&m)) return;
          c.members.emplace(m);
        }
        if (!r.Varint(&n)) return;
        for (uint64_t i = 0; i < n; i++) {
          std::string_view m;
          if (!r.String(&m)) return;
          c.members.erase(std::string(m));
        }
        return;
      }
      case storage::kConvMeta: {
        std::string_view conv;
        uint64_t last, first;
        if (!r.String(&conv) || !r.Varint(&last) || !r.Varint(&first)) return;
        ConvState& c = Get(conv);
        c.last_seq = std::max(c.last_seq, last);
        c.first_seq = std::max(c.first_seq, first);
        if (!c.group && last > 0) c.exists = true;
        return;
      }
      case storage::kDedup: {
        std::string_view from, cmid, conv;
        uint64_t seq, ts;
        if (r.String(&from) && r.String(&cmid) && r.String(&conv) && r.Varint(&seq) &&
            r.Varint(&ts)) {
          AddDedup(from, cmid, conv, seq, ts);
        }
        return;
      }
      case storage::kLastSeen: {
        std::string_view user;
        uint64_t ms;
        if (!r.String(&user) || !r.Varint(&ms) || ms == 0 || ms > uint64_t(INT64_MAX)) return;
        auto it = last_seen.find(user);
        if (it == last_seen.end()) {
          last_seen.emplace(std::string(user), std::make_pair(int64_t(ms), pos));
        } else if (int64_t(ms) > it->second.first) {
          it->second = {int64_t(ms), pos};
        }
        return;
      }
      default:
        return;
    }
  }
};

}  // namespace

Status RecoverLog(storage::Store* store, int nshards, std::vector<Recovered>* out) {
  out->clear();
  out->resize(size_t(nshards));
  const uint32_t P = store->partitions();
  const int64_t now = int64_t(WallMs());
  auto t0 = std::chrono::steady_clock::now();
  const size_t ns = static_cast<size_t>(nshards);
  std::vector<Builder> builders(ns);
  std::vector<Status> status(ns);
  std::vector<storage::RecoveryStats> stats(ns);
  auto work = [&](int shard) {
    Builder& b = builders[size_t(shard)];
    b.partitions = P;
    b.version = store->version();
    b.shards = nshards;
    b.dedup_after_ms = now - kDedupWindowMs;
    for (uint32_t p = uint32_t(shard); p < P; p += uint32_t(nshards)) {
      auto pt0 = std::chrono::steady_clock::now();
      storage::RecoveryStats st;
      Status s = store->partition(p)->Recover(
          [&](uint64_t pos, uint8_t type, std::string_view payload) { b.Visit(pos, type, payload); },
          &st);
      if (!s.ok()) {
        status[size_t(shard)] = s;
        return;
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - pt0).count();
      if (secs > 1.0 || st.cuts > 0) {
        LL_INFO("log: partition %u recovered: %" PRIu64 " records, %.1f MB in %.2f s, %d cut(s)",
                p, st.records, double(st.bytes) / 1e6, secs, st.cuts);
      }
      auto& tot = stats[size_t(shard)];
      tot.bytes += st.bytes;
      tot.records += st.records;
      tot.segments += st.segments;
      tot.cuts += st.cuts;
      tot.cut_bytes += st.cut_bytes;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < nshards; i++) threads.emplace_back(work, i);
  work(0);
  for (auto& t : threads) t.join();
  for (const Status& s : status) {
    if (!s.ok()) return s;
  }
  // Every user's last_seen, for every shard's presence table: the newest of
  // what the threads found (a user's records are all in one partition, so
  // in one thread's share; the max keeps that true of any split).
  {
    std::unordered_map<std::string, RecoveredLastSeen, StringHash, std::equal_to<>> merged;
    for (Builder& b : builders) {
      for (auto& [user, v] : b.last_seen) {
        auto it = merged.find(user);
        if (it == merged.end()) {
          merged.emplace(user, RecoveredLastSeen{user, v.first, v.second});
        } else if (v.first > it->second.last_seen_ms) {
          it->second.last_seen_ms = v.first;
          it->second.pos = v.second;
        }
      }
      b.last_seen.clear();
    }
    if (!merged.empty()) {
      auto all = std::make_shared<std::vector<RecoveredLastSeen>>();
      all->reserve(merged.size());
      for (auto& [user, ls] : merged) all->push_back(std::move(ls));
      for (Recovered& r : *out) r.last_seen = all;
    }
  }
  storage::RecoveryStats total;
  for (int i = 0; i < nshards; i++) {
    Builder& b = builders[size_t(i)];
    for (auto& [id, c] : b.convs) {
      c->durable_seq = c->last_seq;
      if (c->first_seq > c->last_seq + 1) c->first_seq = c->last_seq + 1;
      // The users' conversation lists, at the users' owners.
      if (c->group) {
        if (c->exists) {
          for (const std::string& m : c->members) {
            (*out)[size_t(b.UserOwner(m))].conv_index.emplace_back(m, c->id);
          }
        }
      } else if (c->last_seq > 0) {
        proto::ConvId cid;
        if (proto::ParseConv(c->id, &cid)) {
          (*out)[size_t(b.UserOwner(cid.a))].conv_index.emplace_back(std::string(cid.a), c->id);
          if (cid.b != cid.a) {
            (*out)[size_t(b.UserOwner(cid.b))].conv_index.emplace_back(std::string(cid.b), c->id);
          }
        }
      }
      (*out)[size_t(c->partition % uint32_t(nshards))].convs.push_back(std::move(c));
    }
    for (auto& [user, seeds] : b.dedup) {
      (*out)[size_t(b.UserOwner(user))].dedup.emplace_back(user, std::move(seeds));
    }
    b.dedup.clear();
    total.bytes += stats[size_t(i)].bytes;
    total.records += stats[size_t(i)].records;
    total.segments += stats[size_t(i)].segments;
    total.cuts += stats[size_t(i)].cuts;
    total.cut_bytes += stats[size_t(i)].cut_bytes;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  LL_INFO("log: recovered %s: %u partitions, %" PRIu64 " segments, %" PRIu64
          " records, %.1f MB in %.2f s (%.0f MB/s), %d cut(s) dropping %" PRIu64 " bytes",
          store->dir().c_str(), P, total.segments, total.records, double(total.bytes) / 1e6, secs,
          secs > 0 ? double(total.bytes) / 1e6 / secs : 0.0, total.cuts, total.cut_bytes);
  return Status::Ok();
}

}  // namespace longlink::core
