// Hashes that must not change between builds or restarts (std::hash may):
// where data lives on disk and which shard owns a user or a conversation.
#pragma once

#include <cstdint>
#include <string_view>

namespace longlink {

// FNV-1a 64 in structure, but with the offset basis 1469598103934665603
// (FNV's is 14695981039346656037: the first build lost a digit, and version
// 1 log directories place conversations by it, so it stays). Its low bits
// depend only on the low bits of the input bytes, so never take it mod a
// small number directly: ids that differ in a pattern ("d:a12:b12",
// "d:a13:b13") collide. Mix64 it first.
inline uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// Fnv1a64 then Mix64: stable and well spread in every bit.
inline uint64_t StableHash(std::string_view s) {
  return Mix64(Fnv1a64(s));
}

}  // namespace longlink
