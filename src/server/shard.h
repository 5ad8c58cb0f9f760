// server/shard.h: Shard, one pinned thread with its own io_uring serving HTTP/1.1 (plain or over
// TLS) on its own SO_REUSEPORT listeners. The shared-nothing core of `ringward serve`.
//
// Connection lifecycle (all on the shard's thread, all I/O through the ring):
//   accept (multishot, per listener) -> slot from the preallocated table, TLS session if the
//   listener is TLS, multishot recv into the provided-buffer ring (one buffer per completion,
//   handed back as soon as its bytes are parsed or copied) -> requests parsed in place and
//   answered in order; every response produced by one receive is appended to the connection's
//   output buffer and leaves in one send (one send in flight per connection) -> keep-alive, or
//   "close after flush": send what is queued (a TLS close_notify last), shutdown(SHUT_WR), read
//   and discard until the client closes or a short linger time passes (so a client's unread
//   pipelined bytes never turn our FIN into a RST that destroys the response), then cancel and
//   close. A slot is reused only when every operation it had in flight has completed, so a
//   completion can never reach the wrong connection and no kernel operation ever points into
//   freed memory.
// Timeouts: three intrusive lists ordered by deadline (each list has one fixed duration, so
//   appending keeps it sorted): header (a request head, or a new connection's first request,
//   must arrive within header_timeout_ms of its first byte/accept), idle (no progress for
//   idle_timeout_ms), linger. The loop's wait timeout is the earliest deadline; no per-request
//   system call, no timer per connection in the kernel.
// Reload: each loop turn compares the published state's version with the one in use; on a
//   change the shard loads the new ServingState and switches between two requests.
// Admin listeners: connections accepted on a ListenerSpec with admin set are answered by
//   AdminHandlers instead of Handlers. A request the control plane must answer (a revocation)
//   is handed over through the shard's ControlChannel; the connection then "awaits" (reads on,
//   answers nothing more, pipelined requests wait in its input) until the answer comes back,
//   announced by a MSG_RING "responses" command, and is written in order.
// Revocation set: the shard is reader |index| of the control plane's QSBR domain: online while
//   it runs, quiescent once per loop turn, offline while it blocks in the kernel with nothing
//   ready (so an idle shard never delays an acknowledgement).
// Shutdown: a MSG_RING "drain" command stops accepting, closes idle connections at once, marks
//   the others to close after their current response, and ends the loop when no connection is
//   left or shutdown_grace_ms has passed.
//
// Thread-bound: construct anywhere, then Run() on the shard's own thread, which creates and
// destroys the ring. Other threads talk to it only through MSG_RING to ring_fd(). The Shard
// borrows everything in ShardShared (owned by the Server, which outlives it).
#ifndef RINGWARD_SERVER_SHARD_H_
#define RINGWARD_SERVER_SHARD_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "concurrent/liveness_probe.h"
#include "concurrent/ready_latch.h"
#include "concurrent/versioned_snapshot.h"
#include "ringward/base/fd.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/net/tls/tls_session.h"
#include "ringward/net/uring/buffer_ring.h"
#include "ringward/net/uring/ring.h"
#include "server/access_log.h"
#include "server/admin_handlers.h"
#include "server/buffer_pool.h"
#include "server/control_plane.h"
#include "server/handlers.h"
#include "server/metrics.h"
#include "server/response.h"
#include "server/serving_state.h"
#include "server/watchdog.h"
#include "replication/follower.h"

namespace ringward::server {

// Commands sent to a shard as the res of a MSG_RING completion.
enum ShardCommand : int32_t {
  kShardWake = 1,       // a new ServingState was published
  kShardDrain = 2,      // graceful shutdown
  kShardResponses = 3,  // the control plane answered admin requests (see ControlChannel)
};

// ListenerSpec is one listening socket a shard accepts on.
struct ListenerSpec {
  int fd = -1;     // the listening socket
  Fd owned;        // set when this shard owns (and closes) the socket; unset when shared
  bool tls = false;
  bool is_unix = false;
  bool admin = false;  // the admin API (plain HTTP, AdminHandlers)
};

// ShardShared is what the Server lends every shard.
struct ShardShared {
  const concurrent::VersionedSnapshot<ServingState>* state = nullptr;
  std::span<ShardMetrics> metrics;  // one per shard, indexed by shard number
  // Every shard arrives once it serves; a shard that cannot start (or dies) fails it.
  concurrent::ReadyLatch* ready = nullptr;
  // The revocation log and set, and the admin API's other half; null without a data_dir.
  ControlPlane* control = nullptr;
  // One per shard, indexed by shard number: the watchdog's probes (server/watchdog.h).
  concurrent::LivenessProbe* liveness = nullptr;
  // A follower's replication client (null on a leader), and whether it fails closed when stale.
  const replication::ReplicationClient* replica = nullptr;
  bool replica_fail_closed = true;
  // [server] shard_scheduling = "batch": shard threads run under SCHED_BATCH.
  bool batch_scheduling = true;
};

// ShardTuning holds sizes that are not configuration but engineering choices; tests shrink
// them to reach rare paths (a provided-buffer ring running dry).
struct ShardTuning {
  // Provided receive buffers (a power of two). Each goes back to the kernel as soon as the
  // completion that filled it has been handled, so only connections whose data arrived in the
  // same loop turn hold one: the group is sized for bursts of that, not for every connection.
  uint32_t recv_buffer_count = 512;
  uint32_t recv_buffer_size = 16 * 1024;
};

class Shard {
 public:
  // |cpu| < 0: do not pin.
  Shard(int index, int cpu, std::vector<ListenerSpec> listeners, const ShardShared& shared,
        const ShardTuning& tuning = ShardTuning());
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Run is the thread body. It returns after a drain, or at once on a start-up failure
  // (status() says why).
  void Run();

