// ringward/token/jws.h: JWS compact serialization (RFC 7515 §7.1), split and header parsing.
//
// The header is parsed strictly: every member validated, duplicate names refused, and the
// members that would make ringward trust or fetch a key named by the token (jku, jwk, x5u, x5c),
// change what is signed (b64, crit) or compress (zip) are refused outright (RFC 8725 §3.10).
//
// Thread-bound through the caller's simdjson parser; no allocation.
#ifndef RINGWARD_TOKEN_JWS_H_
#define RINGWARD_TOKEN_JWS_H_

#include <cstddef>
#include <string_view>

#include "ringward/token/algorithm.h"
#include "ringward/token/verify_reason.h"
#include "simdjson.h"

namespace ringward::token {

// CompactParts are views into the token text.
struct CompactParts {
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
  std::string_view signing_input;  // header_b64 + '.' + payload_b64
};

// SplitCompact checks that |token| is exactly three non-empty segments of base64url characters
// separated by dots and fills |*parts|. Returns kOk or kMalformed.
VerifyReason SplitCompact(std::string_view token, CompactParts* parts);

// JoseHeader holds the members ringward reads. Views point into |parser|'s string buffer and
// are valid until the parser iterates another document.
struct JoseHeader {
  Algorithm alg = Algorithm::kEdDSA;
  std::string_view kid;
  std::string_view typ;
  bool has_kid = false;
  bool has_typ = false;
};

// ParseJoseHeader parses the decoded header JSON in |json| (which must be followed by at least
// simdjson::SIMDJSON_PADDING readable bytes). Returns kOk, kBadJson, kDuplicateMember,
// kUnsupportedAlgorithm or kUnsupportedHeader.
VerifyReason ParseJoseHeader(simdjson::ondemand::parser& parser, const uint8_t* json, size_t len,
                             JoseHeader* header);

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_JWS_H_
