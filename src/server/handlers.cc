#include "server/handlers.h"

#include <cstring>
#include <utility>

#include "ringward/base/json.h"
#include "ringward/token/claims.h"
#include "server/control_plane.h"

namespace ringward::server {

namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
constexpr std::string_view kInvalidToken =
    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\nCache-Control: no-store\r\n";
constexpr std::string_view kNoCredentials =
    "WWW-Authenticate: Bearer realm=\"ringward\"\r\nCache-Control: no-store\r\n";

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// HasBearerScheme reports whether |authorization| uses the Bearer scheme (case-insensitive),
// well-formed or not. Another scheme (Basic, ...) means "no bearer credentials".
bool HasBearerScheme(std::string_view authorization) {
  static constexpr std::string_view kBearer = "bearer";
  if (authorization.size() < kBearer.size()) {
    return false;
  }
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (Lower(authorization[i]) != kBearer[i]) {
      return false;
    }
  }
  return authorization.size() == kBearer.size() || authorization[kBearer.size()] == ' ';
}

bool IdentityIsSafe(const token::VerifiedToken& v) {
  return IsSafeHeaderValue(v.sub) && IsSafeHeaderValue(v.client_id) &&
         IsSafeHeaderValue(v.scope);
}

}  // namespace

Handlers::Handlers(std::span<const ShardMetrics> all, ShardMetrics* mine)
    : all_(all), mine_(mine) {
  body_.reserve(64 * 1024);
  lines_.reserve(1024);
}

void Handlers::SetState(std::shared_ptr<const ServingState> state) {
  const bool verifier_changed = state_ == nullptr || state_->verifier != state->verifier;
  state_ = std::move(state);
  const size_t entries = state_->config.tokens.cache_entries;
  if (entries != cache_entries_ || (entries != 0 && cache_ == nullptr)) {
    cache_entries_ = entries;
    cache_ = entries == 0 ? nullptr : std::make_unique<token::VerifiedTokenCache>(entries);
  } else if (verifier_changed && cache_ != nullptr) {
    cache_->Clear();
  }
  if (state_->claim_headers.empty() || cache_ == nullptr) {
    claim_cache_.reset();
  } else if (claim_cache_ == nullptr) {
    claim_cache_ = std::make_unique<ClaimHeaderCache>(entries < 4096 ? entries : 4096);
  } else {
    // Cleared on every change: the mapping itself may have changed, not only the keys.
    claim_cache_->Clear();
  }
}

void Handlers::SetControlPlane(const ControlPlane* control) {
  control_ = control;
  revocations_ = control == nullptr ? nullptr : &control->revocations();
}

size_t Handlers::VerifyOne(std::string_view token, int64_t now, token::VerifiedToken* out) {
  const token::Verifier& verifier = *state_->verifier;
  token::VerifyReason reason;
  if (cache_ != nullptr) {
    const token::VerifiedCacheStats before = cache_->stats();
    reason = verifier.Verify(token, now, scratch_, *cache_, out);
    const token::VerifiedCacheStats& after = cache_->stats();
    tally_.cache_hits += static_cast<uint32_t>(after.hits - before.hits);
    tally_.cache_misses += static_cast<uint32_t>(after.misses - before.misses);
  } else {
    reason = verifier.Verify(token, now, scratch_, out);
  }
  // Revocation is checked after the signature (and on every cache hit): the set answers for
  // tokens that are otherwise valid, and costs one filter probe when they are not revoked.
  if (reason == token::VerifyReason::kOk && revocations_ != nullptr &&
      revocations_->IsRevoked(*out)) {
    reason = token::VerifyReason::kRevoked;
  }
  size_t outcome = static_cast<size_t>(reason);
  if (reason == token::VerifyReason::kOk && !IdentityIsSafe(*out)) {
    outcome = kOutcomeUnsafeClaim;
  }
  ++tally_.verify[outcome];
  tally_.dirty = true;
  return outcome;
}

void Handlers::AppendClaimHeaders(std::string_view token, int64_t now,
                                  const token::VerifiedToken& v, std::string* out) {
  const std::span<const ClaimHeader> headers = state_->claim_headers;
  if (headers.empty()) {
    return;
  }
  uint64_t hash = 0;
  if (claim_cache_ != nullptr) {
    hash = token::VerifiedTokenCache::Hash(token);
  }
  std::string_view claims_json = v.claims_json;
  if (claims_json.empty()) {
    // A verified-cache hit carries no claims JSON: use the rendered lines kept beside it, or
    // verify once more without the cache to get the JSON back.
    std::string_view cached;
    if (claim_cache_ != nullptr && claim_cache_->Lookup(token, hash, &cached)) {
      out->append(cached);
      return;
    }
    token::VerifiedToken full;
    if (state_->verifier->Verify(token, now, scratch_, &full) != token::VerifyReason::kOk) {
      return;
    }
    claims_json = full.claims_json;
  }
  lines_.clear();
  const size_t omitted = claim_renderer_.Render(claims_json, headers, &lines_);
  tally_.claim_headers_omitted += static_cast<uint32_t>(omitted);
  tally_.dirty = true;
  if (claim_cache_ != nullptr) {
    claim_cache_->Insert(token, hash, lines_);
  }
  out->append(lines_);
}

