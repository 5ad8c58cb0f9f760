// WriteAheadLog: recovery, group commit, readers, compaction and snapshot installs. The format is
// in wal_format.md; the tests that define its failure behaviour are tests/revocation/wal_test.cc.
#include "ringward/revocation/wal.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "revocation/wal_format.h"
#include "ringward/base/strings.h"

namespace ringward::revocation {

using wal_format::ChunkReader;
using wal_format::EncodedRecordSize;
using wal_format::kFileHeaderSize;
using wal_format::kMaxPayloadSize;
using wal_format::kRecordHeaderSize;

namespace {

// kSnapshotFlushBytes: the snapshot writer's buffer; big enough that writes are efficient.
constexpr size_t kSnapshotFlushBytes = 1 << 20;

absl::Status CheckRecord(uint16_t type, size_t payload_size) {
  if (type == 0) {
    return absl::InvalidArgumentError("wal: record type 0 is reserved");
  }
  if (payload_size > kMaxPayloadSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("wal: record payload of ", payload_size, " bytes is above the 4 MiB maximum"));
  }
  return absl::OkStatus();
}

// An install's snapshot keeps another prefix until the old files are gone, so that nothing
// that looks for snapshots (Open's usual rules, older ringwards, the tools) takes it for a
// compaction's snapshot, which would keep the segments after it.
constexpr std::string_view kSnapshotPrefix = "snapshot-";
constexpr std::string_view kInstallPrefix = "install-";

std::string InstallFileName(uint64_t lsn) {
  return absl::StrCat(ToAbsl(kInstallPrefix),
                      wal_format::SnapshotFileName(lsn).substr(kSnapshotPrefix.size()));
}

bool ParseInstallFileName(std::string_view name, uint64_t* lsn) {
  if (!name.starts_with(kInstallPrefix)) {
    return false;
  }
  std::string as_snapshot(kSnapshotPrefix);
  as_snapshot.append(name.substr(kInstallPrefix.size()));
  return wal_format::ParseSnapshotFileName(as_snapshot, lsn);
}

absl::Status RefusedByInstall() {
  return absl::FailedPreconditionError(
      "wal: an installed snapshot replaced the log while this record was queued; it was not "
      "written");
}

}  // namespace

std::string WalRecoveryReport::ToString() const {
  std::string out;
  if (last_lsn == 0 && snapshot_lsn == 0) {
    out = "empty log";
  } else {
    out = absl::StrCat("recovered LSNs ", first_lsn, "..", last_lsn, " (", records_recovered,
                       " records in ", segments, " segments)");
  }
  if (snapshot_lsn != 0) {
    absl::StrAppend(&out, "; snapshot covers LSN ", snapshot_lsn, " (", snapshot_records,
                    " records)");
  }
  if (install_finished_lsn != 0) {
    absl::StrAppend(&out, "; finished an interrupted install of the snapshot covering LSN ",
                    install_finished_lsn);
  }
  if (truncated) {
    absl::StrAppend(&out, "; cut a torn tail of ", bytes_truncated, " bytes from ",
                    truncated_segment, " at offset ", truncated_offset, " (", truncated_reason,
                    ")");
  }
  if (!removed_files.empty()) {
    absl::StrAppend(&out, "; removed ", removed_files.size(), " files:");
    for (const std::string& name : removed_files) {
      absl::StrAppend(&out, " ", name);
    }
  }
  return out;
}

WriteAheadLog::WriteAheadLog(std::string dir, const WalOptions& options, FileLayer* files)
    : dir_(std::move(dir)), options_(options), files_(files) {}

std::string WriteAheadLog::PathOf(std::string_view name) const {
  return absl::StrCat(dir_, "/", ToAbsl(name));
}

absl::StatusOr<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const std::string& dir,
                                                                   const WalOptions& options,
                                                                   FileLayer* files) {
  if (files == nullptr) {
    files = PosixFileLayer::Default();
  }
  if (options.segment_bytes < kFileHeaderSize + wal_format::kRecordOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("wal: segment size ", options.segment_bytes, " is too small"));
  }
  std::string clean = dir;
  while (clean.size() > 1 && clean.back() == '/') {
    clean.pop_back();
  }
  if (clean.empty()) {
    return absl::InvalidArgumentError("wal: empty log directory");
  }
  std::unique_ptr<WriteAheadLog> log(new WriteAheadLog(std::move(clean), options, files));
  absl::Status status = log->Recover();
  if (!status.ok()) {
    return status;
  }
  log->sync_thread_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  return log;
}

