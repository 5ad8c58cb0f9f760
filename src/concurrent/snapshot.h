// concurrent/snapshot.h: Snapshot<T>, an immutable value published to many threads and replaced
// wholesale by its owner (key sets, config, revocation generations).
//
// A writer builds a new T, wraps it in a shared_ptr<const T> and stores it; readers Load() a
// shared_ptr and keep using that version for as long as they hold it, even while newer versions
// are published. An old version is destroyed by whichever thread drops the last reference to it,
// so T's destructor must be safe to run on any thread (it usually only frees memory).
//
// Thread-safe: Load, Store and CompareExchange may be called concurrently from any thread. The
// Snapshot owns one reference to the current version; readers own the references they load.
//
// Memory ordering: Store publishes with release and Load reads with acquire, so a reader that
// loads a pointer also sees every write made to the pointed-to T before it was stored. That is
// the only ordering the pattern needs: the T is never written after publication (it is const),
// and readers do not rely on the order between two different Snapshots. CompareExchange is
// acq_rel on success (it both reads the old version and publishes the new one) and acquire on
// failure (it returns the current version for the caller's next attempt).
// std::atomic<std::shared_ptr> is not lock-free in libstdc++ (it briefly holds a spin bit in the
// control-block pointer while it bumps the reference count), so Load costs an uncontended atomic
// read-modify-write plus a reference-count increment on a shared cache line. Use it where a
// reader loads once per operation that is itself much more expensive (a TLS handshake, a config
// read per request batch), not once per byte or per token.
#ifndef RINGWARD_CONCURRENT_SNAPSHOT_H_
#define RINGWARD_CONCURRENT_SNAPSHOT_H_

#include <atomic>
#include <memory>
#include <utility>

namespace ringward::concurrent {

template <typename T>
class Snapshot {
 public:
  // Snapshot starts out publishing |initial|, which may be null.
  explicit Snapshot(std::shared_ptr<const T> initial) : current_(std::move(initial)) {}

  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Load returns the version published most recently (by the time of the call). The caller owns
  // the returned reference; the version stays alive and unchanged while it is held.
  std::shared_ptr<const T> Load() const { return current_.load(std::memory_order_acquire); }

  // Store publishes |next|, replacing the current version. Readers that loaded the previous
  // version keep it until they drop it.
  void Store(std::shared_ptr<const T> next) {
    current_.store(std::move(next), std::memory_order_release);
  }

  // CompareExchange publishes |desired| only if the current version is still |*expected| (the
  // same object, compared by pointer), and returns true. Otherwise it sets |*expected| to the
  // current version and returns false, so a writer that derives the next version from the
  // current one can retry without losing a concurrent writer's update.
  bool CompareExchange(std::shared_ptr<const T>* expected, std::shared_ptr<const T> desired) {
    return current_.compare_exchange_strong(*expected, std::move(desired),
                                            std::memory_order_acq_rel,
                                            std::memory_order_acquire);
  }

 private:
  std::atomic<std::shared_ptr<const T>> current_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_SNAPSHOT_H_
