// Env: the file system as the log sees it. PosixEnv is the real one;
// FaultEnv (fault_env.h) wraps it so tests can inject short writes, failed
// fsyncs and the loss of everything not yet synced, as LevelDB's
// fault-injection env does.
//
// Thread contract: a File is appended to and read on its partition's shard
// thread; Sync may run at the same time on a libuv threadpool thread (an
// fdatasync covers at least what was appended before it started).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace longlink::storage {

class File {
 public:
  virtual ~File() = default;
  // Writes all of [data, data+n) at the end of the file.
  virtual Status Append(const char* data, size_t n) = 0;
  // Reads up to n bytes at `off`; *got < n only at the end of the file.
  virtual Status ReadAt(uint64_t off, size_t n, char* dst, size_t* got) const = 0;
  // Writes zeros from the end of the file's space up to `upto` without
  // moving the append position, so that later appends overwrite blocks
  // that exist: the fdatasync after them then has data to write but no
  // size or extent change (on ext4, half the I/Os and a shorter tail).
  virtual Status Reserve(uint64_t upto) = 0;
  // fdatasync: makes what was appended before the call durable.
  virtual Status Sync() = 0;
  // Cuts the file (and any reserved space) at `size`.
  virtual Status Truncate(uint64_t size) = 0;
  // The append position: where the next Append writes.
  virtual uint64_t Size() const = 0;
};

// An exclusive lock on a file, held until destroyed (or the process ends).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  // Creates `path` if needed and locks it (flock, exclusive, not waiting):
  // fails if another process holds it. A directory is locked as it is.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
  // Opens (creating it when `create`) a file for appending and reading.
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, bool create) = 0;
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status MakeDir(const std::string& dir) = 0;  // ok if it exists
  virtual Status Remove(const std::string& path) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Last modification time, ms since the epoch (0 if unknown).
  virtual int64_t MtimeMs(const std::string& path) = 0;
  virtual Status ReadSmallFile(const std::string& path, std::string* out) = 0;
  // Writes `data` to a temporary file, fsyncs it, renames it to `path` and
  // fsyncs the directory.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& data) = 0;
};

Env* PosixEnv();

}  // namespace longlink::storage