absl::Status WriteAheadLog::Recover() {
  using wal_format::SegmentFileName;
  using wal_format::SnapshotFileName;

  absl::Status status = files_->CreateDir(dir_);
  if (!status.ok()) {
    return status;
  }
  absl::StatusOr<std::unique_ptr<FileLock>> lock = files_->Lock(PathOf(wal_format::kLockFileName));
  if (!lock.ok()) {
    return lock.status();
  }
  lock_ = std::move(*lock);

  absl::StatusOr<std::vector<std::string>> names = files_->ListDir(dir_);
  if (!names.ok()) {
    return names.status();
  }
  std::vector<uint64_t> segment_lsns;
  std::vector<uint64_t> snapshot_lsns;
  std::vector<uint64_t> install_lsns;
  std::vector<std::string> removals;
  for (const std::string& name : *names) {
    uint64_t lsn = 0;
    std::string_view view = name;
    if (wal_format::ParseSegmentFileName(view, &lsn)) {
      segment_lsns.push_back(lsn);
    } else if (wal_format::ParseSnapshotFileName(view, &lsn)) {
      snapshot_lsns.push_back(lsn);
    } else if (ParseInstallFileName(view, &lsn)) {
      install_lsns.push_back(lsn);
    } else if ((view.starts_with(kSnapshotPrefix) || view.starts_with(kInstallPrefix)) &&
               view.ends_with(wal_format::kTempSuffix)) {
      removals.push_back(name);  // a compaction or an install that did not commit
    }
  }

  // A committed install (its snapshot was renamed to install-<LSN>.snap and the directory
  // synced) replaces everything else, however far it had got: finish it before looking at
  // the rest, which then is that one snapshot.
  if (install_lsns.size() > 1) {
    return absl::DataLossError(absl::StrCat(
        "wal: ", dir_, " holds ", install_lsns.size(),
        " committed snapshot installs (install-*.snap), which ringward never leaves: keep the "
        "right one or restore the log directory from the leader"));
  }
  if (install_lsns.size() == 1) {
    const uint64_t lsn = install_lsns.front();
    absl::StatusOr<wal_format::SnapshotScan> scan =
        wal_format::ScanSnapshot(files_, PathOf(InstallFileName(lsn)), nullptr);
    if (!scan.ok()) {
      return scan.status();
    }
    if (scan->lsn != lsn) {
      return absl::DataLossError(absl::StrCat("wal: corrupt snapshot ",
                                              PathOf(InstallFileName(lsn)),
                                              ": the header says it covers LSN ", scan->lsn));
    }
    status = FinishInstall(lsn, &report_.removed_files);
    if (!status.ok()) {
      return status;
    }
    report_.install_finished_lsn = lsn;
    segment_lsns.clear();
    snapshot_lsns.assign(1, lsn);
  }
  std::sort(segment_lsns.begin(), segment_lsns.end());
  std::sort(snapshot_lsns.begin(), snapshot_lsns.end());

  uint64_t snapshot = 0;
  if (!snapshot_lsns.empty()) {
    snapshot = snapshot_lsns.back();
    absl::StatusOr<wal_format::SnapshotScan> scan =
        wal_format::ScanSnapshot(files_, PathOf(SnapshotFileName(snapshot)), nullptr);
    if (!scan.ok()) {
      return scan.status();
    }
    report_.snapshot_lsn = snapshot;
    report_.snapshot_records = scan->records;
    for (size_t i = 0; i + 1 < snapshot_lsns.size(); ++i) {
      removals.push_back(SnapshotFileName(snapshot_lsns[i]));
    }
  }
  snapshot_lsn_ = snapshot;

  // Segments whose records are all covered by the snapshot (the next segment starts at or
  // before snapshot + 1): compaction was interrupted before it removed them.
  size_t covered = 0;
  while (covered + 1 < segment_lsns.size() && segment_lsns[covered + 1] <= snapshot + 1) {
    removals.push_back(SegmentFileName(segment_lsns[covered]));
    ++covered;
  }
  segment_lsns.erase(segment_lsns.begin(), segment_lsns.begin() + static_cast<ptrdiff_t>(covered));

  if (!segment_lsns.empty() && segment_lsns.front() > snapshot + 1) {
    return absl::DataLossError(
        absl::StrCat("wal: ", dir_, ": the oldest segment ", SegmentFileName(segment_lsns.front()),
                     " starts at LSN ", segment_lsns.front(), " but ",
                     snapshot == 0 ? std::string("there is no snapshot")
                                   : absl::StrCat("the snapshot covers only LSNs up to ", snapshot),
                     ", so LSNs ", snapshot + 1, "..", segment_lsns.front() - 1,
                     " are missing. Restore the log directory from a backup or a follower"));
  }

  uint64_t expected = segment_lsns.empty() ? snapshot + 1 : segment_lsns.front();
  bool truncated_in_place = false;
  for (size_t i = 0; i < segment_lsns.size(); ++i) {
    const bool is_last = i + 1 == segment_lsns.size();
    const std::string name = SegmentFileName(segment_lsns[i]);
    absl::StatusOr<wal_format::SegmentScan> scan =
        wal_format::ScanSegment(files_, PathOf(name), expected, is_last, dir_, nullptr);
    if (!scan.ok()) {
      return scan.status();
    }
    if (!scan->corruption.ok()) {
      return scan->corruption;
    }
    if (scan->torn) {
      report_.truncated = true;
      report_.truncated_segment = name;
      report_.truncated_offset = scan->valid_end;
      report_.bytes_truncated = scan->file_size - scan->valid_end;
      report_.truncated_reason = scan->torn_reason;
      if (scan->valid_end == 0) {
        // Its header never became durable, so none of its records were acknowledged.
        status = files_->Remove(PathOf(name));
        if (!status.ok()) {
          return status;
        }
        report_.removed_files.push_back(name);
        continue;
      }
      status = files_->Truncate(PathOf(name), scan->valid_end);
      if (!status.ok()) {
        return status;
      }
      truncated_in_place = true;
    }
    report_.records_recovered += scan->records;
    segments_.push_back(Segment{segment_lsns[i], scan->valid_end});
    expected = scan->next_lsn;
  }
  next_lsn_ = expected;
  if (next_lsn_ <= snapshot) {
    return absl::DataLossError(absl::StrCat(
        "wal: ", dir_, ": the snapshot covers LSNs up to ", snapshot, " but the log ends at LSN ",
        next_lsn_ - 1,
        ": acknowledged records are missing. Restore the log directory from a backup or a "
        "follower"));
  }

  for (const std::string& name : removals) {
    status = files_->Remove(PathOf(name));
    if (!status.ok() && !absl::IsNotFound(status)) {
      return status;
    }
    report_.removed_files.push_back(name);
  }
  if (!report_.removed_files.empty()) {
    status = files_->SyncDir(dir_);
    if (!status.ok()) {
      return status;
    }
  }

  if (segments_.empty()) {
    status = StartSegment();
    if (!status.ok()) {
      return status;
    }
  } else {
    const Segment& last = segments_.back();
    absl::StatusOr<std::unique_ptr<WritableFile>> file =
        files_->OpenWritable(PathOf(SegmentFileName(last.first_lsn)), WriteMode::kAppendExisting);
    if (!file.ok()) {
      return file.status();
    }
    if ((*file)->size() != last.durable_bytes) {
      return absl::InternalError(
          absl::StrCat("wal: ", SegmentFileName(last.first_lsn), " changed size during recovery"));
    }
    if (truncated_in_place) {
      status = (*file)->Sync();  // the cut must be durable before new records follow it
      if (!status.ok()) {
        return status;
      }
    }
    current_ = std::move(*file);
  }

  last_lsn_ = next_lsn_ - 1;
  durable_lsn_.store(next_lsn_ - 1, std::memory_order_release);
  report_.segments = segments_.size();
  report_.first_lsn = segments_.front().first_lsn;
  report_.last_lsn = next_lsn_ - 1;
  return absl::OkStatus();
}

