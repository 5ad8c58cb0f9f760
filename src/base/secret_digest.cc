#include "ringward/base/secret_digest.h"

#include "openssl/mem.h"
#include "openssl/sha.h"

namespace ringward {

SecretDigest::SecretDigest(std::string_view secret) {
  SHA256(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), digest_);
}

bool SecretDigest::Matches(std::string_view presented) const {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(presented.data()), presented.size(), digest);
  return CRYPTO_memcmp(digest, digest_, sizeof(digest)) == 0;
}

}  // namespace ringward
