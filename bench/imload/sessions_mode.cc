// imload sessions: opens --conns authenticated sessions (hello as distinct
// users s0..s<N-1>, device d1), --batch at a time, prints "OPEN <n>" once
// every one has its welcome (n = sessions with a welcome), holds them --hold
// seconds answering pings, then closes them. bench/sessions_rss.sh reads the
// server's RssAnon before and after OPEN to get the memory per idle session.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "imload/im_conn.h"

namespace longlink::imload {

namespace {

class SessionsRun final : public Fleet {
 public:
  explicit SessionsRun(const Options& opts) : Fleet(opts) {
    for (int i = 0; i < opts.conns; ++i) {
      conns_.push_back(
          std::make_unique<ImConn>(&loop_, this, uint32_t(i), "s" + std::to_string(i), "d1"));
    }
  }

  int Run() {
    if (!loop_.ok())
      return 2;
    OpenAll();
    loop_.Run();
    uint64_t pings = 0;
    for (auto& c : conns_) pings += c->pings();
    double open_s = double(open_ns_) / 1e9;
    std::printf("sessions: %zu of %d with welcome in %.2f s (%.0f/s), %" PRIu64
                " pings answered, %" PRIu64 " dropped while held\n",
                opened(), opts_.conns, open_s, open_s > 0 ? double(opened()) / open_s : 0, pings,
                dropped_);
    std::printf(
        "RESULT mode=sessions conns=%d opened=%zu failed=%" PRIu64 " open_s=%.3f pings=%" PRIu64
        " frames=%" PRIu64 " dropped=%" PRIu64 " close_timeouts=%" PRIu64 "\n",
        opts_.conns, opened(), open_failed_, open_s, pings, frames_, dropped_, close_timeouts_);
    std::fflush(stdout);
    return open_failed_ == 0 && dropped_ == 0 ? 0 : 1;
  }

 private:
  void OnAllOpen() override {
    std::printf("OPEN %zu\n", opened());
    std::fflush(stdout);
    loop_.SetTimer(opts_.hold, [this] { CloseAll(); });
  }
  // Idle sessions expect no frames; count any that come.
  void OnFrame(ImConn*, uint8_t*, size_t) override { ++frames_; }
  void OnReadEnd(ImConn*) override {}

  uint64_t frames_ = 0;
};

}  // namespace

int RunSessions(const Options& opts) {
  SessionsRun run(opts);
  return run.Run();
}

}  // namespace longlink::imload
