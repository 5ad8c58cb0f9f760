// Tests for the io_uring building blocks: Ring, BufferRing, prep helpers, user_data encoding,
// listeners, CPU pinning, the kernel probe, and an echo loop over loopback that uses them the
// way a shard will (multishot accept, multishot recv into a buffer ring, sends, re-arming).
//
// Every test is bounded in time: sockets have receive/send timeouts and server loops have a
// deadline, so a broken feature fails a test instead of hanging it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ringward/base/fd.h"
#include "ringward/net/uring/buffer_ring.h"
#include "ringward/net/uring/cpu.h"
#include "ringward/net/uring/listener.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/probe.h"
#include "ringward/net/uring/ring.h"
#include "ringward/net/uring/user_data.h"

namespace ringward::uring {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const absl::Status& ProbeOnce() {
  static const absl::Status* status = new absl::Status(ProbeIoUring());
  return *status;
}

#define SKIP_WITHOUT_IO_URING()              \
  do {                                       \
    if (!ProbeOnce().ok()) {                 \
      GTEST_SKIP() << ProbeOnce().message(); \
    }                                        \
  } while (0)

struct Cqe {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

// Drain runs |ring| until |want| completions have been collected or |timeout| passes.
std::vector<Cqe> Drain(Ring& ring, size_t want, milliseconds timeout) {
  std::vector<Cqe> out;
  const auto deadline = Clock::now() + timeout;
  while (out.size() < want) {
    const auto now = Clock::now();
    if (now >= deadline) {
      break;
    }
    EXPECT_TRUE(ring.SubmitAndWait(1, deadline - now).ok());
    ring.ForEachCompletion([&](const io_uring_cqe& c) {
      out.push_back(Cqe{c.user_data, c.res, c.flags});
    });
  }
  return out;
}

std::pair<Fd, Fd> SocketPair() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0) << strerror(errno);
  return {Fd(fds[0]), Fd(fds[1])};
}

void SetSocketTimeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// ---------------------------------------------------------------------------------------------
// Probe

TEST(ProbeTest, IoUringIsUsableOnThisMachine) {
  const absl::Status status = ProbeIoUring();
  if (!status.ok()) {
    // The message is the product here: it must say what is missing and what to do.
    GTEST_SKIP() << status.message();
  }
  SUCCEED();
}

// RunProbeUnderSeccomp runs ProbeIoUring in a child process whose io_uring_setup fails with
// |err| (as in a container whose seccomp profile blocks io_uring) and returns its message, or
// std::nullopt if this environment cannot install a seccomp filter.
std::optional<std::string> RunProbeUnderSeccomp(int err) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return std::nullopt;
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  const pid_t pid = fork();
  if (pid < 0) {
    return std::nullopt;
  }
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & 0xffff)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      _exit(2);
    }
    const absl::Status status = ProbeIoUring();
    const std::string text = status.ok() ? "OK" : std::string(status.message());
    const ssize_t written = write(write_end.get(), text.data(), text.size());
    _exit(written == static_cast<ssize_t>(text.size()) ? 0 : 3);
  }
  write_end.reset();
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(read_end.get(), buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return std::nullopt;
  }
  return out;
}

TEST(ProbeTest, BlockedSetupNamesTheCauseAndTheFix) {
  SKIP_WITHOUT_IO_URING();
  const std::optional<std::string> message = RunProbeUnderSeccomp(EPERM);
  if (!message.has_value()) {
    GTEST_SKIP() << "cannot install a seccomp filter here";
  }
  EXPECT_NE(message->find("io_uring is not usable"), std::string::npos) << *message;
  EXPECT_NE(message->find("seccomp"), std::string::npos) << *message;
  EXPECT_NE(message->find("kernel.io_uring_disabled"), std::string::npos) << *message;
}

TEST(ProbeTest, MissingSyscallNamesTheKernelRequirement) {
  SKIP_WITHOUT_IO_URING();
  const std::optional<std::string> message = RunProbeUnderSeccomp(ENOSYS);
  if (!message.has_value()) {
    GTEST_SKIP() << "cannot install a seccomp filter here";
  }
  EXPECT_NE(message->find("not implemented"), std::string::npos) << *message;
  EXPECT_NE(message->find("Linux 6.1+"), std::string::npos) << *message;
}

// ---------------------------------------------------------------------------------------------
// UserData

TEST(UserDataTest, RoundTripsEveryFieldAtItsLimits) {
  const UserData cases[] = {
      {Op::kAccept, 0, 0},
      {Op::kRecv, 0xffffffffu, UserData::kMaxIndex},
      {Op::kSend, 0x80000001u, 1},
      {Op::kWake, 12345, 0x00abcdef},
      {static_cast<Op>(static_cast<uint8_t>(Op::kUser) + 3), 7, 9},
  };
  for (const UserData& u : cases) {
    EXPECT_EQ(UserData::Decode(u.Encode()), u);
  }
  // Fields do not bleed into each other.
  const UserData u = UserData::Decode(EncodeUserData(Op::kSend, UserData::kMaxIndex, 0));
  EXPECT_EQ(u.op, Op::kSend);
  EXPECT_EQ(u.generation, 0u);
  EXPECT_EQ(u.index, UserData::kMaxIndex);
}

TEST(UserDataTest, ZeroAndAllOnesAreNeverValidOperations) {
  EXPECT_EQ(UserData::Decode(0).op, Op::kInvalid);
  EXPECT_EQ(UserData::Decode(~uint64_t{0}).op, Op::kReserved);
  EXPECT_NE(EncodeUserData(Op::kAccept, 0, 0), 0u);
}

