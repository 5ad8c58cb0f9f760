#include "server/router.h"

namespace ringward::server {

namespace {

constexpr std::string_view kVerifyPath = "/v1/verify";

bool IsGetOrHead(http::Method method) {
  return method == http::Method::kGet || method == http::Method::kHead;
}

RouteMatch ReadOnly(Route route, http::Method method) {
  return RouteMatch{route, IsGetOrHead(method), "GET, HEAD"};
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kVerify:
      return "verify";
    case Route::kVerifyBulk:
      return "verify_bulk";
    case Route::kJwks:
      return "jwks";
    case Route::kHealthz:
      return "healthz";
    case Route::kReadyz:
      return "readyz";
    case Route::kMetrics:
      return "metrics";
    case Route::kNotFound:
      return "not_found";
    case Route::kInvalid:
      return "invalid";
    case Route::kAdminRevoke:
      return "admin_revoke";
    case Route::kAdminRevocation:
      return "admin_revocation";
    case Route::kAdminWal:
      return "admin_wal";
    case Route::kOAuthToken:
      return "oauth_token";
    case Route::kOAuthRevoke:
      return "oauth_revoke";
    case Route::kOAuthIntrospect:
      return "oauth_introspect";
    case Route::kDiscovery:
      return "discovery";
    case Route::kAdminClients:
      return "admin_clients";
    case Route::kAdminUsers:
      return "admin_users";
    case Route::kAdminKeys:
      return "admin_keys";
    case Route::kAdminReplication:
      return "admin_replication";
    case Route::kAdminPromote:
      return "admin_promote";
    case Route::kCount:
      break;
  }
  return "unknown";
}

RouteMatch MatchRoute(std::string_view path, http::Method method, bool metrics_enabled) {
  if (path.size() >= kVerifyPath.size() && path.substr(0, kVerifyPath.size()) == kVerifyPath) {
    if (path.size() == kVerifyPath.size()) {
      if (method == http::Method::kPost) {
        return RouteMatch{Route::kVerifyBulk, true, "GET, HEAD, POST"};
      }
      return RouteMatch{Route::kVerify, IsGetOrHead(method), "GET, HEAD, POST"};
    }
    if (path[kVerifyPath.size()] == '/') {
      return RouteMatch{Route::kVerify, true, ""};
    }
    return RouteMatch{};
  }
  if (path == "/.well-known/jwks.json") {
    return ReadOnly(Route::kJwks, method);
  }
  if (path == "/healthz") {
    return ReadOnly(Route::kHealthz, method);
  }
  if (path == "/readyz") {
    return ReadOnly(Route::kReadyz, method);
  }
  if (path == "/metrics" && metrics_enabled) {
    return ReadOnly(Route::kMetrics, method);
  }
  return RouteMatch{};
}

RouteMatch MatchIssuanceRoute(std::string_view path, http::Method method) {
  const bool post = method == http::Method::kPost;
  if (path == "/oauth2/token") {
    return RouteMatch{Route::kOAuthToken, post, "POST"};
  }
  if (path == "/oauth2/revoke") {
    return RouteMatch{Route::kOAuthRevoke, post, "POST"};
  }
  if (path == "/oauth2/introspect") {
    return RouteMatch{Route::kOAuthIntrospect, post, "POST"};
  }
  if (path == "/.well-known/oauth-authorization-server" ||
      path == "/.well-known/openid-configuration") {
    return ReadOnly(Route::kDiscovery, method);
  }
  return RouteMatch{};
}

}  // namespace ringward::server
