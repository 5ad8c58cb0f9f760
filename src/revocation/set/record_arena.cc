// revocation/set/record_arena.cc: the reserve-then-commit mapping behind RecordArena.
#include "revocation/set/record_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringward::revocation {

absl::StatusOr<std::unique_ptr<RecordArena>> RecordArena::Create(uint64_t reserve_bytes) {
  uint64_t size = std::clamp<uint64_t>(reserve_bytes, kCommitStep, kMaxReserve);
  size = (size + kCommitStep - 1) / kCommitStep * kCommitStep;
  void* base = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "revocation record arena: cannot reserve ", size, " bytes: ", std::strerror(errno)));
  }
  return std::unique_ptr<RecordArena>(new RecordArena(static_cast<uint8_t*>(base), size));
}

RecordArena::~RecordArena() { munmap(base_, reserved_); }

uint8_t* RecordArena::Allocate(size_t n, uint64_t* offset) {
  if (!HasRoom(n)) {
    return nullptr;
  }
  if (used_ + n > committed_) {
    const size_t want =
        std::min(reserved_, (used_ + n + kCommitStep - 1) / kCommitStep * kCommitStep);
    if (mprotect(base_ + committed_, want - committed_, PROT_READ | PROT_WRITE) != 0) {
      return nullptr;
    }
    committed_ = want;
  }
  *offset = used_;
  used_ += n;
  return base_ + *offset;
}

}  // namespace ringward::revocation
