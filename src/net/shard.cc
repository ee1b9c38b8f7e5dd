#include "net/shard.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"

namespace longlink::net {

namespace {

enum : int { kMsgStop = -1 };

// Socket calls: recv/sendmsg skip the VFS layer (and its file-position
// lock) that read/writev take, measurably so at a million frames a second;
// MSG_NOSIGNAL keeps a reset peer from raising SIGPIPE.
inline ssize_t SendIov(int fd, const iovec* iov, int n) {
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = size_t(n);
  return ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}
constexpr int kMaxIov = 64;
// Flush copies a queue's leading small segments (up to kGatherSeg bytes
// each, kGatherBuf in all) into one buffer and sends them as one iovec.
constexpr size_t kGatherSeg = 2048;
constexpr size_t kGatherBuf = 64 * 1024;
// FlushBatch: connections per submission, iovecs and gather space shared by
// one submission's writes.
constexpr unsigned kRingEntries = 256;
constexpr int kBatchIov = 4096;
constexpr size_t kBatchGather = 256 * 1024;
constexpr size_t kMinGather = 4096;  // less left: the rest go by reference

// A queue of fanned-out pushes is many small segments (one shared frame
// each). Sending them as an iovec costs the kernel a copy per segment, and
// each small frame's cache line is touched anyway; copying the leading small
// segments into `buf` (at most `cap` bytes) and sending them as one made chat
// on the memory engine ~7% faster (bench/README.md). Nothing is consumed
// here: the queue drops what the socket took, as before. Adds the bytes
// copied to *used; returns the new iovec count.
int Gather(iovec* v, int n, uint8_t* buf, size_t cap, size_t* used) {
  if (v[0].iov_len > kGatherSeg || v[1].iov_len > kGatherSeg) return n;
  size_t len = 0;
  int k = 0;
  while (k < n && v[k].iov_len <= kGatherSeg && len + v[k].iov_len <= cap) {
    std::memcpy(buf + len, v[k].iov_base, v[k].iov_len);
    len += v[k].iov_len;
    k++;
  }
  if (k < 2) return n;
  *used += len;
  v[0] = iovec{buf, len};
  std::memmove(&v[1], &v[k], size_t(n - k) * sizeof(iovec));
  return n - k + 1;
}
constexpr int kAcceptBatch = 128;
constexpr int kReadyBatch = 256;  // events taken per epoll_wait on the set

}  // namespace

// The kernel side of a turn's writes to many connections is mostly the cost
// of entering it: on this machine (PTI) a 110-byte sendmsg to a loopback
// socket takes 3.6 us, and the same sends submitted 256 at a time through
// io_uring 1.5 us each (bench/README.md). So FlushDirty hands the writes of
// two or more connections to FlushBatch: each one's queue as one send (its
// leading small segments gathered into the batch's arena), all submitted with
// one io_uring_enter. MSG_DONTWAIT makes a send the socket cannot take fail
// with EAGAIN at once instead of waiting in the ring, so every send has
// completed when the submission returns, and nothing (queue, iovec, gather
// copy) is needed after this call: a connection that took less than it was
// offered waits for EPOLLOUT as it would after a short sendmsg.
struct Shard::Batch {
  struct Item {
    Connection* c;
    size_t len;
    int32_t res;
  };
  io_uring ring;
  Item items[kRingEntries];
  msghdr msgs[kRingEntries];
  iovec iov[kBatchIov];
  uint8_t gather[kBatchGather];
};

Shard::Shard(int id, const ShardOptions& opts) : id_(id), opts_(opts) {
  LL_CHECK(uv_loop_init(&loop_) == 0);
  loop_.data = this;
  // 64 spare bytes after the read buffer let JSON parsers that read past the
  // end of their input (simdjson's SIMDJSON_PADDING) parse frames in place.
  read_buf_ = static_cast<uint8_t*>(std::malloc(opts_.read_buffer + kReadPadding));
  cork_buf_ = static_cast<uint8_t*>(std::malloc(opts_.cork_buffer));
  gather_buf_ = static_cast<uint8_t*>(std::malloc(kGatherBuf));
  LL_CHECK(read_buf_ && cork_buf_ && gather_buf_);
  LL_CHECK(mailbox_.Init(&loop_, &Shard::OnMailbox, this) == 0);
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  LL_CHECK(epfd_ >= 0);
  LL_CHECK(uv_poll_init(&loop_, &conns_poll_, epfd_) == 0);
  conns_poll_.data = this;
}

Shard::~Shard() {
  if (thread_.joinable()) thread_.join();
  std::free(read_buf_);
  std::free(cork_buf_);
  std::free(gather_buf_);
  if (epfd_ >= 0) ::close(epfd_);
}

void Shard::Start(ShardHandler* handler, int listen_fd, std::atomic<int>* stopped, int total) {
  handler_ = handler;
  stopped_count_ = stopped;
  total_shards_ = total;
  thread_ = std::thread([this, listen_fd] { Run(listen_fd); });
}

void Shard::Stop() {
  auto* m = new ShardMsg();
  m->kind = kMsgStop;
  Post(m);
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::Run(int listen_fd) {
  start_ms_ = uv_now(&loop_);
  InitBatch();
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, &Shard::OnPrepare);
  uv_timer_init(&loop_, &tick_timer_);
  tick_timer_.data = this;
  uv_timer_start(&tick_timer_, &Shard::OnTimer, opts_.tick_ms, opts_.tick_ms);
  uv_timer_init(&loop_, &accept_timer_);
  accept_timer_.data = this;
  uv_poll_start(&conns_poll_, UV_READABLE, &Shard::OnConnsPoll);
  StartListening(listen_fd);

  uv_run(&loop_, UV_RUN_DEFAULT);

  // Quiesced (see Tick). Wait until every shard is, so that nobody posts to
  // our mailbox any more; then drop what is still queued, close, finish.
  if (stopped_count_ != nullptr) {
    stopped_count_->fetch_add(1, std::memory_order_acq_rel);
    while (stopped_count_->load(std::memory_order_acquire) < total_shards_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  final_drain_ = true;
  mailbox_.Close();
  while (uv_loop_close(&loop_) == UV_EBUSY) uv_run(&loop_, UV_RUN_DEFAULT);
  if (batch_ != nullptr) {
    io_uring_queue_exit(&batch_->ring);  // on the thread that made it
    batch_.reset();
  }
}

void Shard::StartListening(int listen_fd) {
  listen_fd_ = listen_fd;
  if (listen_fd_ < 0) return;
  LL_CHECK(uv_poll_init(&loop_, &listen_poll_, listen_fd_) == 0);
  listen_poll_.data = nullptr;  // not a connection (see ForEach)
  uv_poll_start(&listen_poll_, UV_READABLE, &Shard::OnListenPoll);
  listening_.store(true, std::memory_order_release);
}

void Shard::StopListening() {
  if (listen_fd_ < 0) return;
  listening_.store(false, std::memory_order_release);
  uv_poll_stop(&listen_poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&listen_poll_), nullptr);
  ::close(listen_fd_);
  listen_fd_ = -1;
  uv_timer_stop(&accept_timer_);
}

void Shard::OnListenPoll(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Shard*>(h->loop->data);
  if (status < 0) {
    LL_WARN("shard %d: listen poll error: %s", self->id_, uv_strerror(status));
    return;
  }
  self->Accept();
}

void Shard::OnAcceptResume(uv_timer_t* h) {
  auto* self = static_cast<Shard*>(h->data);
  if (self->listen_fd_ >= 0) uv_poll_start(&self->listen_poll_, UV_READABLE, &Shard::OnListenPoll);
}

void Shard::Accept() {
  for (int i = 0; i < kAcceptBatch; i++) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning
        // on a listen socket that stays readable.
        LL_WARN("shard %d: accept: %s; pausing accepts for 100 ms", id_, std::strerror(errno));
        uv_poll_stop(&listen_poll_);
        uv_timer_start(&accept_timer_, &Shard::OnAcceptResume, 100, 0);
      }
      return;  // EAGAIN, ECONNABORTED, ...
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Connection* c = handler_->NewConnection();
    if (c == nullptr) {
      ::close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      LL_WARN("shard %d: epoll_ctl(ADD): %s", id_, std::strerror(errno));
      ::close(fd);
      handler_->OnClosed(c);
      continue;
    }
    c->sock = fd;
    c->last_rx_ms = now_ms();
    c->flags = Connection::kPollRead;
    c->prev = nullptr;
    c->next = conns_;
    if (conns_ != nullptr) conns_->prev = c;
    conns_ = c;
    conn_count_++;
    metrics_.connections.Add();
    metrics_.connections_accepted_total.Add();
  }
}

