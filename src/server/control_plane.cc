#include "server/control_plane.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "concurrent/status_waiter.h"
#include "ringward/base/fd.h"
#include "ringward/base/json.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/user_data.h"
#include "server/log.h"
#include "server/shard.h"

namespace ringward::server {
namespace {

using revocation::kRevocationKinds;
using revocation::RevocationKind;

constexpr size_t kMaxTokenBytes = 4096;
constexpr size_t kMinTokenBytes = 16;
// The control thread wakes at least this often, for maintenance and the metrics it mirrors.
constexpr std::chrono::seconds kMetricsEvery(1);
// Expiry sweeps a slice of the table this often, at least this many slots.
constexpr std::chrono::seconds kExpireEvery(1);
constexpr uint64_t kExpireMinSlots = 1 << 16;
// Upper bounds of the acknowledgement-latency buckets, in microseconds (the last is +Inf).
constexpr int64_t kAckBucketMicros[] = {1000,   2000,   5000,   10000,   20000,  50000,
                                        100000, 200000, 500000, 1000000, 2000000};
static_assert(std::size(kAckBucketMicros) + 1 == 12);

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  json::AppendJsonString(&out, message);
  out.append("}\n");
  return out;
}

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Prometheus text helpers (the same shape as server/metrics.cc, for series without shards).
void Family(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  absl::StrAppend(out, "# HELP ringward_", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ringward_",
                  ToAbsl(name), " ", ToAbsl(type), "\n");
}

void Sample(std::string* out, std::string_view name, std::string_view labels, int64_t value) {
  absl::StrAppend(out, "ringward_", ToAbsl(name));
  if (!labels.empty()) {
    absl::StrAppend(out, "{", ToAbsl(labels), "}");
  }
  absl::StrAppend(out, " ", value, "\n");
}

void One(std::string* out, std::string_view name, std::string_view type, std::string_view help,
         int64_t value) {
  Family(out, name, type, help);
  Sample(out, name, "", value);
}

}  // namespace

// --- AdminToken ---

absl::StatusOr<AdminToken> AdminToken::FromString(std::string_view token, std::string_view source) {
  token = Trim(token);
  if (token.size() < kMinTokenBytes || token.size() > kMaxTokenBytes ||
      !std::all_of(token.begin(), token.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(source), ": the admin token must be one line of ", kMinTokenBytes, " to ",
        kMaxTokenBytes,
        " characters from A-Z a-z 0-9 - . _ ~ + / = (make one with `openssl rand -base64 32`)"));
  }
  AdminToken t;
  t.digest_ = SecretDigest(token);
  t.source_ = std::string(source);
  return t;
}

absl::StatusOr<AdminToken> AdminToken::Load(const config::Config& config) {
  std::string path;
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"); creds != nullptr && *creds != 0) {
    const std::string candidate = absl::StrCat(creds, "/admin-token");
    if (::access(candidate.c_str(), F_OK) == 0) {
      path = candidate;
    }
  }
  if (path.empty()) {
    path = config.admin.token_file;
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.path.empty() ? "config" : config.path,
        ": [admin] listen is set but there is no admin token: set [admin] token_file to a file "
        "holding one random line (e.g. from `openssl rand -base64 32`), or provide the systemd "
        "credential admin-token (LoadCredential=admin-token:/etc/ringward/admin-token)"));
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the admin token file \"", path, "\": ", std::strerror(errno)));
  }
  std::string text;
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read the admin token file \"", path, "\": ", std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > 2 * kMaxTokenBytes) {
      break;  // refused below as too long
    }
  }
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && (st.st_mode & 0077) != 0) {
    LogEvent(LogPriority::kWarning, "admin_token_permissions",
             {{"file", path}, {"problem", "readable by other users"}, {"fix", "chmod 600"}});
  }
  return FromString(text, path);
}

bool AdminToken::Matches(std::string_view presented) const { return digest_.Matches(presented); }

// --- Options ---

absl::StatusOr<ControlPlaneOptions> ControlPlaneOptionsFrom(const config::Config& config,
                                                            int shards) {
  ControlPlaneOptions o;
  if (config.data_dir.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.path.empty() ? "config" : config.path,
                     ": data_dir is not set: the revocation log has nowhere to live"));
  }
  o.wal_dir = absl::StrCat(config.data_dir, "/wal");
  o.wal.segment_bytes = config.revocation.segment_bytes;
  o.set.expected_revocations = config.revocation.expected_revocations;
  // Entries must outlive the verifier's leeway on exp, or a tolerated token would come back.
  o.set.expire_grace_seconds = std::max<int64_t>(300, config.tokens.leeway_s);
  o.shards = std::max(1, shards);
  o.compaction_interval = std::chrono::seconds(config.revocation.compaction_interval_s);
  o.compaction_segments = config.revocation.compaction_segments;
  o.expire_interval = std::chrono::seconds(std::max(1, config.revocation.expire_interval_s));
  o.bulk_max = config.revocation.bulk_max;
  const char* hooks = std::getenv("RINGWARD_TEST_HOOKS");
  const char* fail_sync = std::getenv("RINGWARD_TEST_FAIL_WAL_SYNC");
  if (hooks != nullptr && std::string_view(hooks) == "1" && fail_sync != nullptr &&
      absl::SimpleAtoi(fail_sync, &o.fail_sync_at) && o.fail_sync_at > 0) {
    LogEvent(LogPriority::kWarning, "test_hook",
             {{"hook", "fail_wal_sync"}, {"at", o.fail_sync_at}});
  } else {
    o.fail_sync_at = 0;
  }
  if (!config.admin.listen.empty()) {
    absl::StatusOr<AdminToken> token = AdminToken::Load(config);
    if (!token.ok()) {
      return token.status();
    }
    o.admin_token = std::make_unique<AdminToken>(*std::move(token));
  }
  if (config.issuance.enabled) {
    o.issuance = std::make_unique<issuance::ServiceOptions>(issuance::ServiceOptionsFrom(config));
    o.issuance->log = [](int priority, std::string_view line) {
      Log(static_cast<LogPriority>(priority), line);
    };
  }
  o.follower_of = config.replication.leader;
  return o;
}

