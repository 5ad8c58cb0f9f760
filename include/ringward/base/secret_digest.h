// ringward/base/secret_digest.h: SecretDigest, a bearer secret kept only as its SHA-256 digest
// and compared in constant time — the admin token and the replication credential.
//
// Both sides are hashed and the digests compared with CRYPTO_memcmp, so the time a comparison
// takes depends neither on where the strings differ nor on the secret's length.
// Thread-safe: immutable after construction.
#ifndef RINGWARD_BASE_SECRET_DIGEST_H_
#define RINGWARD_BASE_SECRET_DIGEST_H_

#include <cstdint>
#include <string_view>

namespace ringward {

class SecretDigest {
 public:
  SecretDigest() = default;  // matches nothing useful: the digest of no secret at all
  explicit SecretDigest(std::string_view secret);

  bool Matches(std::string_view presented) const;

 private:
  uint8_t digest_[32] = {};
};

}  // namespace ringward

#endif  // RINGWARD_BASE_SECRET_DIGEST_H_