void Shard::OnConnsPoll(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Shard*>(h->data);
  if (status < 0) {
    LL_WARN("shard %d: connection set poll error: %s", self->id_, uv_strerror(status));
    return;
  }
  self->OnReady();
}

// The set is readable: handle what is ready now. More than kReadyBatch
// ready connections leave the set readable, and the rest wait for the next
// loop turn, after timers and the mailbox had theirs.
void Shard::OnReady() {
  epoll_event evs[kReadyBatch];
  int n = ::epoll_wait(epfd_, evs, kReadyBatch, 0);
  // A connection closed by an earlier event of this batch is still
  // allocated (freed at the end of the turn) and is skipped as closed.
  if (batch_ == nullptr || n < 2) {
    for (int i = 0; i < n; i++) OnConnEvents(static_cast<Connection*>(evs[i].data.ptr), evs[i].events);
    return;
  }
  // Several ready: their writes and hang-ups first, then one submission
  // reads them all (ReadBatch).
  Connection* readers[kReadyBatch];
  int r = 0;
  for (int i = 0; i < n; i++) {
    auto* c = static_cast<Connection*>(evs[i].data.ptr);
    if (OnConnEvents(c, evs[i].events, /*read=*/false)) readers[r++] = c;
  }
  if (r == 1) {
    if (!readers[0]->closed()) Read(readers[0]);
  } else if (r > 1) {
    ReadBatch(readers, r);
  }
}

