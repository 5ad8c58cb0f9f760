// The write-ahead log's on-disk format; wal_format.md is the specification.
#include "revocation/wal_format.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "revocation/wal_crc32c.h"
#include "ringward/base/strings.h"

namespace ringward::revocation::wal_format {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kLsnDigits = 20;

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool ParseNumberedName(std::string_view name, std::string_view prefix, std::string_view suffix,
                       uint64_t* number) {
  if (name.size() != prefix.size() + kLsnDigits + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return false;
  }
  uint64_t value = 0;
  for (char c : name.substr(prefix.size(), kLsnDigits)) {
    if (c < '0' || c > '9') {
      return false;
    }
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  *number = value;
  return true;
}

absl::Status Corrupt(const std::string& path, uint64_t offset, std::string_view reason,
                     const std::string& dir) {
  return absl::DataLossError(
      ToAbsl(absl::StrCat("wal: corrupt write-ahead log: ", path, " at byte offset ", offset, ": ",
                          ToAbsl(reason), ". ", RepairHint(dir))));
}

// FindValidRecord looks for a record with a good checksum and an LSN of at least |min_lsn| at
// any byte offset of |tail| after the first. Cheap checks (length in range, record inside the
// tail, plausible LSN) reject almost every offset before the CRC is computed.
bool FindValidRecord(std::string_view tail, uint64_t min_lsn, size_t* at, uint64_t* lsn) {
  if (tail.size() < kRecordOverhead) {
    return false;
  }
  const uint64_t max_lsn = min_lsn + tail.size() / kRecordOverhead + 1;
  for (size_t p = 1; p + kRecordOverhead <= tail.size(); ++p) {
    const char* h = tail.data() + p;
    uint32_t length = GetU32(h);
    if (length > kMaxPayloadSize || length > tail.size() - p - kRecordOverhead) {
      continue;
    }
    uint64_t candidate = GetU64(h + 8);
    if (candidate < min_lsn || candidate > max_lsn) {
      continue;
    }
    RecordView view;
    if (ParseRecord(tail.substr(p), &view) == ParseResult::kOk) {
      *at = p;
      *lsn = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace

void PutU16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<char>(v >> (8 * i));
  }
}

void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<char>(v >> (8 * i));
  }
}

uint16_t GetU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | u[i];
  }
  return v;
}

uint64_t GetU64(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | u[i];
  }
  return v;
}

std::string SegmentFileName(uint64_t first_lsn) {
  return absl::StrFormat("wal-%020u.log", first_lsn);
}

std::string SnapshotFileName(uint64_t lsn) { return absl::StrFormat("snapshot-%020u.snap", lsn); }

bool ParseSegmentFileName(std::string_view name, uint64_t* first_lsn) {
  return ParseNumberedName(name, "wal-", ".log", first_lsn);
}

bool ParseSnapshotFileName(std::string_view name, uint64_t* lsn) {
  return ParseNumberedName(name, "snapshot-", ".snap", lsn);
}

void EncodeFileHeader(std::string_view magic, uint64_t lsn, char* out) {
  std::memset(out, 0, kFileHeaderSize);
  std::memcpy(out, magic.data(), 8);
  PutU32(out + 8, kFormatVersion);
  PutU32(out + 12, 0);  // flags
  PutU64(out + 16, lsn);
  PutU32(out + 24, 0);  // reserved
  PutU32(out + 28, Crc32c(std::string_view(out, 28)));
}

absl::Status DecodeFileHeader(std::string_view header, std::string_view magic, uint64_t* lsn) {
  if (header.size() < kFileHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("file header incomplete (", header.size(), " of 32 bytes)"));
  }
  if (header.substr(0, 8) != magic) {
    return absl::DataLossError(ToAbsl(absl::StrCat("bad magic (expected \"", ToAbsl(magic),
                                                   "\"): not a ringward log file or damaged")));
  }
  uint32_t stored = GetU32(header.data() + 28);
  uint32_t computed = Crc32c(header.substr(0, 28));
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "file header checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed));
  }
  uint32_t version = GetU32(header.data() + 8);
  if (version != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("format version ", version, " is not supported (this ringward reads version ",
                     kFormatVersion, "); was it written by a newer ringward?"));
  }
  if (GetU32(header.data() + 12) != 0 || GetU32(header.data() + 24) != 0) {
    return absl::FailedPreconditionError(
        "file header has flags or reserved bits set that this ringward does not know");
  }
  *lsn = GetU64(header.data() + 16);
  return absl::OkStatus();
}

