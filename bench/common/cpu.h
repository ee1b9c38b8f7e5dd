// CPU accounting for the load generators: how much CPU this process, the
// server under test (--server-pid) and the rest of the machine used over a
// measured window. Linux only (/proc/<pid>/stat, /proc/stat).
#pragma once

#include <cstdint>

namespace longlink::bench {

// CPU seconds used so far by this process, by `server_pid` (0: none), and by
// the whole machine (all cores, from /proc/stat: busy, and stolen by the
// hypervisor). -1 where unknown.
struct CpuSample {
  uint64_t wall_ns = 0;
  double self_s = 0;
  double server_s = -1;
  double machine_busy_s = -1;
  double machine_steal_s = 0;
};
CpuSample SampleCpu(int server_pid);

// Percentages of one core between two samples (-1 when unknown).
struct CpuUse {
  double self_pct = -1;
  double server_pct = -1;
  double server_s = -1;  // CPU seconds the server used in the window
  // Everything else on the machine (other processes, and interrupt time
  // charged to no process): the noise on a shared machine. A run where this
  // is high says more about the neighbours than about the server.
  double other_pct = -1;
  double steal_pct = -1;  // time the hypervisor gave to other guests
};
CpuUse CpuBetween(const CpuSample& a, const CpuSample& b);

}  // namespace longlink::bench
