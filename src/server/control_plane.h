// server/control_plane.h: ControlPlane, the process-wide owner of the revocation write-ahead
// log and the revocation set, and the thread that turns admin requests into durable, visible,
// acknowledged revocations; ControlChannel, one shard's mailboxes to and from it.
//
// An acknowledgement, end to end (each arrow is a message, never a lock or a wait on a shard):
//
//   shard: POST /admin/revocations parsed and checked -> ControlRequest into its channel's
//          SpscQueue, Doorbell rung (an eventfd write only when the control thread has drained
//          since the last one: WakeFlag); the connection waits ("awaiting") while the shard
//          serves others
//   control thread: pops it, Appends one record per revocation to the WAL (no I/O here);
//          the last record carries the completion callback
//   WAL sync thread: group commit (one write + one fdatasync for everything queued), then the
//          callbacks, in LSN order; each pushes a Completion into an SpscQueue and rings the
//          Doorbell: a few hundred nanoseconds, so the sync thread is never held up
//   control thread: applies the completed requests' revocations to the RevocationSet (it is
//          the set's only writer), Publish(), waits until Visible (every shard passed a
//          quiescent state or is offline; shards announce once per loop turn), then pushes a
//          ControlResponse into each owning shard's channel and sends that shard one
//          IORING_OP_MSG_RING from its own ring (coalesced by a WakeFlag)
//   shard: woken, drains its responses, writes the 200 on the waiting connection and goes on
//          with its pipelined requests
//
// A failed write or fdatasync stops the log for good (wal.h): the requests in flight get 503,
// later ones are refused at once, healthy() turns false (GET /readyz says not ready) and the
// metrics show ringward_wal_healthy 0. Only a restart, which recovers from what is really on
// disk, brings it back.
//
// The control thread also expires revocations of tokens that have expired (Expire swaps in a
// new generation without pausing readers) and compacts: it snapshots the live revocations as
// of the last applied LSN and hands them to a compaction thread, which writes the snapshot and
// removes the covered segments (WriteAheadLog::Compact) while revocations go on.
//
// Threads and ownership. The ControlPlane owns the log (and its sync thread), the QSBR domain,
// the set, the channels, the control thread and the compaction thread. Shards borrow it (it is
// created before them and destroyed after they have been joined); they call only the const
// readers, channel(i) for their own i, and CheckAdminToken. Open and Start on the server's
// control thread; Stop (or the destructor) after every shard has stopped.
#ifndef RINGWARD_SERVER_CONTROL_PLANE_H_
#define RINGWARD_SERVER_CONTROL_PLANE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "concurrent/owned_counter.h"
#include "concurrent/published.h"
#include "concurrent/qsbr.h"
#include "concurrent/spsc_queue.h"
#include "concurrent/wake.h"
#include "issuance/service.h"
#include "replication/follower.h"
#include "replication/leader.h"
#include "ringward/base/secret_digest.h"
#include "ringward/config/config.h"
#include "ringward/net/uring/ring.h"
#include "ringward/revocation/revocation_log.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/revocation/wal.h"
#include "server/response.h"
#include "server/router.h"

