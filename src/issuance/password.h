// issuance/password.h: user password hashing with argon2id (RFC 9106) through libargon2.
//
// Hashes are PHC-format encoded strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>") that
// carry their own parameters, so raising the cost in the config only affects new hashes and old
// ones keep verifying. Only argon2id is accepted: an argon2i or argon2d hash in the store is
// treated as corruption rather than silently verified with a weaker variant.
//
// Hashing is deliberately slow (tens of milliseconds and |memory_kib| KiB at the defaults) and
// must not run on a shard's event loop. All functions are thread-safe and own nothing after
// they return.
#ifndef RINGWARD_ISSUANCE_PASSWORD_H_
#define RINGWARD_ISSUANCE_PASSWORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::issuance {

// Argon2Params are the argon2id cost parameters; the defaults are OWASP's recommendation.
struct Argon2Params {
  uint32_t memory_kib = 19456;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

// Password length bounds, in bytes: an empty password is never valid, and the upper bound keeps
// one login request from hashing megabytes.
inline constexpr size_t kMinPasswordBytes = 1;
inline constexpr size_t kMaxPasswordBytes = 1024;

// ValidateArgon2Params returns InvalidArgument unless parallelism is 1..16, memory_kib is
// 8*parallelism..4194304 (4 GiB) and iterations is 1..64.
absl::Status ValidateArgon2Params(const Argon2Params& params);

// HashPassword hashes |password| (1..1024 bytes, else InvalidArgument) with a fresh 16-byte
// random salt into a 32-byte argon2id hash and returns the encoded string. Invalid |params| give
// InvalidArgument; a failed allocation of |memory_kib| gives ResourceExhausted.
absl::StatusOr<std::string> HashPassword(std::string_view password, const Argon2Params& params);

// VerifyPassword returns whether |password| matches the argon2id hash |encoded|, compared in
// constant time. It returns false on a mismatch, InvalidArgument when |password| is outside
// 1..1024 bytes or |encoded| is malformed, not argon2id v=19, or has parameters that
// ValidateArgon2Params refuses (which bounds the work a corrupted store can cause), and
// ResourceExhausted when the memory cannot be allocated.
absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_PASSWORD_H_
