#include "ringward/net/uring/buffer_ring.h"

#include <liburing.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ringward::uring {

namespace {

void* MapAnonymous(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

absl::StatusOr<BufferRing> BufferRing::Create(Ring& ring, uint16_t group_id, uint32_t count,
                                              uint32_t buffer_size) {
  if (count == 0 || count > kMaxBuffers || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "buffer ring: count must be a power of two in [1, ", kMaxBuffers, "], got ", count));
  }
  if (buffer_size == 0 || buffer_size > (1u << 31) - 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("buffer ring: buffer_size must be in [1, 2^31), got ", buffer_size));
  }
  BufferRing br;
  br.owner_ = ring.raw();
  br.group_id_ = group_id;
  br.count_ = count;
  br.buffer_size_ = buffer_size;
  br.mask_ = io_uring_buf_ring_mask(count);

  // The kernel requires the ring of io_uring_buf entries to be page aligned; mmap gives that.
  br.ring_bytes_ = sizeof(io_uring_buf) * count;
  br.ring_ = static_cast<io_uring_buf_ring*>(MapAnonymous(br.ring_bytes_));
  if (br.ring_ == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("buffer ring: mmap of ", br.ring_bytes_, " bytes for the ring"));
  }
  br.buffers_bytes_ = static_cast<size_t>(count) * buffer_size;
  br.buffers_ = static_cast<uint8_t*>(MapAnonymous(br.buffers_bytes_));
  if (br.buffers_ == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("buffer ring: mmap of ", br.buffers_bytes_, " bytes for the buffers"));
  }

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br.ring_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  const int ret = io_uring_register_buf_ring(br.owner_, &reg, 0);
  if (ret < 0) {
    br.owner_ = nullptr;  // not registered: Destroy must not unregister
    return absl::ErrnoToStatus(
        -ret, absl::StrCat("io_uring_register_buf_ring(group ", group_id, ", ", count,
                           " buffers) failed (needs Linux 5.19+; EEXIST means the group id "
                           "is already registered on this ring)"));
  }

  io_uring_buf_ring_init(br.ring_);
  for (uint32_t bid = 0; bid < count; ++bid) {
    io_uring_buf_ring_add(br.ring_, br.Buffer(static_cast<uint16_t>(bid)), buffer_size,
                          static_cast<uint16_t>(bid), br.mask_, static_cast<int>(bid));
  }
  io_uring_buf_ring_advance(br.ring_, static_cast<int>(count));
  return br;
}

BufferRing::BufferRing(BufferRing&& other) noexcept { TakeFrom(other); }

BufferRing& BufferRing::operator=(BufferRing&& other) noexcept {
  if (this != &other) {
    Destroy();
    TakeFrom(other);
  }
  return *this;
}

void BufferRing::TakeFrom(BufferRing& other) {
  owner_ = std::exchange(other.owner_, nullptr);
  ring_ = std::exchange(other.ring_, nullptr);
  ring_bytes_ = std::exchange(other.ring_bytes_, 0);
  buffers_ = std::exchange(other.buffers_, nullptr);
  buffers_bytes_ = std::exchange(other.buffers_bytes_, 0);
  count_ = std::exchange(other.count_, 0);
  buffer_size_ = std::exchange(other.buffer_size_, 0);
  mask_ = std::exchange(other.mask_, 0);
  staged_ = std::exchange(other.staged_, 0);
  group_id_ = std::exchange(other.group_id_, 0);
}

BufferRing::~BufferRing() { Destroy(); }

void BufferRing::Destroy() {
  if (owner_ != nullptr) {
    // Unregistering first guarantees the kernel no longer writes into the buffers we unmap.
    io_uring_unregister_buf_ring(owner_, group_id_);
    owner_ = nullptr;
  }
  if (buffers_ != nullptr) {
    munmap(buffers_, buffers_bytes_);
    buffers_ = nullptr;
  }
  if (ring_ != nullptr) {
    munmap(ring_, ring_bytes_);
    ring_ = nullptr;
  }
}

}  // namespace ringward::uring
