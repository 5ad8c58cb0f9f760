// issuance/service.h: IssuanceService, the part of ringward that hands out tokens — the OAuth
// 2.0 token, revocation and introspection endpoints and the admin API for clients, users and
// keys — and IssuanceView, the immutable picture of it that shards read.
//
// Where each request runs:
//   - client_credentials with a client secret is answered on the shard itself
//     (FastClientCredentials, below) from the published IssuanceView: no hop, no lock, one
//     signature. It is the grant machines use all day long.
//   - Everything else (password with argon2id, refresh-token rotation, token exchange,
//     private_key_jwt with its replay check, revocation, introspection, admin writes) is handed
//     over by the shard through the control plane to this service's worker threads. A worker may
//     block: on argon2id, on the write-ahead log's fdatasync, on the revocation path.
//
// State. The service owns the IssuanceStore and the private-key directory. Every change is a
// log record, applied to the store and appended to the log under one mutex (so the log's order
// is the order of decisions, and a restart replays exactly what was decided), and the answer is
// sent only once the record is durable. Lock-outs are counted under the same mutex with the
// attempts in flight reserved first, so parallel wrong passwords cannot run more argon2id
// verifications than the lock-out allows.
//
// Thread-safe: Submit, view(), PublishedJwks, LiveRecords and RenderMetrics from any thread.
// Create, Replay and Start on the control thread before the shards start; Stop after they
// stopped, before the log closes.
#ifndef RINGWARD_ISSUANCE_SERVICE_H_
#define RINGWARD_ISSUANCE_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "concurrent/versioned_snapshot.h"
#include "issuance/form.h"
#include "issuance/key_files.h"
#include "issuance/records.h"
#include "issuance/rotation.h"
#include "issuance/store.h"
#include "issuance/trusted_issuer.h"
#include "ringward/config/config.h"
#include "ringward/revocation/revocation_log.h"
#include "ringward/revocation/wal.h"
#include "ringward/token/key.h"
#include "ringward/token/verifier.h"

namespace ringward::issuance {

// Endpoint is what a handed-over request is for.
enum class Endpoint : uint8_t {
  kToken,          // POST /oauth2/token
  kRevoke,         // POST /oauth2/revoke
  kIntrospect,     // POST /oauth2/introspect
  kAdminClients,   // /admin/clients[/{id}]
  kAdminUsers,     // /admin/users[/{name}[/password|/totp|/unlock]]
  kAdminKeys,      // /admin/keys[/rotate]
};

// HttpCall is one request as the shard hands it over (copied out of its receive buffer).
struct HttpCall {
  Endpoint endpoint = Endpoint::kToken;
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string content_type;
  std::string authorization;
  std::string body;
  std::string peer;  // the client's IP address, for per-IP login limits ("" for unix sockets)
};

// HttpAnswer is the response: a status, extra header lines (each ending in CRLF) and a body.
struct HttpAnswer {
  int status = 200;
  std::string headers;
  std::string content_type = "application/json";
  std::string body;
};

// IssuanceView is what a shard needs to answer client_credentials and discovery by itself.
struct IssuanceView {
  std::string issuer;
  std::string token_endpoint;  // base_url + "/oauth2/token"
  std::vector<std::string> default_audiences;
  int64_t access_token_ttl_s = 600;
  std::shared_ptr<const token::Key> signing_key;  // the active key; null before the first
  absl::flat_hash_map<std::string, Client> clients;
  std::string authorization_server_metadata;  // GET /.well-known/oauth-authorization-server
  std::string openid_configuration;           // GET /.well-known/openid-configuration
};

// FastClientCredentials answers a token request on the shard when it can: grant_type
// client_credentials with client_secret_basic or client_secret_post. It returns false (and
// leaves |*out| alone) when the service must answer it instead. Counts nothing; the caller does.
bool FastClientCredentials(const IssuanceView& view, std::string_view content_type,
                           std::string_view authorization, std::string_view body, int64_t now,
                           HttpAnswer* out);

// ServiceHost is what the service needs from the control plane (implemented there).
class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  // Append queues one record on the write-ahead log; |done| runs on the log's sync thread once
  // it is durable (or failed).
  virtual void Append(uint16_t type, std::string payload, revocation::WalAppendCallback done) = 0;
  // Revoke takes |revocations| down the revocation path: |done| runs once they are durable and
  // enforced on every shard (on the control thread), or with the error.
  virtual void Revoke(std::vector<revocation::Revocation> revocations,
                      absl::AnyInvocable<void(absl::Status)> done) = 0;
  // IsRevoked checks a verified token against the revocation set, as QSBR reader |worker| of
  // the service's own reader slots.
  virtual bool IsRevoked(int worker, const token::VerifiedToken& token) = 0;
  // Verifier is the verifier shards use now (every key, the configured policy).
  virtual std::shared_ptr<const token::Verifier> CurrentVerifier() = 0;
  // KeysChanged asks for the serving state to be rebuilt with PublishedJwks() (async).
  virtual void KeysChanged() = 0;
};

