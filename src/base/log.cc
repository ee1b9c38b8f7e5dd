#include "base/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <algorithm>

namespace longlink {

std::atomic<int> g_log_level{int(LogLevel::kInfo)};

bool ParseLogLevel(const char* s, LogLevel* out) {
  static const struct {
    const char* name;
    LogLevel level;
  } kLevels[] = {{"debug", LogLevel::kDebug},
                 {"info", LogLevel::kInfo},
                 {"warn", LogLevel::kWarn},
                 {"error", LogLevel::kError}};
  for (const auto& l : kLevels) {
    if (std::strcmp(s, l.name) == 0) {
      *out = l.level;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_log_level.store(int(level), std::memory_order_relaxed); }

void LogLine(LogLevel level, const char* fmt, ...) {
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  char buf[1024];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                        t.tm_sec, ts.tv_nsec / 1000000, kNames[int(level)]);
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
  va_end(ap);
  size_t len = size_t(n) + (m < 0 ? 0 : std::min<size_t>(size_t(m), sizeof(buf) - n - 2));
  buf[len++] = '\n';
  ssize_t w = ::write(2, buf, len);
  (void)w;
}

}  // namespace longlink
