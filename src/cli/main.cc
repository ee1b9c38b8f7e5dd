// The longlink binary: parses the command line, starts the shards, and waits
// for SIGTERM/SIGINT (stop accepting, close sessions with 1001, exit 0).
// SIGHUP is accepted for log rotation: logs go to stderr, so there is
// nothing to reopen and it is only noted.
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#ifdef LL_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include "base/log.h"
#include "cli/flags.h"
#include "server/server.h"

namespace {

struct Signals {
  longlink::server::Server* server;
  uv_signal_t term, intr, hup;
  bool stopping = false;
};

void OnSignal(uv_signal_t* h, int signum) {
  auto* s = static_cast<Signals*>(h->data);
  if (signum == SIGHUP) {
    LL_INFO("SIGHUP: logs go to stderr, nothing to reopen");
    return;
  }
  if (s->stopping) return;
  s->stopping = true;
  LL_INFO("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  s->server->Stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&s->term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->intr), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->hup), nullptr);
  // Closing the last handle of a signal gives it back its default action;
  // a second SIGTERM/SIGINT during the stop must not kill the process before
  // it has flushed and fsynced the log.
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
#ifdef LL_HAVE_MIMALLOC
  // mimalloc 2.0 gives freed pages back to the kernel (madvise) after 25 ms.
  // A group fan-out frees and re-allocates megabytes of output buffers every
  // few milliseconds, so at that delay madvise and the TLB flushes after it
  // were 15% of a 1000-member group's profile, and a 1 s delay gave about 10%
  // more deliveries/s (bench/README.md, "Group fan-out after the flush
  // budget"). It still returns memory after a burst. The environment
  // variable keeps precedence.
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr) {
    mi_option_set(mi_option_decommit_delay, 1000);
  }
#endif
  if (argc >= 2 && std::string_view(argv[1]) == "token") {
    return longlink::cli::RunTokenCommand(argc - 1, argv + 1);
  }
  longlink::server::Config cfg;
  auto outcome = longlink::cli::ParseFlags(argc, argv, &cfg);
  if (outcome.exit_now) return outcome.code;
  ::signal(SIGPIPE, SIG_IGN);

  uv_loop_t* loop = uv_default_loop();
  Signals sig;
  longlink::server::Server server(cfg);
  sig.server = &server;
  for (uv_signal_t* h : {&sig.term, &sig.intr, &sig.hup}) {
    uv_signal_init(loop, h);
    h->data = &sig;
  }
  // Signal handlers first, so a SIGTERM right after start is not fatal.
  uv_signal_start(&sig.term, OnSignal, SIGTERM);
  uv_signal_start(&sig.intr, OnSignal, SIGINT);
  uv_signal_start(&sig.hup, OnSignal, SIGHUP);

  longlink::Status st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "longlink: %s\n", st.message().c_str());
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  server.Wait();
  uv_loop_close(loop);
  LL_INFO("stopped");
  return 0;
}
