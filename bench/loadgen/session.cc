// Session, CPU sampling and error reporting shared by the loadgen modes.
#include "loadgen/session.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/assert.h"

namespace longlink::loadgen {

namespace {

double TimevalSeconds(const timeval& tv) {
  return double(tv.tv_sec) + double(tv.tv_usec) / 1e6;
}

// utime + stime of every thread of `pid`, from /proc/<pid>/stat (fields 14
// and 15, counted after the parenthesised command name). -1 if unreadable.
double ProcessCpuSeconds(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr)
    return -1;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr)
    return -1;
  unsigned long utime = 0;
  unsigned long stime = 0;
  // After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
  // majflt cmajflt utime(14) stime(15).
  int got =
      std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
  if (got != 2)
    return -1;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// Busy (user, nice, system, irq, softirq) and steal seconds of all cores,
// from the first line of /proc/stat. False if unreadable.
bool MachineCpuSeconds(double* busy, double* steal) {
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr)
    return false;
  unsigned long long v[8] = {};
  int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (got != 8)
    return false;
  double tick = double(sysconf(_SC_CLK_TCK));
  *busy = double(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
  *steal = double(v[7]) / tick;
  return true;
}

int g_errors_printed = 0;
constexpr int kMaxErrorsPrinted = 10;

}  // namespace

CpuSample SampleCpu(int server_pid) {
  CpuSample s;
  s.wall_ns = uv_hrtime();
  rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    s.self_s = TimevalSeconds(ru.ru_utime) + TimevalSeconds(ru.ru_stime);
  s.server_s = server_pid > 0 ? ProcessCpuSeconds(server_pid) : -1;
  if (!MachineCpuSeconds(&s.machine_busy_s, &s.machine_steal_s))
    s.machine_busy_s = -1;
  return s;
}

double SelfCpuPercent(const CpuSample& a, const CpuSample& b) {
  double wall = double(b.wall_ns - a.wall_ns) / 1e9;
  return wall > 0 ? 100.0 * (b.self_s - a.self_s) / wall : -1;
}

double ServerCpuPercent(const CpuSample& a, const CpuSample& b, int server_pid) {
  double wall = double(b.wall_ns - a.wall_ns) / 1e9;
  if (server_pid <= 0 || a.server_s < 0 || b.server_s < 0 || wall <= 0)
    return -1;
  return 100.0 * (b.server_s - a.server_s) / wall;
}

double OtherCpuPercent(const CpuSample& a, const CpuSample& b, int server_pid) {
  double wall = double(b.wall_ns - a.wall_ns) / 1e9;
  if (wall <= 0 || a.machine_busy_s < 0 || b.machine_busy_s < 0)
    return -1;
  double other = (b.machine_busy_s - a.machine_busy_s) - (b.self_s - a.self_s);
  if (server_pid > 0 && a.server_s >= 0 && b.server_s >= 0)
    other -= b.server_s - a.server_s;
  // Tick-based accounting makes the parts disagree by a tick or two.
  return other > 0 ? 100.0 * other / wall : 0.0;
}

double StealPercent(const CpuSample& a, const CpuSample& b) {
  double wall = double(b.wall_ns - a.wall_ns) / 1e9;
  if (wall <= 0 || a.machine_busy_s < 0 || b.machine_busy_s < 0)
    return -1;
  return 100.0 * (b.machine_steal_s - a.machine_steal_s) / wall;
}

void ReportError(const char* what, int err) {
  if (g_errors_printed >= kMaxErrorsPrinted)
    return;
  ++g_errors_printed;
  const char* text = err < 0 ? uv_strerror(err) : "";
  std::fprintf(stderr, "loadgen: error: %s %d %s%s\n", what, err, text,
               g_errors_printed == kMaxErrorsPrinted ? " (further errors only counted)" : "");
}

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
