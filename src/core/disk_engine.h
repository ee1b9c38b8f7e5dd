// DiskEngine: the Engine over the embedded append-only log (storage/, format
// in storage/record_format.h), for the partitions one shard owns.
//
// Writes: Append and the state changes encode a record into the partition's
// buffer; once per loop turn (Flush, from Hub::OnLoopEnd) every touched
// partition is written with one write. Under --fsync always an fdatasync
// then runs on the libuv threadpool, and the appends it covers complete
// when it returns (group commit: one fsync for everything written while the
// previous one ran); under interval and never they complete once written,
// and interval fsyncs every --fsync-ms. Records nothing waits for (cursor
// moves, last_seen) get no fsync of their own under always: the next one of
// their partition covers them, or one kLazySyncMs (100 ms) later. A failed
// write or fsync fails the partition: its waiting and later appends answer
// `internal`, loudly logged.
//
// Reads: each conversation keeps the position of its newest durable message
// and of every 64th seq; a pull walks the records' backward chain from the
// nearest indexed seq above the page (page cache, a 64 KiB read window), so
// memory does not grow with the history (16 bytes per 64 messages). A cut
// in the middle of the log (a corrupt record in a sealed segment) leaves a
// hole in the chains that cross it: recovery also indexes each
// conversation's last message before such a hole, and walks step over it,
// so a page holds the surviving messages in seq order, the cut seqs absent.
//
// Retention: every so often the sealed segments whose last write is older
// than --retention go, after a snapshot of the partition's state (each
// conversation's last/first seq, groups, cursors, the cmids of the dropped
// messages still in the 24 h window, and the users' last_seen whose newest
// record is in a dropped segment) is appended and synced.
//
// Thread contract: one instance per shard, called on its thread only; the
// fsyncs run on threadpool threads and complete on the shard's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/assert.h"
#include "core/engine.h"
#include "core/hub.h"
#include "ops/metrics.h"
#include "storage/store.h"

namespace longlink::core {

enum class FsyncPolicy { kAlways, kInterval, kNever };

struct DiskOptions {
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  uint64_t fsync_ms = 1000;
  uint64_t retention_ms = 0;  // 0: keep forever
};

class DiskEngine : public Engine {
 public:
  DiskEngine(uv_loop_t* loop, storage::Store* store, int shard, int nshards,
             const DiskOptions& opts, ops::ShardMetrics* metrics);
  ~DiskEngine() override;

  void Append(ConvState* c, Op* op, StoredMsg m) override;
  bool Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
            std::vector<StoredMsg>* out) override;
  uint64_t FirstSeq(const ConvState* c) const override { return c->first_seq; }
  void CursorMoved(ConvState* c, const std::string& key, const Cursor& cur) override;
  void GroupChanged(ConvState* c, const GroupChange& ch, Op* op) override;
  void Adopted(ConvState* c) override { Register(c); }
  void UserOffline(const std::string& user, int64_t last_seen_ms) override;
  void AdoptedLastSeen(const std::string& user, int64_t last_seen_ms, uint64_t pos) override;
  void Flush() override;
  void Shutdown() override;

  // Runs retention now (the timer calls it); for tests.
  void RunRetention(int64_t now_ms);

 private:
  struct Waiter {
    uint64_t end = 0;  // the record is durable once this position is
    uint64_t pos = 0;
    ConvState* c = nullptr;  // null: a state change
    Op* op = nullptr;
    StoredMsg m;
  };
  struct Part {
    DiskEngine* engine = nullptr;
    storage::Partition* p = nullptr;
    std::deque<Waiter> waiters;
    std::vector<ConvState*> convs;  // every conversation of the partition
    // The newest last_seen of each user placed here and its record's
    // position (retention re-appends those in segments it drops).
    struct LastSeen {
      int64_t ms = 0;
      uint64_t pos = 0;
    };
    std::unordered_map<std::string, LastSeen, StringHash, std::equal_to<>> last_seen;
    bool dirty = false;
    bool syncing = false;
    uv_work_t work;
    storage::Partition::SyncBatch batch;
    Status result;
    uint64_t started_us = 0;
  };
  Part* PartOf(const ConvState* c);
  Part* PartOfUser(std::string_view user);  // null: not ours
  void Register(ConvState* c);
  void MarkDirty(Part* pt);
  uint64_t AppendRecord(Part* pt, uint8_t type);  // scratch_ as the payload
  void Complete(Part* pt, uint64_t upto);
  void FailAll(Part* pt);
  void MaybeSync(Part* pt);
  // --fsync always: syncs now if an append waits (or the engine is
  // stopping), else within kLazySyncMs.
  void SyncIfWaited(Part* pt);
  void SyncNow(Part* pt);  // on the loop thread (shutdown, retention)
  static void OnWork(uv_work_t* w);
  static void OnWorkDone(uv_work_t* w, int status);
  static void OnIntervalTimer(uv_timer_t* t);
  static void OnRetentionTimer(uv_timer_t* t);
  void Retain(Part* pt, int64_t now_ms);

  uv_loop_t* loop_;
  storage::Store* store_;
  const int shard_;
  const int n_;
  const DiskOptions opts_;
  ops::ShardMetrics* metrics_;
  std::vector<std::unique_ptr<Part>> parts_;  // indexed by partition id; null: not ours
  std::vector<Part*> dirty_, flushing_;
  std::string scratch_, frame_;
  std::string payload_;
  uv_timer_t interval_timer_, retention_timer_;
  bool stopped_ = false;
};

// Reads every partition of `store`, each shard's share on its own thread,
// and fills (*out)[shard] with what each shard owns: conversations (last
// seq, members, cursors, log index), cmids of the last 24 h and conversation
// lists of users. Logs progress and the replay speed.
Status RecoverLog(storage::Store* store, int nshards, std::vector<Recovered>* out);

}  // namespace longlink::core