// Returns whether the connection is to be read: done here if `read`, else
// left to the caller.
bool Shard::OnConnEvents(Connection* c, uint32_t events, bool read) {
  if (c->closed()) return false;
  if (events & EPOLLOUT) {
    Flush(c);
    if (!c->closed() && (c->flags & Connection::kNotifyDrained) && c->out == nullptr) {
      c->flags &= uint16_t(~Connection::kNotifyDrained);
      UpdatePoll(c);
      handler_->OnDrained(c);
    }
  }
  if (c->closed()) return false;
  if ((events & (EPOLLERR | EPOLLHUP)) && (c->flags & Connection::kReadPaused)) {
    // Reading is paused but the socket failed or both sides are shut: no
    // byte will leave or arrive any more (epoll reports these regardless
    // of the events asked for, so waiting would spin).
    if (c->flags & Connection::kLingering) {
      CloseNow(c);
    } else {
      handler_->OnEof(c);
    }
    return false;
  }
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return false;
  if (!read) return true;
  Read(c);
  return false;
}

void Shard::Read(Connection* c) {
  // Up to four reads per wake-up when the buffer fills, then let others run.
  for (int round = 0; round < 4; round++) {
    ssize_t n = ::recv(c->fd(), read_buf_, opts_.read_buffer, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      n = 0;  // ECONNRESET etc.: handled as EOF
    }
    if (n == 0) {
      if (c->flags & Connection::kLingering) {
        CloseNow(c);
      } else {
        handler_->OnEof(c);
      }
      return;
    }
    metrics_.bytes_in_total.Add(uint64_t(n));
    if (c->flags & Connection::kLingering) continue;  // discard
    c->last_rx_ms = now_ms();
    corked_ = c;
    handler_->OnData(c, read_buf_, size_t(n));
    Uncork();
    // A read that fanned out a lot is written now, and the rest of this
    // connection's input waits for the next wake-up (the socket stays
    // readable), so one sender cannot make a turn, and the next read, ever
    // longer.
    if (FlushIfDue()) return;
    if (c->closed() || (c->flags & Connection::kReadPaused)) return;
    if (size_t(n) < opts_.read_buffer) return;
  }
}

