// PosixFileLayer: the write-ahead log's file operations on Linux.
#include "ringward/revocation/wal_file_layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ringward/base/fd.h"
#include "ringward/base/strings.h"

namespace ringward::revocation {
namespace {

absl::Status ErrnoError(int err, std::string_view call, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(ToAbsl(call), " ", path));
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(Fd fd, std::string path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  absl::Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::pwrite(fd_.get(), p, left, static_cast<off_t>(size_));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return ErrnoError(errno, "pwrite", path_);
      }
      if (n == 0) {
        return ErrnoError(ENOSPC, "pwrite (wrote nothing)", path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) {
      return ErrnoError(errno, "fdatasync", path_);
    }
    return absl::OkStatus();
  }

  uint64_t size() const override { return size_; }

 private:
  Fd fd_;
  std::string path_;
  uint64_t size_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* dst, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_.get(), dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) {
          continue;
        }
        return ErrnoError(errno, "pread", path_);
      }
      if (r == 0) {
        break;
      }
      done += static_cast<size_t>(r);
    }
    return done;
  }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) {
      return ErrnoError(errno, "fstat", path_);
    }
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  Fd fd_;
  std::string path_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(Fd fd) : fd_(std::move(fd)) {}

 private:
  Fd fd_;  // closing the descriptor releases the flock
};

}  // namespace

PosixFileLayer* PosixFileLayer::Default() {
  static PosixFileLayer* layer = new PosixFileLayer();
  return layer;
}

absl::StatusOr<std::unique_ptr<WritableFile>> PosixFileLayer::OpenWritable(const std::string& path,
                                                                           WriteMode mode) {
  int flags = O_WRONLY | O_CLOEXEC;
  switch (mode) {
    case WriteMode::kCreateExclusive:
      flags |= O_CREAT | O_EXCL;
      break;
    case WriteMode::kTruncate:
      flags |= O_CREAT | O_TRUNC;
      break;
    case WriteMode::kAppendExisting:
      break;
  }
  Fd fd(::open(path.c_str(), flags, 0600));
  if (!fd) {
    return ErrnoError(errno, "open", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoError(errno, "fstat", path);
  }
  return std::make_unique<PosixWritableFile>(std::move(fd), path,
                                             static_cast<uint64_t>(st.st_size));
}

absl::StatusOr<std::unique_ptr<ReadableFile>> PosixFileLayer::OpenReadable(
    const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return ErrnoError(errno, "open", path);
  }
  return std::make_unique<PosixReadableFile>(std::move(fd), path);
}

absl::Status PosixFileLayer::CreateDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
    }
    return ErrnoError(errno, "mkdir", path);
  }
  return SyncDir(ParentDir(path));
}

absl::Status PosixFileLayer::SyncDir(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return ErrnoError(errno, "open", path);
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoError(errno, "fsync", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PosixFileLayer::ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return ErrnoError(errno, "opendir", path);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    return ErrnoError(err, "readdir", path);
  }
  return names;
}

absl::Status PosixFileLayer::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoError(errno, "rename", absl::StrCat(from, " -> ", to));
  }
  return absl::OkStatus();
}

absl::Status PosixFileLayer::Truncate(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return ErrnoError(errno, "truncate", path);
  }
  return absl::OkStatus();
}

absl::Status PosixFileLayer::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    return ErrnoError(errno, "unlink", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> PosixFileLayer::Lock(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    return ErrnoError(errno, "open", path);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is locked: another ringward process has this log open"));
    }
    return ErrnoError(errno, "flock", path);
  }
  return std::make_unique<PosixFileLock>(std::move(fd));
}

}  // namespace ringward::revocation
