// Shard: one thread running one uv_loop_t, its own listening socket, the
// connections it accepted, and a mailbox (DESIGN.md, "Threads and shards").
//
// I/O model. The shard's connections sit in an epoll set of their own,
// which the libuv loop watches as one uv_poll_t; when it is readable the
// shard takes the ready connections with epoll_wait(timeout 0) and calls
// recv/sendmsg itself. A connection thus costs one epoll_ctl to register
// and none to forget (close(2) drops it from the set), where a uv_poll_t per
// socket costs five (libuv probes each new fd with an ADD and a DEL, and
// stop and close each DEL) plus an ioctl, and 160 bytes. Every read lands in the shard's one read buffer and
// is handed to the protocol layer in place. While the protocol layer handles
// a read, the connection is "corked": what it sends is gathered in the
// shard's cork buffer and written with one write(2) when the read is done
// (uWebSockets' cork), so a read of many pipelined frames costs one write.
// Output produced outside a read (timers, mailbox deliveries) is queued and
// flushed once per loop turn from a uv_prepare_t, before the loop blocks.
// Only what the socket does not take is copied into the connection's
// OutQueue, and POLLOUT is watched until it drains.
//
// Thread contract: everything here runs on the shard's thread except
// Post(), Start(), Join() and the read-only accessors marked as such.
#pragma once

#include <sys/uio.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "net/connection.h"
#include "net/mailbox.h"
#include "ops/metrics.h"

namespace longlink::net {

// A message between shards. Protocol layers derive their own kinds.
struct ShardMsg {
  ShardMsg* mailbox_next = nullptr;
  int kind = 0;
  virtual ~ShardMsg() = default;
};

class Shard;

// What a shard asks of the protocol layer. One instance per shard.
class ShardHandler {
 public:
  virtual ~ShardHandler() = default;
  // A connection was accepted: return a new object (derived from Connection,
  // not yet initialised as a handle) or null to refuse it.
  virtual Connection* NewConnection() = 0;
  // Bytes arrived, in the shard's read buffer (valid during the call only,
  // writable). The connection is corked.
  virtual void OnData(Connection* c, uint8_t* data, size_t len) = 0;
  // The peer closed its side, or the socket failed. The handler closes.
  virtual void OnEof(Connection* c) = 0;
  // Called every tick for connections that are not closing.
  virtual void OnTick(Connection* c, uint32_t now_ms) = 0;
  // The connection is closed (at the end of the loop turn in which CloseNow
  // ran) and its socket too; free the object.
  virtual void OnClosed(Connection* c) = 0;
  virtual void OnMessage(ShardMsg* msg) = 0;  // takes ownership
  // The shard stops: close every connection gracefully (Shard::ForEach).
  virtual void OnShutdown() = 0;
  // Every connection is closed and the loop is about to end: close any
  // handles of the handler's own (posting to other shards is still allowed).
  virtual void OnQuiesce() {}
  // Once per loop turn, before queued output is flushed and the loop blocks
  // (to post batched cross-shard messages).
  virtual void OnLoopEnd() {}
  // The output of a connection that asked (Shard::NotifyWhenDrained) has all
  // been written. Called from the connection's I/O event, like OnData.
  virtual void OnDrained(Connection*) {}
};

struct ShardOptions {
  size_t read_buffer = 256 * 1024;
  size_t cork_buffer = 64 * 1024;
  // Output queued during a loop turn is written at its end, or as soon as
  // this much is waiting: a read that fans out to many connections (a group
  // message) then never builds up more than this before it goes out, so the
  // memory it passes through stays warm and a long turn cannot grow the next
  // one (see Shard::Read).
  size_t flush_budget = 8 * 1024 * 1024;
  uint32_t tick_ms = 250;
  uint32_t linger_ms = 2000;       // wait for the peer's FIN after shutting our side
  uint32_t drain_ms = 10000;       // give up writing a closing connection's last bytes
  uint32_t shutdown_grace_ms = 2000;  // on stop, then force-close what remains
  // Writes to several connections in one turn go to the kernel as one
  // io_uring submission (Shard::FlushBatch) instead of a sendmsg each; off,
  // or when the kernel refuses a ring, every write is its own sendmsg.
  bool io_uring = true;
};

class Shard {
 public:
  Shard(int id, const ShardOptions& opts);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Starts the thread, which runs until Stop() completes. Any thread.
  // `stopped` counts the shards that finished their connections; a shard
  // closes its mailbox only once all `total` have, since until then another
  // shard may still post to it.
  void Start(ShardHandler* handler, int listen_fd, std::atomic<int>* stopped = nullptr,
             int total = 1);
  // Asks the shard to stop (posted to its mailbox). Any thread.
  void Stop();
  void Join();
  // Any thread: posts a message to this shard; the handler's OnMessage runs
  // on the shard's thread.
  void Post(ShardMsg* msg) { mailbox_.Post(msg); }
  Mailbox<ShardMsg>& mailbox() { return mailbox_; }

  int id() const { return id_; }                   // any thread
  bool listening() const { return listening_.load(std::memory_order_acquire); }  // any thread
  ops::ShardMetrics& metrics() { return metrics_; }  // writes: shard thread only
  uv_loop_t* loop() { return &loop_; }
  uint32_t now_ms() const { return uint32_t(uv_now(&loop_) - start_ms_); }

