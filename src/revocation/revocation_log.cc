// revocation_log.cc: the revocation record payloads (revocation_records.md), replay and the
// snapshot of a set's live entries.
#include "ringward/revocation/revocation_log.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"

namespace ringward::revocation {
namespace {

constexpr size_t kKeyLengthBytes = 2;
constexpr size_t kTimeBytes = 8;
constexpr size_t kMaxEncodedKey = 65535;

void PutU16(std::string* out, uint16_t v) {
  const char bytes[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  out->append(bytes, 2);
}

void PutI64(std::string* out, int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  out->append(bytes, 8);
}

uint16_t GetU16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(p[1])) << 8));
}

int64_t GetI64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return static_cast<int64_t>(v);
}

bool HasTime(RevocationKind kind) { return kind != RevocationKind::kKid; }

bool KindOfType(uint16_t type, RevocationKind* kind) {
  switch (type) {
    case kRecordRevokeJti:
      *kind = RevocationKind::kJti;
      return true;
    case kRecordRevokeSubject:
      *kind = RevocationKind::kSubject;
      return true;
    case kRecordRevokeClient:
      *kind = RevocationKind::kClient;
      return true;
    case kRecordRevokeKid:
      *kind = RevocationKind::kKid;
      return true;
    default:
      return false;
  }
}

}  // namespace

uint16_t RecordTypeFor(RevocationKind kind) {
  switch (kind) {
    case RevocationKind::kJti:
      return kRecordRevokeJti;
    case RevocationKind::kSubject:
      return kRecordRevokeSubject;
    case RevocationKind::kClient:
      return kRecordRevokeClient;
    case RevocationKind::kKid:
      return kRecordRevokeKid;
  }
  return kRecordRevokeJti;
}

bool IsRevocationRecordType(uint16_t type) {
  RevocationKind kind;
  return KindOfType(type, &kind);
}

std::string RevocationRecordTypeName(uint16_t type) {
  switch (type) {
    case kRecordRevokeJti:
      return "revoke_jti";
    case kRecordRevokeSubject:
      return "revoke_subject";
    case kRecordRevokeClient:
      return "revoke_client";
    case kRecordRevokeKid:
      return "revoke_kid";
    default:
      return "";
  }
}

std::string_view RevocationKindName(RevocationKind kind) {
  switch (kind) {
    case RevocationKind::kJti:
      return "jti";
    case RevocationKind::kSubject:
      return "subject";
    case RevocationKind::kClient:
      return "client";
    case RevocationKind::kKid:
      return "kid";
  }
  return "unknown";
}

std::string EncodeRevocation(const Revocation& r) {
  const std::string_view key =
      std::string_view(r.key).substr(0, std::min(r.key.size(), kMaxEncodedKey));
  std::string out;
  out.reserve(kTimeBytes + kKeyLengthBytes + key.size());
  if (HasTime(r.kind)) {
    PutI64(&out, r.time);
  }
  PutU16(&out, static_cast<uint16_t>(key.size()));
  out.append(key);
  return out;
}

absl::StatusOr<Revocation> DecodeRevocation(uint16_t type, std::string_view payload) {
  Revocation r;
  if (!KindOfType(type, &r.kind)) {
    return absl::InvalidArgumentError(absl::StrCat("record type ", type, " is not a revocation"));
  }
  const size_t fixed = (HasTime(r.kind) ? kTimeBytes : 0) + kKeyLengthBytes;
  if (payload.size() < fixed) {
    return absl::DataLossError(absl::StrCat(RevocationRecordTypeName(type), " payload of ",
                                            payload.size(), " bytes is shorter than its ", fixed,
                                            "-byte header"));
  }
  size_t at = 0;
  if (HasTime(r.kind)) {
    r.time = GetI64(payload.data());
    at = kTimeBytes;
  }
  const uint16_t len = GetU16(payload.data() + at);
  at += kKeyLengthBytes;
  if (len == 0 || payload.size() != at + len) {
    return absl::DataLossError(absl::StrCat(RevocationRecordTypeName(type), " payload of ",
                                            payload.size(), " bytes does not hold the ", len,
                                            "-byte identifier it announces"));
  }
  r.key.assign(payload.substr(at, len));
  return r;
}

absl::Status ValidateRevocation(const Revocation& r) {
  if (r.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(RevocationKindName(r.kind)), " must not be empty"));
  }
  if (r.key.size() > kMaxRevocationKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(RevocationKindName(r.kind)), " is longer than ", kMaxRevocationKeyBytes, " bytes"));
  }
  switch (r.kind) {
    case RevocationKind::kJti:
      if (r.time <= 0) {
        return absl::InvalidArgumentError(
            "exp must be the token's expiry time, in seconds since the epoch (> 0)");
      }
      break;
    case RevocationKind::kSubject:
    case RevocationKind::kClient:
      if (r.time < 0) {
        return absl::InvalidArgumentError(
            "before must be a time in seconds since the epoch (>= 0): tokens issued earlier "
            "are revoked");
      }
      break;
    case RevocationKind::kKid:
      if (r.time != 0) {
        return absl::InvalidArgumentError("a kid revocation carries no time");
      }
      break;
  }
  return absl::OkStatus();
}

