// ringward/revocation/wal_file_layer.h: FileLayer, the few file operations the write-ahead log
// needs, with PosixFileLayer (the real one) and FaultInjectingFileLayer (tests: failed
// fdatasync, short writes, slow syncs, and a crash that drops every byte not yet synced).
//
// The log does all of its I/O through a FileLayer so that its error handling can be tested:
// a fault that the kernel reports once a year is one line in a test here.
//
// Thread-safety: a FileLayer may be used from several threads at once (the log's sync thread,
// readers, compaction). Each WritableFile and ReadableFile is used by one thread at a time.
// Files returned by a FileLayer are owned by the caller and must not outlive the layer.
// Every error names the path and the failed call (e.g. "fdatasync /var/lib/ringward/wal/...").
#ifndef RINGWARD_REVOCATION_WAL_FILE_LAYER_H_
#define RINGWARD_REVOCATION_WAL_FILE_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::revocation {

// WritableFile appends to one file. Append loops over short writes (write(2) may write less
// than asked), so a short count never reaches the caller: it is all or an error.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Append writes |data| at the end of the file. On error an unknown prefix may be written.
  virtual absl::Status Append(std::string_view data) = 0;
  // Sync makes every appended byte durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // size returns the file's length including everything appended so far.
  virtual uint64_t size() const = 0;
};

// ReadableFile reads at offsets (pread); it may be used while another thread appends.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // ReadAt reads up to |n| bytes at |offset| into |dst| and returns how many it read: fewer
  // than |n| only at the end of the file.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* dst, size_t n) = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
};

// FileLock is held until destroyed (an exclusive flock on a lock file).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class WriteMode {
  kCreateExclusive,  // a new file; fails if it exists
  kTruncate,         // create or empty an existing file
  kAppendExisting,   // an existing file, appending at its current end
};

class FileLayer {
 public:
  virtual ~FileLayer() = default;

  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                                     WriteMode mode) = 0;
  virtual absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) = 0;
  // CreateDir creates |path| (mode 0700) unless it exists; the parent must exist. A new
  // directory is made durable (its parent is fsynced).
  virtual absl::Status CreateDir(const std::string& path) = 0;
  // SyncDir fsyncs a directory, making the creations, renames and removals in it durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  // ListDir returns the names (not paths) of the entries of |path|, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Truncate cuts |path| to |size| bytes; it is durable only after a Sync of the file.
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // Lock takes an exclusive advisory lock on |path| (created if missing) without waiting;
  // FailedPrecondition if another process (or another open FileLock) holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
};

// PosixFileLayer: open/pwrite/pread/fdatasync/fsync/rename/ftruncate/unlink/flock. Files are
// created 0600 and directories 0700: the log will hold refresh tokens and user records.
class PosixFileLayer final : public FileLayer {
 public:
  // Default returns a process-wide instance (it has no state).
  static PosixFileLayer* Default();

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             WriteMode mode) override;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Truncate(const std::string& path, uint64_t size) override;
  absl::Status Remove(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override;
};

// FaultInjectingFileLayer forwards to |base| (borrowed; usually PosixFileLayer on a temp dir),
// counts operations, injects the faults it is told to, and remembers how much of each file is
// durable so that Crash() can throw the rest away as a power cut would.
//
// Model: a byte is durable once a Sync of its file succeeded after it was appended; a file
// created by OpenWritable is durable once its directory was synced after the creation. Crash()
// cuts each file to its durable length (plus |keep_unsynced_bytes| of what followed, modelling
// a torn write) and removes files whose creation was not durable. Renames and removals are
// not undone. Crash() must only be called when no log has files open.
class FaultInjectingFileLayer final : public FileLayer {
 public:
  explicit FaultInjectingFileLayer(FileLayer* base) : base_(base) {}

  // FailSyncAt makes the |nth| Sync from now (1 = the next) fail with EIO; only that one, as
  // Linux does: the next fdatasync after an error usually reports success.
  void FailSyncAt(int nth);
  // ShortWriteAt makes the |nth| Append from now write only its first |keep| bytes and then
  // fail with ENOSPC.
  void ShortWriteAt(int nth, size_t keep);
  // SetSyncDelayMicros makes every file Sync sleep first (a slow disk).
  void SetSyncDelayMicros(int64_t micros);
  // Crash drops everything that was not durable; see the class comment.
  absl::Status Crash(size_t keep_unsynced_bytes = 0);

  // Counters since construction.
  int64_t syncs() const;  // file Syncs attempted (fdatasync), failed ones included
  int64_t failed_syncs() const;
  int64_t dir_syncs() const;
  int64_t appends() const;  // Append calls
  int64_t appended_bytes() const;

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             WriteMode mode) override;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Truncate(const std::string& path, uint64_t size) override;
  absl::Status Remove(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

 private:
  class File;
  friend class File;

  struct Durability {
    uint64_t durable_size = 0;
    uint64_t written_size = 0;
    bool creation_durable = true;
  };

  // Called by File; each takes mu_.
  absl::Status BeforeAppend(std::string_view* data, bool* fail_after);
  void AfterAppend(const std::string& path, uint64_t size);
  absl::Status BeforeSync();
  void AfterSync(const std::string& path, uint64_t size);

  FileLayer* const base_;
  // A test-only class: a plain mutex guards all of its bookkeeping, including the counters.
  mutable std::mutex mu_;
  std::map<std::string, Durability> files_;
  int sync_countdown_ = 0;
  int write_countdown_ = 0;
  size_t short_write_keep_ = 0;
  int64_t sync_delay_micros_ = 0;
  int64_t syncs_ = 0;
  int64_t failed_syncs_ = 0;
  int64_t dir_syncs_ = 0;
  int64_t appends_ = 0;
  int64_t appended_bytes_ = 0;
};

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_WAL_FILE_LAYER_H_
