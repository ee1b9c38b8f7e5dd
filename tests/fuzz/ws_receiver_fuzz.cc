// libFuzzer target for ws::Receiver. Input: one byte of configuration (bit 0:
// role, 0 server and 1 client; bits 1-2: max_message of 16 MiB, 64, 1000 or
// 70000 bytes), one byte seeding the read sizes, then the byte stream. The
// stream is fed three ways, whole, in pseudo-random pieces and byte by byte,
// each piece in its own exact-size heap buffer that is scribbled over after
// Consume (as a shard reuses its read buffer); the three runs must give the
// same callbacks and the same code, and what the handler is given must obey
// the Receiver's contract (text is valid UTF-8, sizes within limits, close
// codes a peer may send). Any difference traps.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ws/frame_format.h"
#include "ws/receiver.h"
#include "ws/utf8.h"

namespace {

using longlink::ws::Receiver;
using longlink::ws::Role;

void Check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

struct Recorder {
  size_t max = 0;
  std::string log;  // every callback, serialized

  size_t max_message() const { return max; }
  void Add(char kind, uint32_t code, const uint8_t* data, size_t len) {
    Check(data != nullptr);
    log += kind;
    log.append(reinterpret_cast<const char*>(&code), sizeof(code));
    log.append(reinterpret_cast<const char*>(&len), sizeof(len));
    log.append(reinterpret_cast<const char*>(data), len);
  }
  bool OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
    Check(opcode == longlink::ws::kText || opcode == longlink::ws::kBinary);
    Check(len <= max);
    Check(opcode != longlink::ws::kText || longlink::ws::IsValidUtf8(data, len));
    Add('m', opcode, data, len);
    return true;
  }
  bool OnPing(uint8_t* data, size_t len) {
    Check(len <= longlink::ws::kMaxControlPayload);
    Add('i', 0, data, len);
    return true;
  }
  bool OnPong(uint8_t* data, size_t len) {
    Check(len <= longlink::ws::kMaxControlPayload);
    Add('o', 0, data, len);
    return true;
  }
  bool OnClose(uint16_t code, const uint8_t* reason, size_t len) {
    Check(code == longlink::ws::close_code::kNoStatus ||
          longlink::ws::IsValidReceivedCloseCode(code));
    Check(len <= longlink::ws::kMaxControlPayload - 2);
    Check(longlink::ws::IsValidUtf8(reason, len));
    Add('c', code, reason, len);
    return true;
  }
};

struct Outcome {
  std::string log;
  uint16_t code = Receiver::kOk;
};

// mode 0: whole; 1: pseudo-random pieces from `seed`; 2: byte by byte.
Outcome Run(Role role, size_t max_message, const uint8_t* data, size_t size, int mode,
            uint32_t seed) {
  Receiver rx(role);
  Recorder rec;
  rec.max = max_message;
  Outcome out;
  uint32_t state = seed * 2654435761u + 1;
  for (size_t pos = 0; pos < size && out.code == Receiver::kOk;) {
    size_t n = size - pos;
    if (mode == 2) {
      n = 1;
    } else if (mode == 1) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      n = (state & 0x100) ? 1 + state % 7 : 1 + state % 300;
      n = n < size - pos ? n : size - pos;
    }
    std::unique_ptr<uint8_t[]> piece(new uint8_t[n]);
    std::memcpy(piece.get(), data + pos, n);
    out.code = rx.Consume(piece.get(), n, rec);
    std::memset(piece.get(), 0xA5, n);
    pos += n;
    if (out.code == Receiver::kOk) {
      Check(rx.buffered() <=
            max_message + longlink::ws::kMaxHeaderSize + longlink::ws::kMaxControlPayload);
    }
  }
  Check(out.code == Receiver::kOk || out.code == Receiver::kStopped ||
        out.code == longlink::ws::close_code::kProtocolError ||
        out.code == longlink::ws::close_code::kInvalidPayload ||
        out.code == longlink::ws::close_code::kTooBig);
  out.log = std::move(rec.log);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  static const size_t kMax[4] = {size_t(16) << 20, 64, 1000, 70000};
  const Role role = (data[0] & 1) ? Role::kClient : Role::kServer;
  const size_t max_message = kMax[(data[0] >> 1) & 3];
  const uint32_t seed = data[1];
  data += 2;
  size -= 2;
  const Outcome whole = Run(role, max_message, data, size, 0, seed);
  const Outcome pieces = Run(role, max_message, data, size, 1, seed);
  Check(pieces.code == whole.code && pieces.log == whole.log);
  const Outcome bytes = Run(role, max_message, data, size, 2, seed);
  Check(bytes.code == whole.code && bytes.log == whole.log);
  return 0;
}