namespace ringward::server {

// ControlRequest is one admin request a shard hands over. The fields up to |route| come back
// unchanged in the answer, so the shard can find the connection and finish the response.
enum class ControlOp : uint8_t {
  kRevoke,     // append, apply, publish, answer
  kWalStatus,  // GET /admin/wal
  kIssuance,   // handed to the issuance service's workers (|call|)
  // A follower's replication thread (ReplicaSink): records from the leader to append with the
  // leader's LSNs and apply once durable, or a snapshot to install.
  kReplicate,
  kInstallSnapshot,
};

struct ControlRequest {
  int shard = 0;
  uint32_t conn_index = 0;
  uint32_t conn_generation = 0;
  ConnectionHeader connection = ConnectionHeader::kNone;
  bool head = false;
  Route route = Route::kAdminRevoke;
  ControlOp op = ControlOp::kRevoke;
  std::vector<revocation::Revocation> revocations;
  std::chrono::steady_clock::time_point received;
  uint64_t lsn = 0;  // set by the control plane once durable
  issuance::HttpCall call;  // kIssuance
  std::vector<revocation::WalRecord> replicated;  // kReplicate, kInstallSnapshot
  uint64_t snapshot_lsn = 0;                      // kInstallSnapshot
  // Set for revocations the issuance service asks for (POST /oauth2/revoke): called on the
  // control thread with the outcome instead of answering a shard.
  absl::AnyInvocable<void(absl::Status)> internal_done;
};

struct ControlResponse {
  uint32_t conn_index = 0;
  uint32_t conn_generation = 0;
  ConnectionHeader connection = ConnectionHeader::kNone;
  bool head = false;
  Route route = Route::kAdminRevoke;
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string headers;       // extra header lines, each ending in CRLF (issuance answers)
  std::string content_type;  // "": application/json
};

// ControlChannel holds one shard's two mailboxes. Requests: the shard produces, the control
// thread consumes; responses the other way round. The shard counts what it has in flight and
// never has more than capacity() outstanding, so the response queue (of the same capacity)
// can never be full when the control plane answers.
class ControlChannel {
 public:
  explicit ControlChannel(size_t capacity) : requests_(capacity), responses_(capacity) {}

  // --- Shard side ---

  // Submit hands |request| over, or returns false (busy: answer 503; |request| is left as it
  // was) when capacity() requests are already in flight. The caller then rings the control
  // plane's doorbell (ControlPlane::Wake).
  bool Submit(std::unique_ptr<ControlRequest>& request) {
    if (in_flight_ >= requests_.capacity()) {
      return false;
    }
    if (!requests_.TryPush(std::move(request))) {
      return false;
    }
    ++in_flight_;
    return true;
  }
  // HasResponses is the shard's per-loop-turn peek (a relaxed load of a line it rarely shares).
  bool HasResponses() const { return response_wake_.raised(); }
  // TakeResponses lowers the wake flag and calls |fn(ControlResponse&)| for each answer.
  template <typename Fn>
  void TakeResponses(Fn&& fn) {
    response_wake_.Lower();
    std::unique_ptr<ControlResponse> r;
    while (responses_.TryPop(&r)) {
      --in_flight_;
      fn(*r);
    }
  }
  // SetRingFd publishes the shard's ring fd as the MSG_RING target (-1: none, stop sending).
  void SetRingFd(int fd) { ring_fd_.Store(fd); }
  size_t in_flight() const { return in_flight_; }
  size_t capacity() const { return requests_.capacity(); }

  // --- Control-plane side ---

  bool PopRequest(std::unique_ptr<ControlRequest>* out) { return requests_.TryPop(out); }
  // PushResponse returns whether the shard must be woken (its flag was lowered).
  bool PushResponse(std::unique_ptr<ControlResponse> response) {
    // Cannot fail: the shard keeps at most capacity() requests outstanding.
    (void)responses_.TryPush(std::move(response));
    return response_wake_.Raise();
  }
  int ring_fd() const { return ring_fd_.Load(); }

 private:
  concurrent::SpscQueue<std::unique_ptr<ControlRequest>> requests_;
  concurrent::SpscQueue<std::unique_ptr<ControlResponse>> responses_;
  concurrent::WakeFlag response_wake_;
  concurrent::Published<int> ring_fd_{-1};
  size_t in_flight_ = 0;  // shard-owned
};

// AdminToken is the admin bearer token, kept only as its SHA-256 digest and compared in
// constant time.
class AdminToken {
 public:
  // Load reads the token from $CREDENTIALS_DIRECTORY/admin-token when that file exists (systemd
  // LoadCredential=), else from |config.admin.token_file|. Surrounding whitespace is dropped; the
  // token must be 16..4096 characters of the bearer-token alphabet (RFC 6750 b64token). Errors
  // name the file and the fix.
  static absl::StatusOr<AdminToken> Load(const config::Config& config);
  // FromString is Load for a token already in memory (tests).
  static absl::StatusOr<AdminToken> FromString(std::string_view token, std::string_view source);

