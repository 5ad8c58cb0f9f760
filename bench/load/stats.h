// bench/load/stats.h: Stats, everything one ringward-load worker counts during a run, and the
// merge that adds the workers' counts together.
//
// Thread-compatible: each worker owns its Stats and writes them without synchronisation; the
// main thread merges them after joining the workers.
#ifndef RINGWARD_BENCH_LOAD_STATS_H_
#define RINGWARD_BENCH_LOAD_STATS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "load/histogram.h"

namespace ringward::load {

// ErrorCounts counts requests (or connection attempts) that did not get the right answer.
struct ErrorCounts {
  uint64_t connect = 0;     // connection attempts that failed or timed out
  uint64_t tls = 0;         // TLS handshake or record failures (connections)
  uint64_t timeout = 0;     // requests unanswered within --timeout
  uint64_t read = 0;        // requests lost to a socket error (reset, broken pipe)
  uint64_t closed = 0;      // requests lost because the server closed the connection
  uint64_t parse = 0;       // malformed responses (the connection is reopened)
  uint64_t unfinished = 0;  // requests still unanswered when the run ended
  uint64_t status = 0;      // responses whose status was not what a correct server sends

  // RequestErrors is every error charged to a request (connect and TLS failures are per
  // connection and not included).
  uint64_t RequestErrors() const {
    return timeout + read + closed + parse + unfinished + status;
  }
  void Merge(const ErrorCounts& o);
};

// VerifyCounts checks verify answers against how each token was minted.
struct VerifyCounts {
  uint64_t valid_accepted = 0;  // good token, 2xx
  uint64_t valid_rejected = 0;  // good token, 401: wrong
  uint64_t bad_rejected = 0;    // broken or expired token, 401
  uint64_t bad_accepted = 0;    // broken or expired token, 2xx: wrong, and a security bug
  uint64_t unknown_accepted = 0;  // token from --tokens, 2xx
  uint64_t unknown_rejected = 0;  // token from --tokens, 401
  uint64_t other = 0;           // any other status
  void Merge(const VerifyCounts& o);
};

struct TemplateStats {
  std::string name;
  uint64_t sent = 0;
  uint64_t completed = 0;
  uint64_t unexpected = 0;  // completed with the wrong status
  LatencyHistogram latency;
};

// SecondBucket holds what completed during one second of the run (second i covers
// [t0 + i s, t0 + (i+1) s)).
struct SecondBucket {
  uint64_t completed = 0;   // answers, right or wrong
  uint64_t unexpected = 0;  // answers with the wrong status (also counted in errors)
  uint64_t errors = 0;      // every request error: wrong answers and lost requests
  uint64_t max_latency_ns = 0;
};

struct Stats {
  static constexpr int kMaxStatus = 600;

  // latency counts from the intended send time (open loop) or the send time (closed loop);
  // service always from the moment the request was handed to the socket; send_lag is
  // actual minus intended send time (open loop: how far behind schedule the client ran,
  // including waits for a free connection).
  LatencyHistogram latency;
  LatencyHistogram service;
  LatencyHistogram send_lag;
  std::vector<TemplateStats> templates;
  std::array<uint64_t, kMaxStatus> status{};
  uint64_t status_other = 0;
  ErrorCounts errors;
  VerifyCounts verify;
  std::vector<SecondBucket> seconds;

  uint64_t scheduled = 0;       // open loop: requests that came due
  uint64_t sent = 0;            // requests written to a connection
  uint64_t sent_in_window = 0;  // of which before the issuing window closed
  uint64_t completed = 0;       // responses received
  uint64_t ok = 0;              // responses with the expected status
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t connects = 0;        // connections established
  int64_t last_completion_ns = 0;  // relative to t0
  int64_t window_ns = 0;           // how long requests were issued (relative to t0)

  void Merge(const Stats& o);
  // SecondAt returns the bucket for |rel_ns| after t0, growing the series when needed.
  SecondBucket& SecondAt(int64_t rel_ns);
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_STATS_H_