TEST(UserDataTest, GenerationSeparatesTenantsOfOneSlot) {
  const uint64_t old_tenant = EncodeUserData(Op::kRecv, 5, 41);
  const uint64_t new_tenant = EncodeUserData(Op::kRecv, 5, 42);
  EXPECT_NE(old_tenant, new_tenant);
  EXPECT_FALSE(UserData::Decode(old_tenant).IsCurrent(42));
  EXPECT_TRUE(UserData::Decode(new_tenant).IsCurrent(42));
}

// ---------------------------------------------------------------------------------------------
// Ring

TEST(RingTest, CreatesWithShardFlagsAndLargeCq) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(64);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_NE(ring->setup_flags() & IORING_SETUP_SINGLE_ISSUER, 0u);
  EXPECT_NE(ring->setup_flags() & IORING_SETUP_DEFER_TASKRUN, 0u);
  EXPECT_NE(ring->setup_flags() & IORING_SETUP_SUBMIT_ALL, 0u);
  EXPECT_NE(ring->setup_flags() & IORING_SETUP_TASKRUN_FLAG, 0u);
  EXPECT_EQ(ring->sq_entries(), 64u);
  EXPECT_EQ(ring->cq_entries(), 64u * Ring::kCqMultiplier);
  EXPECT_TRUE(ring->ring_fd_registered());
}

TEST(RingTest, RejectsZeroEntries) {
  EXPECT_EQ(Ring::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RingTest, GetSqeSubmitsAndRetriesWhenSqIsFull) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(4, 256);
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint32_t kOps = 100;  // 25 times the SQ size
  for (uint32_t i = 0; i < kOps; ++i) {
    io_uring_sqe* sqe = ring->GetSqe();
    ASSERT_NE(sqe, nullptr) << "at SQE " << i;
    PrepNop(sqe, EncodeUserData(Op::kNop, i, 0));
  }
  const std::vector<Cqe> cqes = Drain(*ring, kOps, milliseconds(5000));
  ASSERT_EQ(cqes.size(), kOps);
  std::set<uint32_t> seen;
  for (const Cqe& c : cqes) {
    EXPECT_EQ(c.res, 0);
    EXPECT_EQ(UserData::Decode(c.user_data).op, Op::kNop);
    seen.insert(UserData::Decode(c.user_data).index);
  }
  EXPECT_EQ(seen.size(), kOps);
}

TEST(RingTest, ForEachCompletionStopsAtMaxAndLeavesTheRest) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(16);
  ASSERT_TRUE(ring.ok()) << ring.status();
  for (uint32_t i = 0; i < 10; ++i) {
    PrepNop(ring->GetSqe(), EncodeUserData(Op::kNop, i, 0));
  }
  ASSERT_TRUE(ring->SubmitAndWait(10, milliseconds(2000)).ok());
  std::vector<uint32_t> order;
  auto record = [&](const io_uring_cqe& c) {
    order.push_back(UserData::Decode(c.user_data).index);
  };
  EXPECT_EQ(ring->ForEachCompletion(record, 3), 3u);
  EXPECT_EQ(ring->ForEachCompletion(record), 7u);
  EXPECT_EQ(ring->ForEachCompletion(record), 0u);
  ASSERT_EQ(order.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(order[i], i);  // NOPs complete in submission order
  }
}

TEST(RingTest, SubmitAndWaitReturnsAtTimeoutWithoutCompletions) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const auto start = Clock::now();
  ASSERT_TRUE(ring->SubmitAndWait(1, milliseconds(100)).ok());
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(90));
  EXPECT_LT(elapsed, milliseconds(3000));
  EXPECT_EQ(ring->ForEachCompletion([](const io_uring_cqe&) {}), 0u);
}

TEST(RingTest, OnlyTheCreatingThreadMaySubmit) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  PrepNop(ring->GetSqe(), EncodeUserData(Op::kNop, 1, 0));
  absl::Status from_other_thread;
  std::thread other([&] { from_other_thread = ring->Submit(); });
  other.join();
  EXPECT_FALSE(from_other_thread.ok()) << "SINGLE_ISSUER did not bind the ring to its creator";
  // The owner still submits the queued NOP.
  const std::vector<Cqe> cqes = Drain(*ring, 1, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].user_data, EncodeUserData(Op::kNop, 1, 0));
}

TEST(RingTest, MovedRingKeepsWorkingAndKeepsItsAddress) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> created = Ring::Create(8);
  ASSERT_TRUE(created.ok()) << created.status();
  io_uring* raw = created->raw();
  Ring moved = std::move(*created);
  EXPECT_EQ(moved.raw(), raw);
  PrepNop(moved.GetSqe(), EncodeUserData(Op::kNop, 3, 0));
  const std::vector<Cqe> cqes = Drain(moved, 1, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 1u);
}

