// bench/load/cpu_time.h: CPU time of other processes (the server under test) and of this one.
//
// The server's cost per request is its CPU time over the run divided by the requests answered;
// it holds even when the load generator, sharing the cores, is the bottleneck. Each pid's
// utime+stime is read from /proc/PID/stat, which already sums all of the process's threads,
// including threads that exited during the run (a sum over /proc/PID/task/*/stat, as
// ../shared/peers/measure does, is the same for long-lived threads but misses exited ones).
// For nginx, pass the worker processes' pids.
//
// Thread-safe: plain reads of /proc and getrusage.
#ifndef RINGWARD_BENCH_LOAD_CPU_TIME_H_
#define RINGWARD_BENCH_LOAD_CPU_TIME_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringward::load {

// ParseProcStatCpuTicks returns utime+stime (fields 14 and 15) from the text of a
// /proc/PID/stat file. The command name may contain spaces and parentheses, so fields are
// counted from the last ')'.
absl::StatusOr<unsigned long long> ParseProcStatCpuTicks(std::string_view stat);

// ProcessesCpuSeconds sums the CPU time of |pids|. Fails naming the first pid that cannot be
// read (gone, or not ours to read).
absl::StatusOr<double> ProcessesCpuSeconds(const std::vector<int>& pids);

// SelfCpuSeconds is this process's user+system CPU time.
double SelfCpuSeconds();

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_CPU_TIME_H_
