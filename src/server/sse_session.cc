// The SSE fallback of PROTOCOL.md section 1.2, for networks that block
// WebSocket. GET /sse is the hello: its query names the user (a token, or
// under --auth none a user name) and the device, and the answer is a
// text/event-stream carrying every server frame as one event
// "data: <json>\n\n", the welcome first. The stream's connection holds an
// ordinary core::Session, so the hub writes to it through the Sink as to a
// WebSocket and only the framing differs (SseWrite). A comment line ":" goes
// out after heartbeat_ms without output. Where a WebSocket would get a close
// frame (4009 replaced, 4008 slow consumer, 4029 rate abuse, 1001 shutdown)
// the stream gets a last event {"t":"close","code":N,"reason":"..."} and ends.
// The session ends when the stream does.
//
// Client frames come as POST /send?session=<id>, one frame per request, on
// any connection of any shard. A session id begins with the number of the
// shard that holds the session (core/hub_conn.cc), so a POST that lands on
// another shard is forwarded there as an SsePost (through outbox_, batched
// per loop turn, no locks), and its connection waits with reading paused,
// like an API request, for the status that comes back as a core::Reply; the
// POSTs pipelined on one connection are thus taken one after the other, in
// order. On the session's shard a frame goes the way of a /ws frame (rate
// limit, parse, OnFrame), so one thread hands a session's frames to the hub,
// in the order their POSTs were answered. 202 says the frame was taken, not
// that it succeeded: its reply or error comes on the stream.
//
// Runs on the shard's thread only, like the rest of Session.
#include <sys/uio.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "net/mailbox.h"
#include "net/shard.h"
#include "http/response.h"
#include "proto/errors.h"
#include "proto/ids.h"
#include "proto/reply.h"
#include "ws/frame_format.h"
#include "core/ops.h"
#include "server/server.h"
#include "server/session.h"

namespace longlink::server {

namespace {

using proto::MemberState;

// simdjson reads up to this many bytes past a frame (SIMDJSON_PADDING).
constexpr size_t kParsePadding = 64;

// A POST /send frame on its way to the shard that holds its session; freed
// there.
struct SsePost : net::ShardMsg {
  std::string session;
  // The body followed by kParsePadding zero bytes, so that it is parsed in
  // place.
  std::string frame;
  size_t len = 0;
  core::ConnRef reply_to;  // the waiting POST: a hub HTTP slot on its shard
};

// The stream's response head. No length: the body is the stream and ends
// when the connection does (Connection: close). X-Accel-Buffering keeps
// nginx-style proxies from holding events back.
constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\n"
    "Connection: close\r\n"
    "\r\n";

constexpr std::string_view kNotFoundBody = R"({"error":"not_found","msg":"unknown session"})";
constexpr std::string_view kNotObjectBody =
    R"({"error":"bad_request","msg":"the body must be one JSON object"})";

// The body of POST /send's answer with `status`.
std::string_view PostAnswer(int status) {
  switch (status) {
    case 202:
      return {};
    case 400:
      return kNotObjectBody;
    default:
      return kNotFoundBody;
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The shard that holds session `id`: the hex number before its first '-'
// (core::Hub::OpenSession), or -1 when there is none below `nshards`.
int ShardOfSession(std::string_view id, int nshards) {
  size_t dash = id.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 4) return -1;
  int shard = 0;
  for (char c : id.substr(0, dash)) {
    int d = HexDigit(c);
    if (d < 0) return -1;
    shard = shard * 16 + d;
  }
  return shard < nshards ? shard : -1;
}

// The value of query parameter `key`, decoded; nullopt when absent.
std::optional<std::string> Param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view p = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (p.substr(0, key.size()) != key) continue;
    if (p.size() == key.size()) return std::string();
    if (p[key.size()] == '=') return http::PercentDecode(p.substr(key.size() + 1));
  }
  return std::nullopt;
}

// {"error":"<code>","msg":"<msg>"} (PROTOCOL.md section 9's error body).
std::string ErrorBody(const char* code, const char* msg) {
  std::string out = "{\"error\":";
  proto::AppendJsonString(&out, code);
  out += ",\"msg\":";
  proto::AppendJsonString(&out, msg);
  out += '}';
  return out;
}

bool HasLineBreak(const char* p, size_t n) {
  return std::memchr(p, '\n', n) != nullptr || std::memchr(p, '\r', n) != nullptr;
}

}  // namespace