struct ServiceOptions {
  config::IssuanceConfig config;  // issuer, base_url and audiences already resolved
  int64_t leeway_s = 30;
  std::string keys_dir;  // <data_dir>/keys
  int workers = 4;
  // A follower's service (replication): it signs nothing and writes nothing; its state comes
  // from the leader's log through ApplyReplicated. Token and admin writes are refused before
  // they reach it.
  bool read_only = false;
  // log receives one logfmt line with a syslog priority (the server passes server::Log); today
  // the trusted issuers' JWKS fetches. Called from worker threads. May be empty.
  std::function<void(int priority, std::string_view line)> log;
};

// ServiceOptionsFrom resolves |config|'s [issuance] section (issuer and audiences defaulting to
// [tokens]) for a server whose data lives in config.data_dir.
ServiceOptions ServiceOptionsFrom(const config::Config& config);

class IssuanceService {
 public:
  static absl::StatusOr<std::unique_ptr<IssuanceService>> Create(ServiceOptions options,
                                                                 ServiceHost* host);
  ~IssuanceService();
  IssuanceService(const IssuanceService&) = delete;
  IssuanceService& operator=(const IssuanceService&) = delete;

  // Replay rebuilds the store from |wal| (its snapshot, then every durable record); records of
  // other types are passed over.
  absl::Status Replay(revocation::WriteAheadLog& wal);
  // Start makes sure there are signing keys (the first one active at once, a next one
  // published), publishes the view and starts the workers. Blocking (fdatasync).
  absl::Status Start();
  // Stop answers the queued calls with 503, finishes the running ones and joins the workers.
  void Stop();

  // Submit queues |call|; |answer| runs exactly once, on a worker thread.
  void Submit(HttpCall call, absl::AnyInvocable<void(HttpAnswer)> answer);

  // Maintain runs scheduled key rotation and expiry, and queues the trusted issuers' JWKS
  // fetches that are due (they run on workers); call about once a second (control thread).
  void Maintain(int64_t now);

  // ApplyReplicated applies one record received from the leader (already durable in this
  // node's log); keys and clients are republished when they changed. ResetStore empties the
  // state before a snapshot from the leader is applied. Control thread of a follower.
  absl::Status ApplyReplicated(uint16_t type, std::string_view payload);
  void ResetStore();
  // BecomeLeader ends read-only mode after a promotion: the private keys must be in keys_dir
  // (copied from the old leader); when the active key's is missing, a new key is made active.
  absl::Status BecomeLeader();

  const concurrent::VersionedSnapshot<IssuanceView>& view() const { return *view_; }
  // PublishedJwks is {"keys":[...]}: the next, active and retired public keys.
  std::string PublishedJwks() const;
  // LiveRecords is the state as compaction-snapshot records.
  std::vector<Record> LiveRecords(int64_t now) const;
  // RenderMetrics appends the issuance series (Prometheus text).
  void RenderMetrics(std::string* out) const;
  int workers() const { return options_.workers; }

 private:
  // Job is a handed-over request (call and answer) or, with |task| set, internal work that
  // must not block the control thread (a JWKS fetch); a task is dropped at Stop.
  struct Job {
    HttpCall call;
    absl::AnyInvocable<void(HttpAnswer)> answer;
    absl::AnyInvocable<void()> task;
  };
  struct IpFailures {
    int64_t window_start = 0;
    int failures = 0;
  };

  IssuanceService(ServiceOptions options, ServiceHost* host, KeyFiles files);