// What one recv is to Read, one io_uring submission is here to several
// connections (the cost is in entering the kernel: FlushBatch). Each gets an
// equal part of the read buffer; parts are handled in order, so one part's
// parser may read the next part's bytes as its padding but never writes
// them. Unlike Read, nothing is corked: what a part's handler answers is
// queued and leaves with the turn's other writes in one submission (memory
// chat at depth 16: 1.16x the messages/s of writing each cork at once,
// bench/README.md). A part the socket filled may have more behind it: after
// all parts are handled, Read takes the rest, from the start of the buffer.
// MSG_DONTWAIT: every recv has completed when the submission returns.
void Shard::ReadBatch(Connection** readers, int r) {
  Batch& b = *batch_;
  LL_DCHECK(r >= 2 && unsigned(r) <= kRingEntries);
  size_t part = opts_.read_buffer / size_t(r);
  for (int j = 0; j < r; j++) {
    io_uring_sqe* sqe = io_uring_get_sqe(&b.ring);
    LL_DCHECK(sqe != nullptr);
    io_uring_prep_recv(sqe, readers[j]->fd(), read_buf_ + size_t(j) * part, part, MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, uint64_t(j));
  }
  Complete(unsigned(r));
  metrics_.read_batches_total.Add();
  // A part's handler may write the turn's output (FlushIfDue), which
  // reuses the batch: take the results first.
  int32_t res[kReadyBatch];
  for (int j = 0; j < r; j++) res[j] = b.items[j].res;
  int more = 0;
  for (int j = 0; j < r; j++) {
    Connection* c = readers[j];
    int32_t n = res[j];
    if (c->closed()) continue;  // closed by an earlier part's handler
    if (n < 0) {
      if (n == -EAGAIN || n == -EINTR) continue;
      n = 0;  // ECONNRESET etc.: handled as EOF
    }
    if (n == 0) {
      if (c->flags & Connection::kLingering) {
        CloseNow(c);
      } else {
        handler_->OnEof(c);
      }
      continue;
    }
    metrics_.bytes_in_total.Add(uint64_t(n));
    if (!(c->flags & Connection::kLingering)) {  // else discarded
      c->last_rx_ms = now_ms();
      handler_->OnData(c, read_buf_ + size_t(j) * part, size_t(n));
      // A part that fanned out a lot is written now; the rest of its
      // input waits for the next wake-up (see Read).
      if (FlushIfDue()) continue;
      if (c->closed() || (c->flags & Connection::kReadPaused)) continue;
    }
    if (size_t(n) == part) readers[more++] = c;
  }
  for (int j = 0; j < more; j++) {
    Connection* c = readers[j];
    if (!c->closed() && !(c->flags & Connection::kReadPaused)) Read(c);
  }
}

void Shard::Send(Connection* c, const iovec* iov, int n) {
  if (c->closed() || (c->flags & (Connection::kShutdownPending | Connection::kLingering))) return;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (c->out != nullptr && !c->out->empty()) {
    for (int i = 0; i < n; i++) c->out->Append(static_cast<const uint8_t*>(iov[i].iov_base), iov[i].iov_len);
    metrics_.outbuf_bytes.Add(total);
    unflushed_ += total;
    return;
  }
  if (corked_ == c) {
    if (cork_len_ + total <= opts_.cork_buffer) {
      for (int i = 0; i < n; i++) {
        std::memcpy(cork_buf_ + cork_len_, iov[i].iov_base, iov[i].iov_len);
        cork_len_ += iov[i].iov_len;
      }
      return;
    }
    // Too big for the cork: write the cork and this together now.
    iovec v[kMaxIov + 1];
    int k = 0;
    if (cork_len_ > 0) v[k++] = {cork_buf_, cork_len_};
    for (int i = 0; i < n && k < kMaxIov; i++) v[k++] = iov[i];
    size_t all = total + cork_len_;
    cork_len_ = 0;
    WriteNow(c, v, k, all);
    return;
  }
  // Outside a read: queue, flush before the loop blocks.
  if (c->out == nullptr) c->out = new OutQueue();
  for (int i = 0; i < n; i++) c->out->Append(static_cast<const uint8_t*>(iov[i].iov_base), iov[i].iov_len);
  metrics_.outbuf_bytes.Add(total);
  unflushed_ += total;
  MarkDirty(c);
}

