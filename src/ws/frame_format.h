// The WebSocket wire format (RFC 6455 section 5), documented apart from the
// code that reads and writes it, as LevelDB does with log_format.h.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//  |     Extended payload length continued, if payload len == 127  |
//  + - - - - - - - - - - - - - - - +-------------------------------+
//  |                               |Masking-key, if MASK set to 1  |
//  +-------------------------------+-------------------------------+
//  | Masking-key (continued)       |          Payload Data         |
//  +-------------------------------- - - - - - - - - - - - - - - - +
//
// * Lengths are big-endian; 126 means a 16-bit length follows, 127 a 64-bit
//   length whose most significant bit must be 0. The minimal encoding is not
//   required of peers (RFC 6455 5.2 says "MUST" for senders only; we accept a
//   non-minimal one, as Autobahn expects).
// * Client-to-server frames are masked, server-to-client frames are not.
// * Control frames (opcode >= 8) have FIN set and at most 125 bytes of payload,
//   and may come between the fragments of a data message.
// * A close payload is empty or a 2-byte code followed by a UTF-8 reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace longlink::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

constexpr size_t kMaxHeaderSize = 14;        // 2 + 8 (64-bit length) + 4 (mask)
constexpr size_t kMaxControlPayload = 125;

inline bool IsControl(uint8_t op) { return (op & 0x8) != 0; }
inline bool IsKnownOpcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

// Close codes: RFC 6455 7.4.1 and PROTOCOL.md section 7.
namespace close_code {
constexpr uint16_t kNormal = 1000;
constexpr uint16_t kGoingAway = 1001;
constexpr uint16_t kProtocolError = 1002;
constexpr uint16_t kUnsupportedData = 1003;   // binary frame on /ws
constexpr uint16_t kNoStatus = 1005;          // never on the wire
constexpr uint16_t kAbnormal = 1006;          // never on the wire
constexpr uint16_t kInvalidPayload = 1007;    // invalid UTF-8
constexpr uint16_t kPolicy = 1008;
constexpr uint16_t kTooBig = 1009;            // over --max-message
constexpr uint16_t kMandatoryExtension = 1010;
constexpr uint16_t kInternal = 1011;
constexpr uint16_t kUnauthorized = 4001;
constexpr uint16_t kHelloTimeout = 4002;
constexpr uint16_t kSlowConsumer = 4008;
constexpr uint16_t kReplaced = 4009;
constexpr uint16_t kRateAbuse = 4029;
}  // namespace close_code

// True for a code a peer may send in a close frame (RFC 6455 7.4):
// 1000-1003, 1007-1011 (and 1012-1014, registered since), 3000-4999.
inline bool IsValidReceivedCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

}  // namespace longlink::ws
