// revocation/wal_format.h: the write-ahead log's on-disk format (specified in wal_format.md):
// file names, the 32-byte file header, record framing, the snapshot footer, and the scanners
// that validate a segment or a snapshot and tell a torn tail from corruption.
//
// Internal to src/revocation (the log, its readers, dump and repair). Thread-safe: pure
// functions, except that the scanners read the file they are given.
#ifndef RINGWARD_REVOCATION_WAL_FORMAT_H_
#define RINGWARD_REVOCATION_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/revocation/wal_file_layer.h"

namespace ringward::revocation::wal_format {

inline constexpr std::string_view kSegmentMagic = "RWWALSEG";
inline constexpr std::string_view kSnapshotMagic = "RWWALSNP";
inline constexpr std::string_view kSnapshotFooterMagic = "RWSNPEND";
inline constexpr uint32_t kFormatVersion = 1;

inline constexpr size_t kFileHeaderSize = 32;
inline constexpr size_t kRecordHeaderSize = 16;  // length u32, type u16, flags u16, lsn u64
inline constexpr size_t kRecordTrailerSize = 4;  // crc32c u32
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + kRecordTrailerSize;
inline constexpr size_t kSnapshotFooterSize = 32;
// kMaxPayloadSize bounds one record (4 MiB): a larger length field is corruption, so a flipped
// high bit cannot make a reader allocate gigabytes.
inline constexpr uint32_t kMaxPayloadSize = 4u << 20;

// Little-endian fixed-width helpers.
void PutU16(char* p, uint16_t v);
void PutU32(char* p, uint32_t v);
void PutU64(char* p, uint64_t v);
uint16_t GetU16(const char* p);
uint32_t GetU32(const char* p);
uint64_t GetU64(const char* p);

// File names: the LSN as 20 decimal digits, so that name order is LSN order.
std::string SegmentFileName(uint64_t first_lsn);  // "wal-00000000000000000001.log"
std::string SnapshotFileName(uint64_t lsn);       // "snapshot-00000000000000000042.snap"
inline constexpr std::string_view kTempSuffix = ".tmp";
inline constexpr std::string_view kLockFileName = "LOCK";
bool ParseSegmentFileName(std::string_view name, uint64_t* first_lsn);
bool ParseSnapshotFileName(std::string_view name, uint64_t* lsn);

// EncodeFileHeader writes the 32-byte header of a segment (|magic| kSegmentMagic, |lsn| its
// first LSN) or a snapshot (kSnapshotMagic, the last LSN it covers) into |out|.
void EncodeFileHeader(std::string_view magic, uint64_t lsn, char* out);
// DecodeFileHeader checks |header| (kFileHeaderSize bytes) and sets |*lsn|; the error says
// which check failed (magic, checksum, version, reserved bits).
absl::Status DecodeFileHeader(std::string_view header, std::string_view magic, uint64_t* lsn);

inline size_t EncodedRecordSize(size_t payload_size) { return kRecordOverhead + payload_size; }
// AppendRecord appends one framed record to |out|.
void AppendRecord(std::string* out, uint64_t lsn, uint16_t type, std::string_view payload);

struct RecordView {
  uint32_t length = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint64_t lsn = 0;
  std::string_view payload;  // points into the parsed bytes
};

enum class ParseResult {
  kOk,
  kTruncated,    // fewer bytes than the header or than the length field announces
  kBadLength,    // length field above kMaxPayloadSize
  kBadChecksum,  // CRC32C mismatch
};
// ParseRecord parses the record at the start of |bytes|; on kOk, |*out| views into |bytes|
// and the record takes EncodedRecordSize(out->length) bytes. Flags and LSN are not checked.
ParseResult ParseRecord(std::string_view bytes, RecordView* out);
std::string_view ParseResultName(ParseResult result);

// EncodeSnapshotFooter writes the 32-byte footer (record count, covered LSN) into |out|.
void EncodeSnapshotFooter(uint64_t records, uint64_t lsn, char* out);

// ChunkReader reads a file sequentially through a buffer, never past a limit (readers use the
// durable end of the segment being written, so they never see half-written bytes).
class ChunkReader {
 public:
  ChunkReader(ReadableFile* file, uint64_t offset) : file_(file), offset_(offset) {}
  // Peek returns at least |n| bytes at the cursor, or fewer if the file (or |limit|) ends.
  absl::StatusOr<std::string_view> Peek(size_t n, uint64_t limit = UINT64_MAX);
  void Skip(size_t n);
  uint64_t offset() const { return offset_; }

 private:
  ReadableFile* file_;
  uint64_t offset_;  // file offset of buf_[pos_]
  std::string buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
};

// SegmentScan is what ScanSegment found in one segment.
struct SegmentScan {
  uint64_t first_lsn = 0;  // from the header
  uint64_t records = 0;    // valid records
  uint64_t next_lsn = 0;   // the LSN after the last valid record
  uint64_t valid_end = 0;  // offset after the last valid record; 0 if the header is invalid
  uint64_t file_size = 0;
  // torn: the bytes from valid_end to file_size are a torn tail (an interrupted write at the
  // end of the last segment) and may be cut off. valid_end == 0 means the whole file goes.
  bool torn = false;
  std::string torn_reason;
  // corruption: DataLoss naming the file and byte offset, or OK. When set, valid_end is the
  // offset of the first bad byte (where `ringward wal repair` cuts).
  absl::Status corruption;
};

// ScanSegment validates the segment at |path|: its header's first LSN must equal
// |expected_first_lsn|, records must be valid with contiguous LSNs. In the last segment
// (|is_last|) invalid bytes at the end are a torn tail when no valid record follows them;
// anywhere else they are corruption. |on_record| (may be empty) sees each valid record and may
// stop the scan with an error, which is returned. |repair_hint_dir| goes into messages.
absl::StatusOr<SegmentScan> ScanSegment(
    FileLayer* files, const std::string& path, uint64_t expected_first_lsn, bool is_last,
    const std::string& repair_hint_dir,
    const std::function<absl::Status(const RecordView&)>& on_record);

struct SnapshotScan {
  uint64_t lsn = 0;  // every record up to this LSN is reflected in the snapshot
  uint64_t records = 0;
};
// ScanSnapshot validates a whole snapshot file (header, every record, footer) and hands each
// record to |on_record| (may be empty). Any defect is DataLoss: a snapshot is renamed into
// place only after it was synced, so there is no torn tail to forgive.
absl::StatusOr<SnapshotScan> ScanSnapshot(
    FileLayer* files, const std::string& path,
    const std::function<absl::Status(const RecordView&)>& on_record);

// RepairHint is the sentence every corruption error ends with.
std::string RepairHint(const std::string& dir);

}  // namespace ringward::revocation::wal_format

#endif  // RINGWARD_REVOCATION_WAL_FORMAT_H_