// --- ControlPlane ---

ControlPlane::ControlPlane(ControlPlaneOptions options) : options_(std::move(options)) {
  follower_of_ = options_.follower_of;
  is_follower_.store(!follower_of_.empty(), std::memory_order_release);
  options_.shards = std::max(1, options_.shards);
  options_.channel_capacity = std::max<size_t>(1, options_.channel_capacity);
}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Open(ControlPlaneOptions options) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<ControlPlane> cp(new ControlPlane(std::move(options)));
  const ControlPlaneOptions& o = cp->options_;

  revocation::FileLayer* files = o.files;
  if (o.fail_sync_at > 0) {
    cp->faults_ = std::make_unique<revocation::FaultInjectingFileLayer>(
        files != nullptr ? files : revocation::PosixFileLayer::Default());
    files = cp->faults_.get();
  }
  absl::StatusOr<std::unique_ptr<revocation::WriteAheadLog>> wal =
      revocation::WriteAheadLog::Open(o.wal_dir, o.wal, files);
  if (!wal.ok()) {
    return absl::Status(wal.status().code(),
                        absl::StrCat("revocation log: ", wal.status().message()));
  }
  cp->wal_ = *std::move(wal);
  if (cp->faults_ != nullptr) {
    cp->faults_->FailSyncAt(o.fail_sync_at);
  }
  const revocation::WalRecoveryReport& recovery = cp->wal_->recovery_report();
  if (recovery.truncated) {
    // An interrupted write at the end of the log: never acknowledged, cut off.
    LogEvent(LogPriority::kWarning, "revocation_log_torn_tail",
             {{"dir", o.wal_dir},
              {"segment", recovery.truncated_segment},
              {"offset", recovery.truncated_offset},
              {"bytes", recovery.bytes_truncated},
              {"reason", recovery.truncated_reason}});
  }

  const int issuance_workers = o.issuance != nullptr ? o.issuance->workers : 0;
  cp->qsbr_ = std::make_unique<concurrent::QsbrDomain>(o.shards + issuance_workers);
  absl::StatusOr<std::unique_ptr<revocation::RevocationSet>> set =
      revocation::RevocationSet::Create(o.set, cp->qsbr_.get());
  if (!set.ok()) {
    return set.status();
  }
  cp->set_ = *std::move(set);
  absl::StatusOr<revocation::ReplayReport> replay =
      revocation::ReplayRevocations(*cp->wal_, cp->set_.get());
  if (!replay.ok()) {
    return absl::Status(replay.status().code(),
                        absl::StrCat("revocation log: ", replay.status().message()));
  }
  cp->metrics_.expired.Add(cp->set_->Expire(UnixNow()));
  cp->applied_lsn_ = replay->last_lsn;
  cp->applied_lsn_published_.Store(replay->last_lsn);

  const revocation::RevocationStats stats = cp->set_->Stats();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  LogEvent(LogPriority::kInfo, "revocation_log_recovered",
           {{"dir", o.wal_dir},
            {"revocations", replay->applied},
            {"snapshot_lsn", replay->snapshot_lsn},
            {"last_lsn", replay->last_lsn},
            {"live", stats.live_total},
            {"jti", stats.live[0]},
            {"subject", stats.live[1]},
            {"client", stats.live[2]},
            {"kid", stats.live[3]},
            {"ms", static_cast<int64_t>(ms)},
            {"detail", absl::StrCat(recovery.ToString(), "; ", replay->ToString())}});

  for (int i = 0; i < o.shards; ++i) {
    cp->channels_.push_back(std::make_unique<ControlChannel>(o.channel_capacity));
  }
  cp->wake_marked_.assign(static_cast<size_t>(o.shards), false);
  // Every request a shard can have in flight may be waiting for the log at once.
  cp->completions_ = std::make_unique<concurrent::SpscQueue<Completion>>(
      static_cast<size_t>(o.shards) * cp->channels_[0]->capacity() + 16);
  absl::StatusOr<std::unique_ptr<concurrent::Doorbell>> doorbell = concurrent::Doorbell::Create();
  if (!doorbell.ok()) {
    return doorbell.status();
  }
  cp->doorbell_ = *std::move(doorbell);
  if (o.issuance != nullptr) {
    absl::StatusOr<std::unique_ptr<issuance::IssuanceService>> service =
        issuance::IssuanceService::Create(*o.issuance, cp.get());
    if (!service.ok()) {
      return service.status();
    }
    if (absl::Status s = (*service)->Replay(*cp->wal_); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("issuance state in the log: ", s.message()));
    }
    // Signing keys exist before anything is served (the first start makes them: the log's
    // sync thread already runs), so the first serving state publishes them.
    if (absl::Status s = (*service)->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("issuance: ", s.message()));
    }
    cp->issuance_ = *std::move(service);
  }
  cp->RefreshMetrics();
  return cp;
}

