// server/access_log.h: AccessLog, one shard's sampled access log: one line per sampled request,
//
//   <6>ringward: event=access shard=0 method=GET path=/v1/verify status=200 us=3 token=1f2e3d4c
//
// on stderr with the other log lines (journald stores them). [server] access_log_sample picks
// the share of requests logged: 0 (the default) none, 1 every one, 0.01 about one in a hundred
// (a per-shard xorshift generator, not a counter, so periodic traffic is not aliased).
//
// What a line holds: the method, the path without the query (a query may carry a token,
// RFC 6750 §2.3), the status, the time the shard spent producing the response (parsed request
// to response queued, in microseconds) and the bearer token's fingerprint (TokenFingerprint,
// "-" when there is none). Never the token, a header value or a body.
//
// Never blocking the shard: Record appends to a per-shard buffer, and Flush, once per loop
// turn, writes it out in pieces of whole lines no larger than PIPE_BUF (so that lines from other
// threads never land inside one). When stderr is a socket (journald's stream), the write is a
// send(MSG_DONTWAIT): a slow journal leaves the rest for the next turn instead of stalling the
// loop. A pipe or file is written with write(2), which for a terminal or test pipe returns at
// once. Past kMaxPendingBytes lines are dropped and counted, and the drop is reported in the log.
//
// Thread-bound to its shard. No allocation after the first sampled request.
#ifndef RINGWARD_SERVER_ACCESS_LOG_H_
#define RINGWARD_SERVER_ACCESS_LOG_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "ringward/net/http/request_parser.h"

namespace ringward::server {

class AccessLog {
 public:
  static constexpr size_t kMaxPendingBytes = 256 * 1024;

  // |fd| is where lines go (stderr in the server, a pipe in tests); |seed| seeds the sampler.
  AccessLog(int shard, uint64_t seed, int fd = 2);
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // SetSampleRate takes [server] access_log_sample (0..1); on start and on every reload.
  void SetSampleRate(double rate);

  // ShouldSample decides for the next request; false at once when sampling is off.
  bool ShouldSample() {
    if (threshold_ == 0) {
      return false;
    }
    return always_ || Next() < threshold_;
  }

  // Record appends the line of one sampled request; |ns| is the time spent producing it.
  void Record(const http::Request& request, int status, int64_t ns);

  // Flush writes what is pending without blocking; call once per loop turn.
  void Flush() {
    if (pending_ != flushed_) {
      FlushSlow();
    }
  }

  // NowNs is CLOCK_MONOTONIC in nanoseconds, for the caller's |ns|.
  static int64_t NowNs();

  uint64_t dropped() const { return dropped_total_; }
  size_t pending_bytes() const { return pending_ - flushed_; }

 private:
  uint64_t Next() {
    // xorshift64*: a few instructions, good enough to pick log lines.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  void FlushSlow();

  const int shard_;
  const int fd_;
  bool is_socket_ = false;
  bool always_ = false;
  uint64_t threshold_ = 0;
  uint64_t state_;
  std::string buffer_;  // lines [flushed_, pending_) are waiting
  size_t flushed_ = 0;
  size_t pending_ = 0;
  uint64_t dropped_ = 0;  // since the last report
  uint64_t dropped_total_ = 0;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_ACCESS_LOG_H_
