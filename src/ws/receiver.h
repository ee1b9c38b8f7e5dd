// Receiver: the per-connection inbound half of a WebSocket, a frame parser
// plus message assembly. It parses in place: Consume() takes bytes straight
// from the shard's shared read buffer, unmasks them there, and hands a whole
// message that sits in one read to the handler without copying it. Only a
// frame split across reads, a fragmented message, or a control frame split
// across reads is copied, into a buffer the receiver allocates then and frees
// once the message is delivered, so an idle connection costs sizeof(Receiver)
// bytes (static_assert below).
//
// Handler (static dispatch, any type with these members):
//   size_t max_message() const;      // --max-message; a larger message -> 1009
//   bool OnMessage(uint8_t opcode, uint8_t* data, size_t len);  // kText/kBinary,
//                                    // text already UTF-8 validated
//   bool OnPing(uint8_t* data, size_t len);
//   bool OnPong(uint8_t* data, size_t len);
//   bool OnClose(uint16_t code, const uint8_t* reason, size_t reason_len);
//                                    // a valid close frame; code 1005 if empty
// `data` is valid only during the call and may be modified by it. Returning
// false from a callback stops Consume at once (the connection is closing).
//
// Consume() returns kOk when every byte was taken, kStopped when a callback
// asked to stop, or the close code the connection must be failed with:
// 1002 (protocol error: reserved bits, unknown opcode, bad masking for the
// role, fragmented or oversized control frame, bad continuation, 64-bit
// length with the top bit set, bad close payload), 1007 (invalid UTF-8 in a
// text message or a close reason), 1009 (message over max_message()). After
// an error, OnClose or kStopped the receiver must not be fed again.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ws/frame_format.h"
#include "ws/utf8.h"

namespace longlink::ws {

enum class Role : uint8_t { kServer, kClient };  // kServer: expects masked frames

class Receiver {
 public:
  static constexpr uint16_t kOk = 0;
  static constexpr uint16_t kStopped = 1;

  explicit Receiver(Role role = Role::kServer);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  template <class Handler>
  uint16_t Consume(uint8_t* data, size_t len, Handler& h);

  // Bytes held for a partial frame or message (0 when idle).
  size_t buffered() const;

 private:
  struct Spill;  // heap state for partial frames/messages; null when idle
  // Implementation state; keep the whole object within 48 bytes.
  Spill* spill_ = nullptr;
  uint64_t remaining_ = 0;   // payload bytes still expected of the current frame
  uint8_t mask_[4] = {0, 0, 0, 0};
  uint8_t mask_phase_ = 0;
  uint8_t header_len_ = 0;   // bytes of a split header held in header_
  uint8_t header_[kMaxHeaderSize] = {};
  uint8_t frame_opcode_ = 0; // opcode of the frame being read
  uint8_t message_opcode_ = 0;  // kText/kBinary while a fragmented message is open
  uint8_t flags_ = 0;        // fin, in-frame, role, ...
  Utf8Validator utf8_;
};

}  // namespace longlink::ws

#include "ws/receiver_inl.h"