TEST(RingTest, TimeoutAndLinkedTimeoutFire) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  absl::StatusOr<BufferRing> buffers = BufferRing::Create(*ring, 3, 2, 64);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  auto [a, b] = SocketPair();

  __kernel_timespec timer{.tv_sec = 0, .tv_nsec = 20'000'000};
  __kernel_timespec bound{.tv_sec = 0, .tv_nsec = 30'000'000};
  const uint64_t timer_ud = EncodeUserData(Op::kTimeout, 1, 0);
  const uint64_t recv_ud = EncodeUserData(Op::kRecv, 2, 0);
  const uint64_t link_ud = EncodeUserData(Op::kLinkTimeout, 2, 0);
  PrepTimeout(ring->GetSqe(), &timer, 0, 0, timer_ud);
  io_uring_sqe* recv = ring->GetSqe();
  PrepRecv(recv, a.get(), buffers->group_id(), recv_ud);  // nothing will arrive
  LinkWithNext(recv);
  PrepLinkTimeout(ring->GetSqe(), &bound, link_ud);

  const std::vector<Cqe> cqes = Drain(*ring, 3, milliseconds(3000));
  ASSERT_EQ(cqes.size(), 3u);
  for (const Cqe& c : cqes) {
    if (c.user_data == timer_ud) {
      EXPECT_EQ(c.res, -ETIME);
    } else if (c.user_data == recv_ud) {
      EXPECT_EQ(c.res, -ECANCELED);
    } else {
      EXPECT_EQ(c.user_data, link_ud);
      EXPECT_EQ(c.res, -ETIME);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// BufferRing

TEST(BufferRingTest, RejectsBadGeometry) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(BufferRing::Create(*ring, 0, 0, 64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferRing::Create(*ring, 0, 3, 64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferRing::Create(*ring, 0, 65536, 64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferRing::Create(*ring, 0, 4, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BufferRingTest, SecondRegistrationOfAGroupFails) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  absl::StatusOr<BufferRing> first = BufferRing::Create(*ring, 5, 4, 64);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<BufferRing> second = BufferRing::Create(*ring, 5, 4, 64);
  EXPECT_FALSE(second.ok());
  // Destroying a BufferRing unregisters its group, so the id can be used again.
  first = absl::InternalError("dropped");
  EXPECT_TRUE(BufferRing::Create(*ring, 5, 4, 64).ok());
}

// With 4 buffers of 64 bytes and 1000 bytes waiting, a multishot recv fills all four and then
// ends with -ENOBUFS (no F_MORE). Recycled-but-unpublished buffers are invisible to the kernel;
// once published, a re-armed recv continues, and all 1000 bytes arrive intact and in order
// through 256 bytes of buffer space.
TEST(BufferRingTest, ExhaustionEndsMultishotAndPublishedRecyclesResumeIt) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(16);
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint16_t kGroup = 9;
  constexpr uint32_t kSize = 64;
  absl::StatusOr<BufferRing> buffers = BufferRing::Create(*ring, kGroup, 4, kSize);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  auto [a, b] = SocketPair();

  std::string sent(1000, '\0');
  for (size_t i = 0; i < sent.size(); ++i) {
    sent[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  ASSERT_EQ(write(b.get(), sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));

  const uint64_t ud = EncodeUserData(Op::kRecv, 0, 0);
  PrepMultishotRecv(ring->GetSqe(), a.get(), kGroup, ud);
  std::vector<Cqe> cqes = Drain(*ring, 5, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 5u);
  std::string received;
  std::vector<uint16_t> held;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(cqes[i].res, static_cast<int>(kSize));
    ASSERT_NE(cqes[i].flags & IORING_CQE_F_BUFFER, 0u);
    EXPECT_NE(cqes[i].flags & IORING_CQE_F_MORE, 0u);
    const uint16_t bid = static_cast<uint16_t>(cqes[i].flags >> IORING_CQE_BUFFER_SHIFT);
    received.append(reinterpret_cast<const char*>(buffers->Buffer(bid)), kSize);
    held.push_back(bid);
  }
  EXPECT_EQ(cqes[4].res, -ENOBUFS);
  EXPECT_EQ(cqes[4].flags & IORING_CQE_F_MORE, 0u) << "ENOBUFS must end the multishot";

  // Staged but unpublished: the kernel still sees an empty group.
  buffers->Recycle(held[0]);
  EXPECT_EQ(buffers->staged(), 1);
  PrepMultishotRecv(ring->GetSqe(), a.get(), kGroup, ud);
  cqes = Drain(*ring, 1, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].res, -ENOBUFS);
  for (size_t i = 1; i < held.size(); ++i) {
    buffers->Recycle(held[i]);
  }
  buffers->Publish();
  EXPECT_EQ(buffers->staged(), 0);

  // From here, recycle every buffer as soon as its bytes are copied out, re-arming whenever the
  // multishot ends, until everything has passed through.
  int enobufs = 2;
  int rearms = 0;
  const auto deadline = Clock::now() + milliseconds(5000);
  bool armed = false;
  while (received.size() < sent.size() && Clock::now() < deadline) {
    if (!armed) {
      PrepMultishotRecv(ring->GetSqe(), a.get(), kGroup, ud);
      armed = true;
      ++rearms;
    }
    ASSERT_TRUE(ring->SubmitAndWait(1, milliseconds(500)).ok());
    ring->ForEachCompletion([&](const io_uring_cqe& c) {
      if ((c.flags & IORING_CQE_F_BUFFER) != 0) {
        const uint16_t bid = BufferIdOf(c);
        received.append(reinterpret_cast<const char*>(buffers->Buffer(bid)), c.res);
        buffers->Recycle(bid);
      } else if (c.res == -ENOBUFS) {
        ++enobufs;
      }
      if (!HasMore(c)) {
        armed = false;
      }
    });
    buffers->Publish();
  }
  EXPECT_EQ(received, sent);
  EXPECT_GE(rearms, 1);
  EXPECT_GE(enobufs, 2);
}

// A recv armed on an empty group fails at once, even with no data; with poll_first it waits
// for data instead, and takes a buffer only then.
TEST(BufferRingTest, PollFirstRecvOnEmptyGroupWaitsForData) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint16_t kGroup = 4;
  absl::StatusOr<BufferRing> buffers = BufferRing::Create(*ring, kGroup, 1, 64);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  auto [a, b] = SocketPair();
  auto [idle_a, idle_b] = SocketPair();
  // Take the only buffer.
  ASSERT_EQ(write(b.get(), "x", 1), 1);
  PrepRecv(ring->GetSqe(), a.get(), kGroup, EncodeUserData(Op::kRecv, 0, 0));
  std::vector<Cqe> cqes = Drain(*ring, 1, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 1u);
  ASSERT_EQ(cqes[0].res, 1);
  const uint16_t bid = static_cast<uint16_t>(cqes[0].flags >> IORING_CQE_BUFFER_SHIFT);

  PrepMultishotRecv(ring->GetSqe(), idle_a.get(), kGroup, EncodeUserData(Op::kRecv, 1, 0));
  cqes = Drain(*ring, 1, milliseconds(1000));
  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].res, -ENOBUFS) << "recv on an empty group did not fail at once";

  PrepMultishotRecv(ring->GetSqe(), idle_a.get(), kGroup, EncodeUserData(Op::kRecv, 2, 0),
                    /*poll_first=*/true);
  cqes = Drain(*ring, 1, milliseconds(100));
  ASSERT_TRUE(cqes.empty()) << "poll-first recv completed without data, res " << cqes[0].res;
  buffers->Recycle(bid);
  buffers->Publish();
  ASSERT_EQ(write(idle_b.get(), "yz", 2), 2);
  cqes = Drain(*ring, 1, milliseconds(2000));
  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].user_data, EncodeUserData(Op::kRecv, 2, 0));
  EXPECT_EQ(cqes[0].res, 2);
}