void Shard::SendShared(Connection* c, const uint8_t* head, size_t head_len, SharedBuf* buf,
                       uint32_t off, uint32_t len) {
  if (c->closed() || (c->flags & (Connection::kShutdownPending | Connection::kLingering))) return;
  bool queued = c->out != nullptr && !c->out->empty();
  if (!queued && (corked_ == c || len <= 256)) {
    // Small, or inside a read: copying into the cork or queue is cheaper
    // than a reference.
    iovec v[2] = {{const_cast<uint8_t*>(head), head_len}, {buf->data + off, len}};
    if (head_len == 0) {
      Send(c, &v[1], 1);
    } else {
      Send(c, v, 2);
    }
    return;
  }
  if (c->out == nullptr) c->out = new OutQueue();
  if (head_len > 0) c->out->Append(head, head_len);
  c->out->AppendShared(buf, off, len);
  metrics_.outbuf_bytes.Add(head_len + len);
  unflushed_ += head_len + len;
  if (!queued) MarkDirty(c);
}

// Writes iov now; whatever the socket does not take goes to c->out.
// Returns false if the connection failed.
bool Shard::WriteNow(Connection* c, const iovec* iov, int n, size_t total) {
  ssize_t w;
  do {
    w = SendIov(c->fd(), iov, n);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno != EAGAIN) {
      handler_->OnEof(c);
      return false;
    }
    w = 0;
  }
  metrics_.bytes_out_total.Add(uint64_t(w));
  if (size_t(w) == total) return true;
  if (c->out == nullptr) c->out = new OutQueue();
  size_t skip = size_t(w);
  for (int i = 0; i < n; i++) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    c->out->Append(static_cast<const uint8_t*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
    skip = 0;
  }
  metrics_.outbuf_bytes.Add(total - size_t(w));
  UpdatePoll(c);
  return true;
}

void Shard::Uncork() {
  Connection* c = corked_;
  corked_ = nullptr;
  if (cork_len_ == 0 || c == nullptr) {
    cork_len_ = 0;
    return;
  }
  size_t len = cork_len_;
  cork_len_ = 0;
  if (c->closed()) return;
  LL_DCHECK(c->out == nullptr || c->out->empty());
  iovec v{cork_buf_, len};
  if (WriteNow(c, &v, 1, len) && (c->flags & Connection::kShutdownPending) &&
      (c->out == nullptr || c->out->empty())) {
    FinishClosing(c);
  }
}

void Shard::Flush(Connection* c) {
  if (c->closed()) return;
  while (c->out != nullptr && !c->out->empty()) {
    iovec v[kMaxIov];
    int n = c->out->Fill(v, kMaxIov);
    size_t gathered = 0;  // (one gather at a time: the buffer is reused)
    if (n > 1) n = Gather(v, n, gather_buf_, kGatherBuf, &gathered);
    ssize_t w = SendIov(c->fd(), v, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      handler_->OnEof(c);
      return;
    }
    c->out->Consume(size_t(w));
    metrics_.outbuf_bytes.Sub(uint64_t(w));
    metrics_.bytes_out_total.Add(uint64_t(w));
  }
  FlushDone(c);
}

// After a write: an emptied queue goes, a closing connection whose last
// bytes left shuts its side, and writability is watched while bytes remain.
void Shard::FlushDone(Connection* c) {
  if (c->out != nullptr && c->out->empty()) {
    delete c->out;
    c->out = nullptr;
  }
  if (c->out == nullptr && (c->flags & Connection::kShutdownPending)) {
    FinishClosing(c);
    return;
  }
  UpdatePoll(c);
}

