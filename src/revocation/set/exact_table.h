// revocation/set/exact_table.h: ExactTable, the open-addressing hash table that confirms every
// Bloom-filter positive byte for byte, and the in-memory record format it points at.
//
// A slot is one 64-bit word: the top 24 bits of the key's hash (a tag that spares most probes a
// trip to the record) and a 40-bit offset into the RecordArena, where an immutable record holds
// the kind, the key bytes, the expiry and (for subject and client revocations) the time before
// which tokens are revoked. 0 marks an empty slot and 1 a tombstone (an expired entry); record
// offsets start at 8. Probing is linear from the hash's low bits.
//
// Readers run concurrently with the writer, so the table only changes in ways a reader can
// never misread: the writer writes a record, then publishes its slot word (release; readers load
// slots with acquire, concurrent/published.h); a slot is never emptied again, only tombstoned or
// overwritten with another record's word, so a probe chain that reached a key stays intact;
// growth builds a new table and publishes its pointer, and the old one is reclaimed through
// QSBR. The writer keeps the load (live entries plus tombstones) at or below 3/4, so every
// probe ends at an empty slot.
//
// Thread-safety: Find from any thread; Probe/Publish only from the single writer. The table
// owns its slot array, not the records.
#ifndef RINGWARD_REVOCATION_SET_EXACT_TABLE_H_
#define RINGWARD_REVOCATION_SET_EXACT_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "concurrent/published.h"
#include "revocation/set/record_arena.h"
#include "ringward/revocation/revocation_set.h"

namespace ringward::revocation {

// RecordView is a decoded record; |key| points into the arena.
struct RecordView {
  RevocationKind kind;
  std::string_view key;
  int64_t expire_at;  // kNeverExpires for entries kept until revoked otherwise
  int64_t before;     // subject and client records only
};

inline constexpr int64_t kNeverExpires = INT64_MAX;
inline constexpr size_t kMaxKeyBytes = 65535;

// HasBefore reports whether records of |kind| carry a "before" time.
inline bool HasBefore(RevocationKind kind) {
  return kind == RevocationKind::kSubject || kind == RevocationKind::kClient;
}

// RecordSize is the arena footprint of a record: kind (1), key length (2), expiry (8), the
// optional "before" (8) and the key bytes, unaligned (records are read with memcpy).
inline size_t RecordSize(RevocationKind kind, size_t key_len) {
  return 1 + 2 + 8 + (HasBefore(kind) ? 8 : 0) + key_len;
}

void EncodeRecord(uint8_t* out, RevocationKind kind, std::string_view key, int64_t expire_at,
                  int64_t before);

inline RecordView DecodeRecord(const uint8_t* in) {
  RecordView view;
  view.kind = static_cast<RevocationKind>(in[0]);
  uint16_t len;
  std::memcpy(&len, in + 1, 2);
  std::memcpy(&view.expire_at, in + 3, 8);
  size_t at = 11;
  view.before = 0;
  if (HasBefore(view.kind)) {
    std::memcpy(&view.before, in + at, 8);
    at += 8;
  }
  view.key = std::string_view(reinterpret_cast<const char*>(in + at), len);
  return view;
}

class ExactTable {
 public:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kTombstone = 1;
  static constexpr int kOffsetBits = 40;
  static constexpr uint64_t kOffsetMask = (uint64_t{1} << kOffsetBits) - 1;

  // ExactTable allocates |capacity| empty slots; |capacity| must be a power of two.
  explicit ExactTable(size_t capacity) : slots_(capacity), mask_(capacity - 1) {}
  ExactTable(const ExactTable&) = delete;
  ExactTable& operator=(const ExactTable&) = delete;

  size_t capacity() const { return mask_ + 1; }
  size_t bytes() const { return slots_.bytes(); }

  static uint64_t SlotWord(uint64_t hash, uint64_t offset) {
    return (hash >> kOffsetBits << kOffsetBits) | offset;
  }
  static bool IsLive(uint64_t word) { return word > kTombstone; }
  static uint64_t OffsetOf(uint64_t word) { return word & kOffsetMask; }

  // Find returns the arena offset of the record for (|kind|, |key|), whose hash is |hash|, or 0.
  // Any thread.
  uint64_t Find(const RecordArena& arena, uint64_t hash, RevocationKind kind,
                std::string_view key) const {
    const uint64_t tag = hash >> kOffsetBits;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint64_t word = slots_.Load(i);
      if (word == kEmpty) {
        return 0;
      }
      if (IsLive(word) && (word >> kOffsetBits) == tag &&
          Matches(arena.At(OffsetOf(word)), kind, key)) {
        return OffsetOf(word);
      }
    }
  }

  // Probe finds the slot holding (|kind|, |key|) and sets |*found|, or returns the slot a new
  // entry should take (the chain's first tombstone, else its terminating empty slot). Writer.
  size_t Probe(const RecordArena& arena, uint64_t hash, RevocationKind kind, std::string_view key,
               bool* found) const;

  // Word returns slot |i| as the writer last stored it. Writer only.
  uint64_t Word(size_t i) const { return slots_.LoadRelaxed(i); }

  // Publish stores |word| into slot |i| (release). Writer only.
  void Publish(size_t i, uint64_t word) { slots_.Publish(i, word); }

  // InsertNew stores |word| in the first empty slot of |hash|'s chain, for a key known to be
  // absent (rebuilding or growing a table). Writer only.
  void InsertNew(uint64_t hash, uint64_t word) {
    size_t i = hash & mask_;
    while (Word(i) != kEmpty) {
      i = (i + 1) & mask_;
    }
    Publish(i, word);
  }

 private:
  static bool Matches(const uint8_t* record, RevocationKind kind, std::string_view key) {
    if (record[0] != static_cast<uint8_t>(kind)) {
      return false;
    }
    uint16_t len;
    std::memcpy(&len, record + 1, 2);
    if (len != key.size()) {
      return false;
    }
    const size_t at = HasBefore(kind) ? 19 : 11;
    return std::memcmp(record + at, key.data(), key.size()) == 0;
  }

  concurrent::PublishedWords slots_;
  const size_t mask_;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_SET_EXACT_TABLE_H_
