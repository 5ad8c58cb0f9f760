#include "server/access_log.h"

#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace ringward::server {

namespace {

constexpr size_t kMaxPathBytes = 256;
constexpr size_t kMaxMethodBytes = 16;
// The longest line Record writes: fixed text and numbers, the method and path at their limits
// (quoted and escaped, at most twice their length) and the fingerprint.
constexpr size_t kMaxLineBytes = 160 + 2 * (kMaxPathBytes + kMaxMethodBytes);
static_assert(kMaxLineBytes < PIPE_BUF, "a line must be one atomic pipe write");

void AppendNumber(std::string* out, uint64_t n) {
  char digits[20];
  size_t i = sizeof(digits);
  do {
    digits[--i] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out->append(digits + i, sizeof(digits) - i);
}

}  // namespace

AccessLog::AccessLog(int shard, uint64_t seed, int fd) : shard_(shard), fd_(fd), state_(seed | 1) {
  struct stat st;
  is_socket_ = ::fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode);
}

int64_t AccessLog::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void AccessLog::SetSampleRate(double rate) {
  if (!(rate > 0)) {  // also NaN
    threshold_ = 0;
    always_ = false;
    return;
  }
  always_ = rate >= 1.0;
  // rate * 2^64, computed in long double so that rates near 1 do not overflow the conversion.
  const long double scaled = std::ldexp(static_cast<long double>(rate), 64);
  threshold_ =
      always_ ? UINT64_MAX
              : (scaled >= 18446744073709551615.0L ? UINT64_MAX : static_cast<uint64_t>(scaled));
  if (threshold_ == 0) {
    threshold_ = 1;  // a tiny positive rate still samples now and then
  }
  if (buffer_.capacity() < kMaxPendingBytes + kMaxLineBytes) {
    buffer_.reserve(kMaxPendingBytes + kMaxLineBytes);
  }
}

void AccessLog::Record(const http::Request& request, int status, int64_t ns) {
  if (pending_ - flushed_ > kMaxPendingBytes) {
    ++dropped_;
    ++dropped_total_;
    return;
  }
  if (flushed_ == pending_) {
    buffer_.clear();
    flushed_ = pending_ = 0;
  }
  std::string& b = buffer_;
  b.append("<6>ringward: event=access shard=");
  AppendNumber(&b, static_cast<uint64_t>(shard_));
  b.append(" method=");
  std::string_view method = request.method_token;
  AppendLogValue(&b, method.substr(0, kMaxMethodBytes));
  b.append(" path=");
  AppendLogValue(&b, request.path.substr(0, kMaxPathBytes));
  b.append(" status=");
  AppendNumber(&b, static_cast<uint64_t>(status < 0 ? 0 : status));
  b.append(" us=");
  AppendNumber(&b, static_cast<uint64_t>(ns < 0 ? 0 : (ns + 500) / 1000));
  b.append(" token=");
  const std::string_view token = http::BearerToken(request.authorization);
  if (token.empty()) {
    b.push_back('-');
  } else {
    const std::array<char, 8> fp = TokenFingerprint(token);
    b.append(fp.data(), fp.size());
  }
  b.push_back('\n');
  pending_ = b.size();
}

void AccessLog::FlushSlow() {
  while (flushed_ < pending_) {
    // Whole lines, at most PIPE_BUF bytes: atomic on a pipe, never split by another writer.
    size_t end = flushed_;
    while (end < pending_) {
      const size_t nl = buffer_.find('\n', end);
      const size_t next = nl == std::string::npos ? pending_ : nl + 1;
      if (next - flushed_ > PIPE_BUF && end > flushed_) {
        break;
      }
      end = next;
    }
    const char* data = buffer_.data() + flushed_;
    const size_t size = end - flushed_;
    const ssize_t n = is_socket_ ? ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL)
                                 : ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // The log is gone (closed stderr): forget what is pending rather than retry forever.
        flushed_ = pending_;
      }
      break;
    }
    flushed_ += static_cast<size_t>(n);
  }
  if (flushed_ == pending_) {
    buffer_.clear();
    flushed_ = pending_ = 0;
    if (dropped_ != 0) {
      const uint64_t dropped = dropped_;
      dropped_ = 0;
      // Said once the backlog is gone, from the shard that dropped them.
      LogEvent(LogPriority::kWarning, "access_log",
               {{"status", "dropped"}, {"shard", shard_}, {"lines", dropped}});
    }
  }
}

}  // namespace ringward::server