  // Output. Send copies nothing it can write right away.
  void Send(Connection* c, const iovec* iov, int n);
  void Send(Connection* c, const void* data, size_t len) {
    iovec v{const_cast<void*>(data), len};
    Send(c, &v, 1);
  }
  // Sends `head` (copied; may be empty) followed by `len` bytes of `buf`
  // from `off` (shared: queued by reference, so one frame built for many
  // connections is never copied per connection).
  void SendShared(Connection* c, const uint8_t* head, size_t head_len, SharedBuf* buf,
                  uint32_t off, uint32_t len);
  // How many bytes from `p` on may be read: to the end of the read buffer's
  // padding when `p` points into it, else 0.
  size_t ReadableFrom(const uint8_t* p) const {
    if (p < read_buf_ || p >= read_buf_ + opts_.read_buffer) return 0;
    return size_t(read_buf_ + opts_.read_buffer + kReadPadding - p);
  }
  static constexpr size_t kReadPadding = 64;
  // Writes the output queued since the last flush if it exceeds
  // flush_budget; for handlers that fan one input out to many connections,
  // called between inputs (never while iterating their own state, since a
  // failed write closes a connection). The connection being read is left for
  // the end of its read. Returns whether it wrote.
  bool FlushIfDue() {
    if (unflushed_ < opts_.flush_budget) return false;
    metrics_.early_flushes_total.Add();
    FlushDirty();
    return true;
  }
  // Stops accepting output, writes what is queued (for at most drain_ms),
  // then shuts the write side and reads until the peer closes or linger_ms
  // passes (a lingering close: a peer that is still sending gets our last
  // bytes, such as a close frame, instead of a reset).
  void CloseAfterFlush(Connection* c);
  void CloseNow(Connection* c);
  void PauseReading(Connection* c);
  void ResumeReading(Connection* c);
  // Calls the handler's OnDrained once everything queued for `c` is written
  // (at the next writable event: never from inside the call that queued).
  void NotifyWhenDrained(Connection* c);
  // Calls f(c) for every open connection.
  template <typename F>
  void ForEach(F&& f);
  size_t connection_count() const { return conn_count_; }

 private:
  void Run(int listen_fd);
  void StartListening(int listen_fd);
  void StopListening();
  void Accept();
  void OnReady();
  bool OnConnEvents(Connection* c, uint32_t events, bool read = true);
  void ReadBatch(Connection** readers, int r);
  void Complete(unsigned k);
  void FreeClosed();
  void Read(Connection* c);
  void Uncork();
  bool WriteNow(Connection* c, const iovec* iov, int n, size_t total);
  void Flush(Connection* c);
  void FlushDone(Connection* c);
  size_t FlushBatch(size_t i, size_t* keep);
  void InitBatch();
  void UpdatePoll(Connection* c);
  void MarkDirty(Connection* c);
  void FlushDirty();
  void FinishClosing(Connection* c);
  void Tick();
  void BeginStop();

  static void OnListenPoll(uv_poll_t* h, int status, int events);
  static void OnConnsPoll(uv_poll_t* h, int status, int events);
  static void OnPrepare(uv_prepare_t* h);
  static void OnTimer(uv_timer_t* h);
  static void OnAcceptResume(uv_timer_t* h);
  static void OnMailbox(ShardMsg* items, void* arg);

  const int id_;
  const ShardOptions opts_;
  ShardHandler* handler_ = nullptr;
  uv_loop_t loop_;
  uint64_t start_ms_ = 0;
  uv_poll_t listen_poll_;
  int epfd_ = -1;            // the connections' epoll set
  uv_poll_t conns_poll_;     // watches epfd_
  Connection* conns_ = nullptr;          // every connection (list head)
  std::vector<Connection*> closed_;      // closed this turn, freed at its end
  int listen_fd_ = -1;
  uv_prepare_t prepare_;
  uv_timer_t tick_timer_;
  uv_timer_t accept_timer_;   // resumes accepting after EMFILE
  Mailbox<ShardMsg> mailbox_;
  std::thread thread_;
  std::atomic<bool> listening_{false};
  bool stopping_ = false;
  bool quiesced_ = false;
  bool final_drain_ = false;
  std::atomic<int>* stopped_count_ = nullptr;
  int total_shards_ = 1;
  uint64_t stop_started_ms_ = 0;

  uint8_t* read_buf_ = nullptr;
  uint8_t* cork_buf_ = nullptr;
  uint8_t* gather_buf_ = nullptr;  // Flush's copy of small segments (Gather)
  struct Batch;                     // FlushBatch's ring and arrays (shard.cc)
  std::unique_ptr<Batch> batch_;    // null: every write is a sendmsg
  size_t cork_len_ = 0;
  Connection* corked_ = nullptr;
  std::vector<Connection*> dirty_;
  size_t unflushed_ = 0;  // bytes queued since the last FlushDirty
  size_t conn_count_ = 0;
  ops::ShardMetrics metrics_;
};

// Closed connections stay linked until FreeClosed, which never runs inside
// f, so f may close any connection.
template <typename F>
void Shard::ForEach(F&& f) {
  for (Connection* c = conns_; c != nullptr; c = c->next) {
    if (!c->closed()) f(c);
  }
}

}  // namespace longlink::net
