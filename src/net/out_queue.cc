#include "net/out_queue.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "base/assert.h"

namespace longlink::net {

SharedBuf* SharedBuf::New(size_t cap) {
  LL_CHECK(cap <= UINT32_MAX);
  void* p = std::malloc(sizeof(SharedBuf) + cap);
  LL_CHECK(p != nullptr);
  auto* b = static_cast<SharedBuf*>(p);
  new (&b->refs) std::atomic<uint32_t>(1);
  b->cap = uint32_t(cap);
  b->len = 0;
  b->appendable = true;
  b->head = 0;
  return b;
}

void SharedBuf::Free() {
  refs.~atomic();
  std::free(this);
}

OutQueue::~OutQueue() {
  for (size_t i = head_; i < segs_.size(); i++) segs_[i].buf->Unref();
}

void OutQueue::Append(const uint8_t* data, size_t len) {
  bytes_ += len;
  if (head_ < segs_.size()) {
    Segment& t = segs_.back();
    SharedBuf* b = t.buf;
    if (b->appendable && t.off + t.len == b->len &&
        b->refs.load(std::memory_order_relaxed) == 1) {
      size_t room = b->cap - b->len;
      size_t n = len < room ? len : room;
      std::memcpy(b->data + b->len, data, n);
      b->len += uint32_t(n);
      t.len += uint32_t(n);
      data += n;
      len -= n;
    }
  }
  while (len > 0) {
    // Start small (most queues hold one small frame for a moment: a push to
    // an idle connection) and double with each new chunk up to kChunk, so a
    // push costs a small-object allocation, not a fresh 16 KiB that faults
    // its page in again every time.
    size_t want = segs_.size() > head_ ? size_t(segs_.back().buf->cap) * 2 : kFirstChunk;
    if (want > kChunk) want = kChunk;
    size_t cap = len > want ? len : want;
    if (cap > (1u << 30)) cap = 1u << 30;
    SharedBuf* b = SharedBuf::New(cap);
    size_t n = len < cap ? len : cap;
    std::memcpy(b->data, data, n);
    b->len = uint32_t(n);
    segs_.push_back({b, 0, uint32_t(n)});
    data += n;
    len -= n;
  }
}

void OutQueue::AppendShared(SharedBuf* buf, uint32_t off, uint32_t len) {
  buf->Ref();
  segs_.push_back({buf, off, len});
  bytes_ += len;
}

int OutQueue::Fill(iovec* iov, int max) const {
  int n = 0;
  for (size_t i = head_; i < segs_.size() && n < max; i++, n++) {
    iov[n].iov_base = segs_[i].buf->data + segs_[i].off;
    iov[n].iov_len = segs_[i].len;
  }
  return n;
}

void OutQueue::Consume(size_t n) {
  LL_DCHECK(n <= bytes_);
  bytes_ -= n;
  while (n > 0) {
    Segment& s = segs_[head_];
    if (n < s.len) {
      s.off += uint32_t(n);
      s.len -= uint32_t(n);
      return;
    }
    n -= s.len;
    s.buf->Unref();
    head_++;
  }
  if (head_ == segs_.size()) {
    segs_.clear();
    head_ = 0;
  } else if (head_ > 64 && head_ * 2 > segs_.size()) {
    segs_.erase(segs_.begin(), segs_.begin() + long(head_));
    head_ = 0;
  }
}

}  // namespace longlink::net
