#include "storage/fault_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace longlink::storage {

class FaultFile : public File {
 public:
  FaultFile(FaultEnv* env, std::string path, std::unique_ptr<File> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(const char* data, size_t n) override {
    {
      std::lock_guard<std::mutex> l(env_->mu_);
      if (env_->short_write_) {
        env_->short_write_ = false;
        size_t keep = env_->short_keep_ < n ? env_->short_keep_ : n;
        if (keep > 0) {
          Status s = base_->Append(data, keep);
          if (!s.ok()) return s;
        }
        return Status::Error(-28 /* ENOSPC */, "injected short write on " + path_);
      }
    }
    return base_->Append(data, n);
  }
  Status ReadAt(uint64_t off, size_t n, char* dst, size_t* got) const override {
    return base_->ReadAt(off, n, dst, got);
  }
  Status Reserve(uint64_t upto) override { return base_->Reserve(upto); }
  Status Sync() override {
    uint64_t size = base_->Size();
    std::lock_guard<std::mutex> l(env_->mu_);
    env_->syncs_++;
    if (env_->fail_syncs_) return Status::Error(-5 /* EIO */, "injected fsync failure on " + path_);
    Status s = base_->Sync();
    if (s.ok()) {
      uint64_t& synced = env_->synced_[path_];
      if (size > synced) synced = size;
    }
    return s;
  }
  Status Truncate(uint64_t size) override {
    Status s = base_->Truncate(size);
    std::lock_guard<std::mutex> l(env_->mu_);
    uint64_t& synced = env_->synced_[path_];
    if (synced > size) synced = size;
    return s;
  }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<File> base_;
};

Result<std::unique_ptr<File>> FaultEnv::Open(const std::string& path, bool create) {
  auto f = base_->Open(path, create);
  if (!f.ok()) return f.status();
  {
    std::lock_guard<std::mutex> l(mu_);
    // A file that existed before it was first opened here counts as synced.
    if (synced_.find(path) == synced_.end()) synced_[path] = f.value()->Size();
  }
  return std::unique_ptr<File>(new FaultFile(this, path, std::move(f.value())));
}

Status FaultEnv::Remove(const std::string& path) {
  {
    std::lock_guard<std::mutex> l(mu_);
    synced_.erase(path);
  }
  return base_->Remove(path);
}

void FaultEnv::ShortWriteOnce(size_t keep) {
  std::lock_guard<std::mutex> l(mu_);
  short_write_ = true;
  short_keep_ = keep;
}

void FaultEnv::FailSyncs(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  fail_syncs_ = on;
}

int FaultEnv::syncs() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

Status FaultEnv::DropUnsynced() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, synced] : synced_) {
    if (::truncate(path.c_str(), off_t(synced)) != 0) {
      return Status::Error(-1, "truncate " + path + " failed");
    }
  }
  return Status::Ok();
}


Status FaultEnv::ZeroUnsynced() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, synced] : synced_) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::Error(-1, "stat " + path + " failed");
    if (uint64_t(st.st_size) <= synced) continue;
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::Error(-1, "open " + path + " failed");
    std::string zeros(size_t(uint64_t(st.st_size) - synced), '\0');
    bool ok = ::pwrite(fd, zeros.data(), zeros.size(), off_t(synced)) == ssize_t(zeros.size());
    ::close(fd);
    if (!ok) return Status::Error(-1, "zeroing " + path + " failed");
  }
  return Status::Ok();
}

}  // namespace longlink::storage
