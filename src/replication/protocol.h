// replication/protocol.h: the replication wire protocol shared by the leader and the followers
// (specified in protocol.md beside this file): the stream's path and media type, frame encoders
// and decoders (every frame is framed exactly like a write-ahead log record, so the follower
// checks each one with wal_format::ParseRecord), an incremental FrameReader, and the shared
// credential (loading it from a file and comparing it in constant time).
//
// Thread-safety: the free functions are pure and thread-safe. A FrameReader is used by one thread
// at a time.
// Ownership: encoders append to a string the caller owns; a frame returned by FrameReader::Next
// views into the reader's buffer.
#ifndef RINGWARD_REPLICATION_PROTOCOL_H_
#define RINGWARD_REPLICATION_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "revocation/wal_format.h"

namespace ringward::replication {

// Control frames use frame types from kControlFrameMin up; log records use the log's own types
// (1..15 revocations, 32..63 issuance), which stay far below it.
inline constexpr uint16_t kControlFrameMin = 0xFF00;
// kFrameHeartbeat: lsn = the leader's durable LSN, payload = the leader's unix time in ms (u64 LE).
inline constexpr uint16_t kFrameHeartbeat = 0xFF01;
// kFrameSnapshotBegin: lsn = the LSN the snapshot covers, empty payload. The snapshot's records
// follow as frames with lsn 0, then kFrameSnapshotEnd.
inline constexpr uint16_t kFrameSnapshotBegin = 0xFF02;
// kFrameSnapshotEnd: lsn = the covered LSN, payload = the number of snapshot records (u64 LE).
inline constexpr uint16_t kFrameSnapshotEnd = 0xFF03;

inline constexpr std::string_view kStreamPath = "/replication/v1/stream";
inline constexpr std::string_view kStreamContentType = "application/vnd.ringward.wal-stream";

// kMaxRequestHeadBytes bounds the request line plus headers a leader reads.
inline constexpr size_t kMaxRequestHeadBytes = 8 * 1024;
// The credential's length bounds, in characters (the same as the admin token's).
inline constexpr size_t kMinCredentialBytes = 16;
inline constexpr size_t kMaxCredentialBytes = 4096;

// IsControlFrame says whether |type| is a control frame (heartbeat, snapshot markers, or a
// control type from a newer leader that a follower must ignore) rather than a log record.
bool IsControlFrame(uint16_t type);

// Encoders. Each appends one complete frame (wal_format::AppendRecord framing) to |*out|.
void AppendHeartbeat(std::string* out, uint64_t leader_durable_lsn, int64_t unix_ms);
void AppendSnapshotBegin(std::string* out, uint64_t covered_lsn);
void AppendSnapshotEnd(std::string* out, uint64_t covered_lsn, uint64_t records);
// AppendRecordFrame frames a log record (lsn = its LSN, or 0 inside a snapshot). |type| must not
// be a control type and |payload| must fit wal_format::kMaxPayloadSize: the log guarantees both
// for what it returns, so they are the caller's contract, not checked here.
void AppendRecordFrame(std::string* out, uint64_t lsn, uint16_t type, std::string_view payload);

// Decoders for the control frames with a payload. They return false when |frame| is not of that
// type or its payload has the wrong size.
bool DecodeHeartbeat(const revocation::wal_format::RecordView& frame, uint64_t* lsn,
                     int64_t* unix_ms);
bool DecodeSnapshotEnd(const revocation::wal_format::RecordView& frame, uint64_t* lsn,
                       uint64_t* records);

// FrameReader splits a byte stream into frames: feed it whatever the connection delivered, then
// pull frames until Next returns false. It checks each frame's framing and CRC32C (through
// wal_format::ParseRecord), that flags are 0 and type is not 0, and the payload size of the
// control frames defined above. It does not check LSN order: that is the follower's job.
class FrameReader {
 public:
  FrameReader() = default;
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Feed appends |bytes| to the buffer. It invalidates the frame the last Next returned.
  void Feed(std::string_view bytes);
  // Next sets |*frame| to the next complete frame and returns true, or returns false when the
  // buffer holds only part of a frame (feed more). |*frame| views into the reader and stays
  // valid until the next Feed or Next. A damaged frame is DataLoss (naming the stream offset and
  // the defect) and the reader stays failed: the stream cannot be resynchronised, the follower
  // must reconnect.
  absl::StatusOr<bool> Next(revocation::wal_format::RecordView* frame);
  // buffered: bytes received but not yet returned as a frame (a partial frame at the end).
  size_t buffered() const { return buffer_.size() - pos_; }
  // offset: the stream offset of the next frame (bytes consumed so far).
  uint64_t offset() const { return consumed_ + pos_; }

 private:
  std::string buffer_;
  size_t pos_ = 0;         // start of the next frame in buffer_
  uint64_t consumed_ = 0;  // bytes dropped from the front of buffer_
  absl::Status error_;     // sticky
};

// IsValidCredential says whether |secret| (already trimmed) is 16..4096 characters of the
// RFC 6750 b64token alphabet: A-Z a-z 0-9 - . _ ~ + / then optional trailing '=' padding.
bool IsValidCredential(std::string_view secret);

// LoadCredential reads the shared replication secret from |path|: one line (surrounding spaces,
// tabs and newlines trimmed) that IsValidCredential accepts. The file must not be readable or
// writable by group or other users. Errors name the file and the fix: FailedPrecondition for an
// unreadable file or loose permissions ("chmod 600 <path>"), InvalidArgument for bad content.
absl::StatusOr<std::string> LoadCredential(const std::string& path);

// The leader checks a follower's credential with ringward::SecretDigest
// ("ringward/base/secret_digest.h"): SHA-256 digests compared in constant time.

}  // namespace ringward::replication

#endif  // RINGWARD_REPLICATION_PROTOCOL_H_
