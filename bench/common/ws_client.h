// WsClient: one client-side WebSocket over a libuv TCP handle, the building
// block of every loadgen and imload mode. Shared by
// loadgen and imload. OnReadEnd() lets a mode answer once per read (one cumulative
// recv for all the pushes a read brought). It connects, sends the upgrade
// request, checks the 101 answer, then frames outbound messages with the
// project's framer in client role (ws::WriteHeader with a mask key,
// ws::Mask) and parses inbound frames with ws::Receiver in Role::kClient. It
// answers pings with pongs and a server close frame with a close frame.
//
// Writes are batched per loop turn: Send*() only appends to the connection's
// pending buffer and registers the connection with its FlushQueue, which
// writes each dirty connection once (uv_try_write, then uv_write for any
// remainder) from a prepare and a check handle, i.e. right before the loop
// blocks in epoll and right after it handled the I/O that woke it. So any
// number of frames queued by one read callback costs one write(2).
//
// Lifetime: Start() -> OnOpen() -> OnMessage()* -> ... -> Close() ->
// OnClosed(); after OnClosed() the object may be destroyed or Start()ed again.
// Every failure (connect error, refused upgrade, protocol error, EOF without a
// close frame) calls OnError() once and then closes the handle.
// Single-threaded: everything runs on the loop passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <uv.h>

#include "ws/receiver.h"

#include "common/byte_buffer.h"

namespace longlink::bench {

class WsClient;

// Where to connect and the upgrade request to send, built once per run.
struct Target {
  sockaddr_storage addr;
  std::string request;  // the complete HTTP upgrade request
};

// Returns 0 and fills `out`, or a negative libuv error for a bad host/port.
int MakeTarget(const std::string& host, int port, const std::string& path, Target* out);

class FlushQueue {
 public:
  explicit FlushQueue(uv_loop_t* loop);
  ~FlushQueue();
  FlushQueue(const FlushQueue&) = delete;
  FlushQueue& operator=(const FlushQueue&) = delete;

  void Add(WsClient* client) { dirty_.push_back(client); }
  // Writes every dirty connection now: two or more in one io_uring
  // submission (the server's batching, net::Shard::FlushBatch, for the same
  // reason: a write's syscall entry costs more than its loopback work), one
  // uv_try_write each if the kernel refused a ring.
  void FlushAll();
  // Closes the prepare/check handles; call before the final uv_run.
  void Stop();

 private:
  static void OnPrepare(uv_prepare_t* h);
  static void OnCheck(uv_check_t* h);
  void FlushBatch(size_t from, size_t to);

  struct Ring;
  std::unique_ptr<Ring> ring_;  // null: no io_uring
  uv_prepare_t prepare_;
  uv_check_t check_;
  std::vector<WsClient*> dirty_;
  std::vector<WsClient*> flushing_;
  bool stopped_ = false;
};

class WsClient {
 public:
  enum class State : uint8_t {
    kIdle,        // no handle; Start() may be called
    kConnecting,  // TCP connect in progress
    kUpgrading,   // request sent, waiting for the 101
    kOpen,        // WebSocket open (also after our close frame went out)
    kClosing,     // uv_close called, waiting for OnClosed
  };

  WsClient(uv_loop_t* loop, FlushQueue* flush, const Target* target);
  virtual ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // REQUIRES: state() == kIdle. Failures are reported through OnError.
  void Start();

  // Queues one masked frame. REQUIRES: state() == kOpen. For BeginFrame, fill
  // the `len` bytes it returns and call EndFrame() before queueing anything
  // else.
  uint8_t* BeginFrame(uint8_t opcode, size_t len);
  void EndFrame();
  void SendFrame(uint8_t opcode, const uint8_t* data, size_t len);
  // Queues a close frame (once; later calls do nothing).
  void SendClose(uint16_t code);

  // Closes the handle. With `abortive`, sets SO_LINGER 0 first so the kernel
  // sends RST and neither side keeps a TIME_WAIT entry (see bench/README.md).
  // Output still pending is written first, best effort. Idempotent.
  void Close(bool abortive);

  State state() const { return state_; }
  bool close_sent() const { return close_sent_; }
  bool close_received() const { return close_received_; }
  uint16_t close_code() const { return close_code_; }
  uint64_t pings() const { return pings_; }

  // Writes pending output (called by FlushQueue).
  void Flush();
  // FlushQueue's batched write: whether there is output to write now, and
  // where (then the result of writing it goes to Wrote: bytes, or -errno).
  bool PrepareWrite(int* fd, const uint8_t** data, size_t* len);
  void Wrote(int n);

  // uv_hrtime() taken once when the read being handled returned: the arrival
  // time of every frame it holds (one clock read per read, not per frame).
  static uint64_t read_time() { return read_time_; }

 protected:
  virtual void OnOpen() {}
  virtual void OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
    (void)opcode;
    (void)data;
    (void)len;
  }
  // A close frame arrived (our answer is already queued). The default closes
  // the connection, abortively: the close handshake is complete.
  virtual void OnServerClose(uint16_t code) {
    (void)code;
    Close(/*abortive=*/true);
  }
  // `what` names the step; `err` is a libuv error, a close code (protocol
  // errors) or 0. The handle is closed right after this returns.
  virtual void OnError(const char* what, int err) {
    (void)what;
    (void)err;
  }
  virtual void OnClosed() {}
  // Every frame of one read has been handled (state() is still kOpen).
  virtual void OnReadEnd() {}

 private:
  struct FrameHandler;

  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWriteDone(uv_write_t* req, int status);
  static void OnHandleClosed(uv_handle_t* h);

  void Fail(const char* what, int err);
  void MarkDirty();
  void HandleUpgradeBytes(const char* data, size_t len);
  void FeedFrames(uint8_t* data, size_t len);

  static inline uint64_t read_time_ = 0;

  uv_loop_t* loop_;
  FlushQueue* flush_;
  const Target* target_;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  std::optional<ws::Receiver> receiver_;
  ByteBuffer pending_;    // frames queued this loop turn
  ByteBuffer inflight_;   // bytes owned by write_req_ while writing_
  std::string response_;  // the HTTP response while upgrading
  size_t frame_offset_ = 0;
  size_t frame_len_ = 0;
  uint8_t frame_key_[4] = {0, 0, 0, 0};
  uint64_t pings_ = 0;
  uint16_t close_code_ = 0;
  State state_ = State::kIdle;
  bool dirty_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool failed_ = false;
};

}  // namespace longlink::bench
