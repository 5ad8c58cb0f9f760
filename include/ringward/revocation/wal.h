// ringward/revocation/wal.h: WriteAheadLog, the durable source of truth for the control plane
// (revocations now; clients, users, keys and refresh tokens later) and the stream that followers
// replicate from a log sequence number (LSN).
//
// A record is (LSN, type, payload). LSNs start at 1 and are contiguous. The log knows nothing
// of what types mean: callers own the type numbers (0 is reserved) and payload encodings, and
// readers pass unknown types through. The format on disk is specified in
// src/revocation/wal_format.md.
//
// Durability: Append answers only after the record is on disk (write + fdatasync). One sync
// thread batches everything queued while a sync was in flight into one write and one
// fdatasync (group commit). If a write or fdatasync ever fails, the log stops acknowledging
// for good: see healthy().
//
// Thread-safety: every member of WriteAheadLog may be called from any thread. A WalReader or
// WalSnapshotReader is used by one thread at a time. The log must outlive its readers.
// Blocking: Open, AppendAndWait, WaitForDurable, Compact, InstallSnapshot and the readers do
// file I/O or wait; call them from control-plane threads, never from a shard. Append never
// blocks on I/O (it waits for the log's lock only, which no one holds across I/O).
#ifndef RINGWARD_REVOCATION_WAL_H_
#define RINGWARD_REVOCATION_WAL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ringward/revocation/wal_file_layer.h"

namespace ringward::revocation {

// WalRecord is one record as readers return it. For snapshot records, lsn is the LSN the
// snapshot covers.
struct WalRecord {
  uint64_t lsn = 0;
  uint16_t type = 0;
  std::string payload;
};

struct WalOptions {
  // segment_bytes: a new segment file is started before a record that would make the current
  // one larger than this (a single larger record gets a segment of its own).
  uint64_t segment_bytes = 64ull << 20;
};

// WalRecoveryReport says what Open found and did.
struct WalRecoveryReport {
  uint64_t snapshot_lsn = 0;  // 0: no snapshot
  uint64_t snapshot_records = 0;
  uint64_t segments = 0;           // segments kept
  uint64_t records_recovered = 0;  // valid records in the kept segments
  uint64_t first_lsn = 0;          // oldest LSN in the segments
  uint64_t last_lsn = 0;           // newest LSN (0: empty log)
  // A torn tail (an interrupted write at the end of the last segment) that was cut off.
  bool truncated = false;
  std::string truncated_segment;  // file name
  uint64_t truncated_offset = 0;  // where the segment was cut (0: the segment was removed)
  uint64_t bytes_truncated = 0;
  std::string truncated_reason;
  // Files removed: segments wholly covered by the snapshot (an interrupted compaction),
  // leftover temporary files, older snapshots, a last segment with a torn header.
  std::vector<std::string> removed_files;
  // An install (WriteAheadLog::InstallSnapshot) that was committed but interrupted before it
  // had replaced the old files was finished: the LSN its snapshot covers (0: none).
  uint64_t install_finished_lsn = 0;

  std::string ToString() const;
};

struct WalSegmentInfo {
  std::string name;
  uint64_t first_lsn = 0;
  uint64_t bytes = 0;  // durable bytes
};

// WalStatus is what the admin API shows.
struct WalStatus {
  uint64_t last_lsn = 0;     // newest LSN assigned (written, perhaps not yet synced)
  uint64_t durable_lsn = 0;  // newest LSN on disk and acknowledged
  uint64_t oldest_lsn = 0;   // oldest LSN a reader can start from
  uint64_t snapshot_lsn = 0;
  std::vector<WalSegmentInfo> segments;
  int64_t last_sync_micros = 0;  // duration of the last fdatasync
  uint64_t syncs = 0;            // fdatasyncs since Open
  uint64_t records = 0;          // records made durable since Open
  uint64_t bytes = 0;            // bytes made durable since Open
  uint64_t queued = 0;           // appends waiting for the sync thread
  bool healthy = true;
  std::string error;  // why the log stopped, when !healthy
};

// WalAppendCallback receives the record's LSN once it is durable, or the error. It runs on the
// log's sync thread: it must be quick and must not call AppendAndWait or destroy the log.
using WalAppendCallback = absl::AnyInvocable<void(absl::StatusOr<uint64_t> lsn)>;

class WalReader;
class WalSnapshotReader;
class WalSnapshotWriter;
namespace wal_format {
class ChunkReader;
}  // namespace wal_format

class WriteAheadLog {
 public:
  // Open opens (creating it if missing) the log in |dir| and recovers it: loads and checks the
  // snapshot, then every segment after it. A torn tail at the end of the last segment is cut
  // off and reported in recovery_report(); any other damage (a bad record followed by valid
  // ones, a bad record in an older segment, an LSN gap) fails with DataLoss naming the file
  // and byte offset and suggesting `ringward wal repair`. |files| (borrowed, must outlive the
  // log) defaults to PosixFileLayer::Default(). Fails with FailedPrecondition if another
  // process has the log open.
  static absl::StatusOr<std::unique_ptr<WriteAheadLog>> Open(const std::string& dir,
                                                             const WalOptions& options,
                                                             FileLayer* files = nullptr);

