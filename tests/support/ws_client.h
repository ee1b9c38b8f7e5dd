// WsClient: a minimal blocking WebSocket client (RFC 6455, client role) for
// integration tests. It encodes and parses frames itself instead of using
// src/ws, so a framer bug shared by server and tests cannot pass unnoticed,
// and it is strict about what the server sends: server frames must be
// unmasked, use the minimal length encoding, have no RSV bits, a known
// opcode, control frames must be final with at most 125 bytes, and a close
// payload must be empty or a code allowed on the wire plus a UTF-8 reason. A frame
// breaking any of these is reported as IoStatus::kError with the reason in
// error(). Every read has a timeout (default 5 s).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/tcp_conn.h"

namespace longlink::test {

namespace op {
constexpr uint8_t kCont = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA;
}

// Close "codes" that are not codes: what ReadCloseCode returns instead.
constexpr int kNoCloseEof = -1;       // TCP closed without a close frame
constexpr int kNoCloseTimeout = -2;   // nothing within the timeout
constexpr int kNoCloseBadFrame = -3;  // the server sent an invalid frame

struct Frame {
  bool fin = true;
  uint8_t rsv = 0;  // the three RSV bits, as in the header byte (0x70 mask)
  uint8_t opcode = 0;
  std::string payload;
  // For a close frame: the code (1005 when the payload is empty) and reason.
  int CloseCode() const;
  std::string CloseReason() const;
};

struct Message {
  uint8_t opcode = 0;  // kText, kBinary, or kClose (then `data` is the close payload)
  std::string data;
  int frames = 0;  // how many frames it arrived in
};

// A client frame: masked with a random key unless `mask` is false.
// `rsv` is or-ed into the first byte (e.g. 0x40 for RSV1).
std::string EncodeFrame(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true,
                        uint8_t rsv = 0);
std::string ClosePayload(uint16_t code, std::string_view reason = {});

// True if `s` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or
// code points above U+10FFFF). Test-only, written apart from src/ws/utf8.
bool IsUtf8(std::string_view s);

std::string RandomBytes(size_t n);
// n bytes of printable ASCII that differ by position and `seed`, so a
// reordered or mixed-up echo does not compare equal.
std::string TextPayload(size_t n, uint32_t seed = 0);
// A fresh Sec-WebSocket-Key: base64 of 16 random bytes.
std::string NewKey();
// "Upgrade: websocket", "Connection: Upgrade", the key and version 13.
std::string UpgradeHeaders(std::string_view key);

class WsClient {
 public:
  // TCP connect + opening handshake on `path`. True only for a 101 with
  // "Upgrade: websocket", a "Connection: upgrade" token and the right
  // Sec-WebSocket-Accept. `extra_headers`: more request header lines;
  // `trailing`: bytes sent in the same write right after the request.
  bool Connect(uint16_t port, std::string_view path = "/echo", std::string_view extra_headers = {},
               std::string_view trailing = {});
  const HttpResponse& response() const { return response_; }

  bool Send(uint8_t opcode, std::string_view payload, bool fin = true);
  bool SendText(std::string_view s) { return Send(op::kText, s); }
  bool SendBinary(std::string_view s) { return Send(op::kBinary, s); }
  bool SendClose(uint16_t code, std::string_view reason = {});
  bool SendRaw(std::string_view bytes, Duration timeout = 30s);

  // Reads the next frame, whatever it is.
  IoStatus ReadFrame(Frame* f, Duration timeout = kIoTimeout);
  // Reads the next whole data message, reassembling fragments and checking
  // their order. Control frames other than close that arrive meanwhile are
  // appended to `controls` (pings are not answered). A close frame ends the
  // read: `m->opcode` is kClose and `m->data` its payload.
  IoStatus ReadMessage(Message* m, Duration timeout = kIoTimeout,
                       std::vector<Frame>* controls = nullptr);
  // Skips data and control frames until a close frame; returns its code, or
  // one of kNoClose*. `skipped` (optional) gets the data bytes skipped.
  int ReadCloseCode(Duration timeout = kIoTimeout, size_t* skipped = nullptr);
  // True if the server closes TCP within the timeout without sending any
  // more bytes. Then closes our socket too, as a client does on EOF (the
  // server may linger until it sees our FIN).
  bool ExpectEof(Duration timeout = kIoTimeout);
  // Sends `payload` and expects the same message back. False with error().
  bool Echo(uint8_t opcode, std::string_view payload, Duration timeout = kIoTimeout);

  TcpConn& conn() { return conn_; }
  const std::string& error() const { return error_; }

 private:
  IoStatus Fail(std::string why);

  TcpConn conn_;
  HttpResponse response_;
  std::string error_;
  uint8_t partial_opcode_ = 0;  // data opcode of an unfinished message, or 0
  std::string partial_;
  int partial_frames_ = 0;
};

}  // namespace longlink::test
