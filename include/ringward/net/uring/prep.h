// ringward/net/uring/prep.h: SQE preparation for the operations a shard issues, each setting
// the user_data (see user_data.h) so no SQE leaves without one.
//
// These wrap liburing 2.3's io_uring_prep_* with the flags ringward always wants:
//   - accept and recv are multishot: one SQE keeps producing CQEs while IORING_CQE_F_MORE is
//     set; a CQE without F_MORE is the last one, and the shard re-arms if it still wants more.
//   - recv selects from a provided-buffer group (IOSQE_BUFFER_SELECT); see buffer_ring.h.
//   - send uses MSG_NOSIGNAL so a peer that went away yields -EPIPE, never SIGPIPE.
//   - accepted sockets are plain (non-direct) descriptors with SOCK_CLOEXEC, so ordinary socket
//     calls (setsockopt, getpeername) work on them.
//
// Pointers passed in (send data, timespecs) must stay valid until the SQE is submitted; send
// data must stay valid until the send's CQE arrives.
//
// Header-only, stateless: thread-safe, but an SQE belongs to the ring (thread) it came from.
#ifndef RINGWARD_NET_URING_PREP_H_
#define RINGWARD_NET_URING_PREP_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace ringward::uring {

// PrepMultishotAccept accepts connections on |listen_fd| until cancelled or until a CQE
// arrives without IORING_CQE_F_MORE. Each CQE's res is a new fd (or -errno). Linux 5.19+.
inline void PrepMultishotAccept(io_uring_sqe* sqe, int listen_fd, uint64_t user_data) {
  io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepMultishotRecv receives on |fd| into buffers from |buffer_group| until EOF (res 0),
// an error, or the group runs dry (-ENOBUFS); each of those ends the multishot. Linux 6.0+.
//
// The kernel picks a buffer before it looks for data, so a recv armed while the group is
// empty fails at once with -ENOBUFS even on an idle socket. |poll_first|
// (IORING_RECVSEND_POLL_FIRST) makes it wait for data first: use it when re-arming idle
// connections while buffers are scarce, and when data is not expected right away.
inline void PrepMultishotRecv(io_uring_sqe* sqe, int fd, uint16_t buffer_group, uint64_t user_data,
                              bool poll_first = false) {
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  if (poll_first) {
    sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  }
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepRecv is the single-shot form of PrepMultishotRecv: one completion, one buffer from
// |buffer_group|. It can carry a linked timeout (LinkWithNext + PrepLinkTimeout), which a
// multishot recv cannot.
inline void PrepRecv(io_uring_sqe* sqe, int fd, uint16_t buffer_group, uint64_t user_data) {
  io_uring_prep_recv(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepSend sends |len| bytes at |data| on |fd|. res is the number of bytes sent, which on a
// stream socket may be less than |len|: the caller re-sends the rest. Keep at most one send
// in flight per connection (or link them) so bytes cannot be reordered.
inline void PrepSend(io_uring_sqe* sqe, int fd, const void* data, size_t len, uint64_t user_data) {
  io_uring_prep_send(sqe, fd, data, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepClose closes |fd| asynchronously. Cancel the fd's multishot operations first (or let
// their final CQEs arrive): closing does not by itself end operations already armed.
inline void PrepClose(io_uring_sqe* sqe, int fd, uint64_t user_data) {
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepCancel cancels the in-flight operation(s) whose user_data is |target| (all of them with
// IORING_ASYNC_CANCEL_ALL in |flags|).
inline void PrepCancel(io_uring_sqe* sqe, uint64_t target, int flags, uint64_t user_data) {
  io_uring_prep_cancel64(sqe, target, flags);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepCancelFd cancels every in-flight operation on |fd|.
inline void PrepCancelFd(io_uring_sqe* sqe, int fd, uint64_t user_data) {
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepTimeout completes after |ts| (relative unless IORING_TIMEOUT_ABS is in |flags|) with
// res -ETIME, or earlier with res 0 once |count| other completions have been posted
// (count 0: pure timer). The kernel copies |*ts| at submission.
inline void PrepTimeout(io_uring_sqe* sqe, __kernel_timespec* ts, unsigned count, unsigned flags,
                        uint64_t user_data) {
  io_uring_prep_timeout(sqe, ts, count, flags);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepLinkTimeout bounds the SQE prepared just before it, which must carry IOSQE_IO_LINK (see
// LinkWithNext): if that operation has not completed after |ts| it is cancelled (its res is
// -ECANCELED) and this CQE has res -ETIME; otherwise this CQE has res -ECANCELED.
inline void PrepLinkTimeout(io_uring_sqe* sqe, __kernel_timespec* ts, uint64_t user_data) {
  io_uring_prep_link_timeout(sqe, ts, 0);
  io_uring_sqe_set_data64(sqe, user_data);
}

// LinkWithNext makes the next SQE in this submission depend on |sqe|.
inline void LinkWithNext(io_uring_sqe* sqe) { sqe->flags |= IOSQE_IO_LINK; }

// PrepMsgRing posts a CQE on another ring (|target_ring_fd| is Ring::fd() of that ring, not a
// registered index) with user_data |target_user_data| and res |value|, waking that shard if
// it is waiting. This ring gets a CQE too, with |user_data| and res 0 or -errno (e.g.
// -EOVERFLOW if the target's CQ is full). Linux 5.18+. The usual cross-shard doorbell: the
// payload goes through a queue, the MSG_RING says "look at it".
inline void PrepMsgRing(io_uring_sqe* sqe, int target_ring_fd, uint32_t value,
                        uint64_t target_user_data, uint64_t user_data) {
  io_uring_prep_msg_ring(sqe, target_ring_fd, value, target_user_data, 0);
  io_uring_sqe_set_data64(sqe, user_data);
}

// PrepNop completes immediately with res 0; useful to inject a completion.
inline void PrepNop(io_uring_sqe* sqe, uint64_t user_data) {
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, user_data);
}

// HasMore reports whether a multishot operation stays armed after this CQE. When false, the
// operation is over and must be re-armed if still wanted.
inline bool HasMore(const io_uring_cqe& cqe) { return (cqe.flags & IORING_CQE_F_MORE) != 0; }

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_PREP_H_
