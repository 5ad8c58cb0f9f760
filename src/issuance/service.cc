#include "issuance/service.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "concurrent/status_waiter.h"
#include "issuance/access_token.h"
#include "issuance/client_auth.h"
#include "issuance/discovery.h"
#include "issuance/password.h"
#include "issuance/secrets.h"
#include "issuance/totp.h"
#include "ringward/base/json.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"
#include "ringward/token/algorithm.h"

namespace ringward::issuance {
namespace {

constexpr std::string_view kClientCredentials = "client_credentials";
constexpr std::string_view kPassword = "password";
constexpr std::string_view kRefreshToken = "refresh_token";
constexpr std::string_view kTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
constexpr std::string_view kIdTokenType = "urn:ietf:params:oauth:token-type:id_token";
constexpr std::string_view kJwtTokenType = "urn:ietf:params:oauth:token-type:jwt";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded";
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\nPragma: no-cache\r\n";

enum GrantIndex { kGrantClientCredentials = 0, kGrantPassword, kGrantRefresh, kGrantExchange };

// OAuthError is an RFC 6749 §5.2 error answer.
HttpAnswer OAuthError(int status, std::string_view error, std::string_view description,
                      std::string_view extra_headers = {}) {
  HttpAnswer a;
  a.status = status;
  a.headers = absl::StrCat(ToAbsl(kNoStore), ToAbsl(extra_headers));
  a.body = "{\"error\":";
  json::AppendJsonString(&a.body, error);
  if (!description.empty()) {
    a.body.append(",\"error_description\":");
    json::AppendJsonString(&a.body, description);
  }
  a.body.append("}\n");
  return a;
}

// InvalidClient is 401 with a WWW-Authenticate challenge when the client tried HTTP Basic
// (RFC 6749 §5.2), else 400... RFC 6749 allows 401 in both cases; we answer 401 always and add
// the Basic challenge only when Basic was used, as the RFC requires.
HttpAnswer InvalidClient(bool basic, std::string_view description) {
  return OAuthError(401, "invalid_client", description,
                    basic ? "WWW-Authenticate: Basic realm=\"ringward\", charset=\"UTF-8\"\r\n"
                          : std::string_view());
}

bool IsFormRequest(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) {
    media.remove_suffix(1);
  }
  return absl::EqualsIgnoreCase(ToAbsl(media), ToAbsl(kFormType));
}

std::vector<std::string> SplitScope(std::string_view scope) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(ToAbsl(scope), ' ', absl::SkipEmpty())) {
    std::string item(s);
    if (std::find(out.begin(), out.end(), item) == out.end()) {
      out.push_back(std::move(item));
    }
  }
  return out;
}

bool ValidScopeSyntax(std::string_view scope) {
  // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces.
  for (const char c : scope) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == 0x20 || u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E))) {
      return false;
    }
  }
  return true;
}

// GrantScope resolves the requested |scope| against what may be granted (|allowed_a| and, when
// not null, |allowed_b|): every requested token must be in both; nothing requested means
// everything allowed. False: invalid_scope.
bool GrantScope(std::string_view requested, const std::vector<std::string>& allowed_a,
                const std::vector<std::string>* allowed_b, std::string* out) {
  auto allowed = [&](const std::string& s) {
    return std::find(allowed_a.begin(), allowed_a.end(), s) != allowed_a.end() &&
           (allowed_b == nullptr ||
            std::find(allowed_b->begin(), allowed_b->end(), s) != allowed_b->end());
  };
  out->clear();
  if (!ValidScopeSyntax(requested)) {
    return false;
  }
  std::vector<std::string> wanted = SplitScope(requested);
  if (wanted.empty()) {
    for (const std::string& s : allowed_a) {
      if (allowed(s)) {
        wanted.push_back(s);
      }
    }
  }
  for (const std::string& s : wanted) {
    if (!allowed(s)) {
      return false;
    }
    if (!out->empty()) {
      out->push_back(' ');
    }
    out->append(s);
  }
  return true;
}

const std::vector<std::string>& AudiencesFor(const Client& client,
                                             const std::vector<std::string>& defaults) {
  return client.audiences.empty() ? defaults : client.audiences;
}

// TokenAnswer is the RFC 6749 §5.1 success answer.
HttpAnswer TokenAnswer(const MintedToken& minted, int64_t lifetime, std::string_view scope,
                       std::string_view refresh_token, std::string_view issued_token_type) {
  HttpAnswer a;
  a.headers = std::string(kNoStore);
  a.body.reserve(minted.token.size() + 160);
  a.body.append("{\"access_token\":\"");
  a.body.append(minted.token);  // base64url and dots: nothing to escape
  a.body.append("\",\"token_type\":\"Bearer\",\"expires_in\":");
  a.body.append(std::to_string(lifetime));
  if (!scope.empty()) {
    a.body.append(",\"scope\":");
    json::AppendJsonString(&a.body, scope);
  }
  if (!refresh_token.empty()) {
    a.body.append(",\"refresh_token\":\"");
    a.body.append(refresh_token);
    a.body.push_back('"');
  }
  if (!issued_token_type.empty()) {
    a.body.append(",\"issued_token_type\":\"");
    a.body.append(issued_token_type);
    a.body.push_back('"');
  }
  a.body.append("}\n");
  return a;
}

int64_t LifetimeFor(const Client& client, int64_t default_ttl) {
  return client.ttl > 0 ? client.ttl : default_ttl;
}


// ReadForm checks that |call| is a form POST and parses its body; on failure |*error| is the
// answer to give.
absl::StatusOr<Form> ReadForm(const HttpCall& call, HttpAnswer* error) {
  if (call.method != "POST") {
    *error = OAuthError(405, "invalid_request", "use POST", "Allow: POST\r\n");
    return absl::InvalidArgumentError("method");
  }
  if (!IsFormRequest(call.content_type)) {
    *error = OAuthError(400, "invalid_request",
                        "the body must be application/x-www-form-urlencoded");
    return absl::InvalidArgumentError("media type");
  }
  absl::StatusOr<Form> form = Form::Parse(call.body);
  if (!form.ok()) {
    *error = OAuthError(400, "invalid_request", ToStd(form.status().message()));
  }
  return form;
}

HttpAnswer Unavailable(const absl::Status& status) {
  return OAuthError(503, "temporarily_unavailable",
                    absl::StrCat("the write-ahead log did not take the change: ",
                                 status.message()),
                    "Retry-After: 1\r\n");
}

}  // namespace

