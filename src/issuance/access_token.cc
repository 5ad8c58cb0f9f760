#include "issuance/access_token.h"

#include <charconv>
#include <cstdint>
#include <utility>

#include "issuance/secrets.h"
#include "ringward/base/json.h"
#include "ringward/token/claims.h"
#include "ringward/token/signer.h"

namespace ringward::issuance {
namespace {

// 128 bits: RFC 9068 §2.2 asks for a jti that cannot collide across issuers and time.
constexpr size_t kJtiBytes = 16;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace

absl::StatusOr<MintedToken> MintAccessToken(const token::Key& key,
                                            const AccessTokenClaims& claims) {
  if (claims.issuer.empty() || claims.subject.empty() || claims.client_id.empty()) {
    return absl::InvalidArgumentError(
        "an access token needs a non-empty issuer, subject and client_id (RFC 9068 §2.2)");
  }
  if (claims.audiences.empty()) {
    return absl::InvalidArgumentError("an access token needs an audience (RFC 9068 §2.2)");
  }
  // Verifiers (ours included) bound the aud array; a token they would refuse is not minted.
  if (claims.audiences.size() > static_cast<size_t>(token::kMaxAudiences)) {
    return absl::InvalidArgumentError("an access token may name at most 16 audiences");
  }
  for (const std::string& aud : claims.audiences) {
    if (aud.empty()) {
      return absl::InvalidArgumentError("an access token audience is the empty string");
    }
  }
  if (claims.issued_at < 0 || claims.lifetime_s <= 0 ||
      claims.lifetime_s > token::kMaxNumericDate - claims.issued_at) {
    return absl::InvalidArgumentError(
        "an access token needs iat >= 0, a positive lifetime and an exp before year 10000");
  }

  MintedToken minted;
  minted.jti = RandomToken(kJtiBytes);
  minted.expires_at = claims.issued_at + claims.lifetime_s;

  size_t size = 128 + claims.issuer.size() + claims.subject.size() + claims.client_id.size() +
                claims.scope.size() + minted.jti.size();
  for (const std::string& aud : claims.audiences) {
    size += aud.size() + 3;
  }
  std::string json;
  json.reserve(size);
  json.append("{\"iss\":");
  json::AppendJsonString(&json, claims.issuer);
  json.append(",\"sub\":");
  json::AppendJsonString(&json, claims.subject);
  json.append(",\"aud\":");
  if (claims.audiences.size() == 1) {
    json::AppendJsonString(&json, claims.audiences.front());
  } else {
    json.push_back('[');
    for (size_t i = 0; i < claims.audiences.size(); ++i) {
      if (i > 0) {
        json.push_back(',');
      }
      json::AppendJsonString(&json, claims.audiences[i]);
    }
    json.push_back(']');
  }
  json.append(",\"exp\":");
  AppendInt(&json, minted.expires_at);
  json.append(",\"iat\":");
  AppendInt(&json, claims.issued_at);
  // base64url needs no escaping.
  json.append(",\"jti\":\"");
  json.append(minted.jti);
  json.append("\",\"client_id\":");
  json::AppendJsonString(&json, claims.client_id);
  if (!claims.scope.empty()) {
    json.append(",\"scope\":");
    json::AppendJsonString(&json, claims.scope);
  }
  if (claims.auth_time > 0) {
    json.append(",\"auth_time\":");
    AppendInt(&json, claims.auth_time);
  }
  json.push_back('}');

  absl::StatusOr<std::string> token = token::SignCompact(key, json, "at+jwt");
  if (!token.ok()) {
    return token.status();
  }
  minted.token = *std::move(token);
  return minted;
}

}  // namespace ringward::issuance
