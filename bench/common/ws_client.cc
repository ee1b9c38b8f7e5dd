// WsClient and FlushQueue; see ws_client.h for the life cycle and the write
// batching.
#include "common/ws_client.h"

#include <liburing.h>
#include <sys/socket.h>

#include <cstring>

#include "base/assert.h"

#include "ws/frame_writer.h"

namespace longlink::bench {

namespace {

// Every connection sends the sample key of RFC 6455 section 1.3, so the
// answer can be checked against the constant accept value without SHA-1 on
// the client. The server cannot tell, and computes SHA-1 as usual.
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
constexpr size_t kMaxResponse = 16 * 1024;
constexpr size_t kMaxMessage = size_t{64} << 20;

// One read buffer for every connection: the loop is single-threaded and the
// receiver copies whatever it must keep (partial frames) out of it.
constexpr size_t kReadBufferSize = 256 * 1024;
alignas(64) char g_read_buffer[kReadBufferSize];

// xorshift64*: masking keys only need to vary, not to be unpredictable.
uint64_t g_mask_state = 0x9E3779B97F4A7C15ull;
void NextMaskKey(uint8_t key[4]) {
  g_mask_state ^= g_mask_state >> 12;
  g_mask_state ^= g_mask_state << 25;
  g_mask_state ^= g_mask_state >> 27;
  uint32_t v = uint32_t((g_mask_state * 0x2545F4914F6CDD1Dull) >> 32);
  std::memcpy(key, &v, 4);
}

}  // namespace

int MakeTarget(const std::string& host, int port, const std::string& path, Target* out) {
  std::memset(&out->addr, 0, sizeof(out->addr));
  int err = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out->addr));
  if (err)
    err = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out->addr));
  if (err)
    return err;
  out->request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kKey +
                 "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  return 0;
}

// ---- FlushQueue -------------------------------------------------------------

constexpr unsigned kRingEntries = 256;

struct FlushQueue::Ring {
  io_uring ring;
  WsClient* clients[kRingEntries];
  int res[kRingEntries];
  bool ok = false;
  ~Ring() {
    if (ok)
      io_uring_queue_exit(&ring);
  }
};

FlushQueue::FlushQueue(uv_loop_t* loop) {
  auto r = std::make_unique<Ring>();
  io_uring_params p{};
  p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  r->ok = io_uring_queue_init_params(kRingEntries, &r->ring, &p) == 0;
  if (r->ok) {
    ring_ = std::move(r);
  } else {
    std::fprintf(stderr, "bench: no io_uring; one write per connection\n");
  }
  LL_CHECK(uv_prepare_init(loop, &prepare_) == 0);
  LL_CHECK(uv_check_init(loop, &check_) == 0);
  prepare_.data = this;
  check_.data = this;
  LL_CHECK(uv_prepare_start(&prepare_, OnPrepare) == 0);
  LL_CHECK(uv_check_start(&check_, OnCheck) == 0);
  // Neither keeps the loop alive by itself.
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  dirty_.reserve(1024);
  flushing_.reserve(1024);
}

FlushQueue::~FlushQueue() {
  LL_CHECK(stopped_);
}

void FlushQueue::Stop() {
  if (stopped_)
    return;
  stopped_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
}

void FlushQueue::FlushAll() {
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    if (ring_ == nullptr || flushing_.size() < 2) {
      for (WsClient* c : flushing_) c->Flush();
    } else {
      for (size_t i = 0; i < flushing_.size(); i += kRingEntries)
        FlushBatch(i, std::min(flushing_.size(), i + kRingEntries));
    }
    flushing_.clear();
  }
}

// MSG_DONTWAIT: a send the socket cannot take fails at once with EAGAIN
// (then uv_write takes over, as after a short uv_try_write), so every send
// has completed when the submission returns.
void FlushQueue::FlushBatch(size_t from, size_t to) {
  Ring& r = *ring_;
  unsigned k = 0;
  for (size_t i = from; i < to; i++) {
    WsClient* c = flushing_[i];
    int fd;
    const uint8_t* data;
    size_t len;
    if (!c->PrepareWrite(&fd, &data, &len))
      continue;
    io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
    LL_CHECK(sqe != nullptr);
    io_uring_prep_send(sqe, fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, k);
    r.clients[k++] = c;
  }
  if (k == 0)
    return;
  unsigned submitted = 0;
  for (int tries = 0; submitted < k; tries++) {
    int n = io_uring_submit(&r.ring);
    if (n > 0) {
      submitted += unsigned(n);
      continue;
    }
    LL_CHECK((n == 0 || n == -EINTR || n == -EAGAIN || n == -EBUSY) && tries < 10000);
  }
  unsigned got = 0;
  while (got < k) {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&r.ring, head, cqe) {
      r.res[cqe->user_data] = cqe->res;
      seen++;
    }
    io_uring_cq_advance(&r.ring, seen);
    got += seen;
    if (got < k) {
      int w = io_uring_wait_cqe(&r.ring, &cqe);
      LL_CHECK(w == 0 || w == -EINTR);
    }
  }
  for (unsigned j = 0; j < k; j++) r.clients[j]->Wrote(r.res[j]);
}

