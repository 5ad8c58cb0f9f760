// concurrent/qsbr.h: QsbrDomain, quiescent-state-based reclamation for structures that shards
// read without locks and the control plane replaces (the revocation set's filter generations
// and hash-table arrays).
//
// Shards are event loops, and between two turns of its loop a shard holds no pointer into any
// shared structure: the top of the loop is a quiescent state. Each shard (a "reader", numbered
// 0..max_readers-1) announces it by calling Quiescent(reader) once per turn, which copies the
// domain's epoch into the shard's own cache line. A writer that unpublishes an object calls
// Retire(object): the object is stamped with a fresh epoch (Advance) and freed by a later
// Reclaim() once every online reader has announced that epoch or a newer one, i.e. has passed a
// quiescent state since the object became unreachable. Readers pay one load of a line that is
// written once per Advance and, when the epoch moved, one store to their own line; nothing on
// their lookup path.
//
// The same mechanism tells the writer when a change is visible everywhere (what a revocation's
// acknowledgement waits for): ticket = Advance() after the change, then Passed(ticket).
//
// A reader about to block for long (io_uring_submit_and_wait with nothing to do) goes Offline()
// so that it does not hold up reclamation, and comes back Online() before touching shared
// structures again. An unregistered slot counts as offline.
//
// Thread-safety: Online/Offline/Quiescent only on the thread that owns that reader slot, and
// never while it holds pointers into shared structures. Advance/Passed/WaitPassed/Retire/
// Reclaim from any thread (a mutex guards the retired list; writers are the control plane, off
// the request path). The domain owns retired objects until it frees them; the destructor frees
// whatever is left, so it must run after every reader stopped.
//
// Memory ordering.
// - Quiescent: acquire load of the epoch, release store of the reader's announcement. A writer
//   that acquire-loads an announcement >= ticket knows that every read the reader did before
//   announcing happened-before that load (so the retired object is no longer in use), and the
//   reader, having acquire-loaded an epoch >= ticket, sees every write the writer made before
//   Advance (so the change is visible to all its later reads).
// - Offline: release store of kOffline: the reader's earlier reads happen-before a writer that
//   sees it.
// - Online vs. the writer's scan is a store-load (Dekker) race, which plain acquire loads and
//   release stores cannot order. Both sides therefore meet at a read-modify-write of the epoch:
//   Online first stores the placeholder kJoining (older than any ticket), then performs an
//   acq_rel fetch_add(0) on the epoch, then announces the epoch it read; Advance is an acq_rel
//   fetch_add(1), and the writer scans only after its Advance. RMWs of one object are totally
//   ordered. If the reader's RMW comes after the writer's, it reads the writer's value (or a
//   later one) and acquires everything the writer wrote before Advance: the reader sees the new
//   pointer, never the retired one. If it comes first, the writer's RMW reads the reader's and
//   acquires the placeholder store before it: the scan sees the reader online (kJoining or a
//   later announcement) and waits for it. No fence is needed, so ThreadSanitizer (which does
//   not model fences) checks this too. Online costs an atomic RMW on a shared line; it runs
//   once per idle period, not per loop turn.
// - Retire's list is guarded by a mutex.
#ifndef RINGWARD_CONCURRENT_QSBR_H_
#define RINGWARD_CONCURRENT_QSBR_H_

