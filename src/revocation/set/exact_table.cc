// revocation/set/exact_table.cc: record encoding and the writer's probe.
#include "revocation/set/exact_table.h"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringward::revocation {

void EncodeRecord(uint8_t* out, RevocationKind kind, std::string_view key, int64_t expire_at,
                  int64_t before) {
  out[0] = static_cast<uint8_t>(kind);
  const uint16_t len = static_cast<uint16_t>(key.size());
  std::memcpy(out + 1, &len, 2);
  std::memcpy(out + 3, &expire_at, 8);
  size_t at = 11;
  if (HasBefore(kind)) {
    std::memcpy(out + at, &before, 8);
    at += 8;
  }
  std::memcpy(out + at, key.data(), key.size());
}

size_t ExactTable::Probe(const RecordArena& arena, uint64_t hash, RevocationKind kind,
                         std::string_view key, bool* found) const {
  const uint64_t tag = hash >> kOffsetBits;
  size_t first_tombstone = SIZE_MAX;
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const uint64_t word = Word(i);
    if (word == kEmpty) {
      *found = false;
      return first_tombstone != SIZE_MAX ? first_tombstone : i;
    }
    if (word == kTombstone) {
      if (first_tombstone == SIZE_MAX) {
        first_tombstone = i;
      }
    } else if ((word >> kOffsetBits) == tag && Matches(arena.At(OffsetOf(word)), kind, key)) {
      *found = true;
      return i;
    }
  }
}

}  // namespace ringward::revocation