  void WorkerLoop(int worker);
  // Post queues |task| for a worker (dropped when stopping).
  void Post(absl::AnyInvocable<void()> task);
  // ScheduleJwksFetches posts a fetch for every trusted issuer whose JWKS URL is due.
  void ScheduleJwksFetches();
  HttpAnswer Handle(int worker, HttpCall& call);

  // Endpoints.
  HttpAnswer Token(int worker, const HttpCall& call);
  HttpAnswer Revoke(int worker, const HttpCall& call);
  HttpAnswer Introspect(int worker, const HttpCall& call);
  HttpAnswer AdminClients(const HttpCall& call);
  HttpAnswer AdminUsers(const HttpCall& call);
  HttpAnswer AdminKeys(const HttpCall& call);

  // Grants (the client is authenticated).
  HttpAnswer PasswordGrant(const Client& client, const Form& form, const HttpCall& call,
                           int64_t now);
  HttpAnswer RefreshGrant(const Client& client, const Form& form, int64_t now);
  HttpAnswer ExchangeGrant(const Client& client, const Form& form, int64_t now);

  // AuthenticateClient checks the client's credentials (secret or private_key_jwt, with the
  // assertion's jti refused a second time). On failure |*error| is the RFC 6749 answer.
  const Client* AuthenticateClient(const HttpCall& call, const Form& form, int64_t now,
                                   HttpAnswer* error);

  // Write applies |records| to the store and appends them (one batch record when several) under
  // mu_, then waits until durable. Must be called with |lock| held; returns with it released.
  absl::Status Write(std::unique_lock<std::mutex>& lock, std::vector<Record> records);
  // Issue signs an access token (and, when |refresh|, stores a new refresh token in |family|)
  // and builds the RFC 6749 §5.1 answer (with |issued_token_type| for RFC 8693).
  HttpAnswer IssueTokens(const Client& client, std::string_view sub, std::string_view scope,
                         int64_t auth_time, int64_t now, bool refresh, std::string family,
                         std::vector<Record> also,
                         std::string_view issued_token_type = {});

  // Keys: under mu_.
  absl::Status EnsureKeys(std::unique_lock<std::mutex>& lock, int64_t now, bool forced,
                          std::string* wait_reason);
  absl::Status LoadSigningKeys();
  void PublishView();
  RotationPolicy Policy() const;

  ServiceOptions options_;
  ServiceHost* host_;
  KeyFiles files_;
  std::unique_ptr<concurrent::VersionedSnapshot<IssuanceView>> view_;

  mutable std::mutex mu_;  // everything below, except where noted
  IssuanceStore store_;
  absl::flat_hash_map<std::string, int> attempts_in_flight_;  // username -> reservations
  absl::flat_hash_map<std::string, IpFailures> ip_failures_;
  absl::flat_hash_map<std::string, int64_t> assertion_jtis_;  // client|jti -> exp
  absl::flat_hash_map<std::string, std::shared_ptr<const token::Key>> private_keys_;  // by kid
  // One per [[issuance.trusted_issuers]] table, in order. The vector is fixed after Create;
  // each TrustedIssuer is thread-safe (its verifier is swapped when its JWKS is refetched).
  std::vector<std::unique_ptr<TrustedIssuer>> trusted_;
  int cancel_fd_ = -1;  // eventfd: signalled by Stop to cut JWKS fetches short
  uint64_t published_clients_ = ~uint64_t{0};
  uint64_t published_keys_ = ~uint64_t{0};
  std::atomic<bool> maintain_pending_{false};  // a scheduled key change is queued

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  struct Metrics {
    std::atomic<uint64_t> grants[4] = {};  // tokens issued: client_credentials, password,
                                           // refresh_token, token exchange
    std::atomic<uint64_t> grant_errors{0};
    std::atomic<uint64_t> login_failures{0};
    std::atomic<uint64_t> lockouts{0};
    std::atomic<uint64_t> throttled{0};  // refused by the per-IP limit or a lock-out
    std::atomic<uint64_t> refresh_reuse{0};
    std::atomic<uint64_t> password_verifications{0};
    std::atomic<uint64_t> key_rotations{0};
  };
  Metrics metrics_;
};

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_SERVICE_H_