#include <immintrin.h>

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ringward::concurrent {

class QsbrDomain {
 public:
  // kOffline is the announcement of a reader that holds nothing; kJoining that of a reader
  // coming online, older than every ticket. Epochs start at 2, so tickets are at least 3.
  static constexpr uint64_t kOffline = 0;
  static constexpr uint64_t kJoining = 1;

  explicit QsbrDomain(int max_readers)
      : max_readers_(max_readers < 1 ? 1 : max_readers), readers_(new ReaderSlot[max_readers_]) {}
  QsbrDomain(const QsbrDomain&) = delete;
  QsbrDomain& operator=(const QsbrDomain&) = delete;
  ~QsbrDomain() = default;  // retired_ frees what is left

  int max_readers() const { return max_readers_; }

  // Online marks |reader| as reading shared structures from now on. Reader thread only.
  void Online(int reader) {
    assert(reader >= 0 && reader < max_readers_);
    std::atomic<uint64_t>& mine = readers_[reader].epoch;
    mine.store(kJoining, std::memory_order_relaxed);
    const uint64_t epoch = epoch_.fetch_add(0, std::memory_order_acq_rel);
    mine.store(epoch, std::memory_order_release);
  }

  // Offline marks |reader| as holding nothing until its next Online. Reader thread only.
  void Offline(int reader) {
    assert(reader >= 0 && reader < max_readers_);
    readers_[reader].epoch.store(kOffline, std::memory_order_release);
  }

  // Quiescent announces that |reader| (online) holds no pointer into shared structures right
  // now. Call once per event-loop turn. Reader thread only.
  void Quiescent(int reader) {
    assert(reader >= 0 && reader < max_readers_);
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    std::atomic<uint64_t>& mine = readers_[reader].epoch;
    assert(mine.load(std::memory_order_relaxed) != kOffline);
    // Storing only when the epoch moved keeps the line clean in the writer's cache.
    if (mine.load(std::memory_order_relaxed) != epoch) {
      mine.store(epoch, std::memory_order_release);
    }
  }

  // Advance starts a new epoch and returns it, as a ticket for Passed. Any thread.
  uint64_t Advance() { return epoch_.fetch_add(1, std::memory_order_acq_rel) + 1; }

  // Passed reports whether every online reader has announced |ticket| or later. Any thread.
  bool Passed(uint64_t ticket) const { return MinAnnounced() >= ticket; }

  // WaitPassed polls Passed until it holds or |timeout| passed, and returns the last answer.
  // It spins briefly and then sleeps in short steps: for the control plane, never a shard.
  bool WaitPassed(uint64_t ticket, std::chrono::nanoseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int spin = 0; spin < 256; ++spin) {
      if (Passed(ticket)) {
        return true;
      }
      _mm_pause();
    }
    while (!Passed(ticket)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    return true;
  }

  // Retire takes |object|, which the caller has already made unreachable for new readers, and
  // frees it in a later Reclaim once no reader can still hold it. Any thread.
  template <typename T>
  void Retire(std::unique_ptr<T> object) {
    if (object == nullptr) {
      return;
    }
    RetiredObject retired{Advance(), ErasedPtr(object.release(), [](void* p) {
                                        delete static_cast<T*>(p);
                                      })};
    std::lock_guard<std::mutex> lock(mu_);
    retired_.push_back(std::move(retired));
  }

  // Reclaim frees every retired object that no reader can still hold, and returns how many.
  // Any thread; the objects' destructors run on the caller's thread, outside the lock.
  size_t Reclaim() {
    const uint64_t safe = MinAnnounced();
    std::vector<RetiredObject> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!retired_.empty() && retired_.front().ticket <= safe) {
        done.push_back(std::move(retired_.front()));
        retired_.pop_front();
      }
    }
    return done.size();
  }

  // pending returns how many retired objects wait for readers. Any thread.
  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return retired_.size();
  }

 private:
  struct alignas(64) ReaderSlot {
    std::atomic<uint64_t> epoch{kOffline};
  };
  using ErasedPtr = std::unique_ptr<void, void (*)(void*)>;
  struct RetiredObject {
    uint64_t ticket;
    ErasedPtr object;
  };

  // MinAnnounced returns the oldest epoch an online reader announced (max if none is online).
  uint64_t MinAnnounced() const {
    uint64_t min = std::numeric_limits<uint64_t>::max();
    for (int i = 0; i < max_readers_; ++i) {
      const uint64_t e = readers_[i].epoch.load(std::memory_order_acquire);
      if (e != kOffline && e < min) {
        min = e;
      }
    }
    return min;
  }

  const int max_readers_;
  alignas(64) std::atomic<uint64_t> epoch_{2};
  std::unique_ptr<ReaderSlot[]> readers_;
  // The writers' state sits on its own line, away from the epoch every shard reads.
  alignas(64) mutable std::mutex mu_;
  std::deque<RetiredObject> retired_;  // in ticket order
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_QSBR_H_
