// The implementation of Mailbox<T> and Outbox<T> (declared in net/mailbox.h,
// which includes this file at its end; include mailbox.h, not this file).
//
// The queue is a Treiber stack: producers push with a CAS on head_, the owner
// takes the whole stack with one exchange and reverses it, so it sees items in
// push order (the order of the successful CASes), which keeps each producer's
// FIFO. A producer that pushes onto an empty stack calls uv_async_send; one
// that finds the stack non-empty knows an earlier producer's wake-up has not
// been consumed yet, and skips it. Nodes are the caller's: the queue allocates
// nothing and never touches an item after handing it to the callback.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <uv.h>

#include "base/assert.h"

namespace longlink::net {

template <typename T>
int Mailbox<T>::Init(uv_loop_t* loop, Callback cb, void* arg) {
  static_assert(alignof(Mailbox) == 64, "producer and consumer lines must not share");
  LL_DCHECK(cb != nullptr);
  cb_ = cb;
  arg_ = arg;
  async_.data = this;
  return uv_async_init(loop, &async_, &Mailbox::OnAsync);
}

template <typename T>
void Mailbox<T>::Post(T* item) {
  LL_DCHECK(item != nullptr);
  PostChain(item, item, 1);
}

template <typename T>
void Mailbox<T>::PostChain(T* newest, T* oldest, uint64_t n) {
  // Relaxed: a statistic that orders nothing. It is sequenced before the
  // release CAS below, so a Drain that delivers these items also sees the
  // increment (depth() on the owner thread never undercounts posted_).
  posted_.fetch_add(n, std::memory_order_relaxed);
  // Relaxed: only a first guess for the CAS, which reloads on failure; the
  // value is stored into oldest->mailbox_next, never dereferenced here.
  T* old = head_.load(std::memory_order_relaxed);
  do {
    oldest->mailbox_next = old;
    // Success is acq_rel.
    // * Release publishes the items (their fields and mailbox_next links) to
    //   the acquire exchange in Drain. Every push is a read-modify-write, so
    //   the pushes since the last Drain form one release sequence and the
    //   owner synchronizes with all of them, not only with the newest.
    // * Acquire pairs with the release of Drain's exchange. When old is null
    //   we read the null some Drain wrote, so everything the owner did before
    //   that Drain happens-before our uv_async_send, including libuv clearing
    //   the handle's pending flag before it ran the callback that drained.
    //   uv_async_send first does a relaxed "already pending?" load and skips
    //   the wake-up if it reads 1; with this acquire it cannot read a stale 1
    //   that was cleared before that Drain, so a wake-up it skips is one whose
    //   callback is still to come and will drain after our push. On x86 the
    //   locked cmpxchg costs the same whatever the order.
    // Failure is relaxed: we only retry with the freshly loaded head.
  } while (!head_.compare_exchange_weak(old, newest, std::memory_order_acq_rel,
                                        std::memory_order_relaxed));
  if (old == nullptr) {
    // Empty -> non-empty: the only transition that needs a wake-up. It cannot
    // fail on an initialized handle that is not closing (Close's REQUIRES).
    uv_async_send(&async_);
  }
}

template <typename T>
void Mailbox<T>::OnAsync(uv_async_t* handle) {
  static_cast<Mailbox*>(handle->data)->Drain();
}

template <typename T>
void Mailbox<T>::Drain() {
  // Acquire pairs with the release of every push in the chain we take (see
  // PostChain); release is for the producers' wake-up decision (ditto).
  T* list = head_.exchange(nullptr, std::memory_order_acq_rel);
  if (list == nullptr)
    return;
  // The stack is newest first; reverse it into push order.
  T* fifo = nullptr;
  uint64_t n = 0;
  while (list != nullptr) {
    T* next = list->mailbox_next;
    list->mailbox_next = fifo;
    fifo = list;
    list = next;
    ++n;
  }
  // Relaxed load and store, not an RMW: only this thread writes delivered_,
  // and depth() readers want an estimate. Counted before the callback, which
  // may free the items or post more.
  delivered_.store(delivered_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  cb_(fifo, arg_);
}

// REQUIRES: no Post() is running or will run (producers are stopped or know
// the mailbox is gone). The Mailbox must stay alive until the loop has run
// the close (uv_run once more after this returns).
template <typename T>
void Mailbox<T>::Close() {
  LL_DCHECK(!uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_)));
  Drain();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

template <typename T>
uint64_t Mailbox<T>::depth() const {
  // Relaxed: an estimate for /metrics. delivered_ is read first: on the owner
  // thread every delivered item's posted_ increment is already visible (see
  // PostChain), so posted_ read afterwards is at least as large. Another
  // thread may see them in either order, hence the clamp.
  uint64_t delivered = delivered_.load(std::memory_order_relaxed);
  uint64_t posted = posted_.load(std::memory_order_relaxed);
  return posted > delivered ? posted - delivered : 0;
}

template <typename T>
Outbox<T>::Outbox(std::vector<Mailbox<T>*> dests)
    : dests_(std::move(dests)), chains_(dests_.size()) {
  dirty_.reserve(dests_.size());
}

template <typename T>
Outbox<T>::~Outbox() {
  // Unflushed items would be lost (and leaked): the owner must Flush first.
  LL_DCHECK(pending_ == 0);
}

template <typename T>
void Outbox<T>::Add(size_t dest, T* item) {
  LL_DCHECK(dest < dests_.size());
  LL_DCHECK(item != nullptr);
  // Build the chain newest first, the order the mailbox's stack keeps, so
  // that Drain's reversal yields the order of Add().
  Chain& chain = chains_[dest];
  item->mailbox_next = chain.newest;
  chain.newest = item;
  if (chain.n++ == 0) {
    chain.oldest = item;
    dirty_.push_back(static_cast<uint32_t>(dest));  // within the reserved capacity
  }
  ++pending_;
}

template <typename T>
size_t Outbox<T>::Flush() {
  for (uint32_t dest : dirty_) {
    Chain& chain = chains_[dest];
    // After this the items are the destination's; we touch only our Chain.
    dests_[dest]->PostChain(chain.newest, chain.oldest, chain.n);
    chain = Chain{};
  }
  size_t posts = dirty_.size();
  dirty_.clear();
  pending_ = 0;
  return posts;
}

}  // namespace longlink::net
