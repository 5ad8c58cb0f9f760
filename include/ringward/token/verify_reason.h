// ringward/token/verify_reason.h: why a token was refused, one enum value per cause.
//
// Callers outside ringward only ever see "invalid" (RFC 6750 invalid_token); the precise reason
// feeds metrics and logs. The numbering is stable: it indexes per-reason counters.
#ifndef RINGWARD_TOKEN_VERIFY_REASON_H_
#define RINGWARD_TOKEN_VERIFY_REASON_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringward::token {

enum class VerifyReason : uint8_t {
  kOk = 0,
  kTooLarge,              // longer than the configured token size cap
  kMalformed,             // not three non-empty dot-separated segments of base64url characters
  kBadBase64,             // a segment is not canonical, unpadded base64url
  kBadJson,               // header or claims are not a JSON object, or have trailing content
  kDuplicateMember,       // a JSON object names a member twice
  kUnsupportedAlgorithm,  // "alg" missing, "none" in any spelling, or not one ringward knows
  kUnsupportedHeader,     // crit, b64, zip, jku, jwk, x5u, x5c, enc: never honoured
  kUnknownKid,            // no key with that kid (or no kid and no single key for the alg)
  kAlgMismatch,           // the token's alg is not the selected key's algorithm
  kBadSignature,          // wrong length or does not verify
  kBadClaim,              // a registered claim with the wrong type or range (e.g. exp 1.5)
  kMissingClaim,          // a claim the policy requires is absent
  kExpired,               // exp + leeway <= now
  kNotYetValid,           // nbf - leeway > now, or iat - leeway > now
  kWrongIssuer,           // iss is not a trusted issuer
  kWrongAudience,         // no aud value is an accepted audience
  kWrongType,             // typ is not what the profile requires (at+jwt for RFC 9068)
  kRevoked,               // revoked by jti, subject, client or key id
  kCount,
};

inline constexpr size_t kVerifyReasonCount = static_cast<size_t>(VerifyReason::kCount);

// VerifyReasonName returns a stable snake_case name for metrics labels and logs.
std::string_view VerifyReasonName(VerifyReason reason);

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_VERIFY_REASON_H_
