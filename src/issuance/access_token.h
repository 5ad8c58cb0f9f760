// issuance/access_token.h: minting RFC 9068 JWT access tokens.
//
// The header is {"alg","typ":"at+jwt","kid"} from the signing key (token::SignCompact); the
// claims are iss, sub, aud, exp, iat, jti, client_id, then scope and auth_time when they have a
// value, in that order. Every token gets a fresh jti of 128 random bits, so each can be revoked
// on its own.
//
// Thread-safe (a Key may sign from several threads at once); the result owns its strings.
#ifndef RINGWARD_ISSUANCE_ACCESS_TOKEN_H_
#define RINGWARD_ISSUANCE_ACCESS_TOKEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ringward/token/key.h"

namespace ringward::issuance {

struct AccessTokenClaims {
  std::string issuer;
  std::string subject;  // the username for user grants, the client_id for client_credentials
  std::string client_id;
  std::string scope;  // space-separated; omitted from the token when empty
  std::vector<std::string> audiences;  // aud: a string when one, an array when several
  int64_t issued_at = 0;
  int64_t lifetime_s = 600;
  int64_t auth_time = 0;  // when the user authenticated; omitted when 0
};

struct MintedToken {
  std::string token;
  std::string jti;
  int64_t expires_at = 0;
};

// MintAccessToken signs an access token for |claims| with |key|, which must hold a private key.
// InvalidArgument when issuer, subject, client_id or audiences is empty (RFC 9068 §2.2 requires
// them all), an audience is empty, issued_at is negative or lifetime_s is not positive;
// FailedPrecondition when |key| cannot sign.
absl::StatusOr<MintedToken> MintAccessToken(const token::Key& key,
                                            const AccessTokenClaims& claims);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_ACCESS_TOKEN_H_
