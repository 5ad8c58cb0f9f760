// server/router.h: which endpoint a request is for, and whether its method is allowed there.
//
// Routes are exact paths (the query is ignored), except the forward-auth prefix:
//   GET|HEAD /v1/verify                  one token from Authorization (kVerify)
//   POST     /v1/verify                  many tokens in the body (kVerifyBulk)
//   ANY      /v1/verify/<anything>       one token from Authorization (kVerify): Envoy's HTTP
//                                        ext_authz keeps the original method and appends the
//                                        original path to its path_prefix, so
//                                        "POST /api/x" arrives as "POST /v1/verify/api/x" with
//                                        an empty body, and must be checked like a GET
//   GET|HEAD /.well-known/jwks.json, /healthz, /readyz, /metrics
// Anything else is kNotFound (404); a known path with a method it does not serve is
// method_allowed = false (405 with |allow| as the Allow header value).
//
// Pure functions; thread-safe.
#ifndef RINGWARD_SERVER_ROUTER_H_
#define RINGWARD_SERVER_ROUTER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringward/net/http/request_parser.h"

namespace ringward::server {

// Route values index per-route metrics; kInvalid counts requests that failed to parse.
enum class Route : uint8_t {
  kVerify = 0,
  kVerifyBulk,
  kJwks,
  kHealthz,
  kReadyz,
  kMetrics,
  kNotFound,
  kInvalid,
  // Admin listener only (server/admin_handlers.h); MatchRoute never returns these, so every
  // /admin/ path is kNotFound on a public listener.
  kAdminRevoke,      // POST /admin/revocations
  kAdminRevocation,  // GET /admin/revocations/{jti}
  kAdminWal,         // GET /admin/wal
  // Issuance ([issuance] enabled): MatchIssuanceRoute on public listeners, admin_handlers.cc on
  // the admin listener.
  kOAuthToken,       // POST /oauth2/token
  kOAuthRevoke,      // POST /oauth2/revoke
  kOAuthIntrospect,  // POST /oauth2/introspect
  kDiscovery,        // GET /.well-known/oauth-authorization-server, /openid-configuration
  kAdminClients,     // /admin/clients[/{id}]
  kAdminUsers,       // /admin/users[/{name}[/...]]
  kAdminKeys,        // /admin/keys[/rotate]
  kAdminReplication,  // GET /admin/replication
  kAdminPromote,      // POST /admin/promote
  kCount,
};

inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kCount);

// RouteName returns the metrics label ("verify", "verify_bulk", "jwks", ...).
std::string_view RouteName(Route route);

struct RouteMatch {
  Route route = Route::kNotFound;
  bool method_allowed = true;
  std::string_view allow;  // the Allow header value for this path ("GET, HEAD")
};

// MatchRoute resolves |path| (origin-form, without the query) and |method|. |method_token| is
// the method as sent, for methods the parser does not know (kUnknown). When |metrics_enabled|
// is false /metrics is kNotFound.
RouteMatch MatchRoute(std::string_view path, http::Method method, bool metrics_enabled);

// MatchIssuanceRoute resolves the public issuance endpoints (the OAuth 2.0 endpoints and the
// two discovery documents); kNotFound for any other path. Only consulted when issuance is on.
RouteMatch MatchIssuanceRoute(std::string_view path, http::Method method);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_ROUTER_H_