WriteAheadLog::~WriteAheadLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (sync_thread_.joinable()) {
    sync_thread_.join();
  }
}

void WriteAheadLog::Append(uint16_t type, std::string payload, WalAppendCallback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Pending{type, std::move(payload), std::move(done)});
    if (installing_) {
      queue_.back().error = RefusedByInstall();
    }
  }
  work_cv_.notify_one();
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendAndWait(uint16_t type, std::string payload) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  absl::StatusOr<uint64_t> result;
  Append(type, std::move(payload), [&](absl::StatusOr<uint64_t> lsn) {
    // Notify under the lock: once |done| is seen the waiter returns and destroys |cv|.
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(lsn);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return result;
}

void WriteAheadLog::SyncLoop() {
  std::vector<Pending> batch;
  for (;;) {
    absl::Status failure;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (sync_busy_) {
        sync_busy_ = false;  // the previous batch is written and answered
        if (installing_) {
          idle_cv_.notify_all();
        }
      }
      // An install owns current_, next_lsn_ and the files until it is over.
      work_cv_.wait(lock, [this] { return !installing_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) {
        return;  // stopping, and everything queued before has been answered
      }
      // Group commit: everything queued while the previous batch was being synced goes into
      // this one write and one fdatasync.
      batch.swap(queue_);
      sync_busy_ = true;
      failure = failure_;
    }
    if (failure.ok()) {
      WriteBatch(batch);
    } else {
      for (Pending& p : batch) {
        if (p.error.ok()) {
          p.error = failure;
        }
      }
    }
    for (Pending& p : batch) {
      if (p.done) {
        if (p.error.ok()) {
          p.done(p.lsn);
        } else {
          p.done(p.error);
        }
      }
    }
    batch.clear();
  }
}

void WriteAheadLog::WriteBatch(std::vector<Pending>& batch) {
  batch_buf_.clear();
  size_t unsynced_from = 0;  // batch[unsynced_from..] are not durable yet
  uint64_t buffered_records = 0;
  auto fail_from = [&](const absl::Status& cause, size_t from) {
    absl::Status error = Fail(cause);
    for (size_t j = from; j < batch.size(); ++j) {
      if (batch[j].error.ok()) {
        batch[j].error = error;
      }
    }
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    if (p.error.ok()) {  // else refused when queued (an install)
      p.error = CheckRecord(p.type, p.payload.size());
    }
    if (!p.error.ok()) {
      continue;
    }
    const size_t record_size = EncodedRecordSize(p.payload.size());
    const uint64_t segment_size = current_->size() + batch_buf_.size();
    if (segment_size > kFileHeaderSize && segment_size + record_size > options_.segment_bytes) {
      // Roll over. The old segment is synced before the new one exists, so a crash can only
      // ever tear the last segment.
      if (!batch_buf_.empty()) {
        absl::Status status = FlushAndSync(buffered_records);
        if (!status.ok()) {
          fail_from(status, unsynced_from);
          return;
        }
        buffered_records = 0;
      }
      unsynced_from = i;
      absl::Status status = StartSegment();
      if (!status.ok()) {
        fail_from(status, unsynced_from);
        return;
      }
    }
    wal_format::AppendRecord(&batch_buf_, next_lsn_, p.type, p.payload);
    p.lsn = next_lsn_++;
    ++buffered_records;
  }
  if (!batch_buf_.empty()) {
    absl::Status status = FlushAndSync(buffered_records);
    if (!status.ok()) {
      fail_from(status, unsynced_from);
    }
  }
}

absl::Status WriteAheadLog::FlushAndSync(uint64_t records) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_lsn_ = next_lsn_ - 1;
  }
  const uint64_t bytes = batch_buf_.size();
  absl::Status status = current_->Append(batch_buf_);
  if (!status.ok()) {
    return status;
  }
  batch_buf_.clear();
  auto start = std::chrono::steady_clock::now();
  status = current_->Sync();
  if (!status.ok()) {
    return status;
  }
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  Publish(records, bytes, micros);
  return absl::OkStatus();
}

void WriteAheadLog::Publish(uint64_t records, uint64_t bytes, int64_t sync_micros) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_.back().durable_bytes = current_->size();
    ++syncs_;
    records_ += records;
    bytes_ += bytes;
    last_sync_micros_ = sync_micros;
    durable_lsn_.store(next_lsn_ - 1, std::memory_order_release);
  }
  durable_cv_.notify_all();
}

