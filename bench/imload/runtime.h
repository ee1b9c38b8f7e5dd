// What every imload mode shares: the command-line options, the Loop that owns
// the libuv loop with its flush queue, target and timers, and error
// reporting. CPU accounting (the generator itself, the server under test with
// --server-pid, and the rest of the machine) comes from bench/common/cpu.h.
// Single-threaded: one Loop per process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <uv.h>

#include "common/cpu.h"
#include "common/histogram.h"
#include "common/process.h"
#include "common/ws_client.h"

namespace longlink::imload {
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
}  // namespace longlink::imload

namespace longlink::imload {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/ws";
  int server_pid = 0;         // when set, report the server's CPU use too
  double duration = 10;       // chat, group: measured seconds
  double warmup = 2;          // chat, group: seconds of traffic before measuring
  double drain = 2;           // chat, group: seconds to wait for late pushes at the end
  double open_timeout = 120;  // seconds for every connection to reach welcome
  int batch = 500;            // connections opening at once
  size_t size = 32;           // chat, group: bytes of the message body (JSON text)
  // chat
  int pairs = 100;
  int depth = 1;
  // group
  std::string api_key;
  int members = 1000;
  double rate = 1000;      // group: messages per second from the publisher; chat: sends
                           // per second in all (0: closed loop)
  bool reference = false;  // echo_reference --broadcast: no API, no hello, no acks
  bool no_recv = false;    // members do not acknowledge pushes
  bool progress = false;   // chat, group: print counts every second to stderr
  // sessions
  int conns = 10000;
  double hold = 10;
};

// Open-loop pacing (a 1 ms ticker): how many sends are due at `now_ns` at
// `rate` per second since `start_ns`, of which `done` went already; at most
// 100,000 a tick, so that a stalled loop catches up over several.
inline uint64_t SendsDue(uint64_t start_ns, uint64_t now_ns, double rate, uint64_t done) {
  constexpr uint64_t kMaxPerTick = 100000;
  double due = double(now_ns - start_ns) / 1e9 * rate;
  uint64_t n = due >= double(done) + 1 ? uint64_t(due) - done : 0;
  return n < kMaxPerTick ? n : kMaxPerTick;
}

int RunChat(const Options& opts);
int RunGroup(const Options& opts);
int RunSessions(const Options& opts);

// A run-unique tag (hex), so that cmids and group names of two runs against
// one server never collide.
std::string RunTag();

// Prints the first ten errors of a run to stderr ("imload: error: ..."); the
// caller counts them all.
inline void ReportError(const char* what, long err) {
  bench::ReportError("imload", what, err);
}

class Loop {
 public:
  explicit Loop(const Options& opts);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // False (after printing why) when the host/port do not parse.
  bool ok() const { return ok_; }
  uv_loop_t* loop() { return &loop_; }
  FlushQueue* flush() { return flush_; }
  const Target* target() const { return &target_; }

  // Runs `fn` once after `seconds`, replacing any phase timer set before.
  void SetTimer(double seconds, std::function<void()> fn);
  // Runs `fn` every `ms` milliseconds until StopTicker() (one ticker).
  void StartTicker(uint64_t ms, std::function<void()> fn);
  void StopTicker();
  // Releases the loop's own handles so that Run() returns once every
  // connection is closed.
  void Finish();
  // Runs the loop until Finish() and every connection is closed.
  void Run();

 private:
  static void OnTimer(uv_timer_t* t);
  static void OnTick(uv_timer_t* t);

  uv_loop_t loop_;
  uv_timer_t timer_;
  uv_timer_t ticker_;
  FlushQueue* flush_ = nullptr;
  Target target_;
  std::function<void()> timer_fn_;
  std::function<void()> tick_fn_;
  bool ok_ = false;
  bool finished_ = false;
};

}  // namespace longlink::imload