ControlPlane::~ControlPlane() {
  Stop();
  // The log first: its destructor may still run callbacks that touch the queues below.
  wal_.reset();
}

absl::Status ControlPlane::Start() {
  if (started_) {
    return absl::OkStatus();
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ControlPlane::Stop() {
  if (issuance_ != nullptr) {
    // Its workers may wait for the control thread (revocations): stopped while it still runs.
    issuance_->Stop();
  }
  if (started_) {
    stopping_.Store(true);
    doorbell_->Ring();
    thread_.join();
    started_ = false;
  }
  if (compactor_.joinable()) {
    compactor_.join();
  }
}

void ControlPlane::Run() {
  pthread_setname_np(pthread_self(), "rw-control");
  // The ring that sends MSG_RING wake-ups to shards belongs to this thread (SINGLE_ISSUER).
  absl::StatusOr<uring::Ring> ring = uring::Ring::Create(64, 512);
  if (!ring.ok()) {
    LogError(absl::StrCat("control plane: no io_uring for waking shards (", ring.status().message(),
                          "); answers reach them within a second"));
    Loop(nullptr);
    return;
  }
  Loop(&*ring);
}

void ControlPlane::Loop(uring::Ring* ring) {
  auto now = std::chrono::steady_clock::now();
  next_expire_ = now + kExpireEvery;
  next_compaction_ = options_.compaction_interval.count() > 0
                         ? now + options_.compaction_interval
                         : std::chrono::steady_clock::time_point::max();
  next_metrics_ = now + kMetricsEvery;
  while (true) {
    now = std::chrono::steady_clock::now();
    const auto deadline = std::min({next_expire_, next_compaction_, next_metrics_});
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    doorbell_->Wait(
        std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(kMetricsEvery)));
    Intake();
    TakeIssuanceAnswers();
    Complete();
    WakeShards(ring);
    now = std::chrono::steady_clock::now();
    Maintain(now);
    if (now >= next_metrics_) {
      RefreshMetrics();
      if (issuance_ != nullptr) {
        issuance_->Maintain(UnixNow());
      }
      next_metrics_ = now + kMetricsEvery;
    }
    if (stopping_.Load() && appended_ == 0) {
      // The shards have stopped: nothing new arrives, and everything handed over is answered.
      Intake();
      if (appended_ == 0) {
        break;
      }
    }
  }
  RefreshMetrics();
}

void ControlPlane::Intake() {
  for (auto& channel : channels_) {
    std::unique_ptr<ControlRequest> request;
    while (channel->PopRequest(&request)) {
      switch (request->op) {
        case ControlOp::kWalStatus:
          Respond(*request, 200, WalStatusJson());
          break;
        case ControlOp::kRevoke:
          Append(std::move(request));
          break;
        case ControlOp::kIssuance:
          SubmitIssuance(std::move(request));
          break;
        case ControlOp::kReplicate:
        case ControlOp::kInstallSnapshot:
          break;  // internal only (ReplicaSink), never from a shard
      }
    }
  }
  std::vector<std::unique_ptr<ControlRequest>> internal;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    internal.swap(internal_);
  }
  for (std::unique_ptr<ControlRequest>& request : internal) {
    Append(std::move(request));
  }
}

void ControlPlane::SubmitIssuance(std::unique_ptr<ControlRequest> request) {
  if (issuance_ == nullptr) {
    Respond(*request, 404, ErrorJson("not found"));
    return;
  }
  issuance::HttpCall call = std::move(request->call);
  // The answer travels back with the fields that find the connection.
  auto response = std::make_unique<ControlResponse>();
  response->conn_index = request->conn_index;
  response->conn_generation = request->conn_generation;
  response->connection = request->connection;
  response->head = request->head;
  response->route = request->route;
  const int shard = request->shard;
  issuance_->Submit(std::move(call), [this, shard, response = std::move(response)](
                                         issuance::HttpAnswer answer) mutable {
    response->status = answer.status;
    response->body = std::move(answer.body);
    response->headers = std::move(answer.headers);
    response->content_type = std::move(answer.content_type);
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      answers_.emplace_back(shard, std::move(response));
    }
    doorbell_->Ring();
  });
}

void ControlPlane::TakeIssuanceAnswers() {
  std::vector<std::pair<int, std::unique_ptr<ControlResponse>>> answers;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    answers.swap(answers_);
  }
  for (auto& [shard, response] : answers) {
    Deliver(shard, std::move(response));
  }
}

void ControlPlane::Append(uint16_t type, std::string payload, revocation::WalAppendCallback done) {
  wal_->Append(type, std::move(payload), std::move(done));
}

void ControlPlane::Revoke(std::vector<revocation::Revocation> revocations,
                          absl::AnyInvocable<void(absl::Status)> done) {
  auto request = std::make_unique<ControlRequest>();
  request->shard = -1;
  request->op = ControlOp::kRevoke;
  request->route = Route::kAdminRevoke;
  request->revocations = std::move(revocations);
  request->received = std::chrono::steady_clock::now();
  request->internal_done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    internal_.push_back(std::move(request));
  }
  doorbell_->Ring();
}

bool ControlPlane::IsRevoked(int worker, const token::VerifiedToken& token) {
  const int reader = options_.shards + worker;
  qsbr_->Online(reader);
  const bool revoked = set_->IsRevoked(token);
  qsbr_->Offline(reader);
  return revoked;
}

std::shared_ptr<const token::Verifier> ControlPlane::CurrentVerifier() {
  return verifier_source_ ? verifier_source_() : nullptr;
}

