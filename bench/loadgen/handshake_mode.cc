// loadgen handshake: C concurrent loops of connect -> upgrade request -> 101
// -> close frame -> the server's close frame -> close. Each loop starts its
// next cycle as soon as the socket of the previous one is closed.
//
// TIME_WAIT: a cycle a few hundred microseconds long would leave one
// TIME_WAIT entry per cycle on whichever side closes TCP first, and on
// loopback the client side soon runs out of ephemeral ports (28,232 by
// default, each held 60 s). So once the WebSocket close handshake is
// complete the client closes with SO_LINGER 0: the kernel sends RST and
// neither side keeps a TIME_WAIT entry. The server may see ECONNRESET on a
// socket it was about to close anyway.
//
// Latency: `upgrade` is TCP connect start -> 101 parsed; `cycle` is connect
// start -> server close frame received.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <vector>

#include "ws/frame_format.h"

#include "loadgen/session.h"

namespace longlink::loadgen {

namespace {

constexpr double kCloseTimeoutS = 3;

class HandshakeRun;

class HsConn final : public WsClient {
 public:
  HsConn(HandshakeRun* run, Session* s) : WsClient(s->loop(), s->flush(), s->target()), run_(run) {}

  void Begin() {
    start_ns_ = uv_hrtime();
    Start();
  }

 protected:
  void OnOpen() override;
  void OnServerClose(uint16_t code) override;
  void OnError(const char* what, int err) override;
  void OnClosed() override;

 private:
  HandshakeRun* run_;
  uint64_t start_ns_ = 0;
};

class HandshakeRun {
 public:
  explicit HandshakeRun(const Options& opts) : opts_(opts), session_(opts) {}

  int Run();

  bool running() const { return running_; }
  void OnUpgraded(uint64_t ns) {
    if (measuring_)
      upgrade_.Record(ns);
  }
  void OnCycle(uint64_t ns) {
    if (!measuring_)
      return;
    cycle_.Record(ns);
    ++cycles_;
  }
  void OnNoCloseFrame() {
    if (measuring_)
      ++no_close_frame_;
  }
  void OnCycleError(const char* what, int err) {
    ++errors_;
    ReportError(what, err);
  }
  void OnStopped() {
    if (++stopped_ == opts_.conns)
      session_.Finish();
  }

 private:
  void BeginMeasure();
  void EndMeasure();
  void Report();

  Options opts_;
  Session session_;
  std::vector<std::unique_ptr<HsConn>> conns_;
  bool running_ = true;
  bool measuring_ = false;
  int stopped_ = 0;
  Histogram upgrade_;
  Histogram cycle_;
  uint64_t cycles_ = 0;
  uint64_t errors_ = 0;
  uint64_t no_close_frame_ = 0;
  uint64_t close_timeouts_ = 0;
  CpuSample cpu_begin_;
  CpuSample cpu_end_;
};

// ---- HsConn ------------------------------------------------------------------

void HsConn::OnOpen() {
  run_->OnUpgraded(uv_hrtime() - start_ns_);
  SendClose(ws::close_code::kNormal);
}

void HsConn::OnServerClose(uint16_t) {
  run_->OnCycle(uv_hrtime() - start_ns_);
  Close(/*abortive=*/true);
}

void HsConn::OnError(const char* what, int err) {
  // A server that answers our close frame by closing TCP without its own
  // close frame still completed the handshake; count it apart.
  if (err == UV_EOF && close_sent()) {
    run_->OnCycle(uv_hrtime() - start_ns_);
    run_->OnNoCloseFrame();
    return;
  }
  run_->OnCycleError(what, err);
}

void HsConn::OnClosed() {
  if (run_->running()) {
    Begin();
  } else {
    run_->OnStopped();
  }
}

// ---- HandshakeRun --------------------------------------------------------------

int HandshakeRun::Run() {
  if (!session_.ok())
    return 2;
  for (int i = 0; i < opts_.conns; ++i) conns_.push_back(std::make_unique<HsConn>(this, &session_));
  for (auto& c : conns_) c->Begin();
  session_.SetTimer(opts_.warmup, [this] { BeginMeasure(); });
  session_.Run();
  Report();
  return cycles_ == 0 ? 1 : 0;
}

void HandshakeRun::BeginMeasure() {
  measuring_ = true;
  cpu_begin_ = SampleCpu(opts_.server_pid);
  session_.SetTimer(opts_.duration, [this] { EndMeasure(); });
}

void HandshakeRun::EndMeasure() {
  cpu_end_ = SampleCpu(opts_.server_pid);
  measuring_ = false;
  running_ = false;  // loops stop after their current cycle
  session_.SetTimer(kCloseTimeoutS, [this] {
    for (auto& c : conns_) {
      if (c->state() == WsClient::State::kIdle || c->state() == WsClient::State::kClosing)
        continue;
      ++close_timeouts_;
      c->Close(/*abortive=*/true);
    }
  });
}

void HandshakeRun::Report() {
  double window_s = double(cpu_end_.wall_ns - cpu_begin_.wall_ns) / 1e9;
  double rate = window_s > 0 ? double(cycles_) / window_s : 0;
  CpuUse cpu = CpuBetween(cpu_begin_, cpu_end_);
  std::printf(
      "handshake %s:%d%s: %d loops, %.1f s: %.0f handshakes/s, upgrade p50 %.1f us, p99 %.1f us, "
      "p99.9 %.1f us; cycle p50 %.1f us, p99 %.1f us; errors %" PRIu64
      "; cpu loadgen %.0f%%, server %.0f%%, other %.0f%%, steal %.0f%%\n",
      opts_.host.c_str(), opts_.port, opts_.path.c_str(), opts_.conns, window_s, rate,
      Us(upgrade_.ValueAtPercentile(50)), Us(upgrade_.ValueAtPercentile(99)),
      Us(upgrade_.ValueAtPercentile(99.9)), Us(cycle_.ValueAtPercentile(50)),
      Us(cycle_.ValueAtPercentile(99)), errors_, cpu.self_pct, cpu.server_pct, cpu.other_pct,
      cpu.steal_pct);
  std::printf("RESULT mode=handshake conns=%d duration_s=%.2f handshakes=%" PRIu64
              " handshakes_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
              " cycle_p50_us=%.1f cycle_p99_us=%.1f errors=%" PRIu64 " no_close_frame=%" PRIu64
              " close_timeouts=%" PRIu64
              " loadgen_cpu_pct=%.1f server_cpu_pct=%.1f"
              " other_cpu_pct=%.1f steal_pct=%.1f\n",
              opts_.conns, window_s, cycles_, rate, Us(upgrade_.ValueAtPercentile(50)),
              Us(upgrade_.ValueAtPercentile(99)), Us(upgrade_.ValueAtPercentile(99.9)),
              Us(upgrade_.max()), Us(cycle_.ValueAtPercentile(50)),
              Us(cycle_.ValueAtPercentile(99)), errors_, no_close_frame_, close_timeouts_,
              cpu.self_pct, cpu.server_pct, cpu.other_pct, cpu.steal_pct);
  std::fflush(stdout);
}

}  // namespace

int RunHandshake(const Options& opts) {
  HandshakeRun run(opts);
  return run.Run();
}

}  // namespace longlink::loadgen