Outcome Handlers::Simple(Route route, int status, std::string_view content_type,
                         std::string_view body, bool head, const HandlerContext& ctx,
                         ResponseWriter& w) {
  w.Start(status);
  w.Finish(content_type, body, head, ctx.connection);
  return Outcome{route, status};
}

Outcome Handlers::Handle(const http::Request& req, const HandlerContext& ctx,
                         const HttpDate& date, std::string* out) {
  ResponseWriter w(out, date);
  const bool head = req.method == http::Method::kHead;
  const RouteMatch match = MatchRoute(req.path, req.method, ctx.metrics_enabled);
  if (match.route == Route::kNotFound) {
    return Simple(Route::kNotFound, 404, kTextPlain, "not found\n", head, ctx, w);
  }
  if (!match.method_allowed) {
    w.Start(405);
    out->append("Allow: ");
    out->append(match.allow);
    out->append("\r\n");
    w.Finish(kTextPlain, "method not allowed\n", head, ctx.connection);
    return Outcome{match.route, 405};
  }
  switch (match.route) {
    case Route::kVerify:
      return HandleVerify(req, ctx, w);
    case Route::kVerifyBulk:
      return HandleBulk(req, ctx, w);
    case Route::kJwks:
      w.Start(200);
      w.Raw("Cache-Control: public, max-age=300\r\n");
      w.Finish("application/json", state_->jwks_json, head, ctx.connection);
      return Outcome{Route::kJwks, 200};
    case Route::kHealthz:
      return Simple(Route::kHealthz, 200, kTextPlain, "ok\n", head, ctx, w);
    case Route::kReadyz:
      if (ctx.ready) {
        return Simple(Route::kReadyz, 200, kTextPlain,
                      ctx.stale_open ? "ready (replication stale: failing open)\n" : "ready\n",
                      head, ctx, w);
      }
      if (!ctx.not_ready_reason.empty()) {
        body_.assign("not ready: ");
        body_.append(ctx.not_ready_reason);
        body_.push_back('\n');
        return Simple(Route::kReadyz, 503, kTextPlain, body_, head, ctx, w);
      }
      return Simple(Route::kReadyz, 503, kTextPlain, "not ready\n", head, ctx, w);
    case Route::kMetrics:
      body_.clear();
      RenderMetrics(all_, ctx.ready, &body_);
      if (control_ != nullptr) {
        control_->RenderMetrics(&body_);
      }
      w.Start(200);
      w.Raw(kNoStore);
      w.Finish("text/plain; version=0.0.4; charset=utf-8", body_, head, ctx.connection);
      return Outcome{Route::kMetrics, 200};
    default:
      break;
  }
  return Simple(Route::kNotFound, 404, kTextPlain, "not found\n", head, ctx, w);
}

Outcome Handlers::HandleVerify(const http::Request& req, const HandlerContext& ctx,
                               ResponseWriter& w) {
  const bool head = req.method == http::Method::kHead;
  if (ctx.verify_refused) {
    return Stale(Route::kVerify, head, ctx, w);
  }
  if (!HasBearerScheme(req.authorization)) {
    ++tally_.verify[kOutcomeMissingToken];
    tally_.dirty = true;
    w.Start(401);
    w.Raw(kNoCredentials);
    w.Finish("", "", head, ctx.connection);
    return Outcome{Route::kVerify, 401};
  }
  const std::string_view token = http::BearerToken(req.authorization);
  token::VerifiedToken v;
  size_t outcome = static_cast<size_t>(token::VerifyReason::kMalformed);
  if (token.empty()) {
    ++tally_.verify[outcome];
    tally_.dirty = true;
  } else {
    outcome = VerifyOne(token, ctx.now, &v);
  }
  if (outcome != static_cast<size_t>(token::VerifyReason::kOk)) {
    w.Start(401);
    w.Raw(kInvalidToken);
    w.Finish("", "", head, ctx.connection);
    return Outcome{Route::kVerify, 401};
  }
  w.Start(200);
  w.Raw(kNoStore);
  if ((v.present & token::kClaimSub) != 0) {
    w.Header("X-Auth-Subject: ", v.sub);
  }
  if ((v.present & token::kClaimClientId) != 0) {
    w.Header("X-Auth-Client: ", v.client_id);
  }
  if ((v.present & token::kClaimScope) != 0) {
    w.Header("X-Auth-Scope: ", v.scope);
  }
  // |v| may point into the verified cache; the claim headers are appended after its last use.
  body_.clear();
  AppendClaimHeaders(token, ctx.now, v, &body_);
  w.Raw(body_);
  w.Finish("", "", head, ctx.connection);
  return Outcome{Route::kVerify, 200};
}

