#include "storage/store.h"

#include <cstdio>
#include <cstring>

namespace longlink::storage {

Result<std::unique_ptr<Store>> Store::Open(Env* env, const std::string& dir,
                                           uint32_t new_partitions, uint64_t segment_size) {
  Status s = env->MakeDir(dir);
  if (!s.ok()) return s;
  std::string meta_path = dir + "/" + kMetaFile;
  uint32_t partitions = 0;
  if (env->Exists(meta_path)) {
    std::string meta;
    s = env->ReadSmallFile(meta_path, &meta);
    if (!s.ok()) return s;
    unsigned p = 0;
    char magic[64] = {0};
    if (std::sscanf(meta.c_str(), "%63[^\n]\npartitions %u", magic, &p) != 2 ||
        std::strcmp(magic, kMetaMagic) != 0 || p == 0 || p > 1000) {
      return Status::Invalid("--data-dir: " + meta_path + " is not a longlink log description");
    }
    partitions = p;
  } else {
    std::vector<std::string> names;
    s = env->ListDir(dir, &names);
    if (!s.ok()) return s;
    for (const std::string& n : names) {
      if (n.size() == 4 && n[0] == 'p') {
        return Status::Invalid("--data-dir: " + dir + " has partitions but no " + kMetaFile +
                               " file");
      }
    }
    partitions = new_partitions == 0 ? 8 : new_partitions;
    char meta[128];
    std::snprintf(meta, sizeof(meta), "%s\npartitions %u\n", kMetaMagic, partitions);
    s = env->WriteFileAtomic(meta_path, meta);
    if (!s.ok()) return s;
  }
  std::unique_ptr<Store> st(new Store(env, dir));
  for (uint32_t i = 0; i < partitions; i++) {
    char name[16];
    std::snprintf(name, sizeof(name), "p%03u", i);
    st->parts_.push_back(std::make_unique<Partition>(env, dir + "/" + name, i, segment_size));
  }
  return st;
}

}  // namespace longlink::storage