absl::Status WriteAheadLog::StartSegment() {
  const uint64_t first = next_lsn_;
  absl::StatusOr<std::unique_ptr<WritableFile>> file = CreateSegmentFile(first);
  if (!file.ok()) {
    return file.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_.push_back(Segment{first, kFileHeaderSize});
  }
  current_ = std::move(*file);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WritableFile>> WriteAheadLog::CreateSegmentFile(uint64_t first) {
  const std::string path = PathOf(wal_format::SegmentFileName(first));
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      files_->OpenWritable(path, WriteMode::kCreateExclusive);
  if (!file.ok()) {
    return file.status();
  }
  char header[kFileHeaderSize];
  wal_format::EncodeFileHeader(wal_format::kSegmentMagic, first, header);
  absl::Status status = (*file)->Append(std::string_view(header, sizeof(header)));
  if (status.ok()) {
    status = (*file)->Sync();
  }
  if (status.ok()) {
    status = files_->SyncDir(dir_);
  }
  if (!status.ok()) {
    return status;
  }
  return std::move(*file);
}

absl::Status WriteAheadLog::Fail(const absl::Status& cause) {
  // No retry, ever: see healthy() in wal.h (fsyncgate).
  absl::Status error = absl::UnavailableError(ToAbsl(absl::StrCat(
      "wal: ", cause.message(), "; the write-ahead log in ", dir_,
      " has stopped acknowledging writes and will not retry (after a failed write or fdatasync "
      "the kernel may have dropped the unsynced pages, so a retry could report success for "
      "lost data); restart ringward to recover from what is on disk")));
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.ok()) {
    failure_ = error;
  }
  last_lsn_ = next_lsn_ - 1;
  healthy_.store(false, std::memory_order_release);
  durable_cv_.notify_all();
  return failure_;
}

bool WriteAheadLog::WaitForDurable(uint64_t lsn, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  durable_cv_.wait_for(lock, timeout, [&] { return durable_lsn() >= lsn || !failure_.ok(); });
  return durable_lsn() >= lsn;
}

absl::Status WriteAheadLog::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

uint64_t WriteAheadLog::oldest_lsn() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segments_.front().first_lsn;
}

uint64_t WriteAheadLog::snapshot_lsn() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_lsn_;
}

WalStatus WriteAheadLog::GetStatus() const {
  WalStatus s;
  std::lock_guard<std::mutex> lock(mu_);
  s.last_lsn = last_lsn_;
  s.durable_lsn = durable_lsn();
  s.oldest_lsn = segments_.front().first_lsn;
  s.snapshot_lsn = snapshot_lsn_;
  for (const Segment& segment : segments_) {
    s.segments.push_back(WalSegmentInfo{wal_format::SegmentFileName(segment.first_lsn),
                                        segment.first_lsn, segment.durable_bytes});
  }
  s.last_sync_micros = last_sync_micros_;
  s.syncs = syncs_;
  s.records = records_;
  s.bytes = bytes_;
  s.queued = queue_.size();
  s.healthy = failure_.ok();
  s.error = std::string(failure_.message());
  return s;
}

// ---- Readers ----

absl::StatusOr<std::unique_ptr<WalReader>> WriteAheadLog::NewReader(uint64_t from_lsn) {
  uint64_t oldest;
  uint64_t snapshot;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (installing_) {
      return absl::UnavailableError(
          absl::StrCat("wal: ", dir_, " is being replaced by an installed snapshot"));
    }
    oldest = segments_.front().first_lsn;
    snapshot = snapshot_lsn_;
    generation = generation_.load(std::memory_order_relaxed);
  }
  const uint64_t durable = durable_lsn();
  if (from_lsn < oldest) {
    return absl::OutOfRangeError(
        absl::StrCat("wal: LSN ", from_lsn, " is no longer in the log (the oldest is ", oldest,
                     "; the snapshot covers LSNs up to ", snapshot, "): read the snapshot first"));
  }
  if (from_lsn > durable + 1) {
    return absl::OutOfRangeError(absl::StrCat(
        "wal: LSN ", from_lsn, " is beyond the end of the log (durable LSN ", durable, ")"));
  }
  std::unique_ptr<WalReader> reader(new WalReader(this, from_lsn));
  reader->generation_ = generation;
  return reader;
}

absl::Status WriteAheadLog::FindSegment(uint64_t lsn, uint64_t* first_lsn) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (segments_.empty() || lsn < segments_.front().first_lsn) {
    return absl::OutOfRangeError(
        absl::StrCat("wal: LSN ", lsn, " was compacted away while it was being read"));
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), lsn,
                             [](uint64_t l, const Segment& s) { return l < s.first_lsn; });
  *first_lsn = std::prev(it)->first_lsn;
  return absl::OkStatus();
}

bool WriteAheadLog::SegmentDurableEnd(uint64_t first_lsn, uint64_t* bytes, bool* sealed) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::lower_bound(segments_.begin(), segments_.end(), first_lsn,
                             [](const Segment& s, uint64_t l) { return s.first_lsn < l; });
  if (it == segments_.end() || it->first_lsn != first_lsn) {
    return false;
  }
  *bytes = it->durable_bytes;
  *sealed = std::next(it) != segments_.end();
  return true;
}

WalReader::WalReader(WriteAheadLog* log, uint64_t from_lsn) : log_(log), next_lsn_(from_lsn) {}
WalReader::~WalReader() = default;

