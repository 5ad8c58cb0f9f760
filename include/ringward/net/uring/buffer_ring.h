// ringward/net/uring/buffer_ring.h: BufferRing, a ring of provided buffers that the kernel
// picks from when a recv completes (IOSQE_BUFFER_SELECT with a buffer group).
//
// A shard arms one multishot recv per connection without dedicating a buffer to each idle
// connection: the kernel takes a buffer from the group only when data arrives, and reports
// its id in the CQE (IORING_CQE_F_BUFFER, id in cqe->flags >> IORING_CQE_BUFFER_SHIFT).
//
// Ownership of buffer memory moves back and forth:
//   - after Create, all buffers belong to the kernel;
//   - a CQE carrying buffer id |bid| hands buffer |bid| to the shard; Buffer(bid) points at
//     the received bytes;
//   - the shard MUST give it back with Recycle(bid) once it has consumed (or copied out) those
//     bytes, e.g. when the send that echoes them completes or the parser no longer points into
//     them. A buffer that is never recycled is lost to the group; when every buffer is out, the
//     kernel ends each multishot recv with -ENOBUFS (without IORING_CQE_F_MORE) and the shard
//     must recycle and re-arm. Re-arm starved connections gradually (about one per buffer
//     recycled), not all at once: a recv armed on an empty group fails immediately, so waking
//     every starved connection for one returned buffer turns into a storm of -ENOBUFS CQEs.
//     Size the group above the number of connections expected to be mid-request at once.
//   - Recycle only stages the buffer; Publish() makes all staged buffers visible to the kernel
//     with one release store. Call Publish() once per loop turn, before SubmitAndWait.
//     Recycle publishes by itself every kPublishBatch buffers so a long reap cannot starve the
//     kernel.
//
// liburing 2.3 has no io_uring_setup_buf_ring, so the ring memory is mmap'ed here and
// registered with io_uring_register_buf_ring (Linux 5.19+).
//
// Thread-bound: belongs to the shard that owns the Ring; the Ring must outlive the BufferRing.
// Buffer memory is allocated once at Create; nothing allocates afterwards.
#ifndef RINGWARD_NET_URING_BUFFER_RING_H_
#define RINGWARD_NET_URING_BUFFER_RING_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "ringward/net/uring/ring.h"

namespace ringward::uring {

class BufferRing {
 public:
  static constexpr uint32_t kMaxBuffers = 32768;  // kernel limit on ring entries
  static constexpr int kPublishBatch = 32;

  // Create registers |count| buffers of |buffer_size| bytes as buffer group |group_id| on
  // |ring|. |count| must be a power of two in [1, kMaxBuffers]; |buffer_size| must be in
  // [1, 2^31). Buffer ids are 0..count-1.
  static absl::StatusOr<BufferRing> Create(Ring& ring, uint16_t group_id, uint32_t count,
                                           uint32_t buffer_size);

  BufferRing(BufferRing&& other) noexcept;
  BufferRing& operator=(BufferRing&& other) noexcept;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  uint16_t group_id() const { return group_id_; }
  uint32_t count() const { return count_; }
  uint32_t buffer_size() const { return buffer_size_; }

  // Buffer returns the start of buffer |bid| (bid < count()).
  uint8_t* Buffer(uint16_t bid) const { return buffers_ + static_cast<size_t>(bid) * buffer_size_; }

  // Recycle stages buffer |bid| for return to the kernel (see the header comment). Each id
  // must be recycled exactly once per CQE that handed it out.
  void Recycle(uint16_t bid) {
    io_uring_buf_ring_add(ring_, Buffer(bid), buffer_size_, bid, mask_, staged_);
    if (++staged_ >= kPublishBatch) {
      Publish();
    }
  }

  // Publish makes every staged buffer visible to the kernel.
  void Publish() {
    if (staged_ != 0) {
      io_uring_buf_ring_advance(ring_, staged_);
      staged_ = 0;
    }
  }

  // staged returns how many recycled buffers await Publish().
  int staged() const { return staged_; }

 private:
  BufferRing() = default;
  void Destroy();
  void TakeFrom(BufferRing& other);

  io_uring* owner_ = nullptr;
  io_uring_buf_ring* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t buffer_size_ = 0;
  int mask_ = 0;
  int staged_ = 0;
  uint16_t group_id_ = 0;
};

// BufferIdOf returns the provided-buffer id of a recv completion. Only meaningful when
// (cqe.flags & IORING_CQE_F_BUFFER) != 0.
inline uint16_t BufferIdOf(const io_uring_cqe& cqe) {
  return static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
}

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_BUFFER_RING_H_