  // Matches compares |presented| with the token without leaking, through timing, how much of
  // it matched (or its length): both are hashed and the digests compared with CRYPTO_memcmp.
  bool Matches(std::string_view presented) const;
  const std::string& source() const { return source_; }

 private:
  SecretDigest digest_;
  std::string source_;  // the file it came from, for logs
};

struct ControlPlaneOptions {
  std::string wal_dir;
  revocation::WalOptions wal;
  revocation::RevocationSetOptions set;
  int shards = 1;
  // Admin requests one shard may have in flight; each waiting one holds a connection.
  size_t channel_capacity = 4096;
  std::chrono::seconds compaction_interval{3600};  // 0: only by segment count
  int compaction_segments = 8;                     // 0: never by count
  std::chrono::seconds expire_interval{60};
  size_t bulk_max = 10000;
  // Null: admin requests are never authenticated (there is no admin listener).
  std::unique_ptr<AdminToken> admin_token;
  revocation::FileLayer* files = nullptr;  // tests: fault injection; null: the real files
  // Set on a follower ([replication] leader): the leader's URL. Writes are refused, naming it.
  std::string follower_of;
  // The issuance service ([issuance] enabled): its options; null: no issuance.
  std::unique_ptr<issuance::ServiceOptions> issuance;
  // Test hook: make the log's |fail_sync_at|-th fdatasync after start-up fail (0: never). Set
  // only from RINGWARD_TEST_HOOKS=1 RINGWARD_TEST_FAIL_WAL_SYNC=<n>, for the integration test
  // of a failing disk.
  int fail_sync_at = 0;
};

// ControlPlaneOptionsFrom fills the options for |config| (wal in <data_dir>/wal) and |shards|.
// The admin token is loaded when [admin] listen is set; errors name the setting at fault. It
// also reads the fail_sync_at test hook from the environment.
absl::StatusOr<ControlPlaneOptions> ControlPlaneOptionsFrom(const config::Config& config,
                                                            int shards);

class ControlPlane : public issuance::ServiceHost, public replication::ReplicaSink {
 public:
  // Open opens (creating it) and recovers the log, replays it into a new set and logs what it
  // found: a torn tail that was cut is a warning; damage anywhere else fails with the log's
  // DataLoss (segment and byte offset, and `ringward wal repair`). Blocking; run it before the
  // shards start.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Open(ControlPlaneOptions options);

  // The destructor stops the control thread (Stop) and then closes the log.
  ~ControlPlane() override;
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Start runs the control thread.
  absl::Status Start();
  // Stop answers the requests already handed over (their records are durable or failed),
  // waits for a compaction in progress, and joins the threads. Call after the shards stopped.
  void Stop();

  // --- For shards (any thread) ---

  ControlChannel& channel(int shard) { return *channels_[static_cast<size_t>(shard)]; }
  // Wake rings the control thread's doorbell after one or more Submits.
  void Wake() { doorbell_->Ring(); }
  const revocation::RevocationSet& revocations() const { return *set_; }
  concurrent::QsbrDomain& qsbr() { return *qsbr_; }
  // healthy is false once the log has failed (a lock-free load).
  bool healthy() const { return wal_->healthy(); }
  bool has_admin_token() const { return options_.admin_token != nullptr; }
  bool CheckAdminToken(std::string_view presented) const {
    return options_.admin_token != nullptr && options_.admin_token->Matches(presented);
  }
  size_t bulk_max() const { return options_.bulk_max; }
  // RenderMetrics appends the revocation and WAL series (Prometheus text) to |*out|.
  void RenderMetrics(std::string* out) const;

