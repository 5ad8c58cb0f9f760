// bench/load/worker.h: Worker, one ringward-load thread: an io_uring event loop driving a set
// of keep-alive HTTP/1.1 (or HTTPS) client connections in closed or open loop.
//
// Each connection is a slot with one socket at a time. Per connection: one multishot recv into
// the worker's provided-buffer ring, at most one send in flight (requests queued meanwhile are
// sent together when it completes), and a FIFO of requests in flight (up to --pipeline). All
// sends prepared while handling a batch of completions leave in one io_uring_enter.
//
// Closed loop: a connection sends its next request as soon as an answer frees a slot.
// Open loop: requests come due at fixed intended times t0 + k/rate; each goes out on a free
// connection, or waits in a queue for the next one to free up. Latency is taken from the
// intended time, so time spent waiting behind a stalled server is counted (coordinated
// omission corrected); the service time from the actual send is kept beside it.
//
// A connection that fails (refused, reset, timed out, malformed answer) is shut down, every
// operation on it is allowed to finish, and it is reopened, after a short back-off when the
// failure was in connecting.
//
// Thread-bound: construct, Connect and Run on the worker's own thread (the Ring is
// SINGLE_ISSUER). The Workload and TLS context are shared read-only.
#ifndef RINGWARD_BENCH_LOAD_WORKER_H_
#define RINGWARD_BENCH_LOAD_WORKER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "load/response_parser.h"
#include "load/stats.h"
#include "load/tls_client.h"
#include "load/workload.h"
#include "ringward/net/uring/buffer_ring.h"
#include "ringward/net/uring/ring.h"

namespace ringward::load {

// WorkerPlan is one worker's share of the run.
struct WorkerPlan {
  int thread = 0;
  int threads = 1;
  int connections = 1;
  int pipeline = 1;
  double rate = 0;            // requests/s for this worker; 0: closed loop
  uint64_t max_requests = 0;  // 0: no limit
  int64_t duration_ns = 0;    // the issuing window
  int64_t timeout_ns = 2'000'000'000;
  uint64_t seed = 1;
  int stop_fd = -1;  // an eventfd; readable means "stop issuing now"
};

// MonotonicNs reads CLOCK_MONOTONIC in nanoseconds.
int64_t MonotonicNs();

class Worker {
 public:
  // |tls| is required when any target is https://. Both must outlive the Worker.
  Worker(const Workload& workload, const TlsClientContext* tls, WorkerPlan plan);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Connect creates the ring and opens every connection, returning when all are ready or have
  // failed, or at |deadline_ns| (monotonic). Fails only if the ring cannot be set up; count
  // the connections that made it with ready_connections().
  absl::Status Connect(int64_t deadline_ns);
  int ready_connections() const;
  // last_error describes the most recent connection failure, for the "could not connect"
  // message.
  const std::string& last_error() const { return last_error_; }

  // Run sends load from monotonic time |t0_ns| until the plan is done or the stop fd fires,
  // then waits up to the timeout for the answers still due.
  void Run(int64_t t0_ns);

  Stats& stats() { return stats_; }

 private:
  enum class State : uint8_t { kDown, kConnecting, kHandshake, kReady, kClosing };

  struct InFlight {
    int64_t intended_ns;
    int64_t sent_ns;
    uint16_t tmpl;
    Expect expect;
  };

  struct Due {
    int64_t intended_ns;
    uint16_t tmpl;
  };

  struct Conn {
    int fd = -1;
    uint32_t generation = 0;
    int target = 0;
    State state = State::kDown;
    bool recv_armed = false;
    bool connect_busy = false;
    bool send_busy = false;
    bool send_marked = false;   // in to_send_
    bool available = false;     // in available_[target] (open loop)
    bool back_off = false;      // reconnect after a pause
    int64_t state_since_ns = 0;
    int64_t retry_at_ns = 0;
    std::string sending;  // bytes of the send in flight (owned until its completion)
    size_t sent = 0;
    std::string queued;   // bytes waiting for the next send
    std::vector<InFlight> fifo;
    size_t fifo_head = 0;
    size_t fifo_count = 0;
    ResponseParser parser;
    std::unique_ptr<TlsClientConnection> tls;
  };

  // A queue that grows by doubling, for requests waiting for a connection.
  class DueQueue {
   public:
    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    void Push(Due d);
    Due Pop();

   private:
    std::vector<Due> items_;
    size_t head_ = 0;
    size_t count_ = 0;
  };

  absl::Status Setup();
  void Turn(int64_t wait_until_ns);
  void HandleCompletion(uint64_t user_data, int res, uint32_t flags);
  void StartConnect(int index);
  void OnConnected(int index, int res);
  void OnRecv(int index, int res, uint32_t flags);
  void OnSend(int index, int res);
  void Consume(int index, const char* data, size_t len);
  void OnResponse(int index, const Response& r);
  void OnReady(int index);
  void IssueMore(int index);
  void SendRequest(int index, int tmpl, int64_t intended_ns);
  void MarkSend(int index);
  void StartSend(int index);
  void FlushSends();
  void ArmRecv(int index, bool poll_first);
  // Close shuts the connection down; requests in flight count as |lost| errors.
  void Close(int index, uint64_t* lost, bool back_off);
  void MaybeFinishClose(int index);
  void CheckTimers();
  void Dispatch(int target, Due due);
  int TakeAvailable(int target);
  // FailHead drops the oldest request in flight, counting it in |*counter|.
  void FailHead(int index, uint64_t* counter);
  void RecordSecondErrors(uint64_t n);
  bool Issuing() const;
  int64_t Now() const;

  const Workload& workload_;
  const TlsClientContext* tls_ctx_;
  const WorkerPlan plan_;
  WorkloadCursor cursor_;
  std::optional<uring::Ring> ring_;
  std::optional<uring::BufferRing> buffers_;
  std::vector<Conn> conns_;
  std::vector<int> to_send_;
  std::vector<std::vector<int>> available_;  // per target, open loop
  std::vector<DueQueue> backlog_;            // per target, open loop
  std::vector<int> targets_of_;              // per template
  std::string plain_scratch_;                // TLS: request plaintext before encryption
  std::vector<char> read_scratch_;           // TLS: decrypted response bytes
  Stats stats_;

  bool running_ = false;   // inside Run (not Connect)
  bool stopping_ = false;  // no new requests
  int64_t t0_ns_ = 0;
  int64_t end_ns_ = 0;     // the issuing window closes
  int64_t next_due_ns_ = 0;
  uint64_t issued_ = 0;    // requests issued (closed) or scheduled (open)
  int64_t next_check_ns_ = 0;
  int64_t now_ns_ = 0;
  std::string last_error_;
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_WORKER_H_
