// Mailbox<T>: the inbox of a shard. A lock-free multi-producer single-consumer
// queue of intrusive nodes plus a uv_async_t that wakes the owning loop.
//
// Thread contract: Post() may be called from any thread, any number at once,
// and never blocks or allocates. Everything else runs on the owner shard's
// thread. Items posted by one producer are delivered in the order it posted
// them; nothing orders two producers against each other. Each item is
// delivered exactly once. The consumer owns an item from delivery on (who
// frees it is the item type's business: Seastar returns work to its origin).
//
// Batching: a shard posts one node per destination per loop turn (see
// Outbox below); uv_async_send coalesces wake-ups, and Post only calls it when
// the queue goes from empty to non-empty.
//
// T must have a member `T* mailbox_next`.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace longlink::net {

template <typename T>
class Mailbox {
 public:
  // Called on the owner thread with the posted items in FIFO order (per
  // producer), linked through mailbox_next; the last has mailbox_next null.
  using Callback = void (*)(T* items, void* arg);

  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Owner thread, before any Post. Returns 0 or a libuv error.
  int Init(uv_loop_t* loop, Callback cb, void* arg);
  // Any thread.
  void Post(T* item);
  // Owner thread: delivers whatever is queued now (also done by the async).
  void Drain();
  // Owner thread; the loop must run once more to finish closing the handle.
  // Items still queued are delivered by a final Drain() first.
  void Close();

  // Approximate number of items posted and not yet delivered (for /metrics).
  uint64_t depth() const;

 private:
  static void OnAsync(uv_async_t* handle);
  // ... implementation members
};

}  // namespace longlink::net

#include "net/mailbox_inl.h"
