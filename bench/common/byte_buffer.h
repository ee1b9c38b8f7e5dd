// ByteBuffer: a growable byte array
// for one connection's outbound bytes. Unlike std::vector<uint8_t> it never
// zero-fills what Extend() hands out, and Clear() keeps the capacity, so a
// connection in steady state frames into memory it already has and allocates
// nothing per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "base/assert.h"

namespace longlink::bench {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ~ByteBuffer() { std::free(data_); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Grows the buffer by `n` bytes and returns the first of them (uninitialised).
  // Invalidates pointers returned before.
  uint8_t* Extend(size_t n) {
    if (size_ + n > capacity_)
      Grow(size_ + n);
    uint8_t* p = data_ + size_;
    size_ += n;
    return p;
  }
  void Append(const void* p, size_t n) { std::memcpy(Extend(n), p, n); }
  void Clear() { size_ = 0; }
  // Drops the first `n` bytes.
  void Consume(size_t n) {
    LL_DCHECK(n <= size_);
    std::memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }
  // Gives the memory back (an idle connection should not keep a large buffer).
  void Release() {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  void Swap(ByteBuffer& other) {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void Grow(size_t need) {
    size_t cap = capacity_ ? capacity_ * 2 : 256;
    while (cap < need) cap *= 2;
    auto* p = static_cast<uint8_t*>(std::realloc(data_, cap));
    LL_CHECK(p != nullptr);
    data_ = p;
    capacity_ = cap;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace longlink::bench
