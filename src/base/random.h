// Random bytes from the kernel (getrandom(2)), for values a client must not
// be able to guess, such as session ids. One system call each: keep it off
// the per-frame path.
#pragma once

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/assert.h"

namespace longlink {

// Fills p[0, n). Aborts if the kernel cannot give random bytes (getrandom
// only fails that way without the system call, Linux < 3.17): an id made of
// anything weaker would be guessable.
inline void FillRandom(void* p, size_t n) {
  auto* out = static_cast<uint8_t*>(p);
  while (n > 0) {
    ssize_t got = ::getrandom(out, n, 0);
    if (got < 0 && errno == EINTR) continue;
    LL_CHECK(got > 0);
    out += got;
    n -= size_t(got);
  }
}

// Appends `bytes` random bytes to *out as lowercase hex (2 * bytes characters).
inline void AppendRandomHex(std::string* out, size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint8_t buf[64];
  while (bytes > 0) {
    size_t n = bytes < sizeof(buf) ? bytes : sizeof(buf);
    FillRandom(buf, n);
    for (size_t i = 0; i < n; i++) {
      out->push_back(kHex[buf[i] >> 4]);
      out->push_back(kHex[buf[i] & 15]);
    }
    bytes -= n;
  }
}

}  // namespace longlink
