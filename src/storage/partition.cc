#include "storage/partition.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "base/clock.h"
#include "base/log.h"
#include "storage/coding.h"
#include "storage/crc32c.h"

namespace longlink::storage {

namespace {

constexpr size_t kScanChunk = 4u << 20;
constexpr size_t kWindow = 64u << 10;
// Space is reserved kReserveChunk at a time, once a write would come within
// kReserveLow of the end of what is reserved.
constexpr uint64_t kReserveChunk = 1u << 20;
constexpr uint64_t kReserveLow = 256u << 10;

uint32_t RecordCrc(uint8_t type, std::string_view payload) {
  return crc32c::Mask(crc32c::Extend(crc32c::Value(&type, 1), payload.data(), payload.size()));
}

bool ParseSegmentName(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return false;
  uint64_t v = 0;
  for (int i = 0; i < 20; i++) {
    if (name[size_t(i)] < '0' || name[size_t(i)] > '9') return false;
    v = v * 10 + uint64_t(name[size_t(i)] - '0');
  }
  *base = v;
  return true;
}

}  // namespace

Partition::Partition(Env* env, std::string dir, uint32_t id, uint64_t segment_size)
    : env_(env), dir_(std::move(dir)), id_(id), segment_size_(segment_size) {}

Partition::~Partition() {
  auto it = segs_.find(active_base_);
  if (it == segs_.end() || reserved_ <= it->second.file->Size()) return;
  File* f = it->second.file.get();
  Status s = f->Truncate(f->Size());
  if (!s.ok()) LL_WARN("log: partition %u: %s", id_, s.message().c_str());
}

std::string Partition::SegmentName(uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRIu64 ".log", base);
  return name;
}

Status Partition::OpenSegment(uint64_t base, bool create) {
  Segment seg;
  seg.path = dir_ + "/" + SegmentName(base);
  auto f = env_->Open(seg.path, create);
  if (!f.ok()) return f.status();
  seg.file = std::move(f.value());
  seg.mtime_ms = create ? int64_t(WallMs()) : env_->MtimeMs(seg.path);
  segs_[base] = std::move(seg);
  return Status::Ok();
}

Status Partition::Recover(const Visitor& visit, RecoveryStats* stats) {
  Status s = env_->MakeDir(dir_);
  if (!s.ok()) return s;
  std::vector<std::string> names;
  s = env_->ListDir(dir_, &names);
  if (!s.ok()) return s;
  std::vector<uint64_t> bases;
  for (const std::string& n : names) {
    uint64_t b;
    if (ParseSegmentName(n, &b)) bases.push_back(b);
  }
  std::sort(bases.begin(), bases.end());
  std::vector<File*> cut_files;
  for (uint64_t b : bases) {
    s = OpenSegment(b, false);
    if (!s.ok()) return s;
    int cuts = stats->cuts;
    s = ScanFile(b, segs_[b], visit, stats, true);
    if (!s.ok()) return s;
    if (stats->cuts != cuts) cut_files.push_back(segs_[b].file.get());
    stats->segments++;
  }
  // Segments are named by their first position and follow one another (a
  // gap is fine: a cut tail). One that begins inside the one before (a stray
  // or copied file) would take over positions of that one and hide its
  // records from every read: refuse to go on rather than serve less.
  for (auto it = segs_.begin(); it != segs_.end() && std::next(it) != segs_.end(); ++it) {
    const uint64_t end = it->first + it->second.file->Size();
    const auto& [next_base, next] = *std::next(it);
    if (next_base < end) {
      return Status::Invalid(next.path + " begins at position " + std::to_string(next_base) +
                             ", inside " + it->second.path + " (which runs to " +
                             std::to_string(end) +
                             "): it is not a segment of this log; move it out of the data "
                             "directory and start again");
    }
  }
  if (segs_.empty()) {
    s = OpenSegment(0, true);
    if (!s.ok()) return s;
    s = env_->SyncDir(dir_);
    if (!s.ok()) return s;
  }
  active_base_ = segs_.rbegin()->first;
  File* active = segs_.rbegin()->second.file.get();
  buf_base_ = written_end_ = active_base_ + active->Size();
  reserved_ = active->Size();
  // What is on disk now becomes the durable base: make it so (a cut, or
  // bytes a killed process left in the page cache).
  if (std::find(cut_files.begin(), cut_files.end(), active) == cut_files.end()) {
    cut_files.push_back(active);
  }
  for (File* f : cut_files) {
    s = f->Sync();
    if (!s.ok()) return s;
  }
  synced_end_ = written_end_;
  return Status::Ok();
}