bool FastClientCredentials(const IssuanceView& view, std::string_view content_type,
                           std::string_view authorization, std::string_view body, int64_t now,
                           HttpAnswer* out) {
  if (view.signing_key == nullptr || !IsFormRequest(content_type)) {
    return false;  // the service gives the precise error
  }
  absl::StatusOr<Form> form = Form::Parse(body);
  if (!form.ok() || form->Get("grant_type") != kClientCredentials) {
    return false;  // the service gives the precise error
  }
  absl::StatusOr<PresentedClient> presented = ExtractClientAuth(authorization, *form);
  if (!presented.ok() || (presented->method != ClientAuthMethod::kSecretBasic &&
                          presented->method != ClientAuthMethod::kSecretPost)) {
    return false;
  }
  const auto it = view.clients.find(presented->client_id);
  if (it == view.clients.end() || !CheckClientSecret(it->second, *presented)) {
    *out = InvalidClient(presented->method == ClientAuthMethod::kSecretBasic,
                         "client authentication failed");
    return true;
  }
  const Client& client = it->second;
  if (!client.AllowsGrant(kClientCredentials)) {
    *out = OAuthError(400, "unauthorized_client",
                      "this client may not use the client_credentials grant");
    return true;
  }
  std::string scope;
  if (!GrantScope(form->Get("scope"), client.scopes, nullptr, &scope)) {
    *out = OAuthError(400, "invalid_scope", "a requested scope is not allowed for this client");
    return true;
  }
  AccessTokenClaims claims;
  claims.issuer = view.issuer;
  claims.subject = client.client_id;
  claims.client_id = client.client_id;
  claims.scope = scope;
  claims.audiences = AudiencesFor(client, view.default_audiences);
  claims.issued_at = now;
  claims.lifetime_s = LifetimeFor(client, view.access_token_ttl_s);
  absl::StatusOr<MintedToken> minted = MintAccessToken(*view.signing_key, claims);
  if (!minted.ok()) {
    *out = OAuthError(500, "server_error", "signing failed");
    return true;
  }
  *out = TokenAnswer(*minted, claims.lifetime_s, scope, {}, {});
  return true;
}

ServiceOptions ServiceOptionsFrom(const config::Config& config) {
  ServiceOptions o;
  o.config = config.issuance;
  if (o.config.issuer.empty() && !config.tokens.issuers.empty()) {
    o.config.issuer = config.tokens.issuers.front();
  }
  if (o.config.base_url.empty()) {
    o.config.base_url = o.config.issuer;
  }
  while (!o.config.base_url.empty() && o.config.base_url.back() == '/') {
    o.config.base_url.pop_back();
  }
  if (o.config.audiences.empty()) {
    o.config.audiences = config.tokens.audiences;
  }
  o.leeway_s = config.tokens.leeway_s;
  o.keys_dir = config.data_dir + "/keys";
  o.workers = std::max(2, config.issuance.password_workers) + 2;
  o.read_only = !config.replication.leader.empty();
  return o;
}

IssuanceService::IssuanceService(ServiceOptions options, ServiceHost* host, KeyFiles files)
    : options_(std::move(options)), host_(host), files_(std::move(files)) {}

absl::StatusOr<std::unique_ptr<IssuanceService>> IssuanceService::Create(ServiceOptions options,
                                                                         ServiceHost* host) {
  Argon2Params params;
  params.memory_kib = options.config.argon2_memory_kib;
  params.iterations = options.config.argon2_iterations;
  params.parallelism = options.config.argon2_parallelism;
  if (absl::Status s = ValidateArgon2Params(params); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("[issuance] argon2: ", s.message()));
  }
  if (!token::ParseAlgorithm(options.config.signing_alg).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("[issuance] signing_alg: unknown algorithm ", options.config.signing_alg));
  }
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(options.keys_dir);
  if (!files.ok()) {
    return files.status();
  }
  std::unique_ptr<IssuanceService> service(
      new IssuanceService(std::move(options), host, *std::move(files)));
  if (!service->options_.config.trusted_issuers.empty()) {
    service->cancel_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (service->cancel_fd_ < 0) {
      return absl::InternalError(absl::StrCat("eventfd(): ", std::strerror(errno)));
    }
  }
  for (const config::TrustedIssuerConfig& t : service->options_.config.trusted_issuers) {
    TrustedIssuerOptions o;
    o.config = t;
    o.leeway_s = service->options_.leeway_s;
    o.cancel_fd = service->cancel_fd_;
    o.log = service->options_.log;
    absl::StatusOr<std::unique_ptr<TrustedIssuer>> trusted = TrustedIssuer::Create(std::move(o));
    if (!trusted.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("[issuance] trusted issuer ", t.issuer,
                                                     ": ", trusted.status().message()));
    }
    service->trusted_.push_back(*std::move(trusted));
  }
  service->view_ = std::make_unique<concurrent::VersionedSnapshot<IssuanceView>>(
      std::make_shared<const IssuanceView>());
  return service;
}

IssuanceService::~IssuanceService() {
  Stop();
  if (cancel_fd_ >= 0) {
    close(cancel_fd_);
  }
}

absl::Status IssuanceService::Replay(revocation::WriteAheadLog& wal) {
  std::lock_guard<std::mutex> lock(mu_);
  auto apply = [this](const revocation::WalRecord& r) -> absl::Status {
    if (!IsIssuanceRecordType(r.type)) {
      return absl::OkStatus();
    }
    absl::Status s = store_.Apply(r.type, r.payload);
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat("issuance record at LSN ", r.lsn, ": ", s.message()));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = revocation::ReplayLog(
          wal, [&](const revocation::WalRecord& r, bool /*from_snapshot*/) { return apply(r); });
      !s.ok()) {
    return s;
  }
  store_.Expire(UnixNow());
  return absl::OkStatus();
}

absl::Status IssuanceService::Start() {
  if (options_.read_only) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      PublishView();
    }
    for (int i = 0; i < options_.workers; ++i) {
      threads_.emplace_back([this, i] { WorkerLoop(i); });
    }
    ScheduleJwksFetches();  // a promoted follower exchanges tokens too
    return absl::OkStatus();
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    std::string wait_reason;
    if (absl::Status s = EnsureKeys(lock, UnixNow(), /*forced=*/false, &wait_reason); !s.ok()) {
      return s;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = LoadSigningKeys(); !s.ok()) {
      return s;
    }
    PublishView();
  }
  for (int i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this, i] { WorkerLoop(i); });
  }
  // The first fetch of each JWKS URL: on a worker, so a provider that is down delays nothing;
  // its tokens are refused (invalid_grant) until a fetch works.
  ScheduleJwksFetches();
  return absl::OkStatus();
}

