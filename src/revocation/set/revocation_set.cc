// revocation/set/revocation_set.cc: the revocation set's generations, its single writer and its
// lock-free readers. The header (ringward/revocation/revocation_set.h) has the design and the
// memory-ordering argument.
#include "ringward/revocation/revocation_set.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "concurrent/published.h"
#include "concurrent/qsbr.h"
#include "revocation/set/bloom.h"
#include "revocation/set/exact_table.h"
#include "revocation/set/record_arena.h"
#include "ringward/token/claims.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace ringward::revocation {
namespace {

constexpr uint32_t KindBit(RevocationKind kind) { return 1u << static_cast<int>(kind); }
constexpr uint32_t kPrincipalKinds = KindBit(RevocationKind::kSubject) |
                                     KindBit(RevocationKind::kClient) |
                                     KindBit(RevocationKind::kKid);

// Per-kind hash salts, so "sub:alice" and "client:alice" are different keys without copying a
// prefix in front of the identifier on the verify path.
constexpr uint64_t kKindSalt[kRevocationKinds] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                                  0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL};

// Below these, filters are not worth resizing for.
constexpr uint64_t kMinJtiCapacity = 1024;
constexpr uint64_t kMinPrincipalCapacity = 64;
constexpr size_t kMinTableCapacity = 16;
constexpr uint64_t kMinArenaReserve = uint64_t{64} << 20;
// Reserve this much address space per expected revocation: records are ~30-60 bytes, and the
// reservation is address space, not memory.
constexpr uint64_t kArenaReservePerEntry = 256;
// A sanity bound on configured sizes (a filter for 4 billion keys is 5 GiB).
constexpr uint64_t kMaxExpected = uint64_t{4} << 30;
// Expire compacts when dead entries outnumber live ones, and there are at least this many.
constexpr uint64_t kCompactMinDead = 1024;

size_t TableCapacityFor(uint64_t entries) {
  // Twice the entries, so a fresh table is at most half full and grows at three quarters.
  return std::bit_ceil(std::max<uint64_t>(kMinTableCapacity, entries * 2));
}

// IssuedBefore reports whether |token| may have been issued before |t|: a token without iat
// cannot show otherwise.
bool IssuedBefore(const token::VerifiedToken& token, int64_t t) {
  return (token.present & token::kClaimIat) == 0 || token.iat < t;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  return __builtin_add_overflow(a, b, &sum) ? kNeverExpires : sum;
}

}  // namespace

// Generation is one published version of the filters, the table and the records. The fields a
// check reads come first; everything in it is immutable after publication except the filter
// bits, the table's slots, the table pointer and the kinds mask, each published as described
// in the header. Cache-line alignment keeps the mask and the jti filter's block pointer and
// size on the one line every check loads.
struct alignas(64) RevocationSet::Generation {
  Generation(uint64_t jti_capacity, uint64_t principal_capacity, double fpr,
             size_t table_capacity, std::unique_ptr<RecordArena> records)
      : jti_filter(jti_capacity, fpr),
        principal_filter(principal_capacity, fpr),
        table(new ExactTable(table_capacity)),
        arena(std::move(records)) {}
  ~Generation() { delete table.LoadRelaxed(); }

  const SplitBlockBloomFilter& Filter(RevocationKind kind) const {
    return kind == RevocationKind::kJti ? jti_filter : principal_filter;
  }
  SplitBlockBloomFilter& Filter(RevocationKind kind) {
    return kind == RevocationKind::kJti ? jti_filter : principal_filter;
  }

  // Find returns the offset of the exact entry for (|kind|, |key|), or 0. Readers call it only
  // after a filter hit and AcquireAfterHit.
  uint64_t Find(uint64_t hash, RevocationKind kind, std::string_view key) const {
    return table.Load()->Find(*arena, hash, kind, key);
  }

  concurrent::Published<uint32_t> kinds{0};  // KindBit of every kind with live entries
  SplitBlockBloomFilter jti_filter;
  SplitBlockBloomFilter principal_filter;
  concurrent::Published<ExactTable*> table;  // owned; replaced (and retired) on growth
  std::unique_ptr<RecordArena> arena;
};

// WriterState is touched by the writer thread only.
struct RevocationSet::WriterState {
  Generation* generation = nullptr;  // owned; the one published in generation_
  uint64_t live[kRevocationKinds] = {};
  uint64_t live_total = 0;
  uint64_t tombstones = 0;             // in the current table
  uint64_t dead = 0;                   // since the last rebuild
  uint64_t jti_filter_keys = 0;        // inserted into the current jti filter
  uint64_t principal_filter_keys = 0;  // inserted into the current principal filter
  uint64_t generation_number = 0;
  uint64_t arena_reserve = 0;
  uint64_t rebuild_failures = 0;
  size_t expire_cursor = 0;  // where the next Expire sweep starts
};

