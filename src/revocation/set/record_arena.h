// revocation/set/record_arena.h: RecordArena, append-only storage for revocation records that
// never moves, so a published offset stays valid for as long as the arena lives.
//
// The arena reserves a range of address space up front (PROT_NONE, which costs no memory and
// works whatever the overcommit policy) and commits it in 2 MiB steps as records are appended.
// Readers turn a 40-bit offset into a pointer with one addition: no chunk directory, no
// indirection, no reallocation that could pull memory from under a reader. When the
// reservation is used up the owner builds a new, larger arena (RevocationSet::Rebuild).
//
// Thread-safety: Allocate from one writer thread. At() from any thread, for offsets the writer
// has published (concurrent/published.h orders the record bytes before the offset). The arena
// owns its mapping; records are never freed one by one, only with the whole arena.
#ifndef RINGWARD_REVOCATION_SET_RECORD_ARENA_H_
#define RINGWARD_REVOCATION_SET_RECORD_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace ringward::revocation {

class RecordArena {
 public:
  // kFirstOffset is the first offset handed out: smaller values are free for sentinels.
  static constexpr uint64_t kFirstOffset = 8;
  // kMaxReserve is what a 40-bit offset can address.
  static constexpr uint64_t kMaxReserve = uint64_t{1} << 40;
  static constexpr size_t kCommitStep = size_t{2} << 20;

  // Create reserves |reserve_bytes| (rounded up to kCommitStep, at most kMaxReserve) of address
  // space. Fails with ResourceExhausted when the kernel refuses the mapping.
  static absl::StatusOr<std::unique_ptr<RecordArena>> Create(uint64_t reserve_bytes);
  ~RecordArena();
  RecordArena(const RecordArena&) = delete;
  RecordArena& operator=(const RecordArena&) = delete;

  // HasRoom reports whether Allocate(|n|) can succeed without exceeding the reservation.
  bool HasRoom(size_t n) const { return used_ + n <= reserved_; }

  // Allocate returns |n| writable bytes and sets |*offset| to their offset, or returns nullptr
  // when the reservation is used up or the kernel refuses to commit more. Writer only.
  uint8_t* Allocate(size_t n, uint64_t* offset);

  // At returns the record at |offset|. Any thread, for published offsets only.
  const uint8_t* At(uint64_t offset) const { return base_ + offset; }

  size_t used() const { return used_; }
  size_t committed() const { return committed_; }
  size_t reserved() const { return reserved_; }

 private:
  RecordArena(uint8_t* base, size_t reserved) : base_(base), reserved_(reserved) {}

  uint8_t* const base_;
  const size_t reserved_;
  size_t used_ = kFirstOffset;
  size_t committed_ = 0;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_SET_RECORD_ARENA_H_
