// JWK/JWKS parsing and the four key types behind ringward::token::Key.
//
// Parsing is a cold path (start-up, reload, a remote JWKS fetch): the text is first validated as
// strict JSON (duplicate names rejected at any depth), then read with simdjson's DOM. Decoded key
// bytes live in fixed stack buffers that are wiped on scope exit, so private material is neither
// copied into heap strings we don't control nor left behind; error messages name members, never
// their values.
//
// Verify is the hot path: EdDSA and HS256 run on caller-provided bytes and stack state only;
// ES256 reuses a per-thread ECDSA_SIG; RSA may allocate inside BoringSSL.
#include "ringward/token/key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "openssl/bn.h"
#include "openssl/curve25519.h"
#include "openssl/digest.h"
#include "openssl/ec.h"
#include "openssl/ec_key.h"
#include "openssl/ecdsa.h"
#include "openssl/err.h"
#include "openssl/mem.h"
#include "openssl/nid.h"
#include "openssl/rand.h"
#include "openssl/rsa.h"
#include "openssl/sha.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "simdjson.h"

namespace ringward::token {
namespace {

constexpr size_t kEd25519KeySize = 32;
constexpr size_t kP256FieldSize = 32;
constexpr size_t kEcdsaP256SignatureSize = 2 * kP256FieldSize;
constexpr size_t kHs256SignatureSize = SHA256_DIGEST_LENGTH;
constexpr size_t kMinHmacSecretSize = 32;
constexpr unsigned kMinRsaBits = 2048;
// RSA-8192: the largest modulus whose signature fits kMaxSignatureSize.
constexpr size_t kMaxRsaModulusSize = kMaxSignatureSize;
constexpr unsigned kRsaGenerateBits = 2048;
constexpr int kPssSaltLength = SHA256_DIGEST_LENGTH;
// A JWKS file is a handful of keys; anything larger is a mistake or an attack.
constexpr size_t kMaxJwksFileSize = 1 << 20;

// Decoded holds one decoded base64url member on the stack and wipes it on scope exit. It is
// deliberately neither copyable nor movable, so secret bytes exist in exactly one place.
struct Decoded {
  Decoded() = default;
  Decoded(const Decoded&) = delete;
  Decoded& operator=(const Decoded&) = delete;
  ~Decoded() { OPENSSL_cleanse(bytes, sizeof(bytes)); }

  uint8_t bytes[kMaxRsaModulusSize];
  size_t len = 0;
};

// Cat and Append concatenate string pieces. (Debian's abseil is built with its own
// absl::string_view, so absl::StrCat does not take std::string_view.)
inline std::string_view Piece(std::string_view s) { return s; }
inline std::string_view Piece(const char* s) { return s; }
inline std::string_view Piece(const std::string& s) { return s; }
inline std::string_view Piece(absl::string_view s) { return {s.data(), s.size()}; }

template <typename... Pieces>
void Append(std::string* out, const Pieces&... pieces) {
  (out->append(Piece(pieces)), ...);
}

template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::string out;
  Append(&out, pieces...);
  return out;
}

struct BnClearFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
// SecretBn holds private scalars and primes; it wipes them when freed.
using SecretBn = std::unique_ptr<BIGNUM, BnClearFree>;

std::string Base64Url(const uint8_t* data, size_t len) {
  std::string out(Base64UrlEncodedSize(len), '\0');
  Base64UrlEncode(data, len, out.data());
  return out;
}

// BnToBase64Url encodes |bn| big-endian in exactly |width| bytes, or in its minimal length when
// |width| is 0 (RFC 7518 Base64urlUInt). The temporary buffer is wiped since |bn| may be secret.
std::string BnToBase64Url(const BIGNUM* bn, size_t width) {
  const size_t len = width != 0 ? width : BN_num_bytes(bn);
  Decoded buffer;
  if (len == 0 || len > sizeof(buffer.bytes) || !BN_bn2bin_padded(buffer.bytes, len, bn)) {
    return std::string();
  }
  return Base64Url(buffer.bytes, len);
}


// JwkWriter builds the compact JSON of one JWK with members in the order they are added.
class JwkWriter {
 public:
  explicit JwkWriter(std::string_view kty) {
    out_ = "{\"kty\":";
    json::AppendJsonString(&out_, kty);
  }
  // Member adds a member whose value needs no escaping (fixed names, base64url).
  void Member(std::string_view name, std::string_view value) {
    Append(&out_, ",\"", name, "\":\"", value, "\"");
  }
  std::string Finish(std::string_view kid, Algorithm alg) {
    if (!kid.empty()) {
      out_.append(",\"kid\":");
      json::AppendJsonString(&out_, kid);
    }
    Append(&out_, ",\"alg\":\"", AlgorithmName(alg), "\",\"use\":\"sig\"}");
    return std::move(out_);
  }

 private:
  std::string out_;
};

// Thumbprint hashes the canonical JSON of RFC 7638 §3.2 (required members only, sorted, no
// whitespace); the caller builds that JSON from base64url values, which need no escaping.
std::string ThumbprintOf(std::string_view canonical_json) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(canonical_json.data()), canonical_json.size(), digest);
  return Base64Url(digest, sizeof(digest));
}

absl::Status MemberError(std::string_view member, std::string_view problem) {
  return absl::InvalidArgumentError(Cat("JWK member \"", member, "\": ", problem));
}