absl::Status WalReader::OpenSegment(uint64_t first_lsn) {
  cursor_.reset();
  path_ = log_->PathOf(wal_format::SegmentFileName(first_lsn));
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = log_->files_->OpenReadable(path_);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return absl::OutOfRangeError(
          absl::StrCat("wal: ", path_, " was compacted away while it was being read"));
    }
    return file.status();
  }
  file_ = std::move(*file);
  cursor_ = std::make_unique<ChunkReader>(file_.get(), 0);
  absl::StatusOr<std::string_view> header = cursor_->Peek(kFileHeaderSize);
  if (!header.ok()) {
    return header.status();
  }
  uint64_t header_lsn = 0;
  absl::Status status =
      wal_format::DecodeFileHeader(header->substr(0, std::min(header->size(), kFileHeaderSize)),
                                   wal_format::kSegmentMagic, &header_lsn);
  if (status.ok() && header_lsn != first_lsn) {
    status = absl::DataLossError(absl::StrCat("the header says LSN ", header_lsn));
  }
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat("wal: corrupt write-ahead log: ", path_,
                                            " at byte offset 0: ", status.message(), ". ",
                                            wal_format::RepairHint(log_->dir_)));
  }
  cursor_->Skip(kFileHeaderSize);
  segment_first_ = first_lsn;
  file_lsn_ = first_lsn;
  segment_end_ = kFileHeaderSize;
  sealed_ = false;
  return absl::OkStatus();
}

absl::StatusOr<bool> WalReader::Next(WalRecord* record) {
  // RefreshEnd learns how far this segment is durable. A segment no longer listed was sealed
  // and compacted; the open descriptor still reads all of it.
  auto refresh_end = [this]() -> absl::Status {
    if (!log_->SegmentDurableEnd(segment_first_, &segment_end_, &sealed_)) {
      sealed_ = true;
      absl::StatusOr<uint64_t> size = file_->Size();
      if (!size.ok()) {
        return size.status();
      }
      segment_end_ = *size;
    }
    return absl::OkStatus();
  };
  // PeekDurable returns at least |n| durable bytes at the cursor if there are.
  auto peek_durable = [&](size_t n) -> absl::StatusOr<std::string_view> {
    absl::StatusOr<std::string_view> bytes = cursor_->Peek(n, segment_end_);
    if (bytes.ok() && bytes->size() < n) {
      absl::Status status = refresh_end();
      if (!status.ok()) {
        return status;
      }
      bytes = cursor_->Peek(n, segment_end_);
    }
    return bytes;
  };

  auto replaced = [this] {
    return log_->generation_.load(std::memory_order_acquire) != generation_;
  };
  auto replaced_error = [this] {
    return absl::OutOfRangeError(absl::StrCat(
        "wal: ", log_->dir_,
        " was replaced by an installed snapshot while it was being read: read the snapshot"));
  };
  for (;;) {
    if (replaced()) {
      return replaced_error();
    }
    if (next_lsn_ > durable_) {
      durable_ = log_->durable_lsn();
      if (next_lsn_ > durable_) {
        return false;
      }
    }
    if (cursor_ == nullptr) {
      uint64_t first = 0;
      absl::Status status = log_->FindSegment(next_lsn_, &first);
      if (status.ok()) {
        status = OpenSegment(first);
      }
      if (!status.ok()) {
        return status;
      }
    }
    // The record at the cursor, LSN file_lsn_ <= next_lsn_ <= durable_, is durable: it lies
    // within this segment's durable end, or this segment is sealed and it opens the next.
    absl::StatusOr<std::string_view> bytes = peek_durable(kRecordHeaderSize);
    if (!bytes.ok()) {
      return bytes.status();
    }
    if (bytes->empty() && sealed_) {
      uint64_t first = 0;
      absl::Status status = log_->FindSegment(file_lsn_, &first);
      if (!status.ok()) {
        return status;
      }
      if (first != file_lsn_) {
        if (replaced()) {
          return replaced_error();
        }
        return absl::DataLossError(absl::StrCat("wal: ", path_, " ends before LSN ", file_lsn_,
                                                " and no segment starts there. ",
                                                wal_format::RepairHint(log_->dir_)));
      }
      status = OpenSegment(first);
      if (!status.ok()) {
        return status;
      }
      continue;
    }
    if (bytes->size() >= kRecordHeaderSize) {
      uint32_t length = wal_format::GetU32(bytes->data());
      if (length <= kMaxPayloadSize) {
        bytes = peek_durable(EncodedRecordSize(length));
        if (!bytes.ok()) {
          return bytes.status();
        }
      }
    }
    const uint64_t offset = cursor_->offset();
    wal_format::RecordView view;
    wal_format::ParseResult result = wal_format::ParseRecord(*bytes, &view);
    std::string problem;
    if (result != wal_format::ParseResult::kOk) {
      problem = std::string(wal_format::ParseResultName(result));
    } else if (view.flags != 0) {
      problem = absl::StrCat("record flags ", view.flags, " this ringward does not know");
    } else if (view.lsn != file_lsn_) {
      problem = absl::StrCat("record has LSN ", view.lsn, " but LSN ", file_lsn_,
                             " was expected (LSNs must be contiguous)");
    }
    if (!problem.empty()) {
      return absl::DataLossError(absl::StrCat("wal: corrupt write-ahead log: ", path_,
                                              " at byte offset ", offset, ": ", problem, ". ",
                                              wal_format::RepairHint(log_->dir_)));
    }
    cursor_->Skip(EncodedRecordSize(view.length));
    ++file_lsn_;
    if (view.lsn < next_lsn_) {
      continue;  // before the start LSN
    }
    record->lsn = view.lsn;
    record->type = view.type;
    record->payload.assign(view.payload.data(), view.payload.size());
    next_lsn_ = view.lsn + 1;
    return true;
  }
}

// ---- Snapshots ----

