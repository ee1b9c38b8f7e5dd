// OutQueue: a connection's bytes that the socket did not take yet, in order.
// A segment points into a reference-counted buffer, so a frame built once can
// be queued on many connections without a copy (the messaging core shares
// pushes this way); small private writes are coalesced into the tail buffer.
//
// Thread contract: an OutQueue belongs to one connection and is used on its
// shard's thread only. SharedBuf reference counts are atomic because a shared
// buffer may be released on several shards.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace longlink::net {

struct SharedBuf {
  std::atomic<uint32_t> refs;
  uint32_t cap;
  uint32_t len;
  bool appendable;  // private to one queue: later writes may be appended
  // Bytes of data[] before the payload. A frame built for many connections
  // carries its WebSocket header there (written once by its maker; the
  // header of a server frame is the same for every connection), so a push
  // is one queue segment and nothing per connection; other transports send
  // payload() alone.
  uint8_t head;
  uint8_t data[];

  static SharedBuf* New(size_t cap);
  const uint8_t* payload() const { return data + head; }
  uint32_t payload_len() const { return len - head; }
  void Ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  // acq_rel: the thread that frees the buffer must see every other thread's
  // reads of it as finished (the usual shared_ptr ordering).
  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) Free();
  }

 private:
  void Free();
};

class OutQueue {
 public:
  OutQueue() = default;
  ~OutQueue();
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;

  void Append(const uint8_t* data, size_t len);
  void AppendShared(SharedBuf* buf, uint32_t off, uint32_t len);  // takes a reference
  // Fills up to `max` iovecs from the front; returns how many.
  int Fill(iovec* iov, int max) const;
  // Drops `n` bytes from the front (after a write took them).
  void Consume(size_t n);
  size_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }

 private:
  struct Segment {
    SharedBuf* buf;
    uint32_t off;
    uint32_t len;
  };
  static constexpr size_t kFirstChunk = 512 - sizeof(SharedBuf);
  static constexpr size_t kChunk = 16 * 1024;
  std::vector<Segment> segs_;
  size_t head_ = 0;  // first live segment
  size_t bytes_ = 0;
};

}  // namespace longlink::net
