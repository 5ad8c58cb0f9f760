// issuance/secrets.h: random tokens, the fast hash that stores them, constant-time comparison and
// HTTP Basic client credentials (RFC 6749 §2.3.1).
//
// Client secrets and refresh tokens are 256-bit random values, so one SHA-256 is the right stored
// form (no dictionary to slow down); comparisons of secrets or their hashes go through
// ConstantTimeEquals so response timing says nothing about how much of a guess was right.
//
// All functions are thread-safe (BoringSSL's RAND_bytes is) and own nothing after they return.
#ifndef RINGWARD_ISSUANCE_SECRETS_H_
#define RINGWARD_ISSUANCE_SECRETS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ringward::issuance {

// RandomToken returns |bytes| bytes from BoringSSL's CSPRNG as unpadded base64url (43 characters
// for the default 32 bytes). It aborts only if the CSPRNG does, as BoringSSL itself would.
std::string RandomToken(size_t bytes = 32);

// Sha256B64 returns base64url(SHA-256(|data|)) without padding: always 43 characters.
std::string Sha256B64(std::string_view data);

// ConstantTimeEquals returns whether |a| and |b| hold the same bytes. The time taken depends on
// the lengths but not on the contents; every caller compares values of a public, fixed length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// ParseBasicAuth parses an Authorization header value "Basic <base64>" (scheme
// case-insensitive, one or more spaces, standard padded base64 of "<id>:<secret>") where id and
// secret are form-urlencoded before encoding (RFC 6749 §2.3.1), so the first ':' separates them
// and both are then form-decoded. On success it sets |*id| (non-empty) and |*secret|; on any
// malformation it returns InvalidArgument and leaves both unchanged.
absl::Status ParseBasicAuth(std::string_view authorization_header_value, std::string* id,
                            std::string* secret);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_SECRETS_H_