void FlushQueue::OnPrepare(uv_prepare_t* h) {
  static_cast<FlushQueue*>(h->data)->FlushAll();
}
void FlushQueue::OnCheck(uv_check_t* h) {
  static_cast<FlushQueue*>(h->data)->FlushAll();
}

// ---- WsClient: frames from the server ----------------------------------------

struct WsClient::FrameHandler {
  WsClient* c;

  size_t max_message() const { return kMaxMessage; }

  bool OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
    c->OnMessage(opcode, data, len);
    return c->state_ == State::kOpen;
  }
  bool OnPing(uint8_t* data, size_t len) {
    ++c->pings_;
    if (!c->close_sent_)
      c->SendFrame(ws::kPong, data, len);
    return true;
  }
  bool OnPong(uint8_t*, size_t) { return true; }
  bool OnClose(uint16_t code, const uint8_t*, size_t) {
    c->close_received_ = true;
    c->close_code_ = code;
    // RFC 6455 5.5.1: answer with a close frame, echoing the code.
    c->SendClose(code == ws::close_code::kNoStatus ? ws::close_code::kNormal : code);
    c->OnServerClose(code);
    return false;
  }
};

// ---- WsClient ----------------------------------------------------------------

WsClient::WsClient(uv_loop_t* loop, FlushQueue* flush, const Target* target)
    : loop_(loop), flush_(flush), target_(target) {}

WsClient::~WsClient() {
  // The owner runs the loop until OnClosed before destroying a client.
  LL_CHECK(state_ == State::kIdle);
  LL_CHECK(!dirty_);
}

void WsClient::Start() {
  LL_CHECK(state_ == State::kIdle);
  close_sent_ = close_received_ = failed_ = false;
  close_code_ = 0;
  receiver_.emplace(ws::Role::kClient);
  LL_CHECK(uv_tcp_init(loop_, &tcp_) == 0);
  tcp_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
  state_ = State::kConnecting;
  int err = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&target_->addr),
                           OnConnect);
  if (err)
    Fail("connect", err);
}

void WsClient::OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<WsClient*>(req->data);
  if (c->state_ != State::kConnecting)
    return;  // closed meanwhile (UV_ECANCELED)
  if (status < 0) {
    c->Fail("connect", status);
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp_);
  uv_tcp_nodelay(&c->tcp_, 1);
  c->state_ = State::kUpgrading;
  c->pending_.Append(c->target_->request.data(), c->target_->request.size());
  c->MarkDirty();
  int err = uv_read_start(stream, OnAlloc, OnRead);
  if (err)
    c->Fail("read_start", err);
}

void WsClient::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(g_read_buffer, kReadBufferSize);
}

void WsClient::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<WsClient*>(s->data);
  if (nread == 0 || c->state_ == State::kClosing)
    return;
  if (nread < 0) {
    if (nread == UV_EOF && c->close_received_) {
      c->Close(/*abortive=*/false);
    } else {
      c->Fail(nread == UV_EOF ? "eof before close frame" : "read", int(nread));
    }
    return;
  }
  read_time_ = uv_hrtime();
  if (c->state_ == State::kUpgrading) {
    c->HandleUpgradeBytes(buf->base, size_t(nread));
  } else if (c->state_ == State::kOpen && !c->close_received_) {
    c->FeedFrames(reinterpret_cast<uint8_t*>(buf->base), size_t(nread));
    if (c->state_ == State::kOpen && !c->close_received_)
      c->OnReadEnd();
  }
}

void WsClient::HandleUpgradeBytes(const char* data, size_t len) {
  response_.append(data, len);
  size_t end = response_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (response_.size() > kMaxResponse)
      Fail("upgrade response too long", 0);
    return;
  }
  bool ok = response_.compare(0, 13, "HTTP/1.1 101 ") == 0 && response_.find(kAccept) < end;
  if (!ok) {
    int status = response_.size() > 12 ? std::atoi(response_.c_str() + 9) : 0;
    Fail("upgrade refused, HTTP status", status);
    return;
  }
  std::string rest = response_.substr(end + 4);
  std::string().swap(response_);
  state_ = State::kOpen;
  OnOpen();
  if (state_ == State::kOpen && !rest.empty()) {
    FeedFrames(reinterpret_cast<uint8_t*>(rest.data()), rest.size());
    if (state_ == State::kOpen && !close_received_)
      OnReadEnd();
  }
}

