// loadgen idle: opens N WebSocket connections, at most --batch opening at
// once, prints "OPEN <n>" on stdout when every attempt has finished, holds
// them for --hold seconds (or until SIGINT/SIGTERM with --hold 0) answering
// server pings with pongs, then closes them with a close handshake. Used by
// bench/idle_rss.sh to measure the server's memory per idle connection.
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include "base/assert.h"

#include "ws/frame_format.h"

#include "loadgen/session.h"

namespace longlink::loadgen {

namespace {

constexpr double kCloseTimeoutS = 5;

class IdleRun;

class IdleConn final : public WsClient {
 public:
  IdleConn(IdleRun* run, Session* s) : WsClient(s->loop(), s->flush(), s->target()), run_(run) {}

 protected:
  void OnOpen() override;
  void OnServerClose(uint16_t code) override;
  void OnError(const char* what, int err) override;
  void OnClosed() override;

 private:
  IdleRun* run_;
};

class IdleRun {
 public:
  enum class Phase { kOpening, kHolding, kClosing };

  explicit IdleRun(const Options& opts) : opts_(opts), session_(opts) {}

  int Run();

  Phase phase() const { return phase_; }
  void OnOpened();
  void OnOpenFailed(const char* what, int err);
  void OnDropped(const char* what, int err);
  void OnCloseError() { ++close_errors_; }
  void OnConnClosed();

 private:
  static void OnSignal(uv_signal_t* h, int signum);
  void LaunchMore();
  void AllAttempted();
  void EndHold();
  void Report();

  Options opts_;
  Session session_;
  std::vector<std::unique_ptr<IdleConn>> conns_;
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  Phase phase_ = Phase::kOpening;
  int launched_ = 0;
  int opening_ = 0;
  int opened_ = 0;
  int failed_ = 0;
  int closed_ = 0;
  uint64_t dropped_ = 0;
  uint64_t close_errors_ = 0;
  uint64_t close_timeouts_ = 0;
  uint64_t start_ns_ = 0;
  uint64_t open_ns_ = 0;
};

// ---- IdleConn ----------------------------------------------------------------

void IdleConn::OnOpen() {
  run_->OnOpened();
}

void IdleConn::OnServerClose(uint16_t code) {
  if (run_->phase() != IdleRun::Phase::kClosing)
    run_->OnDropped("server closed, code", code);
  Close(/*abortive=*/true);
}

void IdleConn::OnError(const char* what, int err) {
  if (state() == State::kConnecting || state() == State::kUpgrading) {
    run_->OnOpenFailed(what, err);
  } else if (run_->phase() == IdleRun::Phase::kClosing) {
    run_->OnCloseError();
  } else {
    run_->OnDropped(what, err);
  }
}

void IdleConn::OnClosed() {
  run_->OnConnClosed();
}

// ---- IdleRun -----------------------------------------------------------------

int IdleRun::Run() {
  if (!session_.ok())
    return 2;
  conns_.reserve(size_t(opts_.conns));
  for (int i = 0; i < opts_.conns; ++i)
    conns_.push_back(std::make_unique<IdleConn>(this, &session_));
  LL_CHECK(uv_signal_init(session_.loop(), &sigint_) == 0);
  LL_CHECK(uv_signal_init(session_.loop(), &sigterm_) == 0);
  sigint_.data = sigterm_.data = this;
  LL_CHECK(uv_signal_start(&sigint_, OnSignal, SIGINT) == 0);
  LL_CHECK(uv_signal_start(&sigterm_, OnSignal, SIGTERM) == 0);
  start_ns_ = uv_hrtime();
  LaunchMore();
  session_.Run();
  Report();
  return failed_ == 0 && dropped_ == 0 ? 0 : 1;
}

void IdleRun::LaunchMore() {
  while (phase_ == Phase::kOpening && launched_ < opts_.conns && opening_ < opts_.batch) {
    ++launched_;
    ++opening_;
    conns_[size_t(launched_ - 1)]->Start();
  }
}

void IdleRun::OnOpened() {
  --opening_;
  ++opened_;
  LaunchMore();
  if (phase_ == Phase::kOpening && opened_ + failed_ == opts_.conns)
    AllAttempted();
}

void IdleRun::OnOpenFailed(const char* what, int err) {
  --opening_;
  ++failed_;
  ReportError(what, err);
  LaunchMore();
  if (phase_ == Phase::kOpening && opened_ + failed_ == opts_.conns)
    AllAttempted();
}

void IdleRun::OnDropped(const char* what, int err) {
  ++dropped_;
  ReportError(what, err);
}

void IdleRun::AllAttempted() {
  open_ns_ = uv_hrtime() - start_ns_;
  phase_ = Phase::kHolding;
  std::printf("OPEN %d\n", opened_);
  std::fflush(stdout);
  if (failed_)
    std::fprintf(stderr, "loadgen: %d of %d connections failed to open\n", failed_, opts_.conns);
  if (opts_.hold > 0)
    session_.SetTimer(opts_.hold, [this] { EndHold(); });
}

void IdleRun::OnSignal(uv_signal_t* h, int) {
  auto* run = static_cast<IdleRun*>(h->data);
  if (run->phase_ == Phase::kClosing)
    return;
  if (run->phase_ == Phase::kOpening) {
    run->open_ns_ = uv_hrtime() - run->start_ns_;
    std::printf("OPEN %d\n", run->opened_);
  }
  run->EndHold();
}

void IdleRun::EndHold() {
  phase_ = Phase::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  for (auto& c : conns_) {
    if (c->state() == WsClient::State::kOpen) {
      c->SendClose(ws::close_code::kNormal);
    } else {
      c->Close(/*abortive=*/true);  // still opening (interrupted by a signal)
    }
  }
  session_.SetTimer(kCloseTimeoutS, [this] {
    for (auto& c : conns_) {
      if (c->state() == WsClient::State::kIdle || c->state() == WsClient::State::kClosing)
        continue;
      ++close_timeouts_;
      c->Close(/*abortive=*/true);
    }
  });
  if (closed_ == launched_)
    session_.Finish();
}

void IdleRun::OnConnClosed() {
  ++closed_;
  if (phase_ == Phase::kClosing && closed_ == launched_)
    session_.Finish();
}

void IdleRun::Report() {
  double open_s = double(open_ns_) / 1e9;
  uint64_t pings = 0;
  for (auto& c : conns_) pings += c->pings();
  std::printf("idle %s:%d%s: opened %d of %d in %.2f s (%.0f/s), %" PRIu64
              " pings answered, %" PRIu64 " dropped while held\n",
              opts_.host.c_str(), opts_.port, opts_.path.c_str(), opened_, opts_.conns, open_s,
              open_s > 0 ? opened_ / open_s : 0, pings, dropped_);
  std::printf("RESULT mode=idle conns=%d opened=%d failed=%d open_s=%.3f pings=%" PRIu64
              " dropped=%" PRIu64 " close_errors=%" PRIu64 " close_timeouts=%" PRIu64 "\n",
              opts_.conns, opened_, failed_, open_s, pings, dropped_, close_errors_,
              close_timeouts_);
  std::fflush(stdout);
}

}  // namespace

int RunIdle(const Options& opts) {
  IdleRun run(opts);
  return run.Run();
}

}  // namespace longlink::loadgen
