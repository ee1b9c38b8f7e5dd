// CRC32C (Castagnoli), with SSE4.2's crc32 instruction when the CPU has it
// (checked once at start) and slicing-by-8 tables otherwise; and the
// LevelDB-style mask for CRCs stored in records (record_format.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace longlink::storage::crc32c {

// CRC32C of data, continuing from `crc` (0 to start).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
// The table version, so tests can compare both paths.
uint32_t ExtendPortableForTest(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t m) {
  uint32_t rot = m - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace longlink::storage::crc32c