absl::Status CheckKid(std::string_view kid) {
  if (!simdjson::validate_utf8(kid.data(), kid.size())) {
    return absl::InvalidArgumentError("kid is not valid UTF-8");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// EdDSA (Ed25519, RFC 8037).

class EdDsaKey final : public Key {
 public:
  // |seed| is the 32-byte private seed or nullptr for a public key; |public_key| must be the key
  // derived from it (the factories check).
  EdDsaKey(std::string kid, const uint8_t public_key[kEd25519KeySize], const uint8_t* seed)
      : Key(std::move(kid), Algorithm::kEdDSA, seed != nullptr) {
    std::memcpy(public_key_, public_key, kEd25519KeySize);
    if (seed != nullptr) {
      // BoringSSL's private key layout: seed || public key.
      std::memcpy(private_key_, seed, kEd25519KeySize);
      std::memcpy(private_key_ + kEd25519KeySize, public_key, kEd25519KeySize);
    }
  }
  ~EdDsaKey() override { OPENSSL_cleanse(private_key_, sizeof(private_key_)); }

  static std::string Canonical(std::string_view x) {
    return Cat("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"", x, "\"}");
  }

  size_t SignatureSize() const override { return ED25519_SIGNATURE_LEN; }

  bool Verify(std::string_view signing_input, const uint8_t* sig, size_t sig_len) const override {
    if (sig_len != ED25519_SIGNATURE_LEN) {
      return false;
    }
    // ED25519_verify rejects S >= L (RFC 8032 §5.1.7), so each signature has one spelling.
    return ED25519_verify(reinterpret_cast<const uint8_t*>(signing_input.data()),
                          signing_input.size(), sig, public_key_) == 1;
  }

  absl::Status Sign(std::string_view signing_input, std::string* sig) const override {
    if (!has_private()) {
      return absl::FailedPreconditionError("EdDSA key has no private part");
    }
    sig->resize(ED25519_SIGNATURE_LEN);
    if (ED25519_sign(reinterpret_cast<uint8_t*>(sig->data()),
                     reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(),
                     private_key_) != 1) {
      return absl::InternalError("ED25519_sign failed");
    }
    return absl::OkStatus();
  }

  std::string ToJwk(bool include_private) const override {
    JwkWriter w("OKP");
    w.Member("crv", "Ed25519");
    w.Member("x", Base64Url(public_key_, kEd25519KeySize));
    if (include_private && has_private()) {
      w.Member("d", Base64Url(private_key_, kEd25519KeySize));
    }
    return w.Finish(kid(), alg());
  }

  std::string Thumbprint() const override {
    return ThumbprintOf(Canonical(Base64Url(public_key_, kEd25519KeySize)));
  }

 private:
  uint8_t public_key_[kEd25519KeySize];
  uint8_t private_key_[ED25519_PRIVATE_KEY_LEN] = {};
};

absl::StatusOr<std::unique_ptr<Key>> MakeEdDsa(std::string kid, bool kid_defaults_to_thumbprint,
                                               const uint8_t public_key[kEd25519KeySize],
                                               const uint8_t* seed) {
  if (kid.empty() && kid_defaults_to_thumbprint) {
    kid = ThumbprintOf(EdDsaKey::Canonical(Base64Url(public_key, kEd25519KeySize)));
  }
  return std::make_unique<EdDsaKey>(std::move(kid), public_key, seed);
}

// ---------------------------------------------------------------------------------------------
// ES256 (ECDSA P-256 with SHA-256; JWS signatures are raw r||s, RFC 7518 §3.4).

// ThreadSig is one ECDSA_SIG per thread whose BIGNUMs are refilled in place, so ES256 Verify
// allocates only on a thread's first call.
struct ThreadSig {
  ThreadSig() : sig(ECDSA_SIG_new()) {}
  ~ThreadSig() { ECDSA_SIG_free(sig); }
  ThreadSig(const ThreadSig&) = delete;
  ThreadSig& operator=(const ThreadSig&) = delete;
  ECDSA_SIG* sig;
};

class Es256Key final : public Key {
 public:
  Es256Key(std::string kid, bssl::UniquePtr<EC_KEY> key, std::string x, std::string y)
      : Key(std::move(kid), Algorithm::kES256, EC_KEY_get0_private_key(key.get()) != nullptr),
        key_(std::move(key)),
        x_(std::move(x)),
        y_(std::move(y)) {}

  static std::string Canonical(std::string_view x, std::string_view y) {
    return Cat("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", x, "\",\"y\":\"", y, "\"}");
  }

  size_t SignatureSize() const override { return kEcdsaP256SignatureSize; }

  bool Verify(std::string_view signing_input, const uint8_t* sig, size_t sig_len) const override {
    // Exactly 64 bytes: this also rejects DER, whose encoding of a P-256 signature is 8 bytes
    // longer at the least (RFC 7518 §3.4 forbids it).
    if (sig_len != kEcdsaP256SignatureSize) {
      return false;
    }
    static thread_local ThreadSig scratch;
    ECDSA_SIG* ecdsa_sig = scratch.sig;
    if (ecdsa_sig == nullptr || BN_bin2bn(sig, kP256FieldSize, ecdsa_sig->r) == nullptr ||
        BN_bin2bn(sig + kP256FieldSize, kP256FieldSize, ecdsa_sig->s) == nullptr) {
      ERR_clear_error();
      return false;
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(), digest);
    // ECDSA_do_verify rejects r or s equal to zero or not below the group order.
    if (ECDSA_do_verify(digest, sizeof(digest), ecdsa_sig, key_.get()) != 1) {
      // Keep the thread's error queue clean: a stale error would confuse SSL_get_error on the
      // same shard thread.
      ERR_clear_error();
      return false;
    }
    return true;
  }

  absl::Status Sign(std::string_view signing_input, std::string* sig) const override {
    if (!has_private()) {
      return absl::FailedPreconditionError("ES256 key has no private part");
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(), digest);
    bssl::UniquePtr<ECDSA_SIG> ecdsa_sig(ECDSA_do_sign(digest, sizeof(digest), key_.get()));
    sig->resize(kEcdsaP256SignatureSize);
    auto* out = reinterpret_cast<uint8_t*>(sig->data());
    if (ecdsa_sig == nullptr || !BN_bn2bin_padded(out, kP256FieldSize, ecdsa_sig->r) ||
        !BN_bn2bin_padded(out + kP256FieldSize, kP256FieldSize, ecdsa_sig->s)) {
      ERR_clear_error();
      sig->clear();
      return absl::InternalError("ECDSA_do_sign failed");
    }
    return absl::OkStatus();
  }

  std::string ToJwk(bool include_private) const override {
    JwkWriter w("EC");
    w.Member("crv", "P-256");
    w.Member("x", x_);
    w.Member("y", y_);
    if (include_private && has_private()) {
      w.Member("d", BnToBase64Url(EC_KEY_get0_private_key(key_.get()), kP256FieldSize));
    }
    return w.Finish(kid(), alg());
  }

  std::string Thumbprint() const override { return ThumbprintOf(Canonical(x_, y_)); }

 private:
  bssl::UniquePtr<EC_KEY> key_;
  std::string x_;  // base64url of the affine coordinates, 32 bytes each
  std::string y_;
};

// MakeEs256 wraps a checked P-256 key (public point on the curve; private scalar matching it).
absl::StatusOr<std::unique_ptr<Key>> MakeEs256(std::string kid, bool kid_defaults_to_thumbprint,
                                               bssl::UniquePtr<EC_KEY> key) {
  const EC_GROUP* group = EC_KEY_get0_group(key.get());
  bssl::UniquePtr<BIGNUM> x(BN_new());
  bssl::UniquePtr<BIGNUM> y(BN_new());
  if (x == nullptr || y == nullptr ||
      !EC_POINT_get_affine_coordinates_GFp(group, EC_KEY_get0_public_key(key.get()), x.get(),
                                           y.get(), nullptr)) {
    ERR_clear_error();
    return absl::InternalError("cannot read the P-256 public point");
  }
  std::string x_b64 = BnToBase64Url(x.get(), kP256FieldSize);
  std::string y_b64 = BnToBase64Url(y.get(), kP256FieldSize);
  if (kid.empty() && kid_defaults_to_thumbprint) {
    kid = ThumbprintOf(Es256Key::Canonical(x_b64, y_b64));
  }
  return std::make_unique<Es256Key>(std::move(kid), std::move(key), std::move(x_b64),
                                    std::move(y_b64));
}

// ---------------------------------------------------------------------------------------------
// RS256 / PS256.

class RsaKey final : public Key {
 public:
  RsaKey(std::string kid, Algorithm alg, bssl::UniquePtr<RSA> rsa, std::string n, std::string e)
      : Key(std::move(kid), alg, RSA_get0_d(rsa.get()) != nullptr),
        rsa_(std::move(rsa)),
        n_(std::move(n)),
        e_(std::move(e)) {}

  static std::string Canonical(std::string_view n, std::string_view e) {
    return Cat("{\"e\":\"", e, "\",\"kty\":\"RSA\",\"n\":\"", n, "\"}");
  }

  size_t SignatureSize() const override { return RSA_size(rsa_.get()); }

  bool Verify(std::string_view signing_input, const uint8_t* sig, size_t sig_len) const override {
    if (sig_len != RSA_size(rsa_.get())) {
      return false;
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(), digest);
    int ok;
    if (alg() == Algorithm::kRS256) {
      ok = RSA_verify(NID_sha256, digest, sizeof(digest), sig, sig_len, rsa_.get());
    } else {
      ok = RSA_verify_pss_mgf1(rsa_.get(), digest, sizeof(digest), EVP_sha256(), EVP_sha256(),
                               kPssSaltLength, sig, sig_len);
    }
    if (ok != 1) {
      ERR_clear_error();
      return false;
    }
    return true;
  }

  absl::Status Sign(std::string_view signing_input, std::string* sig) const override {
    if (!has_private()) {
      return absl::FailedPreconditionError(Cat(AlgorithmName(alg()), " key has no private part"));
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(), digest);
    const size_t size = RSA_size(rsa_.get());
    sig->resize(size);
    auto* out = reinterpret_cast<uint8_t*>(sig->data());
    size_t out_len = 0;
    int ok;
    if (alg() == Algorithm::kRS256) {
      unsigned len = 0;
      ok = RSA_sign(NID_sha256, digest, sizeof(digest), out, &len, rsa_.get());
      out_len = len;
    } else {
      ok = RSA_sign_pss_mgf1(rsa_.get(), &out_len, out, size, digest, sizeof(digest), EVP_sha256(),
                             EVP_sha256(), kPssSaltLength);
    }
    if (ok != 1 || out_len != size) {
      ERR_clear_error();
      sig->clear();
      return absl::InternalError(Cat(AlgorithmName(alg()), " signing failed"));
    }
    return absl::OkStatus();
  }

  std::string ToJwk(bool include_private) const override {
    JwkWriter w("RSA");
    w.Member("n", n_);
    w.Member("e", e_);
    if (include_private && has_private()) {
      const RSA* rsa = rsa_.get();
      w.Member("d", BnToBase64Url(RSA_get0_d(rsa), 0));
      if (RSA_get0_p(rsa) != nullptr && RSA_get0_q(rsa) != nullptr &&
          RSA_get0_dmp1(rsa) != nullptr && RSA_get0_dmq1(rsa) != nullptr &&
          RSA_get0_iqmp(rsa) != nullptr) {
        w.Member("p", BnToBase64Url(RSA_get0_p(rsa), 0));
        w.Member("q", BnToBase64Url(RSA_get0_q(rsa), 0));
        w.Member("dp", BnToBase64Url(RSA_get0_dmp1(rsa), 0));
        w.Member("dq", BnToBase64Url(RSA_get0_dmq1(rsa), 0));
        w.Member("qi", BnToBase64Url(RSA_get0_iqmp(rsa), 0));
      }
    }
    return w.Finish(kid(), alg());
  }

  std::string Thumbprint() const override { return ThumbprintOf(Canonical(n_, e_)); }

 private:
  // BoringSSL's RSA is safe for concurrent sign/verify (it locks its lazily built Montgomery
  // contexts and blinding state internally).
  bssl::UniquePtr<RSA> rsa_;
  std::string n_;  // base64url, minimal big-endian
  std::string e_;
};

// CheckRsaPublic enforces the size and exponent rules shared by loaded and generated keys.
absl::Status CheckRsaPublic(const RSA* rsa) {
  const BIGNUM* n = RSA_get0_n(rsa);
  const BIGNUM* e = RSA_get0_e(rsa);
  if (n == nullptr || BN_num_bits(n) < kMinRsaBits) {
    return MemberError("n", "RSA modulus shorter than 2048 bits");
  }
  if (BN_num_bytes(n) > kMaxRsaModulusSize) {
    return MemberError("n", "RSA modulus longer than 8192 bits");
  }
  if (!BN_is_odd(n)) {
    return MemberError("n", "not an RSA modulus (even)");
  }
  // A sane public exponent is odd, at least 3 and fits in 32 bits (BoringSSL refuses more than
  // 33 bits anyway; e = 1 would make every "signature" equal to its padded digest).
  if (e == nullptr || BN_num_bits(e) > 32 || !BN_is_odd(e) || BN_cmp_word(e, 3) < 0) {
    return MemberError("e", "RSA public exponent must be odd, at least 3 and below 2^32");
  }
  return absl::OkStatus();
}

// MakeRsa wraps a checked RSA key; private keys have passed RSA_check_key and a pairwise test.
absl::StatusOr<std::unique_ptr<Key>> MakeRsa(std::string kid, bool kid_defaults_to_thumbprint,
                                             Algorithm alg, bssl::UniquePtr<RSA> rsa) {
  if (absl::Status s = CheckRsaPublic(rsa.get()); !s.ok()) {
    return s;
  }
  std::string n_b64 = BnToBase64Url(RSA_get0_n(rsa.get()), 0);
  std::string e_b64 = BnToBase64Url(RSA_get0_e(rsa.get()), 0);
  if (kid.empty() && kid_defaults_to_thumbprint) {
    kid = ThumbprintOf(RsaKey::Canonical(n_b64, e_b64));
  }
  return std::make_unique<RsaKey>(std::move(kid), alg, std::move(rsa), std::move(n_b64),
                                  std::move(e_b64));
}

// ---------------------------------------------------------------------------------------------
// HS256.

class Hs256Key final : public Key {
 public:
  // The HMAC key schedule (RFC 2104) is absorbed once here: inner_ and outer_ are SHA-256 states
  // after hashing key^ipad and key^opad. Each call copies them, which costs no allocation and
  // saves two compression-function blocks per MAC.
  Hs256Key(std::string kid, std::string_view secret)
      : Key(std::move(kid), Algorithm::kHS256, true), secret_(secret) {
    uint8_t block[SHA256_CBLOCK] = {};
    if (secret.size() > SHA256_CBLOCK) {
      SHA256(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), block);
    } else {
      std::memcpy(block, secret.data(), secret.size());
    }
    uint8_t pad[SHA256_CBLOCK];
    for (size_t i = 0; i < SHA256_CBLOCK; ++i) {
      pad[i] = block[i] ^ 0x36;
    }
    SHA256_Init(&inner_);
    SHA256_Update(&inner_, pad, sizeof(pad));
    for (size_t i = 0; i < SHA256_CBLOCK; ++i) {
      pad[i] = block[i] ^ 0x5c;
    }
    SHA256_Init(&outer_);
    SHA256_Update(&outer_, pad, sizeof(pad));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(block, sizeof(block));
  }
  ~Hs256Key() override {
    OPENSSL_cleanse(secret_.data(), secret_.size());
    OPENSSL_cleanse(&inner_, sizeof(inner_));
    OPENSSL_cleanse(&outer_, sizeof(outer_));
  }

  static std::string Canonical(std::string_view k) {
    return Cat("{\"k\":\"", k, "\",\"kty\":\"oct\"}");
  }

  size_t SignatureSize() const override { return kHs256SignatureSize; }

  bool Verify(std::string_view signing_input, const uint8_t* sig, size_t sig_len) const override {
    if (sig_len != kHs256SignatureSize) {
      return false;
    }
    uint8_t mac[kHs256SignatureSize];
    Mac(signing_input, mac);
    const bool ok = CRYPTO_memcmp(mac, sig, kHs256SignatureSize) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
  }

  absl::Status Sign(std::string_view signing_input, std::string* sig) const override {
    sig->resize(kHs256SignatureSize);
    Mac(signing_input, reinterpret_cast<uint8_t*>(sig->data()));
    return absl::OkStatus();
  }

  std::string ToJwk(bool include_private) const override {
    JwkWriter w("oct");
    if (include_private) {
      w.Member("k", Base64Url(reinterpret_cast<const uint8_t*>(secret_.data()), secret_.size()));
    }
    return w.Finish(kid(), alg());
  }

  std::string Thumbprint() const override {
    return ThumbprintOf(
        Canonical(Base64Url(reinterpret_cast<const uint8_t*>(secret_.data()), secret_.size())));
  }

 private:
  void Mac(std::string_view input, uint8_t out[kHs256SignatureSize]) const {
    SHA256_CTX ctx = inner_;
    uint8_t inner_hash[SHA256_DIGEST_LENGTH];
    SHA256_Update(&ctx, input.data(), input.size());
    SHA256_Final(inner_hash, &ctx);
    ctx = outer_;
    SHA256_Update(&ctx, inner_hash, sizeof(inner_hash));
    SHA256_Final(out, &ctx);
    // The copied states are as good as the key for forging; don't leave them on the stack.
    OPENSSL_cleanse(&ctx, sizeof(ctx));
  }

  std::string secret_;
  SHA256_CTX inner_;
  SHA256_CTX outer_;
};

absl::StatusOr<std::unique_ptr<Key>> MakeHs256(std::string kid, bool kid_defaults_to_thumbprint,
                                               const uint8_t* secret, size_t secret_len) {
  if (secret_len < kMinHmacSecretSize) {
    return MemberError("k", "HS256 secret shorter than 32 bytes");
  }
  if (kid.empty() && kid_defaults_to_thumbprint) {
    kid = ThumbprintOf(Hs256Key::Canonical(Base64Url(secret, secret_len)));
  }
  return std::make_unique<Hs256Key>(
      std::move(kid), std::string_view(reinterpret_cast<const char*>(secret), secret_len));
}

// ---------------------------------------------------------------------------------------------
// JWK reading.

// JwkReader reads typed members of one JWK object whose text has passed ValidateStrict.
class JwkReader {
 public:
  explicit JwkReader(simdjson::dom::object object) : object_(object) {}

  bool Has(std::string_view name) const {
    simdjson::dom::element element;
    return object_.at_key(name).get(element) == simdjson::SUCCESS;
  }

  // String sets |*present| and, when present, |*value|; a non-string value is an error.
  absl::Status String(std::string_view name, std::string_view* value, bool* present) const {
    simdjson::dom::element element;
    *present = object_.at_key(name).get(element) == simdjson::SUCCESS;
    if (!*present) {
      return absl::OkStatus();
    }
    if (element.get_string().get(*value) != simdjson::SUCCESS) {
      return MemberError(name, "not a string");
    }
    return absl::OkStatus();
  }

  absl::Status RequiredString(std::string_view name, std::string_view* value) const {
    bool present = false;
    if (absl::Status s = String(name, value, &present); !s.ok()) {
      return s;
    }
    if (!present) {
      return MemberError(name, "missing");
    }
    return absl::OkStatus();
  }

  // Bytes decodes a strict base64url member into |*out|. |exact| > 0 demands that length;
  // otherwise any non-empty value that fits is accepted.
  absl::Status Bytes(std::string_view name, size_t exact, Decoded* out, bool* present) const {
    std::string_view text;
    if (absl::Status s = String(name, &text, present); !s.ok() || !*present) {
      return s;
    }
    const std::optional<size_t> size = Base64UrlDecodedSize(text.size());
    if (size.has_value() && *size > sizeof(out->bytes)) {
      return MemberError(name, "too long");
    }
    if (!Base64UrlDecode(text, out->bytes, sizeof(out->bytes), &out->len)) {
      return MemberError(name, "not canonical base64url");
    }
    if (exact != 0 && out->len != exact) {
      return MemberError(name, Cat("must decode to exactly ", std::to_string(exact), " bytes"));
    }
    if (out->len == 0) {
      return MemberError(name, "empty");
    }
    return absl::OkStatus();
  }

  absl::Status RequiredBytes(std::string_view name, size_t exact, Decoded* out) const {
    bool present = false;
    if (absl::Status s = Bytes(name, exact, out, &present); !s.ok()) {
      return s;
    }
    if (!present) {
      return MemberError(name, "missing");
    }
    return absl::OkStatus();
  }

  // KeyOps checks "key_ops", when present: an array of distinct strings, each "sign" or
  // "verify" (RFC 7517 §4.3; ringward keys do nothing else).
  absl::Status KeyOps() const {
    simdjson::dom::element element;
    if (object_.at_key("key_ops").get(element) != simdjson::SUCCESS) {
      return absl::OkStatus();
    }
    simdjson::dom::array ops;
    if (element.get_array().get(ops) != simdjson::SUCCESS) {
      return MemberError("key_ops", "not an array");
    }
    bool seen_sign = false;
    bool seen_verify = false;
    for (simdjson::dom::element op_element : ops) {
      std::string_view op;
      if (op_element.get_string().get(op) != simdjson::SUCCESS) {
        return MemberError("key_ops", "not an array of strings");
      }
      bool* seen = op == "sign" ? &seen_sign : op == "verify" ? &seen_verify : nullptr;
      if (seen == nullptr) {
        return MemberError("key_ops", "only \"sign\" and \"verify\" are allowed");
      }
      if (*seen) {
        return MemberError("key_ops", "duplicate operation");
      }
      *seen = true;
    }
    return absl::OkStatus();
  }

 private:
  simdjson::dom::object object_;
};

absl::Status AlgDoesNotFit(std::string_view kty) {
  return MemberError("alg", Cat("does not fit kty \"", kty, "\""));
}

absl::StatusOr<std::unique_ptr<Key>> OkpFromJwk(const JwkReader& jwk, std::string kid,
                                                std::optional<Algorithm> alg) {
  std::string_view crv;
  if (absl::Status s = jwk.RequiredString("crv", &crv); !s.ok()) {
    return s;
  }
  if (crv != "Ed25519") {
    return MemberError("crv", "unsupported OKP curve (only Ed25519)");
  }
  if (alg.has_value() && *alg != Algorithm::kEdDSA) {
    return AlgDoesNotFit("OKP");
  }
  Decoded x;
  if (absl::Status s = jwk.RequiredBytes("x", kEd25519KeySize, &x); !s.ok()) {
    return s;
  }
  Decoded d;
  bool has_d = false;
  if (absl::Status s = jwk.Bytes("d", kEd25519KeySize, &d, &has_d); !s.ok()) {
    return s;
  }
  if (has_d) {
    uint8_t derived_public[ED25519_PUBLIC_KEY_LEN];
    uint8_t expanded[ED25519_PRIVATE_KEY_LEN];
    ED25519_keypair_from_seed(derived_public, expanded, d.bytes);
    OPENSSL_cleanse(expanded, sizeof(expanded));
    if (CRYPTO_memcmp(derived_public, x.bytes, kEd25519KeySize) != 0) {
      return MemberError("d", "private key does not match \"x\"");
    }
  }
  return MakeEdDsa(std::move(kid), false, x.bytes, has_d ? d.bytes : nullptr);
}

absl::StatusOr<std::unique_ptr<Key>> EcFromJwk(const JwkReader& jwk, std::string kid,
                                               std::optional<Algorithm> alg) {
  std::string_view crv;
  if (absl::Status s = jwk.RequiredString("crv", &crv); !s.ok()) {
    return s;
  }
  if (crv != "P-256") {
    return MemberError("crv", "unsupported EC curve (only P-256)");
  }
  if (alg.has_value() && *alg != Algorithm::kES256) {
    return AlgDoesNotFit("EC");
  }
  Decoded x;
  Decoded y;
  Decoded d;
  bool has_d = false;
  if (absl::Status s = jwk.RequiredBytes("x", kP256FieldSize, &x); !s.ok()) {
    return s;
  }
  if (absl::Status s = jwk.RequiredBytes("y", kP256FieldSize, &y); !s.ok()) {
    return s;
  }
  if (absl::Status s = jwk.Bytes("d", kP256FieldSize, &d, &has_d); !s.ok()) {
    return s;
  }
  bssl::UniquePtr<EC_KEY> key(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (key == nullptr) {
    return absl::InternalError("cannot create a P-256 key");
  }
  const EC_GROUP* group = EC_KEY_get0_group(key.get());
  bssl::UniquePtr<BIGNUM> x_bn(BN_bin2bn(x.bytes, x.len, nullptr));
  bssl::UniquePtr<BIGNUM> y_bn(BN_bin2bn(y.bytes, y.len, nullptr));
  bssl::UniquePtr<EC_POINT> point(EC_POINT_new(group));
  if (x_bn == nullptr || y_bn == nullptr || point == nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }
  // Rejects coordinates >= p and points off the curve (invalid-curve attacks).
  if (!EC_POINT_set_affine_coordinates_GFp(group, point.get(), x_bn.get(), y_bn.get(), nullptr) ||
      !EC_KEY_set_public_key(key.get(), point.get())) {
    ERR_clear_error();
    return absl::InvalidArgumentError("JWK members \"x\" and \"y\": not a point on P-256");
  }
  if (has_d) {
    SecretBn d_bn(BN_bin2bn(d.bytes, d.len, nullptr));
    if (d_bn == nullptr) {
      return absl::ResourceExhaustedError("out of memory");
    }
    if (BN_is_zero(d_bn.get()) || BN_cmp(d_bn.get(), EC_GROUP_get0_order(group)) >= 0 ||
        !EC_KEY_set_private_key(key.get(), d_bn.get())) {
      ERR_clear_error();
      return MemberError("d", "not a valid P-256 private scalar");
    }
    bssl::UniquePtr<EC_POINT> derived(EC_POINT_new(group));
    if (derived == nullptr ||
        !EC_POINT_mul(group, derived.get(), d_bn.get(), nullptr, nullptr, nullptr)) {
      ERR_clear_error();
      return absl::InternalError("cannot derive the P-256 public point");
    }
    if (EC_POINT_cmp(group, derived.get(), point.get(), nullptr) != 0) {
      ERR_clear_error();
      return MemberError("d", "private key does not match \"x\" and \"y\"");
    }
  }
  if (!EC_KEY_check_key(key.get())) {
    ERR_clear_error();
    return MemberError(has_d ? "d" : "x", "EC key fails EC_KEY_check_key");
  }
  return MakeEs256(std::move(kid), false, std::move(key));
}

// RsaSelfTest signs and verifies a fixed message: the only way to catch a "d" that does not
// belong to "n" and "e" when the CRT parameters are absent.
bool RsaSelfTest(RSA* rsa) {
  static constexpr uint8_t kDigest[SHA256_DIGEST_LENGTH] = {
      'r', 'i', 'n', 'g', 'w', 'a', 'r', 'd', ' ', 'p', 'a', 'i', 'r', 'w', 'i', 's', 'e'};
  std::string sig(RSA_size(rsa), '\0');
  unsigned sig_len = 0;
  auto* out = reinterpret_cast<uint8_t*>(sig.data());
  const bool ok = RSA_sign(NID_sha256, kDigest, sizeof(kDigest), out, &sig_len, rsa) == 1 &&
                  RSA_verify(NID_sha256, kDigest, sizeof(kDigest), out, sig_len, rsa) == 1;
  ERR_clear_error();
  return ok;
}

absl::StatusOr<std::unique_ptr<Key>> RsaFromJwk(const JwkReader& jwk, std::string kid,
                                                std::optional<Algorithm> alg) {
  if (!alg.has_value()) {
    // RS256 and PS256 keys look the same; guessing would let a token pick the padding.
    return MemberError("alg", "required for RSA keys (RS256 or PS256)");
  }
  if (*alg != Algorithm::kRS256 && *alg != Algorithm::kPS256) {
    return AlgDoesNotFit("RSA");
  }
  if (jwk.Has("oth")) {
    return MemberError("oth", "multi-prime RSA keys are not supported");
  }
  Decoded n;
  if (absl::Status s = jwk.RequiredBytes("n", 0, &n); !s.ok()) {
    return s;
  }
  if (n.bytes[0] == 0) {
    return MemberError("n", "leading zero byte (RFC 7518 §6.3.1.1 wants the minimal encoding)");
  }
  if (n.len * 8 < kMinRsaBits) {
    return MemberError("n", "RSA modulus shorter than 2048 bits");
  }
  Decoded e;
  if (absl::Status s = jwk.RequiredBytes("e", 0, &e); !s.ok()) {
    return s;
  }
  if (e.bytes[0] == 0) {
    return MemberError("e", "leading zero byte (RFC 7518 §6.3.1.2 wants the minimal encoding)");
  }
  bssl::UniquePtr<RSA> rsa(RSA_new());
  bssl::UniquePtr<BIGNUM> n_bn(BN_bin2bn(n.bytes, n.len, nullptr));
  bssl::UniquePtr<BIGNUM> e_bn(BN_bin2bn(e.bytes, e.len, nullptr));
  if (rsa == nullptr || n_bn == nullptr || e_bn == nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }

  static constexpr std::string_view kCrtNames[5] = {"p", "q", "dp", "dq", "qi"};
  const bool has_d = jwk.Has("d");
  int crt_count = 0;
  for (std::string_view name : kCrtNames) {
    crt_count += jwk.Has(name) ? 1 : 0;
  }
  if (crt_count != 0 && crt_count != 5) {
    for (std::string_view name : kCrtNames) {
      if (!jwk.Has(name)) {
        return MemberError(name, "missing (\"p\", \"q\", \"dp\", \"dq\" and \"qi\" come together)");
      }
    }
  }
  if (crt_count != 0 && !has_d) {
    return MemberError("d", "missing (the CRT parameters need it)");
  }

  SecretBn d_bn;
  if (has_d) {
    Decoded d;
    if (absl::Status s = jwk.RequiredBytes("d", 0, &d); !s.ok()) {
      return s;
    }
    d_bn.reset(BN_bin2bn(d.bytes, d.len, nullptr));
    if (d_bn == nullptr) {
      return absl::ResourceExhaustedError("out of memory");
    }
  }
  if (!RSA_set0_key(rsa.get(), n_bn.get(), e_bn.get(), d_bn.get())) {
    ERR_clear_error();
    return absl::InternalError("RSA_set0_key failed");
  }
  // |rsa| owns them now.
  (void)n_bn.release();
  (void)e_bn.release();
  (void)d_bn.release();
  if (absl::Status s = CheckRsaPublic(rsa.get()); !s.ok()) {
    return s;
  }

  if (crt_count == 5) {
    SecretBn crt[5];
    for (int i = 0; i < 5; ++i) {
      Decoded value;
      if (absl::Status s = jwk.RequiredBytes(kCrtNames[i], 0, &value); !s.ok()) {
        return s;
      }
      crt[i].reset(BN_bin2bn(value.bytes, value.len, nullptr));
      if (crt[i] == nullptr) {
        return absl::ResourceExhaustedError("out of memory");
      }
    }
    if (!RSA_set0_factors(rsa.get(), crt[0].get(), crt[1].get())) {
      ERR_clear_error();
      return absl::InternalError("RSA_set0_factors failed");
    }
    (void)crt[0].release();
    (void)crt[1].release();
    if (!RSA_set0_crt_params(rsa.get(), crt[2].get(), crt[3].get(), crt[4].get())) {
      ERR_clear_error();
      return absl::InternalError("RSA_set0_crt_params failed");
    }
    (void)crt[2].release();
    (void)crt[3].release();
    (void)crt[4].release();
  }
  if (has_d) {
    if (!RSA_check_key(rsa.get()) || !RsaSelfTest(rsa.get())) {
      ERR_clear_error();
      return MemberError("d", "RSA private key is inconsistent with \"n\" and \"e\"");
    }
  }
  return MakeRsa(std::move(kid), false, *alg, std::move(rsa));
}

absl::StatusOr<std::unique_ptr<Key>> OctFromJwk(const JwkReader& jwk, std::string kid,
                                                std::optional<Algorithm> alg) {
  if (alg.has_value() && *alg != Algorithm::kHS256) {
    return AlgDoesNotFit("oct");
  }
  Decoded k;
  if (absl::Status s = jwk.RequiredBytes("k", 0, &k); !s.ok()) {
    return s;
  }
  return MakeHs256(std::move(kid), false, k.bytes, k.len);
}

absl::StatusOr<std::unique_ptr<Key>> KeyFromObject(simdjson::dom::object object) {
  const JwkReader jwk(object);
  std::string_view kty;
  if (absl::Status s = jwk.RequiredString("kty", &kty); !s.ok()) {
    return s;
  }
  std::string_view kid;
  bool has_kid = false;
  if (absl::Status s = jwk.String("kid", &kid, &has_kid); !s.ok()) {
    return s;
  }
  std::string_view alg_name;
  bool has_alg = false;
  if (absl::Status s = jwk.String("alg", &alg_name, &has_alg); !s.ok()) {
    return s;
  }
  std::optional<Algorithm> alg;
  if (has_alg) {
    alg = ParseAlgorithm(alg_name);
    if (!alg.has_value()) {
      return MemberError("alg",
                         "not an algorithm ringward accepts (EdDSA, ES256, RS256, "
                         "PS256, HS256)");
    }
  }
  std::string_view use;
  bool has_use = false;
  if (absl::Status s = jwk.String("use", &use, &has_use); !s.ok()) {
    return s;
  }
  if (has_use && use != "sig") {
    return MemberError("use", "must be \"sig\"");
  }
  if (absl::Status s = jwk.KeyOps(); !s.ok()) {
    return s;
  }
  std::string kid_string(kid);
  if (kty == "OKP") {
    return OkpFromJwk(jwk, std::move(kid_string), alg);
  }
  if (kty == "EC") {
    return EcFromJwk(jwk, std::move(kid_string), alg);
  }
  if (kty == "RSA") {
    return RsaFromJwk(jwk, std::move(kid_string), alg);
  }
  if (kty == "oct") {
    return OctFromJwk(jwk, std::move(kid_string), alg);
  }
  return MemberError("kty", "unsupported key type (OKP, EC, RSA or oct)");
}

// ParseStrict validates |json| strictly and then parses it into |dom|'s document.
absl::Status ParseStrict(std::string_view json, simdjson::dom::parser& dom,
                         simdjson::dom::element* root) {
  {
    simdjson::ondemand::parser strict;
    if (absl::Status s = json::ValidateStrict(strict, json); !s.ok()) {
      return s;
    }
  }
  if (dom.parse(json.data(), json.size()).get(*root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("malformed JSON");
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Key factories.

absl::StatusOr<std::unique_ptr<Key>> Key::Generate(Algorithm alg, std::string kid) {
  if (absl::Status s = CheckKid(kid); !s.ok()) {
    return s;
  }
  switch (alg) {
    case Algorithm::kEdDSA: {
      uint8_t public_key[ED25519_PUBLIC_KEY_LEN];
      uint8_t private_key[ED25519_PRIVATE_KEY_LEN];
      ED25519_keypair(public_key, private_key);
      auto key = MakeEdDsa(std::move(kid), true, public_key, private_key);
      OPENSSL_cleanse(private_key, sizeof(private_key));
      return key;
    }
    case Algorithm::kES256: {
      bssl::UniquePtr<EC_KEY> key(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
      if (key == nullptr || !EC_KEY_generate_key(key.get())) {
        ERR_clear_error();
        return absl::InternalError("P-256 key generation failed");
      }
      return MakeEs256(std::move(kid), true, std::move(key));
    }
    case Algorithm::kRS256:
    case Algorithm::kPS256: {
      bssl::UniquePtr<RSA> rsa(RSA_new());
      bssl::UniquePtr<BIGNUM> e(BN_new());
      if (rsa == nullptr || e == nullptr || !BN_set_word(e.get(), RSA_F4) ||
          !RSA_generate_key_ex(rsa.get(), kRsaGenerateBits, e.get(), nullptr)) {
        ERR_clear_error();
        return absl::InternalError("RSA key generation failed");
      }
      return MakeRsa(std::move(kid), true, alg, std::move(rsa));
    }
    case Algorithm::kHS256: {
      uint8_t secret[kMinHmacSecretSize];
      if (!RAND_bytes(secret, sizeof(secret))) {
        ERR_clear_error();
        return absl::InternalError("RAND_bytes failed");
      }
      auto key = MakeHs256(std::move(kid), true, secret, sizeof(secret));
      OPENSSL_cleanse(secret, sizeof(secret));
      return key;
    }
  }
  return absl::InvalidArgumentError("unknown algorithm");
}

absl::StatusOr<std::unique_ptr<Key>> Key::FromJwk(std::string_view json) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  if (absl::Status s = ParseStrict(json, dom, &root); !s.ok()) {
    return absl::InvalidArgumentError(Cat("JWK: ", s.message()));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWK: not a JSON object");
  }
  return KeyFromObject(object);
}

absl::StatusOr<std::unique_ptr<Key>> Key::FromHmacSecret(std::string_view secret, std::string kid) {
  if (absl::Status s = CheckKid(kid); !s.ok()) {
    return s;
  }
  if (secret.size() < kMinHmacSecretSize) {
    return absl::InvalidArgumentError("HS256 secret shorter than 32 bytes");
  }
  return MakeHs256(std::move(kid), true, reinterpret_cast<const uint8_t*>(secret.data()),
                   secret.size());
}

// ---------------------------------------------------------------------------------------------
// KeySet.

absl::StatusOr<KeySet> KeySet::FromJwks(std::string_view json) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  if (absl::Status s = ParseStrict(json, dom, &root); !s.ok()) {
    return absl::InvalidArgumentError(Cat("JWKS: ", s.message()));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWKS: not a JSON object");
  }
  simdjson::dom::element keys_element;
  if (object.at_key("keys").get(keys_element) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWKS: member \"keys\" missing");
  }
  simdjson::dom::array keys;
  if (keys_element.get_array().get(keys) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWKS: member \"keys\" is not an array");
  }
  if (keys.size() == 0) {
    return absl::InvalidArgumentError("JWKS: member \"keys\" is empty");
  }
  KeySet set;
  size_t index = 0;
  for (simdjson::dom::element element : keys) {
    const std::string where = Cat("JWKS keys[", std::to_string(index), "]: ");
    simdjson::dom::object key_object;
    if (element.get_object().get(key_object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(Cat(where, "not a JSON object"));
    }
    absl::StatusOr<std::unique_ptr<Key>> key = KeyFromObject(key_object);
    if (!key.ok()) {
      return absl::Status(key.status().code(), Cat(where, key.status().message()));
    }
    if ((*key)->kid().empty()) {
      return absl::InvalidArgumentError(Cat(where, "JWK member \"kid\": missing or empty"));
    }
    if (set.Find((*key)->kid()) != nullptr) {
      return absl::InvalidArgumentError(Cat(where, "JWK member \"kid\": duplicate kid \"",
                                            absl::CHexEscape((*key)->kid()), "\""));
    }
    set.keys_.push_back(*std::move(key));
    ++index;
  }
  return set;
}

absl::StatusOr<KeySet> KeySet::FromFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string message = Cat(path, ": cannot open: ", std::strerror(err));
    if (err == ENOENT) {
      return absl::NotFoundError(message);
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(message);
    }
    return absl::UnavailableError(message);
  }
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      close(fd);
      return absl::UnavailableError(Cat(path, ": read failed: ", std::strerror(err)));
    }
    if (n == 0) {
      break;
    }
    if (text.size() + static_cast<size_t>(n) > kMaxJwksFileSize) {
      close(fd);
      return absl::InvalidArgumentError(
          Cat(path, ": larger than ", std::to_string(kMaxJwksFileSize), " bytes"));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  absl::StatusOr<KeySet> set = FromJwks(text);
  // The file may hold private keys: wipe our copy of its text.
  OPENSSL_cleanse(text.data(), text.size());
  if (!set.ok()) {
    return absl::Status(set.status().code(), Cat(path, ": ", set.status().message()));
  }
  return set;
}

absl::Status KeySet::Add(std::unique_ptr<Key> key) {
  if (key == nullptr) {
    return absl::InvalidArgumentError("null key");
  }
  if (key->kid().empty()) {
    return absl::InvalidArgumentError("a key in a set needs a kid");
  }
  if (Find(key->kid()) != nullptr) {
    return absl::AlreadyExistsError(
        Cat("kid \"", absl::CHexEscape(key->kid()), "\" is already in the set"));
  }
  keys_.push_back(std::move(key));
  return absl::OkStatus();
}

const Key* KeySet::Find(std::string_view kid) const {
  for (const std::unique_ptr<Key>& key : keys_) {
    if (key->kid() == kid) {
      return key.get();
    }
  }
  return nullptr;
}

const Key* KeySet::FindOnly(Algorithm alg) const {
  const Key* found = nullptr;
  for (const std::unique_ptr<Key>& key : keys_) {
    if (key->alg() == alg) {
      if (found != nullptr) {
        return nullptr;
      }
      found = key.get();
    }
  }
  return found;
}

std::string KeySet::ToJwks(bool include_private) const {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (const std::unique_ptr<Key>& key : keys_) {
    // A symmetric key has no public form: publishing it without "k" would give verifiers an
    // unusable entry, and with "k" would publish the secret.
    if (!include_private && key->alg() == Algorithm::kHS256) {
      continue;
    }
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out.append(key->ToJwk(include_private));
  }
  out.append("]}");
  return out;
}

}  // namespace ringward::token
