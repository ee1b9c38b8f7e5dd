// loadgen echo: N connections, each keeping `depth` text messages in flight
// against an echo endpoint; measures round trips and checks every echo.
//
// Payload of each message (all ASCII, so a text frame is valid UTF-8):
//   [0, 8)   send time, ns since the run started, 48 bits as 8 characters
//            '0' + 6-bit group, most significant first
//   [8, 16)  (when size >= 16) the connection's message number, same encoding
//   [16, size) 'x'
// A connection's echoes must come back in order (one TCP stream), so the
// expected payload of the next echo is known exactly: the oldest in-flight
// send time and the count of echoes received so far. Anything else (wrong
// length, opcode, bytes, an echo nobody sent) is a mismatch, counted as an
// error. The round trip is taken from the local record of the send time.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "ws/frame_format.h"

#include "loadgen/session.h"

namespace longlink::loadgen {

namespace {

constexpr size_t kStampLen = 8;
constexpr size_t kHeadLen = 16;
constexpr double kCloseTimeoutS = 3;

void Encode48(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = uint8_t('0' + ((v >> (42 - 6 * i)) & 63));
}

class EchoRun;

class EchoConn final : public WsClient {
 public:
  EchoConn(EchoRun* run, Session* s, size_t depth)
      : WsClient(s->loop(), s->flush(), s->target()), run_(run), stamps_(depth) {}

  // Queues one message stamped `now`. REQUIRES: fewer than depth in flight.
  void SendOne(uint64_t now);
  size_t in_flight() const { return count_; }

 protected:
  void OnOpen() override;
  void OnMessage(uint8_t opcode, uint8_t* data, size_t len) override;
  void OnServerClose(uint16_t code) override;
  void OnError(const char* what, int err) override;
  void OnClosed() override;

 private:
  EchoRun* run_;
  std::vector<uint64_t> stamps_;  // ring of send times in flight, capacity depth
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
};

class EchoRun {
 public:
  enum class Phase { kOpening, kWarmup, kMeasure, kStopping };

  explicit EchoRun(const Options& opts) : opts_(opts), session_(opts), pad_(opts.size, 'x') {}

  int Run();

  // Called by the connections.
  void OnConnOpened();
  void OnConnFailed();
  void OnConnClosed();
  void OnEcho(EchoConn* c, uint64_t rtt_ns, uint64_t now);
  void OnMismatch(const char* what, uint64_t index, const uint8_t* data, size_t len);
  void OnConnError(const char* what, int err);

  Phase phase() const { return phase_; }
  uint64_t base() const { return base_ns_; }
  const Options& opts() const { return opts_; }
  // Bytes an echo must carry after the head: all 'x'.
  const uint8_t* pad() const { return reinterpret_cast<const uint8_t*>(pad_.data()); }

 private:
  void LaunchMore();
  void BeginTraffic();
  void BeginMeasure();
  void EndMeasure();
  void Report();