// ---------------------------------------------------------------------------------------------
// Stale completions

// Slot 0's first tenant has a multishot recv armed when it is closed; the slot is reused by a
// second tenant before the cancelled recv's final CQE is reaped. The generation in user_data
// tells the two apart, so the stale -ECANCELED does not close the new tenant.
TEST(StaleCompletionTest, CancelledRecvOfPreviousTenantIsRecognised) {
  SKIP_WITHOUT_IO_URING();
  absl::StatusOr<Ring> ring = Ring::Create(16);
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint16_t kGroup = 2;
  absl::StatusOr<BufferRing> buffers = BufferRing::Create(*ring, kGroup, 8, 128);
  ASSERT_TRUE(buffers.ok()) << buffers.status();

  struct Slot {
    int fd = -1;
    uint32_t generation = 0;
  } slot;
  auto [old_a, old_b] = SocketPair();
  auto [new_a, new_b] = SocketPair();

  slot.fd = old_a.get();
  const uint64_t old_recv = EncodeUserData(Op::kRecv, 0, slot.generation);
  PrepMultishotRecv(ring->GetSqe(), slot.fd, kGroup, old_recv);
  ASSERT_TRUE(ring->Submit().ok());

  // Close tenant 1: cancel its recv, bump the generation, hand the slot to tenant 2.
  PrepCancel(ring->GetSqe(), old_recv, 0, EncodeUserData(Op::kCancel, 0, slot.generation));
  ++slot.generation;
  slot.fd = new_a.get();
  PrepMultishotRecv(ring->GetSqe(), slot.fd, kGroup, EncodeUserData(Op::kRecv, 0, slot.generation));
  ASSERT_EQ(write(new_b.get(), "hello", 5), 5);

  int stale = 0;
  int cancels = 0;
  std::string current_data;
  bool current_closed = false;
  const auto deadline = Clock::now() + milliseconds(3000);
  while ((stale == 0 || current_data.size() < 5) && Clock::now() < deadline) {
    ASSERT_TRUE(ring->SubmitAndWait(1, milliseconds(200)).ok());
    ring->ForEachCompletion([&](const io_uring_cqe& c) {
      const UserData ud = UserData::Decode(c.user_data);
      if (ud.op == Op::kCancel) {
        ++cancels;
        return;
      }
      if (!ud.IsCurrent(slot.generation)) {
        ++stale;
        if ((c.flags & IORING_CQE_F_BUFFER) != 0) {
          buffers->Recycle(BufferIdOf(c));
        }
        return;
      }
      if (c.res <= 0) {
        current_closed = true;  // what a slot table without generations would have done
        return;
      }
      current_data.append(reinterpret_cast<const char*>(buffers->Buffer(BufferIdOf(c))), c.res);
      buffers->Recycle(BufferIdOf(c));
    });
    buffers->Publish();
  }
  EXPECT_EQ(stale, 1);
  EXPECT_EQ(cancels, 1);
  EXPECT_EQ(current_data, "hello");
  EXPECT_FALSE(current_closed);
}

// ---------------------------------------------------------------------------------------------
// MSG_RING

