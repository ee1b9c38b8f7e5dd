#include "storage/store.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/log.h"

namespace longlink::storage {

namespace {

// Partition i's directory under the data dir: p000, p001, ...
std::string PartitionDirName(uint32_t i) {
  char name[16];
  std::snprintf(name, sizeof(name), "p%03u", i);
  return name;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(Env* env, const std::string& dir,
                                           uint32_t new_partitions, uint64_t segment_size) {
  Status s = env->MakeDir(dir);
  if (!s.ok()) return s;
  // One process per directory: two would both append at the same positions.
  // The directory itself is locked, so that deleting LOCK lets no second
  // process in; LOCK is locked too, as builds before this one did.
  auto dir_lock = env->Lock(dir);
  if (!dir_lock.ok()) return dir_lock.status();
  auto lock = env->Lock(dir + "/" + kLockFile);
  if (!lock.ok()) return lock.status();
  std::string meta_path = dir + "/" + kMetaFile;
  uint32_t partitions = 0;
  // The partition directories present: what a damaged LONGLINK file is
  // rebuilt from.
  std::vector<std::string> names;
  s = env->ListDir(dir, &names);
  if (!s.ok()) return s;
  uint32_t dirs = 0;
  for (const std::string& n : names) {
    unsigned i;
    char extra;
    if (n.size() == 4 && std::sscanf(n.c_str(), "p%3u%c", &i, &extra) == 1 && i < 1000) {
      dirs = std::max(dirs, i + 1);
    }
  }
  uint32_t version = kLogVersion;
  const bool existing = dirs > 0 || env->Exists(meta_path);
  if (env->Exists(meta_path)) {
    std::string meta;
    s = env->ReadSmallFile(meta_path, &meta);
    if (!s.ok()) return s;
    const bool ours = meta.compare(0, std::strlen(kMetaMagic), kMetaMagic) == 0;
    unsigned v = 0, p = 0;
    const int got = ours ? std::sscanf(meta.c_str() + std::strlen(kMetaMagic),
                                       "%u\npartitions %u", &v, &p)
                         : 0;
    if (got >= 1 && v > kLogVersion) {
      return Status::Invalid(meta_path + ": log format version " + std::to_string(v) +
                             " is newer than this build's (" + std::to_string(kLogVersion) +
                             ")");
    }
    if (got == 2 && v >= 1 && p > 0 && p <= 1000 && p >= dirs) {
      partitions = p;
      version = v;
    } else if (ours && dirs > 0) {
      // Our file, cut or with garbage: the partition directories say how
      // many there are (all of them are created with the file).
      partitions = dirs;
      if (got >= 1 && v >= 1) version = v;
      LL_WARN("log: %s is damaged; %u partitions found, version %u, rewriting it",
              meta_path.c_str(), partitions, version);
    } else {
      return Status::Invalid(meta_path + " is not a longlink log description");
    }
  } else if (dirs > 0) {
    partitions = dirs;
    LL_WARN("log: %s is missing; %u partitions found, assuming version %u, rewriting it",
            meta_path.c_str(), partitions, version);
  } else {
    partitions = new_partitions == 0 ? 8 : new_partitions;
  }
  if (existing) {
    // A log's partition directories are all made with it: one missing means
    // its messages are gone, and starting it again empty would hand out
    // their seqs a second time and forget their cmids.
    for (uint32_t i = 0; i < partitions; i++) {
      const std::string name = PartitionDirName(i);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        return Status::Invalid(dir + "/" + name + " is missing (the log has " +
                               std::to_string(partitions) +
                               " partitions): restore it, or start on a new --data-dir");
      }
    }
  }
  {
    char meta[128];
    std::snprintf(meta, sizeof(meta), "%s%u\npartitions %u\n", kMetaMagic, version, partitions);
    std::string cur;
    if (!env->Exists(meta_path) || !env->ReadSmallFile(meta_path, &cur).ok() || cur != meta) {
      // Partition directories first, so that a LONGLINK file always has them.
      for (uint32_t i = 0; i < partitions; i++) {
        s = env->MakeDir(dir + "/" + PartitionDirName(i));
        if (!s.ok()) return s;
      }
      s = env->SyncDir(dir);
      if (!s.ok()) return s;
      s = env->WriteFileAtomic(meta_path, meta);
      if (!s.ok()) return s;
    }
  }
  std::unique_ptr<Store> st(new Store(env, dir));
  st->lock_ = std::move(lock.value());
  st->dir_lock_ = std::move(dir_lock.value());
  st->version_ = version;
  for (uint32_t i = 0; i < partitions; i++) {
    st->parts_.push_back(
        std::make_unique<Partition>(env, dir + "/" + PartitionDirName(i), i, segment_size));
  }
  return st;
}

}  // namespace longlink::storage