void ControlPlane::KeysChanged() {
  if (keys_changed_) {
    keys_changed_();
  }
}

void ControlPlane::Append(std::unique_ptr<ControlRequest> request) {
  if (request->op == ControlOp::kInstallSnapshot) {
    InstallFromLeader(std::move(request));
    return;
  }
  if (request->op == ControlOp::kReplicate && wal_->healthy()) {
    std::vector<revocation::WalRecord>& records = request->replicated;
    for (size_t i = 0; i + 1 < records.size(); ++i) {
      wal_->Append(records[i].type, records[i].payload, nullptr);
    }
    const revocation::WalRecord& last = records.back();
    const uint16_t type = last.type;
    std::string payload = last.payload;
    wal_->Append(type, std::move(payload),
                 [this, r = std::move(request)](absl::StatusOr<uint64_t> lsn) mutable {
                   (void)completions_->TryPush(Completion{std::move(r), std::move(lsn)});
                   doorbell_->Ring();
                 });
    ++appended_;
    return;
  }
  if (!wal_->healthy()) {
    metrics_.requests_refused.Inc();
    Respond(*request, 503,
            ErrorJson(absl::StrCat("the revocation log has failed and refuses writes until "
                                   "ringward restarts: ",
                                   wal_->failure().message())));
    return;
  }
  std::vector<revocation::Revocation>& revocations = request->revocations;
  if (revocations.empty()) {
    Respond(*request, 200, "{\"revoked\":0}\n");
    return;
  }
  for (size_t i = 0; i + 1 < revocations.size(); ++i) {
    const revocation::Revocation& r = revocations[i];
    wal_->Append(revocation::RecordTypeFor(r.kind), revocation::EncodeRevocation(r), nullptr);
  }
  // Records of one request are appended back to back by this one thread, and the log answers
  // in LSN order, so the last record's callback means the whole request is durable.
  const revocation::Revocation& last = revocations.back();
  const uint16_t type = revocation::RecordTypeFor(last.kind);
  std::string payload = revocation::EncodeRevocation(last);
  wal_->Append(type, std::move(payload),
               [this, r = std::move(request)](absl::StatusOr<uint64_t> lsn) mutable {
                 // On the sync thread: hand over and return. The queue is sized for every
                 // request that can be in flight, so the push cannot fail.
                 (void)completions_->TryPush(Completion{std::move(r), std::move(lsn)});
                 doorbell_->Ring();
               });
  ++appended_;
}

