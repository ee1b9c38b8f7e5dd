// Clocks. WallMs() is what the protocol calls `ts` (milliseconds since the
// Unix epoch, server clock). MonoMs() is for timers and is never shown to
// clients. Both are cheap (vDSO clock_gettime, ~20 ns).
#pragma once

#include <cstdint>
#include <ctime>

namespace longlink {

inline uint64_t WallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

inline uint64_t MonoMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

inline uint64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace longlink