void IssuanceService::Stop() {
  std::deque<Job> left;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  queue_cv_.notify_all();
  if (cancel_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(cancel_fd_, &one, sizeof(one));  // a JWKS fetch under way ends at once
  }
  for (Job& job : left) {
    if (job.answer) {
      job.answer(OAuthError(503, "temporarily_unavailable", "the server is stopping"));
    }
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
}

void IssuanceService::Submit(HttpCall call, absl::AnyInvocable<void(HttpAnswer)> answer) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(Job{std::move(call), std::move(answer)});
      queue_cv_.notify_one();
      return;
    }
  }
  answer(OAuthError(503, "temporarily_unavailable", "the server is stopping"));
}

void IssuanceService::Post(absl::AnyInvocable<void()> task) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (!stopping_) {
    Job job;
    job.task = std::move(task);
    queue_.push_back(std::move(job));
    queue_cv_.notify_one();
  }
}

void IssuanceService::ScheduleJwksFetches() {
  for (const std::unique_ptr<TrustedIssuer>& t : trusted_) {
    if (t->ScheduleRefresh()) {
      TrustedIssuer* issuer = t.get();
      Post([issuer] { issuer->RunScheduledRefresh(); });
    }
  }
}

void IssuanceService::WorkerLoop(int worker) {
  pthread_setname_np(pthread_self(), "rw-issue");
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (job.task) {
      job.task();
      continue;
    }
    HttpAnswer answer = Handle(worker, job.call);
    job.answer(std::move(answer));
  }
}

HttpAnswer IssuanceService::Handle(int worker, HttpCall& call) {
  switch (call.endpoint) {
    case Endpoint::kToken:
      return Token(worker, call);
    case Endpoint::kRevoke:
      return Revoke(worker, call);
    case Endpoint::kIntrospect:
      return Introspect(worker, call);
    case Endpoint::kAdminClients:
      return AdminClients(call);
    case Endpoint::kAdminUsers:
      return AdminUsers(call);
    case Endpoint::kAdminKeys:
      return AdminKeys(call);
  }
  return OAuthError(404, "not_found", "");
}

const Client* IssuanceService::AuthenticateClient(const HttpCall& call, const Form& form,
                                                  int64_t now, HttpAnswer* error) {
  absl::StatusOr<PresentedClient> presented = ExtractClientAuth(call.authorization, form);
  if (!presented.ok()) {
    if (absl::IsUnauthenticated(presented.status())) {
      const bool tried_basic = call.authorization.size() >= 6 &&
                               (call.authorization[0] | 0x20) == 'b';
      *error = InvalidClient(tried_basic, ToStd(presented.status().message()));
    } else {
      *error = OAuthError(400, "invalid_request", ToStd(presented.status().message()));
    }
    return nullptr;
  }
  const bool basic = presented->method == ClientAuthMethod::kSecretBasic;
  if (presented->method == ClientAuthMethod::kNone) {
    *error = InvalidClient(false,
                           "client authentication is required (client_secret_basic, "
                           "client_secret_post or private_key_jwt)");
    return nullptr;
  }
  // mu_ is held by the caller.
  const Client* client = store_.FindClient(presented->client_id);
  if (client == nullptr) {
    *error = InvalidClient(basic, "client authentication failed");
    return nullptr;
  }
  if (presented->method == ClientAuthMethod::kPrivateKeyJwt) {
    if (client->auth_method != "private_key_jwt") {
      *error = InvalidClient(false, "client authentication failed");
      return nullptr;
    }
    const std::vector<std::string> audiences = {
        absl::StrCat(options_.config.base_url, "/oauth2/token"), options_.config.issuer};
    absl::StatusOr<AssertionInfo> info = VerifyClientAssertion(
        *client, presented->assertion, audiences, now, options_.leeway_s);
    if (!info.ok()) {
      *error = InvalidClient(false, absl::StrCat("client assertion: ",
                                                 info.status().message()));
      return nullptr;
    }
    // RFC 7523 §3: a jti may be used once; remembered until the assertion expires.
    const std::string key = absl::StrCat(client->client_id, "|", info->jti);
    if (!assertion_jtis_.emplace(key, info->exp).second) {
      *error = InvalidClient(false, "client assertion: this jti was already used");
      return nullptr;
    }
    return client;
  }
  if (!CheckClientSecret(*client, *presented)) {
    *error = InvalidClient(basic, "client authentication failed");
    return nullptr;
  }
  return client;
}

HttpAnswer IssuanceService::Token(int /*worker*/, const HttpCall& call) {
  const int64_t now = UnixNow();
  HttpAnswer bad;
  absl::StatusOr<Form> form = ReadForm(call, &bad);
  if (!form.ok()) {
    return bad;
  }
  const std::string_view grant = form->Get("grant_type");
  if (grant.empty()) {
    return OAuthError(400, "invalid_request", "grant_type is required");
  }
  Client client;
  {
    std::lock_guard<std::mutex> lock(mu_);
    HttpAnswer error;
    const Client* found = AuthenticateClient(call, *form, now, &error);
    if (found == nullptr) {
      metrics_.grant_errors.fetch_add(1, std::memory_order_relaxed);
      return error;
    }
    client = *found;
  }
  if (grant != kClientCredentials && grant != kPassword && grant != kRefreshToken &&
      grant != kTokenExchange) {
    metrics_.grant_errors.fetch_add(1, std::memory_order_relaxed);
    return OAuthError(400, "unsupported_grant_type",
                      absl::StrCat("grant_type ", ToAbsl(grant), " is not supported"));
  }
  if (!client.AllowsGrant(grant)) {
    metrics_.grant_errors.fetch_add(1, std::memory_order_relaxed);
    return OAuthError(400, "unauthorized_client",
                      absl::StrCat("this client may not use the ", ToAbsl(grant), " grant"));
  }
  HttpAnswer answer;
  if (grant == kClientCredentials) {
    std::string scope;
    if (!GrantScope(form->Get("scope"), client.scopes, nullptr, &scope)) {
      answer = OAuthError(400, "invalid_scope", "a requested scope is not allowed for this client");
    } else {
      answer = IssueTokens(client, client.client_id, scope, 0, now, false, {}, {});
      if (answer.status == 200) {
        metrics_.grants[kGrantClientCredentials].fetch_add(1, std::memory_order_relaxed);
      }
    }
  } else if (grant == kPassword) {
    answer = PasswordGrant(client, *form, call, now);
  } else if (grant == kRefreshToken) {
    answer = RefreshGrant(client, *form, now);
  } else {
    answer = ExchangeGrant(client, *form, now);
  }
  if (answer.status != 200) {
    metrics_.grant_errors.fetch_add(1, std::memory_order_relaxed);
  }
  return answer;
}

