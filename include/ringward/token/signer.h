// ringward/token/signer.h: producing JWS compact tokens.
//
// The header is always {"alg":...,"typ":...,"kid":...} from the signing key; nothing a caller
// passes can add header members. Thread-safe (a Key may sign from several threads at once).
#ifndef RINGWARD_TOKEN_SIGNER_H_
#define RINGWARD_TOKEN_SIGNER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ringward/token/key.h"

namespace ringward::token {

// SignCompact signs |claims_json| (which must already be one JSON object; it is not re-checked
// here) with |key| and returns header.payload.signature. |typ| is put in the header when not
// empty (e.g. "at+jwt" for RFC 9068 access tokens).
absl::StatusOr<std::string> SignCompact(const Key& key, std::string_view claims_json,
                                        std::string_view typ);

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_SIGNER_H_