Status Partition::ScanFile(uint64_t base, Segment& seg, const Visitor& visit,
                           RecoveryStats* stats, bool cut) {
  File* f = seg.file.get();
  const uint64_t size = f->Size();
  // One buffer per recovering thread, reused across segments: no zero-fill
  // and no fresh pages to fault in for every chunk.
  thread_local std::unique_ptr<char[]> mem;
  thread_local size_t cap = 0;
  const char* data = nullptr;  // file bytes [buf_off, buf_off + buf_len)
  size_t buf_len = 0;
  uint64_t buf_off = 0;
  auto ensure = [&](uint64_t lo, uint64_t hi) -> Status {
    if (lo >= buf_off && hi <= buf_off + buf_len) return Status::Ok();
    size_t n = size_t(std::min<uint64_t>(std::max<uint64_t>(hi - lo, kScanChunk), size - lo));
    if (n > cap) {
      mem.reset(new char[n]);
      cap = n;
    }
    size_t got = 0;
    Status s = f->ReadAt(lo, n, mem.get(), &got);
    data = mem.get();
    buf_len = s.ok() ? got : 0;
    buf_off = lo;
    return s;
  };
  uint64_t off = 0;
  const char* why = nullptr;
  while (off < size) {
    if (size - off < kHeaderSize) {
      why = "short header";
      break;
    }
    Status s = ensure(off, off + kHeaderSize);
    if (!s.ok()) return s;
    if (buf_off + buf_len < off + kHeaderSize) {
      why = "short header";
      break;
    }
    const char* h = data + (off - buf_off);
    uint32_t crc = GetFixed32(h);
    uint32_t len = GetFixed32(h + 4);
    uint8_t type = uint8_t(h[8]);
    if (type == kZeroType && crc == 0 && len == 0) {
      why = "zeros";  // reserved space (or a zero-filled tail)
      break;
    }
    if (type == kZeroType || type > kMaxRecordType || len > kMaxPayload) {
      why = "bad record header";
      break;
    }
    if (size - off - kHeaderSize < len) {
      why = "short payload";
      break;
    }
    s = ensure(off, off + kHeaderSize + len);
    if (!s.ok()) return s;
    if (buf_off + buf_len < off + kHeaderSize + len) {
      why = "short payload";
      break;
    }
    std::string_view payload(data + (off - buf_off) + kHeaderSize, len);
    if (RecordCrc(type, payload) != crc) {
      why = "bad crc";
      break;
    }
    if (visit) visit(base + off, type, payload);
    stats->records++;
    stats->bytes += kHeaderSize + len;
    off += kHeaderSize + len;
  }
  if (why != nullptr && cut) {
    if (std::strcmp(why, "zeros") == 0) {
      LL_INFO("log: partition %u segment %s: zeros at offset %" PRIu64 ", cutting %" PRIu64
              " bytes",
              id_, seg.path.c_str(), off, size - off);
    } else {
      LL_WARN("log: partition %u segment %s: %s at offset %" PRIu64 ", cutting %" PRIu64
              " bytes",
              id_, seg.path.c_str(), why, off, size - off);
    }
    stats->cuts++;
    stats->cut_bytes += size - off;
    Status s = f->Truncate(off);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

uint64_t Partition::Append(uint8_t type, std::string_view payload) {
  if (failed()) return kNoPos;
  size_t rec = kHeaderSize + payload.size();
  uint64_t in_active = end() - active_base_;
  if (in_active > 0 && in_active + rec > segment_size_) {
    // Seal the active segment: write what it has, trim its reserved space,
    // start the next one here.
    if (!Flush().ok()) return kNoPos;
    File* sealed = segs_[active_base_].file.get();
    Status s = reserved_ > sealed->Size() ? sealed->Truncate(sealed->Size()) : Status::Ok();
    if (!s.ok()) {
      Fail(s);
      return kNoPos;
    }
    uint64_t base = end();
    s = OpenSegment(base, true);
    if (!s.ok()) {
      Fail(s);
      return kNoPos;
    }
    active_base_ = base;
    reserved_ = 0;
    dir_dirty_ = true;
  }
  uint64_t pos = end();
  char h[kHeaderSize];
  PutFixed32(h, RecordCrc(type, payload));
  PutFixed32(h + 4, uint32_t(payload.size()));
  h[8] = char(type);
  buf_.append(h, kHeaderSize);
  buf_.append(payload);
  return pos;
}

Status Partition::Flush() {
  if (buf_.empty() || failed()) return error_;
  Segment& seg = segs_[active_base_];
  ReserveFor(seg.file.get(), buf_.size());
  Status s = seg.file->Append(buf_.data(), buf_.size());
  if (!s.ok()) {
    Fail(s);
    return s;
  }
  buf_base_ += buf_.size();
  written_end_ = buf_base_;
  buf_.clear();
  seg.mtime_ms = int64_t(WallMs());
  if (unsynced_.empty() || unsynced_.back() != seg.file.get()) unsynced_.push_back(seg.file.get());
  return Status::Ok();
}

void Partition::ReserveFor(File* f, size_t n) {
  uint64_t at = f->Size() + n;
  if (at + kReserveLow <= reserved_ || at >= segment_size_) return;
  uint64_t upto = std::min(segment_size_, at + kReserveChunk);
  Status s = f->Reserve(upto);
  if (!s.ok()) {
    // Not fatal: the append extends the file as it would without it (and
    // fails the partition if the disk is really full).
    LL_WARN("log: partition %u: %s", id_, s.message().c_str());
  }
  reserved_ = upto;
}

Partition::SyncBatch Partition::TakeSync() {
  SyncBatch b;
  b.files.swap(unsynced_);
  b.sync_dir = dir_dirty_;
  dir_dirty_ = false;
  b.upto = written_end_;
  return b;
}

Status Partition::RunSync(const SyncBatch& b) {
  for (File* f : b.files) {
    Status s = f->Sync();
    if (!s.ok()) return s;
  }
  if (b.sync_dir) return env_->SyncDir(dir_);
  return Status::Ok();
}

void Partition::SyncDone(const SyncBatch& b, const Status& s) {
  if (!s.ok()) {
    Fail(s);
    return;
  }
  if (b.upto > synced_end_) synced_end_ = b.upto;
}

void Partition::Fail(const Status& s) {
  if (failed()) return;
  error_ = s.ok() ? Status::Error(-5, "failed") : s;
  buf_.clear();
  LL_ERROR("log: partition %u FAILED, it stops acknowledging writes until restart: %s", id_,
           error_.message().c_str());
}

Partition::Segment* Partition::Find(uint64_t pos, uint64_t* base) {
  auto it = segs_.upper_bound(pos);
  if (it == segs_.begin()) return nullptr;
  --it;
  *base = it->first;
  return &it->second;
}

bool Partition::Read(uint64_t pos, uint8_t* type, std::string* payload) {
  if (pos + kHeaderSize > written_end_) return false;
  uint64_t base;
  Segment* seg = Find(pos, &base);
  if (seg == nullptr) return false;
  uint64_t fsize = seg->file->Size();
  if (pos - base + kHeaderSize > fsize) return false;
  auto in_window = [&](uint64_t lo, uint64_t hi) {
    return lo >= win_pos_ && hi <= win_pos_ + win_.size();
  };
  auto load = [&](uint64_t lo) {
    // A window that ends a little after `lo`: pulls walk backwards.
    uint64_t start = lo + 4096 > kWindow ? lo + 4096 - kWindow : 0;
    if (start < base) start = base;
    if (start > lo) start = lo;
    // Never past the last record: what follows is reserved zeros, which
    // later appends overwrite (the window would keep the zeros).
    size_t n = size_t(std::min<uint64_t>(kWindow, written_end_ - start));
    win_.resize(n);
    size_t got = 0;
    Status s = seg->file->ReadAt(start - base, n, win_.data(), &got);
    win_.resize(s.ok() ? got : 0);
    win_pos_ = start;
  };
  if (!in_window(pos, pos + kHeaderSize)) load(pos);
  if (!in_window(pos, pos + kHeaderSize)) return false;
  const char* h = win_.data() + (pos - win_pos_);
  uint32_t crc = GetFixed32(h);
  uint32_t len = GetFixed32(h + 4);
  *type = uint8_t(h[8]);
  if (len > kMaxPayload || pos - base + kHeaderSize + len > fsize) return false;
  if (in_window(pos, pos + kHeaderSize + len)) {
    payload->assign(h + kHeaderSize, len);
  } else {
    payload->resize(len);
    size_t got = 0;
    Status s = seg->file->ReadAt(pos - base + kHeaderSize, len, payload->data(), &got);
    if (!s.ok() || got != len) return false;
  }
  return RecordCrc(*type, *payload) == crc;
}

std::vector<Partition::SegmentInfo> Partition::Segments() const {
  std::vector<SegmentInfo> v;
  for (auto it = segs_.begin(); it != segs_.end(); ++it) {
    auto next = std::next(it);
    uint64_t e = next == segs_.end() ? end() : it->first + it->second.file->Size();
    v.push_back(SegmentInfo{it->first, e, it->second.mtime_ms});
  }
  return v;
}

Status Partition::DeleteSegment(uint64_t base) {
  if (base == active_base_) return Status::Invalid("the active segment cannot be deleted");
  auto it = segs_.find(base);
  if (it == segs_.end()) return Status::Ok();
  std::string path = it->second.path;
  // Drop it from any pending sync batch (it was synced when sealed).
  unsynced_.erase(std::remove(unsynced_.begin(), unsynced_.end(), it->second.file.get()),
                  unsynced_.end());
  segs_.erase(it);
  win_.clear();
  win_pos_ = 0;
  return env_->Remove(path);
}

Status Partition::ScanSegment(uint64_t base, const Visitor& visit) {
  auto it = segs_.find(base);
  if (it == segs_.end()) return Status::Ok();
  RecoveryStats st;
  return ScanFile(base, it->second, visit, &st, false);
}

uint64_t Partition::first_pos() const { return segs_.empty() ? 0 : segs_.begin()->first; }

bool Partition::Gone(uint64_t pos) const {
  auto it = segs_.upper_bound(pos);
  if (it == segs_.begin()) return true;
  --it;
  return it->first != active_base_ && pos - it->first >= it->second.file->Size();
}

}  // namespace longlink::storage