HttpAnswer IssuanceService::PasswordGrant(const Client& client, const Form& form,
                                          const HttpCall& call, int64_t now) {
  const std::string username(form.Get("username"));
  const std::string_view password = form.Get("password");
  if (username.empty() || !form.Has("password")) {
    return OAuthError(400, "invalid_request", "username and password are required");
  }
  std::string hash;
  std::string totp_secret;
  std::vector<std::string> user_scopes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!call.peer.empty()) {
      IpFailures& ip = ip_failures_[call.peer];
      if (now - ip.window_start >= options_.config.ip_window_s) {
        ip = IpFailures{now, 0};
      }
      if (ip.failures >= options_.config.ip_max_failures) {
        metrics_.throttled.fetch_add(1, std::memory_order_relaxed);
        const int64_t retry = std::max<int64_t>(1, ip.window_start + options_.config.ip_window_s - now);
        return OAuthError(429, "slow_down",
                          "too many failed logins from this address; try again later",
                          absl::StrCat("Retry-After: ", retry, "\r\n"));
      }
    }
    const User* user = store_.FindUser(username);
    if (user != nullptr) {
      const UserAttempts attempts = store_.Attempts(username);
      int& in_flight = attempts_in_flight_[username];
      if (attempts.locked_until > now ||
          attempts.failures + in_flight >= options_.config.max_failures) {
        metrics_.throttled.fetch_add(1, std::memory_order_relaxed);
        if (in_flight == 0) {
          attempts_in_flight_.erase(username);
        }
        return OAuthError(400, "invalid_grant",
                          "too many failed attempts: the account is locked for a while");
      }
      // Reserved before hashing: parallel attempts cannot overtake the lock-out.
      ++in_flight;
      hash = user->password_hash;
      totp_secret = user->totp_secret;
      user_scopes = user->scopes;
    }
  }
  if (hash.empty()) {
    // Unknown user: spend the same time as a real check, so timing does not tell users apart.
    static const std::string* const dummy = [] {
      Argon2Params p;
      absl::StatusOr<std::string> h = HashPassword("not a password", p);
      return new std::string(h.ok() ? *h : std::string());
    }();
    if (!dummy->empty()) {
      (void)VerifyPassword(password, *dummy);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!call.peer.empty()) {
      ++ip_failures_[call.peer].failures;
    }
    metrics_.login_failures.fetch_add(1, std::memory_order_relaxed);
    return OAuthError(400, "invalid_grant", "the username or password is wrong");
  }
  metrics_.password_verifications.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<bool> match = VerifyPassword(password, hash);
  const bool password_ok = match.ok() && *match;

  std::unique_lock<std::mutex> lock(mu_);
  auto release = [&] {
    auto it = attempts_in_flight_.find(username);
    if (it != attempts_in_flight_.end() && --it->second <= 0) {
      attempts_in_flight_.erase(it);
    }
  };
  release();
  const User* user = store_.FindUser(username);
  if (user == nullptr || user->password_hash != hash) {
    return OAuthError(400, "invalid_grant", "the username or password is wrong");
  }
  int64_t totp_step = -1;
  bool ok = password_ok;
  if (ok && !totp_secret.empty()) {
    const std::string_view otp = form.Get("otp");
    if (otp.empty()) {
      return OAuthError(400, "invalid_grant",
                        "a second factor is required: send the TOTP code as otp");
    }
    totp_step = CheckTotp(totp_secret, otp, now, store_.TotpLastStep(username));
    ok = totp_step >= 0;
  }
  if (!ok) {
    UserAttempts attempts = store_.Attempts(username);
    attempts.username = username;
    ++attempts.failures;
    if (attempts.failures >= options_.config.max_failures) {
      const int shift = std::min(attempts.lockouts, 20);
      attempts.locked_until =
          now + std::min(options_.config.lockout_s << shift, options_.config.max_lockout_s);
      ++attempts.lockouts;
      attempts.failures = 0;
      metrics_.lockouts.fetch_add(1, std::memory_order_relaxed);
    }
    if (!call.peer.empty()) {
      ++ip_failures_[call.peer].failures;
    }
    metrics_.login_failures.fetch_add(1, std::memory_order_relaxed);
    const absl::Status s = Write(lock, {UserAttemptsRecord(attempts)});
    if (!s.ok()) {
      return Unavailable(s);
    }
    return OAuthError(400, "invalid_grant",
                      totp_step < 0 && password_ok ? "the one-time code is wrong or was used"
                                                   : "the username or password is wrong");
  }
  std::string scope;
  if (!GrantScope(form.Get("scope"), client.scopes, &user_scopes, &scope)) {
    return OAuthError(400, "invalid_scope",
                      "a requested scope is not allowed for this client and user");
  }
  std::vector<Record> also;
  const UserAttempts attempts = store_.Attempts(username);
  if (attempts.failures != 0 || attempts.lockouts != 0 || attempts.locked_until != 0) {
    also.push_back(UserAttemptsRecord(UserAttempts{username, 0, 0, 0}));
  }
  if (totp_step >= 0) {
    also.push_back(TotpUsedRecord(username, totp_step));
  }
  lock.unlock();
  HttpAnswer answer = IssueTokens(client, username, scope, now, now,
                                  client.AllowsGrant(kRefreshToken), RandomToken(16),
                                  std::move(also));
  if (answer.status == 200) {
    metrics_.grants[kGrantPassword].fetch_add(1, std::memory_order_relaxed);
  }
  return answer;
}

