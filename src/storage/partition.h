// Partition: one append-only sequence of records (record_format.h) split
// over segment files. The owning shard appends into a buffer, writes the
// buffer once per loop turn (Flush) and has the files synced off the loop
// (TakeSync / RunSync); readers fetch records by position through a small
// window cache. Recovery scans every segment, cutting each at its first bad
// record.
//
// The active segment's space is reserved ahead of the appends, zeros written
// a MiB at a time (File::Reserve), so that most fsyncs are overwrites with no
// size change. A sealed segment, and the active one when the partition is
// destroyed, is trimmed to its records; after a crash the zeros are a tail
// that recovery cuts like any other (a zero type never starts a record).
//
// Thread contract: everything on the owning shard's thread, except RunSync,
// which may run on a threadpool thread with a batch taken by TakeSync; the
// files of a batch stay open until its completion (DeleteSegment refuses
// while a sync is in flight: the engine checks).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/env.h"
#include "storage/record_format.h"

namespace longlink::storage {

struct RecoveryStats {
  uint64_t bytes = 0;     // bytes of valid records read
  uint64_t records = 0;
  uint64_t segments = 0;
  uint64_t cut_bytes = 0;  // bytes dropped by cuts
  int cuts = 0;
};

class Partition {
 public:
  struct SyncBatch {
    std::vector<File*> files;
    bool sync_dir = false;
    uint64_t upto = 0;  // every byte before this position is covered
  };
  // Position, type, payload of one record during recovery.
  using Visitor = std::function<void(uint64_t pos, uint8_t type, std::string_view payload)>;

  Partition(Env* env, std::string dir, uint32_t id, uint64_t segment_size);
  ~Partition();  // trims the active segment's reserved space
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Creates the directory if needed, scans every segment in position order
  // and calls `visit` for each valid record. Cuts a segment at its first
  // short or corrupt record (logged). Leaves the partition ready to append.
  Status Recover(const Visitor& visit, RecoveryStats* stats);

  // Buffers a record; returns its position. After a failure (failed()) it
  // returns kNoPos and buffers nothing.
  static constexpr uint64_t kNoPos = UINT64_MAX;
  uint64_t Append(uint8_t type, std::string_view payload);
  bool has_buffered() const { return !buf_.empty(); }
  // Writes the buffer to the active segment. On failure the partition is
  // failed for good.
  Status Flush();
  // Position after the last byte written by Flush / appended.
  uint64_t written_end() const { return written_end_; }
  uint64_t end() const { return buf_base_ + buf_.size(); }
  uint64_t synced_end() const { return synced_end_; }

  // What a sync started now would cover; empty files when nothing is new.
  SyncBatch TakeSync();
  // Runs on any thread.
  Status RunSync(const SyncBatch& b);
  // Back on the owner's thread.
  void SyncDone(const SyncBatch& b, const Status& s);

  // Reads the record at `pos` (which must be written). False when it is not
  // there or is corrupt.
  bool Read(uint64_t pos, uint8_t* type, std::string* payload);

  // Segments: base position and when last written (ms); the last is active.
  struct SegmentInfo {
    uint64_t base;
    uint64_t end;
    int64_t mtime_ms;
  };
  std::vector<SegmentInfo> Segments() const;
  // Deletes a sealed (not active) segment.
  Status DeleteSegment(uint64_t base);
  // Reads every record of the segment at `base` (for retention snapshots).
  Status ScanSegment(uint64_t base, const Visitor& visit);
  // The lowest position still on disk.
  uint64_t first_pos() const;
  // Whether the bytes at `pos` are gone for good: below first_pos()
  // (retention), or past the end of a segment that is not the active one
  // (cut by recovery: a cut in a sealed segment keeps the later segments,
  // so these positions are never written again).
  bool Gone(uint64_t pos) const;

  bool failed() const { return !error_.ok(); }
  const Status& error() const { return error_; }
  void Fail(const Status& s);
  uint32_t id() const { return id_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    std::string path;
    std::unique_ptr<File> file;
    int64_t mtime_ms = 0;
  };
  Status OpenSegment(uint64_t base, bool create);
  // Reserves space in the active segment when a write of `n` more bytes
  // comes close to the end of what is reserved.
  void ReserveFor(File* f, size_t n);
  Status ScanFile(uint64_t base, Segment& seg, const Visitor& visit, RecoveryStats* stats,
                  bool cut);
  Segment* Find(uint64_t pos, uint64_t* base);
  static std::string SegmentName(uint64_t base);

  Env* env_;
  std::string dir_;
  uint32_t id_;
  uint64_t segment_size_;
  std::map<uint64_t, Segment> segs_;
  uint64_t active_base_ = 0;
  uint64_t reserved_ = 0;  // bytes of the active segment's file reserved (its offsets)
  std::string buf_;
  uint64_t buf_base_ = 0;     // position of buf_[0]
  uint64_t written_end_ = 0;  // == buf_base_ after a Flush
  uint64_t synced_end_ = 0;
  std::vector<File*> unsynced_;
  bool dir_dirty_ = false;
  Status error_;
  // Read window: bytes [win_pos_, win_pos_ + win_.size()) of one segment.
  std::string win_;
  uint64_t win_pos_ = 0;
};

}  // namespace longlink::storage
