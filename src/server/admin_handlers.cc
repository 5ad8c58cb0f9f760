#include "server/admin_handlers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/json.h"
#include "ringward/base/percent.h"
#include "ringward/base/strings.h"

namespace ringward::server {
namespace {

using revocation::Revocation;
using revocation::RevocationKind;

constexpr std::string_view kRevocationsPath = "/admin/revocations";
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kNoCredentials =
    "WWW-Authenticate: Bearer realm=\"ringward-admin\"\r\nCache-Control: no-store\r\n";
constexpr std::string_view kBadCredentials =
    "WWW-Authenticate: Bearer realm=\"ringward-admin\", error=\"invalid_token\"\r\n"
    "Cache-Control: no-store\r\n";
constexpr std::string_view kForms =
    "{\"jti\":\"...\",\"exp\":N}, {\"sub\":\"...\",\"before\":T}, "
    "{\"client_id\":\"...\",\"before\":T}, {\"kid\":\"...\"} or {\"revocations\":[...]}";

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  json::AppendJsonString(&out, message);
  out.append("}\n");
  return out;
}

bool IsGetOrHead(http::Method m) { return m == http::Method::kGet || m == http::Method::kHead; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// IsJsonContentType accepts "application/json" with any parameters, case-insensitively, and an
// absent Content-Type (the body is JSON either way; a form or text type is a client mistake).
bool IsJsonContentType(std::string_view value) {
  if (value.empty()) {
    return true;
  }
  constexpr std::string_view kType = "application/json";
  if (value.size() < kType.size()) {
    return false;
  }
  for (size_t i = 0; i < kType.size(); ++i) {
    if (Lower(value[i]) != kType[i]) {
      return false;
    }
  }
  return value.size() == kType.size() || value[kType.size()] == ';' || value[kType.size()] == ' ';
}

// UnderPath reports whether |path| is |prefix| or below it ("/admin/users", "/admin/users/x").
bool UnderPath(std::string_view path, std::string_view prefix) {
  return path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

// PeerAddress is the numeric IP address of the client on |fd| ("" for a unix socket).
std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return "";
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, text, sizeof(text));
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, text, sizeof(text));
  } else {
    return "";
  }
  return text;
}

Route RouteOf(std::string_view path) {
  if (path == kRevocationsPath) {
    return Route::kAdminRevoke;
  }
  if (path.size() > kRevocationsPath.size() &&
      path.substr(0, kRevocationsPath.size()) == kRevocationsPath &&
      path[kRevocationsPath.size()] == '/') {
    return Route::kAdminRevocation;
  }
  if (path == "/admin/wal") {
    return Route::kAdminWal;
  }
  if (UnderPath(path, "/admin/clients")) {
    return Route::kAdminClients;
  }
  if (UnderPath(path, "/admin/users")) {
    return Route::kAdminUsers;
  }
  if (UnderPath(path, "/admin/keys")) {
    return Route::kAdminKeys;
  }
  if (path == "/admin/replication") {
    return Route::kAdminReplication;
  }
  if (path == "/admin/promote") {
    return Route::kAdminPromote;
  }
  if (path == "/metrics") {
    return Route::kMetrics;
  }
  if (path == "/healthz") {
    return Route::kHealthz;
  }
  if (path == "/readyz") {
    return Route::kReadyz;
  }
  return Route::kNotFound;
}

// QueryValue returns the value of |name| in a query string ("a=1&kind=x"), undecoded.
std::string_view QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool KindFromName(std::string_view name, RevocationKind* kind) {
  if (name.empty() || name == "jti") {
    *kind = RevocationKind::kJti;
  } else if (name == "subject" || name == "sub") {
    *kind = RevocationKind::kSubject;
  } else if (name == "client" || name == "client_id") {
    *kind = RevocationKind::kClient;
  } else if (name == "kid") {
    *kind = RevocationKind::kKid;
  } else {
    return false;
  }
  return true;
}

