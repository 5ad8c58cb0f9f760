// ringward/net/uring/cpu.h: where shard threads run (pinning to CPUs) and how the kernel
// schedules them (SCHED_BATCH).
//
// A shard is one thread pinned to one CPU, so its ring, caches and connection table stay warm
// in that core's caches and the scheduler never migrates it. AllowedCpus respects the CPU set
// the process was started with (taskset, systemd CPUAffinity=, cgroup cpusets), which is where
// shards should go.
//
// Thread-safe: each call affects only the calling thread (or reads the process's mask).
#ifndef RINGWARD_NET_URING_CPU_H_
#define RINGWARD_NET_URING_CPU_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::uring {

// PinCurrentThreadToCpu restricts the calling thread to CPU |cpu|. Fails with InvalidArgument
// if |cpu| is out of range and with the errno text if the kernel refuses (e.g. the CPU is
// outside this process's allowed set).
absl::Status PinCurrentThreadToCpu(int cpu);

// AllowedCpus returns the CPUs the calling thread may run on, in ascending order.
absl::StatusOr<std::vector<int>> AllowedCpus();

// UseBatchSchedulingForCurrentThread moves the calling thread to SCHED_BATCH (nice unchanged).
// A woken SCHED_BATCH thread does not preempt the thread running on its CPU; it runs when that
// one sleeps or its time slice ends. A shard woken by a request on a core its client shares
// then finds the client's next requests already waiting and answers them in one loop turn,
// instead of trading the core back and forth once per request. Needs no privilege.
absl::Status UseBatchSchedulingForCurrentThread();

// CurrentThreadCpu returns the CPU the calling thread is running on right now.
absl::StatusOr<int> CurrentThreadCpu();

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_CPU_H_