  Options opts_;
  Session session_;
  std::string pad_;
  std::vector<std::unique_ptr<EchoConn>> conns_;
  Phase phase_ = Phase::kOpening;
  uint64_t base_ns_ = 0;
  int launched_ = 0;
  int opening_ = 0;
  int opened_ = 0;
  int open_failed_ = 0;
  int closed_ = 0;
  int live_ = 0;  // connections with a handle (started and not yet closed)
  Histogram rtt_;
  uint64_t echoes_ = 0;  // echoes in the measured window
  uint64_t errors_ = 0;  // connection errors before stopping
  uint64_t mismatches_ = 0;
  uint64_t close_errors_ = 0;  // errors while closing at the end
  uint64_t close_timeouts_ = 0;
  CpuSample cpu_begin_;
  CpuSample cpu_end_;
};

// ---- EchoConn ----------------------------------------------------------------

void EchoConn::SendOne(uint64_t now) {
  size_t size = run_->opts().size;
  uint8_t* p = BeginFrame(ws::kText, size);
  Encode48(now - run_->base(), p);
  size_t head = kStampLen;
  if (size >= kHeadLen) {
    Encode48(sent_, p + kStampLen);
    head = kHeadLen;
  }
  std::memcpy(p + head, run_->pad(), size - head);
  EndFrame();
  stamps_[(head_ + count_) % stamps_.size()] = now;
  ++count_;
  ++sent_;
}

void EchoConn::OnOpen() {
  run_->OnConnOpened();
}

void EchoConn::OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
  uint64_t now = read_time();
  size_t size = run_->opts().size;
  if (count_ == 0) {
    run_->OnMismatch("echo with nothing in flight", received_, data, len);
    return;
  }
  uint64_t stamp = stamps_[head_];
  head_ = (head_ + 1) % stamps_.size();
  --count_;
  uint8_t expect[kHeadLen];
  Encode48(stamp - run_->base(), expect);
  Encode48(received_, expect + kStampLen);
  size_t head = size >= kHeadLen ? kHeadLen : kStampLen;
  ++received_;
  if (opcode != ws::kText || len != size) {
    run_->OnMismatch(opcode != ws::kText ? "echo opcode" : "echo length", received_ - 1, data, len);
  } else if (std::memcmp(data, expect, head) != 0 ||
             std::memcmp(data + head, run_->pad(), size - head) != 0) {
    run_->OnMismatch("echo bytes", received_ - 1, data, len);
  }
  run_->OnEcho(this, now - stamp, now);
}

void EchoConn::OnServerClose(uint16_t code) {
  if (run_->phase() != EchoRun::Phase::kStopping) {
    run_->OnConnError("server closed the connection, code", code);
  }
  Close(/*abortive=*/true);
}

void EchoConn::OnError(const char* what, int err) {
  if (state() == State::kConnecting || state() == State::kUpgrading) {
    ReportError(what, err);
    run_->OnConnFailed();
    return;
  }
  run_->OnConnError(what, err);
}

void EchoConn::OnClosed() {
  run_->OnConnClosed();
}

// ---- EchoRun -----------------------------------------------------------------

int EchoRun::Run() {
  if (!session_.ok())
    return 2;
  conns_.reserve(size_t(opts_.conns));
  for (int i = 0; i < opts_.conns; ++i) {
    conns_.push_back(std::make_unique<EchoConn>(this, &session_, size_t(opts_.depth)));
  }
  LaunchMore();
  session_.Run();
  Report();
  return opened_ == 0 ? 1 : 0;
}

// Keeps at most --batch connections opening at once.
void EchoRun::LaunchMore() {
  while (launched_ < opts_.conns && opening_ < opts_.batch) {
    ++launched_;
    ++opening_;
    ++live_;
    conns_[size_t(launched_ - 1)]->Start();
  }
}

void EchoRun::OnConnOpened() {
  --opening_;
  ++opened_;
  LaunchMore();
  if (opened_ + open_failed_ == opts_.conns)
    BeginTraffic();
}

void EchoRun::OnConnFailed() {
  --opening_;
  ++open_failed_;
  LaunchMore();
  if (opened_ + open_failed_ == opts_.conns)
    BeginTraffic();
}

void EchoRun::BeginTraffic() {
  if (opened_ == 0) {
    std::fprintf(stderr, "loadgen: no connection could be opened\n");
    phase_ = Phase::kStopping;
    return;  // the failed connections close; OnConnClosed finishes
  }
  phase_ = Phase::kWarmup;
  base_ns_ = uv_hrtime();
  for (auto& c : conns_) {
    if (c->state() != WsClient::State::kOpen)
      continue;
    uint64_t now = uv_hrtime();
    for (int i = 0; i < opts_.depth; ++i) c->SendOne(now);
  }
  session_.SetTimer(opts_.warmup, [this] { BeginMeasure(); });
}

void EchoRun::BeginMeasure() {
  rtt_.Reset();
  echoes_ = 0;
  phase_ = Phase::kMeasure;
  cpu_begin_ = SampleCpu(opts_.server_pid);
  session_.SetTimer(opts_.duration, [this] { EndMeasure(); });
}

void EchoRun::EndMeasure() {
  cpu_end_ = SampleCpu(opts_.server_pid);
  phase_ = Phase::kStopping;
  for (auto& c : conns_) c->SendClose(ws::close_code::kNormal);
  // Connections the server does not close within the timeout are cut.
  session_.SetTimer(kCloseTimeoutS, [this] {
    for (auto& c : conns_) {
      if (c->state() == WsClient::State::kIdle || c->state() == WsClient::State::kClosing)
        continue;
      ++close_timeouts_;
      c->Close(/*abortive=*/true);
    }
  });
  if (live_ == closed_)
    session_.Finish();
}

void EchoRun::OnEcho(EchoConn* c, uint64_t rtt_ns, uint64_t now) {
  if (phase_ == Phase::kMeasure) {
    rtt_.Record(rtt_ns);
    ++echoes_;
  }
  if (phase_ != Phase::kStopping)
    c->SendOne(now);
}

void EchoRun::OnMismatch(const char* what, uint64_t index, const uint8_t* data, size_t len) {
  ++mismatches_;
  if (mismatches_ > 5)
    return;
  std::string shown(reinterpret_cast<const char*>(data), len < 64 ? len : 64);
  for (char& ch : shown) {
    if (ch < 0x20 || ch > 0x7e)
      ch = '?';
  }
  std::fprintf(stderr, "loadgen: mismatch: %s (echo #%" PRIu64 ", %zu bytes): \"%s\"\n", what,
               index, len, shown.c_str());
}

void EchoRun::OnConnError(const char* what, int err) {
  if (phase_ == Phase::kStopping) {
    ++close_errors_;
    return;
  }
  ++errors_;
  ReportError(what, err);
}

void EchoRun::OnConnClosed() {
  ++closed_;
  if (phase_ == Phase::kStopping && closed_ == live_)
    session_.Finish();
}

void EchoRun::Report() {
  double window_s = double(cpu_end_.wall_ns - cpu_begin_.wall_ns) / 1e9;
  double rate = window_s > 0 ? double(echoes_) / window_s : 0;
  CpuUse cpu = CpuBetween(cpu_begin_, cpu_end_);
  uint64_t errors = errors_ + mismatches_ + uint64_t(open_failed_);
  std::printf(
      "echo %s:%d%s: %d conns (%d open), %zu B, depth %d, %.1f s: %.0f msg/s, RTT p50 %.1f us, "
      "p99 %.1f us, p99.9 %.1f us, max %.1f us; errors %" PRIu64 " (mismatches %" PRIu64
      "); cpu loadgen %.0f%%, server %.0f%%, other %.0f%%, steal %.0f%%\n",
      opts_.host.c_str(), opts_.port, opts_.path.c_str(), opts_.conns, opened_, opts_.size,
      opts_.depth, window_s, rate, Us(rtt_.ValueAtPercentile(50)), Us(rtt_.ValueAtPercentile(99)),
      Us(rtt_.ValueAtPercentile(99.9)), Us(rtt_.max()), errors, mismatches_, cpu.self_pct,
      cpu.server_pct, cpu.other_pct, cpu.steal_pct);
  std::printf("RESULT mode=echo conns=%d size=%zu depth=%d duration_s=%.2f msgs=%" PRIu64
              " msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f"
              " errors=%" PRIu64 " mismatches=%" PRIu64 " open_failed=%d close_errors=%" PRIu64
              " close_timeouts=%" PRIu64
              " loadgen_cpu_pct=%.1f server_cpu_pct=%.1f"
              " other_cpu_pct=%.1f steal_pct=%.1f\n",
              opts_.conns, opts_.size, opts_.depth, window_s, echoes_, rate,
              Us(rtt_.ValueAtPercentile(50)), Us(rtt_.ValueAtPercentile(99)),
              Us(rtt_.ValueAtPercentile(99.9)), Us(rtt_.max()), rtt_.mean() / 1000.0, errors,
              mismatches_, open_failed_, close_errors_, close_timeouts_, cpu.self_pct,
              cpu.server_pct, cpu.other_pct, cpu.steal_pct);
  std::fflush(stdout);
}

}  // namespace

int RunEcho(const Options& opts) {
  EchoRun run(opts);
  return run.Run();
}

}  // namespace longlink::loadgen
