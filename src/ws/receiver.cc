// Receiver internals that do not call the handler: header parsing and
// validation, and the Spill, the heap buffer a Receiver owns while a frame or
// message is split across reads. The Spill is one malloc'd block, a fixed
// part (lengths and a 125-byte area for a control frame) followed by the
// message bytes, so a control frame that arrives in pieces in the middle of a
// buffered fragmented message never touches the message. It grows
// geometrically, never past the largest size the message can still reach,
// and is freed as soon as nothing is held in it.
#include "ws/receiver.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/assert.h"

namespace longlink::ws {

struct Receiver::Spill {
  size_t len = 0;  // message bytes held after this struct
  size_t cap = 0;  // room after this struct
  uint8_t control_len = 0;
  uint8_t control[kMaxControlPayload];

  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

namespace {

constexpr size_t kMinSpill = 4096;

}  // namespace

Receiver::Receiver(Role role) {
  if (role == Role::kClient) {
    flags_ = kFlagClient;
  }
}

Receiver::~Receiver() {
  FreeSpill();
}

size_t Receiver::buffered() const {
  size_t n = header_len_;
  if (spill_ != nullptr) {
    n += spill_->len + spill_->control_len;
  }
  return n;
}

size_t Receiver::BufferHeader(const uint8_t* p, size_t avail) {
  size_t taken = 0;
  if (header_len_ < 2) {
    taken = std::min<size_t>(2 - header_len_, avail);
    std::memcpy(header_ + header_len_, p, taken);
    header_len_ += uint8_t(taken);
    if (header_len_ < 2) {
      return taken;
    }
  }
  const size_t more = std::min(HeaderBytes(header_[1]) - header_len_, avail - taken);
  std::memcpy(header_ + header_len_, p + taken, more);
  header_len_ += uint8_t(more);
  return taken + more;
}

bool Receiver::HeaderBuffered() const {
  return header_len_ >= 2 && header_len_ == HeaderBytes(header_[1]);
}

// Validates a complete header and makes it the current frame. Everything that
// can be decided from the header is decided here, before any payload byte
// is read or buffered: reserved bits, opcode, masking for the role,
// control frame rules, message sequencing and the size limit.
uint16_t Receiver::ParseHeader(const uint8_t* h, size_t max_message) {
  const uint8_t b0 = h[0];
  const uint8_t b1 = h[1];
  const uint8_t op = b0 & 0x0F;
  const bool fin = (b0 & 0x80) != 0;
  const bool masked = (b1 & 0x80) != 0;
  if ((b0 & 0x70) != 0 || !IsKnownOpcode(op)) {
    return close_code::kProtocolError;  // RSV1-3 without extensions, opcodes 3-7, 11-15
  }
  if (masked == ((flags_ & kFlagClient) != 0)) {
    return close_code::kProtocolError;  // clients mask, servers do not (RFC 6455 5.1)
  }
  uint64_t len = b1 & 0x7F;
  const uint8_t* p = h + 2;
  if (len == 126) {
    len = uint64_t(p[0]) << 8 | p[1];
    p += 2;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) {
      len = len << 8 | p[i];
    }
    p += 8;
    if (len >> 63) {
      return close_code::kProtocolError;
    }
  }
  if (IsControl(op)) {
    if (!fin || len > kMaxControlPayload || (op == kClose && len == 1)) {
      return close_code::kProtocolError;
    }
  } else {
    if ((op == kContinuation) != (message_opcode_ != 0)) {
      return close_code::kProtocolError;  // no message to continue, or one still open
    }
    const size_t held = spill_ != nullptr ? spill_->len : 0;
    if (held > max_message || len > max_message - held) {
      return close_code::kTooBig;
    }
    if (op != kContinuation) {
      message_opcode_ = op;
      utf8_.Reset();
    }
  }
  if (masked) {
    std::memcpy(mask_, p, 4);
  }
  frame_opcode_ = op;
  remaining_ = len;
  mask_phase_ = 0;
  flags_ = uint8_t((flags_ & kFlagClient) | (fin ? kFlagFin : 0) | (masked ? kFlagMasked : 0));
  return kOk;
}

// Takes `n` unmasked payload bytes of the current frame: a control frame's go
// to the control area, a data frame's are checked (UTF-8, as they arrive, so
// a bad text message fails before the rest of it is read) and appended.
uint16_t Receiver::SpillPayload(const uint8_t* p, size_t n, size_t max_message) {
  if (IsControl(frame_opcode_)) {
    if (spill_ == nullptr && !GrowSpill(0, 0)) {
      return close_code::kInternal;
    }
    LL_DCHECK(spill_->control_len + n <= kMaxControlPayload);
    std::memcpy(spill_->control + spill_->control_len, p, n);
    spill_->control_len += uint8_t(n);
    return kOk;
  }
  if (message_opcode() == kText && !utf8_.Feed(p, n)) {
    return close_code::kInvalidPayload;
  }
  if (n == 0) {
    return kOk;
  }
  const size_t held = spill_ != nullptr ? spill_->len : 0;
  if (spill_ == nullptr || held + n > spill_->cap) {
    // The final size is known exactly for a FIN frame (ParseHeader bounded
    // it by max_message); otherwise max_message bounds it.
    const size_t limit = (flags_ & kFlagFin) ? held + remaining_ : max_message;
    if (!GrowSpill(held + n, limit)) {
      return close_code::kInternal;
    }
  }
  std::memcpy(spill_->data() + spill_->len, p, n);
  spill_->len += n;
  return kOk;
}

// Makes room for `want` message bytes: at least double the old room (and
// kMinSpill), capped at `limit` (>= want). With want 0, only allocates the
// fixed part.
bool Receiver::GrowSpill(size_t want, size_t limit) {
  size_t cap = 0;
  if (want > 0) {
    const size_t old_cap = spill_ != nullptr ? spill_->cap : 0;
    cap = std::max({want, old_cap * 2, kMinSpill});
    cap = std::max(want, std::min(cap, limit));
  }
  const bool fresh = spill_ == nullptr;
  void* mem = std::realloc(spill_, sizeof(Spill) + cap);
  if (mem == nullptr) {
    return false;
  }
  spill_ = fresh ? new (mem) Spill() : static_cast<Spill*>(mem);
  spill_->cap = cap;
  return true;
}

uint8_t* Receiver::spilled_message() {
  // A non-null pointer even for an empty message, for the handler's sake.
  return spill_ != nullptr ? spill_->data() : header_;
}

size_t Receiver::spilled_message_len() const {
  return spill_ != nullptr ? spill_->len : 0;
}

uint8_t* Receiver::spilled_control() {
  return spill_->control;
}

size_t Receiver::spilled_control_len() const {
  return spill_->control_len;
}

void Receiver::ReleaseControl() {
  spill_->control_len = 0;
  if (spill_->len == 0) {
    FreeSpill();
  }
}

void Receiver::FreeSpill() {
  std::free(spill_);
  spill_ = nullptr;
}

}  // namespace longlink::ws
