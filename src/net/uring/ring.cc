#include "ringward/net/uring/ring.h"

#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "net/uring/internal.h"

namespace ringward::uring {

namespace internal {

std::string SetupFlagNames(unsigned flags) {
  static constexpr struct {
    unsigned bit;
    const char* name;
  } kNames[] = {
      {IORING_SETUP_IOPOLL, "IOPOLL"},
      {IORING_SETUP_SQPOLL, "SQPOLL"},
      {IORING_SETUP_SQ_AFF, "SQ_AFF"},
      {IORING_SETUP_CQSIZE, "CQSIZE"},
      {IORING_SETUP_CLAMP, "CLAMP"},
      {IORING_SETUP_ATTACH_WQ, "ATTACH_WQ"},
      {IORING_SETUP_R_DISABLED, "R_DISABLED"},
      {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
      {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
      {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
      {IORING_SETUP_SQE128, "SQE128"},
      {IORING_SETUP_CQE32, "CQE32"},
      {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
      {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
  };
  std::string out;
  for (const auto& n : kNames) {
    if ((flags & n.bit) != 0) {
      absl::StrAppend(&out, out.empty() ? "" : "|", n.name);
      flags &= ~n.bit;
    }
  }
  if (flags != 0) {
    absl::StrAppend(&out, out.empty() ? "" : "|", "0x", absl::Hex(flags));
  }
  return out.empty() ? "0" : out;
}

}  // namespace internal

namespace {

// A wait that ends by timeout, by a signal, or because the CQ overflow list is still being
// flushed is a normal end of a loop turn, not a failure of the ring.
bool IsBenignEnterError(int neg_errno) {
  return neg_errno == -ETIME || neg_errno == -EINTR || neg_errno == -EAGAIN || neg_errno == -EBUSY;
}

}  // namespace

absl::StatusOr<Ring> Ring::Create(unsigned sq_entries, unsigned cq_entries) {
  if (sq_entries == 0) {
    return absl::InvalidArgumentError("io_uring: sq_entries must be at least 1");
  }
  if (cq_entries == 0) {
    cq_entries = sq_entries * kCqMultiplier;
  }
  auto ring = std::make_unique<io_uring>();
  io_uring_params params{};
  params.flags = kRingSetupFlags | IORING_SETUP_CQSIZE;
  params.cq_entries = cq_entries;
  const int ret = io_uring_queue_init_params(sq_entries, ring.get(), &params);
  if (ret < 0) {
    return absl::ErrnoToStatus(
        -ret, absl::StrCat("io_uring_queue_init_params(entries=", sq_entries, ", cq_entries=",
                           cq_entries, ", flags=", internal::SetupFlagNames(params.flags),
                           ") failed; ProbeIoUring() reports what this kernel lacks"));
  }
  // Registering the ring fd saves a file-table lookup on every io_uring_enter. It is an
  // optimisation only (Linux 5.18+), so a failure leaves the ring usable.
  const bool registered = io_uring_register_ring_fd(ring.get()) == 1;
  return Ring(std::move(ring), registered);
}

Ring& Ring::operator=(Ring&& other) noexcept {
  if (this != &other) {
    Destroy();
    ring_ = std::move(other.ring_);
    ring_fd_registered_ = std::exchange(other.ring_fd_registered_, false);
  }
  return *this;
}

Ring::~Ring() { Destroy(); }

void Ring::Destroy() {
  if (ring_ != nullptr) {
    // io_uring_queue_exit unregisters the ring fd, unmaps the rings and closes the fd; the
    // kernel cancels whatever is still in flight.
    io_uring_queue_exit(ring_.get());
    ring_.reset();
  }
}

io_uring_sqe* Ring::GetSqeSlow() {
  const int ret = io_uring_submit(ring_.get());
  if (ret < 0 && !IsBenignEnterError(ret)) {
    return nullptr;
  }
  return io_uring_get_sqe(ring_.get());
}

absl::Status Ring::Submit() {
  // submit_and_get_events also enters the kernel when nothing is queued but deferred task work
  // is pending, which a plain io_uring_submit skips with DEFER_TASKRUN.
  const int ret = io_uring_submit_and_get_events(ring_.get());
  if (ret < 0 && !IsBenignEnterError(ret)) {
    return absl::ErrnoToStatus(-ret, "io_uring_submit_and_get_events");
  }
  return absl::OkStatus();
}

absl::Status Ring::SubmitAndWait(unsigned min_complete) {
  if (min_complete == 0) {
    return Submit();
  }
  const int ret = io_uring_submit_and_wait(ring_.get(), min_complete);
  if (ret < 0 && !IsBenignEnterError(ret)) {
    return absl::ErrnoToStatus(-ret, "io_uring_submit_and_wait");
  }
  return absl::OkStatus();
}

absl::Status Ring::SubmitAndWait(unsigned min_complete, std::chrono::nanoseconds timeout) {
  if (min_complete == 0) {
    return Submit();
  }
  if (timeout < std::chrono::nanoseconds::zero()) {
    timeout = std::chrono::nanoseconds::zero();
  }
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<int64_t>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(timeout.count() % 1'000'000'000);
  io_uring_cqe* cqe = nullptr;
  // With IORING_FEAT_EXT_ARG (every kernel that accepts DEFER_TASKRUN) this is one
  // io_uring_enter carrying both the submission and the timeout; no timeout SQE is queued.
  const int ret = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, min_complete, &ts, nullptr);
  if (ret < 0 && !IsBenignEnterError(ret)) {
    return absl::ErrnoToStatus(-ret, "io_uring_submit_and_wait_timeout");
  }
  return absl::OkStatus();
}

}  // namespace ringward::uring
