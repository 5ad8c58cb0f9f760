// replication/follower.h: the follower side of replication. ReplicationClient streams the
// leader's write-ahead log over HTTPS (protocol.md), hands the records to a ReplicaSink that
// persists and applies them, and keeps the lag and staleness figures that shards, /readyz,
// metrics and GET /admin/replication read.
//
// Threads: Start() starts one dedicated thread that connects, streams and reconnects with
// backoff; it is the only caller of the ReplicaSink. Every getter may be called from any thread
// (shards read stale() on the request path): they read atomics and never block, except
// last_error() and StatusJson(), which take a mutex and are for cold paths.
//
// Ownership: the caller owns the ReplicaSink, which must outlive the client (or at least Stop()).
// The client owns its thread, socket and TLS context.
//
// Trust: records are read only from a leader whose certificate chains to |ca_file| and names
// the host or IP address of |leader_url|; a handshake that fails verification is dropped before
// any byte of the request (and so of the credential) is sent.
#ifndef RINGWARD_REPLICATION_FOLLOWER_H_
#define RINGWARD_REPLICATION_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "openssl/ssl.h"
#include "ringward/revocation/wal.h"

namespace ringward::replication {

struct FollowerOptions {
  // leader_url: "https://127.0.0.1:8445", "https://[::1]:8445" or "https://host:port" (port
  // 443 when omitted). Host names are resolved with getaddrinfo on the follower thread, at
  // every connection attempt.
  std::string leader_url;
  // ca_file: PEM bundle that the leader's certificate must chain to.
  std::string ca_file;
  // credential: the bearer secret (16..4096 b64token characters), already read from its file.
  std::string credential;
  // max_staleness_ms: stale() turns true when no frame arrived for longer than this.
  int64_t max_staleness_ms = 5000;
  // Reconnect backoff: backoff_initial_ms, doubling up to backoff_max_ms, back to the initial
  // value after a connection that streamed at least one frame.
  int64_t backoff_initial_ms = 100;
  int64_t backoff_max_ms = 5000;
  // io_timeout_ms: a connection on which no byte arrives for this long (and a connect or
  // handshake that takes longer) is dropped and retried. 0: max_staleness_ms, so that a silent
  // leader is noticed by the time the follower is stale (the leader heartbeats every 200 ms).
  int64_t io_timeout_ms = 0;
  // log, when set, receives one logfmt line when the reason the stream failed changes, with a
  // syslog priority (4 warning); the server passes server::Log. Called from the client thread.
  std::function<void(int priority, std::string_view line)> log;
};

// ReplicaSink is where replicated records go; the server's control plane implements it. Only
// the follower thread calls it, one call at a time.
class ReplicaSink {
 public:
  virtual ~ReplicaSink() = default;

  // DurableLsn returns the follower log's last durable LSN (0 for an empty log); the stream
  // resumes from DurableLsn() + 1.
  virtual uint64_t DurableLsn() = 0;

  // Apply persists |records| (contiguous LSNs starting at DurableLsn() + 1) to the follower's
  // own log, waits until they are durable, applies them and returns. Any error drops the
  // connection (the client reconnects with backoff and resumes from DurableLsn() + 1); a
  // FailedPrecondition whose message contains "diverged" stops replication for good.
  virtual absl::Status Apply(std::vector<revocation::WalRecord> records) = 0;

  // InstallSnapshot replaces the follower's whole state by the leader's snapshot, which
  // reflects every record up to |covered_lsn|; |records| carry lsn = covered_lsn. Errors are
  // handled as for Apply.
  virtual absl::Status InstallSnapshot(uint64_t covered_lsn,
                                       std::vector<revocation::WalRecord> records) = 0;
};

class ReplicationClient {
 public:
  // Start validates |options| (URL, CA file, credential, timeouts: InvalidArgument or NotFound
  // naming the option and the fix) and starts the follower thread. |sink| is borrowed.
  static absl::StatusOr<std::unique_ptr<ReplicationClient>> Start(FollowerOptions options,
                                                                  ReplicaSink* sink);

  ReplicationClient(const ReplicationClient&) = delete;
  ReplicationClient& operator=(const ReplicationClient&) = delete;
  ~ReplicationClient();  // Stop()

