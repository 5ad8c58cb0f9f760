#include "issuance/client_auth.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "issuance/secrets.h"
#include "ringward/base/base64url.h"
#include "ringward/base/strings.h"
#include "ringward/token/claims.h"
#include "ringward/token/jws.h"
#include "ringward/token/key.h"
#include "ringward/token/verifier.h"
#include "simdjson.h"

namespace ringward::issuance {
namespace {

constexpr std::string_view kAuthMethodBasic = "client_secret_basic";
constexpr std::string_view kAuthMethodPost = "client_secret_post";
constexpr std::string_view kAuthMethodPrivateKeyJwt = "private_key_jwt";

// PeekSubject reads the sub claim of |assertion| WITHOUT verifying it: only to learn which
// client's keys to verify it with. Nothing read here is trusted until VerifyClientAssertion
// has checked the signature and that sub equals the client_id.
absl::Status PeekSubject(std::string_view assertion, std::string* sub) {
  const absl::Status unreadable =
      absl::UnauthenticatedError("client_assertion is not a JWT with a sub claim");
  if (assertion.size() > kMaxAssertionSize) {
    return absl::UnauthenticatedError("client_assertion is too large");
  }
  token::CompactParts parts;
  if (token::SplitCompact(assertion, &parts) != token::VerifyReason::kOk) {
    return unreadable;
  }
  uint8_t payload[kMaxAssertionSize + simdjson::SIMDJSON_PADDING];
  size_t len = 0;
  if (!Base64UrlDecode(parts.payload_b64, payload, kMaxAssertionSize, &len)) {
    return unreadable;
  }
  thread_local simdjson::ondemand::parser parser;
  token::Claims claims;
  if (token::ParseClaims(parser, payload, len, &claims) != token::VerifyReason::kOk ||
      !claims.has(token::kClaimSub) || claims.sub.empty()) {
    return unreadable;
  }
  sub->assign(claims.sub);
  return absl::OkStatus();
}

}  // namespace

std::string_view ClientAuthMethodName(ClientAuthMethod method) {
  switch (method) {
    case ClientAuthMethod::kNone:
      return "none";
    case ClientAuthMethod::kSecretBasic:
      return kAuthMethodBasic;
    case ClientAuthMethod::kSecretPost:
      return kAuthMethodPost;
    case ClientAuthMethod::kPrivateKeyJwt:
      return kAuthMethodPrivateKeyJwt;
  }
  return "none";
}

absl::StatusOr<PresentedClient> ExtractClientAuth(std::string_view authorization,
                                                  const Form& form) {
  const std::string* form_id = form.Find("client_id");
  const std::string* form_secret = form.Find("client_secret");
  const std::string* assertion_type = form.Find("client_assertion_type");
  const std::string* assertion = form.Find("client_assertion");

  const int methods = (authorization.empty() ? 0 : 1) + (form_secret != nullptr ? 1 : 0) +
                      (assertion_type != nullptr || assertion != nullptr ? 1 : 0);
  if (methods > 1) {
    return absl::InvalidArgumentError(
        "more than one client authentication method (RFC 6749 §2.3): use exactly one of "
        "HTTP Basic, client_secret in the body, or client_assertion");
  }

  PresentedClient presented;
  if (!authorization.empty()) {
    if (!ParseBasicAuth(authorization, &presented.client_id, &presented.secret).ok()) {
      return absl::UnauthenticatedError(
          "the Authorization header is not HTTP Basic client credentials (RFC 6749 §2.3.1)");
    }
    if (form_id != nullptr && *form_id != presented.client_id) {
      return absl::InvalidArgumentError(
          "client_id in the body differs from the one in the Authorization header");
    }
    presented.method = ClientAuthMethod::kSecretBasic;
    return presented;
  }

  if (form_secret != nullptr) {
    if (form_id == nullptr || form_id->empty()) {
      return absl::InvalidArgumentError("client_secret was sent without client_id");
    }
    presented.method = ClientAuthMethod::kSecretPost;
    presented.client_id = *form_id;
    presented.secret = *form_secret;
    return presented;
  }

  if (assertion_type != nullptr || assertion != nullptr) {
    if (assertion_type == nullptr || assertion == nullptr) {
      return absl::InvalidArgumentError(
          "client_assertion and client_assertion_type must be sent together (RFC 7521 §4.2)");
    }
    if (*assertion_type != kJwtBearerAssertionType) {
      return absl::UnauthenticatedError(absl::StrCat(
          "client_assertion_type must be ", ToAbsl(kJwtBearerAssertionType)));
    }
    std::string sub;
    if (absl::Status s = PeekSubject(*assertion, &sub); !s.ok()) {
      return s;
    }
    if (form_id != nullptr && *form_id != sub) {
      return absl::InvalidArgumentError("client_id differs from the client_assertion's sub");
    }
    presented.method = ClientAuthMethod::kPrivateKeyJwt;
    presented.client_id = std::move(sub);
    presented.assertion = *assertion;
    return presented;
  }

  if (form_id != nullptr) {
    presented.client_id = *form_id;
  }
  return presented;
}

bool CheckClientSecret(const Client& client, const PresentedClient& presented) {
  std::string_view expected_method;
  switch (presented.method) {
    case ClientAuthMethod::kSecretBasic:
      expected_method = kAuthMethodBasic;
      break;
    case ClientAuthMethod::kSecretPost:
      expected_method = kAuthMethodPost;
      break;
    default:
      return false;
  }
  if (client.auth_method != expected_method || client.client_id != presented.client_id ||
      client.secret_hash.empty()) {
    return false;
  }
  return ConstantTimeEquals(Sha256B64(presented.secret), client.secret_hash);
}

absl::StatusOr<AssertionInfo> VerifyClientAssertion(const Client& client,
                                                    std::string_view assertion,
                                                    std::span<const std::string> accepted_audiences,
                                                    int64_t now, int64_t leeway_s) {
  if (accepted_audiences.empty()) {
    return absl::InvalidArgumentError(
        "no accepted audience for client assertions: pass the token endpoint URL and issuer");
  }
  if (client.auth_method != kAuthMethodPrivateKeyJwt) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client ", client.client_id, " does not authenticate with private_key_jwt"));
  }
  if (client.client_id.empty()) {
    return absl::UnauthenticatedError("client assertion for a client without client_id");
  }
  absl::StatusOr<token::KeySet> keys = token::KeySet::FromJwks(client.jwks);
  if (!keys.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("client ", client.client_id,
                                                      " has an unusable JWKS: ",
                                                      keys.status().message()));
  }
  for (const std::unique_ptr<token::Key>& key : keys->keys()) {
    // A symmetric key in a registered JWKS would be a shared secret stored in the clear, and
    // client_secret_jwt is not a method ringward offers.
    if (key->alg() == token::Algorithm::kHS256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "client ", client.client_id, " registered a symmetric key; private_key_jwt needs "
          "public keys"));
    }
  }

  token::VerifyPolicy policy;
  policy.issuers = {client.client_id};
  policy.audiences.assign(accepted_audiences.begin(), accepted_audiences.end());
  policy.leeway_seconds = leeway_s;
  policy.required_claims = token::kClaimIss | token::kClaimSub | token::kClaimAud |
                           token::kClaimExp | token::kClaimJti;
  policy.max_token_size = kMaxAssertionSize;
  absl::StatusOr<std::unique_ptr<token::Verifier>> verifier = token::Verifier::Create(
      std::make_shared<const token::KeySet>(*std::move(keys)), std::move(policy));
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(verifier.status().message());
  }

  // One scratch per thread, sized for assertions; its header memo depends only on header
  // bytes, so it is safe to share between the per-client verifiers.
  thread_local token::VerifyScratch scratch(kMaxAssertionSize);
  token::VerifiedToken verified;
  const token::VerifyReason r = (*verifier)->Verify(assertion, now, scratch, &verified);
  if (r != token::VerifyReason::kOk) {
    return absl::UnauthenticatedError(
        absl::StrCat("client assertion refused: ", ToAbsl(token::VerifyReasonName(r))));
  }
  if (verified.sub != client.client_id) {
    return absl::UnauthenticatedError(
        "client assertion refused: sub must equal iss, the client_id (RFC 7523 §3)");
  }
  if (verified.jti.empty()) {
    return absl::UnauthenticatedError("client assertion refused: jti is empty");
  }
  if (verified.exp - now > kMaxAssertionLifetime) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client assertion refused: exp is more than ", kMaxAssertionLifetime,
        " seconds ahead"));
  }
  AssertionInfo info;
  info.jti.assign(verified.jti);
  info.exp = verified.exp;
  return info;
}

}  // namespace ringward::issuance
