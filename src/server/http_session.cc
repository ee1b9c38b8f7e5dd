// The HTTP half of Session: requests parsed one at a time (pipelining keeps
// its order because responses are written in turn, gathered by the shard's
// cork into one write per read), the endpoints of PROTOCOL.md section 1, the
// WebSocket upgrade, and the slow-request timeout.
#include <algorithm>
#include <string>

#include "base/log.h"
#include "net/shard.h"
#include "ops/metrics.h"
#include "http/response.h"
#include "http/upgrade.h"
#include "server/server.h"
#include "server/session.h"
#include "server/static_files.h"

namespace longlink::server {

namespace {

enum Route : int {
  kRouteHealthz,
  kRouteReadyz,
  kRouteMetrics,
  kRouteEcho,
  kRouteWs,
  kRouteApi,
  kRouteWeb,
  kRouteSse,
  kRouteSend,
};

}  // namespace

Session::Session(Server* server, net::Shard* shard)
    : server_(server),
      shard_(shard),
      cfg_(server->config()),
      parser_(std::make_unique<proto::CommandParser>(cfg_.max_body)),
      limiter_(uint32_t(cfg_.rate)) {
  limits_.max_header_bytes = cfg_.max_header;
  limits_.max_body = cfg_.max_message;
  router_.Add(http::Method::kGet, "/healthz", kRouteHealthz);
  router_.Add(http::Method::kGet, "/readyz", kRouteReadyz);
  router_.Add(http::Method::kGet, "/metrics", kRouteMetrics);
  if (cfg_.echo) router_.Add(http::Method::kGet, "/echo", kRouteEcho);
  router_.Add(http::Method::kGet, "/ws", kRouteWs);
  router_.Add(http::Method::kGet, "/sse", kRouteSse);
  router_.Add(http::Method::kPost, "/send", kRouteSend);
  if (cfg_.web) {  // the web client (section 11): "/", "/app.js", ...
    for (const StaticFile& f : StaticFiles()) router_.Add(http::Method::kGet, f.path, kRouteWeb);
  }
  // Every method: /api/ answers 401 before any other check (section 9).
  for (http::Method m : {http::Method::kGet, http::Method::kPost, http::Method::kPut,
                         http::Method::kDelete, http::Method::kOptions, http::Method::kOther}) {
    router_.Add(m, "/api/*", kRouteApi);
  }
}

Session::~Session() = default;

net::Connection* Session::NewConnection() {
  auto* c = new Conn();
  c->kind = kHttp;
  c->http = new HttpState(limits_);
  c->http->progress_ms = shard_->now_ms();
  return c;
}

void Session::OnData(net::Connection* nc, uint8_t* data, size_t len) {
  auto* c = static_cast<Conn*>(nc);
  if (c->draining()) return;  // closing: input is discarded
  if (c->is_ws()) {
    OnWsData(c, data, len);
  } else if (c->kind == kHttp) {
    OnHttpData(c, data, len);
  }  // an SSE stream reads nothing more: its client frames come as POST /send
}

void Session::OnHttpData(Conn* c, uint8_t* data, size_t len) {
  size_t off = 0;
  while (off < len && !c->draining()) {
    HttpState* st = c->http;
    const bool waiting = st->waiting.valid();
    if (waiting || c->pending_bytes() > kHttpHeldOutput) {
      // An API request is in flight, or more responses are queued than the
      // client has taken: keep the rest, reading paused, for after the
      // response (HttpRespond) or the drain (OnDrained). Responses keep their
      // order, and a client that pipelines requests without reading their
      // answers holds at most this much of them.
      st->backlog.append(reinterpret_cast<const char*>(data) + off, len - off);
      shard_->PauseReading(c);
      if (!waiting) shard_->NotifyWhenDrained(c);
      return;
    }
    size_t used = 0;
    auto state = st->parser.Feed(reinterpret_cast<const char*>(data) + off, len - off, &used);
    off += used;
    if (state == http::RequestParser::State::kNeedMore) {
      if (st->parser.TakeContinue()) {
        if (ApiKeyMissing(st->parser.request())) {
          // The answer is known from the head (401 before any other check):
          // no 100 Continue, so the client does not send a body for nothing.
          HttpError(c, 401, "unauthorized", "missing or wrong API key", true);
          return;
        }
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        shard_->Send(c, kContinue.data(), kContinue.size());
      }
      if (!st->timing && st->parser.in_progress()) {
        st->timing = true;
        st->request_started_ms = shard_->now_ms();
      }
      return;
    }
    if (state == http::RequestParser::State::kError) {
      int status = st->parser.error_status();
      if (status == 413 && ApiKeyMissing(st->parser.request())) {
        // PROTOCOL.md 9: an /api/ request without the key is 401 before any
        // other check, its size included.
        HttpError(c, 401, "unauthorized", "missing or wrong API key", true);
        return;
      }
      HttpError(c, status, status == 413 ? "too_large" : "bad_request", st->parser.error_reason(),
                true);
      return;
    }
    st->timing = false;
    shard_->metrics().http_requests_total.Add();
    bool upgraded = false;
    bool go_on = HandleRequest(c, st->parser.request(), &upgraded);
    if (upgraded) {
      // What follows the upgrade request is already WebSocket data.
      if (off < len) OnWsData(c, data + off, len - off);
      return;
    }
    if (!go_on) return;
    st->parser.Next();
  }
}

void Session::OnDrained(net::Connection* nc) {
  auto* c = static_cast<Conn*>(nc);
  if (c->kind != kHttp || c->draining() || c->http->waiting.valid()) return;
  c->http->progress_ms = shard_->now_ms();
  ResumeHttp(c);
}

void Session::ResumeHttp(Conn* c) {
  shard_->ResumeReading(c);
  if (c->http->backlog.empty()) return;
  std::string rest;
  rest.swap(c->http->backlog);
  OnHttpData(c, reinterpret_cast<uint8_t*>(rest.data()), rest.size());
}

void Session::Respond(Conn* c, const http::Request& req, int status, std::string_view type,
                      std::string_view body) {
  scratch_.clear();
  http::AppendResponse(&scratch_, status, type, body, req.keep_alive, {},
                       req.method == http::Method::kHead);
  shard_->Send(c, scratch_.data(), scratch_.size());
  if (status >= 400) shard_->metrics().http_errors_total.Add();
}

void Session::HttpError(Conn* c, int status, const char* code, const char* msg, bool close,
                        std::string_view extra_headers) {
  scratch_.clear();
  http::AppendJsonError(&scratch_, status, code, msg, !close, extra_headers);
  shard_->Send(c, scratch_.data(), scratch_.size());
  shard_->metrics().http_errors_total.Add();
  if (close) shard_->CloseAfterFlush(c);
}

bool Session::HandleRequest(Conn* c, const http::Request& req, bool* upgraded) {
  http::Router::Match m = router_.Find(req.method, req.path);
  bool close = !req.keep_alive;
  if (m.id == http::Router::kNotFound) {
    HttpError(c, 404, "not_found", "no such path", close);
    return !close;
  }
  if (m.id == http::Router::kMethodNotAllowed) {
    std::string allow = "Allow: " + m.allow + "\r\n";
    HttpError(c, 405, "bad_request", "method not allowed", close, allow);
    return !close;
  }
  switch (m.id) {
    case kRouteHealthz:
      Respond(c, req, 200, "text/plain", "ok\n");
      break;
    case kRouteReadyz:
      if (server_->ready()) {
        Respond(c, req, 200, "text/plain", "ready\n");
      } else {
        Respond(c, req, 503, "text/plain", "not ready\n");
      }
      break;
    case kRouteMetrics: {
      std::string body;
      ops::RenderPrometheus(server_->metrics(), &body);
      Respond(c, req, 200, "text/plain; version=0.0.4", body);
      break;
    }
    case kRouteEcho:
      *upgraded = Upgrade(c, req, kEcho);
      return false;
    case kRouteWs:
      *upgraded = Upgrade(c, req, kIm);
      return false;
    case kRouteWeb: {
      scratch_.clear();
      std::string_view body = AppendStaticResponse(&scratch_, *FindStaticFile(req.path), req);
      iovec iov[2] = {{scratch_.data(), scratch_.size()},
                      {const_cast<char*>(body.data()), body.size()}};
      shard_->Send(c, iov, body.empty() ? 1 : 2);
      break;
    }
    case kRouteSse:
      if (OpenSse(c, req)) return false;  // the connection is the event stream now
      return !close && !c->draining();
    case kRouteSend:
      OnSendPost(c, req);
      if (c->http->waiting.valid()) return true;  // answered by the session's shard
      break;
    case kRouteApi:
      HandleApi(c, req);
      if (c->http != nullptr && c->http->waiting.valid()) return true;  // answered later
      return !close && !c->draining();
  }
  if (close) shard_->CloseAfterFlush(c);
  return !close;
}

bool Session::Upgrade(Conn* c, const http::Request& req, ConnKind kind) {
  http::UpgradeResult r = http::AcceptUpgrade(req, kind == kEcho ? "" : "longlink.v1");
  if (r.status != 101) {
    shard_->Send(c, r.response.data(), r.response.size());
    shard_->metrics().http_errors_total.Add();
    shard_->CloseAfterFlush(c);
    return false;
  }
  if (!server_->TryAddSocket()) {
    shard_->metrics().overloaded_total.Add();
    HttpError(c, 503, "overloaded", "too many connections", true);
    return false;
  }
  shard_->Send(c, r.response.data(), r.response.size());
  delete c->http;
  new (&c->rx) ws::Receiver(ws::Role::kServer);
  c->kind = kind;
  c->user_flags = 0;
  if (kind == kIm) {
    c->im = new ImState();
    c->im->opened_ms = shard_->now_ms();
    limiter_.Init(&c->im->rate, c->im->opened_ms);
  }
  shard_->metrics().ws_upgrades_total.Add();
  shard_->metrics().ws_connections.Add();
  return true;
}

void Session::TickHttp(Conn* c, uint32_t now_ms) {
  HttpState* st = c->http;
  if (st->waiting.valid()) return;  // our answer is late, not the client
  if (st->timing) {
    if (now_ms - st->request_started_ms >= cfg_.request_timeout_s * 1000) {
      shard_->metrics().request_timeouts_total.Add();
      HttpError(c, 408, "bad_request", "request not completed in time", true);
    }
  } else {
    // Idle: nothing read, and nothing of ours taken, for keepalive_timeout.
    const size_t pending = c->pending_bytes();
    if (pending < st->last_pending) st->progress_ms = now_ms;
    st->last_pending = pending;
    const uint32_t idle = std::min(now_ms - c->last_rx_ms, now_ms - st->progress_ms);
    if (idle >= cfg_.keepalive_timeout_s * 1000) shard_->CloseNow(c);
  }
}

void Session::OnEof(net::Connection* c) { shard_->CloseNow(c); }

void Session::OnTick(net::Connection* nc, uint32_t now_ms) {
  auto* c = static_cast<Conn*>(nc);
  if (c->is_ws()) {
    TickWs(c, now_ms);
  } else if (c->kind == kSse) {
    TickSse(c, now_ms);
  } else {
    TickHttp(c, now_ms);
  }
}

void Session::OnClosed(net::Connection* nc) {
  auto* c = static_cast<Conn*>(nc);
  if (c->is_ws()) {
    CloseIm(c);
    c->rx.~Receiver();
    server_->RemoveSocket();
    shard_->metrics().ws_connections.Sub();
  } else if (c->kind == kSse) {
    CloseIm(c);
    server_->RemoveSocket();
    shard_->metrics().sse_streams.Sub();
  } else {
    if (c->http->waiting.valid()) hub_->CloseHttp(c->http->waiting);
    delete c->http;
  }
  delete c;
}

void Session::OnMessage(net::ShardMsg* msg) {
  if (msg->kind == kSsePostMsg) {
    OnSsePost(msg);
  } else {
    hub_->OnMessage(msg);
  }
}

void Session::OnLoopEnd() {
  hub_->OnLoopEnd();
  // Ours after the hub's: a POST /send is answered after what its frame caused.
  if (outbox_ && outbox_->pending() > 0) outbox_->Flush();
  auto& m = shard_->metrics();
  m.acks_pending.Set(hub_->pending_pushes());
  m.redeliveries_total.Set(hub_->redeliveries());
  m.receipts_total.Set(hub_->receipts());
}

void Session::OnQuiesce() {
  hub_->Shutdown();
  quiesced_ = true;
  if (outbox_ && outbox_->pending() > 0) outbox_->Flush();
}

void Session::OnShutdown() {
  shard_->ForEach([&](net::Connection* nc) {
    auto* c = static_cast<Conn*>(nc);
    if (c->is_ws() || c->kind == kSse) {
      EndSession(c, ws::close_code::kGoingAway, "server shutting down");
    } else {
      shard_->CloseAfterFlush(c);
    }
  });
}

}  // namespace longlink::server