bool Session::OpenSse(Conn* c, const http::Request& req) {
  // The hello's members, from the query; `v` is optional here (absent: 1).
  std::optional<std::string> v = Param(req.query, "v"), token = Param(req.query, "token"),
                             user = Param(req.query, "user"),
                             device = Param(req.query, "device");
  proto::HelloArgs hello;
  hello.v = !v || *v == "1" ? MemberState::kValid : MemberState::kInvalid;
  if (token) {
    hello.token = MemberState::kValid;
    hello.token_value = *token;
  }
  if (user) {
    hello.user = proto::IsValidId(*user) ? MemberState::kValid : MemberState::kInvalid;
    hello.user_value = *user;
  }
  if (device) {
    hello.device = proto::IsValidId(*device) ? MemberState::kValid : MemberState::kInvalid;
    hello.device_value = *device;
  }
  // An answer other than the stream: an ordinary HTTP response (no body for
  // HEAD), the connection kept unless the request said otherwise.
  auto answer = [&](int status, std::string_view type, std::string_view body) {
    Respond(c, req, status, type, body);
    if (!req.keep_alive) shard_->CloseAfterFlush(c);
    return false;
  };
  std::string uid;
  proto::ParseStatus st = Authenticate(hello, &uid);
  if (!st.ok()) {
    // The hello's error: 401 unauthorized, 400 bad_request.
    return answer(st.code == proto::ErrorCode::kUnauthorized ? 401 : 400, "application/json",
                  ErrorBody(proto::ErrorCodeName(st.code), st.msg));
  }
  if (req.method == http::Method::kHead) return answer(200, "text/event-stream", {});
  if (!server_->TryAddSocket()) {
    shard_->metrics().overloaded_total.Add();
    return answer(503, "application/json", ErrorBody("overloaded", "too many connections"));
  }
  shard_->Send(c, kStreamHead.data(), kStreamHead.size());
  // From here on nothing is read from the connection (`req` dies with the
  // parser); it is the session's stream until it closes.
  delete c->http;
  c->http = nullptr;
  c->kind = kSse;
  c->user_flags = 0;
  c->im = new ImState();
  c->im->last_tx_ms = shard_->now_ms();
  limiter_.Init(&c->im->rate, c->im->last_tx_ms);
  // The welcome comes from the user's owner once the session is registered.
  core::Session* s = hub_->OpenSession(c, uid, hello.device_value, false, 0);
  c->im->session = s;
  sse_.emplace(s->id, c);
  shard_->metrics().sessions.Add();
  shard_->metrics().sse_streams.Add();
  return true;
}

void Session::OnSendPost(Conn* c, const http::Request& req) {
  shard_->metrics().sse_posts_total.Add();
  std::string id = http::PercentDecode(req.QueryParam("session"));
  int owner = ShardOfSession(id, server_->shard_count());
  if (owner < 0 || owner == shard_->id()) {
    int status = owner < 0 ? 404 : PostFrame(id, req.body.data(), req.body.size(), req.body.size());
    std::string_view body = PostAnswer(status);
    Respond(c, req, status, body.empty() ? "" : "application/json", body);
    return;
  }
  auto* m = new SsePost();
  m->kind = kSsePostMsg;
  m->session = std::move(id);
  m->len = req.body.size();
  m->frame.reserve(m->len + kParsePadding);
  m->frame.assign(req.body);
  m->frame.append(kParsePadding, '\0');
  HttpState* st = c->http;
  st->waiting = hub_->OpenHttp(c);
  st->keep_alive = req.keep_alive;
  m->reply_to = st->waiting;
  shard_->metrics().sse_posts_forwarded_total.Add();
  Forward(owner, m);
}

