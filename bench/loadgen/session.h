// Pieces every loadgen mode shares: the command-line options, the Session
// that owns the loop, the flush queue, the target and one phase timer, and
// CPU accounting for the generator itself and (with --server-pid) for the
// server under test. Single-threaded: one Session per process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <uv.h>

#include "common/histogram.h"
#include "common/ws_client.h"

namespace longlink::loadgen {
// The client, histogram and buffer are shared with the other load generator.
using bench::ByteBuffer;
using bench::FlushQueue;
using bench::Histogram;
using bench::MakeTarget;
using bench::Target;
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

// CPU seconds used so far by this process, by `server_pid` (0: none), and by
// the whole machine (all cores, from /proc/stat: busy, and stolen by the
// hypervisor).
struct CpuSample {
  uint64_t wall_ns = 0;
  double self_s = 0;
  double server_s = 0;
  double machine_busy_s = 0;
  double machine_steal_s = 0;
};
CpuSample SampleCpu(int server_pid);
// Percent of one core used between two samples; -1 if unknown.
double SelfCpuPercent(const CpuSample& a, const CpuSample& b);
double ServerCpuPercent(const CpuSample& a, const CpuSample& b, int server_pid);
// CPU the rest of the machine used meanwhile (other processes, and interrupt
// time charged to no process), in percent of one core: the noise on a shared
// machine. A run where this is high says more about the neighbours than
// about the server.
double OtherCpuPercent(const CpuSample& a, const CpuSample& b, int server_pid);
// Time the hypervisor gave to other guests, in percent of one core.
double StealPercent(const CpuSample& a, const CpuSample& b);

// Microseconds with one decimal, for percentiles.
inline double Us(uint64_t ns) {
  return double(ns) / 1000.0;
}

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

// Prints the first `limit` errors of a run to stderr, then only counts them.
void ReportError(const char* what, int err);

}  // namespace longlink::loadgen
