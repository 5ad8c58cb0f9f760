// server/handlers.h: Handlers, the endpoints of the public listener, turning one parsed request
// into one response appended to a buffer.
//
//   GET|HEAD /v1/verify          200 + X-Auth-Subject/-Client/-Scope (+ claim_headers), or 401
//                                with WWW-Authenticate: Bearer error="invalid_token" (a token
//                                was sent but is not valid) or Bearer realm="ringward" (no
//                                Bearer credentials at all, RFC 6750 §3.1). The reason is never
//                                in the response, only in metrics.
//   POST /v1/verify              bulk: "ok <sub>" / "invalid" per line, or JSON results
//   GET /.well-known/jwks.json   the public keys
//   GET /healthz, /readyz, /metrics
// A token that verifies (in full or from the verified-token cache) is then checked against the
// revocation set (SetControlPlane): a revoked one is refused like any invalid token, with the
// outcome "revoked" in metrics.
// Identity claims (sub, client_id, scope) that cannot be written into a header unchanged (see
// IsSafeHeaderValue) make the token count as invalid everywhere, including the bulk endpoint,
// with the outcome "unsafe_claim": a service that cannot tell who the caller is must not let
// it in. Configured claim headers with such values are only left out (and counted).
//
// Counting: Handle() records what it did in a pending tally; the shard calls Commit(outcome)
// once the response is queued, or nothing when it has to retry the request later (output
// backpressure), so metrics never count a request twice.
//
// Thread-bound: one Handlers per shard, holding that shard's VerifyScratch, verified-token
// cache and reusable buffers. Nothing allocates on the GET /v1/verify path after warm-up.
#ifndef RINGWARD_SERVER_HANDLERS_H_
#define RINGWARD_SERVER_HANDLERS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ringward/net/http/request_parser.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"
#include "server/bulk.h"
#include "server/claim_headers.h"
#include "server/metrics.h"
#include "server/response.h"
#include "server/router.h"
#include "server/serving_state.h"

namespace ringward::server {

class ControlPlane;

struct HandlerContext {
  int64_t now = 0;  // unix seconds, read once per loop turn
  ConnectionHeader connection = ConnectionHeader::kNone;
  bool ready = true;            // for /readyz: every shard serves and none is draining
  bool metrics_enabled = true;  // /metrics served on this listener
  // Why ready is false, when there is more to say than "starting or draining" (the revocation
  // log has failed). A static string.
  std::string_view not_ready_reason;
  // A follower that has not heard from its leader for max_staleness_ms, with fail_mode
  // "closed": GET and POST /v1/verify answer 503 instead of risking a missed revocation.
  bool verify_refused = false;
  // A follower past max_staleness_ms with fail_mode "open": /readyz says so, verify goes on.
  bool stale_open = false;
};

struct Outcome {
  Route route = Route::kNotFound;
  int status = 0;
};

class Handlers {
 public:
  // |all| is every shard's metrics (for /metrics); |mine| is this shard's.
  Handlers(std::span<const ShardMetrics> all, ShardMetrics* mine);
  Handlers(const Handlers&) = delete;
  Handlers& operator=(const Handlers&) = delete;

  // SetState switches to |state| for the following requests. When the verifier changed the
  // caches are emptied: a token verified under the old keys or policy must be verified again.
  void SetState(std::shared_ptr<const ServingState> state);
  const ServingState& state() const { return *state_; }

  // SetControlPlane turns on the revocation check of every verified token (cache hits and bulk
  // included) and adds the revocation and WAL series to /metrics. |control| (borrowed) outlives
  // the handlers; null turns both off (no data_dir, tests).
  void SetControlPlane(const ControlPlane* control);

  // Handle appends the response to |req| to |*out|.
  Outcome Handle(const http::Request& req, const HandlerContext& ctx, const HttpDate& date,
                 std::string* out);

  // HandleParseError appends the answer to a request the parser refused (always with
  // Connection: close).
  Outcome HandleParseError(http::ParseStatus status, const HttpDate& date, std::string* out);

  // Commit counts |outcome| and everything the last Handle recorded; Discard forgets the
  // record.
  void Commit(const Outcome& outcome);
  void Discard();

 private:
  struct Tally {
    uint32_t verify[kVerifyOutcomeCount];
    uint32_t cache_hits;
    uint32_t cache_misses;
    uint32_t claim_headers_omitted;
    bool dirty;
  };

  // VerifyOne verifies |token| through the cache, records the outcome and returns the index of
  // the outcome (a VerifyReason, or kOutcomeUnsafeClaim). |*out| is valid when it returns kOk.
  size_t VerifyOne(std::string_view token, int64_t now, token::VerifiedToken* out);
  // AppendClaimHeaders appends the configured claim header lines for a verified |token|.
  void AppendClaimHeaders(std::string_view token, int64_t now, const token::VerifiedToken& v,
                          std::string* out);

  Outcome HandleVerify(const http::Request& req, const HandlerContext& ctx, ResponseWriter& w);
  Outcome HandleBulk(const http::Request& req, const HandlerContext& ctx, ResponseWriter& w);
  Outcome Stale(Route route, bool head, const HandlerContext& ctx, ResponseWriter& w);
  Outcome Simple(Route route, int status, std::string_view content_type, std::string_view body,
                 bool head, const HandlerContext& ctx, ResponseWriter& w);

  std::span<const ShardMetrics> all_;
  ShardMetrics* mine_;
  std::shared_ptr<const ServingState> state_;
  const ControlPlane* control_ = nullptr;
  const revocation::RevocationSet* revocations_ = nullptr;
  token::VerifyScratch scratch_;
  std::unique_ptr<token::VerifiedTokenCache> cache_;
  size_t cache_entries_ = 0;
  std::unique_ptr<ClaimHeaderCache> claim_cache_;
  ClaimHeaderRenderer claim_renderer_;
  BulkParser bulk_;
  std::string body_;
  std::string lines_;
  Tally tally_{};
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_HANDLERS_H_