absl::StatusOr<std::unique_ptr<RevocationSet>> RevocationSet::Create(
    const RevocationSetOptions& options, concurrent::QsbrDomain* domain) {
  if (domain == nullptr) {
    return absl::InvalidArgumentError("revocation set: a QSBR domain is required");
  }
  if (!(options.false_positive_rate > 0 && options.false_positive_rate <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("revocation set: false_positive_rate must be in (0, 0.5], got ",
                     options.false_positive_rate));
  }
  if (options.expected_revocations > kMaxExpected ||
      options.expected_principal_revocations > kMaxExpected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "revocation set: expected_revocations and expected_principal_revocations must be at "
        "most ", kMaxExpected));
  }
  if (options.expire_grace_seconds < 0 || options.principal_retention_seconds < 0) {
    return absl::InvalidArgumentError(
        "revocation set: expire_grace_seconds and principal_retention_seconds must be >= 0");
  }
  uint64_t seed = options.hash_seed;
  while (seed == 0) {
    std::random_device random;
    seed = (uint64_t{random()} << 32) ^ random();
  }
  std::unique_ptr<RevocationSet> set(new RevocationSet(options, domain, seed));
  const uint64_t expected = options.expected_revocations + options.expected_principal_revocations;
  const uint64_t reserve =
      std::max(kMinArenaReserve, std::min(RecordArena::kMaxReserve / 2,
                                          expected * kArenaReservePerEntry));
  absl::StatusOr<std::unique_ptr<Generation>> first = set->BuildGeneration(
      std::max(options.expected_revocations, kMinJtiCapacity),
      std::max(options.expected_principal_revocations, kMinPrincipalCapacity),
      TableCapacityFor(0), reserve);
  if (!first.ok()) {
    return first.status();
  }
  set->writer_->generation = first->release();
  set->writer_->arena_reserve = reserve;
  set->generation_.Store(set->writer_->generation);
  return set;
}

RevocationSet::RevocationSet(const RevocationSetOptions& options, concurrent::QsbrDomain* domain,
                             uint64_t seed)
    : seed_(seed), options_(options), domain_(domain), writer_(new WriterState) {}

RevocationSet::~RevocationSet() { delete writer_->generation; }

uint64_t RevocationSet::Hash(RevocationKind kind, std::string_view key) const {
  return XXH3_64bits_withSeed(key.data(), key.size(),
                              seed_ ^ kKindSalt[static_cast<int>(kind)]);
}

// --- Readers ---

bool RevocationSet::IsRevoked(const token::VerifiedToken& token) const {
  const Generation* g = generation_.Load();
  const uint32_t kinds = g->kinds.Load();
  if ((kinds & KindBit(RevocationKind::kJti)) != 0 && !token.jti.empty()) {
    const uint64_t hash = Hash(RevocationKind::kJti, token.jti);
    if (g->jti_filter.MayContain(hash)) {
      SplitBlockBloomFilter::AcquireAfterHit();
      if (g->Find(hash, RevocationKind::kJti, token.jti) != 0) {
        return true;
      }
    }
  }
  if ((kinds & kPrincipalKinds) == 0) {
    return false;
  }
  return IsRevokedByPrincipal(*g, kinds, token);
}

bool RevocationSet::IsRevokedByPrincipal(const Generation& g, uint32_t kinds,
                                         const token::VerifiedToken& token) const {
  // Returns the record revoking (|kind|, |key|), or nullptr.
  auto lookup = [&](RevocationKind kind, std::string_view key) -> const uint8_t* {
    if ((kinds & KindBit(kind)) == 0 || key.empty()) {
      return nullptr;
    }
    const uint64_t hash = Hash(kind, key);
    if (!g.principal_filter.MayContain(hash)) {
      return nullptr;
    }
    SplitBlockBloomFilter::AcquireAfterHit();
    const uint64_t offset = g.Find(hash, kind, key);
    return offset == 0 ? nullptr : g.arena->At(offset);
  };
  if (const uint8_t* r = lookup(RevocationKind::kSubject, token.sub);
      r != nullptr && IssuedBefore(token, DecodeRecord(r).before)) {
    return true;
  }
  if (const uint8_t* r = lookup(RevocationKind::kClient, token.client_id);
      r != nullptr && IssuedBefore(token, DecodeRecord(r).before)) {
    return true;
  }
  return lookup(RevocationKind::kKid, token.kid) != nullptr;
}

