// concurrent/ready_latch.h: ReadyLatch, a count of participants (shards) that have reached a
// state, with a cheap "have all of them?" check.
//
// Each shard calls Arrive() once it serves (listeners armed); GET /readyz on any shard and the
// start-up code ask AllArrived(). Failed() lets a participant report that it will never arrive,
// so the waiter stops waiting.
//
// Thread-safe: any thread may call any member.
//
// Memory ordering: Arrive and Fail are release operations and AllArrived/failed/arrived are
// acquire loads, so a thread that observes all participants arrived also observes everything
// each of them wrote before arriving (e.g. a shard's published ring fd). The count uses
// fetch_add because several shards arrive concurrently.
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
  void Fail() { failed_.store(true, std::memory_order_release); }

  bool AllArrived() const { return arrived_.load(std::memory_order_acquire) >= expected_; }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  int arrived() const { return arrived_.load(std::memory_order_acquire); }
  int expected() const { return expected_; }

  // WaitFor polls until every participant arrived (true), one failed or |timeout| passed
  // (false). Start-up only: it sleeps in short steps rather than blocking on a futex.
  bool WaitFor(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!AllArrived()) {
      if (failed() || std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return !failed();
  }

 private:
  const int expected_;
  std::atomic<int> arrived_{0};
  std::atomic<bool> failed_{false};
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_READY_LATCH_H_
