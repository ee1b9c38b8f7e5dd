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
#include <vector>

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

  // Owner thread: the async handle stops keeping the loop alive (a stopping
  // shard lets uv_run return while others may still post to it).
  void Unref() { uv_unref(reinterpret_cast<uv_handle_t*>(&async_)); }

  // Approximate number of items posted and not yet delivered (for /metrics).
  uint64_t depth() const;

 private:
  template <typename U>
  friend class Outbox;

  static void OnAsync(uv_async_t* handle);
  // Any thread. Splices a chain of n items, linked newest to oldest through
  // mailbox_next, onto the queue with one CAS and at most one wake-up.
  void PostChain(T* newest, T* oldest, uint64_t n);

  // Producer side: every Post writes this line. posted_ shares it with head_
  // on purpose: a producer pulls the line in once for both the count and the
  // CAS, so counting costs no extra cache-line transfer.
  alignas(64) std::atomic<T*> head_{nullptr};  // newest first; null when empty
  std::atomic<uint64_t> posted_{0};
  // Shared with producers only on an empty->non-empty wake-up (libuv writes
  // its pending flag from the posting thread).
  alignas(64) uv_async_t async_;
  // Consumer side: written by the owner thread only; cb_ and arg_ are set in
  // Init, before any Post.
  alignas(64) std::atomic<uint64_t> delivered_{0};
  Callback cb_ = nullptr;
  void* arg_ = nullptr;
};

// Outbox<T>: the outgoing side of one shard, so that a loop turn makes at most
// one Post per destination mailbox however many items it sends there.
//
// Thread contract: owned by one thread (the sending shard) and not
// thread-safe. Add() links the item locally; Flush() splices each
// destination's chain into its mailbox with one CAS and at most one wake-up.
// Call Flush() once per loop turn, e.g. from a uv_check_t (it runs right after
// the turn's I/O callbacks). Items added and never flushed are never
// delivered, so flush before the owner loop stops.
template <typename T>
class Outbox {
 public:
  // dests[i] is the mailbox of destination i; each must outlive the Outbox.
  explicit Outbox(std::vector<Mailbox<T>*> dests);
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  ~Outbox();

  // Queues `item` for destination `dest` (< the number of mailboxes). Never
  // allocates. Items for one destination arrive in the order added.
  void Add(size_t dest, T* item);
  // Posts every non-empty chain. Returns the number of mailboxes posted to.
  size_t Flush();

  // Items added since the last Flush.
  size_t pending() const { return pending_; }

 private:
  struct Chain {
    T* newest = nullptr;
    T* oldest = nullptr;
    uint64_t n = 0;
  };

  std::vector<Mailbox<T>*> dests_;
  std::vector<Chain> chains_;    // parallel to dests_
  std::vector<uint32_t> dirty_;  // destinations with n > 0; capacity reserved
  size_t pending_ = 0;
};

}  // namespace longlink::net

#include "net/mailbox_inl.h"
