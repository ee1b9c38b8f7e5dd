// Conn: one client connection as the protocol layer sees it. It starts as an
// HTTP connection (a heap HttpState with the request parser) and may become a
// WebSocket (a ws::Receiver in place of the pointer) or an SSE event stream
// (GET /sse: nothing is read from it any more, so neither). An idle WebSocket
// is this object alone: 88 bytes, the transport's 40, the receiver's 40 and
// a pointer to the messaging session state.
#pragma once

#include <cstdint>
#include <string>

#include "net/connection.h"
#include "http/request_parser.h"
#include "ws/receiver.h"
#include "core/hub.h"
#include "core/rate_limiter.h"

namespace longlink::server {

enum ConnKind : uint8_t { kHttp = 0, kEcho = 1, kIm = 2, kSse = 3 };

// Conn::user_flags bits for WebSockets (and kCloseSent for SSE streams).
enum WsFlags : uint8_t {
  kPingSent = 1 << 0,   // a heartbeat ping is out, nothing received since
  kCloseSent = 1 << 1,  // our close frame (SSE: close event) is queued; send nothing more
  kHolding = 1 << 2,    // frames wait in Session::held_ for the sends before them
};

struct HttpState {
  explicit HttpState(const http::ParseLimits& limits) : parser(limits) {}
  http::RequestParser parser;
  uint32_t request_started_ms = 0;
  bool timing = false;  // a request has begun and is not complete
  // An API request waits for another shard: later pipelined bytes wait in
  // `backlog` (reading is paused meanwhile) so responses keep their order.
  core::ConnRef waiting;
  bool keep_alive = true;  // of the waiting request
  std::string backlog;
  // The client's last progress taking our answers (the queue shrank or
  // drained), and the queue's size at the last tick: a client still taking a
  // long answer is not idle (Session::TickHttp).
  uint32_t progress_ms = 0;
  size_t last_pending = 0;
};

// A /ws connection (before hello, `session` is null) or an SSE stream (its
// session opens with the stream). 32 bytes.
struct ImState {
  core::Session* session = nullptr;
  core::RateState rate;
  union {
    uint32_t opened_ms = 0;  // /ws: when the upgrade happened (hello timeout)
    uint32_t last_tx_ms;     // SSE: when the stream was last written (heartbeat)
  };
  // Sends, joins and leaves not answered yet: a pull or sync behind them
  // waits (Session::HandleOrHold).
  uint32_t sends_in_flight = 0;
};
static_assert(sizeof(ImState) == 32, "ImState is kept per messaging connection");

struct Conn : net::Connection {
  Conn() : http(nullptr) {}
  ~Conn() {}
  bool is_ws() const { return kind == kEcho || kind == kIm; }
  union {
    HttpState* http;   // kind == kHttp; null for kSse
    ws::Receiver rx;   // is_ws()
  };
  ImState* im = nullptr;  // kind == kIm or kSse
};

static_assert(sizeof(Conn) <= 88, "an idle WebSocket must stay within 88 bytes");

}  // namespace longlink::server
