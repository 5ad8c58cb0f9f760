// concurrent/spsc_queue.h: SpscQueue<T>, a bounded single-producer single-consumer ring of
// values, the mailbox between a shard and the control plane (admin requests one way, their
// answers the other) and between the write-ahead log's sync thread and the control plane.
//
// Bounded on purpose: a producer that finds the ring full gets false and decides (a shard
// answers 503 "busy"); nothing allocates after construction, and a stalled consumer cannot
// make a producer's memory grow. The owners of each queue size it so that it never fills in
// normal operation (see server/control_plane.h).
//
// Thread-safety: TryPush from one producer thread, TryPop from one consumer thread, at any
// time; capacity() and ApproxEmpty() from either. The queue owns the values it holds; a value
// left in it at destruction is destroyed with it.
//
// Memory ordering. The producer move-assigns into slot tail % capacity with plain stores, then
// publishes the new tail with a release store; the consumer acquire-loads the tail, so the
// slot's contents happen-before its read. Symmetrically, the consumer moves the value out and
// then release-stores the new head; the producer acquire-loads the head before it reuses a
// slot, so the consumer's read of a slot happens-before the producer's next write to it. Each
// side keeps a private copy of the other's index and reloads it only when the copy says full
// (empty), so in steady state an operation touches one shared line written by the other side.
// Head and tail live on separate cache lines so the two threads do not false-share.
#ifndef RINGWARD_CONCURRENT_SPSC_QUEUE_H_
#define RINGWARD_CONCURRENT_SPSC_QUEUE_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace ringward::concurrent {

template <typename T>
class SpscQueue {
 public:
  // |capacity| is rounded up to a power of two (at least 2).
  explicit SpscQueue(size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity)),
        mask_(capacity_ - 1),
        slots_(new T[capacity_]) {}
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  size_t capacity() const { return capacity_; }

  // TryPush moves |value| into the queue, or returns false (|value| untouched) when it is full.
  // Producer only.
  bool TryPush(T&& value) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - producer_.cached_head >= capacity_) {
      producer_.cached_head = head_.load(std::memory_order_acquire);
      if (tail - producer_.cached_head >= capacity_) {
        return false;
      }
    }
    slots_[tail & mask_] = std::move(value);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // TryPop moves the oldest value into |*out| and returns true, or returns false when the queue
  // is empty. Consumer only.
  bool TryPop(T* out) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == consumer_.cached_tail) {
      consumer_.cached_tail = tail_.load(std::memory_order_acquire);
      if (head == consumer_.cached_tail) {
        return false;
      }
    }
    *out = std::move(slots_[head & mask_]);
    slots_[head & mask_] = T();  // release what the slot held now, not when it is next reused
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // ApproxEmpty is a hint: exact for the consumer (nothing it could pop right now), possibly
  // stale for anyone else.
  bool ApproxEmpty() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
  }

 private:
  struct alignas(64) ProducerSide {
    uint64_t cached_head = 0;
  };
  struct alignas(64) ConsumerSide {
    uint64_t cached_tail = 0;
  };

  const size_t capacity_;
  const size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};  // next slot to pop; written by the consumer
  alignas(64) std::atomic<uint64_t> tail_{0};  // next slot to fill; written by the producer
  ProducerSide producer_;
  ConsumerSide consumer_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_SPSC_QUEUE_H_