void AppendRecord(std::string* out, uint64_t lsn, uint16_t type, std::string_view payload) {
  size_t start = out->size();
  out->resize(start + EncodedRecordSize(payload.size()));
  char* p = out->data() + start;
  PutU32(p, static_cast<uint32_t>(payload.size()));
  PutU16(p + 4, type);
  PutU16(p + 6, 0);  // flags
  PutU64(p + 8, lsn);
  if (!payload.empty()) {
    std::memcpy(p + kRecordHeaderSize, payload.data(), payload.size());
  }
  size_t covered = kRecordHeaderSize + payload.size();
  PutU32(p + covered, Crc32c(std::string_view(p, covered)));
}

ParseResult ParseRecord(std::string_view bytes, RecordView* out) {
  if (bytes.size() < kRecordHeaderSize) {
    return ParseResult::kTruncated;
  }
  const char* p = bytes.data();
  uint32_t length = GetU32(p);
  if (length > kMaxPayloadSize) {
    return ParseResult::kBadLength;
  }
  if (bytes.size() < EncodedRecordSize(length)) {
    return ParseResult::kTruncated;
  }
  size_t covered = kRecordHeaderSize + length;
  if (GetU32(p + covered) != Crc32c(bytes.substr(0, covered))) {
    return ParseResult::kBadChecksum;
  }
  out->length = length;
  out->type = GetU16(p + 4);
  out->flags = GetU16(p + 6);
  out->lsn = GetU64(p + 8);
  out->payload = bytes.substr(kRecordHeaderSize, length);
  return ParseResult::kOk;
}

std::string_view ParseResultName(ParseResult result) {
  switch (result) {
    case ParseResult::kOk:
      return "ok";
    case ParseResult::kTruncated:
      return "record incomplete (it runs past the end of the file)";
    case ParseResult::kBadLength:
      return "implausible record length (above the 4 MiB maximum)";
    case ParseResult::kBadChecksum:
      return "record checksum mismatch";
  }
  return "unknown";
}

void EncodeSnapshotFooter(uint64_t records, uint64_t lsn, char* out) {
  std::memset(out, 0, kSnapshotFooterSize);
  std::memcpy(out, kSnapshotFooterMagic.data(), 8);
  PutU64(out + 8, records);
  PutU64(out + 16, lsn);
  PutU32(out + 24, 0);
  PutU32(out + 28, Crc32c(std::string_view(out, 28)));
}

absl::StatusOr<std::string_view> ChunkReader::Peek(size_t n, uint64_t limit) {
  if (end_ - pos_ >= n) {
    return std::string_view(buf_.data() + pos_, end_ - pos_);
  }
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  size_t want = std::max(n, kChunkSize);
  if (buf_.size() < want) {
    buf_.resize(want);
  }
  uint64_t read_at = offset_ + end_;
  size_t room = buf_.size() - end_;
  if (limit != UINT64_MAX) {
    room = read_at >= limit ? 0 : static_cast<size_t>(std::min<uint64_t>(room, limit - read_at));
  }
  if (room > 0) {
    absl::StatusOr<size_t> got = file_->ReadAt(read_at, buf_.data() + end_, room);
    if (!got.ok()) {
      return got.status();
    }
    end_ += *got;
  }
  return std::string_view(buf_.data(), end_);
}

void ChunkReader::Skip(size_t n) {
  pos_ += n;
  offset_ += n;
}

std::string RepairHint(const std::string& dir) {
  return absl::StrCat("Run `ringward wal repair ", dir,
                      "` to cut the log there (the damaged segment is first copied to a .bak "
                      "file); records after that point are lost unless a follower has them");
}

