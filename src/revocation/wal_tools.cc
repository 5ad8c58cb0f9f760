// DumpWal and RepairWal: `ringward wal dump` and `ringward wal repair`.
#include "ringward/revocation/wal_tools.h"

#include <algorithm>
#include <cinttypes>
#include <memory>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "revocation/wal_format.h"
#include "ringward/base/strings.h"

namespace ringward::revocation {
namespace {

using wal_format::RecordView;

struct Listing {
  std::vector<uint64_t> segments;  // first LSNs, sorted
  std::vector<uint64_t> snapshots;
  std::set<std::string> names;
};

absl::StatusOr<Listing> ListLog(FileLayer* files, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = files->ListDir(dir);
  if (!names.ok()) {
    return names.status();
  }
  Listing listing;
  for (const std::string& name : *names) {
    uint64_t lsn = 0;
    if (wal_format::ParseSegmentFileName(name, &lsn)) {
      listing.segments.push_back(lsn);
    } else if (wal_format::ParseSnapshotFileName(name, &lsn)) {
      listing.snapshots.push_back(lsn);
    }
    listing.names.insert(name);
  }
  std::sort(listing.segments.begin(), listing.segments.end());
  std::sort(listing.snapshots.begin(), listing.snapshots.end());
  return listing;
}

// FirstKept drops the segments that the newest snapshot covers wholly, as Open does.
size_t FirstKept(const Listing& listing) {
  uint64_t snapshot = listing.snapshots.empty() ? 0 : listing.snapshots.back();
  size_t first = 0;
  while (first + 1 < listing.segments.size() && listing.segments[first + 1] <= snapshot + 1) {
    ++first;
  }
  return first;
}

std::string Preview(std::string_view payload, size_t limit) {
  std::string out;
  size_t n = std::min(payload.size(), limit);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(payload[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (payload.size() > limit) {
    out += "...";
  }
  return out;
}

void PrintRecord(std::FILE* out, const WalDumpOptions& options, std::string_view label,
                 uint64_t number, const RecordView& record) {
  std::string name = options.type_name ? options.type_name(record.type) : std::string();
  std::string type =
      name.empty() ? absl::StrCat(record.type) : absl::StrCat(record.type, " (", name, ")");
  std::fprintf(out, "  %.*s=%" PRIu64 " type=%s size=%u payload=\"%s\"\n",
               static_cast<int>(label.size()), label.data(), number, type.c_str(), record.length,
               Preview(record.payload, options.preview_bytes).c_str());
}

absl::StatusOr<std::string> UniqueBackupName(const Listing& listing, const std::string& name) {
  std::string candidate = absl::StrCat(name, ".bak");
  for (int i = 1; listing.names.count(candidate) != 0; ++i) {
    if (i > 1000) {
      return absl::ResourceExhaustedError(absl::StrCat("too many backups of ", name));
    }
    candidate = absl::StrCat(name, ".bak.", i);
  }
  return candidate;
}

absl::Status CopyFile(FileLayer* files, const std::string& from, const std::string& to) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> in = files->OpenReadable(from);
  if (!in.ok()) {
    return in.status();
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> out =
      files->OpenWritable(to, WriteMode::kCreateExclusive);
  if (!out.ok()) {
    return out.status();
  }
  std::string buf(1 << 20, '\0');
  for (uint64_t offset = 0;;) {
    absl::StatusOr<size_t> got = (*in)->ReadAt(offset, buf.data(), buf.size());
    if (!got.ok()) {
      return got.status();
    }
    if (*got == 0) {
      break;
    }
    absl::Status status = (*out)->Append(std::string_view(buf.data(), *got));
    if (!status.ok()) {
      return status;
    }
    offset += *got;
  }
  return (*out)->Sync();
}

}  // namespace

absl::Status DumpWal(const std::string& dir, std::FILE* out, const WalDumpOptions& options,
                     FileLayer* files) {
  if (files == nullptr) {
    files = PosixFileLayer::Default();
  }
  absl::StatusOr<Listing> listing = ListLog(files, dir);
  if (!listing.ok()) {
    return listing.status();
  }
  std::fprintf(out, "ringward write-ahead log %s (format version %u)\n", dir.c_str(),
               wal_format::kFormatVersion);
  if (!listing->snapshots.empty()) {
    const std::string name = wal_format::SnapshotFileName(listing->snapshots.back());
    std::fprintf(out, "snapshot %s: covers LSNs up to %" PRIu64 "\n", name.c_str(),
                 listing->snapshots.back());
    absl::StatusOr<wal_format::SnapshotScan> scan = wal_format::ScanSnapshot(
        files, absl::StrCat(dir, "/", name), [&](const RecordView& record) {
          PrintRecord(out, options, "item", record.lsn, record);
          return absl::OkStatus();
        });
    if (!scan.ok()) {
      std::fprintf(out, "DAMAGED: %s\n", std::string(scan.status().message()).c_str());
      return scan.status();
    }
    std::fprintf(out, "snapshot: %" PRIu64 " records\n", scan->records);
  }
  uint64_t records = 0;
  uint64_t first_lsn = 0;
  uint64_t last_lsn = 0;
  size_t first = FirstKept(*listing);
  uint64_t expected = first < listing->segments.size() ? listing->segments[first] : 0;
  const uint64_t snapshot = listing->snapshots.empty() ? 0 : listing->snapshots.back();
  if (expected > snapshot + 1) {
    absl::Status gap =
        absl::DataLossError(absl::StrCat("wal: ", dir, ": LSNs ", snapshot + 1, "..", expected - 1,
                                         " are missing before the oldest segment"));
    std::fprintf(out, "DAMAGED: %s\n", std::string(gap.message()).c_str());
    return gap;
  }
  for (size_t i = first; i < listing->segments.size(); ++i) {
    const std::string name = wal_format::SegmentFileName(listing->segments[i]);
    const bool is_last = i + 1 == listing->segments.size();
    std::fprintf(out, "segment %s:\n", name.c_str());
    absl::StatusOr<wal_format::SegmentScan> scan = wal_format::ScanSegment(
        files, absl::StrCat(dir, "/", name), expected, is_last, dir, [&](const RecordView& record) {
          PrintRecord(out, options, "lsn", record.lsn, record);
          if (first_lsn == 0) {
            first_lsn = record.lsn;
          }
          last_lsn = record.lsn;
          ++records;
          return absl::OkStatus();
        });
    if (!scan.ok()) {
      std::fprintf(out, "ERROR: %s\n", std::string(scan.status().message()).c_str());
      return scan.status();
    }
    if (!scan->corruption.ok()) {
      std::fprintf(out, "DAMAGED: %s\n", std::string(scan->corruption.message()).c_str());
      return scan->corruption;
    }
    if (scan->torn) {
      std::fprintf(out,
                   "  torn tail: %" PRIu64 " bytes at offset %" PRIu64
                   " (%s); the next start cuts it off\n",
                   scan->file_size - scan->valid_end, scan->valid_end, scan->torn_reason.c_str());
    }
    expected = scan->next_lsn;
  }
  if (records == 0) {
    std::fprintf(out, "log: no records\n");
  } else {
    std::fprintf(out, "log: %" PRIu64 " records, LSNs %" PRIu64 "..%" PRIu64 "\n", records,
                 first_lsn, last_lsn);
  }
  return absl::OkStatus();
}

std::string WalRepairReport::ToString() const {
  if (!repaired) {
    std::string out = "no damage found; nothing changed";
    if (!torn_tail.empty()) {
      absl::StrAppend(&out, " (", torn_tail, ")");
    }
    return out;
  }
  std::string out =
      absl::StrCat("cut ", segment, " at byte offset ", offset, "; the log now ends at LSN ",
                   last_lsn, "; removed ", bytes_removed, " bytes, kept in:");
  for (const std::string& backup : backups) {
    absl::StrAppend(&out, " ", backup);
  }
  return out;
}

absl::StatusOr<WalRepairReport> RepairWal(const std::string& dir, FileLayer* files) {
  if (files == nullptr) {
    files = PosixFileLayer::Default();
  }
  auto path = [&dir](const std::string& name) { return absl::StrCat(dir, "/", name); };
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      files->Lock(path(std::string(wal_format::kLockFileName)));
  if (!lock.ok()) {
    return lock.status();
  }
  absl::StatusOr<Listing> listing = ListLog(files, dir);
  if (!listing.ok()) {
    return listing.status();
  }
  uint64_t snapshot = 0;
  if (!listing->snapshots.empty()) {
    snapshot = listing->snapshots.back();
    absl::StatusOr<wal_format::SnapshotScan> scan =
        wal_format::ScanSnapshot(files, path(wal_format::SnapshotFileName(snapshot)), nullptr);
    if (!scan.ok()) {
      return scan.status();
    }
  }
  size_t first = FirstKept(*listing);
  WalRepairReport report;
  if (first >= listing->segments.size()) {
    return report;
  }
  if (listing->segments[first] > snapshot + 1) {
    return absl::DataLossError(
        absl::StrCat("wal: ", dir, ": LSNs ", snapshot + 1, "..", listing->segments[first] - 1,
                     " are missing before the oldest segment; repair cannot recreate them. "
                     "Restore the log directory from a backup or a follower"));
  }
  uint64_t expected = listing->segments[first];
  for (size_t i = first; i < listing->segments.size(); ++i) {
    const std::string name = wal_format::SegmentFileName(listing->segments[i]);
    const bool is_last = i + 1 == listing->segments.size();
    absl::StatusOr<wal_format::SegmentScan> scan =
        wal_format::ScanSegment(files, path(name), expected, is_last, dir, nullptr);
    if (!scan.ok()) {
      return scan.status();
    }
    if (scan->torn) {
      report.torn_tail =
          absl::StrCat("a torn tail of ", scan->file_size - scan->valid_end, " bytes in ", name,
                       " is cut off by the next start, as after any crash");
    }
    if (scan->corruption.ok()) {
      expected = scan->next_lsn;
      continue;
    }

    // Damage at (name, valid_end): back the segment up, cut it, move later segments aside.
    report.repaired = true;
    report.segment = name;
    report.offset = scan->valid_end;
    report.last_lsn = scan->next_lsn - 1;
    absl::StatusOr<std::string> backup = UniqueBackupName(*listing, name);
    if (!backup.ok()) {
      return backup.status();
    }
    absl::Status status = CopyFile(files, path(name), path(*backup));
    if (!status.ok()) {
      return status;
    }
    report.backups.push_back(*backup);
    report.bytes_removed += scan->file_size - scan->valid_end;
    if (scan->valid_end == 0) {
      status = files->Remove(path(name));
    } else {
      status = files->Truncate(path(name), scan->valid_end);
      if (status.ok()) {
        absl::StatusOr<std::unique_ptr<WritableFile>> file =
            files->OpenWritable(path(name), WriteMode::kAppendExisting);
        status = file.ok() ? (*file)->Sync() : file.status();
      }
    }
    if (!status.ok()) {
      return status;
    }
    for (size_t j = i + 1; j < listing->segments.size(); ++j) {
      const std::string later = wal_format::SegmentFileName(listing->segments[j]);
      absl::StatusOr<std::unique_ptr<ReadableFile>> file = files->OpenReadable(path(later));
      if (file.ok()) {
        absl::StatusOr<uint64_t> size = (*file)->Size();
        if (size.ok()) {
          report.bytes_removed += *size;
        }
      }
      absl::StatusOr<std::string> later_backup = UniqueBackupName(*listing, later);
      if (!later_backup.ok()) {
        return later_backup.status();
      }
      status = files->Rename(path(later), path(*later_backup));
      if (!status.ok()) {
        return status;
      }
      report.backups.push_back(*later_backup);
    }
    status = files->SyncDir(dir);
    if (!status.ok()) {
      return status;
    }
    return report;
  }
  return report;
}

}  // namespace ringward::revocation