  // The issuance service, or null when [issuance] is off.
  issuance::IssuanceService* issuance() { return issuance_.get(); }
  const issuance::IssuanceService* issuance() const { return issuance_.get(); }
  // SetIssuanceHooks tells the control plane how to reach the serving state: |verifier| returns
  // the verifier shards use now, |keys_changed| asks for a rebuild with the new published keys.
  // Call before Start.
  void SetIssuanceHooks(std::function<std::shared_ptr<const token::Verifier>()> verifier,
                        std::function<void()> keys_changed) {
    verifier_source_ = std::move(verifier);
    keys_changed_ = std::move(keys_changed);
  }
  // SubmitIssuance hands a shard's issuance request to the service; the answer comes back
  // through the shard's channel like any control-plane answer. Control thread.
  void SubmitIssuance(std::unique_ptr<ControlRequest> request);

  // issuance::ServiceHost (worker threads of the issuance service).
  void Append(uint16_t type, std::string payload, revocation::WalAppendCallback done) override;
  void Revoke(std::vector<revocation::Revocation> revocations,
              absl::AnyInvocable<void(absl::Status)> done) override;
  bool IsRevoked(int worker, const token::VerifiedToken& token) override;
  std::shared_ptr<const token::Verifier> CurrentVerifier() override;
  void KeysChanged() override;

  // replication::ReplicaSink (a follower's replication thread).
  uint64_t DurableLsn() override { return wal_->durable_lsn(); }
  absl::Status Apply(std::vector<revocation::WalRecord> records) override;
  absl::Status InstallSnapshot(uint64_t covered_lsn,
                               std::vector<revocation::WalRecord> records) override;

  // follower_of is the leader's URL while this node follows one ("" on a leader). Any thread.
  std::string follower_of() const {
    std::lock_guard<std::mutex> lock(role_mu_);
    return follower_of_;
  }
  bool is_follower() const { return is_follower_.load(std::memory_order_acquire); }
  // Promote makes a follower a leader (after its replication client was stopped).
  absl::Status Promote();
  // SetReplication lends the server's replication endpoints (either may be null) for status,
  // metrics and promotion; |request_promote| asks the server's main thread to promote (it stops
  // the client, then calls Promote). Call before Start.
  void SetReplication(const replication::ReplicationServer* leader,
                      const replication::ReplicationClient* replica,
                      std::function<void()> request_promote) {
    leader_ = leader;
    replica_ = replica;
    request_promote_ = std::move(request_promote);
  }
  void RequestPromote() const {
    if (request_promote_) {
      request_promote_();
    }
  }
  // ReplicationStatusJson is GET /admin/replication.
  std::string ReplicationStatusJson() const;

  // For tests and tools.
  revocation::WriteAheadLog& wal() { return *wal_; }
  uint64_t applied_lsn() const { return applied_lsn_published_.Load(); }

 private:
  struct Completion {
    std::unique_ptr<ControlRequest> request;
    absl::StatusOr<uint64_t> lsn;
  };

  // Counters and gauges written by the control thread only, read by /metrics on any shard.
  struct alignas(64) Metrics {
    concurrent::OwnedCounter revocations[revocation::kRevocationKinds];
    concurrent::OwnedCounter requests_acknowledged;
    concurrent::OwnedCounter requests_failed;   // the log failed under them: outcome unknown
    concurrent::OwnedCounter requests_refused;  // the log had failed before: nothing written
    concurrent::OwnedCounter apply_failures;
    static constexpr int kAckBuckets = 12;
    concurrent::OwnedCounter ack_bucket[kAckBuckets];  // cumulative counts, "le" buckets
    concurrent::OwnedCounter ack_sum_micros;
    concurrent::OwnedCounter ack_count;
    concurrent::OwnedCounter expired;
    concurrent::OwnedCounter compactions;
    concurrent::OwnedCounter compaction_failures;
    concurrent::OwnedGauge live[revocation::kRevocationKinds];
    concurrent::OwnedGauge filter_keys;
    concurrent::OwnedGauge filter_capacity;
    concurrent::OwnedGauge filter_fpr_ppb;  // expected false-positive rate x 1e9
    concurrent::OwnedGauge filter_bytes;
    concurrent::OwnedGauge table_bytes;
    concurrent::OwnedGauge arena_bytes;
    concurrent::OwnedGauge generation;
    concurrent::OwnedGauge wal_healthy;
    concurrent::OwnedCounter wal_syncs;
    concurrent::OwnedGauge wal_last_sync_micros;
    concurrent::OwnedCounter wal_records;
    concurrent::OwnedCounter wal_bytes;
    concurrent::OwnedGauge wal_segments;
    concurrent::OwnedGauge wal_last_lsn;
    concurrent::OwnedGauge wal_durable_lsn;
    concurrent::OwnedGauge wal_oldest_lsn;
    concurrent::OwnedGauge wal_snapshot_lsn;
    concurrent::OwnedGauge wal_queued;
  };

