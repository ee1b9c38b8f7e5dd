// CPU sampling from getrusage and /proc; see cpu.h.
#include "common/cpu.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <uv.h>

namespace longlink::bench {

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

CpuUse CpuBetween(const CpuSample& a, const CpuSample& b) {
  CpuUse u;
  double wall = double(b.wall_ns - a.wall_ns) / 1e9;
  if (wall <= 0)
    return u;
  u.self_pct = 100.0 * (b.self_s - a.self_s) / wall;
  if (a.server_s >= 0 && b.server_s >= 0) {
    u.server_s = b.server_s - a.server_s;
    u.server_pct = 100.0 * u.server_s / wall;
  }
  if (a.machine_busy_s >= 0 && b.machine_busy_s >= 0) {
    double other = (b.machine_busy_s - a.machine_busy_s) - (b.self_s - a.self_s);
    if (u.server_s >= 0)
      other -= u.server_s;
    // Tick-based accounting makes the parts disagree by a tick or two.
    u.other_pct = other > 0 ? 100.0 * other / wall : 0.0;
    u.steal_pct = 100.0 * (b.machine_steal_s - a.machine_steal_s) / wall;
  }
  return u;
}

}  // namespace longlink::bench
