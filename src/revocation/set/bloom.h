// revocation/set/bloom.h: SplitBlockBloomFilter, the split-block Bloom filter of Parquet and
// Impala, which answers "certainly not revoked" for a token in a few nanoseconds.
//
// The filter is an array of 256-bit blocks. A 64-bit key hash picks one block with its high 32
// bits (multiply-shift, so any block count works) and sets one bit in each of the block's eight
// 32-bit lanes with its low 32 bits: lane i gets bit (key * kSalt[i]) >> 27. A lookup is one
// aligned 256-bit load, one vpmulld/vpsrld/vpsllv to make the eight lane masks and one vptest:
// one cache line per key, whatever the false-positive rate. The price is a little more memory
// than a classic Bloom filter for the same rate (about 10.5 rather than 9.6 bits per key at 1%).
//
// Keys are hashes supplied by the caller (XXH3 in revocation_set.cc); the filter never sees the
// revoked identifiers themselves, and never needs to: every positive is confirmed against the
// exact set, so a false positive costs one table probe, never a wrongly rejected token.
//
// Thread-safety: Insert from one writer thread; MayContain from any thread concurrently with
// Insert, without locks (see concurrent/atomic_bit_blocks.h for the memory-ordering argument
// and for AcquireAfterHit, which a caller needs before reading what it published before
// Insert). A filter never forgets: removing keys means building a new filter.
#ifndef RINGWARD_REVOCATION_SET_BLOOM_H_
#define RINGWARD_REVOCATION_SET_BLOOM_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "concurrent/atomic_bit_blocks.h"

namespace ringward::revocation {

class SplitBlockBloomFilter {
 public:
  // The salts are Parquet's (and Impala's): odd 32-bit constants, one per lane.
  static constexpr uint32_t kSalt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                        0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};
  static constexpr size_t kBlockBits = 256;
  // kMaxBlocks keeps the multiply-shift block choice within 32 bits (4 billion blocks, 128 GiB).
  static constexpr uint64_t kMaxBlocks = uint64_t{1} << 32;

  // FalsePositiveRate returns the expected rate with |keys| keys in |blocks| blocks: block loads
  // are Poisson(keys/blocks) and a block holding c keys answers a foreign key "maybe" with
  // probability (1 - (31/32)^c)^8.
  static double FalsePositiveRate(double keys, double blocks);

  // BlocksFor returns the fewest blocks that keep |keys| keys at or below |fpr| (0 < fpr < 1),
  // and at least one.
  static size_t BlocksFor(uint64_t keys, double fpr);

  // SplitBlockBloomFilter sizes an empty filter for |capacity| keys at |fpr|.
  SplitBlockBloomFilter(uint64_t capacity, double fpr);
  SplitBlockBloomFilter(const SplitBlockBloomFilter&) = delete;
  SplitBlockBloomFilter& operator=(const SplitBlockBloomFilter&) = delete;

  // Insert adds |hash|. Writer only.
  void Insert(uint64_t hash);

  // MayContain returns false when |hash| was certainly never inserted. Any thread, lock-free.
  bool MayContain(uint64_t hash) const {
    return blocks_.ContainsAll(BlockIndex(hash), LaneMasks(static_cast<uint32_t>(hash)));
  }

  // AcquireAfterHit orders the caller's later reads after a true MayContain.
  static void AcquireAfterHit() { concurrent::AtomicBitBlocks::AcquireAfterHit(); }

  // LaneMasks returns the eight one-bit lane masks of |key| (exposed for tests).
  static __m256i LaneMasks(uint32_t key) {
    const __m256i salt = _mm256_setr_epi32(
        static_cast<int>(kSalt[0]), static_cast<int>(kSalt[1]), static_cast<int>(kSalt[2]),
        static_cast<int>(kSalt[3]), static_cast<int>(kSalt[4]), static_cast<int>(kSalt[5]),
        static_cast<int>(kSalt[6]), static_cast<int>(kSalt[7]));
    const __m256i product = _mm256_mullo_epi32(_mm256_set1_epi32(static_cast<int>(key)), salt);
    const __m256i bit = _mm256_srli_epi32(product, 27);
    return _mm256_sllv_epi32(_mm256_set1_epi32(1), bit);
  }

  size_t BlockIndex(uint64_t hash) const { return ((hash >> 32) * num_blocks_) >> 32; }

  uint64_t capacity() const { return capacity_; }
  double target_fpr() const { return fpr_; }
  size_t num_blocks() const { return num_blocks_; }
  size_t bytes() const { return blocks_.bytes(); }

 private:
  // Only constants live here, beside the block pointer: every reader loads this line on every
  // lookup, so the writer keeps its insertion counts elsewhere rather than dirty it.
  const uint64_t capacity_;
  const double fpr_;
  const uint64_t num_blocks_;
  concurrent::AtomicBitBlocks blocks_;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_SET_BLOOM_H_
