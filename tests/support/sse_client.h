// SseClient: the SSE fallback of PROTOCOL.md section 1.2 from a test's side.
// Open() sends GET /sse?<query> and reads the response head (and, for an
// answer other than 200, its body). The event stream is then read block by
// block, a block ending at a blank line ("\n\n"), and strictly: a block is
// either exactly "data: <one JSON object>" (one line) or exactly the comment
// ":"; anything else fails the read, so a framing mistake fails the test that
// meets it. Frames skipped by WaitFor are kept for later reads, as ImClient
// does. The server's last event {"t":"close","code":N,...} ends the session:
// close_code() has N and every later read fails.
//
// Client frames go as POST /send?session=<id> on a keep-alive connection of
// the client's own (Post), or on any connection a test opens (PostBytes
// builds the request).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/json.h"
#include "support/tcp_conn.h"

namespace longlink::test {

// The bytes of one `POST /send?session=<session>` with `body` (Content-Type
// application/json, Content-Length); `close` adds Connection: close.
std::string PostBytes(std::string_view session, std::string_view body, bool close = false);

class SseClient {
 public:
  // Connects and sends GET /sse?<query>, then reads the response head. True
  // when a whole answer head arrived, whatever its status (see response()).
  bool Open(uint16_t port, std::string_view query);
  // Open with ?user=U&device=D (--auth none) or ?token=T&device=D, then
  // requires a 200 text/event-stream whose first event is a welcome.
  bool Login(uint16_t port, std::string_view user, std::string_view device = {});
  bool LoginToken(uint16_t port, std::string_view token, std::string_view device = {});
  // After Open: requires the 200 event-stream head and reads the first
  // event, which must be a welcome (into welcome()).
  bool ReadWelcome(Duration timeout = kIoTimeout);

  // The answer to GET /sse: status and headers; the body for a non-200.
  const HttpResponse& response() const { return resp_; }
  const Json& welcome() const { return welcome_; }
  std::string session() const { return welcome_.Str("session"); }

  // The next data event (kept ones first). False on timeout, the close
  // event, EOF or a malformed block (reason in error()).
  bool Next(Json* out, Duration timeout = kIoTimeout);
  bool WaitFor(const std::function<bool(const Json&)>& pred, Json* out,
               Duration timeout = kIoTimeout);
  bool WaitType(std::string_view t, Json* out, Duration timeout = kIoTimeout);
  bool WaitId(int64_t id, Json* out, Duration timeout = kIoTimeout);
  // True if no event is kept and none arrives within `d` (comments do not
  // count); else false, with the event in `got`.
  bool ExpectNoFrame(Duration d, Json* got = nullptr);
  // Reads (keeping data events) until the stream ends. Returns the close
  // event's code, 0 for EOF without one, -1 on timeout or a bad block.
  int WaitEnd(Duration timeout = kIoTimeout);

  // Comment blocks (":") read so far, and when the last one arrived.
  int comments() const { return comments_; }
  Clock::time_point last_comment() const { return last_comment_; }
  int close_code() const { return close_code_; }

  // POST /send?session=session() with `frame` on the client's keep-alive
  // POST connection (opened on first use). Returns the status, 0 on failure;
  // the whole answer in *resp when given.
  int Post(std::string_view frame, HttpResponse* resp = nullptr);
  // Post then WaitId(id); false unless the POST got 202 and the reply came.
  bool Request(std::string_view frame, int64_t id, Json* reply, Duration timeout = kIoTimeout);

  // A fresh request id (1000, 1001, ...).
  int64_t NextId() { return next_id_++; }
  std::deque<Json>& kept() { return kept_; }
  TcpConn& stream() { return stream_; }
  // Closes the stream's socket (the session ends); the POST connection too.
  void Close();
  // The last `n` blocks received, one per line, for failure messages.
  std::string Transcript(size_t n = 20) const;
  const std::string& error() const { return error_; }

 private:
  // One block from the socket: a data event into *out (true), or a comment
  // (counted, and read on). False on the close event, EOF, timeout or a
  // malformed block.
  bool ReadWire(Json* out, Clock::time_point deadline);

  uint16_t port_ = 0;
  TcpConn stream_;
  HttpClient post_;
  bool post_open_ = false;
  HttpResponse resp_;
  Json welcome_;
  std::deque<Json> kept_;
  int comments_ = 0;
  Clock::time_point last_comment_{};
  int close_code_ = 0;  // 0: no close event yet
  bool dead_ = false;   // EOF, timeout mid-stream or a bad block: no more reads
  bool eof_ = false;
  int64_t next_id_ = 1000;
  std::vector<std::string> transcript_;
  std::string error_;
};

}  // namespace longlink::test
