// concurrent/status_waiter.h: StatusWaiter, one absl::Status handed from the thread that learns
// an outcome (the log's sync thread, the control thread) to a thread that blocks until it is
// there (an issuance worker, a follower's replication thread). Never used on a shard.
//
// Thread-safe: Set once from any thread, Wait from any thread. Share it with a shared_ptr when
// the setter may outlive the waiter's frame (a callback that runs after a timeout, at Stop).
#ifndef RINGWARD_CONCURRENT_STATUS_WAITER_H_
#define RINGWARD_CONCURRENT_STATUS_WAITER_H_

#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/status/status.h"

namespace ringward::concurrent {

class StatusWaiter {
 public:
  void Set(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }

  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_STATUS_WAITER_H_
