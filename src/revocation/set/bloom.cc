// revocation/set/bloom.cc: sizing and insertion for the split-block Bloom filter.
#include "revocation/set/bloom.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ringward::revocation {

double SplitBlockBloomFilter::FalsePositiveRate(double keys, double blocks) {
  if (keys <= 0) {
    return 0.0;
  }
  const double lambda = keys / std::max(blocks, 1.0);
  // Sum the Poisson(lambda) block loads over the range that carries all but ~1e-30 of the mass.
  const double spread = 12.0 * std::sqrt(lambda) + 40.0;
  const double lo = std::max(0.0, std::floor(lambda - spread));
  const double hi = std::ceil(lambda + spread);
  const double log_lambda = std::log(lambda);
  const double log_miss = std::log(31.0 / 32.0);
  double rate = 0.0;
  for (double c = lo; c <= hi; c += 1.0) {
    const double pmf = std::exp(c * log_lambda - lambda - std::lgamma(c + 1.0));
    const double lane_hit = 1.0 - std::exp(c * log_miss);
    rate += pmf * std::pow(lane_hit, 8.0);
  }
  return rate;
}

size_t SplitBlockBloomFilter::BlocksFor(uint64_t keys, double fpr) {
  if (keys == 0) {
    return 1;
  }
  fpr = std::clamp(fpr, 1e-12, 0.5);
  // The rate grows with the load (keys per block); bisect for the largest load within |fpr|.
  double lo = 1e-6;
  double hi = static_cast<double>(kBlockBits);
  for (int i = 0; i < 80; ++i) {
    const double mid = (lo + hi) / 2;
    if (FalsePositiveRate(mid, 1.0) <= fpr) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  double blocks = std::ceil(static_cast<double>(keys) / lo);
  while (FalsePositiveRate(static_cast<double>(keys), blocks) > fpr) {
    blocks += 1.0;
  }
  blocks = std::clamp(blocks, 1.0, static_cast<double>(kMaxBlocks - 1));
  return static_cast<size_t>(blocks);
}

SplitBlockBloomFilter::SplitBlockBloomFilter(uint64_t capacity, double fpr)
    : capacity_(capacity),
      fpr_(fpr),
      num_blocks_(BlocksFor(capacity, fpr)),
      blocks_(static_cast<size_t>(num_blocks_)) {}

void SplitBlockBloomFilter::Insert(uint64_t hash) {
  alignas(32) uint32_t masks[concurrent::AtomicBitBlocks::kLanes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(masks), LaneMasks(static_cast<uint32_t>(hash)));
  blocks_.SetLanes(BlockIndex(hash), masks);
}

}  // namespace ringward::revocation
