#include "load/histogram.h"

#include <algorithm>
#include <cmath>

namespace ringward::load {

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) {
    counts_[i] += other.counts_[i];
  }
  total_ += other.total_;
  saturated_ += other.saturated_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  saturated_ = 0;
  max_ = 0;
  min_ = ~uint64_t{0};
  sum_ = 0;
}

uint64_t LatencyHistogram::BucketLow(size_t index) {
  if (index < kSubBucketCount) {
    return index;
  }
  const size_t rel = index - kSubBucketCount;
  const int shift = static_cast<int>(rel / kSubBucketHalf) + 1;
  const uint64_t sub = kSubBucketHalf + rel % kSubBucketHalf;
  return sub << shift;
}

uint64_t LatencyHistogram::BucketHigh(size_t index) {
  if (index < kSubBucketCount) {
    return index;
  }
  const int shift = static_cast<int>((index - kSubBucketCount) / kSubBucketHalf) + 1;
  return BucketLow(index) + (uint64_t{1} << shift) - 1;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (total_ == 0) {
    return 0;
  }
  percentile = std::clamp(percentile, 0.0, 100.0);
  if (percentile == 0.0) {
    return min();
  }
  // The rank of the wanted observation, 1-based; ceil so that p50 of {a, b} is a. The small
  // allowance keeps rounding error (99.9 / 100 * 1000 = 999.0000000000001) from moving the
  // rank up by one, which would report the maximum as the p99.9 of 1000 observations.
  const double exact = percentile / 100.0 * static_cast<double>(total_);
  uint64_t rank = static_cast<uint64_t>(std::ceil(exact - 1e-6));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::max(std::min(BucketHigh(i), max_), min());
    }
  }
  return max_;
}

std::vector<LatencyHistogram::CurvePoint> LatencyHistogram::PercentileCurve(
    int points_per_decade) const {
  std::vector<CurvePoint> points;
  if (total_ == 0) {
    return points;
  }
  points_per_decade = std::max(points_per_decade, 1);
  // Beyond 1 - 1/count the sample cannot tell percentiles apart; stop there.
  const double max_x = std::log10(static_cast<double>(total_));
  for (int step = 0;; ++step) {
    const double x = static_cast<double>(step) / points_per_decade;
    if (x > max_x) {
      break;
    }
    const double p = 100.0 * (1.0 - std::pow(10.0, -x));
    points.push_back({p, ValueAtPercentile(p)});
  }
  points.push_back({100.0, max_});
  return points;
}

}  // namespace ringward::load
