// ImConn and Fleet; see im_conn.h.
#include "imload/im_conn.h"

#include <cstdio>

#include "base/assert.h"

#include "ws/frame_format.h"

#include "imload/frame_scan.h"

namespace longlink::imload {

namespace {
constexpr double kCloseTimeoutS = 5;
}  // namespace

// ---- ImConn ------------------------------------------------------------------

ImConn::ImConn(Loop* loop, ConnEvents* events, uint32_t index, std::string user, std::string device)
    : WsClient(loop->loop(), loop->flush(), loop->target()),
      events_(events),
      user_(std::move(user)),
      device_(std::move(device)),
      index_(index) {}

void ImConn::OnOpen() {
  if (user_.empty()) {
    ready_ = true;
    events_->OnReady(this);
    return;
  }
  char buf[256];
  FrameText f(buf, sizeof(buf));
  f.Add("{\"t\":\"hello\",\"v\":1,\"user\":\"").Add(user_).Add("\",\"device\":\"").Add(device_);
  f.Add("\"}");
  LL_CHECK(!f.overflow());
  SendText(f.data(), f.size());
}

void ImConn::OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
  if (opcode != ws::kText) {
    events_->OnFailed(this, "binary frame from server", 0);
    Close(/*abortive=*/true);
    return;
  }
  if (ready_) {
    events_->OnFrame(this, data, len);
    return;
  }
  if (HasPrefix(data, len, "{\"t\":\"welcome\"")) {
    ready_ = true;
    events_->OnReady(this);
    return;
  }
  std::fprintf(stderr, "imload: %s: hello answered with %.*s\n", user_.c_str(), int(len), data);
  events_->OnFailed(this, "hello refused", 0);
  Close(/*abortive=*/true);
}

void ImConn::OnReadEnd() {
  if (ready_)
    events_->OnReadEnd(this);
}

void ImConn::OnServerClose(uint16_t code) {
  if (!expect_close_)
    events_->OnFailed(this, "server closed the connection, code", code);
  Close(/*abortive=*/true);
}

void ImConn::OnError(const char* what, int err) {
  if (!expect_close_)
    events_->OnFailed(this, what, err);
}

void ImConn::OnClosed() {
  events_->OnClosed(this);
}

// ---- Fleet -------------------------------------------------------------------

Fleet::Fleet(const Options& opts) : opts_(opts), loop_(opts) {}

Fleet::~Fleet() {
  // Connections must be closed before the loop goes (Loop's destructor runs
  // the loop once more for the close callbacks).
  for (auto& c : conns_) {
    if (c->state() != WsClient::State::kIdle && c->state() != WsClient::State::kClosing)
      c->Close(/*abortive=*/true);
  }
  uv_run(loop_.loop(), UV_RUN_NOWAIT);
}

void Fleet::OpenAll() {
  opening_phase_ = true;
  open_start_ns_ = uv_hrtime();
  loop_.SetTimer(opts_.open_timeout, [this] {
    if (!opening_phase_)
      return;
    std::fprintf(stderr, "imload: %zu of %zu connections not ready after %.0f s\n",
                 conns_.size() - opened_, conns_.size(), opts_.open_timeout);
    for (auto& c : conns_) {
      if (!c->ready() && c->state() != WsClient::State::kIdle) {
        c->ExpectClose();
        c->Close(/*abortive=*/true);
      }
    }
    OpeningDone();
  });
  LaunchMore();
  if (conns_.empty())
    OpeningDone();
}

void Fleet::LaunchMore() {
  while (opening_phase_ && launched_ < conns_.size() && in_progress_ < size_t(opts_.batch)) {
    ++in_progress_;
    conns_[launched_++]->Start();
  }
}

void Fleet::OpeningDone() {
  opening_phase_ = false;
  open_ns_ = uv_hrtime() - open_start_ns_;
  open_failed_ = conns_.size() - opened_;
  loop_.SetTimer(0, nullptr);
  OnAllOpen();
}

void Fleet::OnReady(ImConn*) {
  if (!opening_phase_)
    return;
  --in_progress_;
  ++opened_;
  LaunchMore();
  if (opened_ == conns_.size())
    OpeningDone();
}

void Fleet::OnFailed(ImConn* c, const char* what, long err) {
  ReportError(what, err);
  if (opening_phase_ && !c->ready()) {
    --in_progress_;
    c->ExpectClose();  // one failure per connection
    LaunchMore();
    if (launched_ == conns_.size() && in_progress_ == 0)
      OpeningDone();
    return;
  }
  if (!closing_phase_)
    ++dropped_;
  c->ExpectClose();
}

void Fleet::OnClosed(ImConn*) {
  ++closed_;
  if (closing_phase_ && closed_ == launched_)
    loop_.Finish();
}

void Fleet::CloseAll() {
  closing_phase_ = true;
  loop_.StopTicker();
  for (auto& c : conns_) {
    c->ExpectClose();
    if (c->state() == WsClient::State::kOpen) {
      c->SendClose(ws::close_code::kNormal);
    } else if (c->state() != WsClient::State::kIdle) {
      c->Close(/*abortive=*/true);
    }
  }
  loop_.SetTimer(kCloseTimeoutS, [this] {
    for (auto& c : conns_) {
      if (c->state() == WsClient::State::kIdle || c->state() == WsClient::State::kClosing)
        continue;
      ++close_timeouts_;
      c->Close(/*abortive=*/true);
    }
  });
  if (closed_ == launched_)
    loop_.Finish();
}

}  // namespace longlink::imload