  // Stop ends the stream and joins the thread. Bounded: it wakes every wait of the thread (a
  // connect, handshake, read or backoff), except a host-name lookup in progress and a sink call,
  // which it waits out. Idempotent.
  void Stop();

  // ms_since_last_frame is the time since the last complete frame (record, heartbeat or
  // snapshot frame) arrived, by the local monotonic clock; INT64_MAX before the first.
  int64_t ms_since_last_frame() const;
  // stale: ms_since_last_frame() > max_staleness_ms.
  bool stale() const;
  // connected: a 200 stream is open.
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  // leader_lsn: the leader's durable LSN by its last heartbeat (or the last record or snapshot
  // received, when newer).
  uint64_t leader_lsn() const { return leader_lsn_.load(std::memory_order_relaxed); }
  // applied_lsn: the last LSN the sink acknowledged (DurableLsn() at start).
  uint64_t applied_lsn() const { return applied_lsn_.load(std::memory_order_relaxed); }
  // lag_records: leader_lsn() - applied_lsn(), or 0.
  uint64_t lag_records() const;
  // reconnects: connection attempts after the first.
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t applied_records() const { return applied_records_.load(std::memory_order_relaxed); }
  // diverged: the leader answered 409 or the sink reported a divergence; replication stopped.
  bool diverged() const { return diverged_.load(std::memory_order_relaxed); }
  // last_error: why the last connection failed or ended ("" when none has).
  std::string last_error() const;
  const std::string& leader_url() const { return options_.leader_url; }

  // RenderMetrics appends the ringward_replication_* follower families in the Prometheus text
  // format: connected, leader_lsn, applied_lsn, lag_records, lag_ms (ms since the last frame;
  // +Inf before the first), reconnects_total, stale, applied_records_total, diverged.
  void RenderMetrics(std::string* out) const;

  // StatusJson returns {"role":"follower","leader":URL,"connected":bool,"leader_lsn":N,
  // "applied_lsn":N,"lag_records":N,"lag_ms":N (null before the first frame),"stale":bool,
  // "diverged":bool,"reconnects":N,"last_error":"..."}.
  std::string StatusJson() const;

  // Parsed form of leader_url; public for the .cc's helpers and tests.
  struct Endpoint {
    std::string host;         // without brackets
    bool host_is_ip = false;  // IPv4 or IPv6 literal: checked as an IP SAN, no SNI
    std::string port;         // decimal
    std::string host_header;  // "host:port", IPv6 in brackets
  };
  // ParseLeaderUrl accepts https://host[:port][/]; InvalidArgument says what is wrong.
  static absl::StatusOr<Endpoint> ParseLeaderUrl(const std::string& url);

 private:
  ReplicationClient(FollowerOptions options, ReplicaSink* sink, Endpoint endpoint,
                    bssl::UniquePtr<SSL_CTX> ctx, int wake_fd);

  void Run();
  // Session runs one connection: connect, request, stream. Returns why it ended. Sets
  // |*streamed| once a frame arrived, so that the backoff restarts from its initial value.
  absl::Status Session(bool* streamed);
  void SetError(const std::string& error);
  void NoteFrame();

  const FollowerOptions options_;
  ReplicaSink* const sink_;
  const Endpoint endpoint_;
  const bssl::UniquePtr<SSL_CTX> ctx_;
  const int wake_fd_;  // eventfd: Stop() writes to it and every wait of the thread polls it
  const int64_t io_timeout_ms_;

  // The figures below are written by the follower thread only and read by anyone. Each is an
  // independent gauge, so relaxed ordering is enough: a reader may see applied_lsn_ and
  // leader_lsn_ from different instants, and lag_records() clamps the difference at 0.
  // last_frame_ms_ is the steady-clock time of the last frame in ms, or -1 before the first.
  std::atomic<int64_t> last_frame_ms_{-1};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> leader_lsn_{0};
  std::atomic<uint64_t> applied_lsn_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> applied_records_{0};
  std::atomic<bool> diverged_{false};
  std::atomic<bool> stopping_{false};

  mutable std::mutex error_mu_;
  std::string last_error_;  // guarded by error_mu_

  std::mutex stop_mu_;  // serializes Stop()
  std::thread thread_;
};

}  // namespace ringward::replication

#endif  // RINGWARD_REPLICATION_FOLLOWER_H_
