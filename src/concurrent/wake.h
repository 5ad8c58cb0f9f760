// concurrent/wake.h: WakeFlag and Doorbell, how a producer that has put messages into a queue
// (concurrent/spsc_queue.h) tells the consumer to look, without a system call per message.
//
// WakeFlag is the coalescing part: a producer pushes its message and then calls Raise(); only
// the Raise that finds the flag lowered returns true, and only that producer sends the actual
// wake-up (an eventfd write, an io_uring MSG_RING). The consumer calls Lower() and then drains
// the queue. Any number of messages pushed between two Lowers cost one wake-up.
//
// Doorbell adds an eventfd for a consumer thread that sleeps in Wait() (the control plane).
// Shards do not use it: they are woken by a MSG_RING on their own ring and use a WakeFlag only.
//
// Thread-safety: Raise and Ring from any number of producer threads; Lower, raised and Wait
// from the one consumer thread. The Doorbell owns its eventfd.
//
// Memory ordering: Raise and Lower are both acq_rel read-modify-writes of the flag. If a
// producer's Raise reads true (someone else will wake the consumer, or it is awake), the
// consumer's Lower comes later in the flag's modification order and reads that producer's
// store (or a later RMW's, which continues the release sequence), so it synchronises with the
// Raise: the message pushed before Raise is visible to the drain after Lower. If the Raise
// reads false, the producer wakes the consumer itself. Either way no message is left unseen
// with nobody awake to see it. Both sides use RMWs rather than a store and a fence so that
// ThreadSanitizer, which does not model fences, checks this too (as in qsbr.h).
#ifndef RINGWARD_CONCURRENT_WAKE_H_
#define RINGWARD_CONCURRENT_WAKE_H_

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::concurrent {

class WakeFlag {
 public:
  // Raise marks "there is something to look at" and returns whether the caller must wake the
  // consumer (the flag was lowered). Producers, after pushing.
  bool Raise() { return !raised_.exchange(true, std::memory_order_acq_rel); }

  // Lower clears the flag and returns whether it was raised. Consumer, before draining.
  bool Lower() { return raised_.exchange(false, std::memory_order_acq_rel); }

  // raised is a cheap relaxed peek for the consumer's loop: when it says true, Lower and drain.
  bool raised() const { return raised_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<bool> raised_{false};
};

class Doorbell {
 public:
  static absl::StatusOr<std::unique_ptr<Doorbell>> Create() {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
      return absl::ResourceExhaustedError(std::string("eventfd: ") + std::strerror(errno));
    }
    return std::unique_ptr<Doorbell>(new Doorbell(fd));
  }
  ~Doorbell() { ::close(fd_); }
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  // Ring wakes the consumer unless a wake-up is already pending. Any thread, after pushing.
  void Ring() {
    if (flag_.Raise()) {
      const uint64_t one = 1;
      // Cannot fail short of a counter overflow (2^64 - 1 rings), and EAGAIN then still
      // leaves the eventfd readable, which is all a wake-up needs.
      [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof(one));
    }
  }

  // Wait sleeps until Ring was called since the last Wait, or |timeout| passes; then lowers the
  // flag so that the caller can drain its queues. Returns whether it was rung. Consumer only.
  bool Wait(std::chrono::milliseconds timeout) {
    if (!flag_.raised()) {
      pollfd p{fd_, POLLIN, 0};
      const int ms = timeout.count() < 0 ? 0 : static_cast<int>(timeout.count());
      (void)::poll(&p, 1, ms);
    }
    uint64_t count = 0;
    (void)::read(fd_, &count, sizeof(count));  // EAGAIN when only the flag was raised
    return flag_.Lower();
  }

 private:
  explicit Doorbell(int fd) : fd_(fd) {}

  const int fd_;
  WakeFlag flag_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_WAKE_H_
