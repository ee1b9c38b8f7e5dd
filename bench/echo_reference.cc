// echo_reference: the baseline that longlink's echo mode is measured against.
// A bare single-threaded epoll WebSocket echo server that skips validation:
// it answers the upgrade (finding Sec-WebSocket-Key by a plain search), then
// sends every frame back unmasked with the same first byte (FIN, RSV, opcode)
// and closes the socket after echoing a close frame. No UTF-8 checks, no
// opcode or fragmentation rules, no limits beyond --max-frame. It is meant to
// be the fastest reasonable server, not a strawman: level-triggered epoll,
// one read() into a shared buffer and at most one send() per readable event,
// unmasking fused with the copy into the shared output buffer (8 bytes at a
// time), and all replies to one read gathered into that single send().
//
// Ownership: main() owns the Server; the Server owns every Conn (deleted when
// its socket closes) and the two shared buffers. A Conn keeps bytes only when
// a read ended mid-frame (`in`) or a send was short (`out`); while `out` is
// non-empty the connection waits for EPOLLOUT and is not read (backpressure).
//
// --broadcast turns it into the baseline for group fan-out (bench/group.sh):
// every data frame (text, binary, continuation) received from one connection
// is written, unmasked and with the same first byte, to every other upgraded
// connection instead of back to its sender; control frames are still echoed
// to the sender. The frames of one read are framed once into a shared buffer
// and each other connection gets them with one send() (whatever it does not
// take waits in its `out`, appended to, up to kMaxBacklog, beyond which the
// connection is dropped). Connections are kept in a vector for the fan-out
// loop, removed by swapping with the last.
//
//   echo_reference --listen 127.0.0.1:PORT [--max-frame BYTES] [--broadcast]
//
// Logs "listening on HOST:PORT" to stderr once bound (PORT 0 picks a free
// port), as longlink does. Linux only; needs libcrypto (SHA-1 and base64).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace {

constexpr size_t kReadBufSize = 256 * 1024;
constexpr size_t kMaxRequestHeader = 8 * 1024;
constexpr size_t kDefaultMaxFrame = 16 * 1024 * 1024;
constexpr int kMaxEvents = 1024;
constexpr size_t kMaxBacklog = 64 * 1024 * 1024;  // --broadcast: unsent bytes per connection
constexpr size_t kNoPeer = SIZE_MAX;
constexpr char kWsGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// A growable byte buffer that, unlike std::vector, never zero-fills.
class Bytes {
 public:
  Bytes() = default;
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  ~Bytes() { std::free(data_); }

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }

  void Reserve(size_t cap) {
    if (cap <= cap_)
      return;
    auto* p = static_cast<uint8_t*>(std::realloc(data_, cap));
    if (p == nullptr) {
      std::fprintf(stderr, "echo_reference: out of memory\n");
      std::abort();
    }
    data_ = p;
    cap_ = cap;
  }
  void Assign(const uint8_t* p, size_t n) {
    Reserve(n);
    std::memcpy(data_, p, n);
    size_ = n;
  }
  void SetSize(size_t n) { size_ = n; }
  void Append(const uint8_t* p, size_t n) {
    if (size_ + n > cap_)
      Reserve(std::max(size_ + n, cap_ * 2));
    std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  // Drops the first n bytes.
  void Consume(size_t n) {
    std::memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }
  // Frees the memory (an idle connection holds none).
  void Release() {
    std::free(data_);
    data_ = nullptr;
    size_ = cap_ = 0;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

struct Conn {
  int fd = -1;
  bool upgraded = false;
  bool closing = false;   // close once `out` is written (a close frame was echoed)
  uint64_t need = 0;      // size of the frame whose start is in[0], once its header is in
  size_t peer = kNoPeer;  // --broadcast: index in Server::peers_ once upgraded
  bool doomed = false;    // --broadcast: a fan-out failed; closed after this epoll batch
  Bytes in;               // unparsed input carried over between reads
  Bytes out;              // what a short send() left behind
};

// Copies n payload bytes from src to dst, unmasking them with `key`, 8 bytes
// at a time. The key repeats every 4 bytes, so a 64-bit word of it applies at
// every multiple of 8 whatever the byte order.
void UnmaskCopy(uint8_t* dst, const uint8_t* src, size_t n, const uint8_t* key) {
  uint32_t k32;
  std::memcpy(&k32, key, 4);
  uint64_t k64 = (uint64_t{k32} << 32) | k32;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= k64;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ key[i & 3];
}

// Writes a server (unmasked) frame header; returns its size (2, 4 or 10).
size_t WriteHeader(uint8_t* out, uint8_t first_byte, uint64_t len) {
  out[0] = first_byte;
  if (len < 126) {
    out[1] = static_cast<uint8_t>(len);
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(len >> 8);
    out[3] = static_cast<uint8_t>(len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(len >> (56 - 8 * i));
  return 10;
}

// Finds the value of header `name` (case-insensitive) in an HTTP request head.
std::string_view FindHeader(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t line = pos + 2;
    size_t eol = head.find("\r\n", line);
    if (eol == std::string_view::npos)
      break;
    std::string_view l = head.substr(line, eol - line);
    if (l.size() > name.size() && l[name.size()] == ':' &&
        strncasecmp(l.data(), name.data(), name.size()) == 0) {
      std::string_view v = l.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = eol;
  }
  return {};
}

class Server {
 public:
  Server(size_t max_frame, bool broadcast) : max_frame_(max_frame), broadcast_(broadcast) {
    rbuf_.Reserve(kReadBufSize);
  }

  // Binds and listens on host:port; returns false with a message on stderr.
  bool Listen(const std::string& host, int port);
  // Runs forever (until a fatal epoll error).
  int Run();

 private:
  void OnAcceptable();
  void OnReadable(Conn* c);
  void OnWritable(Conn* c);
  // Parses data[0, len): the upgrade request, then frames, appending replies
  // to wbuf_ at wlen_. Returns the bytes consumed, or -1 to drop the
  // connection.
  int64_t Process(Conn* c, const uint8_t* data, size_t len);
  int64_t Handshake(Conn* c, const uint8_t* data, size_t len);
  size_t EchoFrames(Conn* c, const uint8_t* data, size_t len, bool* bad);
  // Sends wbuf_[0, wlen_) with one send(); keeps any remainder in c->out.
  void Flush(Conn* c);
  // --broadcast: sends bbuf_[0, blen_) to every upgraded connection but `from`.
  void Broadcast(const Conn* from);
  // Sends or queues `len` bytes to `c`; false if `c` must be dropped.
  bool SendOrQueue(Conn* c, const uint8_t* data, size_t len);
  void CloseConn(Conn* c);
  void Watch(Conn* c, uint32_t events);

  size_t max_frame_;
  bool broadcast_;
  int epfd_ = -1;
  int lfd_ = -1;
  Bytes rbuf_;  // every read lands here first (kReadBufSize)
  Bytes wbuf_;  // replies to one read, sent with one send()
  size_t wlen_ = 0;
  Bytes bbuf_;  // --broadcast: the data frames of one read, framed for the others
  size_t blen_ = 0;
  std::vector<Conn*> peers_;   // --broadcast: upgraded connections
  std::vector<Conn*> doomed_;  // --broadcast: peers a fan-out failed to reach
};

bool Server::Listen(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "echo_reference: not an IPv4 address: %s\n", host.c_str());
    return false;
  }
  lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (lfd_ < 0 || setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(lfd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(lfd_, SOMAXCONN) != 0) {
    std::fprintf(stderr, "echo_reference: listen on %s:%d: %s\n", host.c_str(), port,
                 std::strerror(errno));
    return false;
  }
  socklen_t alen = sizeof(addr);
  if (getsockname(lfd_, reinterpret_cast<sockaddr*>(&addr), &alen) != 0)
    return false;
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // null marks the listening socket
  if (epfd_ < 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, lfd_, &ev) != 0) {
    std::fprintf(stderr, "echo_reference: epoll: %s\n", std::strerror(errno));
    return false;
  }
  std::fprintf(stderr, "listening on %s:%d\n", host.c_str(), ntohs(addr.sin_port));
  std::fflush(stderr);
  return true;
}

int Server::Run() {
  epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(epfd_, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      std::fprintf(stderr, "echo_reference: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    // Each fd appears at most once per batch, so closing a Conn in its own
    // event cannot leave a stale pointer in a later one.
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c != nullptr && c->doomed)
        continue;
      if (c == nullptr) {
        OnAcceptable();
      } else if (!c->out.empty()) {
        OnWritable(c);  // EPOLLOUT, or EPOLLERR/EPOLLHUP: send() tells which
      } else {
        OnReadable(c);  // EPOLLIN, EPOLLERR or EPOLLHUP: read() tells which
      }
    }
    for (Conn* c : doomed_) CloseConn(c);
    doomed_.clear();
  }
}

void Server::OnAcceptable() {
  for (;;) {
    int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        std::fprintf(stderr, "echo_reference: accept: %s\n", std::strerror(errno));
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto* c = new Conn;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      CloseConn(c);
  }
}

void Server::OnReadable(Conn* c) {
  // Small carry-overs are copied in front of the shared buffer; a frame too
  // big for it is assembled in the connection's own buffer instead.
  size_t have = c->in.size();
  bool own = have > 0 && std::max<uint64_t>(c->need, have) > kReadBufSize / 2;
  uint8_t* base = rbuf_.data();
  size_t cap = kReadBufSize;
  if (own) {
    c->in.Reserve(std::max<uint64_t>(c->need, have + kReadBufSize));
    base = c->in.data();
    cap = c->in.capacity();
  } else if (have > 0) {
    std::memcpy(base, c->in.data(), have);
  }
  ssize_t n = read(c->fd, base + have, cap - have);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    CloseConn(c);  // EOF or error
    return;
  }
  size_t total = have + static_cast<size_t>(n);
  // Replies are never longer than the input (a reply header is at least 4
  // bytes shorter than the masked request's), plus the 101 response.
  wbuf_.Reserve(total + 256);
  wlen_ = 0;
  if (broadcast_) {
    bbuf_.Reserve(total);
    blen_ = 0;
  }
  int64_t used = Process(c, base, total);
  if (used < 0) {
    CloseConn(c);
    return;
  }
  size_t left = total - static_cast<size_t>(used);
  if (own) {
    c->in.SetSize(total);
    c->in.Consume(static_cast<size_t>(used));
  } else if (left > 0) {
    c->in.Assign(base + used, left);
  } else {
    c->in.SetSize(0);
  }
  if (c->in.empty() && c->in.capacity() > kReadBufSize)
    c->in.Release();
  if (blen_ > 0)
    Broadcast(c);
  Flush(c);
}