Outcome Handlers::Stale(Route route, bool head, const HandlerContext& ctx, ResponseWriter& w) {
  w.Start(503);
  w.Raw("Retry-After: 1\r\n");
  w.Raw(kNoStore);
  w.Finish(kTextPlain,
           "this follower has not heard from its leader for longer than max_staleness_ms and "
           "fails closed: it cannot know of recent revocations\n",
           head, ctx.connection);
  return Outcome{route, 503};
}

Outcome Handlers::HandleBulk(const http::Request& req, const HandlerContext& ctx,
                             ResponseWriter& w) {
  if (ctx.verify_refused) {
    return Stale(Route::kVerifyBulk, false, ctx, w);
  }
  const BulkFormat format = BulkFormatFor(req.content_type);
  if (format == BulkFormat::kUnsupported) {
    return Simple(Route::kVerifyBulk, 415, kTextPlain,
                  "send tokens as text/plain (one per line) or application/json "
                  "({\"tokens\":[...]})\n",
                  false, ctx, w);
  }
  const BulkError error = bulk_.Parse(format, req.body, state_->config.tokens.bulk_max_tokens);
  if (error != BulkError::kOk) {
    body_.assign(bulk_.message());
    body_.push_back('\n');
    return Simple(Route::kVerifyBulk, error == BulkError::kTooMany ? 413 : 400, kTextPlain, body_,
                  false, ctx, w);
  }
  body_.clear();
  const bool json = format == BulkFormat::kJson;
  if (json) {
    body_.append("{\"results\":[");
  }
  bool first = true;
  for (const std::string_view token : bulk_.tokens()) {
    token::VerifiedToken v;
    const bool ok = !token.empty() &&
                    VerifyOne(token, ctx.now, &v) == static_cast<size_t>(token::VerifyReason::kOk);
    if (token.empty()) {
      ++tally_.verify[static_cast<size_t>(token::VerifyReason::kMalformed)];
      tally_.dirty = true;
    }
    if (!json) {
      if (!ok) {
        body_.append("invalid\n");
      } else if ((v.present & token::kClaimSub) != 0) {
        body_.append("ok ");
        body_.append(v.sub);
        body_.push_back('\n');
      } else {
        body_.append("ok\n");
      }
      continue;
    }
    if (!first) {
      body_.push_back(',');
    }
    first = false;
    if (!ok) {
      body_.append("{\"valid\":false}");
      continue;
    }
    body_.append("{\"valid\":true");
    if ((v.present & token::kClaimSub) != 0) {
      body_.append(",\"sub\":");
      json::AppendJsonString(&body_, v.sub);
    }
    if ((v.present & token::kClaimClientId) != 0) {
      body_.append(",\"client_id\":");
      json::AppendJsonString(&body_, v.client_id);
    }
    if ((v.present & token::kClaimScope) != 0) {
      body_.append(",\"scope\":");
      json::AppendJsonString(&body_, v.scope);
    }
    body_.append(",\"exp\":");
    AppendSignedDecimal(&body_, v.exp);
    body_.push_back('}');
  }
  if (json) {
    body_.append("]}\n");
  }
  w.Start(200);
  w.Raw(kNoStore);
  w.Finish(json ? "application/json" : kTextPlain, body_, false, ctx.connection);
  return Outcome{Route::kVerifyBulk, 200};
}

Outcome Handlers::HandleParseError(http::ParseStatus status, const HttpDate& date,
                                   std::string* out) {
  const int code = HttpStatusForParse(status);
  ResponseWriter w(out, date);
  body_.clear();
  body_.append(ReasonPhrase(code));
  body_.append(": ");
  body_.append(http::ParseStatusName(status));
  body_.push_back('\n');
  w.Start(code);
  w.Finish(kTextPlain, body_, false, ConnectionHeader::kClose);
  return Outcome{Route::kInvalid, code};
}

void Handlers::Commit(const Outcome& outcome) {
  mine_->CountRequest(outcome.route, outcome.status);
  if (!tally_.dirty) {
    return;
  }
  for (size_t i = 0; i < kVerifyOutcomeCount; ++i) {
    if (tally_.verify[i] != 0) {
      mine_->verify[i].Add(tally_.verify[i]);
    }
  }
  if (tally_.cache_hits != 0) {
    mine_->cache_hits.Add(tally_.cache_hits);
  }
  if (tally_.cache_misses != 0) {
    mine_->cache_misses.Add(tally_.cache_misses);
  }
  if (tally_.claim_headers_omitted != 0) {
    mine_->claim_headers_omitted.Add(tally_.claim_headers_omitted);
  }
  tally_ = Tally{};
}

void Handlers::Discard() {
  if (tally_.dirty) {
    tally_ = Tally{};
  }
}

}  // namespace ringward::server
