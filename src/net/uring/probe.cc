#include "ringward/net/uring/probe.h"

#include <liburing.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "net/uring/internal.h"
#include "ringward/base/fd.h"
#include "ringward/net/uring/buffer_ring.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/ring.h"
#include "ringward/net/uring/user_data.h"

namespace ringward::uring {

namespace {

constexpr char kDisabledSysctl[] = "/proc/sys/kernel/io_uring_disabled";
constexpr char kGroupSysctl[] = "/proc/sys/kernel/io_uring_group";
constexpr auto kProbeWait = std::chrono::seconds(1);

std::optional<long> ReadSysctl(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) {
    return std::nullopt;
  }
  long value = 0;
  const bool ok = std::fscanf(f, "%ld", &value) == 1;
  std::fclose(f);
  return ok ? std::optional<long>(value) : std::nullopt;
}

std::string KernelRelease() {
  utsname u;
  if (uname(&u) != 0) {
    return "unknown";
  }
  return u.release;
}

absl::Status Unusable(const std::vector<std::string>& problems) {
  return absl::FailedPreconditionError(absl::StrCat("io_uring is not usable on this kernel (",
                                                    KernelRelease(),
                                                    "): ", absl::StrJoin(problems, "; ")));
}

// TryInit creates and immediately destroys a ring with |flags|, returning 0 or -errno.
int TryInit(unsigned flags) {
  io_uring ring;
  io_uring_params params{};
  params.flags = flags;
  params.cq_entries = 64;
  const int ret = io_uring_queue_init_params(8, &ring, &params);
  if (ret == 0) {
    io_uring_queue_exit(&ring);
  }
  return ret;
}

// ExplainInitFailure turns the errno of a plain io_uring_setup into what the operator can do.
std::string ExplainInitFailure(int neg_errno, std::optional<long> disabled) {
  if (neg_errno == -ENOSYS) {
    return "io_uring_setup is not implemented (kernel built without CONFIG_IO_URING, or older "
           "than 5.1); use a Linux 6.1+ kernel with io_uring enabled";
  }
  if (neg_errno == -EPERM || neg_errno == -EACCES) {
    if (disabled.has_value() && *disabled == 1) {
      const std::optional<long> group = ReadSysctl(kGroupSysctl);
      return absl::StrCat(
          "io_uring is restricted by kernel.io_uring_disabled=1 to CAP_SYS_ADMIN and members "
          "of group ",
          group.has_value() ? absl::StrCat(*group) : std::string("kernel.io_uring_group"),
          "; add the service user to that group (kernel.io_uring_group) or allow everyone "
          "with sysctl -w kernel.io_uring_disabled=0");
    }
    return "io_uring_setup was refused (EPERM): a seccomp filter blocks io_uring (container "
           "runtimes' default profiles do: run with a profile that allows io_uring_setup, "
           "io_uring_enter and io_uring_register; for systemd check SystemCallFilter=), or "
           "kernel.io_uring_disabled is set (sysctl -w kernel.io_uring_disabled=0)";
  }
  if (neg_errno == -ENOMEM) {
    return "io_uring_setup failed with ENOMEM: kernels before 5.12 charge rings to "
           "RLIMIT_MEMLOCK; raise it (ulimit -l, or LimitMEMLOCK= in the systemd unit)";
  }
  return absl::StrCat("io_uring_setup failed: ", std::strerror(-neg_errno));
}

struct FlagRequirement {
  unsigned flag;
  unsigned prerequisites;  // flags the kernel requires together with |flag|
  const char* name;
  const char* since;
};

constexpr FlagRequirement kFlagRequirements[] = {
    {IORING_SETUP_CQSIZE, 0, "IORING_SETUP_CQSIZE", "5.5"},
    {IORING_SETUP_SUBMIT_ALL, 0, "IORING_SETUP_SUBMIT_ALL", "5.18"},
    {IORING_SETUP_SINGLE_ISSUER, 0, "IORING_SETUP_SINGLE_ISSUER", "6.0"},
    {IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, "IORING_SETUP_DEFER_TASKRUN", "6.1"},
    {IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
     "IORING_SETUP_TASKRUN_FLAG with DEFER_TASKRUN", "6.1"},
};

struct OpRequirement {
  int op;
  const char* name;
  const char* since;
};

constexpr OpRequirement kOpRequirements[] = {
    {IORING_OP_NOP, "NOP", "5.1"},
    {IORING_OP_FSYNC, "FSYNC", "5.1"},
    {IORING_OP_SENDMSG, "SENDMSG", "5.3"},
    {IORING_OP_TIMEOUT, "TIMEOUT", "5.4"},
    {IORING_OP_ACCEPT, "ACCEPT", "5.5"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", "5.5"},
    {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT", "5.5"},
    {IORING_OP_CLOSE, "CLOSE", "5.6"},
    {IORING_OP_READ, "READ", "5.6"},
    {IORING_OP_WRITE, "WRITE", "5.6"},
    {IORING_OP_SEND, "SEND", "5.6"},
    {IORING_OP_RECV, "RECV", "5.6"},
    {IORING_OP_MSG_RING, "MSG_RING", "5.18"},
};

struct Completion {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

// WaitFor runs the ring until a completion with |user_data| arrives or kProbeWait passes.
std::optional<Completion> WaitFor(Ring& ring, uint64_t user_data, std::vector<Completion>& seen) {
  const auto deadline = std::chrono::steady_clock::now() + kProbeWait;
  while (true) {
    for (const Completion& c : seen) {
      if (c.user_data == user_data) {
        return c;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return std::nullopt;
    }
    if (!ring.SubmitAndWait(1, deadline - now).ok()) {
      return std::nullopt;
    }
    ring.ForEachCompletion([&](const io_uring_cqe& cqe) {
      seen.push_back(Completion{cqe.user_data, cqe.res, cqe.flags});
    });
  }
}

// CheckOperations performs, once each, the operations a shard depends on and appends what
// failed to |problems|.
void CheckOperations(Ring& ring, std::vector<std::string>& problems) {
  constexpr uint16_t kGroup = 1;
  absl::StatusOr<BufferRing> buffers = BufferRing::Create(ring, kGroup, 4, 64);
  if (!buffers.ok()) {
    problems.push_back(absl::StrCat("provided-buffer rings (Linux 5.19+) are unavailable: ",
                                    buffers.status().message()));
    return;
  }
  std::vector<Completion> seen;

  // Multishot recv into the buffer ring, over a unix socket pair.
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    problems.push_back(absl::StrCat("socketpair failed: ", std::strerror(errno)));
    return;
  }
  Fd recv_end(pair[0]);
  Fd send_end(pair[1]);
  static constexpr char kPing[] = "ping";
  if (write(send_end.get(), kPing, 4) != 4) {
    problems.push_back(absl::StrCat("write to socketpair failed: ", std::strerror(errno)));
    return;
  }
  const uint64_t recv_ud = EncodeUserData(Op::kRecv, 0, 0);
  PrepMultishotRecv(ring.GetSqe(), recv_end.get(), kGroup, recv_ud);
  const std::optional<Completion> recv = WaitFor(ring, recv_ud, seen);
  if (!recv.has_value()) {
    problems.push_back("multishot recv produced no completion within 1s");
  } else if (recv->res == -EINVAL) {
    problems.push_back("multishot recv (IORING_RECV_MULTISHOT) is unsupported: need Linux 6.0+");
  } else if (recv->res < 0) {
    problems.push_back(absl::StrCat("multishot recv with a provided-buffer ring failed: ",
                                    std::strerror(-recv->res)));
  } else if (recv->res != 4 || (recv->flags & IORING_CQE_F_BUFFER) == 0 ||
             std::memcmp(
                 buffers->Buffer(static_cast<uint16_t>(recv->flags >> IORING_CQE_BUFFER_SHIFT)),
                 kPing, 4) != 0) {
    problems.push_back("multishot recv did not deliver the bytes into a provided buffer");
  } else if ((recv->flags & IORING_CQE_F_MORE) == 0) {
    problems.push_back("multishot recv ended after one completion: need Linux 6.0+");
  }

  // Multishot accept on an autobound abstract unix listener (no filesystem, no TCP port).
  Fd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t addr_len = sizeof(sa_family_t);  // autobind: the kernel picks an abstract name
  if (!listener || bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      listen(listener.get(), 4) != 0) {
    problems.push_back(absl::StrCat("creating a unix listener failed: ", std::strerror(errno)));
    return;
  }
  addr_len = sizeof(addr);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    problems.push_back(absl::StrCat("getsockname failed: ", std::strerror(errno)));
    return;
  }
  const uint64_t accept_ud = EncodeUserData(Op::kAccept, 0, 0);
  PrepMultishotAccept(ring.GetSqe(), listener.get(), accept_ud);
  if (!ring.Submit().ok()) {
    problems.push_back("submitting a multishot accept failed");
    return;
  }
  Fd client(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!client || connect(client.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    problems.push_back(
        absl::StrCat("connecting to the unix listener failed: ", std::strerror(errno)));
    return;
  }
  const std::optional<Completion> accepted = WaitFor(ring, accept_ud, seen);
  if (!accepted.has_value()) {
    problems.push_back("multishot accept produced no completion within 1s");
  } else if (accepted->res < 0) {
    problems.push_back(
        absl::StrCat("multishot accept (IORING_ACCEPT_MULTISHOT, Linux 5.19+) "
                     "failed: ",
                     std::strerror(-accepted->res)));
  } else {
    Fd accepted_fd(accepted->res);
    if ((accepted->flags & IORING_CQE_F_MORE) == 0) {
      problems.push_back("multishot accept ended after one connection: need Linux 5.19+");
    }
  }

  // A MSG_RING to this same ring exercises the cross-shard doorbell.
  const uint64_t wake_ud = EncodeUserData(Op::kWake, 7, 1);
  const uint64_t sent_ud = EncodeUserData(Op::kMsgSent, 7, 1);
  PrepMsgRing(ring.GetSqe(), ring.fd(), 42, wake_ud, sent_ud);
  const std::optional<Completion> sent = WaitFor(ring, sent_ud, seen);
  const std::optional<Completion> woken = WaitFor(ring, wake_ud, seen);
  if (!sent.has_value() || sent->res < 0 || !woken.has_value() || woken->res != 42) {
    problems.push_back(absl::StrCat(
        "IORING_OP_MSG_RING (cross-shard wake-up, Linux 5.18+) did not deliver: ",
        sent.has_value() && sent->res < 0 ? std::strerror(-sent->res) : "no completion"));
  }
}

}  // namespace

absl::Status ProbeIoUring() {
  const std::optional<long> disabled = ReadSysctl(kDisabledSysctl);
  if (disabled.has_value() && *disabled == 2) {
    return Unusable(
        {"io_uring is disabled by kernel.io_uring_disabled=2; set it to 0 with "
         "sysctl -w kernel.io_uring_disabled=0 (and persist it in "
         "/etc/sysctl.d/)"});
  }

  const int plain = TryInit(0);
  if (plain < 0) {
    return Unusable({ExplainInitFailure(plain, disabled)});
  }

  std::vector<std::string> problems;
  const unsigned wanted = kRingSetupFlags | IORING_SETUP_CQSIZE;
  if (TryInit(wanted) < 0) {
    for (const FlagRequirement& r : kFlagRequirements) {
      const int ret = TryInit(r.flag | r.prerequisites | IORING_SETUP_CQSIZE);
      if (ret < 0) {
        problems.push_back(absl::StrCat("kernel too old: need Linux ", r.since, "+ for ", r.name,
                                        " (io_uring_setup: ", std::strerror(-ret), ")"));
      }
    }
    if (problems.empty()) {
      problems.push_back(absl::StrCat("io_uring_setup rejects the combination ",
                                      internal::SetupFlagNames(wanted),
                                      " although each flag works alone"));
    }
    return Unusable(problems);
  }

  absl::StatusOr<Ring> ring = Ring::Create(8);
  if (!ring.ok()) {
    return Unusable({std::string(ring.status().message())});
  }
  if ((ring->raw()->features & IORING_FEAT_EXT_ARG) == 0) {
    problems.push_back("kernel too old: need Linux 5.11+ for IORING_FEAT_EXT_ARG (timed waits)");
  }

  io_uring_probe* probe = io_uring_get_probe_ring(ring->raw());
  if (probe == nullptr) {
    problems.push_back("kernel too old: need Linux 5.6+ for IORING_REGISTER_PROBE");
  } else {
    std::vector<std::string> missing;
    for (const OpRequirement& r : kOpRequirements) {
      if (!io_uring_opcode_supported(probe, r.op)) {
        missing.push_back(absl::StrCat(r.name, " (", r.since, ")"));
      }
    }
    io_uring_free_probe(probe);
    if (!missing.empty()) {
      problems.push_back(absl::StrCat("kernel lacks io_uring opcodes ",
                                      absl::StrJoin(missing, ", "), "; use Linux 6.1+"));
    }
  }

  if (problems.empty()) {
    CheckOperations(*ring, problems);
  }
  if (!problems.empty()) {
    return Unusable(problems);
  }
  return absl::OkStatus();
}

}  // namespace ringward::uring
