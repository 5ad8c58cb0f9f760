// FaultInjectingFileLayer: counts, faults and crash simulation over another FileLayer (tests).
#include <errno.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"
#include "ringward/revocation/wal_file_layer.h"

namespace ringward::revocation {
namespace {

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

class FaultInjectingFileLayer::File final : public WritableFile {
 public:
  File(FaultInjectingFileLayer* layer, std::unique_ptr<WritableFile> base, std::string path)
      : layer_(layer), base_(std::move(base)), path_(std::move(path)) {}

  absl::Status Append(std::string_view data) override {
    bool fail_after = false;
    absl::Status injected = layer_->BeforeAppend(&data, &fail_after);
    absl::Status status = base_->Append(data);
    layer_->AfterAppend(path_, base_->size());
    if (!status.ok()) {
      return status;
    }
    if (fail_after) {
      return injected;
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    absl::Status injected = layer_->BeforeSync();
    if (!injected.ok()) {
      return absl::Status(injected.code(), ToAbsl(absl::StrCat(injected.message(), " ", path_)));
    }
    absl::Status status = base_->Sync();
    if (status.ok()) {
      layer_->AfterSync(path_, base_->size());
    }
    return status;
  }

  uint64_t size() const override { return base_->size(); }

 private:
  FaultInjectingFileLayer* layer_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

void FaultInjectingFileLayer::FailSyncAt(int nth) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_countdown_ = nth;
}

void FaultInjectingFileLayer::ShortWriteAt(int nth, size_t keep) {
  std::lock_guard<std::mutex> lock(mu_);
  write_countdown_ = nth;
  short_write_keep_ = keep;
}

void FaultInjectingFileLayer::SetSyncDelayMicros(int64_t micros) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_delay_micros_ = micros;
}

int64_t FaultInjectingFileLayer::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

int64_t FaultInjectingFileLayer::failed_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_syncs_;
}

int64_t FaultInjectingFileLayer::dir_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dir_syncs_;
}

int64_t FaultInjectingFileLayer::appends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appends_;
}

int64_t FaultInjectingFileLayer::appended_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appended_bytes_;
}

absl::Status FaultInjectingFileLayer::BeforeAppend(std::string_view* data, bool* fail_after) {
  std::lock_guard<std::mutex> lock(mu_);
  ++appends_;
  if (write_countdown_ > 0 && --write_countdown_ == 0) {
    *data = data->substr(0, std::min(short_write_keep_, data->size()));
    *fail_after = true;
  }
  appended_bytes_ += static_cast<int64_t>(data->size());
  return *fail_after ? absl::ErrnoToStatus(ENOSPC, "injected short write") : absl::OkStatus();
}

void FaultInjectingFileLayer::AfterAppend(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path].written_size = size;
}

absl::Status FaultInjectingFileLayer::BeforeSync() {
  int64_t delay;
  bool fail = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++syncs_;
    delay = sync_delay_micros_;
    if (sync_countdown_ > 0 && --sync_countdown_ == 0) {
      fail = true;
      ++failed_syncs_;
    }
  }
  if (delay > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(delay));
  }
  if (fail) {
    return absl::ErrnoToStatus(EIO, "injected fdatasync failure");
  }
  return absl::OkStatus();
}

void FaultInjectingFileLayer::AfterSync(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  Durability& d = files_[path];
  d.durable_size = std::max(d.durable_size, size);
  d.written_size = std::max(d.written_size, size);
}

absl::Status FaultInjectingFileLayer::Crash(size_t keep_unsynced_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    Durability& d = it->second;
    if (!d.creation_durable) {
      absl::Status status = base_->Remove(it->first);
      if (!status.ok() && !absl::IsNotFound(status)) {
        return status;
      }
      it = files_.erase(it);
      continue;
    }
    if (d.written_size > d.durable_size) {
      uint64_t keep = std::min<uint64_t>(keep_unsynced_bytes, d.written_size - d.durable_size);
      uint64_t size = d.durable_size + keep;
      absl::Status status = base_->Truncate(it->first, size);
      if (!status.ok()) {
        return status;
      }
      d.written_size = size;
      d.durable_size = size;
    }
    ++it;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectingFileLayer::OpenWritable(
    const std::string& path, WriteMode mode) {
  absl::StatusOr<std::unique_ptr<WritableFile>> base = base_->OpenWritable(path, mode);
  if (!base.ok()) {
    return base.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (mode == WriteMode::kAppendExisting) {
      if (it == files_.end()) {
        // Content from before this layer saw the file is taken as durable.
        uint64_t size = (*base)->size();
        files_[path] = Durability{size, size, true};
      }
    } else {
      Durability d;
      d.creation_durable = false;
      files_[path] = d;
    }
  }
  return std::unique_ptr<WritableFile>(new File(this, std::move(*base), path));
}

absl::StatusOr<std::unique_ptr<ReadableFile>> FaultInjectingFileLayer::OpenReadable(
    const std::string& path) {
  return base_->OpenReadable(path);
}

absl::Status FaultInjectingFileLayer::CreateDir(const std::string& path) {
  return base_->CreateDir(path);
}

absl::Status FaultInjectingFileLayer::SyncDir(const std::string& path) {
  absl::Status status = base_->SyncDir(path);
  std::lock_guard<std::mutex> lock(mu_);
  ++dir_syncs_;
  if (status.ok()) {
    for (auto& [file, d] : files_) {
      if (ParentOf(file) == path) {
        d.creation_durable = true;
      }
    }
  }
  return status;
}

absl::StatusOr<std::vector<std::string>> FaultInjectingFileLayer::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

absl::Status FaultInjectingFileLayer::Rename(const std::string& from, const std::string& to) {
  absl::Status status = base_->Rename(from, to);
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      Durability d = it->second;
      files_.erase(it);
      files_[to] = d;
    }
  }
  return status;
}

absl::Status FaultInjectingFileLayer::Truncate(const std::string& path, uint64_t size) {
  absl::Status status = base_->Truncate(path, size);
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it != files_.end()) {
      it->second.written_size = std::min(it->second.written_size, size);
      it->second.durable_size = std::min(it->second.durable_size, size);
    }
  }
  return status;
}

absl::Status FaultInjectingFileLayer::Remove(const std::string& path) {
  absl::Status status = base_->Remove(path);
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    files_.erase(path);
  }
  return status;
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectingFileLayer::Lock(const std::string& path) {
  return base_->Lock(path);
}

}  // namespace ringward::revocation
