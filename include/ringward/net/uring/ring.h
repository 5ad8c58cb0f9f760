// ringward/net/uring/ring.h: Ring, the move-only owner of one shard's io_uring instance.
//
// A Ring is created with the flags a shared-nothing shard wants:
//   IORING_SETUP_SINGLE_ISSUER   only the creating thread submits (the kernel skips locking);
//   IORING_SETUP_DEFER_TASKRUN   completions are produced only when this thread enters the
//                                kernel to wait, never by interrupting it mid-request;
//   IORING_SETUP_TASKRUN_FLAG    the kernel flags pending deferred work in the SQ ring, so
//                                liburing knows when a non-waiting reap must enter the kernel;
//   IORING_SETUP_SUBMIT_ALL      one bad SQE does not stop the rest of a batch from submitting;
//   IORING_SETUP_CQSIZE          a CQ ring kCqMultiplier times the SQ ring, because multishot
//                                accept/recv produce many completions per submission.
// and its fd is registered (io_uring_register_ring_fd) to save an fget/fput per io_uring_enter.
//
// Thread-bound, strictly: with SINGLE_ISSUER the kernel binds the ring to the thread that
// creates it, and io_uring_enter from any other thread fails (EEXIST; EINVAL through the
// registered ring fd, whose registration is per thread). Create the Ring on the
// shard's own (pinned) thread, use it there, and destroy it there (the registered ring fd lives
// in that thread's io_uring context). Other threads reach a shard only through
// IORING_OP_MSG_RING from their own ring, targeting fd(); see prep.h.
//
// One loop turn is: GetSqe/prep for new work, SubmitAndWait(1, timeout) (one io_uring_enter that
// both submits and waits), then ForEachCompletion to reap a batch.
#ifndef RINGWARD_NET_URING_RING_H_
#define RINGWARD_NET_URING_RING_H_

#include <liburing.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::uring {

// kRingSetupFlags are the io_uring_setup flags every shard ring uses (CQSIZE is added by
// Create). ProbeIoUring() checks that the kernel accepts exactly these.
inline constexpr unsigned kRingSetupFlags = IORING_SETUP_SINGLE_ISSUER |
                                            IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                                            IORING_SETUP_SUBMIT_ALL;

class Ring {
 public:
  static constexpr unsigned kCqMultiplier = 8;
  static constexpr unsigned kCompletionBatch = 64;

  // Create makes a ring with |sq_entries| SQEs (rounded up to a power of two by the kernel) and
  // |cq_entries| CQEs, or kCqMultiplier * sq_entries when |cq_entries| is 0. Call it on the
  // thread that will own the ring. On failure the Status carries the errno text and points at
  // ProbeIoUring() for a diagnosis of what the kernel lacks.
  static absl::StatusOr<Ring> Create(unsigned sq_entries, unsigned cq_entries = 0);

  // A moved-from Ring may only be destroyed or assigned to.
  Ring(Ring&& other) noexcept = default;
  Ring& operator=(Ring&& other) noexcept;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  // raw returns the liburing ring for calls this wrapper does not cover. The pointer is stable
  // for the Ring's lifetime, including across moves, so BufferRing may keep it.
  io_uring* raw() { return ring_.get(); }

  // fd is the ring's file descriptor, the target another ring names in a MSG_RING.
  int fd() const { return ring_->ring_fd; }
  unsigned sq_entries() const { return ring_->sq.ring_entries; }
  unsigned cq_entries() const { return ring_->cq.ring_entries; }
  unsigned setup_flags() const { return ring_->flags; }
  bool ring_fd_registered() const { return ring_fd_registered_; }

  // GetSqe returns an SQE to fill with a prep.h helper (liburing's prep functions set every
  // field, so stale contents from an earlier use do not leak through). When the SQ ring is full
  // it first submits what is queued (no waiting) and retries, so callers never see "SQ full".
  // It returns nullptr only if that submission fails, which means the ring is unusable.
  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (sqe != nullptr) {
      return sqe;
    }
    return GetSqeSlow();
  }

  // Submit hands queued SQEs to the kernel without waiting, and runs deferred completion work so
  // that completions already due become visible to ForEachCompletion.
  absl::Status Submit();

  // SubmitAndWait submits queued SQEs and waits until at least |min_complete| completions are
  // ready or |timeout| has passed, in one io_uring_enter. A timeout or a signal is not an error:
  // the caller simply finds fewer completions. |min_complete| 0 never blocks.
  absl::Status SubmitAndWait(unsigned min_complete, std::chrono::nanoseconds timeout);
  // SubmitAndWait without a timeout blocks until |min_complete| completions are ready.
  absl::Status SubmitAndWait(unsigned min_complete);

  // ForEachCompletion calls |fn(const io_uring_cqe&)| for each ready completion, at most
  // |max_completions| of them, reaping in batches of kCompletionBatch (PeekReady) and releasing
  // each batch with a single io_uring_cq_advance after |fn| has seen it. |fn| must copy what it
  // needs: the CQE slot is reused afterwards. |fn| may call GetSqe and prep new work. Returns
  // the number of completions handled. Deferred task work is not run: Submit or SubmitAndWait
  // does that.
  template <typename Fn>
  unsigned ForEachCompletion(Fn&& fn, unsigned max_completions = ~0u) {
    io_uring_cqe* cqes[kCompletionBatch];
    unsigned total = 0;
    while (total < max_completions) {
      const unsigned want = std::min(kCompletionBatch, max_completions - total);
      const unsigned n = PeekReady(cqes, want);
      if (n == 0) {
        break;
      }
      for (unsigned i = 0; i < n; ++i) {
        fn(static_cast<const io_uring_cqe&>(*cqes[i]));
      }
      io_uring_cq_advance(ring_.get(), n);
      total += n;
    }
    return total;
  }

 private:
  // PeekReady fills |cqes| with up to |count| completions already in the CQ ring. Unlike
  // io_uring_peek_batch_cqe it never enters the kernel to run deferred task work when the ring
  // is empty: that work runs at the loop's next SubmitAndWait, together with the submission of
  // what this turn produced, instead of costing a syscall of its own.
  unsigned PeekReady(io_uring_cqe** cqes, unsigned count) {
    io_uring* r = ring_.get();
    const unsigned head = *r->cq.khead;
    const unsigned ready = io_uring_smp_load_acquire(r->cq.ktail) - head;
    const unsigned n = std::min(ready, count);
    for (unsigned i = 0; i < n; ++i) {
      cqes[i] = &r->cq.cqes[(head + i) & r->cq.ring_mask];
    }
    return n;
  }

  Ring(std::unique_ptr<io_uring> ring, bool ring_fd_registered)
      : ring_(std::move(ring)), ring_fd_registered_(ring_fd_registered) {}

  io_uring_sqe* GetSqeSlow();
  void Destroy();

  // Heap-allocated so that its address survives moves of the Ring.
  std::unique_ptr<io_uring> ring_;
  bool ring_fd_registered_ = false;
};

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_RING_H_
