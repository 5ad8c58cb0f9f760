// concurrent/atomic_bit_blocks.h: AtomicBitBlocks, an array of 256-bit blocks (eight 32-bit
// lanes each) whose bits one writer sets while any number of readers test them: the storage of
// the split-block Bloom filter (revocation/set/bloom.h), which supplies the hashing.
//
// Bits are only ever set, never cleared, for the life of the object (a Bloom filter that must
// forget keys is rebuilt as a new object and swapped in). Monotonic bits are what make a racy,
// unlocked read correct: every lane a reader loads holds at least every bit set before the read
// started.
//
// Thread-safety: SetLanes from one writer thread at a time (fetch_or would tolerate several;
// the filter's counters do not); ContainsAll from any thread, concurrently with SetLanes. The
// object owns its blocks; it is neither copyable nor movable while readers may hold it.
//
// Memory ordering. SetLanes performs one release fetch_or per lane (on x86-64 the same `lock or`
// a relaxed one is). ContainsAll loads the block's lanes (see below) with no ordering of its
// own: a Bloom filter answer of "maybe" is only a hint, and the common answer, "certainly not",
// needs none. A caller that goes on to read data the writer published *before* setting the
// bits (the exact entry that confirms a Bloom positive) calls AcquireAfterHit() first. The
// writer's release fetch_or and the reader's acquire fence then synchronise whenever the
// reader's load returned the value of that fetch_or or of a later one (later fetch_or's on the
// same lane continue its release sequence): everything the writer did before setting the bits
// of key K then happens-before everything the reader does after the fence.
// A reader whose load saw K's bits only because earlier keys had set them is concurrent with
// K's insertion and gets no such promise; a reader ordered after K's insertion by any other
// means (an acknowledgement, a QSBR epoch) necessarily sees K's bits by coherence.
//
// The lanes are read with one 32-byte AVX2 load, which C++ calls a data race on atomic objects
// that are being written. It is correct on x86-64 for these reasons: the block is 32-byte
// aligned, so each 4-byte lane (indeed each 8-byte half) is read single-copy atomically, and
// may only be older or newer than its neighbours, each lane value lying between what it held
// when the load began and when it ended; bits only grow, so a stale lane lacks at most bits set
// concurrently with the read; x86-TSO never reorders a load with a later load, and the
// compiler barrier in AcquireAfterHit() keeps the compiler from doing so. Under ThreadSanitizer
// (which cannot see that argument, and does not model fences at all) ContainsAll instead
// performs eight acquire loads and AcquireAfterHit is empty, so a TSan build checks everything
// else without reporting this one documented race.
#ifndef RINGWARD_CONCURRENT_ATOMIC_BIT_BLOCKS_H_
#define RINGWARD_CONCURRENT_ATOMIC_BIT_BLOCKS_H_

#include <immintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ringward/base/huge_pages.h"

#if defined(__SANITIZE_THREAD__)
#define RINGWARD_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGWARD_TSAN_BUILD 1
#endif
#endif

namespace ringward::concurrent {

class AtomicBitBlocks {
 public:
  static constexpr size_t kLanes = 8;
  static constexpr size_t kBlockBytes = 32;

  // AtomicBitBlocks allocates |num_blocks| zeroed blocks (at least one) in a mapping of their
  // own, offered to transparent huge pages from 2 MiB on: lookups land on random blocks, and
  // with 4 KiB pages a 13 MB filter (10M keys) would miss the TLB on most of them.
  explicit AtomicBitBlocks(size_t num_blocks)
      : num_blocks_(num_blocks == 0 ? 1 : num_blocks),
        memory_(num_blocks_ * kBlockBytes),
        blocks_(Construct(memory_, num_blocks_)) {}
  AtomicBitBlocks(const AtomicBitBlocks&) = delete;
  AtomicBitBlocks& operator=(const AtomicBitBlocks&) = delete;

  size_t num_blocks() const { return num_blocks_; }
  size_t bytes() const { return num_blocks_ * kBlockBytes; }

  // SetLanes ORs |masks[i]| into lane i of block |block|. Writer only.
  void SetLanes(size_t block, const uint32_t (&masks)[kLanes]) {
    for (size_t i = 0; i < kLanes; ++i) {
      blocks_[block].lane[i].fetch_or(masks[i], std::memory_order_release);
    }
  }

  // ContainsAll reports whether every bit of |masks| (lane i in 32-bit element i) is set in
  // block |block|. Any thread; see the header comment for what a true answer orders.
  bool ContainsAll(size_t block, __m256i masks) const {
#if defined(RINGWARD_TSAN_BUILD)
    alignas(32) uint32_t want[kLanes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(want), masks);
    for (size_t i = 0; i < kLanes; ++i) {
      if ((blocks_[block].lane[i].load(std::memory_order_acquire) & want[i]) != want[i]) {
        return false;
      }
    }
    return true;
#else
    // The documented racy read: one aligned 256-bit load of eight lanes that only gain bits.
    const __m256i bits = _mm256_load_si256(reinterpret_cast<const __m256i*>(&blocks_[block]));
    return _mm256_testc_si256(bits, masks) != 0;
#endif
  }

  // LoadLane returns one lane (relaxed); for tests and the writer's own bookkeeping.
  uint32_t LoadLane(size_t block, size_t lane) const {
    return blocks_[block].lane[lane].load(std::memory_order_relaxed);
  }

  // AcquireAfterHit orders the caller's later reads after a true ContainsAll (header comment).
  static void AcquireAfterHit() {
#if !defined(RINGWARD_TSAN_BUILD)
    std::atomic_thread_fence(std::memory_order_acquire);
#endif
  }

 private:
  struct alignas(kBlockBytes) Block {
    std::atomic<uint32_t> lane[kLanes];
  };
  static_assert(sizeof(Block) == kBlockBytes);
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  // Zeroed memory on (transparent) huge pages; lanes are constructed over it.
  static Block* Construct(base::HugePageMemory& memory, size_t n) {
    Block* blocks = static_cast<Block*>(memory.data());
    std::uninitialized_value_construct_n(blocks, n);
    return blocks;
  }

  const size_t num_blocks_;
  base::HugePageMemory memory_;  // declared before blocks_, which points into it
  Block* blocks_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_ATOMIC_BIT_BLOCKS_H_
