// ringward/token/key.h: JSON Web Keys (RFC 7517) bound to exactly one algorithm, and key sets.
//
// A Key holds the material for one algorithm and nothing else: the token's header can only
// *select* a key (by kid), and the key then decides the algorithm (RFC 8725 §3.1). Supported:
// OKP Ed25519 (EdDSA), EC P-256 (ES256), RSA >= 2048 bits (RS256 or PS256), oct >= 32 bytes
// (HS256); public or private.
//
// Keys and KeySets are immutable after construction and safe to share between threads; Verify
// and Sign may run concurrently on one Key. A KeySet owns its Keys.
#ifndef RINGWARD_TOKEN_KEY_H_
#define RINGWARD_TOKEN_KEY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/token/algorithm.h"

namespace ringward::token {

// kMaxSignatureSize bounds every signature ringward verifies (RSA-8192 is 1024 bytes).
inline constexpr size_t kMaxSignatureSize = 1024;

class Key {
 public:
  virtual ~Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // Generate makes a fresh private key for |alg| with id |kid| (RSA: 2048 bits; HS256: 32
  // random bytes). An empty |kid| is replaced by the RFC 7638 thumbprint.
  static absl::StatusOr<std::unique_ptr<Key>> Generate(Algorithm alg, std::string kid);

  // FromJwk parses one JWK object (strict JSON; duplicate names rejected). The JWK's "alg", when
  // present, must be one ringward supports and must fit the key type; when absent it is inferred
  // only where unambiguous (OKP Ed25519 -> EdDSA, EC P-256 -> ES256, oct -> HS256); RSA keys must
  // name RS256 or PS256. "use", when present, must be "sig". Returns InvalidArgument naming the
  // member at fault.
  static absl::StatusOr<std::unique_ptr<Key>> FromJwk(std::string_view json);

  // FromHmacSecret wraps raw secret bytes (at least 32) as an HS256 key. An empty |kid| is
  // replaced by the RFC 7638 thumbprint, as in Generate.
  static absl::StatusOr<std::unique_ptr<Key>> FromHmacSecret(std::string_view secret,
                                                            std::string kid);

  const std::string& kid() const { return kid_; }
  Algorithm alg() const { return alg_; }
  bool has_private() const { return has_private_; }

  // SignatureSize is the exact length of a valid signature: 64 for EdDSA and ES256, 32 for
  // HS256, the modulus length for RSA.
  virtual size_t SignatureSize() const = 0;

  // Verify reports whether |sig| is a valid signature of |signing_input| under this key. A
  // signature of the wrong length is invalid. Runs in constant time with respect to secret data
  // (HS256 compares with CRYPTO_memcmp). No allocation for EdDSA and HS256.
  virtual bool Verify(std::string_view signing_input, const uint8_t* sig,
                      size_t sig_len) const = 0;

  // Sign writes the signature of |signing_input| to |*sig|. FailedPrecondition without private
  // material.
  virtual absl::Status Sign(std::string_view signing_input, std::string* sig) const = 0;

  // ToJwk serializes the key as one JWK object with "kty", "kid", "alg" and "use":"sig"; private
  // members only when |include_private| (and the key has them).
  virtual std::string ToJwk(bool include_private) const = 0;

  // Thumbprint returns the RFC 7638 JWK thumbprint: base64url SHA-256 of the canonical JSON of
  // the required members (for oct keys that includes "k", as RFC 7638 §3.2 defines it).
  virtual std::string Thumbprint() const = 0;

 protected:
  Key(std::string kid, Algorithm alg, bool has_private)
      : kid_(std::move(kid)), alg_(alg), has_private_(has_private) {}

 private:
  std::string kid_;
  Algorithm alg_;
  bool has_private_;
};

class KeySet {
 public:
  KeySet() = default;
  KeySet(KeySet&&) = default;
  KeySet& operator=(KeySet&&) = default;

  // FromJwks parses {"keys":[...]} (strict JSON). Every key needs a unique, non-empty "kid".
  static absl::StatusOr<KeySet> FromJwks(std::string_view json);
  // FromFile reads and parses a JWKS file; errors name the file.
  static absl::StatusOr<KeySet> FromFile(const std::string& path);

  // Add takes ownership of |key|; AlreadyExists when its kid is taken.
  absl::Status Add(std::unique_ptr<Key> key);

  // Find returns the key with id |kid|, or nullptr.
  const Key* Find(std::string_view kid) const;
  // FindOnly returns the key of algorithm |alg| when it is the only one in the set (for tokens
  // without a kid), or nullptr.
  const Key* FindOnly(Algorithm alg) const;

  std::span<const std::unique_ptr<Key>> keys() const { return keys_; }
  bool empty() const { return keys_.empty(); }

  // ToJwks serializes {"keys":[...]}; public members only unless |include_private|, in which
  // case symmetric (HS256) keys, having no public form, are left out.
  std::string ToJwks(bool include_private) const;

 private:
  std::vector<std::unique_ptr<Key>> keys_;
};

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_KEY_H_