// On the shard's thread (the ring is single-issuer).
void Shard::InitBatch() {
  if (!opts_.io_uring) return;
  auto b = std::make_unique<Batch>();
  io_uring_params p{};
  // SUBMIT_ALL: a send that fails at submission does not hold back the rest.
  p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
  int r = io_uring_queue_init_params(kRingEntries, &b->ring, &p);
  if (r < 0) {
    LL_WARN("shard %d: no io_uring (%s): every write is its own sendmsg", id_, std::strerror(-r));
    return;
  }
  batch_ = std::move(b);
}

// Submits the k operations prepared in the ring and waits for all of them:
// each result goes to items[its user data].res.
void Shard::Complete(unsigned k) {
  Batch& b = *batch_;
  // The kernel may take fewer than asked (short of memory): submit again
  // until it took all. The operations are in the ring and cannot be taken
  // back, so going on without their results would lose bytes read or write
  // some twice: a ring that keeps refusing is fatal.
  unsigned submitted = 0;
  for (int tries = 0; submitted < k; tries++) {
    int r = io_uring_submit(&b.ring);
    if (r > 0) {
      submitted += unsigned(r);
      continue;
    }
    if ((r == 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY) && tries < 10000) continue;
    LL_ERROR("shard %d: io_uring_submit: %s", id_, r < 0 ? std::strerror(-r) : "nothing taken");
    LL_CHECK(false);
  }
  unsigned got = 0;
  while (got < k) {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&b.ring, head, cqe) {
      b.items[cqe->user_data].res = cqe->res;
      seen++;
    }
    io_uring_cq_advance(&b.ring, seen);
    got += seen;
    if (got < k) {
      int w = io_uring_wait_cqe(&b.ring, &cqe);
      if (w < 0 && w != -EINTR) LL_ERROR("shard %d: io_uring_wait_cqe: %s", id_, std::strerror(-w));
      LL_CHECK(w == 0 || w == -EINTR);
    }
  }
}