bool RevocationSet::Lookup(RevocationKind kind, std::string_view key,
                           RevocationEntry* out) const {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return false;
  }
  const Generation* g = generation_.Load();
  const uint64_t offset = g->Find(Hash(kind, key), kind, key);
  if (offset == 0) {
    return false;
  }
  const RecordView record = DecodeRecord(g->arena->At(offset));
  *out = RevocationEntry{record.kind, record.key, record.expire_at, record.before};
  return true;
}

bool RevocationSet::FilterMayContainJtiForTesting(std::string_view jti) const {
  return generation_.Load()->jti_filter.MayContain(Hash(RevocationKind::kJti, jti));
}

// --- Writer ---

absl::Status RevocationSet::AddJti(std::string_view jti, int64_t exp) {
  return Add(RevocationKind::kJti, jti, exp, 0);
}

absl::Status RevocationSet::AddSubjectBefore(std::string_view sub, int64_t before) {
  const int64_t expire_at = options_.principal_retention_seconds == 0
                                ? kNeverExpires
                                : SaturatingAdd(before, options_.principal_retention_seconds);
  return Add(RevocationKind::kSubject, sub, expire_at, before);
}

absl::Status RevocationSet::AddClientBefore(std::string_view client_id, int64_t before) {
  const int64_t expire_at = options_.principal_retention_seconds == 0
                                ? kNeverExpires
                                : SaturatingAdd(before, options_.principal_retention_seconds);
  return Add(RevocationKind::kClient, client_id, expire_at, before);
}

absl::Status RevocationSet::AddKid(std::string_view kid) {
  return Add(RevocationKind::kKid, kid, kNeverExpires, 0);
}

absl::Status RevocationSet::Add(RevocationKind kind, std::string_view key, int64_t expire_at,
                                int64_t before) {
  if (key.empty()) {
    return absl::InvalidArgumentError("revocation: empty identifier");
  }
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("revocation: identifier of ", key.size(), " bytes (at most ", kMaxKeyBytes,
                     ")"));
  }
  WriterState& w = *writer_;
  const size_t record_size = RecordSize(kind, key.size());
  if (!w.generation->arena->HasRoom(record_size)) {
    // The reservation is full: move the live records to a bigger one.
    absl::Status rebuilt =
        RebuildWith(std::max<uint64_t>(w.arena_reserve * 2, w.generation->arena->used() * 2));
    if (!rebuilt.ok()) {
      return rebuilt;
    }
  }
  Generation* g = w.generation;
  const uint64_t hash = Hash(kind, key);
  ExactTable* table = g->table.LoadRelaxed();
  bool found = false;
  size_t slot = table->Probe(*g->arena, hash, kind, key, &found);

  if (found) {
    // Re-adding keeps the later expiry (jti) or the later time (subject, client): a record is
    // immutable, so a newer one replaces it in the same slot and the old one becomes dead.
    const RecordView old = DecodeRecord(g->arena->At(ExactTable::OffsetOf(table->Word(slot))));
    const bool supersedes = HasBefore(kind) ? before > old.before : expire_at > old.expire_at;
    if (!supersedes) {
      return absl::OkStatus();
    }
    uint64_t offset = 0;
    uint8_t* record = g->arena->Allocate(record_size, &offset);
    if (record == nullptr) {
      return absl::ResourceExhaustedError("revocation: cannot commit arena memory");
    }
    EncodeRecord(record, kind, key, expire_at, before);
    table->Publish(slot, ExactTable::SlotWord(hash, offset));
    ++w.dead;
    return absl::OkStatus();
  }

  if ((w.live_total + w.tombstones + 1) * 4 > table->capacity() * 3) {
    GrowTable();
    table = g->table.LoadRelaxed();
    slot = table->Probe(*g->arena, hash, kind, key, &found);
  }
  uint64_t offset = 0;
  uint8_t* record = g->arena->Allocate(record_size, &offset);
  if (record == nullptr) {
    return absl::ResourceExhaustedError("revocation: cannot commit arena memory");
  }
  EncodeRecord(record, kind, key, expire_at, before);
  if (table->Word(slot) == ExactTable::kTombstone) {
    --w.tombstones;
  }
  // Exact entry first, then the filter bits, then the kind's bit (see the header).
  table->Publish(slot, ExactTable::SlotWord(hash, offset));
  g->Filter(kind).Insert(hash);
  if (kind == RevocationKind::kJti) {
    ++w.jti_filter_keys;
  } else {
    ++w.principal_filter_keys;
  }
  ++w.live[static_cast<int>(kind)];
  ++w.live_total;
  UpdateKinds();

  // A filter past its sizing loses its false-positive rate: rebuild with room for twice the
  // live entries. The revocation itself is complete either way, so a failure here is counted
  // (Stats) rather than reported as a failed add.
  if (w.jti_filter_keys > g->jti_filter.capacity() ||
      w.principal_filter_keys > g->principal_filter.capacity()) {
    if (!RebuildWith(w.arena_reserve).ok()) {
      ++w.rebuild_failures;
    }
  }
  return absl::OkStatus();
}

