// Session: the protocol layer of one shard (net::ShardHandler). It turns
// bytes into HTTP requests and WebSocket messages and answers them: the
// health, readiness and metrics endpoints, the WebSocket handshake, /echo,
// the messaging protocol on /ws and on the SSE fallback (/sse + /send), and
// the HTTP API. Runs on its shard's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/shard.h"
#include "http/request_parser.h"
#include "http/router.h"
#include "proto/command.h"
#include "core/hub.h"
#include "core/rate_limiter.h"
#include "server/config.h"
#include "server/conn.h"

namespace longlink::server {

class Server;

class Session : public net::ShardHandler, public core::Sink {
 public:
  Session(Server* server, net::Shard* shard);
  ~Session() override;
  void SetHub(core::Hub* hub) { hub_ = hub; }

  net::Connection* NewConnection() override;
  void OnData(net::Connection* c, uint8_t* data, size_t len) override;
  void OnEof(net::Connection* c) override;
  void OnTick(net::Connection* c, uint32_t now_ms) override;
  void OnClosed(net::Connection* c) override;
  void OnMessage(net::ShardMsg* msg) override;
  void OnShutdown() override;
  void OnLoopEnd() override;
  void OnQuiesce() override;
  void OnDrained(net::Connection* c) override;

  // core::Sink: how the messaging core writes to this shard's connections.
  void Write(void* conn, std::string_view json) override;
  void SendDone(void* conn) override;
  void WriteShared(void* conn, net::SharedBuf* json) override;
  void Close(void* conn, uint16_t code, const char* reason) override;
  void HttpRespond(void* conn, int status, std::string_view json) override;

  // WebSocket output (ws_session.cc).
  void SendFrame(Conn* c, uint8_t opcode, const uint8_t* data, size_t len);
  // Queues a close frame after what is pending and closes once it is written.
  void CloseWs(Conn* c, uint16_t code, const char* reason);
  // Ends a messaging connection with `code`: a close frame on /ws, a close
  // event on an SSE stream (sse_session.cc), after what is pending.
  void EndSession(Conn* c, uint16_t code, const char* reason);

 private:
  friend struct WsHandler;
  // http_session.cc
  void OnHttpData(Conn* c, uint8_t* data, size_t len);
  // Reading again after a pause (HttpState::backlog): the bytes kept first.
  void ResumeHttp(Conn* c);
  // Returns false when the connection is done with HTTP (closed or upgraded).
  bool HandleRequest(Conn* c, const http::Request& req, bool* upgraded);
  void HttpError(Conn* c, int status, const char* code, const char* msg, bool close,
                 std::string_view extra_headers = {});
  void Respond(Conn* c, const http::Request& req, int status, std::string_view type,
               std::string_view body);
  bool Upgrade(Conn* c, const http::Request& req, ConnKind kind);
  void TickHttp(Conn* c, uint32_t now_ms);
  // ws_session.cc
  void OnWsData(Conn* c, uint8_t* data, size_t len);
  void TickWs(Conn* c, uint32_t now_ms);
  // False (and the connection closing with 4008) when c is a slow consumer.
  bool OutbufOk(Conn* c);
  // im_session.cc: the messaging protocol on /ws.
  bool OnImMessage(Conn* c, uint8_t opcode, uint8_t* data, size_t len);
  bool OnHello(Conn* c, const proto::Command& cmd);
  // Judges a hello's members and verifies its token; kOk with *user set, or
  // the error to answer (section 2).
  proto::ParseStatus Authenticate(const proto::HelloArgs& hello, std::string* user);
  // A parsed frame of a session that said hello (/ws or SSE): its error, or
  // the command.
  void OnFrame(Conn* c, const proto::ParseStatus& st, const proto::Command& cmd);
  void SendRateLimited(Conn* c, const proto::Command& dropped, uint32_t retry_ms);
  void OnCommand(Conn* c, const proto::Command& cmd);
  // A send to the hub; `refused` (ParseStatus::unless_dup): its error, which
  // the hub answers unless the cmid is a repeat.
  void SubmitSend(Conn* c, const proto::Command& cmd, const proto::ParseStatus* refused);
  // OnFrame, or keeps the frame's text for later when it must wait for the
  // connection's sends before it (section 1.1; /ws and SSE).
  void HandleOrHold(Conn* c, const proto::ParseStatus& st, const proto::Command& cmd,
                    const char* data, size_t len);
  // Handles the held frames that no longer wait, in order.
  void ReleaseHeld(Conn* c);
  // One server frame to a messaging connection (/ws text frame or SSE event).
  void SendJson(Conn* c, std::string_view json);
  void CloseIm(Conn* c);
  // sse_session.cc: the SSE fallback (PROTOCOL.md section 1.2).
  // GET /sse: answers the hello's error, or turns `c` into an event stream
  // holding a new session (true).
  bool OpenSse(Conn* c, const http::Request& req);
  // POST /send: answered now when the session lives on this shard, else
  // forwarded to its shard (c->http->waiting is then set).
  void OnSendPost(Conn* c, const http::Request& req);
  // Hands one POSTed frame to the SSE session `id` of this shard; returns the
  // status for the POST (202, 404 unknown session, 400 not a JSON object).
  // `cap` as for proto::CommandParser::Parse.
  int PostFrame(std::string_view id, const char* data, size_t len, size_t cap);
  void OnSsePost(net::ShardMsg* msg);
  // Posts `msg` to shard `shard`, batched per loop turn (flushed in OnLoopEnd).
  void Forward(int shard, net::ShardMsg* msg);
  void SseWrite(Conn* c, const char* json, size_t len);
  void SseWriteShared(Conn* c, net::SharedBuf* json);
  void CloseSse(Conn* c, uint16_t code, const char* reason);
  void TickSse(Conn* c, uint32_t now_ms);
  // api.cc: the HTTP API (PROTOCOL.md section 9).
  void HandleApi(Conn* c, const http::Request& req);
  // An /api/ request whose Authorization is not the API key.
  bool ApiKeyMissing(const http::Request& req) const;
  void ApiError(Conn* c, const http::Request& req, int status, const char* code, const char* msg,
                std::string_view extra_headers = {});
  void ApiWait(Conn* c, const http::Request& req, core::Op* op);

  Server* server_;
  net::Shard* shard_;
  const Config& cfg_;
  http::ParseLimits limits_;
  http::Router router_;
  std::string scratch_;  // response building, reused
  core::Hub* hub_ = nullptr;
  std::unique_ptr<proto::CommandParser> parser_;
  core::RateLimiter limiter_;
  // SSE streams of this shard by session id (the welcome's `session`).
  std::unordered_map<std::string, Conn*, core::StringHash, std::equal_to<>> sse_;
  // Frames held behind their connection's unanswered sends (kHolding).
  std::unordered_map<Conn*, std::deque<std::string>> held_;
  Conn* releasing_ = nullptr;  // the connection ReleaseHeld is handling
  // Messages of ours to other shards (forwarded POST /send frames and their
  // answers); created on first use, flushed after the hub's outbox.
  std::unique_ptr<net::Outbox<net::ShardMsg>> outbox_;
  bool quiesced_ = false;  // OnQuiesce ran: no loop end will flush outbox_ any more
};

// Queued HTTP responses past which a connection's later pipelined requests
// wait, reading paused, until the client has taken them (Session::OnDrained).
inline constexpr size_t kHttpHeldOutput = 256 * 1024;

// Shard message kinds of the protocol layer, apart from core::MsgKind's.
inline constexpr int kSsePostMsg = 1000;

}  // namespace longlink::server