absl::StatusOr<std::unique_ptr<WalSnapshotReader>> WriteAheadLog::NewSnapshotReader() {
  // compact_mu_ keeps a compaction from replacing the file between choosing and opening it.
  std::lock_guard<std::mutex> compact(compact_mu_);
  const uint64_t lsn = snapshot_lsn();
  if (lsn == 0) {
    return absl::NotFoundError(absl::StrCat("wal: ", dir_, " has no snapshot"));
  }
  std::unique_ptr<WalSnapshotReader> reader(new WalSnapshotReader());
  reader->path_ = PathOf(wal_format::SnapshotFileName(lsn));
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = files_->OpenReadable(reader->path_);
  if (!file.ok()) {
    return file.status();
  }
  reader->file_ = std::move(*file);
  absl::StatusOr<uint64_t> size = reader->file_->Size();
  if (!size.ok()) {
    return size.status();
  }
  auto bad = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat("wal: corrupt snapshot ", reader->path_, ": ", ToAbsl(why)));
  };
  if (*size < kFileHeaderSize + wal_format::kSnapshotFooterSize) {
    return bad("file too short");
  }
  reader->records_end_ = *size - wal_format::kSnapshotFooterSize;
  char footer[wal_format::kSnapshotFooterSize];
  absl::StatusOr<size_t> got = reader->file_->ReadAt(reader->records_end_, footer, sizeof(footer));
  if (!got.ok()) {
    return got.status();
  }
  char expected_footer[wal_format::kSnapshotFooterSize];
  uint64_t records = wal_format::GetU64(footer + 8);
  wal_format::EncodeSnapshotFooter(records, lsn, expected_footer);
  if (*got != sizeof(footer) || std::string_view(footer, sizeof(footer)) !=
                                    std::string_view(expected_footer, sizeof(expected_footer))) {
    return bad("bad footer");
  }
  reader->cursor_ = std::make_unique<ChunkReader>(reader->file_.get(), 0);
  absl::StatusOr<std::string_view> header = reader->cursor_->Peek(kFileHeaderSize);
  if (!header.ok()) {
    return header.status();
  }
  uint64_t header_lsn = 0;
  absl::Status status =
      wal_format::DecodeFileHeader(*header, wal_format::kSnapshotMagic, &header_lsn);
  if (!status.ok() || header_lsn != lsn) {
    return bad("bad header");
  }
  reader->cursor_->Skip(kFileHeaderSize);
  reader->lsn_ = lsn;
  reader->records_ = records;
  return reader;
}

WalSnapshotReader::WalSnapshotReader() = default;
WalSnapshotReader::~WalSnapshotReader() = default;

absl::StatusOr<bool> WalSnapshotReader::Next(WalRecord* record) {
  const uint64_t offset = cursor_->offset();
  if (offset >= records_end_) {
    if (read_ != records_) {
      return absl::DataLossError(absl::StrCat("wal: corrupt snapshot ", path_, ": ", read_,
                                              " records where the footer says ", records_));
    }
    return false;
  }
  absl::StatusOr<std::string_view> bytes = cursor_->Peek(kRecordHeaderSize, records_end_);
  if (bytes.ok() && bytes->size() >= kRecordHeaderSize &&
      wal_format::GetU32(bytes->data()) <= kMaxPayloadSize) {
    bytes = cursor_->Peek(EncodedRecordSize(wal_format::GetU32(bytes->data())), records_end_);
  }
  if (!bytes.ok()) {
    return bytes.status();
  }
  wal_format::RecordView view;
  wal_format::ParseResult result = wal_format::ParseRecord(*bytes, &view);
  if (result != wal_format::ParseResult::kOk || view.flags != 0 || view.lsn != read_ + 1) {
    return absl::DataLossError(absl::StrCat(
        "wal: corrupt snapshot ", path_, " at byte offset ", offset, ": ",
        result != wal_format::ParseResult::kOk ? std::string(wal_format::ParseResultName(result))
                                               : std::string("bad record number or flags")));
  }
  cursor_->Skip(EncodedRecordSize(view.length));
  ++read_;
  record->lsn = lsn_;
  record->type = view.type;
  record->payload.assign(view.payload.data(), view.payload.size());
  return true;
}

absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> WriteAheadLog::BeginSnapshot(
    uint64_t covered_lsn) {
  const uint64_t durable = durable_lsn();
  const uint64_t current = snapshot_lsn();
  if (covered_lsn > durable) {
    return absl::InvalidArgumentError(absl::StrCat("wal: cannot snapshot up to LSN ", covered_lsn,
                                                   ": only LSNs up to ", durable, " are durable"));
  }
  if (covered_lsn < current || covered_lsn == 0) {
    return absl::InvalidArgumentError(absl::StrCat("wal: cannot snapshot up to LSN ", covered_lsn,
                                                   ": the current snapshot covers ", current));
  }
  return NewSnapshotWriter(covered_lsn, /*install=*/false);
}

absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> WriteAheadLog::NewSnapshotWriter(
    uint64_t covered_lsn, bool install) {
  std::unique_ptr<WalSnapshotWriter> writer(new WalSnapshotWriter());
  writer->files_ = files_;
  writer->covered_lsn_ = covered_lsn;
  writer->install_ = install;
  writer->generation_ = generation_.load(std::memory_order_acquire);
  writer->temp_path_ = absl::StrCat(
      PathOf(install ? InstallFileName(covered_lsn) : wal_format::SnapshotFileName(covered_lsn)),
      ToAbsl(wal_format::kTempSuffix));
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      files_->OpenWritable(writer->temp_path_, WriteMode::kTruncate);
  if (!file.ok()) {
    return file.status();
  }
  writer->file_ = std::move(*file);
  writer->buf_.resize(kFileHeaderSize);
  wal_format::EncodeFileHeader(wal_format::kSnapshotMagic, covered_lsn, writer->buf_.data());
  return writer;
}

