// ringward/net/uring/probe.h: a start-up check that this kernel can run ringward's shards.
//
// ProbeIoUring answers "will Ring::Create, BufferRing::Create and the multishot operations
// work here?" before any shard starts, so an operator gets one clear message naming what is
// missing and what to do, instead of an EINVAL from deep inside a shard. It checks:
//   - io_uring is not disabled (kernel.io_uring_disabled, seccomp filters in containers);
//   - the setup flags of kRingSetupFlags (SINGLE_ISSUER and DEFER_TASKRUN need Linux 6.1);
//   - IORING_FEAT_EXT_ARG (the timed wait in Ring::SubmitAndWait);
//   - the opcodes shards use (accept, recv, send, sendmsg, close, timeout, link timeout,
//     async cancel, msg_ring, read, write, fsync, nop);
//   - by doing them once: registering a provided-buffer ring, a multishot accept, a multishot
//     recv into that buffer ring, and a MSG_RING, on throwaway sockets (a unix socket pair and
//     an autobound abstract unix listener; no network port is opened).
//
// Thread-safe; it creates and destroys its own ring on the calling thread. Takes a few
// milliseconds; call it once at start-up.
#ifndef RINGWARD_NET_URING_PROBE_H_
#define RINGWARD_NET_URING_PROBE_H_

#include "absl/status/status.h"

namespace ringward::uring {

// ProbeIoUring returns OK if everything above works, or FailedPrecondition whose message lists
// every missing piece with the fix (a sysctl, a kernel version, a container setting).
absl::Status ProbeIoUring();

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_PROBE_H_
