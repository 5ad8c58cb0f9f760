// concurrent/ready_latch.h: ReadyLatch, a count of participants (shards) that have reached a
// state, with a cheap "have all of them?" check.
//
// Each shard calls Arrive() once it serves (listeners armed); GET /readyz on any shard and the
// start-up code ask AllArrived(). Fail() lets a participant report that it will never arrive (or
// that it stopped after arriving), so the waiter stops waiting and the owner can shut down.
//
// Thread-safe: any thread may call any member.
//
// Memory ordering: Arrive and Fail are release read-modify-writes and the observers are acquire
// loads, so a thread that sees a participant counted also sees everything that participant wrote
// before Arrive/Fail (e.g. a shard's published ring fd). The counts use fetch_add because
// several shards arrive concurrently.
#ifndef RINGWARD_CONCURRENT_READY_LATCH_H_
#define RINGWARD_CONCURRENT_READY_LATCH_H_

#include <atomic>
#include <chrono>
#include <thread>

namespace ringward::concurrent {

class ReadyLatch {
 public:
  explicit ReadyLatch(int expected) : expected_(expected) {}

  ReadyLatch(const ReadyLatch&) = delete;
  ReadyLatch& operator=(const ReadyLatch&) = delete;

  void Arrive() { arrived_.fetch_add(1, std::memory_order_release); }
  void Fail() { failed_.fetch_add(1, std::memory_order_release); }

  bool AllArrived() const { return arrived_.load(std::memory_order_acquire) >= expected_; }
  bool failed() const { return failed_.load(std::memory_order_acquire) != 0; }
  int arrived() const { return arrived_.load(std::memory_order_acquire); }
  int expected() const { return expected_; }

  // Settled reports whether every participant has either arrived or failed.
  bool Settled() const {
    return failed_.load(std::memory_order_acquire) + arrived_.load(std::memory_order_acquire) >=
           expected_;
  }

  // WaitSettled polls until every participant arrived or failed, or |timeout| passed, and
  // returns whether all arrived and none failed. Start-up only: it sleeps in short steps rather
  // than blocking on a futex.
  bool WaitSettled(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!Settled() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return AllArrived() && !failed();
  }

 private:
  const int expected_;
  std::atomic<int> arrived_{0};
  std::atomic<int> failed_{0};
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_READY_LATCH_H_
