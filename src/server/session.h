// Session: the protocol layer of one shard (net::ShardHandler). It turns
// bytes into HTTP requests and WebSocket messages and answers them: the
// health, readiness and metrics endpoints, the WebSocket handshake, and
// /echo. Runs on its shard's thread only.
#pragma once

#include <cstdint>
#include <string>

#include <memory>

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

  // core::Sink: how the messaging core writes to this shard's connections.
  void Write(void* conn, std::string_view json) override;
  void WriteShared(void* conn, net::SharedBuf* json) override;
  void Close(void* conn, uint16_t code, const char* reason) override;
  void HttpRespond(void* conn, int status, std::string_view json) override;

  // WebSocket output (ws_session.cc).
  void SendFrame(Conn* c, uint8_t opcode, const uint8_t* data, size_t len);
  // Queues a close frame after what is pending and closes once it is written.
  void CloseWs(Conn* c, uint16_t code, const char* reason);

 private:
  friend struct WsHandler;
  // http_session.cc
  void OnHttpData(Conn* c, uint8_t* data, size_t len);
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
  void OnCommand(Conn* c, const proto::Command& cmd);
  void SendJson(Conn* c, const std::string& json);
  void CloseIm(Conn* c);
  // api.cc: the HTTP API (PROTOCOL.md section 9).
  void HandleApi(Conn* c, const http::Request& req);
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
};

}  // namespace longlink::server