TEST(MsgRingTest, WakesAnotherShardBlockedInWait) {
  SKIP_WITHOUT_IO_URING();
  std::promise<int> target_fd;
  std::promise<void> sent;
  std::optional<Cqe> woken;
  std::chrono::nanoseconds wait_time{};
  absl::Status target_status;

  std::thread target([&] {
    // The target ring is created on its own thread, as a shard's is (SINGLE_ISSUER).
    absl::StatusOr<Ring> ring = Ring::Create(8);
    if (!ring.ok()) {
      target_status = ring.status();
      target_fd.set_value(-1);
      return;
    }
    target_fd.set_value(ring->fd());
    const auto start = Clock::now();
    // Blocks for up to 5s unless something posts to this ring.
    target_status = ring->SubmitAndWait(1, milliseconds(5000));
    wait_time = Clock::now() - start;
    ring->ForEachCompletion([&](const io_uring_cqe& c) {
      woken = Cqe{c.user_data, c.res, c.flags};
    });
    sent.get_future().wait();  // keep the ring alive until the sender saw its completion
  });

  const int fd = target_fd.get_future().get();
  ASSERT_GE(fd, 0) << target_status;
  std::this_thread::sleep_for(milliseconds(50));  // let the target block in its wait

  absl::StatusOr<Ring> ring = Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const uint64_t wake_ud = EncodeUserData(Op::kWake, 3, 17);
  const uint64_t sent_ud = EncodeUserData(Op::kMsgSent, 3, 17);
  PrepMsgRing(ring->GetSqe(), fd, 4242, wake_ud, sent_ud);
  const std::vector<Cqe> cqes = Drain(*ring, 1, milliseconds(2000));
  sent.set_value();
  target.join();

  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].user_data, sent_ud);
  EXPECT_EQ(cqes[0].res, 0);
  ASSERT_TRUE(target_status.ok()) << target_status;
  ASSERT_TRUE(woken.has_value()) << "the target ring never saw the message";
  EXPECT_EQ(woken->user_data, wake_ud);
  EXPECT_EQ(woken->res, 4242);
  EXPECT_LT(wait_time, milliseconds(4000)) << "the target slept through the message";
}

// ---------------------------------------------------------------------------------------------
// Listener

TEST(ListenerTest, ParsesEveryAddressForm) {
  absl::StatusOr<ListenAddress> v4 = ParseListenAddress("127.0.0.1:8443");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(v4->addr())->sin_port), 8443);

  absl::StatusOr<ListenAddress> v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->family, AF_INET6);

  absl::StatusOr<ListenAddress> unix_path = ParseListenAddress("unix:/run/x.sock");
  ASSERT_TRUE(unix_path.ok()) << unix_path.status();
  EXPECT_EQ(unix_path->family, AF_UNIX);
  EXPECT_EQ(unix_path->unix_path, "/run/x.sock");

  absl::StatusOr<ListenAddress> abstract = ParseListenAddress("unix:@ringward");
  ASSERT_TRUE(abstract.ok()) << abstract.status();
  EXPECT_EQ(reinterpret_cast<const sockaddr_un*>(abstract->addr())->sun_path[0], '\0');
}

TEST(ListenerTest, RejectsMalformedAddressesWithAHint) {
  for (const char* bad :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "localhost:80", "::1:80",
        "[::1]80", "[::1]", "[zz]:80", "unix:", "1.2.3.4:8x"}) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("expected"), absl::string_view::npos) << bad;
  }
  EXPECT_FALSE(ParseListenAddress("unix:/" + std::string(200, 'x')).ok());
}