absl::Status WriteAheadLog::CommitSnapshot(std::unique_ptr<WalSnapshotWriter> writer) {
  if (writer == nullptr || writer->install_) {
    return absl::InvalidArgumentError(
        "wal: CommitSnapshot takes a writer from BeginSnapshot (use CommitInstall for installs)");
  }
  std::lock_guard<std::mutex> compact(compact_mu_);
  const uint64_t covered = writer->covered_lsn_;
  // Installs commit under compact_mu_ too, so this check cannot race with one.
  if (writer->generation_ != generation_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(
        "wal: an installed snapshot replaced the log since this snapshot was begun; the state it "
        "describes is gone");
  }
  if (covered < snapshot_lsn()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wal: a newer snapshot was committed meanwhile (it covers ", snapshot_lsn(), ")"));
  }
  // A failure up to the rename leaves the log as it was (the writer removes its temp file):
  // unlike the log's own fdatasync, a failed snapshot sync loses nothing acknowledged.
  absl::Status status = writer->Finish();
  if (!status.ok()) {
    return status;
  }
  const std::string final_path = PathOf(wal_format::SnapshotFileName(covered));
  status = files_->Rename(writer->temp_path_, final_path);
  if (!status.ok()) {
    return status;
  }
  writer->committed_ = true;
  status = files_->SyncDir(dir_);
  if (!status.ok()) {
    return status;
  }

  // The snapshot is durable; segments wholly covered by it can go. The last segment never
  // does: it is being appended to.
  uint64_t old_snapshot;
  std::vector<uint64_t> removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old_snapshot = snapshot_lsn_;
    snapshot_lsn_ = covered;
    while (segments_.size() >= 2 && segments_[1].first_lsn <= covered + 1) {
      removed.push_back(segments_.front().first_lsn);
      segments_.erase(segments_.begin());
    }
  }
  if (old_snapshot != 0 && old_snapshot != covered) {
    status = files_->Remove(PathOf(wal_format::SnapshotFileName(old_snapshot)));
  }
  for (uint64_t first : removed) {
    absl::Status removal = files_->Remove(PathOf(wal_format::SegmentFileName(first)));
    if (status.ok()) {
      status = removal;
    }
  }
  if (!status.ok()) {
    return status;  // leftovers are removed by the next Open
  }
  return files_->SyncDir(dir_);
}

absl::Status WriteAheadLog::Compact(uint64_t covered_lsn,
                                    absl::Span<const WalRecord> live_records) {
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> writer = BeginSnapshot(covered_lsn);
  if (!writer.ok()) {
    return writer.status();
  }
  for (const WalRecord& record : live_records) {
    absl::Status status = (*writer)->Add(record.type, record.payload);
    if (!status.ok()) {
      return status;
    }
  }
  return CommitSnapshot(std::move(*writer));
}

// ---- Installing a snapshot (followers) ----
//
// The order on disk, and what Open makes of a crash after each step (wal_format.md):
//   1. write install-<C>.snap.tmp, fdatasync          crash: Open removes the temp: old log
//   2. rename it to install-<C>.snap, fsync the dir   the commit point; from here Open
//   3. remove every segment and snapshot, fsync dir     finishes the install (steps 3-4) and
//   4. rename to snapshot-<C>.snap, fsync the dir       starts wal-<C+1>.log: new log
//   5. create wal-<C+1>.log (header, fdatasync, fsync)  crash before: a snapshot and no segment,
//                                                       which Open starts at C+1: new log
// A snapshot-<C>.snap never sits beside segments of the old history, and the marker
// install-<C>.snap exists exactly while old files may remain.

absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> WriteAheadLog::BeginInstall(
    uint64_t covered_lsn) {
  if (covered_lsn == 0 || covered_lsn == UINT64_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("wal: cannot install a snapshot covering LSN ", covered_lsn));
  }
  absl::Status failed = failure();
  if (!failed.ok()) {
    return failed;
  }
  return NewSnapshotWriter(covered_lsn, /*install=*/true);
}

absl::Status WriteAheadLog::CommitInstall(std::unique_ptr<WalSnapshotWriter> writer) {
  if (writer == nullptr || !writer->install_) {
    return absl::InvalidArgumentError(
        "wal: CommitInstall takes a writer from BeginInstall (use CommitSnapshot for "
        "compactions)");
  }
  std::lock_guard<std::mutex> compact(compact_mu_);
  // The snapshot's bytes are made durable before appends are held off, so they wait only for
  // the renames and removals. A failure here leaves the old log untouched (the writer removes
  // its temporary file).
  absl::Status status = writer->Finish();
  if (!status.ok()) {
    return status;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!failure_.ok()) {
      return failure_;
    }
    installing_ = true;
    idle_cv_.wait(lock, [this] { return !sync_busy_; });
    // Queued records were made against the history being replaced: refuse them rather than
    // give them LSNs after a snapshot that may not contain what they depend on.
    for (Pending& p : queue_) {
      if (p.error.ok()) {
        p.error = RefusedByInstall();
      }
    }
    status = failure_;  // the batch that was being written may have failed the log
  }
  if (status.ok()) {
    status = SwitchToInstalled(*writer);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    installing_ = false;
  }
  work_cv_.notify_one();
  durable_cv_.notify_all();
  return status;
}

