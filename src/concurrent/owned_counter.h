// concurrent/owned_counter.h: OwnedCounter and OwnedGauge, statistics written by exactly one
// thread (their owner, usually a shard) and read now and then by any other (the thread that
// renders /metrics).
//
// A shard bumps its counters on every request, so they must cost what a plain `++x` costs: no
// lock, no read-modify-write instruction, no cache line shared with another writer. Each value
// is a std::atomic<uint64_t> that only its owner stores to, so the owner can load, add and store
// with relaxed ordering: there is no other writer whose increment could be lost, and on x86-64 a
// relaxed load and store compile to ordinary moves. Owners keep their counters together in one
// struct aligned to a cache line (see server/metrics.h), so two shards never write the same line.
//
// Thread-safety: Add/Set/Inc/Dec only on the owning thread; Value from any thread.
//
// Memory ordering: every access is relaxed. A reader sees each counter's own history in order
// (per-object coherence: a counter never appears to go backwards) but gets no ordering between
// different counters, nor with any other memory; a scrape may see a request counted under
// "requests" before the same request shows up under "verify outcomes". That is what Prometheus
// counters promise anyway, and nothing reads these values to make a decision that needs more.
#ifndef RINGWARD_CONCURRENT_OWNED_COUNTER_H_
#define RINGWARD_CONCURRENT_OWNED_COUNTER_H_

#include <atomic>
#include <cstdint>

namespace ringward::concurrent {

// OwnedCounter is a monotonically increasing count.
class OwnedCounter {
 public:
  OwnedCounter() = default;
  OwnedCounter(const OwnedCounter&) = delete;
  OwnedCounter& operator=(const OwnedCounter&) = delete;

  // Add increases the count by |n|. Owner thread only.
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Inc() { Add(1); }

  // Set overwrites the count, for mirroring a plain counter kept elsewhere by the same owner
  // (e.g. tls::TlsCounters). Owner thread only; |v| must not be smaller than the current value.
  void Set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }

  // Value returns a recent value. Any thread.
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// OwnedGauge is a level that goes up and down (open connections).
class OwnedGauge {
 public:
  OwnedGauge() = default;
  OwnedGauge(const OwnedGauge&) = delete;
  OwnedGauge& operator=(const OwnedGauge&) = delete;

  // Owner thread only.
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  void Add(int64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }

  // Value returns a recent value. Any thread.
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_OWNED_COUNTER_H_
