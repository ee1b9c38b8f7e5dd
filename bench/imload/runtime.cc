// Loop and RunTag, shared by the imload modes.
#include "imload/runtime.h"

#include <unistd.h>

#include <cstdio>

#include "base/assert.h"

namespace longlink::imload {

std::string RunTag() {
  uint64_t v = uv_hrtime() ^ (uint64_t(getpid()) << 40);
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v & 0xFFFFFFFFFFFull));
  return buf;
}

Loop::Loop(const Options& opts) {
  LL_CHECK(uv_loop_init(&loop_) == 0);
  LL_CHECK(uv_timer_init(&loop_, &timer_) == 0);
  LL_CHECK(uv_timer_init(&loop_, &ticker_) == 0);
  timer_.data = this;
  ticker_.data = this;
  flush_ = new FlushQueue(&loop_);
  int err = MakeTarget(opts.host, opts.port, opts.path, &target_);
  if (err) {
    std::fprintf(stderr, "imload: bad address %s:%d: %s\n", opts.host.c_str(), opts.port,
                 uv_strerror(err));
    return;
  }
  ok_ = true;
}

Loop::~Loop() {
  Finish();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let the close callbacks run
  int err = uv_loop_close(&loop_);
  if (err)
    std::fprintf(stderr, "imload: loop still busy at exit: %s\n", uv_strerror(err));
  delete flush_;
}

void Loop::SetTimer(double seconds, std::function<void()> fn) {
  timer_fn_ = std::move(fn);
  uint64_t ms = seconds <= 0 ? 0 : uint64_t(seconds * 1000.0 + 0.5);
  LL_CHECK(uv_timer_start(&timer_, OnTimer, ms, 0) == 0);
}

void Loop::StartTicker(uint64_t ms, std::function<void()> fn) {
  tick_fn_ = std::move(fn);
  LL_CHECK(uv_timer_start(&ticker_, OnTick, ms, ms) == 0);
}

void Loop::StopTicker() {
  uv_timer_stop(&ticker_);
  tick_fn_ = nullptr;
}

void Loop::OnTimer(uv_timer_t* t) {
  auto* l = static_cast<Loop*>(t->data);
  std::function<void()> fn = std::move(l->timer_fn_);
  l->timer_fn_ = nullptr;
  if (fn)
    fn();
}

void Loop::OnTick(uv_timer_t* t) {
  auto* l = static_cast<Loop*>(t->data);
  if (l->tick_fn_)
    l->tick_fn_();
}

void Loop::Finish() {
  if (finished_)
    return;
  finished_ = true;
  uv_timer_stop(&timer_);
  timer_fn_ = nullptr;
  StopTicker();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
  flush_->Stop();
}

void Loop::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

}  // namespace longlink::imload
