// ringward/token/claims.h: JWT claims (RFC 7519 §4.1, RFC 9068 §2.2) parsed in one pass.
//
// The claims object is walked once with simdjson On-Demand: registered claims are read as they
// pass, every other member is fully validated, duplicate names are refused at every depth, and
// trailing content after the object is refused. NumericDate claims must be integers in
// [0, kMaxNumericDate]: no fractions, exponents, strings or negative values.
//
// Thread-bound through the caller's simdjson parser; no allocation.
#ifndef RINGWARD_TOKEN_CLAIMS_H_
#define RINGWARD_TOKEN_CLAIMS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringward/token/verify_reason.h"
#include "simdjson.h"

namespace ringward::token {

// kMaxNumericDate is 9999-12-31T23:59:59Z; later dates are refused as implausible.
inline constexpr int64_t kMaxNumericDate = 253402300799;
// kMaxAudiences bounds an "aud" array.
inline constexpr int kMaxAudiences = 16;

// Bits naming registered claims, for presence masks and required-claim policies.
enum ClaimBit : uint32_t {
  kClaimIss = 1u << 0,
  kClaimSub = 1u << 1,
  kClaimAud = 1u << 2,
  kClaimExp = 1u << 3,
  kClaimNbf = 1u << 4,
  kClaimIat = 1u << 5,
  kClaimJti = 1u << 6,
  kClaimClientId = 1u << 7,
  kClaimScope = 1u << 8,
};

// Claims holds the registered claims of one token. String views point into the JSON text
// itself (strings without escapes, read in place) or into the simdjson parser's string buffer
// (unescaped strings): they stay valid while both the text and the parser are left untouched.
struct Claims {
  uint32_t present = 0;  // ClaimBit mask
  std::string_view iss;
  std::string_view sub;
  std::string_view jti;
  std::string_view client_id;
  std::string_view scope;
  std::string_view aud[kMaxAudiences];
  int aud_count = 0;
  int64_t exp = 0;
  int64_t nbf = 0;
  int64_t iat = 0;

  bool has(uint32_t bits) const { return (present & bits) == bits; }
};

// ParseClaims parses the decoded claims JSON in |json| (followed by at least
// simdjson::SIMDJSON_PADDING readable bytes). Returns kOk, kBadJson, kDuplicateMember or
// kBadClaim.
VerifyReason ParseClaims(simdjson::ondemand::parser& parser, const uint8_t* json, size_t len,
                         Claims* claims);

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_CLAIMS_H_