void ControlPlane::Complete() {
  Completion c;
  bool failed_any = false;
  while (completions_->TryPop(&c)) {
    --appended_;
    ControlRequest& request = *c.request;
    if (!c.lsn.ok()) {
      metrics_.requests_failed.Inc();
      failed_any = true;
      Respond(request, 503,
              ErrorJson(absl::StrCat(
                  "the revocation log failed while writing this request, so it may or may not "
                  "have been recorded (",
                  c.lsn.status().message(),
                  "); the log refuses writes until ringward restarts: retry then")));
      continue;
    }
    if (request.op == ControlOp::kReplicate) {
      // The follower's log must hold the leader's LSNs: the last record's must match.
      const uint64_t expected = request.replicated.back().lsn;
      if (*c.lsn != expected) {
        LogEvent(LogPriority::kError, "replication_diverged",
                 {{"leader_lsn", expected}, {"local_lsn", *c.lsn},
                  {"action", "replication stopped; rebuild this follower's data_dir"}});
        Respond(request, 409,
                absl::StrCat("diverged: the leader's record ", expected,
                             " landed at LSN ", *c.lsn, " in this follower's log"));
        continue;
      }
      ApplyReplicated(request.replicated);
      applied_lsn_ = *c.lsn;
      request.lsn = *c.lsn;
      acked_.push_back(std::move(c.request));
      continue;
    }
    bool applied = true;
    for (const revocation::Revocation& r : request.revocations) {
      absl::Status s = revocation::ApplyRevocation(r, set_.get());
      if (!s.ok()) {
        applied = false;
        apply_failed_ = true;
        metrics_.apply_failures.Inc();
        LogEvent(LogPriority::kError, "revocation_apply_failed",
                 {{"lsn", *c.lsn},
                  {"error", ToStd(s.message())},
                  {"action", "durable; takes effect after a restart; compaction off until then"}});
        break;
      }
      metrics_.revocations[static_cast<int>(r.kind)].Inc();
    }
    applied_lsn_ = *c.lsn;
    if (!applied) {
      Respond(request, 500,
              ErrorJson("the revocation is durable but could not be applied in memory; it "
                        "takes effect after a restart"));
      continue;
    }
    request.lsn = *c.lsn;
    acked_.push_back(std::move(c.request));
  }
  if (failed_any) {
    RefreshMetrics();
  }
  if (acked_.empty()) {
    return;
  }
  applied_lsn_published_.Store(applied_lsn_);
  // Visible: every shard has passed a quiescent state (or is offline) since these were applied,
  // so each of its later checks sees them.
  const uint64_t ticket = set_->Publish();
  bool warned = false;
  while (!set_->WaitVisible(ticket, std::chrono::seconds(1))) {
    if (!warned) {
      LogEvent(LogPriority::kWarning, "revocation_visibility_wait",
               {{"waited_ms", 1000}, {"reason", "a shard has not finished a loop turn"}});
      warned = true;
    }
    if (stopping_.Load()) {
      break;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (std::unique_ptr<ControlRequest>& request : acked_) {
    const int64_t micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now - request->received).count();
    size_t bucket = 0;
    while (bucket < std::size(kAckBucketMicros) && micros > kAckBucketMicros[bucket]) {
      ++bucket;
    }
    for (size_t b = bucket; b < Metrics::kAckBuckets; ++b) {
      metrics_.ack_bucket[b].Inc();
    }
    metrics_.ack_sum_micros.Add(static_cast<uint64_t>(std::max<int64_t>(0, micros)));
    metrics_.ack_count.Inc();
    metrics_.requests_acknowledged.Inc();
    Respond(*request, 200,
            absl::StrCat("{\"revoked\":", request->revocations.size(), ",\"lsn\":", request->lsn,
                         "}\n"));
  }
  acked_.clear();
}

void ControlPlane::Respond(ControlRequest& request, int status, std::string body) {
  if (request.internal_done) {
    request.internal_done(status == 200   ? absl::OkStatus()
                          : status == 409 ? absl::FailedPreconditionError(body)
                                          : absl::UnavailableError(body));
    return;
  }
  auto response = std::make_unique<ControlResponse>();
  response->conn_index = request.conn_index;
  response->conn_generation = request.conn_generation;
  response->connection = request.connection;
  response->head = request.head;
  response->route = request.route;
  response->status = status;
  response->body = std::move(body);
  Deliver(request.shard, std::move(response));
}

void ControlPlane::ApplyReplicated(const std::vector<revocation::WalRecord>& records) {
  for (const revocation::WalRecord& record : records) {
    if (revocation::IsRevocationRecordType(record.type)) {
      absl::StatusOr<revocation::Revocation> r =
          revocation::DecodeRevocation(record.type, record.payload);
      absl::Status s = r.ok() ? revocation::ApplyRevocation(*r, set_.get()) : r.status();
      if (!s.ok()) {
        apply_failed_ = true;
        metrics_.apply_failures.Inc();
        LogEvent(LogPriority::kError, "replication_apply_failed",
                 {{"lsn", record.lsn}, {"error", ToStd(s.message())}});
        continue;
      }
      metrics_.revocations[static_cast<int>(r->kind)].Inc();
    } else if (issuance::IsIssuanceRecordType(record.type) && issuance_ != nullptr) {
      if (absl::Status s = issuance_->ApplyReplicated(record.type, record.payload); !s.ok()) {
        LogEvent(LogPriority::kError, "replication_apply_failed",
                 {{"lsn", record.lsn}, {"error", ToStd(s.message())}});
      }
    }
  }
}

void ControlPlane::InstallFromLeader(std::unique_ptr<ControlRequest> request) {
  // Blocking file I/O on the control thread: a snapshot install is rare (a follower joining
  // after compaction, or one that was away longer than the leader keeps segments).
  const absl::Status installed = wal_->InstallSnapshot(request->snapshot_lsn, request->replicated);
  if (!installed.ok()) {
    Respond(*request, 503, std::string(installed.message()));
    return;
  }
  // Revocations the snapshot no longer holds have expired on the leader: keeping them here
  // rejects nothing valid. Issuance state is replaced whole (deleted clients, removed keys).
  if (issuance_ != nullptr) {
    issuance_->ResetStore();
  }
  ApplyReplicated(request->replicated);
  applied_lsn_ = request->snapshot_lsn;
  applied_lsn_published_.Store(applied_lsn_);
  const uint64_t ticket = set_->Publish();
  while (!set_->WaitVisible(ticket, std::chrono::seconds(1)) && !stopping_.Load()) {
  }
  LogEvent(LogPriority::kInfo, "replication_snapshot_installed",
           {{"covered_lsn", request->snapshot_lsn}, {"records", request->replicated.size()}});
  Respond(*request, 200, "{}");
}

absl::Status ControlPlane::Apply(std::vector<revocation::WalRecord> records) {
  if (records.empty()) {
    return absl::OkStatus();
  }
  auto request = std::make_unique<ControlRequest>();
  request->shard = -1;
  request->op = ControlOp::kReplicate;
  request->route = Route::kAdminRevoke;
  request->replicated = std::move(records);
  request->received = std::chrono::steady_clock::now();
  return SubmitInternalAndWait(std::move(request));
}

absl::Status ControlPlane::InstallSnapshot(uint64_t covered_lsn,
                                           std::vector<revocation::WalRecord> records) {
  auto request = std::make_unique<ControlRequest>();
  request->shard = -1;
  request->op = ControlOp::kInstallSnapshot;
  request->route = Route::kAdminRevoke;
  request->replicated = std::move(records);
  request->snapshot_lsn = covered_lsn;
  request->received = std::chrono::steady_clock::now();
  return SubmitInternalAndWait(std::move(request));
}

absl::Status ControlPlane::SubmitInternalAndWait(std::unique_ptr<ControlRequest> request) {
  auto waiter = std::make_shared<concurrent::StatusWaiter>();
  request->internal_done = [waiter](absl::Status s) { waiter->Set(std::move(s)); };
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    internal_.push_back(std::move(request));
  }
  doorbell_->Ring();
  return waiter->Wait();
}

std::string ControlPlane::ReplicationStatusJson() const {
  const bool follower = is_follower();
  std::string out = absl::StrCat("{\"role\":\"", follower ? "follower" : "leader",
                                 "\",\"durable_lsn\":", wal_->durable_lsn(),
                                 ",\"applied_lsn\":", applied_lsn_published_.Load());
  if (replica_ != nullptr) {
    absl::StrAppend(&out, ",\"stream\":", replica_->StatusJson());
  }
  if (leader_ != nullptr) {
    absl::StrAppend(&out, ",\"serving\":", leader_->StatusJson());
  }
  out.append("}\n");
  return out;
}