int Session::PostFrame(std::string_view id, const char* data, size_t len, size_t cap) {
  auto it = sse_.find(id);
  if (it == sse_.end()) return 404;
  Conn* c = it->second;
  // A stream that is closing holds a session that is ending: no more frames.
  if (c->draining() || (c->user_flags & kCloseSent)) return 404;
  if (len == 0) return 400;  // (and `data` may be null then)
  proto::Command cmd;
  proto::ParseStatus st = parser_->Parse(data, len, cap, &cmd);
  if (st.not_object) return 400;
  // Rate: every frame taken counts, as on /ws.
  core::RateLimiter::Decision d = limiter_.Take(&c->im->rate, shard_->now_ms());
  if (!d.allowed) {
    if (d.abuse) {
      shard_->metrics().rate_limit_closes_total.Add();
      CloseSse(c, ws::close_code::kRateAbuse, "rate limit abuse");
    } else {
      SendRateLimited(c, cmd, d.retry_ms);
    }
    return 202;
  }
  HandleOrHold(c, st, cmd, data, len);
  return 202;
}

void Session::OnSsePost(net::ShardMsg* msg) {
  auto* m = static_cast<SsePost*>(msg);
  int status = PostFrame(m->session, m->frame.data(), m->len, m->frame.size());
  auto* r = new core::Reply();
  r->kind = core::kReply;
  r->conn = m->reply_to;
  r->http = true;
  r->status = status;
  r->bytes.assign(PostAnswer(status));
  // After the hub's outbox (OnLoopEnd): what the frame caused is posted
  // before the POST is answered.
  Forward(m->reply_to.shard, r);
  delete m;
}

void Session::Forward(int shard, net::ShardMsg* msg) {
  if (!outbox_) {
    std::vector<net::Mailbox<net::ShardMsg>*> boxes;
    for (int i = 0; i < server_->shard_count(); i++) boxes.push_back(&server_->shard(i)->mailbox());
    outbox_ = std::make_unique<net::Outbox<net::ShardMsg>>(std::move(boxes));
  }
  outbox_->Add(size_t(shard), msg);
  if (quiesced_) outbox_->Flush();  // no loop end will come to flush it
}

// --- Output.

void Session::SseWrite(Conn* c, const char* json, size_t len) {
  static const char kData[] = "data: ";
  std::string flat;
  if (HasLineBreak(json, len)) {
    // Only a client's raw `body` can hold a line break, and only as JSON
    // whitespace (inside a string it would be escaped): a space means the
    // same and keeps the event on one line.
    flat.assign(json, len);
    for (char& ch : flat) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    json = flat.data();
  }
  iovec v[3] = {{const_cast<char*>(kData), sizeof(kData) - 1},
                {const_cast<char*>(json), len},
                {const_cast<char*>("\n\n"), 2}};
  shard_->Send(c, v, 3);
  c->im->last_tx_ms = shard_->now_ms();
}

void Session::SseWriteShared(Conn* c, net::SharedBuf* json) {
  const char* p = reinterpret_cast<const char*>(json->payload());
  if (HasLineBreak(p, json->payload_len())) {
    SseWrite(c, p, json->payload_len());  // a private, flattened copy
    return;
  }
  static const uint8_t kData[] = "data: ";
  shard_->SendShared(c, kData, sizeof(kData) - 1, json, json->head, json->payload_len());
  shard_->Send(c, "\n\n", 2);  // queued behind the shared frame, whatever path it took
  c->im->last_tx_ms = shard_->now_ms();
}

void Session::CloseSse(Conn* c, uint16_t code, const char* reason) {
  if (c->closed() || (c->user_flags & kCloseSent)) return;
  std::string ev = "{\"t\":\"close\",\"code\":";
  proto::AppendUint(&ev, code);
  ev += ",\"reason\":";
  proto::AppendJsonString(&ev, reason);
  ev += '}';
  SseWrite(c, ev.data(), ev.size());
  c->user_flags |= kCloseSent;
  shard_->CloseAfterFlush(c);
}

void Session::TickSse(Conn* c, uint32_t now_ms) {
  if (c->user_flags & kCloseSent) return;
  if (now_ms - c->im->last_tx_ms < cfg_.heartbeat_s * 1000) return;
  // A comment line. The blank line after it ends the block for readers that
  // split on blank lines; it dispatches nothing (an event needs data).
  shard_->Send(c, ":\n\n", 3);
  c->im->last_tx_ms = now_ms;
}

}  // namespace longlink::server
