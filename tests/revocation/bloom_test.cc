// SplitBlockBloomFilter: one bit per lane, no false negatives, and a measured false-positive
// rate that matches the sizing formula.
#include "revocation/set/bloom.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "xxhash.h"

namespace ringward::revocation {
namespace {

// RandomIdHash hashes a random 16-byte identifier, the way the revocation set hashes a jti.
uint64_t RandomIdHash(std::mt19937_64& rng) {
  const uint64_t id[2] = {rng(), rng()};
  return XXH3_64bits(id, sizeof(id));
}

TEST(SplitBlockBloomFilterTest, LaneMasksSetExactlyOneBitPerLaneAsParquetDoes) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t key = static_cast<uint32_t>(rng());
    alignas(32) uint32_t masks[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(masks),
                       SplitBlockBloomFilter::LaneMasks(key));
    for (int lane = 0; lane < 8; ++lane) {
      const uint32_t bit = (key * SplitBlockBloomFilter::kSalt[lane]) >> 27;
      ASSERT_EQ(masks[lane], 1u << bit) << "key " << key << " lane " << lane;
    }
  }
}

TEST(SplitBlockBloomFilterTest, SizingFollowsTheRate) {
  // Tighter rates need more blocks, and the computed size meets its rate.
  const size_t at_1pct = SplitBlockBloomFilter::BlocksFor(1'000'000, 0.01);
  const size_t at_01pct = SplitBlockBloomFilter::BlocksFor(1'000'000, 0.001);
  EXPECT_LT(at_1pct, at_01pct);
  EXPECT_LE(SplitBlockBloomFilter::FalsePositiveRate(1e6, static_cast<double>(at_1pct)), 0.01);
  EXPECT_GT(SplitBlockBloomFilter::FalsePositiveRate(1e6, static_cast<double>(at_1pct) - 1),
            0.01);
  // Roughly 10-11 bits per key at 1%: the split-block design's known cost.
  const double bits_per_key = static_cast<double>(at_1pct) * 256 / 1e6;
  EXPECT_GT(bits_per_key, 9.6);
  EXPECT_LT(bits_per_key, 12.0);
  EXPECT_EQ(SplitBlockBloomFilter::BlocksFor(0, 0.01), 1u);
}

TEST(SplitBlockBloomFilterTest, EmptyFilterContainsNothing) {
  SplitBlockBloomFilter filter(1000, 0.01);
  std::mt19937_64 rng(2);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_FALSE(filter.MayContain(rng()));
  }
}

TEST(SplitBlockBloomFilterTest, HasNoFalseNegatives) {
  SplitBlockBloomFilter filter(100'000, 0.01);
  std::mt19937_64 rng(3);
  std::vector<uint64_t> keys(100'000);
  for (uint64_t& k : keys) {
    k = RandomIdHash(rng);
    filter.Insert(k);
  }
  for (uint64_t k : keys) {
    ASSERT_TRUE(filter.MayContain(k));
  }
}

// The measured rate over a million ids that were never inserted stays within 1.5x of the
// configured target (in both directions: an oversized filter would waste memory).
void ExpectMeasuredRateNearTarget(double target) {
  constexpr uint64_t kRevoked = 1'000'000;
  constexpr int kQueries = 1'000'000;
  SplitBlockBloomFilter filter(kRevoked, target);
  std::mt19937_64 rng(4);
  for (uint64_t i = 0; i < kRevoked; ++i) {
    filter.Insert(RandomIdHash(rng));
  }
  std::mt19937_64 other(5);  // a different stream: ids that were never inserted
  int positives = 0;
  for (int i = 0; i < kQueries; ++i) {
    positives += filter.MayContain(RandomIdHash(other)) ? 1 : 0;
  }
  const double measured = static_cast<double>(positives) / kQueries;
  testing::Test::RecordProperty("measured_fpr", std::to_string(measured));
  EXPECT_LE(measured, target * 1.5) << "measured " << measured << " target " << target;
  EXPECT_GE(measured, target / 1.5) << "measured " << measured << " target " << target;
  EXPECT_EQ(filter.bytes(), filter.num_blocks() * 32);
}

TEST(SplitBlockBloomFilterTest, MeasuredFalsePositiveRateMatchesOnePercentTarget) {
  ExpectMeasuredRateNearTarget(0.01);
}

TEST(SplitBlockBloomFilterTest, MeasuredFalsePositiveRateMatchesTenthOfAPercentTarget) {
  ExpectMeasuredRateNearTarget(0.001);
}

TEST(SplitBlockBloomFilterTest, OverfilledFilterDegradesAsTheFormulaSays) {
  // Twice the sized capacity: the rate rises, and the formula predicts by how much.
  SplitBlockBloomFilter filter(100'000, 0.01);
  std::mt19937_64 rng(6);
  for (int i = 0; i < 200'000; ++i) {
    filter.Insert(RandomIdHash(rng));
  }
  std::mt19937_64 other(7);
  int positives = 0;
  constexpr int kQueries = 500'000;
  for (int i = 0; i < kQueries; ++i) {
    positives += filter.MayContain(RandomIdHash(other)) ? 1 : 0;
  }
  const double measured = static_cast<double>(positives) / kQueries;
  const double predicted = SplitBlockBloomFilter::FalsePositiveRate(
      200'000, static_cast<double>(filter.num_blocks()));
  EXPECT_GT(measured, 0.03);
  EXPECT_NEAR(measured, predicted, predicted * 0.15);
}

}  // namespace
}  // namespace ringward::revocation