absl::Status ControlPlane::Promote() {
  {
    std::lock_guard<std::mutex> lock(role_mu_);
    if (follower_of_.empty()) {
      return absl::FailedPreconditionError("this node is already a leader");
    }
  }
  if (issuance_ != nullptr) {
    if (absl::Status s = issuance_->BecomeLeader(); !s.ok()) {
      return s;
    }
  }
  std::lock_guard<std::mutex> lock(role_mu_);
  LogEvent(LogPriority::kWarning, "promoted",
           {{"former_leader", follower_of_}, {"lsn", wal_->durable_lsn()}});
  follower_of_.clear();
  is_follower_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

void ControlPlane::Deliver(int shard, std::unique_ptr<ControlResponse> response) {
  const auto i = static_cast<size_t>(shard);
  if (channels_[i]->PushResponse(std::move(response)) && !wake_marked_[i]) {
    wake_marked_[i] = true;
    wake_.push_back(shard);
  }
}

void ControlPlane::WakeShards(uring::Ring* ring) {
  if (ring == nullptr) {
    wake_.clear();
    std::fill(wake_marked_.begin(), wake_marked_.end(), false);
    return;
  }
  for (const int shard : wake_) {
    wake_marked_[static_cast<size_t>(shard)] = false;
    const int fd = channels_[static_cast<size_t>(shard)]->ring_fd();
    if (fd < 0) {
      continue;  // not started or already stopped; it looks at its flag every loop turn
    }
    uring::PrepMsgRing(ring->GetSqe(), fd, kShardResponses,
                       uring::EncodeUserData(uring::Op::kWake, 0, 0),
                       uring::EncodeUserData(uring::Op::kMsgSent, static_cast<uint32_t>(shard), 0));
  }
  wake_.clear();
  (void)ring->Submit();
  ring->ForEachCompletion([](const io_uring_cqe& cqe) {
    // A full completion queue on the shard (-EOVERFLOW) loses only the wake-up: the shard finds
    // its raised flag on its next loop turn.
    if (cqe.res < 0 && cqe.res != -EOVERFLOW && cqe.res != -EBADFD && cqe.res != -EBADF) {
      LogWarning(absl::StrCat("control plane: cannot wake shard ",
                              uring::UserData::Decode(cqe.user_data).index, ": ",
                              std::strerror(-cqe.res)));
    }
  });
}

void ControlPlane::Maintain(std::chrono::steady_clock::time_point now) {
  if (now >= next_expire_) {
    // A slice of the table per second, so that a full pass takes expire_interval and no single
    // sweep holds up acknowledgements for long (a full sweep costs ~18 ms per million entries).
    const uint64_t capacity = set_->Stats().table_capacity;
    const uint64_t interval_s = std::max<int64_t>(1, options_.expire_interval.count());
    const size_t slice = std::max<uint64_t>(kExpireMinSlots, capacity / interval_s + 1);
    metrics_.expired.Add(set_->Expire(UnixNow(), slice));
    set_->Publish();  // also frees generations and tables readers are done with
    next_expire_ = now + kExpireEvery;
  }
  if (!compacting_.Load() && compactor_.joinable()) {
    compactor_.join();
    const int result = compaction_result_.Load();
    if (result > 0) {
      metrics_.compactions.Inc();
    } else if (result < 0) {
      metrics_.compaction_failures.Inc();
    }
    compaction_result_.Store(0);
    RefreshMetrics();
  }
  if (appended_ == 0) {
    // Nothing of the revocation path is in flight, so every durable record is applied (issuance
    // records are applied before they are appended): /admin/wal and compaction may say so.
    applied_lsn_ = std::max(applied_lsn_, wal_->durable_lsn());
    applied_lsn_published_.Store(applied_lsn_);
  }
  if (compacting_.Load() || !wal_->healthy() || apply_failed_) {
    return;
  }
  const bool by_time = now >= next_compaction_;
  const bool by_count = options_.compaction_segments > 0 &&
                        wal_segments_ >= static_cast<uint64_t>(options_.compaction_segments);
  if (by_time) {
    next_compaction_ = now + options_.compaction_interval;
  }
  if ((by_time || by_count) &&
      std::max(applied_lsn_, wal_->durable_lsn()) > wal_->snapshot_lsn()) {
    StartCompaction();
  }
}

void ControlPlane::StartCompaction() {
  // The snapshot is the live state as of applied_lsn_: every record up to it applied, nothing
  // after (this thread is the only writer and applies in LSN order). Capturing is the one part
  // that holds up acknowledgements (~0.1-0.4 us per live entry); expired entries the periodic
  // sweep has not reached yet go into it too, and are swept again after a replay.
  const auto start = std::chrono::steady_clock::now();
  // With no revocation request in flight, every durable revocation is applied, so the snapshot
  // may cover everything durable; issuance records are applied before they are appended (see
  // issuance/service.h) and replay idempotently, so the store may run ahead of |covered|.
  const uint64_t covered =
      appended_ == 0 ? std::max(applied_lsn_, wal_->durable_lsn()) : applied_lsn_;
  if (covered <= wal_->snapshot_lsn()) {
    return;  // revocations in flight hold the covered LSN back: nothing new to snapshot yet
  }
  revocation::LiveSnapshot live = revocation::LiveSnapshot::Capture(*set_);
  if (issuance_ != nullptr) {
    for (const issuance::Record& r : issuance_->LiveRecords(UnixNow())) {
      live.AddRecord(r.type, r.payload);
    }
  }
  const auto capture_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  compacting_.Store(true);
  compactor_ = std::thread([this, covered, capture_ms, live = std::move(live)]() {
    pthread_setname_np(pthread_self(), "rw-compact");
    const auto start = std::chrono::steady_clock::now();
    const absl::Status status = live.WriteTo(*wal_, covered);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (status.ok()) {
      LogEvent(LogPriority::kInfo, "revocation_log_compacted",
               {{"revocations", live.records()},
                {"covered_lsn", covered},
                {"capture_ms", static_cast<int64_t>(capture_ms)},
                {"write_ms", static_cast<int64_t>(ms)}});
    } else {
      LogEvent(LogPriority::kWarning, "revocation_log_compaction",
               {{"status", "failed"},
                {"error", ToStd(status.message())},
                {"action", "the log is intact; tried again later"}});
    }
    compaction_result_.Store(status.ok() ? 1 : -1);
    compacting_.Store(false);
    doorbell_->Ring();
  });
}

void ControlPlane::RefreshMetrics() {
  const revocation::WalStatus st = wal_->GetStatus();
  Metrics& m = metrics_;
  m.wal_healthy.Set(st.healthy ? 1 : 0);
  m.wal_syncs.Set(std::max(m.wal_syncs.Value(), st.syncs));
  m.wal_last_sync_micros.Set(st.last_sync_micros);
  m.wal_records.Set(std::max(m.wal_records.Value(), st.records));
  m.wal_bytes.Set(std::max(m.wal_bytes.Value(), st.bytes));
  m.wal_segments.Set(static_cast<int64_t>(st.segments.size()));
  m.wal_last_lsn.Set(static_cast<int64_t>(st.last_lsn));
  m.wal_durable_lsn.Set(static_cast<int64_t>(st.durable_lsn));
  m.wal_oldest_lsn.Set(static_cast<int64_t>(st.oldest_lsn));
  m.wal_snapshot_lsn.Set(static_cast<int64_t>(st.snapshot_lsn));
  m.wal_queued.Set(static_cast<int64_t>(st.queued));
  wal_segments_ = st.segments.size();
  if (!st.healthy && !reported_failure_) {
    reported_failure_ = true;
    LogEvent(LogPriority::kError, "revocation_log_failed",
             {{"error", st.error},
              {"action",
               "revocations are refused (503) and /readyz reports not ready until "
               "ringward restarts"}});
  }

  const revocation::RevocationStats rs = set_->Stats();
  for (int k = 0; k < kRevocationKinds; ++k) {
    m.live[k].Set(static_cast<int64_t>(rs.live[k]));
  }
  m.filter_keys.Set(static_cast<int64_t>(rs.jti_filter_keys));
  m.filter_capacity.Set(static_cast<int64_t>(rs.jti_filter_capacity));
  m.filter_fpr_ppb.Set(static_cast<int64_t>(rs.jti_filter_expected_fpr * 1e9));
  m.filter_bytes.Set(static_cast<int64_t>(rs.filter_bytes));
  m.table_bytes.Set(static_cast<int64_t>(rs.table_bytes));
  m.arena_bytes.Set(static_cast<int64_t>(rs.arena_committed_bytes));
  m.generation.Set(static_cast<int64_t>(rs.generation));
}

void ControlPlane::RenderMetrics(std::string* out) const {
  const Metrics& m = metrics_;
  Family(out, "revocations_total", "counter",
         "Revocations made durable and applied through the admin API, by kind.");
  for (int k = 0; k < kRevocationKinds; ++k) {
    Sample(
        out, "revocations_total",
        absl::StrCat("kind=\"", ToAbsl(RevocationKindName(static_cast<RevocationKind>(k))), "\""),
        static_cast<int64_t>(m.revocations[k].Value()));
  }
  Family(out, "revocation_requests_total", "counter",
         "Admin revocation requests by result: acknowledged (durable and visible), failed (the "
         "log failed under them), refused (the log had failed), apply_failed.");
  Sample(out, "revocation_requests_total", "result=\"acknowledged\"",
         static_cast<int64_t>(m.requests_acknowledged.Value()));
  Sample(out, "revocation_requests_total", "result=\"failed\"",
         static_cast<int64_t>(m.requests_failed.Value()));
  Sample(out, "revocation_requests_total", "result=\"refused\"",
         static_cast<int64_t>(m.requests_refused.Value()));
  Sample(out, "revocation_requests_total", "result=\"apply_failed\"",
         static_cast<int64_t>(m.apply_failures.Value()));
  Family(out, "revocation_ack_seconds", "histogram",
         "From a revocation request reaching the control plane to its acknowledgement (durable "
         "and visible to every shard).");
  for (size_t b = 0; b < Metrics::kAckBuckets; ++b) {
    std::string le;
    if (b < std::size(kAckBucketMicros)) {
      le = absl::StrCat(static_cast<double>(kAckBucketMicros[b]) / 1e6);
    } else {
      le = "+Inf";
    }
    Sample(out, "revocation_ack_seconds_bucket", absl::StrCat("le=\"", le, "\""),
           static_cast<int64_t>(m.ack_bucket[b].Value()));
  }
  absl::StrAppend(out, "ringward_revocation_ack_seconds_sum ",
                  static_cast<double>(m.ack_sum_micros.Value()) / 1e6, "\n");
  Sample(out, "revocation_ack_seconds_count", "", static_cast<int64_t>(m.ack_count.Value()));

  Family(out, "revocations_live", "gauge", "Revocations in force, by kind.");
  for (int k = 0; k < kRevocationKinds; ++k) {
    Sample(
        out, "revocations_live",
        absl::StrCat("kind=\"", ToAbsl(RevocationKindName(static_cast<RevocationKind>(k))), "\""),
        m.live[k].Value());
  }
  One(out, "revocations_expired_total", "counter",
      "jti revocations dropped because their token has expired.",
      static_cast<int64_t>(m.expired.Value()));
  One(out, "revocation_filter_keys", "gauge", "Keys in the jti Bloom filter.",
      m.filter_keys.Value());
  One(out, "revocation_filter_capacity", "gauge", "Keys the jti Bloom filter is sized for.",
      m.filter_capacity.Value());
  Family(out, "revocation_filter_expected_fpr", "gauge",
         "Expected false-positive rate of the jti Bloom filter (positives are confirmed "
         "exactly).");
  absl::StrAppend(out, "ringward_revocation_filter_expected_fpr ",
                  static_cast<double>(m.filter_fpr_ppb.Value()) / 1e9, "\n");
  Family(out, "revocation_memory_bytes", "gauge", "Memory of the revocation set, by part.");
  Sample(out, "revocation_memory_bytes", "part=\"filters\"", m.filter_bytes.Value());
  Sample(out, "revocation_memory_bytes", "part=\"table\"", m.table_bytes.Value());
  Sample(out, "revocation_memory_bytes", "part=\"records\"", m.arena_bytes.Value());
  One(out, "revocation_set_generation", "gauge", "Rebuilds of the revocation set so far.",
      m.generation.Value());
  Family(out, "revocation_compactions_total", "counter", "Log compactions (snapshots), by result.");
  Sample(out, "revocation_compactions_total", "result=\"ok\"",
         static_cast<int64_t>(m.compactions.Value()));
  Sample(out, "revocation_compactions_total", "result=\"failed\"",
         static_cast<int64_t>(m.compaction_failures.Value()));

  One(out, "wal_healthy", "gauge",
      "1 while the write-ahead log accepts writes; 0 after a failed write or fdatasync (until "
      "restart).",
      m.wal_healthy.Value());
  One(out, "wal_syncs_total", "counter", "fdatasyncs of the write-ahead log (group commits).",
      static_cast<int64_t>(m.wal_syncs.Value()));
  One(out, "wal_last_sync_microseconds", "gauge", "Duration of the last fdatasync.",
      m.wal_last_sync_micros.Value());
  One(out, "wal_records_total", "counter", "Records made durable.",
      static_cast<int64_t>(m.wal_records.Value()));
  One(out, "wal_bytes_total", "counter", "Bytes made durable.",
      static_cast<int64_t>(m.wal_bytes.Value()));
  One(out, "wal_segments", "gauge", "Segment files in the log.", m.wal_segments.Value());
  One(out, "wal_last_lsn", "gauge", "Newest LSN assigned.", m.wal_last_lsn.Value());
  One(out, "wal_durable_lsn", "gauge", "Newest LSN on disk and acknowledged.",
      m.wal_durable_lsn.Value());
  One(out, "wal_oldest_lsn", "gauge", "Oldest LSN still in the segments.",
      m.wal_oldest_lsn.Value());
  One(out, "wal_snapshot_lsn", "gauge", "LSN covered by the newest snapshot.",
      m.wal_snapshot_lsn.Value());
  One(out, "wal_queued", "gauge", "Appends waiting for the sync thread.", m.wal_queued.Value());
  if (issuance_ != nullptr) {
    issuance_->RenderMetrics(out);
  }
  absl::StrAppend(out,
                  "# HELP ringward_replication_role This node's role in replication (1 for the "
                  "role it has).\n# TYPE ringward_replication_role gauge\n"
                  "ringward_replication_role{role=\"",
                  is_follower() ? "follower" : "leader", "\"} 1\n");
  if (replica_ != nullptr) {
    replica_->RenderMetrics(out);
  }
  if (leader_ != nullptr) {
    leader_->RenderMetrics(out);
  }
}

std::string ControlPlane::WalStatusJson() const {
  const revocation::WalStatus st = wal_->GetStatus();
  std::string out = absl::StrCat(
      "{\"dir\":", json::JsonQuote(wal_->dir()), ",\"healthy\":", st.healthy ? "true" : "false",
      ",\"last_lsn\":", st.last_lsn, ",\"durable_lsn\":", st.durable_lsn,
      ",\"oldest_lsn\":", st.oldest_lsn, ",\"snapshot_lsn\":", st.snapshot_lsn,
      ",\"applied_lsn\":", applied_lsn_, ",\"last_sync_micros\":", st.last_sync_micros,
      ",\"syncs\":", st.syncs, ",\"records\":", st.records, ",\"bytes\":", st.bytes,
      ",\"queued\":", st.queued, ",\"segments\":[");
  for (size_t i = 0; i < st.segments.size(); ++i) {
    const revocation::WalSegmentInfo& seg = st.segments[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"name\":", json::JsonQuote(seg.name),
                    ",\"first_lsn\":", seg.first_lsn, ",\"bytes\":", seg.bytes, "}");
  }
  out.append("]");
  if (!st.healthy) {
    absl::StrAppend(&out, ",\"error\":", json::JsonQuote(st.error));
  }
  out.append("}\n");
  return out;
}

}  // namespace ringward::server