  // ring_fd is the target for MSG_RING; written before the shard arrives at the ready latch,
  // so it may be read by any thread that has seen the latch complete.
  int ring_fd() const { return ring_fd_; }
  const absl::Status& status() const { return status_; }
  int index() const { return index_; }

 private:
  struct Conn;
  enum class TimerKind : uint8_t { kNone, kHeader, kIdle, kLinger };
  struct TimerList {
    uint32_t head;
    uint32_t tail;
  };

  absl::Status Setup();
  void Loop();
  void Cleanup();
  io_uring_sqe* Sqe();
  void ReadClock();
  void MaybeLoadState();
  void ApplyState(std::shared_ptr<const ServingState> state);
  int64_t WaitTimeoutMs() const;

  void OnCompletion(const io_uring_cqe& cqe);
  void ArmAccept(size_t listener);
  void OnAccept(size_t listener, const io_uring_cqe& cqe);
  void OnRecv(const io_uring_cqe& cqe);
  void OnSend(const io_uring_cqe& cqe);
  void OnShutdown(const io_uring_cqe& cqe);
  void OnOpDone(const io_uring_cqe& cqe);
  void OnWake(int32_t command);
  Conn* Find(uint64_t user_data);
  uint64_t UserDataFor(uint8_t op, const Conn& c) const;

  void ArmRecv(Conn& c, bool poll_first);
  void RecycleBuffer(uint16_t bid);
  void RearmStarved();
  void MaybeResumeReading(Conn& c);
  void OnData(Conn& c, const uint8_t* data, size_t n);
  void DrainTls(Conn& c);
  void Feed(Conn& c, const char* data, size_t n);
  void ProcessInput(Conn& c);
  size_t ProcessRequests(Conn& c, const char* data, size_t n);
  bool AppendOut(Conn& c, std::string_view bytes);
  void Flush(Conn& c);
  void CloseAfterFlush(Conn& c);
  void StartShutdown(Conn& c);
  void Abort(Conn& c);
  void MaybeRelease(Conn& c);
  void Release(Conn& c);
  void UpdateTimer(Conn& c);
  void TimerLink(Conn& c, TimerKind kind);
  void TimerUnlink(Conn& c);
  void ExpireTimers();
  void BeginDrain();
  bool IsIdle(const Conn& c) const;
  void MirrorCounters();
  void TakeControlResponses();
  void Deliver(ControlResponse& response);
  bool AppendAwaited(Conn& c);
  bool Ready(std::string_view* reason) const;

  const int index_;
  const int cpu_;
  const ShardTuning tuning_;
  std::vector<ListenerSpec> listeners_;
  std::vector<bool> accept_armed_;
  ShardShared shared_;
  ShardMetrics* metrics_;
  absl::Status status_;
  int ring_fd_ = -1;

  std::unique_ptr<uring::Ring> ring_;
  std::unique_ptr<uring::BufferRing> recv_buffers_;
  std::unique_ptr<Conn[]> conns_;
  uint32_t max_conns_ = 0;
  std::vector<uint32_t> free_slots_;
  // Connections whose recv ended for lack of provided buffers: (index, generation) FIFO.
  std::vector<uint64_t> starved_;
  size_t starved_head_ = 0;
  uint32_t recycled_this_turn_ = 0;
  int64_t open_ = 0;
  int accepts_active_ = 0;
  int64_t accept_retry_at_ms_ = 0;
  int64_t last_accept_warning_ms_ = -1000000;

  std::shared_ptr<const ServingState> state_;
  uint64_t state_version_ = ~uint64_t{0};
  int64_t header_timeout_ms_ = 10000;
  int64_t idle_timeout_ms_ = 60000;
  size_t max_input_ = 0;
  TimerList timers_[4];

  http::RequestParser parser_;
  http::Request request_;
  uint32_t parser_owner_;
  Handlers handlers_;
  ShardHeartbeat heartbeat_;  // echoes the watchdog's probes at the top of each loop turn
  AccessLog access_log_;      // sampled request lines, flushed once per loop turn
  std::unique_ptr<AdminHandlers> admin_;  // null without a control plane
  ControlChannel* channel_ = nullptr;
  concurrent::QsbrDomain* qsbr_ = nullptr;
  BufferPool pool_;
  std::string scratch_;  // one response, before it is appended to a connection's output
  std::unique_ptr<uint8_t[]> plaintext_;  // TLS: decrypted bytes of one ReadPlaintext
  HttpDate date_;
  tls::TlsCounters tls_counters_;
  tls::TlsCounters tls_mirrored_;

  int64_t now_s_ = 0;   // CLOCK_REALTIME_COARSE seconds, for token checks and Date
  int64_t now_ms_ = 0;  // CLOCK_MONOTONIC_COARSE milliseconds, for timeouts
  bool all_ready_ = false;
  bool replica_stale_ = false;  // read once per loop turn (ReadClock)
  bool draining_ = false;
  bool fatal_ = false;
  int64_t drain_deadline_ms_ = 0;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_SHARD_H_
