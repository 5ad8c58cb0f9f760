#include "replication/protocol.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringward/base/fd.h"
#include "ringward/base/strings.h"

namespace ringward::replication {

namespace wal_format = revocation::wal_format;

namespace {

// FrameReader drops consumed bytes from the front of its buffer only once they are at least this
// many, so a stream of small frames does not move the buffer on every Feed.
constexpr size_t kCompactThreshold = 64 * 1024;

bool IsB64TokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

void AppendU64Frame(std::string* out, uint16_t type, uint64_t lsn, uint64_t value) {
  char payload[8];
  wal_format::PutU64(payload, value);
  wal_format::AppendRecord(out, lsn, type, std::string_view(payload, sizeof(payload)));
}

bool DecodeU64Frame(const wal_format::RecordView& frame, uint16_t type, uint64_t* lsn,
                    uint64_t* value) {
  if (frame.type != type || frame.payload.size() != 8) {
    return false;
  }
  *lsn = frame.lsn;
  *value = wal_format::GetU64(frame.payload.data());
  return true;
}

}  // namespace

bool IsControlFrame(uint16_t type) { return type >= kControlFrameMin; }

void AppendHeartbeat(std::string* out, uint64_t leader_durable_lsn, int64_t unix_ms) {
  AppendU64Frame(out, kFrameHeartbeat, leader_durable_lsn, static_cast<uint64_t>(unix_ms));
}

void AppendSnapshotBegin(std::string* out, uint64_t covered_lsn) {
  wal_format::AppendRecord(out, covered_lsn, kFrameSnapshotBegin, std::string_view());
}

void AppendSnapshotEnd(std::string* out, uint64_t covered_lsn, uint64_t records) {
  AppendU64Frame(out, kFrameSnapshotEnd, covered_lsn, records);
}

void AppendRecordFrame(std::string* out, uint64_t lsn, uint16_t type, std::string_view payload) {
  wal_format::AppendRecord(out, lsn, type, payload);
}

bool DecodeHeartbeat(const wal_format::RecordView& frame, uint64_t* lsn, int64_t* unix_ms) {
  uint64_t value = 0;
  if (!DecodeU64Frame(frame, kFrameHeartbeat, lsn, &value)) {
    return false;
  }
  *unix_ms = static_cast<int64_t>(value);
  return true;
}

bool DecodeSnapshotEnd(const wal_format::RecordView& frame, uint64_t* lsn, uint64_t* records) {
  return DecodeU64Frame(frame, kFrameSnapshotEnd, lsn, records);
}

// --- FrameReader ---

void FrameReader::Feed(std::string_view bytes) {
  if (pos_ >= kCompactThreshold || pos_ == buffer_.size()) {
    buffer_.erase(0, pos_);
    consumed_ += pos_;
    pos_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

absl::StatusOr<bool> FrameReader::Next(wal_format::RecordView* frame) {
  if (!error_.ok()) {
    return error_;
  }
  const std::string_view rest = std::string_view(buffer_).substr(pos_);
  wal_format::RecordView view;
  const wal_format::ParseResult result = wal_format::ParseRecord(rest, &view);
  std::string problem;
  switch (result) {
    case wal_format::ParseResult::kTruncated:
      return false;
    case wal_format::ParseResult::kOk:
      break;
    default:
      problem = std::string(wal_format::ParseResultName(result));
      break;
  }
  if (problem.empty()) {
    if (view.flags != 0) {
      problem = absl::StrCat("frame flags ", view.flags, " are not defined");
    } else if (view.type == 0) {
      problem = "frame type 0 is reserved";
    } else if ((view.type == kFrameHeartbeat || view.type == kFrameSnapshotEnd) &&
               view.payload.size() != 8) {
      problem = absl::StrCat("control frame ", view.type, " has a ", view.payload.size(),
                             "-byte payload where 8 are defined");
    } else if (view.type == kFrameSnapshotBegin && !view.payload.empty()) {
      problem = "snapshot_begin frame has a payload";
    }
  }
  if (!problem.empty()) {
    error_ = absl::DataLossError(
        absl::StrCat("replication stream: bad frame at stream offset ", offset(), ": ", problem));
    return error_;
  }
  pos_ += wal_format::EncodedRecordSize(view.length);
  *frame = view;
  return true;
}

// --- Credential ---

bool IsValidCredential(std::string_view secret) {
  if (secret.size() < kMinCredentialBytes || secret.size() > kMaxCredentialBytes) {
    return false;
  }
  size_t end = secret.size();
  while (end > 0 && secret[end - 1] == '=') {
    --end;
  }
  if (end == 0) {
    return false;
  }
  for (size_t i = 0; i < end; ++i) {
    if (!IsB64TokenChar(secret[i])) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> LoadCredential(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the replication credential file \"", path, "\": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot stat the replication credential file \"", path, "\": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replication credential file \"", path, "\" is not a regular file"));
  }
  if ((st.st_mode & 0077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the replication credential file \"", path,
        "\" is accessible by group or other users; it holds a secret: chmod 600 ", path));
  }
  std::string text;
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the replication credential file \"", path, "\": ", std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > 2 * kMaxCredentialBytes) {
      break;  // refused below as too long
    }
  }
  const std::string_view secret = Trim(text);
  if (!IsValidCredential(secret)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the replication credential must be one line of ", kMinCredentialBytes, " to ",
        kMaxCredentialBytes,
        " characters from A-Z a-z 0-9 - . _ ~ + / with optional trailing '=' (make one with "
        "`openssl rand -base64 32`; the leader and every follower need the same file)"));
  }
  return std::string(secret);
}


}  // namespace ringward::replication