HttpAnswer IssuanceService::RefreshGrant(const Client& client, const Form& form, int64_t now) {
  const std::string_view presented = form.Get("refresh_token");
  if (presented.empty()) {
    return OAuthError(400, "invalid_request", "refresh_token is required");
  }
  const std::string hash = Sha256B64(presented);
  std::unique_lock<std::mutex> lock(mu_);
  const RefreshToken* rt = store_.FindRefresh(hash);
  if (rt == nullptr || rt->exp <= now || store_.FamilyRevoked(rt->family)) {
    return OAuthError(400, "invalid_grant", "the refresh token is not valid");
  }
  if (rt->client_id != client.client_id) {
    return OAuthError(400, "invalid_grant", "the refresh token was issued to another client");
  }
  if (rt->used) {
    // Reuse of a rotated token: someone holds a copy. The whole family goes (Security BCP §4.14).
    metrics_.refresh_reuse.fetch_add(1, std::memory_order_relaxed);
    const std::string family = rt->family;
    const absl::Status s = Write(
        lock, {FamilyRevokeRecord(family, now + options_.config.refresh_token_ttl_s)});
    if (!s.ok()) {
      return Unavailable(s);
    }
    return OAuthError(400, "invalid_grant",
                      "the refresh token was already used; its whole family is revoked");
  }
  const User* user = store_.FindUser(rt->sub);
  if (rt->sub != client.client_id && user == nullptr) {
    return OAuthError(400, "invalid_grant", "the user no longer exists");
  }
  std::string scope;
  const std::vector<std::string> original = SplitScope(rt->scope);
  if (!GrantScope(form.Has("scope") ? form.Get("scope") : std::string_view(rt->scope), original,
                  nullptr, &scope)) {
    return OAuthError(400, "invalid_scope", "a refresh may only narrow the original scope");
  }
  const std::string sub = rt->sub;
  const std::string family = rt->family;
  const int64_t auth_time = rt->auth_time;
  // Marked used now, under the lock: a second, parallel use of the same token is reuse.
  std::vector<Record> also = {RefreshUseRecord(hash)};
  if (absl::Status s = store_.Apply(also[0].type, also[0].payload); !s.ok()) {
    return OAuthError(500, "server_error", ToStd(s.message()));
  }
  lock.unlock();
  HttpAnswer answer =
      IssueTokens(client, sub, scope, auth_time, now, true, family, std::move(also));
  if (answer.status == 200) {
    metrics_.grants[kGrantRefresh].fetch_add(1, std::memory_order_relaxed);
  }
  return answer;
}

HttpAnswer IssuanceService::ExchangeGrant(const Client& client, const Form& form, int64_t now) {
  const std::string_view subject_token = form.Get("subject_token");
  const std::string_view subject_type = form.Get("subject_token_type");
  if (subject_token.empty() || subject_type.empty()) {
    return OAuthError(400, "invalid_request", "subject_token and subject_token_type are required");
  }
  if (subject_type != kIdTokenType && subject_type != kAccessTokenType &&
      subject_type != kJwtTokenType) {
    return OAuthError(400, "invalid_request",
                      "subject_token_type must be an id_token, access_token or jwt token type");
  }
  if (form.Has("requested_token_type") && form.Get("requested_token_type") != kAccessTokenType) {
    return OAuthError(400, "invalid_request", "only access tokens are issued");
  }
  if (form.Has("actor_token")) {
    return OAuthError(400, "invalid_request", "delegation (actor_token) is not supported");
  }
  token::VerifyScratch scratch;
  token::VerifiedToken verified;
  // Held while |verified| is read: a refetch may swap the issuer's verifier meanwhile.
  std::shared_ptr<const token::Verifier> verifier;
  const TrustedIssuer* from = nullptr;
  std::vector<TrustedIssuer*> unknown_kid;  // remote issuers that did not know the token's kid
  for (const std::unique_ptr<TrustedIssuer>& t : trusted_) {
    verifier = t->verifier();
    const token::VerifyReason reason = verifier->Verify(subject_token, now, scratch, &verified);
    if (reason == token::VerifyReason::kOk) {
      from = t.get();
      break;
    }
    if (reason == token::VerifyReason::kUnknownKid && t->remote()) {
      unknown_kid.push_back(t.get());
    }
  }
  // A kid no set holds may be a key the provider has just rotated in: fetch its JWKS again
  // (single-flight, at most once per jwks_min_refresh_s) and try once more. The kid is checked
  // before the issuer, so with several remote issuers each may be asked; the negative cache
  // bounds what made-up kids can cost.
  for (size_t i = 0; from == nullptr && i < unknown_kid.size(); ++i) {
    if (unknown_kid[i]->RefreshForUnknownKid()) {
      verifier = unknown_kid[i]->verifier();
      if (verifier->Verify(subject_token, now, scratch, &verified) == token::VerifyReason::kOk) {
        from = unknown_kid[i];
      }
    }
  }
  if (from != nullptr) {
    const config::TrustedIssuerConfig& t = from->config();
    if (verified.sub.empty()) {
      return OAuthError(400, "invalid_grant", "the subject token has no sub");
    }
    std::string scope;
    if (!GrantScope(form.Get("scope"), client.scopes, &t.scopes, &scope)) {
      return OAuthError(400, "invalid_scope",
                        "a requested scope is not allowed for this client and issuer");
    }
    const std::string prefix =
        t.subject_prefix.empty() ? absl::StrCat(t.issuer, "|") : t.subject_prefix;
    const std::string sub = absl::StrCat(prefix, ToAbsl(verified.sub));
    // RFC 8693 §2.2.1: issued_token_type is required.
    HttpAnswer answer =
        IssueTokens(client, sub, scope, 0, now, false, {}, {}, kAccessTokenType);
    if (answer.status == 200) {
      metrics_.grants[kGrantExchange].fetch_add(1, std::memory_order_relaxed);
    }
    return answer;
  }
  return OAuthError(400, "invalid_grant",
                    "the subject token is not valid or not from a trusted issuer");
}

HttpAnswer IssuanceService::IssueTokens(const Client& client, std::string_view sub,
                                        std::string_view scope, int64_t auth_time, int64_t now,
                                        bool refresh, std::string family,
                                        std::vector<Record> also,
                                        std::string_view issued_token_type) {
  std::shared_ptr<const IssuanceView> view = view_->Load();
  if (view->signing_key == nullptr) {
    return OAuthError(503, "temporarily_unavailable", "no signing key yet", "Retry-After: 1\r\n");
  }
  AccessTokenClaims claims;
  claims.issuer = view->issuer;
  claims.subject = std::string(sub);
  claims.client_id = client.client_id;
  claims.scope = std::string(scope);
  claims.audiences = AudiencesFor(client, view->default_audiences);
  claims.issued_at = now;
  claims.lifetime_s = LifetimeFor(client, view->access_token_ttl_s);
  claims.auth_time = auth_time;
  absl::StatusOr<MintedToken> minted = MintAccessToken(*view->signing_key, claims);
  if (!minted.ok()) {
    return OAuthError(500, "server_error", "signing failed");
  }
  std::string refresh_token;
  refresh = refresh && options_.config.refresh_token_ttl_s > 0;
  if (refresh) {
    refresh_token = RandomToken(32);
    RefreshToken rt;
    rt.hash = Sha256B64(refresh_token);
    rt.family = family.empty() ? RandomToken(16) : std::move(family);
    rt.client_id = client.client_id;
    rt.sub = std::string(sub);
    rt.scope = std::string(scope);
    rt.aud = claims.audiences;
    rt.iat = now;
    rt.exp = now + options_.config.refresh_token_ttl_s;
    rt.auth_time = auth_time;
    also.push_back(RefreshIssueRecord(rt));
  }
  if (!also.empty()) {
    std::unique_lock<std::mutex> lock(mu_);
    if (absl::Status s = Write(lock, std::move(also)); !s.ok()) {
      return Unavailable(s);
    }
  }
  return TokenAnswer(*minted, claims.lifetime_s, scope, refresh_token, issued_token_type);
}

