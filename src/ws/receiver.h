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
//   bool OnMessageStart(uint8_t opcode);  // optional: the first frame's
//                                         // header of a message, before its
//                                         // payload; false stops
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
// text message or a close reason), 1009 (message over max_message()), or 1011
// if the buffer for a split message cannot be allocated. A close frame ends
// the stream: after OnClose, Consume returns kStopped whatever OnClose
// returned and ignores the bytes after the frame. After an error, OnClose or
// kStopped the receiver must not be fed again (it would answer kStopped).
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
  // Heap state for partial frames and messages (receiver.cc); null when idle.
  struct Spill;

  enum Flag : uint8_t {
    kFlagClient = 1 << 0,   // Role::kClient: frames must arrive unmasked
    kFlagInFrame = 1 << 1,  // header parsed; remaining_ payload bytes go to the Spill
    kFlagFin = 1 << 2,      // FIN of the current frame
    kFlagMasked = 1 << 3,   // the current frame is masked with mask_
    kFlagDone = 1 << 4,     // an error, a close frame or a stop: take no more bytes
  };

  // receiver_inl.h: the state machine and dispatch to the handler.
  template <class Handler>
  uint16_t Run(uint8_t* data, size_t len, Handler& h);
  template <class Handler>
  uint16_t DeliverInPlace(uint8_t* data, size_t len, Handler& h);
  template <class Handler>
  uint16_t DeliverControl(uint8_t* data, size_t len, Handler& h);
  template <class Handler>
  uint16_t DeliverSpilled(Handler& h);

  // receiver.cc: everything that does not call the handler.
  // Header size implied by the second header byte (mask bit, 7-bit length).
  static size_t HeaderBytes(uint8_t b1) {
    const uint8_t len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
  }
  size_t BufferHeader(const uint8_t* p, size_t avail);
  bool HeaderBuffered() const;
  uint16_t ParseHeader(const uint8_t* h, size_t max_message);
  uint16_t SpillPayload(const uint8_t* p, size_t n, size_t max_message);
  uint8_t* spilled_message();
  size_t spilled_message_len() const;
  uint8_t* spilled_control();
  size_t spilled_control_len() const;
  bool GrowSpill(size_t want, size_t limit);
  void ReleaseControl();
  void FreeSpill();
  // Opcode of the message the current data frame belongs to.
  uint8_t message_opcode() const {
    return frame_opcode_ == kContinuation ? message_opcode_ : frame_opcode_;
  }

  // Layout (40 bytes on LP64; checked below):
  Spill* spill_ = nullptr;  // 8
  uint64_t remaining_ = 0;  // 8: payload bytes still expected of the current frame
  uint8_t mask_[4] = {0, 0, 0, 0};
  uint8_t mask_phase_ = 0;  // key byte the next payload byte is XORed with
  uint8_t header_len_ = 0;  // bytes of a split header held in header_
  uint8_t header_[kMaxHeaderSize] = {};
  uint8_t frame_opcode_ = 0;    // opcode of the frame being read
  uint8_t message_opcode_ = 0;  // kText/kBinary from a data message's first header to its end
  uint8_t flags_ = 0;           // Flag bits
  Utf8Validator utf8_;          // state of the text message being read
};

static_assert(sizeof(Receiver) <= 48, "Receiver is per-connection state; keep it small");

}  // namespace longlink::ws

#include "ws/receiver_inl.h"
