// Outbound frame encoding (both roles). The server writes unmasked frames; a
// client (bench/, tests/support) passes a masking key. Nothing here allocates:
// callers provide the header space (kMaxHeaderSize bytes) and gather header
// and payload with writev, so a payload is never copied to be framed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ws/frame_format.h"

namespace longlink::ws {

// Size of the header for a payload of `payload_len` bytes.
size_t HeaderSize(uint64_t payload_len, bool masked);

// Writes a frame header into `out` (room for kMaxHeaderSize bytes) and returns
// its length. `mask_key` null: unmasked (server role); else the 4-byte key is
// written and the MASK bit set (client role; the caller masks the payload
// with Mask()). `fin` false starts or continues a fragmented message.
size_t WriteHeader(uint8_t* out, uint8_t opcode, bool fin, uint64_t payload_len,
                   const uint8_t* mask_key);

// XORs `data` with the 4-byte `key` in place, a machine word at a time,
// starting at byte `phase` (0..3) of the key. Returns the phase after the last
// byte, so a payload can be masked in pieces.
size_t Mask(uint8_t* data, size_t len, const uint8_t key[4], size_t phase);

// Writes a close payload (big-endian code + reason) into `out` (room for
// kMaxControlPayload bytes); the reason is cut to fit at a UTF-8 boundary.
// Returns the payload length.
size_t WriteClosePayload(uint8_t* out, uint16_t code, std::string_view reason);

}  // namespace longlink::ws
