// SseClient: the SSE fallback of PROTOCOL.md section 1.2 from a test's side.
// Open() sends GET /sse?<query> and reads the response head (and, for an
// answer other than 200, its body). The event stream is then read block by
// block, a block ending at a blank line ("\n\n"), and strictly: a block is
// either exactly "data: <one JSON object>" (one line) or exactly the comment
// ":"; anything else fails the read, so a framing mistake fails the test that
// meets it. Frames skipped by WaitFor are kept for later reads (FrameQueue,
// shared with ImClient). The server's last event {"t":"close","code":N,...}
// ends the session: close_code() has N and every later read fails.
//
// Client frames go as POST /send?session=<id> on a keep-alive connection of
// the client's own (Post), or on any connection a test opens (PostBytes
// builds the request).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "support/frame_queue.h"
#include "support/http_client.h"
#include "support/json.h"
#include "support/tcp_conn.h"

namespace longlink::test {

// The bytes of one `POST /send?session=<session>` with `body` (Content-Type
// application/json, Content-Length); `close` adds Connection: close.
std::string PostBytes(std::string_view session, std::string_view body, bool close = false);

class SseClient : public FrameQueue {
 public:
  SseClient() : FrameQueue("event", "an event") {}

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

  // Next, WaitFor, WaitType, WaitId and ExpectNoFrame (FrameQueue) read
  // data events. A read fails on timeout, the close event, EOF or a
  // malformed block (reason in error()); comments are not events, so they do
  // not count for ExpectNoFrame.

  // Reads (keeping data events) until the stream ends. Returns the close
  // event's code, 0 for EOF without one, -1 on timeout or a bad block.
  int WaitEnd(Duration timeout = kIoTimeout);

  // Comment blocks (":") read so far, and when the last one arrived.
  int comments() const { return comments_; }
  Clock::time_point last_comment() const { return last_comment_; }

  // POST /send?session=session() with `frame` on the client's keep-alive
  // POST connection (opened on first use). Returns the status, 0 on failure;
  // the whole answer in *resp when given.
  int Post(std::string_view frame, HttpResponse* resp = nullptr);
  // Post then WaitId(id); false unless the POST got 202 and the reply came.
  bool Request(std::string_view frame, int64_t id, Json* reply, Duration timeout = kIoTimeout);

  // kept(), close_code(), NextId(), Transcript() (the last blocks received)
  // and error(): FrameQueue.
  TcpConn& stream() { return stream_; }
  // Closes the stream's socket (the session ends); the POST connection too.
  void Close();

 private:
  // One block from the socket: a data event into *out (true), or a comment
  // (counted, and read on). False on the close event (close_code_ set), EOF,
  // timeout or a malformed block.
  bool ReadWire(Json* out, Clock::time_point deadline) override;

  uint16_t port_ = 0;
  TcpConn stream_;
  HttpClient post_;
  bool post_open_ = false;
  HttpResponse resp_;
  Json welcome_;
  int comments_ = 0;
  Clock::time_point last_comment_{};
  bool eof_ = false;  // dead_ because of EOF (not a read error or a bad block)
};

}  // namespace longlink::test
