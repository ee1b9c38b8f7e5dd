// Logging: one line per event to stderr, "<iso-time> <level> <text>", which
// journald picks up as is. The level is process-wide and set once at start-up
// (--log-level); LL_LOG skips formatting entirely below it. Safe from any
// thread: each line is formatted into a stack buffer and written with one
// write(2), so lines from different shards never interleave.
#pragma once

#include <atomic>

namespace longlink {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

extern std::atomic<int> g_log_level;

bool ParseLogLevel(const char* s, LogLevel* out);
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace longlink

// Relaxed load: the level is written once before the shards start; a shard that
// sees a stale value for a moment logs one line more or less, nothing else.
#define LL_LOG(level, ...)                                                             \
  do {                                                                                 \
    if (int(level) >= ::longlink::g_log_level.load(std::memory_order_relaxed))        \
      ::longlink::LogLine(level, __VA_ARGS__);                                         \
  } while (0)
#define LL_DEBUG(...) LL_LOG(::longlink::LogLevel::kDebug, __VA_ARGS__)
#define LL_INFO(...) LL_LOG(::longlink::LogLevel::kInfo, __VA_ARGS__)
#define LL_WARN(...) LL_LOG(::longlink::LogLevel::kWarn, __VA_ARGS__)
#define LL_ERROR(...) LL_LOG(::longlink::LogLevel::kError, __VA_ARGS__)