TEST(ListenerTest, PortZeroGetsAPortAndReusePortAllowsOneListenerPerShard) {
  absl::StatusOr<Fd> first = CreateListenSocket("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<uint16_t> port = LocalPort(first->get());
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_NE(*port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(*port);

  absl::StatusOr<Fd> second = CreateListenSocket(address);
  EXPECT_TRUE(second.ok()) << second.status();

  absl::StatusOr<Fd> exclusive = CreateListenSocket(address, ListenOptions{.reuse_port = false});
  ASSERT_FALSE(exclusive.ok());
  EXPECT_NE(exclusive.status().message().find("bind"), absl::string_view::npos);
}

TEST(ListenerTest, CheckNotListeningRefusesAPortAnotherGroupListensOn) {
  absl::StatusOr<Fd> other = CreateListenSocket("127.0.0.1:0");  // SO_REUSEPORT, like a shard
  ASSERT_TRUE(other.ok()) << other.status();
  absl::StatusOr<uint16_t> port = LocalPort(other->get());
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string address = "127.0.0.1:" + std::to_string(*port);

  const absl::Status busy = CheckNotListening(address);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_NE(busy.message().find("already in use"), absl::string_view::npos) << busy;
  EXPECT_NE(busy.message().find(address), absl::string_view::npos) << busy;

  // Still busy after a wait: the answer comes once the wait is over.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(CheckNotListening(address, std::chrono::milliseconds(100)).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));

  // A listener that goes away during the wait: free.
  std::thread closer([&other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    other->reset();
  });
  EXPECT_TRUE(CheckNotListening(address, std::chrono::seconds(5)).ok());
  closer.join();
  EXPECT_TRUE(CheckNotListening(address).ok());
  EXPECT_TRUE(CheckNotListening("127.0.0.1:0").ok());
  EXPECT_TRUE(CheckNotListening("unix:@ringward-check-test").ok());
  EXPECT_FALSE(CheckNotListening("not an address").ok());
}

TEST(ListenerTest, AcceptedSocketsInheritTcpNoDelay) {
  absl::StatusOr<Fd> listener = CreateListenSocket("127.0.0.1:0");
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<uint16_t> port = LocalPort(listener->get());
  ASSERT_TRUE(port.ok());
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(*port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  Fd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << strerror(errno);
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(getsockopt(accepted.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
}

TEST(ListenerTest, Ipv6LoopbackWhenAvailable) {
  absl::StatusOr<Fd> listener = CreateListenSocket("[::1]:0");
  if (!listener.ok()) {
    GTEST_SKIP() << "no IPv6 loopback here: " << listener.status();
  }
  absl::StatusOr<uint16_t> port = LocalPort(listener->get());
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_NE(*port, 0);
}

TEST(ListenerTest, UnixSocketReplacesStaleFileButNotALiveSocketOrAFile) {
  char dir_template[] = "/tmp/ringward_uring_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/admin.sock";
  const std::string address = "unix:" + path;
  {
    absl::StatusOr<Fd> live = CreateListenSocket(address);
    ASSERT_TRUE(live.ok()) << live.status();
    // While it listens, a second one must not steal the path.
    absl::StatusOr<Fd> thief = CreateListenSocket(address);
    ASSERT_FALSE(thief.ok());
    EXPECT_EQ(thief.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(LocalPort(live->get()).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // The listener closed without unlinking: the stale file is replaced.
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  absl::StatusOr<Fd> again = CreateListenSocket(address);
  ASSERT_TRUE(again.ok()) << again.status();
  again->reset();
  unlink(path.c_str());

  // A regular file at the path is never removed.
  const std::string file = dir + "/not_a_socket";
  Fd created(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  ASSERT_TRUE(created.valid());
  absl::StatusOr<Fd> over_file = CreateListenSocket("unix:" + file);
  EXPECT_FALSE(over_file.ok());
  EXPECT_EQ(stat(file.c_str(), &st), 0);
  unlink(file.c_str());
  rmdir(dir.c_str());
}

// ---------------------------------------------------------------------------------------------
// CPU pinning

TEST(CpuTest, PinsTheCallingThreadOnly) {
  absl::StatusOr<std::vector<int>> allowed = AllowedCpus();
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  ASSERT_FALSE(allowed->empty());
  const int target = allowed->back();
  absl::Status pin_status;
  std::vector<int> after;
  int running_on = -1;
  std::thread shard([&] {
    pin_status = PinCurrentThreadToCpu(target);
    absl::StatusOr<std::vector<int>> mask = AllowedCpus();
    if (mask.ok()) {
      after = *mask;
    }
    absl::StatusOr<int> cpu = CurrentThreadCpu();
    running_on = cpu.ok() ? *cpu : -1;
  });
  shard.join();
  ASSERT_TRUE(pin_status.ok()) << pin_status;
  EXPECT_EQ(after, std::vector<int>{target});
  EXPECT_EQ(running_on, target);
  // The test's own thread is untouched.
  absl::StatusOr<std::vector<int>> mine = AllowedCpus();
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(*mine, *allowed);
}

TEST(CpuTest, BatchSchedulingAppliesToTheCallingThreadOnly) {
  const int before = sched_getscheduler(0);
  int in_thread = -1;
  absl::Status status;
  std::thread shard([&] {
    status = UseBatchSchedulingForCurrentThread();
    in_thread = sched_getscheduler(0);
  });
  shard.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(in_thread, SCHED_BATCH);
  EXPECT_EQ(sched_getscheduler(0), before);
}

TEST(CpuTest, RejectsCpusOutsideTheRange) {
  EXPECT_EQ(PinCurrentThreadToCpu(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PinCurrentThreadToCpu(CPU_SETSIZE).code(), absl::StatusCode::kInvalidArgument);
  std::thread t([] { EXPECT_FALSE(PinCurrentThreadToCpu(CPU_SETSIZE - 1).ok()); });
  t.join();
}

// ---------------------------------------------------------------------------------------------
// Echo loop: a miniature shard.

struct EchoStats {
  absl::Status status;
  bool hit_deadline = false;
  int accepted = 0;
  int closed = 0;
  int accept_rearms = 0;
  int recv_rearms = 0;
  int enobufs = 0;
  int stale = 0;
  uint64_t bytes = 0;
  uint64_t buffers_in = 0;   // CQEs that handed a buffer to the server
  uint64_t buffers_out = 0;  // Recycle calls
};

// EchoServer runs on its own thread: listener on 127.0.0.1:0, one multishot accept, one
// multishot recv per connection into a small BufferRing (deliberately smaller than a single
// 64 KiB message, so buffers must cycle and the group runs dry), and one send in flight per
// connection straight from the received buffer, recycled when the send has completed.
class EchoServer {
 public:
  static constexpr uint16_t kGroup = 0;
  static constexpr uint32_t kBuffers = 32;
  static constexpr uint32_t kBufferSize = 2048;
  static constexpr uint32_t kSlots = 64;

  void Run(std::promise<uint16_t>& port, const std::atomic<bool>& stop,
           std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    absl::StatusOr<std::vector<int>> cpus = AllowedCpus();
    if (cpus.ok() && !cpus->empty()) {
      PinCurrentThreadToCpu(cpus->front()).IgnoreError();
    }
    absl::StatusOr<Ring> ring = Ring::Create(256);
    if (!ring.ok()) {
      return Fail(port, ring.status());
    }
    ring_ = &*ring;
    absl::StatusOr<BufferRing> buffers = BufferRing::Create(*ring, kGroup, kBuffers, kBufferSize);
    if (!buffers.ok()) {
      return Fail(port, buffers.status());
    }
    buffers_ = &*buffers;
    absl::StatusOr<Fd> listener = CreateListenSocket("127.0.0.1:0");
    if (!listener.ok()) {
      return Fail(port, listener.status());
    }
    listen_fd_ = listener->get();
    absl::StatusOr<uint16_t> bound = LocalPort(listen_fd_);
    if (!bound.ok()) {
      return Fail(port, bound.status());
    }
    for (uint32_t i = 0; i < kSlots; ++i) {
      free_.push_back(kSlots - 1 - i);
    }
    ArmAccept();
    port.set_value(*bound);

    while (!(stop.load(std::memory_order_acquire) && open_ == 0)) {
      if (Clock::now() >= deadline) {
        stats.hit_deadline = true;
        break;
      }
      absl::Status s = ring->SubmitAndWait(1, milliseconds(20));
      if (!s.ok()) {
        stats.status = s;
        break;
      }
      recycled_this_turn_ = 0;
      ring->ForEachCompletion([this](const io_uring_cqe& c) { Dispatch(c); });
      buffers->Publish();
      // Connections whose recv ran dry re-arm only as buffers come back, about one per buffer,
      // so a starved loop neither spins on nor floods itself with -ENOBUFS completions.
      while (recycled_this_turn_ > 0 && !starved_.empty()) {
        const Starved st = starved_.front();
        starved_.pop_front();
        Slot& slot = slots_[st.index];
        if (slot.fd >= 0 && slot.generation == st.generation && !slot.closing) {
          ++stats.recv_rearms;
          ArmRecv(st.index);
          --recycled_this_turn_;
        }
      }
    }
    // Teardown order: connections, then the buffer ring, then the ring (declared first).
    for (uint32_t i = 0; i < kSlots; ++i) {
      if (slots_[i].fd >= 0) {
        close(slots_[i].fd);
      }
    }
  }

  EchoStats stats;

 private:
  struct Pending {
    uint16_t bid;
    uint32_t offset;
    uint32_t length;
  };
  struct Starved {
    uint32_t index;
    uint32_t generation;
  };
  struct Slot {
    int fd = -1;
    uint32_t generation = 0;
    bool recv_armed = false;
    bool send_in_flight = false;
    bool closing = false;
    std::deque<Pending> queue;
  };

  void Fail(std::promise<uint16_t>& port, const absl::Status& s) {
    stats.status = s;
    port.set_value(0);
  }

  void ArmAccept() {
    PrepMultishotAccept(ring_->GetSqe(), listen_fd_, EncodeUserData(Op::kAccept, 0, 0));
  }

  void ArmRecv(uint32_t idx) {
    Slot& slot = slots_[idx];
    slot.recv_armed = true;
    PrepMultishotRecv(ring_->GetSqe(), slot.fd, kGroup,
                      EncodeUserData(Op::kRecv, idx, slot.generation));
  }

  void StartSend(uint32_t idx) {
    Slot& slot = slots_[idx];
    const Pending& p = slot.queue.front();
    slot.send_in_flight = true;
    PrepSend(ring_->GetSqe(), slot.fd, buffers_->Buffer(p.bid) + p.offset, p.length - p.offset,
             EncodeUserData(Op::kSend, idx, slot.generation));
  }

  void Recycle(uint16_t bid) {
    buffers_->Recycle(bid);
    ++stats.buffers_out;
    ++recycled_this_turn_;
  }

  void Close(uint32_t idx) {
    Slot& slot = slots_[idx];
    if (slot.recv_armed) {
      PrepCancel(ring_->GetSqe(), EncodeUserData(Op::kRecv, idx, slot.generation), 0,
                 EncodeUserData(Op::kCancel, idx, slot.generation));
    }
    PrepClose(ring_->GetSqe(), slot.fd, EncodeUserData(Op::kClose, idx, slot.generation));
    for (const Pending& p : slot.queue) {
      Recycle(p.bid);
    }
    slot = Slot{.generation = slot.generation + 1};
    free_.push_back(idx);
    --open_;
    ++stats.closed;
  }

  void Dispatch(const io_uring_cqe& c) {
    const UserData ud = UserData::Decode(c.user_data);
    const bool has_buffer = (c.flags & IORING_CQE_F_BUFFER) != 0;
    if (has_buffer) {
      ++stats.buffers_in;
    }
    switch (ud.op) {
      case Op::kAccept:
        OnAccept(c);
        return;
      case Op::kCancel:
      case Op::kClose:
        return;
      default:
        break;
    }
    if (ud.index >= kSlots || !ud.IsCurrent(slots_[ud.index].generation) ||
        slots_[ud.index].fd < 0) {
      ++stats.stale;
      if (has_buffer) {
        Recycle(BufferIdOf(c));
      }
      return;
    }
    if (ud.op == Op::kRecv) {
      OnRecv(ud.index, c);
    } else if (ud.op == Op::kSend) {
      OnSend(ud.index, c);
    }
  }

  void OnAccept(const io_uring_cqe& c) {
    if (!HasMore(c)) {
      ++stats.accept_rearms;
      ArmAccept();
    }
    if (c.res < 0) {
      return;
    }
    if (free_.empty()) {
      close(c.res);
      return;
    }
    const uint32_t idx = free_.back();
    free_.pop_back();
    slots_[idx].fd = c.res;
    ++open_;
    ++stats.accepted;
    ArmRecv(idx);
  }

  void OnRecv(uint32_t idx, const io_uring_cqe& c) {
    Slot& slot = slots_[idx];
    const bool more = HasMore(c);
    if (!more) {
      slot.recv_armed = false;
    }
    if (c.res > 0) {
      slot.queue.push_back(Pending{BufferIdOf(c), 0, static_cast<uint32_t>(c.res)});
      stats.bytes += static_cast<uint32_t>(c.res);
      if (!slot.send_in_flight) {
        StartSend(idx);
      }
      if (!more) {
        ++stats.recv_rearms;
        ArmRecv(idx);
      }
      return;
    }
    if (c.res == -ENOBUFS) {
      ++stats.enobufs;
      starved_.push_back(Starved{idx, slot.generation});
      return;
    }
    // EOF or an error: close once the echoes already queued have gone out.
    if (slot.send_in_flight) {
      slot.closing = true;
    } else {
      Close(idx);
    }
  }

  void OnSend(uint32_t idx, const io_uring_cqe& c) {
    Slot& slot = slots_[idx];
    slot.send_in_flight = false;
    if (c.res <= 0) {
      Close(idx);
      return;
    }
    Pending& head = slot.queue.front();
    head.offset += static_cast<uint32_t>(c.res);
    if (head.offset == head.length) {
      Recycle(head.bid);
      slot.queue.pop_front();
    }
    if (!slot.queue.empty()) {
      StartSend(idx);
    } else if (slot.closing) {
      Close(idx);
    }
  }

  Ring* ring_ = nullptr;
  BufferRing* buffers_ = nullptr;
  int listen_fd_ = -1;
  Slot slots_[kSlots];
  std::vector<uint32_t> free_;
  std::deque<Starved> starved_;
  int open_ = 0;
  int recycled_this_turn_ = 0;
};

bool WriteAll(int fd, const uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = recv(fd, data, len, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

TEST(EchoTest, FiftyConnectionsEchoEveryMessageExactly) {
  SKIP_WITHOUT_IO_URING();
  constexpr int kClientThreads = 5;
  constexpr int kConnectionsPerThread = 10;
  const std::vector<size_t> fixed_sizes = {1,    2,    63,   64,    100,   1000,  2047, 2048,
                                           2049, 4096, 8191, 16384, 30000, 65535, 65536};
  constexpr int kRandomSizes = 10;

  EchoServer server;
  std::promise<uint16_t> port_promise;
  std::atomic<bool> stop{false};
  std::thread server_thread([&] { server.Run(port_promise, stop, std::chrono::seconds(30)); });
  const uint16_t port = port_promise.get_future().get();
  if (port == 0) {
    server_thread.join();
    FAIL() << server.stats.status;
  }

  std::atomic<int> failures{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::vector<std::string> errors(kClientThreads);
  std::vector<std::thread> clients;
  for (int t = 0; t < kClientThreads; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937_64 rng(0x5eed0000u + static_cast<unsigned>(t));
      std::vector<Fd> conns;
      for (int i = 0; i < kConnectionsPerThread; ++i) {
        Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        SetSocketTimeouts(fd.get(), 10);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
          errors[t] = std::string("connect: ") + strerror(errno);
          ++failures;
          return;
        }
        conns.push_back(std::move(fd));
      }
      std::vector<size_t> sizes = fixed_sizes;
      for (int i = 0; i < kRandomSizes; ++i) {
        sizes.push_back(1 + rng() % 65536);
      }
      std::vector<std::vector<uint8_t>> out(conns.size());
      std::vector<uint8_t> in;
      for (size_t round = 0; round < sizes.size(); ++round) {
        // Write the round's message on every connection, then read every echo, so all of this
        // thread's connections have data in flight at once.
        for (size_t c = 0; c < conns.size(); ++c) {
          const size_t size = sizes[(round + c) % sizes.size()];
          out[c].resize(size);
          for (uint8_t& byte : out[c]) {
            byte = static_cast<uint8_t>(rng());
          }
          if (!WriteAll(conns[c].get(), out[c].data(), size)) {
            errors[t] = std::string("write: ") + strerror(errno);
            ++failures;
            return;
          }
          bytes_sent += size;
        }
        for (size_t c = 0; c < conns.size(); ++c) {
          in.assign(out[c].size(), 0);
          if (!ReadAll(conns[c].get(), in.data(), in.size())) {
            errors[t] = std::string("read: ") + strerror(errno);
            ++failures;
            return;
          }
          if (in != out[c]) {
            errors[t] = "echo of " + std::to_string(in.size()) + " bytes differs";
            ++failures;
            return;
          }
        }
      }
    });
  }
  for (std::thread& c : clients) {
    c.join();
  }
  stop.store(true, std::memory_order_release);
  server_thread.join();

  for (const std::string& e : errors) {
    EXPECT_TRUE(e.empty()) << e;
  }
  EXPECT_EQ(failures.load(), 0);
  const EchoStats& s = server.stats;
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_FALSE(s.hit_deadline) << "server did not see every connection close in time";
  EXPECT_EQ(s.accepted, kClientThreads * kConnectionsPerThread);
  EXPECT_EQ(s.closed, s.accepted);
  EXPECT_EQ(s.bytes, bytes_sent.load());
  // Far more bytes passed through than the buffer ring holds, and every buffer handed out was
  // given back exactly once.
  EXPECT_GT(s.bytes, 20u * EchoServer::kBuffers * EchoServer::kBufferSize);
  EXPECT_EQ(s.buffers_in, s.buffers_out);
  std::printf(
      "[   INFO   ] echo: %d connections, %llu bytes, %llu buffers cycled through a ring of %u, "
      "%d ENOBUFS, %d recv re-arms, %d accept re-arms, %d stale completions\n",
      s.accepted, static_cast<unsigned long long>(s.bytes),
      static_cast<unsigned long long>(s.buffers_in), EchoServer::kBuffers, s.enobufs, s.recv_rearms,
      s.accept_rearms, s.stale);
}

}  // namespace
}  // namespace ringward::uring