  // The destructor answers everything appended before it (writing and syncing it if the log is
  // healthy) and stops the sync thread.
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Append queues a record and returns at once; |done| runs exactly once, on the sync thread,
  // with the LSN after the record is durable, or with an error: InvalidArgument for type 0 or
  // a payload above 4 MiB, Unavailable once the log has failed. An error means the outcome is
  // unknown (the record may or may not be on disk after a restart), as with any database.
  void Append(uint16_t type, std::string payload, WalAppendCallback done);

  // AppendAndWait appends and blocks until the record is durable (for tools and tests).
  absl::StatusOr<uint64_t> AppendAndWait(uint16_t type, std::string payload);

  // NewReader returns a reader of the durable records from |from_lsn| on. OutOfRange if
  // from_lsn is older than oldest_lsn() (compacted: start from the snapshot) or newer than
  // durable_lsn() + 1.
  absl::StatusOr<std::unique_ptr<WalReader>> NewReader(uint64_t from_lsn);

  // WaitForDurable blocks until durable_lsn() >= |lsn|, the log fails, or |timeout| passes;
  // it returns whether durable_lsn() >= lsn. Followers' streamers wait here for new records.
  bool WaitForDurable(uint64_t lsn, std::chrono::milliseconds timeout);

  // Compaction. The caller serialises its live state as of an LSN (every record up to and
  // including |covered_lsn| applied, nothing after) into snapshot records; the log writes them
  // to a snapshot file atomically (temp file, fdatasync, rename, fsync of the directory), then
  // removes the segments whose records are all covered. |covered_lsn| must be at most
  // durable_lsn() and at least snapshot_lsn(). Records' lsn fields are ignored.
  absl::Status Compact(uint64_t covered_lsn, absl::Span<const WalRecord> live_records);
  // BeginSnapshot and CommitSnapshot do the same for a state too large to hold as a vector:
  // add records to the writer, then commit it (which also removes covered segments).
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> BeginSnapshot(uint64_t covered_lsn);
  absl::Status CommitSnapshot(std::unique_ptr<WalSnapshotWriter> writer);

  // InstallSnapshot replaces the whole log by a snapshot covering |covered_lsn| holding
  // |records| (their lsn fields are ignored): a follower bootstrapping from its leader. The
  // log may be empty, behind covered_lsn or ahead of it (a follower whose own history the
  // leader's replaced): either way every existing segment and snapshot goes, and afterwards
  // snapshot_lsn() == durable_lsn() == covered_lsn, oldest_lsn() == covered_lsn + 1 and the next
  // Append gets covered_lsn + 1. Crash-safe: the commit point is the durable rename of
  // install-<LSN>.snap; a crash before it leaves the old log, after it Open finishes the
  // install (wal_format.md, "Installing a snapshot").
  //
  // Concurrency: it waits for the batch the sync thread is writing, if any, and holds the sync
  // thread off until it is done. Appends still queued when it starts, and appends made while
  // it runs, are not written: they fail with FailedPrecondition (they were made against the
  // history being replaced), answered on the sync thread once the install is over. Readers of
  // the old log get OutOfRange from their next Next; NewReader is Unavailable during an install.
  // Never call it from an append callback (it waits for the sync thread); one install at a time.
  //
  // Errors: InvalidArgument (covered_lsn 0 or UINT64_MAX, a bad record), Unavailable if the
  // log has failed. A failure before the commit point leaves the log as it was and healthy; a
  // failure after it stops the log (healthy() false, like a failed fdatasync) and the next
  // Open finishes the install.
  absl::Status InstallSnapshot(uint64_t covered_lsn, absl::Span<const WalRecord> records);
  // BeginInstall and CommitInstall do the same for a snapshot too large to hold as a vector
  // (streamed from the leader): add its records to the writer, then commit it. The writer's
  // temporary file is install-<LSN>.snap.tmp, so a compaction running meanwhile is not
  // disturbed (but it is refused at its commit: the history it describes is gone).
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> BeginInstall(uint64_t covered_lsn);
  absl::Status CommitInstall(std::unique_ptr<WalSnapshotWriter> writer);