absl::Status ApplyRevocation(const Revocation& r, RevocationSet* set) {
  switch (r.kind) {
    case RevocationKind::kJti:
      return set->AddJti(r.key, r.time);
    case RevocationKind::kSubject:
      return set->AddSubjectBefore(r.key, r.time);
    case RevocationKind::kClient:
      return set->AddClientBefore(r.key, r.time);
    case RevocationKind::kKid:
      return set->AddKid(r.key);
  }
  return absl::InvalidArgumentError("unknown revocation kind");
}

std::string ReplayReport::ToString() const {
  std::string out = absl::StrCat("replayed ", applied, " revocation(s): ");
  if (snapshot_lsn != 0) {
    absl::StrAppend(&out, snapshot_records, " from the snapshot at LSN ", snapshot_lsn, ", ");
  }
  absl::StrAppend(&out, log_records, " log record(s), last LSN ", last_lsn);
  if (unknown_types != 0) {
    absl::StrAppend(&out, ", ", unknown_types, " record(s) of other types passed over");
  }
  return out;
}

absl::StatusOr<ReplayReport> ReplayRevocations(WriteAheadLog& wal, RevocationSet* set) {
  ReplayReport report;
  auto apply = [&](const WalRecord& record, std::string_view where) -> absl::Status {
    if (!IsRevocationRecordType(record.type)) {
      ++report.unknown_types;
      return absl::OkStatus();
    }
    absl::StatusOr<Revocation> r = DecodeRevocation(record.type, record.payload);
    if (!r.ok()) {
      return absl::DataLossError(absl::StrCat(wal.dir(), ": ", std::string(where), " record ",
                                              record.lsn, ": ", r.status().message()));
    }
    absl::Status applied = ApplyRevocation(*r, set);
    if (!applied.ok()) {
      return absl::Status(applied.code(), absl::StrCat(wal.dir(), ": replaying LSN ", record.lsn,
                                                       ": ", applied.message()));
    }
    ++report.applied;
    return absl::OkStatus();
  };

  report.snapshot_lsn = wal.snapshot_lsn();
  report.last_lsn = report.snapshot_lsn;
  absl::Status replayed = ReplayLog(wal, [&](const WalRecord& record, bool from_snapshot) {
    if (from_snapshot) {
      ++report.snapshot_records;
      return apply(record, "snapshot");
    }
    ++report.log_records;
    report.last_lsn = record.lsn;
    return apply(record, "log");
  });
  if (!replayed.ok()) {
    return replayed;
  }
  return report;
}

LiveSnapshot LiveSnapshot::Capture(const RevocationSet& set) {
  LiveSnapshot snapshot;
  const RevocationStats stats = set.Stats();
  snapshot.bytes_.reserve(stats.live_total * 32 + stats.arena_used_bytes);
  std::string& out = snapshot.bytes_;
  set.ForEachLive([&](const RevocationEntry& e) {
    const uint16_t type = RecordTypeFor(e.kind);
    const size_t key_len = std::min(e.key.size(), kMaxEncodedKey);
    const bool timed = HasTime(e.kind);
    const auto payload_len = static_cast<uint32_t>((timed ? kTimeBytes : 0) + 2 + key_len);
    out.append(reinterpret_cast<const char*>(&type), sizeof(type));
    out.append(reinterpret_cast<const char*>(&payload_len), sizeof(payload_len));
    if (timed) {
      PutI64(&out, e.kind == RevocationKind::kJti ? e.expire_at : e.before);
    }
    PutU16(&out, static_cast<uint16_t>(key_len));
    out.append(e.key.data(), key_len);
    ++snapshot.records_;
  });
  return snapshot;
}

void LiveSnapshot::AddRecord(uint16_t type, std::string_view payload) {
  const auto len = static_cast<uint32_t>(payload.size());
  bytes_.append(reinterpret_cast<const char*>(&type), sizeof(type));
  bytes_.append(reinterpret_cast<const char*>(&len), sizeof(len));
  bytes_.append(payload);
  ++records_;
}

namespace {

// ForEachEncoded calls |fn(type, payload)| for each record of a LiveSnapshot's bytes.
template <typename Fn>
absl::Status ForEachEncoded(std::string_view bytes, Fn&& fn) {
  size_t at = 0;
  while (at < bytes.size()) {
    uint16_t type;
    uint32_t len;
    std::memcpy(&type, bytes.data() + at, sizeof(type));
    std::memcpy(&len, bytes.data() + at + sizeof(type), sizeof(len));
    at += sizeof(type) + sizeof(len);
    if (absl::Status s = fn(type, bytes.substr(at, len)); !s.ok()) {
      return s;
    }
    at += len;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LiveSnapshot::WriteTo(WriteAheadLog& wal, uint64_t covered_lsn) const {
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> writer = wal.BeginSnapshot(covered_lsn);
  if (!writer.ok()) {
    return writer.status();
  }
  absl::Status added = ForEachEncoded(bytes_, [&](uint16_t type, std::string_view payload) {
    return (*writer)->Add(type, payload);
  });
  if (!added.ok()) {
    return added;
  }
  return wal.CommitSnapshot(*std::move(writer));
}

std::vector<WalRecord> LiveSnapshot::ToRecords() const {
  std::vector<WalRecord> records;
  records.reserve(records_);
  (void)ForEachEncoded(bytes_, [&](uint16_t type, std::string_view payload) {
    WalRecord record;
    record.type = type;
    record.payload.assign(payload);
    records.push_back(std::move(record));
    return absl::OkStatus();
  });
  return records;
}

}  // namespace ringward::revocation
