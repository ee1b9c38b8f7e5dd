// ImClient: a messaging-protocol client (PROTOCOL.md sections 2-7) over
// WsClient, for integration tests. It connects to /ws, says hello, sends
// JSON text frames and reads server frames as Json. Frames read while
// waiting for a particular one (WaitFor) are kept, in arrival order, for
// later reads, so a test can wait for an ack without losing the pushes that
// came first (FrameQueue, shared with SseClient). Pings from the server are
// answered. A close frame ends the session: close_code() has its code and
// every later read fails. Every read is bounded by a timeout. Each frame
// received is also kept in a transcript for failure messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "support/frame_queue.h"
#include "support/json.h"
#include "support/ws_client.h"

namespace longlink::test {

// The hello frame under --auth none: {"t":"hello","v":1,"user":U[,"device":D][,"id":N]}.
// An empty `device` leaves the member out; a negative `id` too.
std::string HelloFrame(std::string_view user, std::string_view device = {}, int64_t id = -1);
// The hello frame with a token.
std::string TokenHelloFrame(std::string_view token, std::string_view device = {}, int64_t id = -1);
// {"t":"send","id":id,"to":to,"cmid":cmid,"body":body_json} (id left out when negative).
std::string SendFrame(std::string_view to, std::string_view cmid, std::string_view body_json,
                      int64_t id = -1);

class ImClient : public FrameQueue {
 public:
  ImClient() : FrameQueue("frame", "a frame") {}

  // TCP connect and WebSocket upgrade on /ws. `extra_headers`: more request
  // header lines, each ending in "\r\n".
  bool Connect(uint16_t port, std::string_view extra_headers = {});
  // Connect, send HelloFrame(user, device, id 1) and read the welcome
  // (into welcome()). False, with the reason in error(), otherwise.
  bool Login(uint16_t port, std::string_view user, std::string_view device = {});
  // The same with a token hello (--auth jwt).
  bool LoginToken(uint16_t port, std::string_view token, std::string_view device = {});
  // After Connect: sends `hello_frame` and expects a welcome as the next frame.
  bool Hello(std::string_view hello_frame);

  // Sends one text frame.
  bool Send(std::string_view text);
  bool SendBinary(std::string_view bytes);

  // Next, WaitFor, WaitType, WaitId and ExpectNoFrame (FrameQueue) read
  // server frames. A read fails on timeout, close, EOF, or a frame that is
  // not a JSON object (reason in error()); for ExpectNoFrame a close also
  // counts as a frame (false).

  // Send(frame) then WaitId(id).
  bool Request(std::string_view frame, int64_t id, Json* reply, Duration timeout = kIoTimeout);
  // Reads (keeping data frames) until a close frame; returns its code, or
  // one of kNoClose* (EOF, timeout, bad frame). Returns close_code() at
  // once when the close was already read.
  int WaitClose(Duration timeout = kIoTimeout);

  // Closes the session as a client does: close 1000, wait (up to
  // `timeout`) for the server's close, then close the socket.
  void Close(Duration timeout = 2s);

  // kept(), close_code(), NextId(), Transcript() and error(): FrameQueue.
  const Json& welcome() const { return welcome_; }
  bool closed() const { return close_code_ != 0; }
  WsClient& ws() { return ws_; }

 private:
  // Reads one data frame from the socket (answering pings); false on close
  // (close_code_ set), timeout or a bad frame.
  bool ReadWire(Json* out, Clock::time_point deadline) override;

  WsClient ws_;
  Json welcome_;
};

// Milliseconds-since-epoch check used for every `ts`: an integer within
// `slack` of this machine's clock.
bool PlausibleTs(const Json& ts, int64_t slack_ms = 60000);

}  // namespace longlink::test