absl::Status IssuanceService::Write(std::unique_lock<std::mutex>& lock,
                                    std::vector<Record> records) {
  if (records.empty()) {
    lock.unlock();
    return absl::OkStatus();
  }
  Record record = records.size() == 1 ? std::move(records[0]) : BatchRecord(records);
  if (absl::Status s = store_.Apply(record.type, record.payload); !s.ok()) {
    lock.unlock();
    return absl::InternalError(absl::StrCat("cannot apply the change: ", s.message()));
  }
  auto waiter = std::make_shared<concurrent::StatusWaiter>();
  host_->Append(record.type, std::move(record.payload),
                [waiter](absl::StatusOr<uint64_t> lsn) { waiter->Set(lsn.status()); });
  const bool clients_changed = store_.clients_version() != published_clients_;
  lock.unlock();
  const absl::Status status = waiter->Wait();
  if (status.ok() && clients_changed) {
    std::lock_guard<std::mutex> relock(mu_);
    PublishView();
  }
  return status;
}

HttpAnswer IssuanceService::Revoke(int worker, const HttpCall& call) {
  (void)worker;
  const int64_t now = UnixNow();
  HttpAnswer bad;
  absl::StatusOr<Form> form = ReadForm(call, &bad);
  if (!form.ok()) {
    return bad;
  }
  const std::string_view presented = form->Get("token");
  if (!form->Has("token")) {
    return OAuthError(400, "invalid_request", "token is required");
  }
  const std::string_view hint = form->Get("token_type_hint");
  if (!hint.empty() && hint != "access_token" && hint != "refresh_token") {
    return OAuthError(400, "unsupported_token_type",
                      "token_type_hint must be access_token or refresh_token");
  }
  HttpAnswer ok;
  ok.headers = std::string(kNoStore);
  ok.body = "{}\n";
  std::unique_lock<std::mutex> lock(mu_);
  HttpAnswer error;
  const Client* client = AuthenticateClient(call, *form, now, &error);
  if (client == nullptr) {
    return error;
  }
  const std::string client_id = client->client_id;
  // A refresh token: the whole family goes (RFC 7009 §2.1 allows it; a family is one grant).
  const RefreshToken* rt = store_.FindRefresh(Sha256B64(presented));
  if (rt != nullptr) {
    if (rt->client_id != client_id || store_.FamilyRevoked(rt->family)) {
      return ok;  // RFC 7009 §2.2: an invalid token (for this client) still answers 200
    }
    const std::string family = rt->family;
    const absl::Status s =
        Write(lock, {FamilyRevokeRecord(family, now + options_.config.refresh_token_ttl_s)});
    return s.ok() ? ok : Unavailable(s);
  }
  lock.unlock();
  // An access token: verified with every key, then revoked by jti if this client owns it.
  std::shared_ptr<const token::Verifier> verifier = host_->CurrentVerifier();
  if (verifier == nullptr) {
    return ok;
  }
  token::VerifyScratch scratch;
  token::VerifiedToken verified;
  if (verifier->Verify(presented, now, scratch, &verified) != token::VerifyReason::kOk ||
      verified.client_id != client_id || verified.jti.empty()) {
    return ok;
  }
  revocation::Revocation r;
  r.kind = revocation::RevocationKind::kJti;
  r.key = std::string(verified.jti);
  r.time = verified.exp;
  auto waiter = std::make_shared<concurrent::StatusWaiter>();
  host_->Revoke({std::move(r)}, [waiter](absl::Status s) { waiter->Set(std::move(s)); });
  const absl::Status s = waiter->Wait();
  return s.ok() ? ok : Unavailable(s);
}

HttpAnswer IssuanceService::Introspect(int worker, const HttpCall& call) {
  const int64_t now = UnixNow();
  HttpAnswer bad;
  absl::StatusOr<Form> form = ReadForm(call, &bad);
  if (!form.ok()) {
    return bad;
  }
  if (!form->Has("token")) {
    return OAuthError(400, "invalid_request", "token is required");
  }
  const std::string_view presented = form->Get("token");
  HttpAnswer answer;
  answer.headers = std::string(kNoStore);
  answer.body = "{\"active\":false}\n";
  std::unique_lock<std::mutex> lock(mu_);
  HttpAnswer error;
  if (AuthenticateClient(call, *form, now, &error) == nullptr) {
    return error;
  }
  const RefreshToken* rt = store_.FindRefresh(Sha256B64(presented));
  if (rt != nullptr) {
    if (rt->used || rt->exp <= now || store_.FamilyRevoked(rt->family)) {
      return answer;
    }
    std::string& b = answer.body;
    b = "{\"active\":true,\"token_type\":\"refresh_token\",\"client_id\":";
    json::AppendJsonString(&b, rt->client_id);
    b.append(",\"sub\":");
    json::AppendJsonString(&b, rt->sub);
    if (!rt->scope.empty()) {
      b.append(",\"scope\":");
      json::AppendJsonString(&b, rt->scope);
    }
    absl::StrAppend(&b, ",\"iss\":", json::JsonQuote(options_.config.issuer), ",\"iat\":", rt->iat,
                    ",\"exp\":", rt->exp, "}\n");
    return answer;
  }
  lock.unlock();
  std::shared_ptr<const token::Verifier> verifier = host_->CurrentVerifier();
  if (verifier == nullptr) {
    return answer;
  }
  token::VerifyScratch scratch;
  token::VerifiedToken verified;
  if (verifier->Verify(presented, now, scratch, &verified) != token::VerifyReason::kOk ||
      host_->IsRevoked(worker, verified)) {
    return answer;
  }
  // RFC 7662 §2.2: active plus the token's own claims, as they are.
  std::string& b = answer.body;
  b = "{\"active\":true,\"token_type\":\"Bearer\"";
  std::string_view claims = verified.claims_json;
  while (!claims.empty() && claims.back() != '}') {
    claims.remove_suffix(1);
  }
  const size_t open = claims.find('{');
  if (open != std::string_view::npos && claims.size() > open + 2) {
    b.push_back(',');
    b.append(claims.substr(open + 1));
  } else {
    b.push_back('}');
  }
  b.push_back('\n');
  return answer;
}

