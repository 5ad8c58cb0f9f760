// bench/load/histogram.h: LatencyHistogram, an HdrHistogram-style log-linear histogram of
// latencies for ringward-load.
//
// Values are nanoseconds from 0 to kMaxValue (60 s). Below 256 ns every value has its own
// bucket; above, each power-of-two range is split into 128 equal buckets, so a bucket is never
// wider than 1/128 of its lower bound: every recorded value is known to better than 0.8%, i.e.
// to at least two significant decimal digits, across eleven decades. Larger values are clamped
// to kMaxValue and counted as saturated. Min, max and the mean are kept exactly.
//
// Why not a sorted sample: a load generator records millions of latencies per second; a record
// here is a count-leading-zeros and an increment, memory is fixed (30 KB), and histograms from
// several threads merge by adding counts.
//
// Thread-compatible: one histogram per worker thread, merged after the threads are joined.
#ifndef RINGWARD_BENCH_LOAD_HISTOGRAM_H_
#define RINGWARD_BENCH_LOAD_HISTOGRAM_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringward::load {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 8;  // 256 exact values, then 128 buckets per octave
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;
  static constexpr uint64_t kSubBucketHalf = kSubBucketCount / 2;
  static constexpr uint64_t kMaxValue = 60'000'000'000;  // 60 s in nanoseconds
  // kBucketCount covers every index BucketIndex can return for values up to kMaxValue.
  static constexpr size_t kBucketCount =
      kSubBucketCount + (std::bit_width(kMaxValue) - kSubBucketBits) * kSubBucketHalf;

  LatencyHistogram() : counts_(kBucketCount, 0) {}

  // Record adds one observation of |value_ns| (clamped to [0, kMaxValue]).
  void Record(int64_t value_ns) {
    uint64_t v = value_ns < 0 ? 0 : static_cast<uint64_t>(value_ns);
    if (v > kMaxValue) {
      v = kMaxValue;
      ++saturated_;
    }
    ++counts_[BucketIndex(v)];
    ++total_;
    sum_ += static_cast<double>(v);
    if (v > max_) {
      max_ = v;
    }
    if (v < min_) {
      min_ = v;
    }
  }

  // Merge adds every observation of |other| to this histogram.
  void Merge(const LatencyHistogram& other);

  // Reset forgets every observation.
  void Reset();

  uint64_t count() const { return total_; }
  uint64_t saturated() const { return saturated_; }
  // min and max are exact; both are 0 for an empty histogram.
  uint64_t min() const { return total_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ == 0 ? 0.0 : sum_ / static_cast<double>(total_); }

  // ValueAtPercentile returns the smallest recorded value v such that at least |percentile|
  // percent of the observations are <= v, reported as the upper end of v's bucket (the
  // HdrHistogram convention: never under-reports), but never above the exact maximum.
  // |percentile| is clamped to [0, 100]; 0 gives min(), 100 gives max(); empty gives 0.
  uint64_t ValueAtPercentile(double percentile) const;

  // CurvePoint is one point of the percentile distribution plot.
  struct CurvePoint {
    double percentile;  // in [0, 100)
    uint64_t value_ns;
  };
  // PercentileCurve samples the distribution at percentiles 100 * (1 - 10^-x) for x from 0 in
  // steps of 1/|points_per_decade|, up to the last percentile the sample size resolves
  // (1 - 1/count), then adds the maximum as percentile 100. This is the "percentile
  // spectrum" that HdrHistogram plots on a log axis of 1/(1-p).
  std::vector<CurvePoint> PercentileCurve(int points_per_decade) const;

  // BucketIndex maps a value in [0, kMaxValue] to its bucket. Exposed for tests.
  static size_t BucketIndex(uint64_t v) {
    if (v < kSubBucketCount) {
      return static_cast<size_t>(v);
    }
    // v's top bit is bit |msb| (>= kSubBucketBits); keep the 8 leading bits as the sub-bucket.
    const int msb = std::bit_width(v) - 1;
    const int shift = msb - (kSubBucketBits - 1);
    const uint64_t sub = v >> shift;  // in [kSubBucketHalf, kSubBucketCount)
    return static_cast<size_t>(kSubBucketCount + (shift - 1) * kSubBucketHalf +
                               (sub - kSubBucketHalf));
  }
  // BucketLow and BucketHigh are the smallest and largest value mapping to bucket |index|.
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketHigh(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t saturated_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = ~uint64_t{0};
  double sum_ = 0;
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_HISTOGRAM_H_