// The JSON member that names a revocation's identifier.
std::string_view KeyMember(RevocationKind kind) {
  switch (kind) {
    case RevocationKind::kJti:
      return "jti";
    case RevocationKind::kSubject:
      return "sub";
    case RevocationKind::kClient:
      return "client_id";
    case RevocationKind::kKid:
      return "kid";
  }
  return "jti";
}

absl::Status Invalid(std::string_view prefix, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(prefix), ToAbsl(message)));
}

// ReadTime reads an integer member into |*out|.
absl::Status ReadTime(simdjson::dom::element value, std::string_view name, std::string_view prefix,
                      int64_t* out) {
  int64_t v = 0;
  if (value.is_int64()) {
    v = value.get_int64().value_unsafe();
  } else if (value.is_uint64()) {
    return Invalid(prefix, absl::StrCat(ToAbsl(name), " is too large"));
  } else {
    return Invalid(prefix,
                   absl::StrCat(ToAbsl(name), " must be an integer (seconds since the epoch)"));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseOne(simdjson::dom::element element, std::string_view prefix, Revocation* out) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return Invalid(prefix, absl::StrCat("a revocation is a JSON object: ", ToAbsl(kForms)));
  }
  int identifiers = 0;
  bool has_exp = false;
  bool has_before = false;
  int64_t exp = 0;
  int64_t before = 0;
  for (const auto field : object) {
    const std::string_view name(field.key.data(), field.key.size());
    RevocationKind kind;
    if (name == "jti" || name == "sub" || name == "client_id" || name == "kid") {
      KindFromName(name, &kind);
      std::string_view value;
      if (field.value.get_string().get(value) != simdjson::SUCCESS) {
        return Invalid(prefix, absl::StrCat(ToAbsl(name), " must be a string"));
      }
      ++identifiers;
      out->kind = kind;
      out->key.assign(value.data(), value.size());
    } else if (name == "exp") {
      has_exp = true;
      if (absl::Status s = ReadTime(field.value, name, prefix, &exp); !s.ok()) {
        return s;
      }
    } else if (name == "before") {
      has_before = true;
      if (absl::Status s = ReadTime(field.value, name, prefix, &before); !s.ok()) {
        return s;
      }
    } else {
      return Invalid(prefix, absl::StrCat("unknown member \"", ToAbsl(name),
                                          "\"; a revocation is one of ", ToAbsl(kForms)));
    }
  }
  if (identifiers != 1) {
    return Invalid(prefix, "give exactly one of jti, sub, client_id and kid");
  }
  const std::string_view key = KeyMember(out->kind);
  switch (out->kind) {
    case RevocationKind::kJti:
      if (!has_exp) {
        return Invalid(prefix,
                       "exp is required with jti: the token's expiry (its exp claim), "
                       "until which the revocation is kept");
      }
      if (has_before) {
        return Invalid(prefix, "before does not go with jti (it is for sub and client_id)");
      }
      out->time = exp;
      break;
    case RevocationKind::kSubject:
    case RevocationKind::kClient:
      if (!has_before) {
        return Invalid(prefix, absl::StrCat("before is required with ", ToAbsl(key),
                                            ": tokens issued before that time are revoked"));
      }
      if (has_exp) {
        return Invalid(prefix,
                       absl::StrCat("exp does not go with ", ToAbsl(key), " (it is for jti)"));
      }
      out->time = before;
      break;
    case RevocationKind::kKid:
      if (has_exp || has_before) {
        return Invalid(prefix, "a kid revocation takes no exp or before");
      }
      out->time = 0;
      break;
  }
  if (absl::Status s = revocation::ValidateRevocation(*out); !s.ok()) {
    return Invalid(prefix, ToStd(s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RevocationBodyParser::Parse(std::string_view body, size_t max,
                                         std::vector<Revocation>* out) {
  out->clear();
  if (absl::Status s = json::ValidateStrict(strict_, body); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the body is not one strict JSON object (",
                                                   s.message(), "); send ", ToAbsl(kForms)));
  }
  simdjson::dom::element root;
  if (dom_.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the body is not JSON");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body must be a JSON object: ", ToAbsl(kForms)));
  }
  simdjson::dom::element list;
  if (object["revocations"].get(list) != simdjson::SUCCESS) {
    Revocation r;
    if (absl::Status s = ParseOne(root, "", &r); !s.ok()) {
      return s;
    }
    out->push_back(std::move(r));
    return absl::OkStatus();
  }
  if (object.size() != 1) {
    return absl::InvalidArgumentError("\"revocations\" must be the only member of a bulk request");
  }
  simdjson::dom::array array;
  if (list.get_array().get(array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"revocations\" must be an array of revocations");
  }
  const size_t n = array.size();
  if (n == 0) {
    return absl::InvalidArgumentError("\"revocations\" must not be empty");
  }
  if (n > max) {
    return absl::OutOfRangeError(absl::StrCat("at most ", max, " revocations in one request (got ",
                                              n, "); split it, or raise [revocation] bulk_max"));
  }
  out->reserve(n);
  size_t i = 0;
  for (const simdjson::dom::element element : array) {
    Revocation r;
    if (absl::Status s = ParseOne(element, absl::StrCat("revocations[", i, "]: "), &r); !s.ok()) {
      return s;
    }
    out->push_back(std::move(r));
    ++i;
  }
  return absl::OkStatus();
}

AdminHandlers::AdminHandlers(int shard, ControlPlane* control, std::span<const ShardMetrics> all,
                             ShardMetrics* mine)
    : shard_(shard), control_(control), all_(all), mine_(mine) {
  body_.reserve(16 * 1024);
}

AdminHandlers::Result AdminHandlers::Json(Route route, int status, std::string_view body, bool head,
                                          const HandlerContext& ctx, ResponseWriter& w,
                                          std::string_view extra) {
  w.Start(status);
  w.Raw(extra.empty() ? kNoStore : extra);
  w.Finish(kJson, body, head, ctx.connection);
  return Result{Outcome{route, status}, false};
}

AdminHandlers::Result AdminHandlers::Handle(const http::Request& req, const HandlerContext& ctx,
                                            const HttpDate& date, uint32_t conn_index,
                                            uint32_t conn_generation, std::string* out) {
  ResponseWriter w(out, date);
  const bool head = req.method == http::Method::kHead;
  const Route route = RouteOf(req.path);
  const std::string_view token = http::BearerToken(req.authorization);
  if (token.empty()) {
    return Json(route, 401,
                ErrorJson("the admin API needs the admin token: Authorization: Bearer <token>"),
                head, ctx, w, kNoCredentials);
  }
  if (!control_->CheckAdminToken(token)) {
    return Json(route, 401, ErrorJson("the admin token is not valid"), head, ctx, w,
                kBadCredentials);
  }
  auto not_allowed = [&](std::string_view allow) {
    w.Start(405);
    w.Raw("Allow: ");
    w.Raw(allow);
    w.Raw("\r\n");
    w.Raw(kNoStore);
    w.Finish(kJson, ErrorJson(absl::StrCat("method not allowed; use ", ToAbsl(allow))), head,
             ctx.connection);
    return Result{Outcome{route, 405}, false};
  };
  // A follower takes no writes: its log is the leader's. Reads (GET, HEAD) are served.
  if (control_->is_follower() && !IsGetOrHead(req.method) &&
      (route == Route::kAdminRevoke || route == Route::kAdminClients ||
       route == Route::kAdminUsers || route == Route::kAdminKeys)) {
    return Json(route, 503,
                ErrorJson(absl::StrCat("this node is a follower of ", control_->follower_of(),
                                       "; send writes to the leader")),
                head, ctx, w);
  }
  switch (route) {
    case Route::kAdminReplication:
      if (!IsGetOrHead(req.method)) {
        return not_allowed("GET, HEAD");
      }
      return Json(route, 200, control_->ReplicationStatusJson(), head, ctx, w);
    case Route::kAdminPromote:
      if (req.method != http::Method::kPost) {
        return not_allowed("POST");
      }
      if (!control_->is_follower()) {
        return Json(route, 409, ErrorJson("this node is already a leader"), head, ctx, w);
      }
      control_->RequestPromote();
      return Json(route, 202,
                  "{\"status\":\"promoting\",\"detail\":\"the replication stream stops and "
                  "this node takes writes; GET /admin/replication shows the role\"}\n",
                  head, ctx, w);
    case Route::kAdminRevoke:
      if (req.method != http::Method::kPost) {
        return not_allowed("POST");
      }
      return Revoke(req, ctx, conn_index, conn_generation, w);
    case Route::kAdminRevocation:
      if (!IsGetOrHead(req.method)) {
        return not_allowed("GET, HEAD");
      }
      return Lookup(req, ctx, w);
    case Route::kAdminWal:
      if (!IsGetOrHead(req.method)) {
        return not_allowed("GET, HEAD");
      }
      return Defer(ControlOp::kWalStatus, route, req, ctx, conn_index, conn_generation, {}, w);
    case Route::kAdminClients:
    case Route::kAdminUsers:
    case Route::kAdminKeys:
      if (control_->issuance() == nullptr) {
        return Json(route, 404,
                    ErrorJson("issuance is off: set [issuance] enabled = true to manage clients, "
                              "users and keys"),
                    head, ctx, w);
      }
      return DeferIssuance(route == Route::kAdminClients ? issuance::Endpoint::kAdminClients
                           : route == Route::kAdminUsers ? issuance::Endpoint::kAdminUsers
                                                         : issuance::Endpoint::kAdminKeys,
                           route, req, ctx, conn_index, conn_generation, "", w);
    case Route::kMetrics:
      if (!IsGetOrHead(req.method)) {
        return not_allowed("GET, HEAD");
      }
      body_.clear();
      RenderMetrics(all_, ctx.ready, &body_);
      control_->RenderMetrics(&body_);
      w.Start(200);
      w.Raw(kNoStore);
      w.Finish("text/plain; version=0.0.4; charset=utf-8", body_, head, ctx.connection);
      return Result{Outcome{route, 200}, false};
    case Route::kHealthz:
      return Json(route, 200, "{\"status\":\"ok\"}\n", head, ctx, w);
    case Route::kReadyz:
      if (ctx.ready) {
        return Json(route, 200, "{\"status\":\"ready\"}\n", head, ctx, w);
      }
      return Json(route, 503,
                  absl::StrCat("{\"status\":\"not ready\",\"reason\":",
                               json::JsonQuote(ctx.not_ready_reason.empty()
                                                   ? std::string_view("starting or draining")
                                                   : ctx.not_ready_reason),
                               "}\n"),
                  head, ctx, w);
    default:
      break;
  }
  return Json(Route::kNotFound, 404, ErrorJson("not found"), head, ctx, w);
}

AdminHandlers::Result AdminHandlers::Revoke(const http::Request& req, const HandlerContext& ctx,
                                            uint32_t conn_index, uint32_t conn_generation,
                                            ResponseWriter& w) {
  const Route route = Route::kAdminRevoke;
  if (!control_->healthy()) {
    return Json(route, 503,
                ErrorJson("the revocation log has failed and refuses writes until ringward "
                          "restarts (see GET /admin/wal)"),
                false, ctx, w);
  }
  if (!IsJsonContentType(req.content_type)) {
    return Json(route, 415, ErrorJson("send the revocation as application/json"), false, ctx, w);
  }
  std::vector<Revocation> revocations;
  if (absl::Status s = parser_.Parse(req.body, control_->bulk_max(), &revocations); !s.ok()) {
    return Json(route, absl::IsOutOfRange(s) ? 413 : 400, ErrorJson(ToStd(s.message())), false, ctx,
                w);
  }
  return Defer(ControlOp::kRevoke, route, req, ctx, conn_index, conn_generation,
               std::move(revocations), w);
}

AdminHandlers::Result AdminHandlers::Defer(ControlOp op, Route route, const http::Request& req,
                                           const HandlerContext& ctx, uint32_t conn_index,
                                           uint32_t conn_generation,
                                           std::vector<Revocation> revocations, ResponseWriter& w) {
  auto request = std::make_unique<ControlRequest>();
  request->op = op;
  request->route = route;
  request->revocations = std::move(revocations);
  return Submit(std::move(request), req, ctx, conn_index, conn_generation,
                ErrorJson("too many admin requests in flight on this connection's shard; retry"),
                w);
}

AdminHandlers::Result AdminHandlers::Submit(std::unique_ptr<ControlRequest> request,
                                            const http::Request& req, const HandlerContext& ctx,
                                            uint32_t conn_index, uint32_t conn_generation,
                                            std::string_view busy_body, ResponseWriter& w) {
  const Route route = request->route;
  request->shard = shard_;
  request->conn_index = conn_index;
  request->conn_generation = conn_generation;
  request->connection = ctx.connection;
  request->head = req.method == http::Method::kHead;
  request->received = std::chrono::steady_clock::now();
  if (!control_->channel(shard_).Submit(request)) {
    return Json(route, 503, busy_body, req.method == http::Method::kHead, ctx, w,
                "Retry-After: 1\r\nCache-Control: no-store\r\n");
  }
  control_->Wake();
  return Result{Outcome{route, 0}, true};
}

AdminHandlers::Result AdminHandlers::Lookup(const http::Request& req, const HandlerContext& ctx,
                                            ResponseWriter& w) {
  const Route route = Route::kAdminRevocation;
  const bool head = req.method == http::Method::kHead;
  std::string key;
  if (!PercentDecode(req.path.substr(kRevocationsPath.size() + 1), &key) || key.empty()) {
    return Json(route, 400,
                ErrorJson("GET /admin/revocations/{id} takes a percent-encoded identifier"), head,
                ctx, w);
  }
  RevocationKind kind;
  if (!KindFromName(QueryValue(req.query, "kind"), &kind)) {
    return Json(route, 400, ErrorJson("kind must be jti, subject, client or kid"), head, ctx, w);
  }
  // This shard is an online reader of the set, so the lookup is as lock-free as a verify, and
  // it sees every revocation acknowledged before this request arrived.
  revocation::RevocationEntry entry;
  if (!control_->revocations().Lookup(kind, key, &entry)) {
    return Json(route, 404, ErrorJson("no revocation in force for this identifier"), head, ctx, w);
  }
  body_.assign("{\"kind\":\"");
  body_.append(revocation::RevocationKindName(kind));
  body_.append("\",\"");
  body_.append(KeyMember(kind));
  body_.append("\":");
  json::AppendJsonString(&body_, entry.key);
  if (kind == RevocationKind::kJti) {
    body_.append(",\"exp\":");
    AppendSignedDecimal(&body_, entry.expire_at);
  } else if (kind != RevocationKind::kKid) {
    body_.append(",\"before\":");
    AppendSignedDecimal(&body_, entry.before);
  }
  body_.append("}\n");
  return Json(route, 200, body_, head, ctx, w);
}

Outcome AdminHandlers::Render(const ControlResponse& response, const HttpDate& date,
                              std::string* out) {
  ResponseWriter w(out, date);
  w.Start(response.status);
  w.Raw(response.headers.empty() ? kNoStore : std::string_view(response.headers));
  if (response.status == 204) {
    w.FinishNoContent(response.connection);
  } else {
    w.Finish(response.content_type.empty() ? kJson : std::string_view(response.content_type),
             response.body, response.head, response.connection);
  }
  return Outcome{response.route, response.status};
}

AdminHandlers::Result AdminHandlers::HandlePublic(const RouteMatch& match,
                                                  const http::Request& req,
                                                  const HandlerContext& ctx, const HttpDate& date,
                                                  uint32_t conn_index, uint32_t conn_generation,
                                                  int fd, std::string* out) {
  ResponseWriter w(out, date);
  const bool head = req.method == http::Method::kHead;
  const Route route = match.route;
  if (!match.method_allowed) {
    w.Start(405);
    w.Raw("Allow: ");
    w.Raw(match.allow);
    w.Raw("\r\n");
    w.Raw(kNoStore);
    w.Finish(kJson, "{\"error\":\"invalid_request\",\"error_description\":\"method not allowed\"}\n",
             head, ctx.connection);
    return Result{Outcome{route, 405}, false};
  }
  const issuance::IssuanceService* service = control_->issuance();
  const auto& published = service->view();
  if (published.version() != view_version_) {
    view_version_ = published.version();
    view_ = published.Load();
  }
  if (route == Route::kDiscovery) {
    const std::string& doc = req.path == "/.well-known/openid-configuration"
                                 ? view_->openid_configuration
                                 : view_->authorization_server_metadata;
    w.Start(200);
    w.Raw("Cache-Control: public, max-age=300\r\n");
    w.Finish(kJson, doc, head, ctx.connection);
    return Result{Outcome{route, 200}, false};
  }
  if ((route == Route::kOAuthToken || route == Route::kOAuthRevoke) && control_->is_follower()) {
    body_ = "{\"error\":\"temporarily_unavailable\",\"error_description\":";
    json::AppendJsonString(&body_, absl::StrCat("this node is a follower of ",
                                                control_->follower_of(),
                                                "; send token and revocation requests to the "
                                                "leader"));
    body_.append("}\n");
    return Json(route, 503, body_, head, ctx, w, "Retry-After: 1\r\nCache-Control: no-store\r\n");
  }
  if (route == Route::kOAuthToken) {
    issuance::HttpAnswer answer;
    if (issuance::FastClientCredentials(*view_, req.content_type, req.authorization, req.body,
                                        ctx.now, &answer)) {
      w.Start(answer.status);
      w.Raw(answer.headers);
      w.Finish(answer.content_type, answer.body, head, ctx.connection);
      return Result{Outcome{route, answer.status}, false};
    }
  }
  const issuance::Endpoint endpoint = route == Route::kOAuthToken    ? issuance::Endpoint::kToken
                                      : route == Route::kOAuthRevoke ? issuance::Endpoint::kRevoke
                                                                     : issuance::Endpoint::kIntrospect;
  return DeferIssuance(endpoint, route, req, ctx, conn_index, conn_generation, PeerAddress(fd), w);
}

AdminHandlers::Result AdminHandlers::DeferIssuance(issuance::Endpoint endpoint, Route route,
                                                   const http::Request& req,
                                                   const HandlerContext& ctx, uint32_t conn_index,
                                                   uint32_t conn_generation, std::string peer,
                                                   ResponseWriter& w) {
  auto request = std::make_unique<ControlRequest>();
  request->op = ControlOp::kIssuance;
  request->route = route;
  issuance::HttpCall& call = request->call;
  call.endpoint = endpoint;
  call.method.assign(req.method_token);
  call.path.assign(req.path);
  call.content_type.assign(req.content_type);
  call.authorization.assign(req.authorization);
  call.body.assign(req.body);
  call.peer = std::move(peer);
  return Submit(std::move(request), req, ctx, conn_index, conn_generation,
                "{\"error\":\"temporarily_unavailable\",\"error_description\":\"too many "
                "requests in flight on this shard; retry\"}\n",
                w);
}

}  // namespace ringward::server