  // NewSnapshotReader reads the current snapshot (NotFound if there is none). Replay at start
  // is: the snapshot's records, then NewReader(snapshot_lsn() + 1).
  absl::StatusOr<std::unique_ptr<WalSnapshotReader>> NewSnapshotReader();

  // durable_lsn: the newest acknowledged LSN (0 when the log is empty). Lock-free.
  uint64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  // oldest_lsn: the oldest LSN still in the segments, what a follower can stream from.
  uint64_t oldest_lsn() const;
  uint64_t snapshot_lsn() const;

  // healthy is false once a write or fdatasync failed. The log then fails every append and
  // never retries: after a failed fdatasync, Linux may already have dropped the dirty pages
  // and cleared the error, so a retried fdatasync can report success for data that is not on
  // disk (PostgreSQL learnt this in 2018, "fsyncgate"). Only a restart, which recovers from
  // what really is on disk, brings it back.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  // failure returns the error that stopped the log (OK while healthy).
  absl::Status failure() const;

  WalStatus GetStatus() const;
  const WalRecoveryReport& recovery_report() const { return report_; }
  const std::string& dir() const { return dir_; }

 private:
  friend class WalReader;
  friend class WalSnapshotWriter;

  struct Pending {
    uint16_t type;
    std::string payload;
    WalAppendCallback done;
    uint64_t lsn = 0;  // assigned when encoded
    absl::Status error;
  };
  struct Segment {
    uint64_t first_lsn;
    uint64_t durable_bytes;
  };

  WriteAheadLog(std::string dir, const WalOptions& options, FileLayer* files);
  absl::Status Recover();
  // FinishInstall does the part of an install after its commit point, on disk only: removes
  // every segment and snapshot, syncs the directory, renames install-<lsn>.snap to
  // snapshot-<lsn>.snap and syncs the directory again. Open and CommitInstall both use it.
  absl::Status FinishInstall(uint64_t lsn, std::vector<std::string>* removed);
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> NewSnapshotWriter(uint64_t covered_lsn,
                                                                       bool install);
  absl::Status SwitchToInstalled(WalSnapshotWriter& writer);
  std::string PathOf(std::string_view name) const;

  // Sync thread.
  void SyncLoop();
  void WriteBatch(std::vector<Pending>& batch);
  absl::Status FlushAndSync(uint64_t records);
  absl::Status StartSegment();  // also used by Recover before the thread starts
  // CreateSegmentFile creates segment |first| with its header, durable (file and directory).
  absl::StatusOr<std::unique_ptr<WritableFile>> CreateSegmentFile(uint64_t first);
  void Publish(uint64_t records, uint64_t bytes, int64_t sync_micros);
  absl::Status Fail(const absl::Status& cause);

  // Reader support: the segment holding |lsn|, and the durable end of a segment.
  absl::Status FindSegment(uint64_t lsn, uint64_t* first_lsn) const;
  bool SegmentDurableEnd(uint64_t first_lsn, uint64_t* bytes, bool* sealed) const;

  const std::string dir_;
  const WalOptions options_;
  FileLayer* const files_;
  std::unique_ptr<FileLock> lock_;
  WalRecoveryReport report_;

  // Group commit state. mu_ guards everything below up to the atomics; work_cv_ wakes the
  // sync thread when an append is queued or the log closes, durable_cv_ wakes
  // WaitForDurable when records become durable or the log fails. The lock is held only to
  // swap the queue or publish results, never across I/O, so Append never waits for a disk.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable durable_cv_;
  // idle_cv_ wakes an install waiting for the sync thread to finish its batch.
  std::condition_variable idle_cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  // installing_: an install owns the files and the sync thread's state; the sync thread takes
  // no batch and Append marks what it queues as refused. sync_busy_: the sync thread is
  // writing or answering a batch.
  bool installing_ = false;
  bool sync_busy_ = false;
  absl::Status failure_;
  std::vector<Segment> segments_;  // oldest first; the last is being appended to
  uint64_t snapshot_lsn_ = 0;
  uint64_t last_lsn_ = 0;
  uint64_t syncs_ = 0;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  int64_t last_sync_micros_ = 0;
  // durable_lsn_ and healthy_ are also readable without mu_: they are stored (release) under
  // mu_ after the data they describe is on disk and segments_ is updated, and loaded with
  // acquire, so a reader that sees LSN n durable also sees the segment bytes that hold it.
  std::atomic<uint64_t> durable_lsn_{0};
  std::atomic<bool> healthy_{true};
  // generation_ counts committed installs. Readers and compactions remember it when they
  // start and give up when it changed: the history they were reading or describing is gone.
  std::atomic<uint64_t> generation_{0};

