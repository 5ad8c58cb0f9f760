// ringward/revocation/revocation_log.h: revocations as write-ahead-log records — the record
// types and their payload encoding (specified in src/revocation/revocation_records.md), applying
// a record to a RevocationSet, replaying a whole log (snapshot, then segments) at start-up, and
// turning a set's live entries into the records of a compaction snapshot.
//
// The log itself (wal.h) knows nothing of what a record means; this file is the one place that
// does for revocations. Snapshot records use the same types and payloads as log records, so
// replay treats both alike.
//
// Thread-compatible: plain functions and value types. The functions that take a RevocationSet
// must run on that set's writer thread; ReplayRevocations also does file I/O (start-up only).
#ifndef RINGWARD_REVOCATION_REVOCATION_LOG_H_
#define RINGWARD_REVOCATION_REVOCATION_LOG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/revocation/wal.h"

namespace ringward::revocation {

// Record types 1..15 are revocations (revocation_records.md); the rest of the type space is
// left to the other control-plane records (clients, users, keys) that will share the log.
enum RevocationRecordType : uint16_t {
  kRecordRevokeJti = 1,
  kRecordRevokeSubject = 2,
  kRecordRevokeClient = 3,
  kRecordRevokeKid = 4,
};

// kMaxRevocationKeyBytes bounds an identifier (jti, sub, client_id, kid) accepted from the
// admin API. The encoding itself allows 65535 bytes; real identifiers are far shorter, and the
// bound keeps one bulk request's log records small.
inline constexpr size_t kMaxRevocationKeyBytes = 1024;

// Revocation is one revocation, as the admin API receives it and a record holds it.
struct Revocation {
  RevocationKind kind = RevocationKind::kJti;
  std::string key;   // the jti, sub, client_id or kid
  int64_t time = 0;  // kJti: the token's exp; kSubject, kClient: "before"; kKid: unused (0)

  friend bool operator==(const Revocation&, const Revocation&) = default;
};

// RecordTypeFor returns the record type that carries revocations of |kind|.
uint16_t RecordTypeFor(RevocationKind kind);

// IsRevocationRecordType reports whether |type| is one of the types above.
bool IsRevocationRecordType(uint16_t type);

// RevocationRecordTypeName returns "revoke_jti", "revoke_subject", "revoke_client" or
// "revoke_kid", and "" for any other type (for `ringward wal dump`).
std::string RevocationRecordTypeName(uint16_t type);

// RevocationKindName returns "jti", "subject", "client" or "kid" (metrics labels, JSON).
std::string_view RevocationKindName(RevocationKind kind);

// EncodeRevocation returns the payload of |r|'s record. |r.key| must be 1..65535 bytes
// (callers validate first; a longer key is cut, which ValidateRevocation prevents).
std::string EncodeRevocation(const Revocation& r);

// DecodeRevocation parses a payload of record type |type|. InvalidArgument for a type that is
// not a revocation type, and DataLoss for a payload of the wrong length or with an empty key:
// the log's checksum matched, so such a record was written wrong, not damaged on disk.
absl::StatusOr<Revocation> DecodeRevocation(uint16_t type, std::string_view payload);

// ValidateRevocation checks what the admin API accepts: a key of 1..kMaxRevocationKeyBytes
// bytes, a positive exp for kJti, a non-negative time for kSubject and kClient, 0 for kKid.
// InvalidArgument says what is wrong in words an API client can act on.
absl::Status ValidateRevocation(const Revocation& r);

// ApplyRevocation adds |r| to |set| (its writer thread).
absl::Status ApplyRevocation(const Revocation& r, RevocationSet* set);

// ReplayReport says what ReplayRevocations read.
struct ReplayReport {
  uint64_t snapshot_lsn = 0;
  uint64_t snapshot_records = 0;
  uint64_t log_records = 0;    // records read from the segments
  uint64_t applied = 0;        // revocations applied (snapshot and segments)
  uint64_t unknown_types = 0;  // records of other types, passed over
  uint64_t last_lsn = 0;       // the last LSN read (the snapshot's when the segments are empty)

  std::string ToString() const;
};

// ReplayRevocations rebuilds |set| (empty, its writer thread) from |wal| right after Open: the
// snapshot's records, then every durable record after it. Records of other types are counted
// and skipped. DataLoss naming the LSN for a revocation record that does not decode, or a log
// read error; ResourceExhausted when the set runs out of memory.
absl::StatusOr<ReplayReport> ReplayRevocations(WriteAheadLog& wal, RevocationSet* set);

// LiveSnapshot is the live state of a set as compaction snapshot records, captured on the
// set's writer thread in one pass of copies (no allocation per entry: ~30 ms per million
// entries), so that the slow part, writing the snapshot file, can run on another thread while
// the writer goes on. Movable; WriteTo and ToRecords may run on any thread.
class LiveSnapshot {
 public:
  // Capture encodes one record for every live entry of |set|. Writer thread of |set|.
  static LiveSnapshot Capture(const RevocationSet& set);

  // AddRecord appends one more record of any type (the issuance state shares the snapshot).
  void AddRecord(uint16_t type, std::string_view payload);

  size_t records() const { return records_; }
  size_t bytes() const { return bytes_.size(); }

  // WriteTo stores the records as |wal|'s snapshot covering |covered_lsn| and removes the
  // segments it covers (BeginSnapshot / Add / CommitSnapshot).
  absl::Status WriteTo(WriteAheadLog& wal, uint64_t covered_lsn) const;

  // ToRecords returns the records (lsn fields 0), for tests and WriteAheadLog::Compact.
  std::vector<WalRecord> ToRecords() const;

 private:
  // Each record: u16 type, u32 payload length, payload; host byte order (never stored).
  std::string bytes_;
  size_t records_ = 0;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_REVOCATION_LOG_H_