RotationPolicy IssuanceService::Policy() const {
  RotationPolicy p;
  p.rotation_interval_s = options_.config.rotation_interval_s;
  p.publish_lead_s = options_.config.publish_lead_s;
  int64_t longest = options_.config.access_token_ttl_s;
  for (const Client* c : store_.Clients()) {
    longest = std::max(longest, c->ttl);
  }
  p.retire_after_s = longest + options_.leeway_s;
  return p;
}

absl::Status IssuanceService::EnsureKeys(std::unique_lock<std::mutex>& lock, int64_t now,
                                         bool forced, std::string* wait_reason) {
  const std::vector<const KeyEntry*> keys = store_.Keys();
  const token::Algorithm alg = *token::ParseAlgorithm(options_.config.signing_alg);
  std::vector<Record> records;
  std::vector<std::string> remove;
  auto new_key = [&](KeyState state) -> absl::Status {
    absl::StatusOr<std::unique_ptr<token::Key>> key = files_.Create(alg);
    if (!key.ok()) {
      return key.status();
    }
    KeyEntry e;
    e.kid = (*key)->kid();
    e.alg = std::string(token::AlgorithmName(alg));
    e.state = state;
    e.created_at = now;
    e.activated_at = state == KeyState::kActive ? now : 0;
    e.public_jwk = (*key)->ToJwk(/*include_private=*/false);
    records.push_back(KeyPutRecord(e));
    return absl::OkStatus();
  };
  if (BootstrapNeeded(keys)) {
    // Nothing was ever signed, so nobody can hold a JWKS without the first key: it signs at once.
    if (absl::Status s = new_key(KeyState::kActive); !s.ok()) {
      return s;
    }
    if (absl::Status s = new_key(KeyState::kNext); !s.ok()) {
      return s;
    }
  } else {
    const RotationPlan plan = PlanRotation(keys, now, Policy(), forced);
    *wait_reason = plan.wait_reason;
    for (const KeyEntry* k : keys) {
      KeyEntry e = *k;
      if (k->kid == plan.promote_kid) {
        e.state = KeyState::kActive;
        e.activated_at = now;
        records.push_back(KeyPutRecord(e));
      } else if (k->kid == plan.retire_kid) {
        e.state = KeyState::kRetired;
        e.retired_at = now;
        records.push_back(KeyPutRecord(e));
      } else if (std::find(plan.remove_kids.begin(), plan.remove_kids.end(), k->kid) !=
                 plan.remove_kids.end()) {
        e.state = KeyState::kRemoved;
        records.push_back(KeyPutRecord(e));
        remove.push_back(k->kid);
      }
    }
    if (plan.create_next) {
      if (absl::Status s = new_key(KeyState::kNext); !s.ok()) {
        return s;
      }
    }
    if (!plan.promote_kid.empty()) {
      metrics_.key_rotations.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (records.empty()) {
    return absl::OkStatus();
  }
  const absl::Status written = Write(lock, std::move(records));
  if (!written.ok()) {
    return written;
  }
  for (const std::string& kid : remove) {
    (void)files_.Remove(kid);  // the log says removed; a leftover file is only litter
  }
  {
    std::lock_guard<std::mutex> relock(mu_);
    if (absl::Status s = LoadSigningKeys(); !s.ok()) {
      return s;
    }
    PublishView();
  }
  host_->KeysChanged();
  lock.lock();
  return absl::OkStatus();
}

absl::Status IssuanceService::LoadSigningKeys() {
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state != KeyState::kActive || private_keys_.contains(k->kid)) {
      continue;
    }
    absl::StatusOr<std::unique_ptr<token::Key>> key = files_.Load(k->kid);
    if (!key.ok()) {
      return absl::Status(key.status().code(),
                          absl::StrCat("the active signing key ", k->kid,
                                       " is named in the log but its private key cannot be "
                                       "read: ",
                                       key.status().message()));
    }
    private_keys_[k->kid] = std::shared_ptr<const token::Key>(*std::move(key));
  }
  return absl::OkStatus();
}

void IssuanceService::PublishView() {
  auto view = std::make_shared<IssuanceView>();
  view->issuer = options_.config.issuer;
  view->token_endpoint = absl::StrCat(options_.config.base_url, "/oauth2/token");
  view->default_audiences = options_.config.audiences;
  view->access_token_ttl_s = options_.config.access_token_ttl_s;
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state == KeyState::kActive) {
      auto it = private_keys_.find(k->kid);
      if (it != private_keys_.end()) {
        view->signing_key = it->second;
      }
    }
  }
  for (const Client* c : store_.Clients()) {
    view->clients.emplace(c->client_id, *c);
  }
  DiscoveryInfo info;
  info.issuer = options_.config.issuer;
  info.base_url = options_.config.base_url;
  info.grant_types = {std::string(kClientCredentials), std::string(kPassword),
                      std::string(kRefreshToken)};
  if (!trusted_.empty()) {
    info.grant_types.emplace_back(kTokenExchange);
  }
  info.signing_alg = options_.config.signing_alg;
  view->authorization_server_metadata = AuthorizationServerMetadata(info);
  view->openid_configuration = OpenIdConfiguration(info);
  published_clients_ = store_.clients_version();
  published_keys_ = store_.keys_version();
  view_->Publish(std::move(view));
}

std::string IssuanceService::PublishedJwks() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state != KeyState::kRemoved) {
      return ::ringward::issuance::PublishedJwks(store_.Keys());
    }
  }
  return "";  // nothing published yet (a follower before its leader's keys arrive)
}

std::vector<Record> IssuanceService::LiveRecords(int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.LiveRecords(now);
}

absl::Status IssuanceService::ApplyReplicated(uint16_t type, std::string_view payload) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t keys_before = store_.keys_version();
  if (absl::Status s = store_.Apply(type, payload); !s.ok()) {
    return s;
  }
  const bool keys_changed = store_.keys_version() != keys_before;
  if (keys_changed || store_.clients_version() != published_clients_) {
    PublishView();
  }
  if (keys_changed) {
    host_->KeysChanged();
  }
  return absl::OkStatus();
}

void IssuanceService::ResetStore() {
  std::lock_guard<std::mutex> lock(mu_);
  store_ = IssuanceStore();
  published_clients_ = ~uint64_t{0};
  PublishView();
  host_->KeysChanged();
}