absl::StatusOr<SegmentScan> ScanSegment(
    FileLayer* files, const std::string& path, uint64_t expected_first_lsn, bool is_last,
    const std::string& repair_hint_dir,
    const std::function<absl::Status(const RecordView&)>& on_record) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = files->OpenReadable(path);
  if (!file.ok()) {
    return file.status();
  }
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) {
    return size.status();
  }
  SegmentScan scan;
  scan.file_size = *size;
  scan.next_lsn = expected_first_lsn;

  uint64_t name_lsn = 0;
  if (!ParseSegmentFileName(BaseName(path), &name_lsn)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not named like a log segment"));
  }
  if (name_lsn != expected_first_lsn) {
    scan.corruption =
        Corrupt(path, 0,
                absl::StrCat("the segment starts at LSN ", name_lsn, " but LSN ",
                             expected_first_lsn, " was expected next (LSNs must be contiguous)"),
                repair_hint_dir);
    return scan;
  }

  ChunkReader cursor(file->get(), 0);
  absl::StatusOr<std::string_view> header = cursor.Peek(kFileHeaderSize);
  if (!header.ok()) {
    return header.status();
  }
  uint64_t header_lsn = 0;
  absl::Status header_status = DecodeFileHeader(
      header->substr(0, std::min(header->size(), kFileHeaderSize)), kSegmentMagic, &header_lsn);
  if (absl::IsFailedPrecondition(header_status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("wal: ", path, ": ", header_status.message()));
  }
  if (!header_status.ok()) {
    // Segments are created with their header synced before any record is written to them, so
    // only a last segment holding no more than a header can have lost its header in a crash.
    if (is_last && scan.file_size <= kFileHeaderSize) {
      scan.torn = true;
      scan.torn_reason = absl::StrCat("segment header: ", header_status.message());
      return scan;
    }
    scan.corruption = Corrupt(path, 0, absl::StrCat("segment header: ", header_status.message()),
                              repair_hint_dir);
    return scan;
  }
  if (header_lsn != name_lsn) {
    scan.corruption =
        Corrupt(path, 0, absl::StrCat("the header says the segment starts at LSN ", header_lsn),
                repair_hint_dir);
    return scan;
  }
  scan.first_lsn = header_lsn;
  cursor.Skip(kFileHeaderSize);
  uint64_t expected = header_lsn;

  for (;;) {
    uint64_t offset = cursor.offset();
    absl::StatusOr<std::string_view> bytes = cursor.Peek(kRecordHeaderSize);
    if (!bytes.ok()) {
      return bytes.status();
    }
    if (bytes->empty()) {
      break;  // clean end
    }
    if (bytes->size() >= kRecordHeaderSize) {
      uint32_t length = GetU32(bytes->data());
      if (length <= kMaxPayloadSize) {
        bytes = cursor.Peek(EncodedRecordSize(length));
        if (!bytes.ok()) {
          return bytes.status();
        }
      }
    }
    RecordView record;
    ParseResult result = ParseRecord(*bytes, &record);
    if (result == ParseResult::kOk) {
      if (record.flags != 0) {
        scan.valid_end = offset;
        scan.corruption = Corrupt(
            path, offset,
            absl::StrFormat("record LSN %u has flags 0x%04x that this ringward does not know",
                            record.lsn, record.flags),
            repair_hint_dir);
        return scan;
      }
      if (record.lsn != expected) {
        scan.valid_end = offset;
        scan.corruption = Corrupt(path, offset,
                                  absl::StrCat("record has LSN ", record.lsn, " but LSN ", expected,
                                               " was expected (LSNs must be contiguous)"),
                                  repair_hint_dir);
        return scan;
      }
      if (on_record) {
        absl::Status status = on_record(record);
        if (!status.ok()) {
          return status;
        }
      }
      ++scan.records;
      ++expected;
      scan.next_lsn = expected;
      cursor.Skip(EncodedRecordSize(record.length));
      continue;
    }

    // An invalid record at |offset|: a torn tail only at the end of the last segment, and only
    // if nothing valid follows (a crash cannot leave a good record after a bad one, rot can).
    scan.valid_end = offset;
    std::string reason(ParseResultName(result));
    if (!is_last) {
      scan.corruption = Corrupt(path, offset, reason, repair_hint_dir);
      return scan;
    }
    absl::StatusOr<std::string_view> tail =
        cursor.Peek(static_cast<size_t>(scan.file_size - offset));
    if (!tail.ok()) {
      return tail.status();
    }
    size_t at = 0;
    uint64_t found_lsn = 0;
    if (FindValidRecord(*tail, expected, &at, &found_lsn)) {
      scan.corruption = Corrupt(
          path, offset,
          absl::StrCat(reason, ", and a valid record (LSN ", found_lsn, ") follows at offset ",
                       offset + at, ", so this is damage inside the log, not a torn tail"),
          repair_hint_dir);
      return scan;
    }
    scan.torn = true;
    scan.torn_reason = reason;
    return scan;
  }
  scan.valid_end = cursor.offset();
  return scan;
}

