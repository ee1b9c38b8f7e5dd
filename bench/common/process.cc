// RaiseFileLimit and ReportError; see process.h.
#include "common/process.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <uv.h>

namespace longlink::bench {

namespace {
int g_errors_printed = 0;
constexpr int kMaxErrorsPrinted = 10;
}  // namespace

void RaiseFileLimit(const char* tool) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      std::fprintf(stderr, "%s: setrlimit(RLIMIT_NOFILE): %s\n", tool, std::strerror(errno));
  }
}

void ReportError(const char* tool, const char* what, long err) {
  if (g_errors_printed >= kMaxErrorsPrinted)
    return;
  ++g_errors_printed;
  const char* text = err < 0 ? uv_strerror(int(err)) : "";
  std::fprintf(stderr, "%s: error: %s %ld %s%s\n", tool, what, err, text,
               g_errors_printed == kMaxErrorsPrinted ? " (further errors only counted)" : "");
}

}  // namespace longlink::bench
