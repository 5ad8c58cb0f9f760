// ringward/revocation/revocation_set.h: RevocationSet, the in-memory answer to "is this token
// revoked?" that every shard asks on every verification (verified-cache hits included), kept
// up to date by the control plane as it applies durable write-ahead-log records.
//
// Four kinds of revocation:
//   - a token, by jti, kept until the token's exp (plus a grace period) has passed;
//   - a subject before a time T ("log out everywhere"): tokens with that sub and iat < T;
//   - a client before a time T: tokens with that client_id and iat < T;
//   - a key id: every token signed with that kid.
// A token without an iat claim cannot show that it was issued after T, so a subject or client
// revocation rejects it (fail closed).
//
// The common check costs one Bloom-filter probe. jti revocations are the many (millions); they
// go into a split-block Bloom filter sized from the configured count and false-positive rate.
// Subject, client and kid revocations are the few; they go into a second, small filter that
// stays in cache, and a per-generation mask of "kinds with live entries" lets IsRevoked skip
// each of those probes outright while a kind has no entries. Every filter positive is
// confirmed against an exact hash table of the revoked identifiers (byte for byte), so a false
// positive never rejects a valid token.
//
// Threads. One writer thread (the control plane) calls every non-const method, and Stats().
// IsRevoked may be called from any thread that is an online reader of the QSBR domain given to
// Create (each shard, calling domain.Quiescent(shard) once per loop turn), and from the writer
// thread; it takes no lock, allocates nothing and never waits for the writer. The domain is
// borrowed and must outlive the set; retired generations and tables are handed to it.
//
// Visibility and acknowledgement. A writer method's effect is visible to readers as soon as it
// returns, but a reader that is in the middle of a check may still be using older data. Before
// acknowledging a revocation the caller takes ticket = Publish() after applying it and waits
// until Visible(ticket): from then on every shard's every check sees the revocation (each
// online shard has passed a quiescent state since, and an offline one will see it when it
// comes back online; concurrent/qsbr.h has the memory-ordering argument).
//
// Memory ordering of an insertion (details in concurrent/atomic_bit_blocks.h and published.h):
// the writer (1) appends the record to an arena with plain stores, (2) publishes its slot in
// the exact table with a release store (after publishing a grown table, if the table had to
// grow), (3) sets the filter bits with release fetch_or's, (4) sets the kind's bit in the mask
// with a release store. A reader loads the generation and the mask (acquire), the filter block
// (one relaxed 256-bit load), and on a hit issues an acquire fence before loading the table
// pointer and slots (acquire) and reading the record. If its block load returned, in any lane,
// the value a fetch_or of step (3) wrote for key K (or a later one), that fetch_or synchronises
// with the fence, so steps (1)-(2) for K happen-before the reader's probe: a filter positive
// that comes from K's own insertion always finds K's exact entry, never a missing or
// half-written one. A reader ordered after the whole insertion by other means (Visible, below)
// sees K's bits and entry by coherence. Steps in the other order (bits first) would let a
// reader see the bit and miss the entry: harmless for a not-yet-acknowledged revocation, but
// it would make "the filter said maybe" mean nothing about the table.
//
// Compaction. Expire() tombstones expired entries; their filter bits stay until Rebuild()
// builds a new generation (arena, table and filters, sized for the live entries) and swaps it
// in with one release store, without pausing readers. The writer rebuilds by itself when a
// filter holds more keys than it was sized for (so growth keeps the false-positive rate), when
// the arena's reservation is full, and when Expire leaves more dead entries than live ones.
#ifndef RINGWARD_REVOCATION_REVOCATION_SET_H_
#define RINGWARD_REVOCATION_REVOCATION_SET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "concurrent/published.h"
#include "ringward/token/verifier.h"

namespace ringward::concurrent {
class QsbrDomain;
}  // namespace ringward::concurrent

namespace ringward::revocation {

enum class RevocationKind : uint8_t {
  kJti = 0,
  kSubject = 1,
  kClient = 2,
  kKid = 3,
};
inline constexpr int kRevocationKinds = 4;

struct RevocationSetOptions {
  // The number of jti revocations the Bloom filter is sized for, and its false-positive rate.
  // Past that many the set rebuilds with a filter twice the live count, so the rate holds.
  uint64_t expected_revocations = 1'000'000;
  double false_positive_rate = 0.01;
  // The same for subject, client and kid revocations together (a separate, small filter).
  uint64_t expected_principal_revocations = 4096;
  // Entries stay this long past their expiry. It must be at least the verifiers' leeway on exp
  // (token::VerifyPolicy::leeway_seconds), or an expired-but-tolerated token would come back.
  int64_t expire_grace_seconds = 300;
  // Subject and client revocations expire this long after their time T (0: never). Safe when it
  // is at least the longest lifetime any trusted issuer gives a token: a token issued before T
  // has expired by T + that lifetime.
  int64_t principal_retention_seconds = 0;
  // Seed for the hash of revoked identifiers; 0 picks a random one (the hashes are never
  // persisted, so a per-process seed costs nothing and keeps the table's layout unguessable).
  uint64_t hash_seed = 0;
};

// RevocationStats describes the set; memory figures are bytes.
struct RevocationStats {
  uint64_t live[kRevocationKinds] = {};  // live entries by RevocationKind
  uint64_t live_total = 0;
  // Entries expired or superseded since the last rebuild: they still occupy the arena and
  // (their bits) the filters.
  uint64_t dead = 0;
  uint64_t generation = 0;  // rebuilds so far
  uint64_t table_capacity = 0;
  uint64_t table_tombstones = 0;
  uint64_t jti_filter_capacity = 0;
  uint64_t jti_filter_keys = 0;  // keys inserted since the filter was built
  double jti_filter_expected_fpr = 0;
  uint64_t filter_bytes = 0;  // both filters
  uint64_t table_bytes = 0;
  uint64_t arena_used_bytes = 0;
  uint64_t arena_committed_bytes = 0;  // what the arena's pages may occupy
  uint64_t total_bytes = 0;            // filters + table + committed arena
  uint64_t rebuild_failures = 0;       // automatic rebuilds that failed (the set stays correct)
};

// RevocationEntry is one live revocation, as Lookup and ForEachLive report it. |key| points
// into the set's memory (see those methods for how long it stays valid).
struct RevocationEntry {
  RevocationKind kind = RevocationKind::kJti;
  std::string_view key;
  int64_t expire_at = 0;  // jti: the token's exp; INT64_MAX: kept until revoked otherwise
  int64_t before = 0;     // subject and client: tokens issued before this are revoked
};

class RevocationSet {
 public:
  // Create builds an empty set; |domain| (borrowed) must outlive it. InvalidArgument for
  // nonsensical options, ResourceExhausted when memory cannot be reserved.
  static absl::StatusOr<std::unique_ptr<RevocationSet>> Create(const RevocationSetOptions& options,
                                                               concurrent::QsbrDomain* domain);
  ~RevocationSet();
  RevocationSet(const RevocationSet&) = delete;
  RevocationSet& operator=(const RevocationSet&) = delete;