int64_t Server::Process(Conn* c, const uint8_t* data, size_t len) {
  size_t used = 0;
  if (!c->upgraded) {
    int64_t n = Handshake(c, data, len);
    if (n <= 0)
      return n;
    used = static_cast<size_t>(n);
  }
  bool bad = false;
  used += EchoFrames(c, data + used, len - used, &bad);
  return bad ? -1 : static_cast<int64_t>(used);
}

// Returns the size of the request head once complete (and queues the 101),
// 0 while it is incomplete, -1 to drop the connection.
int64_t Server::Handshake(Conn* c, const uint8_t* data, size_t len) {
  std::string_view text(reinterpret_cast<const char*>(data), len);
  size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return len > kMaxRequestHeader ? -1 : 0;
  std::string_view key = FindHeader(text.substr(0, end + 2), "Sec-WebSocket-Key");
  if (key.empty()) {
    static constexpr char kBad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)send(c->fd, kBad, sizeof(kBad) - 1, MSG_NOSIGNAL);  // best effort
    return -1;
  }
  std::string src(key);
  src += kWsGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(src.data()), src.size(), digest);
  unsigned char accept[32];  // base64 of 20 bytes: 28 characters and a NUL
  EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
  int n = std::snprintf(reinterpret_cast<char*>(wbuf_.data()), 256,
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n\r\n",
                        reinterpret_cast<const char*>(accept));
  wlen_ = static_cast<size_t>(n);
  c->upgraded = true;
  if (broadcast_) {
    c->peer = peers_.size();
    peers_.push_back(c);
  }
  return static_cast<int64_t>(end + 4);
}