  // Owned by the sync thread (and by Open before the thread starts).
  std::unique_ptr<WritableFile> current_;
  uint64_t next_lsn_ = 1;
  std::string batch_buf_;

  std::mutex compact_mu_;  // one compaction or install commit at a time
  std::thread sync_thread_;
};

// WalReader iterates the durable records in LSN order, across segments, from a start LSN.
class WalReader {
 public:
  ~WalReader();
  // Next fills |*record| (its payload buffer is reused) with the next record and returns true,
  // or returns false when that record is not durable yet (poll again, or WaitForDurable).
  // DataLoss on a damaged record; OutOfRange if the segment was compacted away meanwhile.
  absl::StatusOr<bool> Next(WalRecord* record);
  // next_lsn: the LSN the next successful Next returns.
  uint64_t next_lsn() const { return next_lsn_; }

 private:
  friend class WriteAheadLog;
  // Out of line (as is the destructor): ChunkReader is incomplete here.
  WalReader(WriteAheadLog* log, uint64_t from_lsn);
  absl::Status OpenSegment(uint64_t first_lsn);

  WriteAheadLog* log_;
  uint64_t next_lsn_;
  uint64_t durable_ = 0;  // cached log durable LSN
  std::unique_ptr<ReadableFile> file_;
  std::unique_ptr<wal_format::ChunkReader> cursor_;
  std::string path_;
  uint64_t segment_first_ = 0;
  uint64_t segment_end_ = 0;  // durable end of the segment, as last seen
  bool sealed_ = false;       // no more records will be added to the segment
  uint64_t file_lsn_ = 0;     // LSN of the record at the cursor
  uint64_t generation_ = 0;   // the log's install generation when the reader was made
};

// WalSnapshotReader iterates the records of one snapshot; record.lsn is the LSN it covers.
class WalSnapshotReader {
 public:
  ~WalSnapshotReader();
  uint64_t lsn() const { return lsn_; }
  uint64_t records() const { return records_; }
  // Next fills |*record| and returns true, or returns false after the last record.
  absl::StatusOr<bool> Next(WalRecord* record);

 private:
  friend class WriteAheadLog;
  WalSnapshotReader();

  std::string path_;
  uint64_t lsn_ = 0;
  uint64_t records_ = 0;
  uint64_t read_ = 0;
  uint64_t records_end_ = 0;
  std::unique_ptr<ReadableFile> file_;
  std::unique_ptr<wal_format::ChunkReader> cursor_;
};

// WalSnapshotWriter accumulates the records of a snapshot in a temporary file; it becomes the
// snapshot only through WriteAheadLog::CommitSnapshot (from BeginSnapshot) or CommitInstall
// (from BeginInstall). Destroyed uncommitted, it removes the temporary file.
class WalSnapshotWriter {
 public:
  ~WalSnapshotWriter();
  // Add appends one record: InvalidArgument for type 0 or a payload above 4 MiB.
  absl::Status Add(uint16_t type, std::string_view payload);
  uint64_t covered_lsn() const { return covered_lsn_; }

 private:
  friend class WriteAheadLog;
  WalSnapshotWriter() = default;
  absl::Status Flush();
  absl::Status Finish();  // footer + fdatasync

  FileLayer* files_ = nullptr;
  std::string temp_path_;
  uint64_t covered_lsn_ = 0;
  uint64_t records_ = 0;
  std::unique_ptr<WritableFile> file_;
  std::string buf_;
  absl::Status error_;
  bool committed_ = false;
  bool install_ = false;     // made by BeginInstall
  uint64_t generation_ = 0;  // the log's install generation at BeginSnapshot
};

// ReplayLog hands |fn| every record a restart replays, in order: the snapshot's records
// (|from_snapshot| true; their lsn is the LSN the snapshot covers), then each durable record
// after the snapshot. It stops at the first error, |fn|'s or the log's. Blocking (file I/O).
absl::Status ReplayLog(WriteAheadLog& wal,
                       const std::function<absl::Status(const WalRecord& record,
                                                        bool from_snapshot)>& fn);

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_WAL_H_
