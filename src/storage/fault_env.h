// FaultEnv: an Env over PosixEnv that can make the next appends short, make
// fsyncs fail, and forget everything not yet synced (what a power cut or a
// kill of the machine does), in the manner of LevelDB's FaultInjectionEnv.
// For tests; thread-safe (a mutex: this is not a hot path).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "storage/env.h"

namespace longlink::storage {

class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* base = PosixEnv()) : base_(base) {}

  // The next append writes only `keep` bytes of what it is given, then
  // fails (as a full disk does).
  void ShortWriteOnce(size_t keep);
  // Every fsync fails while set.
  void FailSyncs(bool on);
  // Truncates every file opened through this env to what was synced.
  Status DropUnsynced();
  // Overwrites every byte after what was synced with zeros, keeping the
  // file's length: a file whose space was reserved ahead of its appends
  // (File::Reserve) after a power cut.
  Status ZeroUnsynced();
  int syncs() const;

  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    return base_->Lock(path);
  }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return base_->ListDir(dir, names);
  }
  Status MakeDir(const std::string& dir) override { return base_->MakeDir(dir); }
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  int64_t MtimeMs(const std::string& path) override { return base_->MtimeMs(path); }
  Status ReadSmallFile(const std::string& path, std::string* out) override {
    return base_->ReadSmallFile(path, out);
  }
  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    return base_->WriteFileAtomic(path, data);
  }

 private:
  friend class FaultFile;
  Env* base_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> synced_;  // path -> bytes known durable
  bool fail_syncs_ = false;
  bool short_write_ = false;
  size_t short_keep_ = 0;
  int syncs_ = 0;
};

}  // namespace longlink::storage
