// Store: a data directory of the embedded log (record_format.h): its
// LONGLINK file (the format version and the partition count, fixed at
// creation) and one Partition per partition directory.
//
// Thread contract: Open and Recover run before the shards start; afterwards
// each partition is used only by its owner shard (partition mod shards).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "storage/env.h"
#include "storage/partition.h"
#include "storage/record_format.h"

namespace longlink::storage {

class Store {
 public:
  // Opens `dir`, creating it (with `new_partitions` partitions) when it has
  // no LONGLINK file. Fails on an unusable directory or a bad LONGLINK file.
  static Result<std::unique_ptr<Store>> Open(Env* env, const std::string& dir,
                                             uint32_t new_partitions, uint64_t segment_size);
  uint32_t partitions() const { return uint32_t(parts_.size()); }
  // The format version in LONGLINK (record_format.h): which PartitionOf.
  uint32_t version() const { return version_; }
  Partition* partition(uint32_t i) { return parts_[i].get(); }
  const std::string& dir() const { return dir_; }
  Env* env() const { return env_; }

 private:
  Store(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  Env* env_;
  std::string dir_;
  uint32_t version_ = kLogVersion;
  std::vector<std::unique_ptr<Partition>> parts_;
  std::unique_ptr<FileLock> lock_;      // on LOCK, while the store is open
  std::unique_ptr<FileLock> dir_lock_;  // on the directory itself, likewise
};

}  // namespace longlink::storage