void WsClient::FeedFrames(uint8_t* data, size_t len) {
  FrameHandler handler{this};
  uint16_t r = receiver_->Consume(data, len, handler);
  if (r == ws::Receiver::kOk || r == ws::Receiver::kStopped)
    return;
  Fail("protocol error from server, close code", r);
}

// ---- WsClient: output ----------------------------------------------------------

uint8_t* WsClient::BeginFrame(uint8_t opcode, size_t len) {
  LL_DCHECK(state_ == State::kOpen);
  size_t header = ws::HeaderSize(len, /*masked=*/true);
  NextMaskKey(frame_key_);
  uint8_t* p = pending_.Extend(header + len);
  ws::WriteHeader(p, opcode, /*fin=*/true, len, frame_key_);
  frame_offset_ = size_t(p - pending_.data()) + header;
  frame_len_ = len;
  return p + header;
}

void WsClient::EndFrame() {
  ws::Mask(pending_.data() + frame_offset_, frame_len_, frame_key_, 0);
  MarkDirty();
}

void WsClient::SendFrame(uint8_t opcode, const uint8_t* data, size_t len) {
  uint8_t* p = BeginFrame(opcode, len);
  if (len)
    std::memcpy(p, data, len);
  EndFrame();
}

void WsClient::SendClose(uint16_t code) {
  if (close_sent_ || state_ != State::kOpen)
    return;
  close_sent_ = true;
  uint8_t payload[ws::kMaxControlPayload];
  size_t n = ws::WriteClosePayload(payload, code, "");
  SendFrame(ws::kClose, payload, n);
}

void WsClient::MarkDirty() {
  if (dirty_)
    return;
  dirty_ = true;
  flush_->Add(this);
}

void WsClient::Flush() {
  int fd;
  const uint8_t* data;
  size_t len;
  if (!PrepareWrite(&fd, &data, &len))
    return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(pending_.data()), unsigned(pending_.size()));
  Wrote(uv_try_write(stream, &buf, 1));
}

bool WsClient::PrepareWrite(int* fd, const uint8_t** data, size_t* len) {
  dirty_ = false;
  if (writing_ || pending_.empty())
    return false;
  if (state_ != State::kUpgrading && state_ != State::kOpen) {
    pending_.Clear();
    return false;
  }
  uv_os_fd_t f;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &f) != 0)
    return false;
  *fd = f;
  *data = pending_.data();
  *len = pending_.size();
  return true;
}

// n: bytes written, or a negative errno (UV_* errors are -errno on Linux).
void WsClient::Wrote(int n) {
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  uv_buf_t buf;
  if (n == UV_EAGAIN || n == UV_EINTR)
    n = 0;
  if (n < 0) {
    Fail("write", n);
    return;
  }
  if (size_t(n) == pending_.size()) {
    pending_.Clear();
    return;
  }
  // The socket buffer is full: hand the rest to uv_write, which owns it until
  // OnWriteDone; frames queued meanwhile wait in pending_.
  inflight_.Swap(pending_);
  pending_.Clear();
  buf = uv_buf_init(reinterpret_cast<char*>(inflight_.data() + n), unsigned(inflight_.size() - n));
  writing_ = true;
  int err = uv_write(&write_req_, stream, &buf, 1, OnWriteDone);
  if (err) {
    writing_ = false;
    Fail("write", err);
  }
}

void WsClient::OnWriteDone(uv_write_t* req, int status) {
  auto* c = static_cast<WsClient*>(req->data);
  c->writing_ = false;
  c->inflight_.Clear();
  if (status == UV_ECANCELED)
    return;
  if (status < 0) {
    c->Fail("write", status);
    return;
  }
  if (!c->pending_.empty())
    c->MarkDirty();
}

// ---- WsClient: closing ---------------------------------------------------------

void WsClient::Fail(const char* what, int err) {
  if (failed_ || state_ == State::kIdle || state_ == State::kClosing)
    return;
  failed_ = true;
  OnError(what, err);
  Close(/*abortive=*/true);
}

void WsClient::Close(bool abortive) {
  if (state_ == State::kIdle || state_ == State::kClosing)
    return;
  if (state_ != State::kConnecting) {
    if (!writing_ && !pending_.empty()) {
      uv_buf_t buf =
          uv_buf_init(reinterpret_cast<char*>(pending_.data()), unsigned(pending_.size()));
      uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);  // best effort
    }
    uv_os_fd_t fd;
    if (abortive && uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
      linger lg{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));  // best effort
    }
  }
  pending_.Clear();
  state_ = State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnHandleClosed);
}

void WsClient::OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<WsClient*>(h->data);
  c->state_ = State::kIdle;
  c->writing_ = false;
  c->pending_.Release();
  c->inflight_.Release();
  c->receiver_.reset();
  std::string().swap(c->response_);
  c->OnClosed();
}

}  // namespace longlink::bench
