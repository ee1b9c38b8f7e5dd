// Pieces every loadgen mode shares: the command-line options, the Session
// that owns the loop, the flush queue, the target and one phase timer, and
// error reporting. CPU accounting for the generator itself and (with
// --server-pid) for the server under test comes from bench/common/cpu.h.
// Single-threaded: one Session per process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <uv.h>

#include "common/cpu.h"
#include "common/histogram.h"
#include "common/process.h"
#include "common/ws_client.h"

namespace longlink::loadgen {
// The client, histogram, buffer and CPU accounting are shared with the other
// load generator.
using bench::ByteBuffer;
using bench::CpuBetween;
using bench::CpuSample;
using bench::CpuUse;
using bench::FlushQueue;
using bench::Histogram;
using bench::MakeTarget;
using bench::SampleCpu;
using bench::Target;
using bench::Us;
using bench::WsClient;
}  // namespace longlink::loadgen

namespace longlink::loadgen {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/echo";
  int conns = 100;
  size_t size = 32;      // echo: payload bytes (>= 8)
  int depth = 1;         // echo: messages in flight per connection
  double duration = 10;  // echo, handshake: measured seconds
  double warmup = 2;     // echo, handshake: seconds before measuring
  double hold = 10;      // idle: seconds to hold; 0 = until SIGINT/SIGTERM
  int batch = 500;       // connections opening at once
  int server_pid = 0;    // when set, report the server's CPU use too
};

int RunEcho(const Options& opts);
int RunHandshake(const Options& opts);
int RunIdle(const Options& opts);

class Session {
 public:
  explicit Session(const Options& opts);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // False (after printing why) when the host/port do not parse.
  bool ok() const { return ok_; }
  uv_loop_t* loop() { return &loop_; }
  FlushQueue* flush() { return flush_; }
  const Target* target() const { return &target_; }
  uint64_t now() const { return uv_hrtime(); }

  // Runs `fn` once after `seconds`, replacing any timer set before.
  void SetTimer(double seconds, std::function<void()> fn);
  void CancelTimer();
  // Releases the session's own handles so that uv_run returns once the
  // connections are closed.
  void Finish();
  // Runs the loop until Finish() and every connection is closed.
  void Run();

 private:
  static void OnTimer(uv_timer_t* t);

  uv_loop_t loop_;
  uv_timer_t timer_;
  FlushQueue* flush_ = nullptr;
  Target target_;
  std::function<void()> timer_fn_;
  bool ok_ = false;
  bool finished_ = false;
};

// Prints the first ten errors of a run to stderr ("loadgen: error: ..."); the
// caller counts them all.
inline void ReportError(const char* what, int err) {
  bench::ReportError("loadgen", what, err);
}

}  // namespace longlink::loadgen
