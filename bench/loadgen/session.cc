// Session, shared by the loadgen modes.
#include "loadgen/session.h"

#include <cstdio>

#include "base/assert.h"

namespace longlink::loadgen {

Session::Session(const Options& opts) {
  LL_CHECK(uv_loop_init(&loop_) == 0);
  LL_CHECK(uv_timer_init(&loop_, &timer_) == 0);
  timer_.data = this;
  flush_ = new FlushQueue(&loop_);
  int err = MakeTarget(opts.host, opts.port, opts.path, &target_);
  if (err) {
    std::fprintf(stderr, "loadgen: bad address %s:%d: %s\n", opts.host.c_str(), opts.port,
                 uv_strerror(err));
    return;
  }
  ok_ = true;
}

Session::~Session() {
  Finish();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let the close callbacks run
  int err = uv_loop_close(&loop_);
  if (err)
    std::fprintf(stderr, "loadgen: loop still busy at exit: %s\n", uv_strerror(err));
  delete flush_;
}

void Session::SetTimer(double seconds, std::function<void()> fn) {
  timer_fn_ = std::move(fn);
  uint64_t ms = seconds <= 0 ? 0 : uint64_t(seconds * 1000.0 + 0.5);
  LL_CHECK(uv_timer_start(&timer_, OnTimer, ms, 0) == 0);
}

void Session::CancelTimer() {
  uv_timer_stop(&timer_);
  timer_fn_ = nullptr;
}

void Session::OnTimer(uv_timer_t* t) {
  auto* s = static_cast<Session*>(t->data);
  std::function<void()> fn = std::move(s->timer_fn_);
  s->timer_fn_ = nullptr;
  if (fn)
    fn();
}

void Session::Finish() {
  if (finished_)
    return;
  finished_ = true;
  CancelTimer();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  flush_->Stop();
}

void Session::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

}  // namespace longlink::loadgen