  explicit ControlPlane(ControlPlaneOptions options);

  void Run();
  void Loop(uring::Ring* ring);
  void Intake();
  void TakeIssuanceAnswers();
  void Append(std::unique_ptr<ControlRequest> request);
  void Complete();
  void Respond(ControlRequest& request, int status, std::string body);
  void ApplyReplicated(const std::vector<revocation::WalRecord>& records);
  void InstallFromLeader(std::unique_ptr<ControlRequest> request);
  absl::Status SubmitInternalAndWait(std::unique_ptr<ControlRequest> request);
  void Deliver(int shard, std::unique_ptr<ControlResponse> response);
  void WakeShards(uring::Ring* ring);
  void Maintain(std::chrono::steady_clock::time_point now);
  void StartCompaction();
  void RefreshMetrics();
  std::string WalStatusJson() const;

  ControlPlaneOptions options_;
  std::unique_ptr<revocation::FaultInjectingFileLayer> faults_;  // the fail_sync_at hook only
  std::unique_ptr<revocation::WriteAheadLog> wal_;
  std::unique_ptr<concurrent::QsbrDomain> qsbr_;
  std::unique_ptr<revocation::RevocationSet> set_;
  std::vector<std::unique_ptr<ControlChannel>> channels_;
  std::unique_ptr<concurrent::Doorbell> doorbell_;
  std::unique_ptr<issuance::IssuanceService> issuance_;
  std::function<std::shared_ptr<const token::Verifier>()> verifier_source_;
  std::function<void()> keys_changed_;
  // From the issuance workers to the control thread: answers for shards (shard, response) and
  // revocations to append. A mutex is fine here: never touched by a shard.
  std::mutex inbox_mu_;
  std::vector<std::pair<int, std::unique_ptr<ControlResponse>>> answers_;
  std::vector<std::unique_ptr<ControlRequest>> internal_;
  const replication::ReplicationServer* leader_ = nullptr;
  const replication::ReplicationClient* replica_ = nullptr;
  std::function<void()> request_promote_;
  mutable std::mutex role_mu_;
  std::string follower_of_;
  std::atomic<bool> is_follower_{false};
  // Completions from the WAL's sync thread (its only producer).
  std::unique_ptr<concurrent::SpscQueue<Completion>> completions_;
  Metrics metrics_;

  // Control thread state.
  std::thread thread_;
  concurrent::Published<bool> stopping_{false};
  bool started_ = false;
  size_t appended_ = 0;  // requests handed to the WAL and not completed yet
  uint64_t applied_lsn_ = 0;
  concurrent::Published<uint64_t> applied_lsn_published_{0};
  bool apply_failed_ = false;  // durable records missing from the set: never compact them away
  bool reported_failure_ = false;
  std::vector<std::unique_ptr<ControlRequest>> acked_;  // applied, waiting for visibility
  std::vector<int> wake_;                               // shards to wake, this turn
  std::vector<bool> wake_marked_;
  std::chrono::steady_clock::time_point next_expire_;
  std::chrono::steady_clock::time_point next_compaction_;
  std::chrono::steady_clock::time_point next_metrics_;
  uint64_t wal_segments_ = 0;

  // Compaction: one at a time, on its own thread.
  std::thread compactor_;
  // The compaction thread stores its result, then clears compacting_ (release); the control
  // thread reads compacting_ (acquire) and then the result.
  concurrent::Published<bool> compacting_{false};
  concurrent::Published<int> compaction_result_{0};  // 1 ok, -1 failed, 0 collected
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_CONTROL_PLANE_H_
