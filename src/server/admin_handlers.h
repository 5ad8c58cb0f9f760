// server/admin_handlers.h: AdminHandlers, the endpoints of the admin listener, and
// RevocationBodyParser, the strict reader of revocation request bodies.
//
// Every request must carry `Authorization: Bearer <admin token>` (compared in constant time,
// see AdminToken); anything else gets 401 with WWW-Authenticate before the path is even looked
// at, so an unauthenticated client learns nothing about the routes. Then:
//
//   POST     /admin/revocations        {"jti":"...","exp":N} | {"sub":"...","before":T} |
//                                      {"client_id":"...","before":T} | {"kid":"..."} |
//                                      {"revocations":[ ...those... ]}   (1..bulk_max)
//                                      -> handed to the control plane; 200 {"revoked":n,"lsn":L}
//                                      once durable and visible on every shard, 503 when the
//                                      log has failed, 400/413/415 with {"error":"..."}
//   GET|HEAD /admin/revocations/{id}   the live revocation of that jti (?kind=subject|client|kid
//                                      for the others): 200 with the entry, or 404
//   GET|HEAD /admin/wal                the log's status (LSNs, segments, last sync, healthy)
//   GET|HEAD /metrics                  every series, revocations and WAL included
//   GET|HEAD /healthz, /readyz
//   /admin/clients, /admin/users, /admin/keys  handed to the issuance service (issuance/service.h)
// None of these exist on a public listener (router.h never matches /admin/).
//
// Thread-bound: one AdminHandlers per shard, next to its Handlers. It borrows the ControlPlane.
#ifndef RINGWARD_SERVER_ADMIN_HANDLERS_H_
#define RINGWARD_SERVER_ADMIN_HANDLERS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/revocation/revocation_log.h"
#include "server/control_plane.h"
#include "server/handlers.h"
#include "server/metrics.h"
#include "server/response.h"
#include "simdjson.h"

namespace ringward::server {

// RevocationBodyParser reads a POST /admin/revocations body: one strict JSON object (no
// duplicate names, nothing after it; json::ValidateStrict) of the forms above. Thread-bound
// (it keeps its parsers' buffers).
class RevocationBodyParser {
 public:
  // Parse fills |*out| or returns InvalidArgument (400) or OutOfRange (413, more than |max|
  // revocations) with a message an API client can act on ("revocations[3]: exp is required with
  // jti").
  absl::Status Parse(std::string_view body, size_t max, std::vector<revocation::Revocation>* out);

 private:
  simdjson::ondemand::parser strict_;
  simdjson::dom::parser dom_;
};


class AdminHandlers {
 public:
  // |all| is every shard's metrics (for /metrics); |mine| is this shard's.
  AdminHandlers(int shard, ControlPlane* control, std::span<const ShardMetrics> all,
                ShardMetrics* mine);
  AdminHandlers(const AdminHandlers&) = delete;
  AdminHandlers& operator=(const AdminHandlers&) = delete;

  struct Result {
    Outcome outcome;
    bool deferred = false;  // handed to the control plane; nothing was appended to |*out|
  };

  // Handle answers |req| into |*out|, or hands it to the control plane (Result::deferred): its
  // answer comes back later as a ControlResponse naming (|conn_index|, |conn_generation|).
  Result Handle(const http::Request& req, const HandlerContext& ctx, const HttpDate& date,
                uint32_t conn_index, uint32_t conn_generation, std::string* out);

  // HandlePublic answers a public issuance endpoint (MatchIssuanceRoute found |match|): the
  // discovery documents and client_credentials with a client secret here, on the shard, from
  // the published IssuanceView; everything else is handed to the issuance service (deferred).
  // |fd| is the connection's socket, for the client's address (per-IP login limits).
  Result HandlePublic(const RouteMatch& match, const http::Request& req, const HandlerContext& ctx,
                      const HttpDate& date, uint32_t conn_index, uint32_t conn_generation, int fd,
                      std::string* out);

  // Render appends the HTTP response for a control-plane answer.
  Outcome Render(const ControlResponse& response, const HttpDate& date, std::string* out);

  // Commit counts an answered request (deferred ones once Rendered).
  void Commit(const Outcome& outcome) { mine_->CountRequest(outcome.route, outcome.status); }

 private:
  Result Revoke(const http::Request& req, const HandlerContext& ctx, uint32_t conn_index,
                uint32_t conn_generation, ResponseWriter& w);
  Result Lookup(const http::Request& req, const HandlerContext& ctx, ResponseWriter& w);
  Result Defer(ControlOp op, Route route, const http::Request& req, const HandlerContext& ctx,
               uint32_t conn_index, uint32_t conn_generation,
               std::vector<revocation::Revocation> revocations, ResponseWriter& w);
  // Submit fills in what finds the connection again and hands |request| to the control plane,
  // or answers 503 with |busy_body| when this shard has too many in flight.
  Result Submit(std::unique_ptr<ControlRequest> request, const http::Request& req,
                const HandlerContext& ctx, uint32_t conn_index, uint32_t conn_generation,
                std::string_view busy_body, ResponseWriter& w);
  Result DeferIssuance(issuance::Endpoint endpoint, Route route, const http::Request& req,
                       const HandlerContext& ctx, uint32_t conn_index, uint32_t conn_generation,
                       std::string peer, ResponseWriter& w);
  Result Json(Route route, int status, std::string_view body, bool head, const HandlerContext& ctx,
              ResponseWriter& w, std::string_view extra = {});

  const int shard_;
  ControlPlane* const control_;
  std::span<const ShardMetrics> all_;
  ShardMetrics* mine_;
  RevocationBodyParser parser_;
  std::string body_;
  // The issuance view this shard uses, reloaded when its version moves (null: issuance off).
  std::shared_ptr<const issuance::IssuanceView> view_;
  uint64_t view_version_ = ~uint64_t{0};
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_ADMIN_HANDLERS_H_