absl::Status WriteAheadLog::SwitchToInstalled(WalSnapshotWriter& writer) {
  const uint64_t covered = writer.covered_lsn_;
  // rename(2) is atomic: if it fails, nothing changed and the log goes on as it was.
  absl::Status status = files_->Rename(writer.temp_path_, PathOf(InstallFileName(covered)));
  if (!status.ok()) {
    return status;
  }
  writer.committed_ = true;
  generation_.fetch_add(1, std::memory_order_acq_rel);  // readers of the old history stop
  // From here on, whether the install happened depends on whether the rename reached the
  // disk, which a failed fsync leaves unknown; so any failure stops the log for good (no
  // record may be acknowledged into segments that the next Open may remove), and the next
  // Open decides from what is on disk: old log or new, never both.
  status = files_->SyncDir(dir_);
  std::vector<std::string> removed;
  if (status.ok()) {
    status = FinishInstall(covered, &removed);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> segment =
      status.ok() ? CreateSegmentFile(covered + 1)
                  : absl::StatusOr<std::unique_ptr<WritableFile>>(status);
  if (!segment.ok()) {
    return Fail(segment.status());
  }
  // The sync thread is held off (installing_), so its state is ours to replace.
  current_ = std::move(*segment);
  next_lsn_ = covered + 1;
  batch_buf_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_.assign(1, Segment{covered + 1, kFileHeaderSize});
    snapshot_lsn_ = covered;
    last_lsn_ = covered;
    durable_lsn_.store(covered, std::memory_order_release);
  }
  return absl::OkStatus();
}

absl::Status WriteAheadLog::FinishInstall(uint64_t lsn, std::vector<std::string>* removed) {
  absl::StatusOr<std::vector<std::string>> names = files_->ListDir(dir_);
  if (!names.ok()) {
    return names.status();
  }
  for (const std::string& name : *names) {
    uint64_t ignored = 0;
    if (wal_format::ParseSegmentFileName(name, &ignored) ||
        wal_format::ParseSnapshotFileName(name, &ignored)) {
      absl::Status status = files_->Remove(PathOf(name));
      if (!status.ok() && !absl::IsNotFound(status)) {
        return status;
      }
      removed->push_back(name);
    }
  }
  // The removals must be durable before the marker goes: after the rename nothing says that
  // a leftover segment belongs to the replaced history.
  absl::Status status = files_->SyncDir(dir_);
  if (status.ok()) {
    status =
        files_->Rename(PathOf(InstallFileName(lsn)), PathOf(wal_format::SnapshotFileName(lsn)));
  }
  if (status.ok()) {
    status = files_->SyncDir(dir_);
  }
  return status;
}

absl::Status WriteAheadLog::InstallSnapshot(uint64_t covered_lsn,
                                            absl::Span<const WalRecord> records) {
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> writer = BeginInstall(covered_lsn);
  if (!writer.ok()) {
    return writer.status();
  }
  for (const WalRecord& record : records) {
    absl::Status status = (*writer)->Add(record.type, record.payload);
    if (!status.ok()) {
      return status;
    }
  }
  return CommitInstall(std::move(*writer));
}

WalSnapshotWriter::~WalSnapshotWriter() {
  if (!committed_ && files_ != nullptr) {
    file_.reset();
    files_->Remove(temp_path_).IgnoreError();  // best effort: Open removes leftovers too
  }
}

absl::Status WalSnapshotWriter::Add(uint16_t type, std::string_view payload) {
  absl::Status status = CheckRecord(type, payload.size());
  if (!status.ok()) {
    return status;
  }
  if (!error_.ok()) {
    return error_;
  }
  wal_format::AppendRecord(&buf_, records_ + 1, type, payload);
  ++records_;
  if (buf_.size() >= kSnapshotFlushBytes) {
    return Flush();
  }
  return absl::OkStatus();
}

absl::Status WalSnapshotWriter::Flush() {
  if (error_.ok() && !buf_.empty()) {
    error_ = file_->Append(buf_);
    buf_.clear();
  }
  return error_;
}

absl::Status WalSnapshotWriter::Finish() {
  if (!error_.ok()) {
    return error_;
  }
  size_t at = buf_.size();
  buf_.resize(at + wal_format::kSnapshotFooterSize);
  wal_format::EncodeSnapshotFooter(records_, covered_lsn_, buf_.data() + at);
  absl::Status status = Flush();
  if (status.ok()) {
    status = file_->Sync();
  }
  if (!status.ok()) {
    error_ = status;
  }
  file_.reset();
  return status;
}

absl::Status ReplayLog(WriteAheadLog& wal,
                       const std::function<absl::Status(const WalRecord& record,
                                                        bool from_snapshot)>& fn) {
  WalRecord record;
  absl::StatusOr<std::unique_ptr<WalSnapshotReader>> snapshot = wal.NewSnapshotReader();
  uint64_t from = 1;
  if (snapshot.ok()) {
    from = (*snapshot)->lsn() + 1;
    for (;;) {
      absl::StatusOr<bool> more = (*snapshot)->Next(&record);
      if (!more.ok()) {
        return more.status();
      }
      if (!*more) {
        break;
      }
      if (absl::Status s = fn(record, /*from_snapshot=*/true); !s.ok()) {
        return s;
      }
    }
  } else if (!absl::IsNotFound(snapshot.status())) {
    return snapshot.status();
  }
  absl::StatusOr<std::unique_ptr<WalReader>> reader = wal.NewReader(from);
  if (!reader.ok()) {
    return reader.status();
  }
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) {
      return more.status();
    }
    if (!*more) {
      return absl::OkStatus();
    }
    if (absl::Status s = fn(record, /*from_snapshot=*/false); !s.ok()) {
      return s;
    }
  }
}

}  // namespace ringward::revocation
