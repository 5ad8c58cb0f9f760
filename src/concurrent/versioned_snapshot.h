// concurrent/versioned_snapshot.h: VersionedSnapshot<T>, a Snapshot<T> plus a version number
// that readers poll cheaply to learn that a new value was published.
//
// A shard wants to pick up a reload at the top of every loop turn, but Snapshot::Load costs an
// atomic read-modify-write and a reference-count bump on a cache line that every shard shares;
// doing that hundreds of thousands of times a second would make the cores fight over the line.
// Instead a reader keeps the shared_ptr it loaded and the version it belonged to, and each turn
// only compares that version with version(): a plain load of a line that is written once per
// reload, so it stays shared and clean in every core's cache. Only when the version moved does
// the reader Load() again.
//
// Thread-safe: Publish from any thread (normally the control thread), version/Load from any.
// The VersionedSnapshot owns one reference to the current T; readers own what they load.
//
// Memory ordering: Publish stores the new value into the Snapshot (release) and then increments
// the version with a release store; version() is an acquire load. A reader that sees version v
// therefore also sees the Snapshot store that preceded it, so its following Load() returns the
// value published as v or a newer one, never an older one. Publishers are serialised by their
// caller (one control thread); two concurrent Publish calls would still leave a consistent
// Snapshot, but their version increments could collapse into one (readers then still notice a
// change, which is all they need).
#ifndef RINGWARD_CONCURRENT_VERSIONED_SNAPSHOT_H_
#define RINGWARD_CONCURRENT_VERSIONED_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "concurrent/snapshot.h"

namespace ringward::concurrent {

template <typename T>
class VersionedSnapshot {
 public:
  explicit VersionedSnapshot(std::shared_ptr<const T> initial) : snapshot_(std::move(initial)) {}

  VersionedSnapshot(const VersionedSnapshot&) = delete;
  VersionedSnapshot& operator=(const VersionedSnapshot&) = delete;

  // Publish makes |next| the current value and bumps the version.
  void Publish(std::shared_ptr<const T> next) {
    snapshot_.Store(std::move(next));
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // version returns the number of Publish calls seen so far; cheap enough for every loop turn.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Load returns the current value (at least as new as the last version() this thread read).
  std::shared_ptr<const T> Load() const { return snapshot_.Load(); }

 private:
  Snapshot<T> snapshot_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_VERSIONED_SNAPSHOT_H_