// Writes dirty_[i...] that are not being read, up to one submission's worth;
// returns the index of the first one left. Those being read go to
// dirty_[*keep++] (FlushDirty).
size_t Shard::FlushBatch(size_t i, size_t* keep) {
  Batch& b = *batch_;
  unsigned k = 0;
  int iov_used = 0;
  size_t gather_used = 0;
  while (i < dirty_.size() && k < kRingEntries && iov_used + kMaxIov <= kBatchIov) {
    Connection* c = dirty_[i++];
    if (c == corked_) {
      dirty_[(*keep)++] = c;  // being read: flushed after its read
      continue;
    }
    c->flags &= uint16_t(~Connection::kDirty);
    if (c->closed()) continue;
    if (c->out == nullptr || c->out->empty()) {
      FlushDone(c);  // nothing to write (a close waiting for its turn)
      continue;
    }
    iovec* v = &b.iov[iov_used];
    int n = c->out->Fill(v, kMaxIov);
    if (n > 1 && kBatchGather - gather_used >= kMinGather) {
      n = Gather(v, n, b.gather + gather_used, std::min(kGatherBuf, kBatchGather - gather_used),
                 &gather_used);
    }
    size_t len = 0;
    for (int j = 0; j < n; j++) len += v[j].iov_len;
    io_uring_sqe* sqe = io_uring_get_sqe(&b.ring);
    LL_DCHECK(sqe != nullptr);  // k < kRingEntries, and every batch is submitted whole
    if (n == 1) {
      io_uring_prep_send(sqe, c->fd(), v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      msghdr& m = b.msgs[k];
      m = msghdr{};
      m.msg_iov = v;
      m.msg_iovlen = size_t(n);
      io_uring_prep_sendmsg(sqe, c->fd(), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    io_uring_sqe_set_data64(sqe, k);
    b.items[k++] = Batch::Item{c, len, 0};
    iov_used += n;
  }
  if (k == 0) return i;
  Complete(k);
  metrics_.write_batches_total.Add();
  // A failed connection's handler may write to, or close, connections later
  // in the batch: each is looked at only when its turn comes. The results
  // are copied first, should a handler ever start a batch of its own.
  Batch::Item items[kRingEntries];
  std::copy(b.items, b.items + k, items);
  for (unsigned j = 0; j < k; j++) {
    Connection* c = items[j].c;
    int32_t res = items[j].res;
    if (c->closed()) continue;
    if (res < 0) {
      if (res != -EAGAIN && res != -EINTR) {
        handler_->OnEof(c);
        continue;
      }
      res = 0;
    }
    c->out->Consume(size_t(res));
    metrics_.outbuf_bytes.Sub(uint64_t(res));
    metrics_.bytes_out_total.Add(uint64_t(res));
    if (size_t(res) == items[j].len && !c->out->empty()) {
      Flush(c);  // more was queued than one send offers
    } else {
      FlushDone(c);
    }
  }
  return i;
}

// Registers the events the connection needs now: readable unless paused,
// writable while output is queued or a drain is to be reported. Skips the
// epoll_ctl when nothing changes.
void Shard::UpdatePoll(Connection* c) {
  if (c->closed()) return;
  uint16_t want = 0;
  if (!(c->flags & Connection::kReadPaused)) want |= Connection::kPollRead;
  if ((c->out != nullptr && !c->out->empty()) || (c->flags & Connection::kNotifyDrained)) {
    want |= Connection::kWatchWritable;
  }
  uint16_t have = c->flags & (Connection::kPollRead | Connection::kWatchWritable);
  if (want == have) return;
  c->flags = uint16_t((c->flags & ~(Connection::kPollRead | Connection::kWatchWritable)) | want);
  epoll_event ev{};
  ev.events = ((want & Connection::kPollRead) ? EPOLLIN | EPOLLRDHUP : 0u) |
              ((want & Connection::kWatchWritable) ? EPOLLOUT : 0u);
  ev.data.ptr = c;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd(), &ev) != 0) {
    LL_WARN("shard %d: epoll_ctl(MOD): %s", id_, std::strerror(errno));
  }
}

void Shard::PauseReading(Connection* c) {
  c->flags |= Connection::kReadPaused;
  UpdatePoll(c);
}

void Shard::ResumeReading(Connection* c) {
  c->flags &= uint16_t(~Connection::kReadPaused);
  UpdatePoll(c);
}

void Shard::NotifyWhenDrained(Connection* c) {
  c->flags |= Connection::kNotifyDrained;
  UpdatePoll(c);
}

void Shard::MarkDirty(Connection* c) {
  if (c->flags & Connection::kDirty) return;
  c->flags |= Connection::kDirty;
  dirty_.push_back(c);
}

void Shard::OnPrepare(uv_prepare_t* h) {
  auto* self = static_cast<Shard*>(h->data);
  // Freeing a connection tells the handler (which may post to other shards,
  // in OnLoopEnd), and a flush may fail and close one, so repeat until
  // nothing is left to free.
  do {
    self->FreeClosed();
    self->handler_->OnLoopEnd();
    self->FlushDirty();
  } while (!self->closed_.empty());
  self->metrics_.mailbox_depth.Set(self->mailbox_.depth());
}

// Writes every connection that got output since the last call (but the one
// being read, if any). A connection closed by a failed write stays allocated
// until FreeClosed; what its handler sends meanwhile is appended to dirty_
// and flushed by the same pass.
void Shard::FlushDirty() {
  size_t keep = 0;
  size_t i = 0;
  while (i < dirty_.size()) {
    if (batch_ != nullptr && dirty_.size() - i >= 2) {
      i = FlushBatch(i, &keep);
      continue;
    }
    Connection* c = dirty_[i++];
    if (c == corked_) {
      dirty_[keep++] = c;  // being read: flushed after its read
      continue;
    }
    c->flags &= uint16_t(~Connection::kDirty);
    if (!c->closed()) Flush(c);
  }
  dirty_.resize(keep);
  unflushed_ = 0;
}

// Frees the connections closed since the last call. Closing the socket
// drops it from the epoll set.
void Shard::FreeClosed() {
  while (!closed_.empty()) {
    std::vector<Connection*> batch;
    batch.swap(closed_);
    for (Connection* c : batch) {
      if (c->flags & Connection::kDirty) {
        // Still in this turn's flush list: take it out before it is freed.
        dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), c), dirty_.end());
      }
      if (c->prev != nullptr) {
        c->prev->next = c->next;
      } else {
        conns_ = c->next;
      }
      if (c->next != nullptr) c->next->prev = c->prev;
      ::close(c->fd());
      conn_count_--;
      metrics_.connections.Sub();
      handler_->OnClosed(c);
    }
  }
}

