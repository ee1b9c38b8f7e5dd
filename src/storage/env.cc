#include "storage/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace longlink::storage {

namespace {

Status Errno(const std::string& what) {
  int e = errno;
  return Status::Error(-e, what + ": " + std::strerror(e));
}

class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size), space_(size) {}
  ~PosixFile() override { ::close(fd_); }

  Status Append(const char* data, size_t n) override {
    uint64_t off = size_.load(std::memory_order_relaxed);
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, data, n, off_t(off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Errno("write " + path_);  // the partition fails (see Partition)
      }
      data += w;
      n -= size_t(w);
      off += uint64_t(w);
      size_.store(off, std::memory_order_relaxed);
    }
    if (off > space_) space_ = off;
    return Status::Ok();
  }
  Status Reserve(uint64_t upto) override {
    // One pwritev of up to 1 MiB per call, every vector the same zero block.
    static const char kZeros[64 << 10] = {};
    constexpr int kVecs = 16;
    uint64_t off = std::max(space_, size_.load(std::memory_order_relaxed));
    while (off < upto) {
      struct iovec iov[kVecs];
      int n = 0;
      for (uint64_t at = off; n < kVecs && at < upto; n++) {
        size_t len = size_t(std::min<uint64_t>(sizeof(kZeros), upto - at));
        iov[n] = {const_cast<char*>(kZeros), len};
        at += len;
      }
      ssize_t w = ::pwritev(fd_, iov, n, off_t(off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Errno("reserve " + path_);
      }
      off += uint64_t(w);
      space_ = off;
    }
    return Status::Ok();
  }
  Status ReadAt(uint64_t off, size_t n, char* dst, size_t* got) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, off_t(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Errno("read " + path_);
      }
      if (r == 0) break;
      done += size_t(r);
    }
    *got = done;
    return Status::Ok();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync " + path_);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, off_t(size)) != 0) return Errno("ftruncate " + path_);
    size_.store(size, std::memory_order_relaxed);
    space_ = size;
    return Status::Ok();
  }
  uint64_t Size() const override { return size_.load(std::memory_order_relaxed); }

 private:
  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;
  uint64_t space_;  // bytes the file holds: records, then reserved zeros
};

class PosixLock : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }  // releases the flock

 private:
  int fd_;
};

class Posix : public Env {
 public:
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    // A directory is locked through a descriptor of its own (it cannot be
    // unlinked while it holds files, as a lock file can).
    struct stat st;
    const bool dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    int fd = dir ? ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                 : ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      Status s = errno == EWOULDBLOCK
                     ? Status::Invalid(path + " is locked: another process uses this data directory")
                     : Errno("flock " + path);
      ::close(fd);
      return s;
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) return Errno("open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      Status s = Errno("stat " + path);
      ::close(fd);
      return s;
    }
    return std::unique_ptr<File>(new PosixFile(fd, path, uint64_t(st.st_size)));
  }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("opendir " + dir);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    ::closedir(d);
    return Status::Ok();
  }
  Status MakeDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir " + dir);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("unlink " + path);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open " + dir);
    int r = ::fsync(fd);
    Status s = r == 0 ? Status::Ok() : Errno("fsync " + dir);
    ::close(fd);
    return s;
  }
  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  int64_t MtimeMs(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return 0;
    return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  }
  Status ReadSmallFile(const std::string& path, std::string* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open " + path);
    char buf[4096];
    for (;;) {
      ssize_t r = ::read(fd, buf, sizeof(buf));
      if (r < 0) {
        if (errno == EINTR) continue;
        Status s = Errno("read " + path);
        ::close(fd);
        return s;
      }
      if (r == 0) break;
      out->append(buf, size_t(r));
      if (out->size() > (1u << 20)) break;
    }
    ::close(fd);
    return Status::Ok();
  }
  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + tmp);
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        Status s = Errno("write " + tmp);
        ::close(fd);
        return s;
      }
      p += w;
      n -= size_t(w);
    }
    if (::fsync(fd) != 0) {
      Status s = Errno("fsync " + tmp);
      ::close(fd);
      return s;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename " + tmp);
    std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos
                                         ? 0
                                         : path.find_last_of('/'));
    return SyncDir(dir.empty() ? "." : dir);
  }
};

}  // namespace

Env* PosixEnv() {
  static Posix env;
  return &env;
}

}  // namespace longlink::storage