absl::StatusOr<SnapshotScan> ScanSnapshot(
    FileLayer* files, const std::string& path,
    const std::function<absl::Status(const RecordView&)>& on_record) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = files->OpenReadable(path);
  if (!file.ok()) {
    return file.status();
  }
  absl::StatusOr<uint64_t> size = (*file)->Size();
  if (!size.ok()) {
    return size.status();
  }
  auto bad = [&path](uint64_t offset, std::string_view reason) {
    return absl::DataLossError(ToAbsl(absl::StrCat(
        "wal: corrupt snapshot ", path, " at byte offset ", offset, ": ", ToAbsl(reason),
        ". A snapshot cannot be repaired: restore the log directory from a backup or a "
        "follower")));
  };
  if (*size < kFileHeaderSize + kSnapshotFooterSize) {
    return bad(0, absl::StrCat("file too short (", *size, " bytes)"));
  }
  ChunkReader cursor(file->get(), 0);
  absl::StatusOr<std::string_view> header = cursor.Peek(kFileHeaderSize);
  if (!header.ok()) {
    return header.status();
  }
  SnapshotScan scan;
  absl::Status header_status = DecodeFileHeader(*header, kSnapshotMagic, &scan.lsn);
  if (!header_status.ok()) {
    return bad(0, absl::StrCat("snapshot header: ", header_status.message()));
  }
  uint64_t name_lsn = 0;
  if (ParseSnapshotFileName(BaseName(path), &name_lsn) && name_lsn != scan.lsn) {
    return bad(0, absl::StrCat("the header says it covers LSN ", scan.lsn));
  }
  cursor.Skip(kFileHeaderSize);
  const uint64_t records_end = *size - kSnapshotFooterSize;
  while (cursor.offset() < records_end) {
    uint64_t offset = cursor.offset();
    absl::StatusOr<std::string_view> bytes = cursor.Peek(kRecordHeaderSize, records_end);
    if (!bytes.ok()) {
      return bytes.status();
    }
    if (bytes->size() >= kRecordHeaderSize && GetU32(bytes->data()) <= kMaxPayloadSize) {
      bytes = cursor.Peek(EncodedRecordSize(GetU32(bytes->data())), records_end);
      if (!bytes.ok()) {
        return bytes.status();
      }
    }
    RecordView record;
    ParseResult result = ParseRecord(*bytes, &record);
    if (result != ParseResult::kOk) {
      return bad(offset, ParseResultName(result));
    }
    if (record.flags != 0) {
      return bad(offset, "record flags this ringward does not know");
    }
    if (record.lsn != scan.records + 1) {
      return bad(offset, absl::StrCat("record number ", record.lsn, " where ", scan.records + 1,
                                      " was expected"));
    }
    if (on_record) {
      absl::Status status = on_record(record);
      if (!status.ok()) {
        return status;
      }
    }
    ++scan.records;
    cursor.Skip(EncodedRecordSize(record.length));
  }
  absl::StatusOr<std::string_view> footer = cursor.Peek(kSnapshotFooterSize);
  if (!footer.ok()) {
    return footer.status();
  }
  if (footer->size() != kSnapshotFooterSize || footer->substr(0, 8) != kSnapshotFooterMagic) {
    return bad(records_end, "missing snapshot footer");
  }
  const char* f = footer->data();
  if (GetU32(f + 28) != Crc32c(footer->substr(0, 28)) || GetU32(f + 24) != 0) {
    return bad(records_end, "snapshot footer checksum mismatch");
  }
  if (GetU64(f + 8) != scan.records || GetU64(f + 16) != scan.lsn) {
    return bad(
        records_end,
        absl::StrCat("the footer says ", GetU64(f + 8), " records covering LSN ", GetU64(f + 16),
                     ", the file has ", scan.records, " covering LSN ", scan.lsn));
  }
  return scan;
}

}  // namespace ringward::revocation::wal_format