void RevocationSet::UpdateKinds() {
  WriterState& w = *writer_;
  uint32_t kinds = 0;
  for (int k = 0; k < kRevocationKinds; ++k) {
    if (w.live[k] != 0) {
      kinds |= 1u << k;
    }
  }
  if (kinds != w.generation->kinds.LoadRelaxed()) {
    w.generation->kinds.Store(kinds);
  }
}

void RevocationSet::GrowTable() {
  WriterState& w = *writer_;
  Generation* g = w.generation;
  ExactTable* old = g->table.LoadRelaxed();
  auto fresh = std::make_unique<ExactTable>(TableCapacityFor(w.live_total + 1));
  for (size_t i = 0; i < old->capacity(); ++i) {
    const uint64_t word = old->Word(i);
    if (ExactTable::IsLive(word)) {
      const RecordView record = DecodeRecord(g->arena->At(ExactTable::OffsetOf(word)));
      fresh->InsertNew(Hash(record.kind, record.key), word);
    }
  }
  // Readers that loaded the old table finish their probe in it; new checks use the new one.
  g->table.Store(fresh.release());
  w.tombstones = 0;
  domain_->Retire(std::unique_ptr<ExactTable>(old));
}

absl::StatusOr<std::unique_ptr<RevocationSet::Generation>> RevocationSet::BuildGeneration(
    uint64_t jti_capacity, uint64_t principal_capacity, uint64_t table_capacity,
    uint64_t arena_reserve) const {
  absl::StatusOr<std::unique_ptr<RecordArena>> arena = RecordArena::Create(arena_reserve);
  if (!arena.ok()) {
    return arena.status();
  }
  return std::make_unique<Generation>(jti_capacity, principal_capacity,
                                      options_.false_positive_rate, table_capacity,
                                      std::move(*arena));
}

absl::Status RevocationSet::Rebuild() { return RebuildWith(writer_->arena_reserve); }

absl::Status RevocationSet::RebuildWith(uint64_t arena_reserve) {
  WriterState& w = *writer_;
  Generation* old = w.generation;
  const ExactTable* old_table = old->table.LoadRelaxed();
  const uint64_t live_jti = w.live[static_cast<int>(RevocationKind::kJti)];
  const uint64_t live_principals = w.live_total - live_jti;
  const uint64_t reserve =
      std::max<uint64_t>(arena_reserve, uint64_t{old->arena->used()} * 2);
  absl::StatusOr<std::unique_ptr<Generation>> built = BuildGeneration(
      std::max({options_.expected_revocations, live_jti * 2, kMinJtiCapacity}),
      std::max({options_.expected_principal_revocations, live_principals * 2,
                kMinPrincipalCapacity}),
      TableCapacityFor(w.live_total), reserve);
  if (!built.ok()) {
    return built.status();
  }
  Generation* fresh = built->get();
  for (size_t i = 0; i < old_table->capacity(); ++i) {
    const uint64_t word = old_table->Word(i);
    if (!ExactTable::IsLive(word)) {
      continue;
    }
    const uint8_t* from = old->arena->At(ExactTable::OffsetOf(word));
    const RecordView record = DecodeRecord(from);
    const size_t size = RecordSize(record.kind, record.key.size());
    uint64_t offset = 0;
    uint8_t* to = fresh->arena->Allocate(size, &offset);
    if (to == nullptr) {
      return absl::ResourceExhaustedError("revocation: cannot commit arena memory for rebuild");
    }
    std::memcpy(to, from, size);
    const uint64_t hash = Hash(record.kind, record.key);
    fresh->table.LoadRelaxed()->InsertNew(hash, ExactTable::SlotWord(hash, offset));
    fresh->Filter(record.kind).Insert(hash);
  }
  // The new generation is complete before this release store makes it reachable.
  w.generation = built->release();
  w.tombstones = 0;
  w.dead = 0;
  w.jti_filter_keys = live_jti;
  w.principal_filter_keys = live_principals;
  w.arena_reserve = reserve;
  ++w.generation_number;
  uint32_t kinds = 0;
  for (int k = 0; k < kRevocationKinds; ++k) {
    if (w.live[k] != 0) {
      kinds |= 1u << k;
    }
  }
  w.generation->kinds.Store(kinds);
  generation_.Store(w.generation);
  domain_->Retire(std::unique_ptr<Generation>(old));
  return absl::OkStatus();
}

