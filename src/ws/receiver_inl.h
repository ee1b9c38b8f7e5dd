// Receiver::Consume, the frame parser's state machine, and its dispatch to
// the handler. A template so that the handler's callbacks are direct calls;
// everything that does not call the handler lives in receiver.cc. Included
// at the end of receiver.h; do not include it directly.
//
// States (flags_ and header_len_ say which one a Receiver is in between
// reads):
//
//   HEADER   (!kFlagInFrame) Waiting for a frame header. If the whole header
//            is in `data` it is parsed there; otherwise its bytes are copied
//            into header_ (header_len_ > 0) until it is complete. ParseHeader
//            then decides everything a header can decide (1002 and 1009
//            cases), before any payload is looked at.
//              -> the whole payload is in `data` and the frame is a control
//                 frame or a single-frame message (FIN, not a continuation):
//                 unmask it in place, validate, deliver it pointing into
//                 `data`, stay in HEADER. This is the path of almost every
//                 frame, and it copies nothing.
//              -> otherwise: PAYLOAD.
//   PAYLOAD  (kFlagInFrame) remaining_ bytes of the current frame are still
//            to come. Each piece is unmasked in place (mask_phase_ carries
//            the key position across reads), UTF-8-checked if it belongs to
//            a text message (utf8_ carries the DFA state across pieces,
//            frames and reads, so an impossible byte fails at once), then
//            copied into the Spill: a control frame into its 125-byte
//            control area, a data frame onto the message bytes. At the end
//            of the frame a control frame or a finished (FIN) message is
//            delivered from the Spill, which is freed once it holds nothing.
//              -> HEADER.
//   DONE     (kFlagDone) After an error, a close frame or a handler's stop;
//            Consume answers kStopped and takes nothing.
//
// Between the frames of a fragmented message, message_opcode_ holds the
// message's opcode (it is set by the first frame's header and cleared when
// the message is delivered), so a continuation without it, or a new message
// with it, is a protocol error. Control frames in between are delivered as
// they come and never touch the message bytes.
//
// Cost per frame: O(1) besides unmasking and validating its bytes, plus one
// copy of its bytes when it is split across reads or part of a fragmented
// message.
#pragma once

#include <algorithm>

#include "ws/frame_writer.h"
#include "ws/receiver.h"

namespace longlink::ws {

template <class Handler>
uint16_t Receiver::Consume(uint8_t* data, size_t len, Handler& h) {
  if (flags_ & kFlagDone) {
    return kStopped;
  }
  const uint16_t code = Run(data, len, h);
  if (code != kOk) {
    flags_ |= kFlagDone;
    header_len_ = 0;
    FreeSpill();
  }
  return code;
}

template <class Handler>
uint16_t Receiver::Run(uint8_t* data, size_t len, Handler& h) {
  uint8_t* p = data;
  uint8_t* const end = data + len;
  uint16_t code;
  for (;;) {
    if (!(flags_ & kFlagInFrame)) {
      // HEADER.
      if (p == end) {
        return kOk;
      }
      const size_t avail = size_t(end - p);
      if (header_len_ == 0 && avail >= 2 && HeaderBytes(p[1]) <= avail) {
        const uint8_t* header = p;
        p += HeaderBytes(p[1]);
        code = ParseHeader(header, h.max_message());
      } else {
        p += BufferHeader(p, avail);
        if (!HeaderBuffered()) {
          return kOk;  // every byte went into header_
        }
        header_len_ = 0;
        code = ParseHeader(header_, h.max_message());
      }
      if (code != kOk) {
        return code;
      }
      if constexpr (requires(Handler& x) { x.OnMessageStart(uint8_t{}); }) {
        // The first frame of a message, before any of its payload: a handler
        // that refuses the kind (binary on /ws) stops here, not after a
        // fragmented message has been read to its end.
        if ((frame_opcode_ == kText || frame_opcode_ == kBinary) &&
            !h.OnMessageStart(frame_opcode_)) {
          return kStopped;
        }
      }
      const bool whole_message = (flags_ & kFlagFin) && frame_opcode_ != kContinuation;
      if (remaining_ <= size_t(end - p) && (whole_message || IsControl(frame_opcode_))) {
        const size_t n = size_t(remaining_);
        remaining_ = 0;
        if (flags_ & kFlagMasked) {
          Mask(p, n, mask_, 0);
        }
        p += n;
        code = DeliverInPlace(p - n, n, h);
        if (code != kOk) {
          return code;
        }
        continue;
      }
      flags_ |= kFlagInFrame;
    }
    // PAYLOAD.
    if (p == end && remaining_ != 0) {
      return kOk;
    }
    const size_t n = size_t(std::min<uint64_t>(remaining_, uint64_t(end - p)));
    if (flags_ & kFlagMasked) {
      mask_phase_ = uint8_t(Mask(p, n, mask_, mask_phase_));
    }
    code = SpillPayload(p, n, h.max_message());
    if (code != kOk) {
      return code;
    }
    p += n;
    remaining_ -= n;
    if (remaining_ != 0) {
      return kOk;  // p == end
    }
    flags_ &= uint8_t(~kFlagInFrame);
    code = DeliverSpilled(h);
    if (code != kOk) {
      return code;
    }
  }
}

// A whole frame, unmasked, in the caller's buffer: a control frame or a
// single-frame message.
template <class Handler>
uint16_t Receiver::DeliverInPlace(uint8_t* data, size_t len, Handler& h) {
  if (IsControl(frame_opcode_)) {
    return DeliverControl(data, len, h);
  }
  const uint8_t op = frame_opcode_;
  message_opcode_ = 0;
  if (op == kText && !IsValidUtf8(data, len)) {
    return close_code::kInvalidPayload;
  }
  return h.OnMessage(op, data, len) ? kOk : kStopped;
}

template <class Handler>
uint16_t Receiver::DeliverControl(uint8_t* data, size_t len, Handler& h) {
  if (frame_opcode_ == kPing) {
    return h.OnPing(data, len) ? kOk : kStopped;
  }
  if (frame_opcode_ == kPong) {
    return h.OnPong(data, len) ? kOk : kStopped;
  }
  // kClose. ParseHeader rejects a 1-byte payload already; this keeps
  // data[1] in bounds whatever changes there.
  if (len == 1) {
    return close_code::kProtocolError;
  }
  if (len == 0) {
    h.OnClose(close_code::kNoStatus, data, 0);
    return kStopped;
  }
  const uint16_t code = uint16_t(data[0] << 8 | data[1]);
  if (!IsValidReceivedCloseCode(code)) {
    return close_code::kProtocolError;
  }
  if (!IsValidUtf8(data + 2, len - 2)) {
    return close_code::kInvalidPayload;
  }
  h.OnClose(code, data + 2, len - 2);
  return kStopped;
}

// The frame whose bytes went to the Spill has ended.
template <class Handler>
uint16_t Receiver::DeliverSpilled(Handler& h) {
  if (IsControl(frame_opcode_)) {
    const uint16_t code = DeliverControl(spilled_control(), spilled_control_len(), h);
    ReleaseControl();
    return code;
  }
  if (!(flags_ & kFlagFin)) {
    return kOk;  // the message goes on in a continuation frame
  }
  const uint8_t op = message_opcode();
  message_opcode_ = 0;
  if (op == kText && !utf8_.AtBoundary()) {
    return close_code::kInvalidPayload;  // the message ends inside a code point
  }
  const bool go_on = h.OnMessage(op, spilled_message(), spilled_message_len());
  FreeSpill();
  return go_on ? kOk : kStopped;
}

}  // namespace longlink::ws