void Shard::CloseAfterFlush(Connection* c) {
  if (c->closed() || (c->flags & (Connection::kShutdownPending | Connection::kLingering))) return;
  c->flags |= Connection::kShutdownPending | Connection::kDraining;
  // last_rx_ms now marks the start of the close; Tick enforces drain_ms.
  c->last_rx_ms = now_ms();
  if (corked_ == c) return;  // Uncork finishes it
  if (c->out == nullptr || c->out->empty()) {
    FinishClosing(c);
  } else {
    MarkDirty(c);
  }
}

// The queued output is written: shut our side, linger for the peer's FIN.
void Shard::FinishClosing(Connection* c) {
  c->flags &= uint16_t(~Connection::kShutdownPending);
  c->flags |= Connection::kLingering;
  c->last_rx_ms = now_ms();
  ::shutdown(c->fd(), SHUT_WR);
  if (c->flags & Connection::kReadPaused) ResumeReading(c);
  UpdatePoll(c);
}

void Shard::CloseNow(Connection* c) {
  if (c->closed()) return;
  c->flags |= Connection::kClosed;
  if (c->out != nullptr) {
    metrics_.outbuf_bytes.Sub(c->out->bytes());
    delete c->out;
    c->out = nullptr;
  }
  closed_.push_back(c);
}

void Shard::OnTimer(uv_timer_t* h) { static_cast<Shard*>(h->data)->Tick(); }

void Shard::Tick() {
  uint32_t now = now_ms();
  // Deadlines: a connection whose last bytes the peer does not take
  // (kShutdownPending) is dropped after drain_ms, one that lingers for the
  // peer's FIN after linger_ms; on stop, everything after the grace period.
  bool force = stopping_ && uv_now(&loop_) - stop_started_ms_ >= opts_.shutdown_grace_ms;
  ForEach([&](Connection* c) {
    uint32_t age = now - c->last_rx_ms;
    if (force) {
      CloseNow(c);
    } else if (c->flags & Connection::kLingering) {
      if (age >= opts_.linger_ms) CloseNow(c);
    } else if (c->flags & Connection::kShutdownPending) {
      if (age >= opts_.drain_ms) CloseNow(c);
    } else {
      handler_->OnTick(c, now);
    }
  });
  if (stopping_ && conn_count_ == 0 && !quiesced_) {
    // Everything is closed: close our own handles and let uv_run return.
    // The mailbox stays open (unreferenced) until every shard is here.
    quiesced_ = true;
    handler_->OnQuiesce();
    handler_->OnLoopEnd();
    uv_timer_stop(&tick_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&accept_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
    uv_poll_stop(&conns_poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&conns_poll_), nullptr);
    mailbox_.Unref();
  }
}

void Shard::OnMailbox(ShardMsg* items, void* arg) {
  auto* self = static_cast<Shard*>(arg);
  while (items != nullptr) {
    ShardMsg* next = items->mailbox_next;
    if (self->final_drain_) {
      delete items;  // the server is stopping: nobody is left to act on it
    } else if (items->kind == kMsgStop) {
      delete items;
      self->BeginStop();
    } else {
      self->handler_->OnMessage(items);
      // Pushes from other shards: the same budget as a read (Shard::Read).
      self->FlushIfDue();
    }
    items = next;
  }
}

void Shard::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  stop_started_ms_ = uv_now(&loop_);
  StopListening();
  handler_->OnShutdown();
  // Tick closes what remains after the grace period and then our handles;
  // tick faster meanwhile so the exit is prompt.
  uv_timer_start(&tick_timer_, &Shard::OnTimer, 50, 50);
}

}  // namespace longlink::net
