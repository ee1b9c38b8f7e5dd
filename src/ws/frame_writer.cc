// Outbound frame encoding: headers with the minimal length encoding (RFC 6455
// 5.2 requires it of senders), word-at-a-time masking shared with the
// Receiver's in-place unmasking, and close payloads. Pure functions over
// caller-owned memory; nothing here allocates or keeps state.
#include "ws/frame_writer.h"

#include <algorithm>
#include <cstring>

namespace longlink::ws {

size_t HeaderSize(uint64_t payload_len, bool masked) {
  size_t n = 2;
  if (payload_len > 0xFFFF) {
    n += 8;
  } else if (payload_len > kMaxControlPayload) {
    n += 2;
  }
  return masked ? n + 4 : n;
}

size_t WriteHeader(uint8_t* out, uint8_t opcode, bool fin, uint64_t payload_len,
                   const uint8_t* mask_key) {
  out[0] = uint8_t((fin ? 0x80 : 0x00) | (opcode & 0x0F));
  const uint8_t mask_bit = mask_key != nullptr ? 0x80 : 0x00;
  size_t n = 2;
  if (payload_len <= kMaxControlPayload) {
    out[1] = uint8_t(mask_bit | payload_len);
  } else if (payload_len <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = uint8_t(payload_len >> 8);
    out[3] = uint8_t(payload_len);
    n = 4;
  } else {
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) {
      out[2 + i] = uint8_t(payload_len >> (56 - 8 * i));
    }
    n = 10;
  }
  if (mask_key != nullptr) {
    std::memcpy(out + n, mask_key, 4);
    n += 4;
  }
  return n;
}

// The key is rotated by `phase` and repeated into a 64-bit word, so byte i of
// `data` is XORed with key[(phase + i) % 4] whether it goes through the word
// loop or the byte tail. memcpy loads and stores compile to unaligned moves
// (and the loop vectorizes at -O2), so `data` needs no alignment.
size_t Mask(uint8_t* data, size_t len, const uint8_t key[4], size_t phase) {
  uint8_t key8[8];
  for (size_t i = 0; i < 8; ++i) {
    key8[i] = key[(phase + i) & 3];
  }
  uint64_t mask;
  std::memcpy(&mask, key8, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= mask;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < len; ++i) {
    data[i] ^= key8[i & 7];
  }
  return (phase + len) & 3;
}

// REQUIRES: `reason` is valid UTF-8; a cut is then moved back off any
// continuation byte (10xxxxxx), which always lands on a code point boundary.
size_t WriteClosePayload(uint8_t* out, uint16_t code, std::string_view reason) {
  out[0] = uint8_t(code >> 8);
  out[1] = uint8_t(code);
  size_t n = std::min(reason.size(), kMaxControlPayload - 2);
  if (n < reason.size()) {
    while (n > 0 && (uint8_t(reason[n]) & 0xC0) == 0x80) {
      --n;
    }
  }
  std::memcpy(out + 2, reason.data(), n);
  return 2 + n;
}

}  // namespace longlink::ws