  // --- Writer (one thread) ---

  // AddJti revokes the token with |jti|; the entry lives until |exp| (+ grace) has passed. Adding
  // a jti again keeps the later exp. InvalidArgument for an empty or over-long (> 65535 bytes)
  // identifier, ResourceExhausted when memory runs out; the set is unchanged on failure.
  absl::Status AddJti(std::string_view jti, int64_t exp);
  // AddSubjectBefore revokes the tokens of |sub| issued before |before| (iat < before). A later
  // call for the same subject keeps the later time.
  absl::Status AddSubjectBefore(std::string_view sub, int64_t before);
  // AddClientBefore revokes the tokens of |client_id| issued before |before|.
  absl::Status AddClientBefore(std::string_view client_id, int64_t before);
  // AddKid revokes every token signed with the key |kid|.
  absl::Status AddKid(std::string_view kid);

  // Expire removes the entries whose expiry plus grace is before |now| and returns how many.
  // It sweeps up to |max_slots| table slots from where the previous call stopped (wrapping
  // around; the default sweeps the whole table, ~18 ms per million entries), so the control
  // plane can bound each pause and spread a sweep over several calls. It compacts (Rebuild)
  // when dead entries outnumber live ones.
  size_t Expire(int64_t now, size_t max_slots = SIZE_MAX);

  // Rebuild swaps in a new generation holding exactly the live entries, with filters sized for
  // max(configured, twice the live count). Readers keep using the old one until they finish
  // their check; it is freed through the QSBR domain.
  absl::Status Rebuild();

  // Publish returns a ticket for everything applied so far (and frees what readers are done
  // with); Visible reports whether every reader has seen it; WaitVisible polls (sleeping in
  // short steps) until it is or |timeout| passes.
  uint64_t Publish();
  bool Visible(uint64_t ticket) const;
  bool WaitVisible(uint64_t ticket, std::chrono::nanoseconds timeout) const;

  RevocationStats Stats() const;

  // ForEachLive calls |fn| once for every live entry (expired ones not yet swept included), in
  // no particular order: what a compaction snapshots. |fn| must not call writer methods; the
  // entry's key is valid during the call only.
  void ForEachLive(absl::FunctionRef<void(const RevocationEntry&)> fn) const;

  // --- Readers (online QSBR readers, and the writer) ---

  // IsRevoked reports whether |token| is revoked by jti, subject, client or kid.
  bool IsRevoked(const token::VerifiedToken& token) const;

  // Lookup finds the live entry for (|kind|, |key|), for the admin API. From the writer (the
  // key stays valid until its next call) or an online reader (until its next quiescent state).
  bool Lookup(RevocationKind kind, std::string_view key, RevocationEntry* out) const;

  // FilterMayContainJtiForTesting reports the jti filter's answer alone, so tests can show that
  // false positives occurred and were all rejected by the exact table.
  bool FilterMayContainJtiForTesting(std::string_view jti) const;

 private:
  struct Generation;
  struct WriterState;

  RevocationSet(const RevocationSetOptions& options, concurrent::QsbrDomain* domain,
                uint64_t seed);

  uint64_t Hash(RevocationKind kind, std::string_view key) const;
  bool IsRevokedByPrincipal(const Generation& g, uint32_t kinds,
                            const token::VerifiedToken& token) const;
  absl::Status Add(RevocationKind kind, std::string_view key, int64_t expire_at, int64_t before);
  absl::StatusOr<std::unique_ptr<Generation>> BuildGeneration(uint64_t jti_capacity,
                                                               uint64_t principal_capacity,
                                                               uint64_t table_capacity,
                                                               uint64_t arena_reserve) const;
  absl::Status RebuildWith(uint64_t arena_reserve);
  void GrowTable();
  void UpdateKinds();

  // Read by every shard on every check: the generation pointer and constants, on one line.
  alignas(64) concurrent::Published<const Generation*> generation_;
  const uint64_t seed_;
  const RevocationSetOptions options_;
  concurrent::QsbrDomain* const domain_;
  // The writer's own state, on lines of its own.
  alignas(64) std::unique_ptr<WriterState> writer_;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_REVOCATION_SET_H_