absl::Status IssuanceService::BecomeLeader() {
  std::unique_lock<std::mutex> lock(mu_);
  options_.read_only = false;
  bool have_active = false;
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state == KeyState::kActive) {
      absl::StatusOr<std::unique_ptr<token::Key>> key = files_.Load(k->kid);
      if (key.ok()) {
        private_keys_[k->kid] = std::shared_ptr<const token::Key>(*std::move(key));
        have_active = true;
      }
    }
  }
  if (!have_active && !store_.Keys().empty()) {
    // The old leader's private key is not here: a new key signs from now on. Tokens it signs
    // verify wherever the JWKS is refetched; that is the caveat of promoting without the keys.
    const token::Algorithm alg = *token::ParseAlgorithm(options_.config.signing_alg);
    absl::StatusOr<std::unique_ptr<token::Key>> key = files_.Create(alg);
    if (!key.ok()) {
      return key.status();
    }
    const int64_t now = UnixNow();
    std::vector<Record> records;
    for (const KeyEntry* k : store_.Keys()) {
      if (k->state == KeyState::kActive) {
        KeyEntry e = *k;
        e.state = KeyState::kRetired;
        e.retired_at = now;
        records.push_back(KeyPutRecord(e));
      }
    }
    KeyEntry e;
    e.kid = (*key)->kid();
    e.alg = std::string(token::AlgorithmName(alg));
    e.state = KeyState::kActive;
    e.created_at = now;
    e.activated_at = now;
    e.public_jwk = (*key)->ToJwk(/*include_private=*/false);
    records.push_back(KeyPutRecord(e));
    if (absl::Status s = Write(lock, std::move(records)); !s.ok()) {
      return s;
    }
    lock.lock();
  }
  std::string reason;
  if (absl::Status s = EnsureKeys(lock, UnixNow(), /*forced=*/false, &reason); !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadSigningKeys(); !s.ok()) {
    return s;
  }
  PublishView();
  lock.unlock();
  host_->KeysChanged();
  return absl::OkStatus();
}

void IssuanceService::Maintain(int64_t now) {
  ScheduleJwksFetches();
  std::unique_lock<std::mutex> lock(mu_);
  store_.Expire(now);
  for (auto it = assertion_jtis_.begin(); it != assertion_jtis_.end();) {
    auto next = std::next(it);
    if (it->second + options_.leeway_s < now) {
      assertion_jtis_.erase(it);
    }
    it = next;
  }
  for (auto it = ip_failures_.begin(); it != ip_failures_.end();) {
    auto next = std::next(it);
    if (now - it->second.window_start >= options_.config.ip_window_s) {
      ip_failures_.erase(it);
    }
    it = next;
  }
  if (options_.read_only) {
    return;  // the leader rotates; its records arrive here
  }
  const RotationPlan plan = PlanRotation(store_.Keys(), now, Policy(), /*forced=*/false);
  lock.unlock();
  if ((plan.create_next || !plan.promote_kid.empty() || !plan.remove_kids.empty()) &&
      !maintain_pending_.exchange(true, std::memory_order_acq_rel)) {
    // Key files and fdatasync: a worker does it, not the caller (the control thread).
    Post([this] {
      std::unique_lock<std::mutex> lock(mu_);
      std::string reason;
      (void)EnsureKeys(lock, UnixNow(), /*forced=*/false, &reason);
      maintain_pending_.store(false, std::memory_order_release);
    });
  }
}

void IssuanceService::RenderMetrics(std::string* out) const {
  static constexpr std::string_view kGrantNames[] = {"client_credentials", "password",
                                                     "refresh_token", "token_exchange"};
  absl::StrAppend(out,
                  "# HELP ringward_tokens_issued_total Access tokens issued by the service's "
                  "workers, by grant (client_credentials on shards is in "
                  "ringward_fast_grants_total).\n# TYPE ringward_tokens_issued_total counter\n");
  for (size_t i = 0; i < 4; ++i) {
    absl::StrAppend(out, "ringward_tokens_issued_total{grant=\"", ToAbsl(kGrantNames[i]), "\"} ",
                    metrics_.grants[i].load(std::memory_order_relaxed), "\n");
  }
  auto one = [out](std::string_view name, std::string_view help, uint64_t v) {
    absl::StrAppend(out, "# HELP ringward_", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ringward_",
                    ToAbsl(name), " counter\nringward_", ToAbsl(name), " ", v, "\n");
  };
  one("token_errors_total", "Token requests answered with an OAuth error.",
      metrics_.grant_errors.load(std::memory_order_relaxed));
  one("login_failures_total", "Failed password or one-time-code checks.",
      metrics_.login_failures.load(std::memory_order_relaxed));
  one("lockouts_total", "Users locked out after too many failed logins.",
      metrics_.lockouts.load(std::memory_order_relaxed));
  one("login_throttled_total",
      "Logins refused without checking the password (locked user or address over its limit).",
      metrics_.throttled.load(std::memory_order_relaxed));
  one("refresh_token_reuse_total", "Rotated refresh tokens presented again (family revoked).",
      metrics_.refresh_reuse.load(std::memory_order_relaxed));
  one("password_verifications_total", "argon2id password verifications run.",
      metrics_.password_verifications.load(std::memory_order_relaxed));
  one("key_rotations_total", "Signing keys promoted from next to active.",
      metrics_.key_rotations.load(std::memory_order_relaxed));
  bool any_remote = false;
  for (const std::unique_ptr<TrustedIssuer>& t : trusted_) {
    if (!t->remote()) {
      continue;
    }
    if (!any_remote) {
      absl::StrAppend(out,
                      "# HELP ringward_trusted_jwks_fetches_total Fetches of a trusted issuer's "
                      "jwks_url, by outcome (an error keeps the keys it had).\n"
                      "# TYPE ringward_trusted_jwks_fetches_total counter\n");
      any_remote = true;
    }
    std::string label;  // Prometheus label value: '\', '"' and newline escaped
    for (const char c : t->config().issuer) {
      if (c == '\\' || c == '"') {
        label.push_back('\\');
      }
      if (c == '\n') {
        label.append("\\n");
      } else {
        label.push_back(c);
      }
    }
    absl::StrAppend(out, "ringward_trusted_jwks_fetches_total{issuer=\"", label,
                    "\",result=\"ok\"} ", t->fetches_ok(), "\n");
    absl::StrAppend(out, "ringward_trusted_jwks_fetches_total{issuer=\"", label,
                    "\",result=\"error\"} ", t->fetches_failed(), "\n");
  }
}

}  // namespace ringward::issuance
