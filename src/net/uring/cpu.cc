#include "ringward/net/uring/cpu.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ringward::uring {

absl::Status PinCurrentThreadToCpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    return absl::InvalidArgumentError(
        absl::StrCat("PinCurrentThreadToCpu: cpu ", cpu, " is outside [0, ", CPU_SETSIZE, ")"));
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pthread_setaffinity_np returns the error number instead of setting errno.
  const int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (err != 0) {
    return absl::ErrnoToStatus(
        err, absl::StrCat("pinning thread to cpu ", cpu,
                          " (is it online and in this process's CPU affinity set?)"));
  }
  return absl::OkStatus();
}

absl::Status UseBatchSchedulingForCurrentThread() {
  const sched_param param{.sched_priority = 0};
  // pthread_setschedparam returns the error number instead of setting errno.
  const int err = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  if (err != 0) {
    return absl::ErrnoToStatus(err, "setting the thread's scheduling policy to SCHED_BATCH");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int err = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
  if (err != 0) {
    return absl::ErrnoToStatus(err, "pthread_getaffinity_np");
  }
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) {
      cpus.push_back(cpu);
    }
  }
  return cpus;
}

absl::StatusOr<int> CurrentThreadCpu() {
  const int cpu = sched_getcpu();
  if (cpu < 0) {
    return absl::ErrnoToStatus(errno, "sched_getcpu");
  }
  return cpu;
}

}  // namespace ringward::uring