size_t RevocationSet::Expire(int64_t now, size_t max_slots) {
  WriterState& w = *writer_;
  Generation* g = w.generation;
  ExactTable* table = g->table.LoadRelaxed();
  const size_t sweep = std::min(max_slots, table->capacity());
  size_t removed = 0;
  for (size_t n = 0; n < sweep; ++n) {
    // The cursor is reduced modulo the capacity: a table that grew or was rebuilt since the
    // last call is simply swept from some other point.
    const size_t i = w.expire_cursor++ & (table->capacity() - 1);
    const uint64_t word = table->Word(i);
    if (!ExactTable::IsLive(word)) {
      continue;
    }
    const RecordView record = DecodeRecord(g->arena->At(ExactTable::OffsetOf(word)));
    if (record.expire_at == kNeverExpires || now <= record.expire_at ||
        now - record.expire_at <= options_.expire_grace_seconds) {
      continue;
    }
    // A tombstone, not an empty slot: chains through this slot must stay intact for readers.
    table->Publish(i, ExactTable::kTombstone);
    --w.live[static_cast<int>(record.kind)];
    --w.live_total;
    ++w.tombstones;
    ++w.dead;
    ++removed;
  }
  UpdateKinds();
  if (w.dead >= kCompactMinDead && w.dead > w.live_total) {
    if (!RebuildWith(w.arena_reserve).ok()) {
      ++w.rebuild_failures;
    }
  }
  return removed;
}

uint64_t RevocationSet::Publish() {
  const uint64_t ticket = domain_->Advance();
  domain_->Reclaim();
  return ticket;
}

bool RevocationSet::Visible(uint64_t ticket) const { return domain_->Passed(ticket); }

bool RevocationSet::WaitVisible(uint64_t ticket, std::chrono::nanoseconds timeout) const {
  return domain_->WaitPassed(ticket, timeout);
}

void RevocationSet::ForEachLive(absl::FunctionRef<void(const RevocationEntry&)> fn) const {
  const Generation& g = *writer_->generation;
  const ExactTable& table = *g.table.LoadRelaxed();
  for (size_t i = 0; i < table.capacity(); ++i) {
    const uint64_t word = table.Word(i);
    if (!ExactTable::IsLive(word)) {
      continue;
    }
    const RecordView record = DecodeRecord(g.arena->At(ExactTable::OffsetOf(word)));
    fn(RevocationEntry{record.kind, record.key, record.expire_at, record.before});
  }
}

RevocationStats RevocationSet::Stats() const {
  const WriterState& w = *writer_;
  const Generation& g = *w.generation;
  const ExactTable& table = *g.table.LoadRelaxed();
  RevocationStats stats;
  for (int k = 0; k < kRevocationKinds; ++k) {
    stats.live[k] = w.live[k];
  }
  stats.live_total = w.live_total;
  stats.dead = w.dead;
  stats.generation = w.generation_number;
  stats.table_capacity = table.capacity();
  stats.table_tombstones = w.tombstones;
  stats.jti_filter_capacity = g.jti_filter.capacity();
  stats.jti_filter_keys = w.jti_filter_keys;
  stats.jti_filter_expected_fpr = SplitBlockBloomFilter::FalsePositiveRate(
      static_cast<double>(w.jti_filter_keys), static_cast<double>(g.jti_filter.num_blocks()));
  stats.filter_bytes = g.jti_filter.bytes() + g.principal_filter.bytes();
  stats.table_bytes = table.bytes();
  stats.arena_used_bytes = g.arena->used();
  stats.arena_committed_bytes = g.arena->committed();
  stats.rebuild_failures = w.rebuild_failures;
  stats.total_bytes = stats.filter_bytes + stats.table_bytes + stats.arena_committed_bytes;
  return stats;
}

}  // namespace ringward::revocation