// Echoes every complete frame in data[0, len) into wbuf_; returns the bytes
// consumed. Sets c->need when a frame's header is in but its payload is not.
size_t Server::EchoFrames(Conn* c, const uint8_t* data, size_t len, bool* bad) {
  size_t pos = 0;
  c->need = 0;
  while (!c->closing && len - pos >= 2) {
    const uint8_t* p = data + pos;
    uint8_t len7 = p[1] & 0x7F;
    bool masked = (p[1] & 0x80) != 0;
    size_t hdr = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (len - pos < hdr)
      break;
    uint64_t plen = len7;
    if (len7 == 126) {
      plen = (uint64_t{p[2]} << 8) | p[3];
    } else if (len7 == 127) {
      plen = 0;
      for (int i = 0; i < 8; ++i) plen = (plen << 8) | p[2 + i];
    }
    if (plen > max_frame_) {
      *bad = true;  // over the buffer cap (this also rejects a 64-bit length with the top bit)
      return pos;
    }
    if (len - pos - hdr < plen) {
      c->need = hdr + plen;
      break;
    }
    // --broadcast: data frames go to the others, control frames back.
    bool fan_out = broadcast_ && (p[0] & 0x08) == 0;
    size_t& olen = fan_out ? blen_ : wlen_;
    uint8_t* out = (fan_out ? bbuf_ : wbuf_).data() + olen;
    size_t out_hdr = WriteHeader(out, p[0], plen);
    if (masked) {
      UnmaskCopy(out + out_hdr, p + hdr, plen, p + hdr - 4);
    } else {
      std::memcpy(out + out_hdr, p + hdr, plen);
    }
    olen += out_hdr + plen;
    pos += hdr + plen;
    if ((p[0] & 0x0F) == 0x8)
      c->closing = true;  // echo the close, then hang up
  }
  return pos;
}

void Server::Flush(Conn* c) {
  if (wlen_ > 0) {
    ssize_t n = send(c->fd, wbuf_.data(), wlen_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        CloseConn(c);
        return;
      }
      n = 0;
    }
    if (static_cast<size_t>(n) < wlen_) {
      c->out.Assign(wbuf_.data() + n, wlen_ - static_cast<size_t>(n));
      wlen_ = 0;
      Watch(c, EPOLLOUT);
      return;
    }
    wlen_ = 0;
  }
  if (c->closing)
    CloseConn(c);
}

void Server::Broadcast(const Conn* from) {
  for (Conn* peer : peers_) {
    if (peer != from && !peer->doomed && !SendOrQueue(peer, bbuf_.data(), blen_)) {
      // Closed once the epoll batch is done: a later event of this batch
      // may point at it, and closing edits peers_.
      peer->doomed = true;
      doomed_.push_back(peer);
    }
  }
  blen_ = 0;
}

bool Server::SendOrQueue(Conn* c, const uint8_t* data, size_t len) {
  if (!c->out.empty()) {
    if (c->out.size() + len > kMaxBacklog)
      return false;  // a consumer this slow would only grow the backlog
    c->out.Append(data, len);
    return true;
  }
  ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return false;
    n = 0;
  }
  if (static_cast<size_t>(n) < len) {
    c->out.Assign(data + n, len - static_cast<size_t>(n));
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    return epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) == 0;
  }
  return true;
}

void Server::OnWritable(Conn* c) {
  ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      return;
    CloseConn(c);
    return;
  }
  c->out.Consume(static_cast<size_t>(n));
  if (!c->out.empty())
    return;
  c->out.Release();
  if (c->closing) {
    CloseConn(c);
    return;
  }
  Watch(c, EPOLLIN);
}

void Server::Watch(Conn* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) != 0)
    CloseConn(c);
}

void Server::CloseConn(Conn* c) {
  if (c->peer != kNoPeer) {
    Conn* last = peers_.back();
    peers_[c->peer] = last;
    last->peer = c->peer;
    peers_.pop_back();
  }
  close(c->fd);  // also removes it from the epoll set
  delete c;
}

int Usage() {
  std::fprintf(stderr,
               "usage: echo_reference --listen HOST:PORT [--max-frame BYTES] [--broadcast]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  size_t max_frame = kDefaultMaxFrame;
  bool broadcast = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--max-frame" && i + 1 < argc) {
      max_frame = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--broadcast") {
      broadcast = true;
    } else {
      return Usage();
    }
  }
  size_t colon = listen.rfind(':');
  if (listen.empty() || colon == std::string::npos || max_frame == 0)
    return Usage();
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || end == listen.c_str() + colon + 1 || port < 0 || port > 65535) {
    return Usage();
  }
  signal(SIGPIPE, SIG_IGN);
  Server server(max_frame, broadcast);
  if (!server.Listen(listen.substr(0, colon), static_cast<int>(port)))
    return 1;
  return server.Run();
}
