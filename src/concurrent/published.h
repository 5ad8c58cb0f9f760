// concurrent/published.h: Published<T> and PublishedWords, values that one writer publishes and
// any number of readers load without locks (the revocation set's generation and table
// pointers, its "kinds present" mask, the slots of its exact table).
//
// The pattern is "initialise, then publish": the writer fills in memory with plain stores (a
// table, a record in an arena) and then makes it reachable by storing a pointer or a slot word;
// readers load that word and then read what it points at. Nothing a reader can reach is written
// again after publication, except by publishing another word.
//
// Thread-safety: Store/Publish from one writer thread at a time (the callers serialise their
// writers; two concurrent writers would not corrupt a word, but the structure built on top of
// them assumes one); Load from any thread. Neither class owns what a published pointer points
// at: lifetime is the caller's business (see concurrent/qsbr.h for when an unpublished object
// may be freed).
//
// Memory ordering: Store/Publish are release stores and Load is an acquire load, so a reader
// that loads a word also sees every write the writer made before storing it: the fields of the
// object a pointer points at, the bytes of the record a slot names. That is the only ordering
// the pattern needs. On x86-64 both compile to plain moves, so readers pay nothing for it.
// LoadRelaxed is for the writer re-reading its own words (it is the only thread that stores
// them, so it always sees its latest value) and for readers that establish ordering themselves
// with a fence.
#ifndef RINGWARD_CONCURRENT_PUBLISHED_H_
#define RINGWARD_CONCURRENT_PUBLISHED_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace ringward::concurrent {

// Published holds one word-sized value (a pointer or an integer).
template <typename T>
class Published {
 public:
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "Published<T> is for pointers and integers");
  static_assert(std::atomic<T>::is_always_lock_free);

  Published() = default;
  explicit Published(T initial) : value_(initial) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  // Load returns the value stored most recently (or a newer one), with everything written
  // before that Store visible to the caller.
  T Load() const { return value_.load(std::memory_order_acquire); }
  T LoadRelaxed() const { return value_.load(std::memory_order_relaxed); }

  // Store publishes |value| with everything the caller wrote before it.
  void Store(T value) { value_.store(value, std::memory_order_release); }

 private:
  std::atomic<T> value_{};
};

// PublishedWords is a fixed-size array of 64-bit words, zero at construction, each published
// and loaded on its own with the ordering described above.
class PublishedWords {
 public:
  explicit PublishedWords(size_t size)
      : words_(new std::atomic<uint64_t>[size]()), size_(size) {}
  PublishedWords(const PublishedWords&) = delete;
  PublishedWords& operator=(const PublishedWords&) = delete;

  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(uint64_t); }

  uint64_t Load(size_t i) const { return words_[i].load(std::memory_order_acquire); }
  uint64_t LoadRelaxed(size_t i) const { return words_[i].load(std::memory_order_relaxed); }
  void Publish(size_t i, uint64_t value) { words_[i].store(value, std::memory_order_release); }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  size_t size_;
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_PUBLISHED_H_
