// Hostile tokens against the full Verifier: each one is refused, and for the right reason.
//
// Wherever the attack allows it, the hostile token carries a signature that really verifies
// under a trusted key (the table's |signed_by| column, checked by the test itself), so the
// expected reason proves that the rule it names refused the token and not the signature check.
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "openssl/bn.h"
#include "openssl/bytestring.h"
#include "openssl/ecdsa.h"
#include "openssl/evp.h"
#include "openssl/mem.h"
#include "openssl/rsa.h"
#include "ringward/base/base64url.h"
#include "ringward/base/strings.h"
#include "ringward/token/key.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"
#include "ringward/token/verify_reason.h"
#include "testing/token_factory.h"

namespace ringward::token {
namespace {

using test::B64;
using test::JsonObject;
using test::Quote;
using test::SignJson;
using test::SignSegments;

constexpr int64_t kNow = 1700000000;
constexpr int64_t kLeeway = 30;
constexpr char kIssuer[] = "https://issuer.example";
constexpr char kAudience[] = "api";
constexpr char kHmacSecret[] = "ringward-hostile-test-hmac-secret-0123456789";
constexpr char kOtherHmacSecret[] = "ringward-hostile-test-other-secret-9876543210";

// ---------------------------------------------------------------------------------------------
// The environment: keys, the trusted set, and verifiers, built once.

enum class Policy { kMain, kProfile, kLargeCap };

struct Env {
  // Signing (private) keys. The trusted set holds public copies of the asymmetric ones.
  std::unique_ptr<Key> ed1, ed2, kid_named_kid, es1, rs1, ps1, hs1;
  // Keys the verifier does not trust, some reusing a trusted kid.
  std::unique_ptr<Key> ed1_impostor, es1_impostor, rs1_impostor, hs1_impostor, attacker;
  std::shared_ptr<KeySet> trusted;
  std::unique_ptr<Verifier> main;     // issuer + audience, leeway 30, 8 KiB cap
  std::unique_ptr<Verifier> profile;  // the same plus the RFC 9068 access-token profile
  std::unique_ptr<Verifier> large;    // the main policy with a 64 KiB cap
  std::string error;

  const Verifier& Get(Policy p) const {
    switch (p) {
      case Policy::kProfile:
        return *profile;
      case Policy::kLargeCap:
        return *large;
      case Policy::kMain:
        break;
    }
    return *main;
  }

  static const Env& Instance() {
    static const Env* env = Build();
    return *env;
  }

 private:
  static Env* Build();
};

std::unique_ptr<Key> Take(absl::StatusOr<std::unique_ptr<Key>> key, std::string_view what,
                          std::string* error) {
  if (!key.ok()) {
    absl::StrAppend(error, ToAbsl(what), ": ", key.status().ToString(), "\n");
    return nullptr;
  }
  return *std::move(key);
}

Env* Env::Build() {
  auto* env = new Env;
  std::string* e = &env->error;
  env->ed1 = Take(Key::Generate(Algorithm::kEdDSA, "ed1"), "ed1", e);
  env->ed2 = Take(Key::Generate(Algorithm::kEdDSA, "ed2"), "ed2", e);
  env->kid_named_kid = Take(Key::Generate(Algorithm::kEdDSA, "kid"), "kid", e);
  env->es1 = Take(Key::Generate(Algorithm::kES256, "es1"), "es1", e);
  env->rs1 = Take(Key::Generate(Algorithm::kRS256, "rs1"), "rs1", e);
  env->ps1 = Take(Key::Generate(Algorithm::kPS256, "ps1"), "ps1", e);
  env->hs1 = Take(Key::FromHmacSecret(kHmacSecret, "hs1"), "hs1", e);
  env->ed1_impostor = Take(Key::Generate(Algorithm::kEdDSA, "ed1"), "ed1 impostor", e);
  env->es1_impostor = Take(Key::Generate(Algorithm::kES256, "es1"), "es1 impostor", e);
  env->rs1_impostor = Take(Key::Generate(Algorithm::kRS256, "rs1"), "rs1 impostor", e);
  env->hs1_impostor = Take(Key::FromHmacSecret(kOtherHmacSecret, "hs1"), "hs1 impostor", e);
  env->attacker = Take(Key::Generate(Algorithm::kEdDSA, "attacker"), "attacker", e);
  if (!e->empty()) {
    return env;
  }
  env->trusted = std::make_shared<KeySet>();
  for (const Key* k : {env->ed1.get(), env->ed2.get(), env->kid_named_kid.get(), env->es1.get(),
                       env->rs1.get(), env->ps1.get()}) {
    std::unique_ptr<Key> pub = Take(Key::FromJwk(k->ToJwk(false)), k->kid() + " public", e);
    if (pub == nullptr) {
      return env;
    }
    if (pub->has_private()) {
      absl::StrAppend(e, k->kid(), ": public JWK copy has private material\n");
    }
    if (absl::Status s = env->trusted->Add(std::move(pub)); !s.ok()) {
      absl::StrAppend(e, s.ToString(), "\n");
    }
  }
  if (absl::Status s = env->trusted->Add(Take(Key::FromHmacSecret(kHmacSecret, "hs1"), "hs1", e));
      !s.ok()) {
    absl::StrAppend(e, s.ToString(), "\n");
  }
  VerifyPolicy policy;
  policy.issuers = {kIssuer};
  policy.audiences = {kAudience};
  policy.leeway_seconds = kLeeway;
  auto make = [&](const VerifyPolicy& p, std::unique_ptr<Verifier>* out) {
    absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Create(env->trusted, p);
    if (!v.ok()) {
      absl::StrAppend(e, "Verifier::Create: ", v.status().ToString(), "\n");
      return;
    }
    *out = *std::move(v);
  };
  make(policy, &env->main);
  VerifyPolicy profile = policy;
  profile.access_token_profile = true;
  make(profile, &env->profile);
  VerifyPolicy large = policy;
  large.max_token_size = kLargestMaxTokenSize;
  make(large, &env->large);
  return env;
}

// ---------------------------------------------------------------------------------------------
// Token builders.

JsonObject Claims() {
  JsonObject c;
  c.SetString("iss", kIssuer)
      .SetString("sub", "user-1")
      .SetString("aud", kAudience)
      .SetInt("exp", kNow + 600)
      .SetInt("nbf", kNow - 60)
      .SetInt("iat", kNow - 60)
      .SetString("jti", "jti-1")
      .SetString("client_id", "client-1")
      .SetString("scope", "read write");
  return c;
}

JsonObject Header(const Key& key) {
  JsonObject h;
  h.SetString("alg", AlgorithmName(key.alg()))
      .SetString("typ", "at+jwt")
      .SetString("kid", key.kid());
  return h;
}

std::string Sign(const Key& key, const JsonObject& header, const JsonObject& claims) {
  return SignJson(key, header.Str(), claims.Str());
}

// Good is a token the main and profile verifiers accept.
std::string Good(const Key& key) { return Sign(key, Header(key), Claims()); }

// WithClaim signs a token from |key| whose claims have |name| set to the raw JSON |raw|.
std::string WithClaim(const Key& key, std::string_view name, std::string_view raw) {
  return Sign(key, Header(key), Claims().Set(name, raw));
}

std::string WithoutClaim(const Key& key, std::string_view name) {
  return Sign(key, Header(key), Claims().Remove(name));
}

// WithHeaderMember signs an ed1 token whose header has |name| set to the raw JSON |raw|.
std::string WithHeaderMember(const Env& env, std::string_view name, std::string_view raw) {
  return Sign(*env.ed1, Header(*env.ed1).Set(name, raw), Claims());
}

std::string WithKid(const Env& env, std::string_view kid) {
  return Sign(*env.ed1, Header(*env.ed1).SetString("kid", kid), Claims());
}

std::string WithAlg(const Key& key, std::string_view alg) {
  return Sign(key, Header(key).SetString("alg", alg), Claims());
}

// AlgNoneEmptySignature is the classic unsecured JWT: "alg":"none" and no signature at all.
std::string AlgNoneEmptySignature(const Env& env, std::string_view spelling) {
  const JsonObject h = Header(*env.ed1).SetString("alg", spelling);
  return absl::StrCat(B64(h.Str()), ".", B64(Claims().Str()), ".");
}

std::string ReplaceSignature(const std::string& token, std::string_view sig) {
  return test::WithSignature(token, sig);
}

std::string Sig(const std::string& token) { return test::SignatureBytes(token); }

// Secret-as-public-key attack: an HS256 token MACed with |secret| (public key bytes the
// attacker can read), naming the kid of the asymmetric key those bytes come from.
std::string HmacWithPublicBytes(std::string_view secret, const std::string& kid) {
  std::string error;
  std::unique_ptr<Key> mac = Take(Key::FromHmacSecret(secret, kid), "hmac key", &error);
  if (mac == nullptr) {
    ADD_FAILURE() << error;
    return "";
  }
  JsonObject h;
  h.SetString("alg", "HS256").SetString("typ", "at+jwt").SetString("kid", kid);
  return Sign(*mac, h, Claims());
}

// JwkMember extracts a base64url member ("n", "x", ...) from one of our own compact JWKs.
std::string JwkMember(const std::string& jwk, std::string_view name) {
  const std::string needle = absl::StrCat("\"", ToAbsl(name), "\":\"");
  const size_t start = jwk.find(needle);
  if (start == std::string::npos) {
    ADD_FAILURE() << "no member " << name << " in " << jwk;
    return "";
  }
  const size_t from = start + needle.size();
  return Base64UrlDecode(jwk.substr(from, jwk.find('"', from) - from)).value_or("");
}

// Pem renders |pkey| as a PEM SubjectPublicKeyInfo, as a JWKS tool or `openssl pkey` would.
std::string Pem(EVP_PKEY* pkey) {
  CBB cbb;
  uint8_t* der = nullptr;
  size_t der_len = 0;
  if (!CBB_init(&cbb, 0) || !EVP_marshal_public_key(&cbb, pkey) ||
      !CBB_finish(&cbb, &der, &der_len)) {
    CBB_cleanup(&cbb);
    ADD_FAILURE() << "EVP_marshal_public_key failed";
    return "";
  }
  const std::string b64 =
      absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_free(der);
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&pem, b64.substr(i, 64), "\n");
  }
  pem += "-----END PUBLIC KEY-----\n";
  return pem;
}

std::string RsaPem(const Key& key) {
  const std::string jwk = key.ToJwk(false);
  const std::string n = JwkMember(jwk, "n");
  const std::string e = JwkMember(jwk, "e");
  bssl::UniquePtr<RSA> rsa(RSA_new());
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const uint8_t*>(n.data()), n.size(), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const uint8_t*>(e.data()), e.size(), nullptr);
  if (!RSA_set0_key(rsa.get(), bn_n, bn_e, nullptr)) {
    ADD_FAILURE() << "RSA_set0_key failed";
    return "";
  }
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  EVP_PKEY_set1_RSA(pkey.get(), rsa.get());
  return Pem(pkey.get());
}

std::string Ed25519Pem(const Key& key) {
  const std::string x = JwkMember(key.ToJwk(false), "x");
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const uint8_t*>(x.data()), x.size()));
  if (pkey == nullptr) {
    ADD_FAILURE() << "EVP_PKEY_new_raw_public_key failed";
    return "";
  }
  return Pem(pkey.get());
}

// Es256Der re-encodes a raw r||s signature as the DER ECDSA-Sig-Value that generic crypto APIs
// emit and RFC 7518 §3.4 forbids.
std::string Es256Der(const std::string& raw) {
  bssl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const uint8_t*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const uint8_t*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig.get(), r, s);
  uint8_t* der = nullptr;
  size_t len = 0;
  if (!ECDSA_SIG_to_bytes(&der, &len, sig.get())) {
    ADD_FAILURE() << "ECDSA_SIG_to_bytes failed";
    return "";
  }
  std::string out(reinterpret_cast<const char*>(der), len);
  OPENSSL_free(der);
  return out;
}

// The order n of P-256, big-endian.
std::string P256Order() {
  static constexpr uint8_t kN[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                     0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
  return std::string(reinterpret_cast<const char*>(kN), sizeof(kN));
}

// Ed25519WithSPlusL adds the group order L to the scalar S (little-endian, bytes 32..63) of a
// valid signature: the same signature in a second spelling, which RFC 8032 §5.1.7 rejects.
std::string Ed25519WithSPlusL(std::string sig) {
  static constexpr uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                     0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    const unsigned v = static_cast<uint8_t>(sig[32 + i]) + kL[i] + carry;
    sig[32 + i] = static_cast<char>(v & 0xff);
    carry = v >> 8;
  }
  // S < L < 2^253, so S + L < 2^254 still fits 32 bytes: no carry out.
  EXPECT_EQ(carry, 0u);
  return sig;
}

// Segment surgery on a token whose segments are then re-signed as they stand.
std::string ResignedWithHeaderSegment(const Key& key, const std::string& header_b64) {
  return SignSegments(key, header_b64, B64(Claims().Str()));
}
std::string ResignedWithPayloadSegment(const Key& key, const std::string& payload_b64) {
  return SignSegments(key, B64(Header(key).Str()), payload_b64);
}

// Encoded returns B64 of |json| after padding it with JSON whitespace until the encoding has
// length % 4 == 0 (a whole number of groups), ready for a character to be appended.
std::string EncodedWholeGroups(std::string json) {
  while (json.size() % 3 != 0) {
    json.push_back(' ');
  }
  return B64(json);
}

std::string Nested(int depth) {
  return absl::StrCat(std::string(depth, '['), "1", std::string(depth, ']'));
}

// ---------------------------------------------------------------------------------------------
// The table.

struct HostileCase {
  const char* name;
  VerifyReason want;
  std::string (*make)(const Env&);
  // When set, the token's signature must verify under this trusted kid: the refusal is the
  // named rule's doing, not the signature check's.
  const char* signed_by = nullptr;
  Policy policy = Policy::kMain;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

using R = VerifyReason;

const std::vector<HostileCase>& Cases() {
  static const std::vector<HostileCase> kCases = {
      // --- alg: "none" in every spelling, with and without a signature.
      {"AlgNoneEmptySignature", R::kMalformed,
       [](const Env& e) { return AlgNoneEmptySignature(e, "none"); }},
      {"AlgNoneCapitalizedEmptySignature", R::kMalformed,
       [](const Env& e) { return AlgNoneEmptySignature(e, "None"); }},
      {"AlgNoneUpperEmptySignature", R::kMalformed,
       [](const Env& e) { return AlgNoneEmptySignature(e, "NONE"); }},
      {"AlgNoneMixedEmptySignature", R::kMalformed,
       [](const Env& e) { return AlgNoneEmptySignature(e, "nOnE"); }},
      {"AlgNoneWithSignature", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "none"); }, "ed1"},
      {"AlgNoneCapitalizedWithSignature", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "None"); }, "ed1"},
      {"AlgNoneUpperWithSignature", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "NONE"); }, "ed1"},
      {"AlgNoneMixedWithSignature", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "nOnE"); }, "ed1"},
      {"AlgNoneWithoutKid", R::kUnsupportedAlgorithm,
       [](const Env& e) {
         return SignJson(*e.es1, "{\"alg\":\"none\"}", Claims().Str());
       }},
      // --- alg missing, not a string, or not one ringward knows.
      {"AlgMissing", R::kUnsupportedAlgorithm,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1).Remove("alg"), Claims()); }, "ed1"},
      {"AlgNull", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithHeaderMember(e, "alg", "null"); }, "ed1"},
      {"AlgNumber", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithHeaderMember(e, "alg", "0"); }, "ed1"},
      {"AlgArray", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithHeaderMember(e, "alg", "[\"EdDSA\"]"); }, "ed1"},
      {"AlgObject", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithHeaderMember(e, "alg", "{\"name\":\"EdDSA\"}"); }, "ed1"},
      {"AlgHS512", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.hs1, "HS512"); }, "hs1"},
      {"AlgRS384", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.rs1, "RS384"); }, "rs1"},
      {"AlgES256K", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.es1, "ES256K"); }, "es1"},
      {"AlgEd25519FullySpecifiedName", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "Ed25519"); }, "ed1"},
      {"AlgLowercase", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "eddsa"); }, "ed1"},
      {"AlgTrailingSpace", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, "EdDSA "); }, "ed1"},
      {"AlgTrailingNul", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, std::string("EdDSA\0", 6)); }, "ed1"},
      {"AlgEmpty", R::kUnsupportedAlgorithm,
       [](const Env& e) { return WithAlg(*e.ed1, ""); }, "ed1"},
      // --- algorithm confusion: the key decides, the header can only agree.
      {"Hs256KeyedWithRsaPublicJwk", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(e.rs1->ToJwk(false), "rs1"); }},
      {"Hs256KeyedWithRsaPublicPem", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(RsaPem(*e.rs1), "rs1"); }},
      {"Hs256KeyedWithPs256PublicPem", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(RsaPem(*e.ps1), "ps1"); }},
      {"Hs256KeyedWithEd25519PublicJwk", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(e.ed1->ToJwk(false), "ed1"); }},
      {"Hs256KeyedWithEd25519PublicPem", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(Ed25519Pem(*e.ed1), "ed1"); }},
      {"Hs256KeyedWithEd25519RawPublicKey", R::kAlgMismatch,
       [](const Env& e) {
         return HmacWithPublicBytes(JwkMember(e.ed1->ToJwk(false), "x"), "ed1");
       }},
      {"Hs256KeyedWithEcPublicJwk", R::kAlgMismatch,
       [](const Env& e) { return HmacWithPublicBytes(e.es1->ToJwk(false), "es1"); }},
      {"Es256HeaderOnEdDsaKid", R::kAlgMismatch,
       [](const Env& e) {
         return Sign(*e.es1, Header(*e.es1).SetString("kid", "ed1"), Claims());
       }},
      {"Ps256HeaderOnRs256Kid", R::kAlgMismatch,
       [](const Env& e) {
         return Sign(*e.ps1, Header(*e.ps1).SetString("kid", "rs1"), Claims());
       }},
      {"Rs256HeaderOnPs256Kid", R::kAlgMismatch,
       [](const Env& e) {
         return Sign(*e.rs1, Header(*e.rs1).SetString("kid", "ps1"), Claims());
       }},
      {"EdDsaHeaderOnHs256Kid", R::kAlgMismatch,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1).SetString("kid", "hs1"), Claims());
       }},
      // --- kid: never a path, a query or a C string; only an exact match selects a key.
      {"KidPathTraversal", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, "../../etc/passwd"); }, "ed1"},
      {"KidDevNull", R::kUnknownKid, [](const Env& e) { return WithKid(e, "/dev/null"); }, "ed1"},
      {"KidEmbeddedNul", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, std::string("kid\0x", 5)); }, "ed1"},
      {"KidNulSuffixOfTrustedKid", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, std::string("ed1\0", 4)); }, "ed1"},
      {"KidSqlInjection", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, "' OR 1=1 --"); }, "ed1"},
      {"KidOtherCase", R::kUnknownKid, [](const Env& e) { return WithKid(e, "ED1"); }, "ed1"},
      {"KidLeadingSpace", R::kUnknownKid, [](const Env& e) { return WithKid(e, " ed1"); },
       "ed1"},
      {"KidEmpty", R::kUnknownKid, [](const Env& e) { return WithKid(e, ""); }, "ed1"},
      {"Kid5KiB", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, std::string(5 * 1024, 'k')); }, "ed1"},
      {"Kid10KiB", R::kTooLarge,
       [](const Env& e) { return WithKid(e, std::string(10 * 1024, 'k')); }, "ed1"},
      {"Kid10KiBUnderLargeCap", R::kUnknownKid,
       [](const Env& e) { return WithKid(e, std::string(10 * 1024, 'k')); }, "ed1",
       Policy::kLargeCap},
      // A kid that is not a string is a header ringward cannot trust (jws.cc refuses it with
      // the forbidden members rather than as an unknown kid).
      {"KidNumber", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "kid", "1"); }, "ed1"},
      {"KidArray", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "kid", "[\"ed1\"]"); }, "ed1"},
      {"KidNull", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "kid", "null"); }, "ed1"},
      {"NoKidWithTwoKeysOfTheAlg", R::kUnknownKid,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1).Remove("kid"), Claims()); }, "ed1"},
      // --- header members that would change what is trusted or signed: never honoured.
      {"CritExp", R::kUnsupportedHeader,
       [](const Env& e) {
         return Sign(*e.ed1,
                     Header(*e.ed1).Set("crit", "[\"exp\"]").SetInt("exp", kNow + 600),
                     Claims());
       },
       "ed1"},
      {"CritEmpty", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "crit", "[]"); }, "ed1"},
      {"CritB64", R::kUnsupportedHeader,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1).Set("b64", "false").Set("crit", "[\"b64\"]"),
                     Claims());
       },
       "ed1"},
      {"B64False", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "b64", "false"); }, "ed1"},
      {"B64True", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "b64", "true"); }, "ed1"},
      {"ZipDeflate", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "zip", "\"DEF\""); }, "ed1"},
      {"Jku", R::kUnsupportedHeader,
       [](const Env& e) {
         return WithHeaderMember(e, "jku", "\"https://attacker.example/jwks.json\"");
       },
       "ed1"},
      {"JkuSpelledWithEscape", R::kUnsupportedHeader,
       [](const Env& e) {
         return Sign(*e.ed1,
                     Header(*e.ed1).AddRawName("\"j\\u006bu\"", "\"https://attacker.example\""),
                     Claims());
       },
       "ed1"},
      // The attacker's own key, embedded in the header, really signed the token.
      {"JwkEmbeddedAttackerKey", R::kUnsupportedHeader,
       [](const Env& e) {
         return Sign(*e.attacker, Header(*e.attacker).Set("jwk", e.attacker->ToJwk(false)),
                     Claims());
       }},
      {"JwkEmbeddedAttackerKeyWithTrustedKid", R::kUnsupportedHeader,
       [](const Env& e) {
         return Sign(*e.attacker,
                     Header(*e.attacker).SetString("kid", "ed1").Set("jwk", e.attacker->ToJwk(false)),
                     Claims());
       }},
      {"X5u", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "x5u", "\"https://attacker.example/c.pem\""); },
       "ed1"},
      {"X5c", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "x5c", "[\"MIIBszCCAVmgAwIBAgIUZXhhbXBsZQ==\"]"); },
       "ed1"},
      {"Enc", R::kUnsupportedHeader,
       [](const Env& e) { return WithHeaderMember(e, "enc", "\"A256GCM\""); }, "ed1"},
      // --- duplicate member names, in the header and at every depth of the claims.
      {"HeaderDuplicateAlg", R::kDuplicateMember,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1).Add("alg", "\"EdDSA\""), Claims()); },
       "ed1"},
      {"HeaderDuplicateAlgNoneFirst", R::kDuplicateMember,
       [](const Env& e) {
         JsonObject h;
         h.SetString("alg", "none").SetString("kid", "ed1").Add("alg", "\"EdDSA\"");
         return Sign(*e.ed1, h, Claims());
       },
       "ed1"},
      {"HeaderDuplicateKid", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1).SetString("kid", "ed2").Add("kid", "\"ed1\""),
                     Claims());
       },
       "ed1"},
      {"HeaderDuplicateKidViaEscape", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1).AddRawName("\"k\\u0069d\"", "\"ed2\""), Claims());
       },
       "ed1"},
      {"ClaimsDuplicateExp", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1), Claims().Add("exp", std::to_string(kNow + 99999)));
       },
       "ed1"},
      {"ClaimsDuplicateSub", R::kDuplicateMember,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1), Claims().Add("sub", "\"admin\"")); },
       "ed1"},
      {"ClaimsDuplicateSubViaEscape", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1), Claims().AddRawName("\"s\\u0075b\"", "\"admin\""));
       },
       "ed1"},
      {"ClaimsDuplicateIss", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1),
                     Claims().SetString("iss", "https://evil.example").Add("iss", Quote(kIssuer)));
       },
       "ed1"},
      {"ClaimsDuplicateExpViaEscape", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1),
                     Claims().AddRawName("\"\\u0065xp\"", std::to_string(kNow + 99999)));
       },
       "ed1"},
      {"ClaimsDuplicateUnknownViaEscape", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1),
                     Claims().SetString("role", "user").AddRawName("\"r\\u006fle\"", "\"admin\""));
       },
       "ed1"},
      {"ClaimsDuplicateUnknownEscapedFirst", R::kDuplicateMember,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1),
                     Claims().AddRawName("\"r\\u006fle\"", "\"admin\"").SetString("role", "user"));
       },
       "ed1"},
      {"ClaimsDuplicateInNestedObject", R::kDuplicateMember,
       [](const Env& e) {
         return WithClaim(*e.ed1, "ext", "{\"role\":\"user\",\"role\":\"admin\"}");
       },
       "ed1"},
      {"ClaimsDuplicateInObjectInArray", R::kDuplicateMember,
       [](const Env& e) { return WithClaim(*e.ed1, "ext", "[{\"a\":1},{\"b\":1,\"b\":2}]"); },
       "ed1"},
      {"ClaimsDuplicateDeeplyNested", R::kDuplicateMember,
       [](const Env& e) {
         return WithClaim(*e.ed1, "ext", "{\"x\":{\"y\":{\"z\":1,\"\\u007a\":2}}}");
       },
       "ed1"},
      // --- not one JSON object.
      {"ClaimsTrailingGarbage", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), Claims().Str() + "x"); },
       "ed1"},
      {"ClaimsTrailingSecondObject", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), Claims().Str() + "{}"); },
       "ed1"},
      {"ClaimsTrailingCloseBrace", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), Claims().Str() + "}"); },
       "ed1"},
      {"ClaimsTrailingComma", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), Claims().Str() + ","); },
       "ed1"},
      {"ClaimsTrailingNulByte", R::kBadJson,
       [](const Env& e) {
         return SignJson(*e.ed1, Header(*e.ed1).Str(), Claims().Str() + std::string(1, '\0'));
       },
       "ed1"},
      {"HeaderTrailingGarbage", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str() + "x", Claims().Str()); },
       "ed1"},
      {"HeaderTrailingSecondObject", R::kBadJson,
       [](const Env& e) {
         return SignJson(*e.ed1, Header(*e.ed1).Str() + "{\"alg\":\"none\"}", Claims().Str());
       },
       "ed1"},
      {"HeaderIsArray", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, "[\"EdDSA\",\"ed1\"]", Claims().Str()); }},
      {"HeaderIsString", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, "\"EdDSA\"", Claims().Str()); }},
      {"HeaderIsEmptyObject", R::kUnsupportedAlgorithm,
       [](const Env& e) { return SignJson(*e.ed1, "{}", Claims().Str()); }},
      {"HeaderTruncated", R::kBadJson,
       [](const Env& e) {
         const std::string h = Header(*e.ed1).Str();
         return SignJson(*e.ed1, h.substr(0, h.size() - 2), Claims().Str());
       }},
      {"HeaderInvalidUtf8", R::kBadJson,
       [](const Env& e) { return WithKid(e, "ed1\xff"); }, "ed1"},
      {"ClaimsIsString", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), "\"hello\""); }, "ed1"},
      {"ClaimsIsArray", R::kBadJson,
       [](const Env& e) {
         return SignJson(*e.ed1, Header(*e.ed1).Str(), "[" + Claims().Str() + "]");
       },
       "ed1"},
      {"ClaimsIsNumber", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), "1700000600"); }, "ed1"},
      {"ClaimsIsNull", R::kBadJson,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), "null"); }, "ed1"},
      {"ClaimsTruncated", R::kBadJson,
       [](const Env& e) {
         const std::string c = Claims().Str();
         return SignJson(*e.ed1, Header(*e.ed1).Str(), c.substr(0, c.size() - 7));
       },
       "ed1"},
      {"ClaimsInvalidUtf8", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "sub", "\"user\xff\xfe\""); }, "ed1"},
      {"ClaimsOverlongUtf8", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "name", "\"\xc0\xaf\""); }, "ed1"},
      {"ClaimsLoneSurrogateEscape", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "sub", "\"\\ud800\""); }, "ed1"},
      {"ClaimsUnescapedControlCharacter", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "sub", "\"user\n1\""); }, "ed1"},
      {"ClaimsSingleQuotes", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "sub", "'user-1'"); }, "ed1"},
      {"ClaimsLeadingZero", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "01700000600"); }, "ed1"},
      {"ClaimsNaN", R::kBadJson, [](const Env& e) { return WithClaim(*e.ed1, "exp", "NaN"); },
       "ed1"},
      {"ClaimsComment", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "sub", "/* admin */ \"user-1\""); }, "ed1"},
      {"ClaimsTooDeep", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "ext", Nested(64)); }, "ed1"},
      {"ClaimsEmptyObject", R::kMissingClaim,
       [](const Env& e) { return SignJson(*e.ed1, Header(*e.ed1).Str(), "{}"); }, "ed1"},
      // --- NumericDate: an integer in [0, 9999-12-31], nothing else.
      {"ExpFraction", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "exp", "1.5"); },
       "ed1"},
      {"ExpIntegralFloat", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "1700000600.0"); }, "ed1"},
      {"ExpExponent", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "1e10"); }, "ed1"},
      {"ExpString", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "\"1700000600\""); }, "ed1"},
      {"ExpNegative", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "exp", "-1"); },
       "ed1"},
      {"ExpNegativeZero", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "-0"); }, "ed1"},
      {"ExpBeyondUint64", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "99999999999999999999"); }, "ed1"},
      {"ExpNegativeBeyondInt64", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "-99999999999999999999"); }, "ed1"},
      {"ExpBeyondUint64LeadingZero", R::kBadJson,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "099999999999999999999"); }, "ed1"},
      {"ExpUint64Max", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "18446744073709551615"); }, "ed1"},
      {"ExpInt64Max", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "9223372036854775807"); }, "ed1"},
      {"ExpAfterYear9999", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "253402300800"); }, "ed1"},
      {"ExpTrue", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "exp", "true"); },
       "ed1"},
      {"ExpNull", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "exp", "null"); },
       "ed1"},
      {"ExpArray", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", "[1700000600]"); }, "ed1"},
      {"NbfFloat", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "nbf", "1699999940.0"); }, "ed1"},
      {"NbfNegative", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "nbf", "-60"); }, "ed1"},
      {"IatString", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "iat", "\"1699999940\""); }, "ed1"},
      // --- registered string claims of the wrong type.
      {"IssNotString", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "[\"https://issuer.example\"]"); },
       "ed1"},
      {"SubNumber", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "sub", "42"); },
       "ed1"},
      {"JtiObject", R::kBadClaim, [](const Env& e) { return WithClaim(*e.ed1, "jti", "{}"); },
       "ed1"},
      {"ClientIdNull", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "client_id", "null"); }, "ed1"},
      {"ScopeArray", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "scope", "[\"read\"]"); }, "ed1"},
      // --- one spelling per token: characters outside the alphabet are a malformed token ...
      {"PaddingInHeader", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.header += "=";
         return s.Join();
       }},
      {"PaddingInPayload", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.payload += "==";
         return s.Join();
       }},
      {"PaddingInSignature", R::kMalformed,
       [](const Env& e) { return Good(*e.ed1) + "=="; }},
      {"PlusInHeader", R::kMalformed,
       [](const Env& e) { return "+" + Good(*e.ed1); }},
      {"SlashInPayload", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.payload.insert(4, "/");
         return s.Join();
       }},
      {"PlusAndSlashInSignature", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         for (char& c : s.signature) {
           c = c == '-' ? '+' : c == '_' ? '/' : c;
         }
         s.signature[0] = '+';
         return s.Join();
       }},
      {"SpaceInsideHeader", R::kMalformed,
       [](const Env& e) {
         std::string t = Good(*e.ed1);
         return t.insert(5, " ");
       }},
      {"NewlineInsidePayload", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.payload.insert(8, "\n");
         return s.Join();
       }},
      {"TrailingNewline", R::kMalformed, [](const Env& e) { return Good(*e.ed1) + "\n"; }},
      {"TrailingCrLf", R::kMalformed, [](const Env& e) { return Good(*e.ed1) + "\r\n"; }},
      {"LeadingSpace", R::kMalformed, [](const Env& e) { return " " + Good(*e.ed1); }},
      {"TabInSignature", R::kMalformed,
       [](const Env& e) {
         std::string t = Good(*e.ed1);
         return t.insert(t.size() - 10, "\t");
       }},
      {"NulByteInToken", R::kMalformed,
       [](const Env& e) {
         std::string t = Good(*e.ed1);
         return t.insert(3, std::string(1, '\0'));
       }},
      {"NonAsciiInToken", R::kMalformed,
       [](const Env& e) {
         std::string t = Good(*e.ed1);
         return t.insert(3, "\xc3\xa9");
       }},
      // ... and a non-canonical spelling of the right alphabet is bad base64url.
      {"NonCanonicalBitsInHeader", R::kBadBase64,
       [](const Env& e) {
         return ResignedWithHeaderSegment(
             *e.ed1, test::WithUnusedBitsSet(B64(test::PadToPartialGroup(Header(*e.ed1).Str()))));
       },
       "ed1"},
      {"NonCanonicalBitsInPayload", R::kBadBase64,
       [](const Env& e) {
         return ResignedWithPayloadSegment(
             *e.ed1, test::WithUnusedBitsSet(B64(test::PadToPartialGroup(Claims().Str()))));
       },
       "ed1"},
      {"NonCanonicalBitsInSignature", R::kBadBase64,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.signature = test::WithUnusedBitsSet(s.signature);
         return s.Join();
       }},
      {"NonCanonicalBitsInHs256Signature", R::kBadBase64,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.hs1));
         s.signature = test::WithUnusedBitsSet(s.signature);
         return s.Join();
       }},
      {"HeaderLengthMod4Is1", R::kBadBase64,
       [](const Env& e) {
         return ResignedWithHeaderSegment(*e.ed1, EncodedWholeGroups(Header(*e.ed1).Str()) + "A");
       },
       "ed1"},
      {"PayloadLengthMod4Is1", R::kBadBase64,
       [](const Env& e) {
         return ResignedWithPayloadSegment(*e.ed1, EncodedWholeGroups(Claims().Str()) + "A");
       },
       "ed1"},
      {"SignatureLengthMod4Is1", R::kBadBase64,
       [](const Env& e) {
         std::string t = Good(*e.ed1);  // 64 bytes: 86 characters
         t.pop_back();
         return t;
       }},
      // --- not three segments.
      {"TwoSegments", R::kMalformed,
       [](const Env& e) {
         const test::Segments s = test::Split(Good(*e.ed1));
         return absl::StrCat(s.header, ".", s.payload);
       }},
      {"FourSegments", R::kMalformed, [](const Env& e) { return Good(*e.ed1) + ".e30"; }},
      {"TrailingDot", R::kMalformed, [](const Env& e) { return Good(*e.ed1) + "."; }},
      {"FiveSegmentsJwe", R::kMalformed,
       [](const Env&) {
         return absl::StrCat(B64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}"), ".",
                             B64(std::string(256, 'k')), ".", B64("123456789012"), ".",
                             B64("ciphertext"), ".", B64("0123456789abcdef"));
       }},
      {"FiveSegmentsJweDirect", R::kMalformed,
       [](const Env&) {
         return absl::StrCat(B64("{\"alg\":\"dir\",\"enc\":\"A256GCM\"}"), "..",
                             B64("123456789012"), ".", B64("ciphertext"), ".",
                             B64("0123456789abcdef"));
       }},
      {"EmptyHeaderSegment", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.header.clear();
         return s.Join();
       }},
      {"EmptyPayloadSegment", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.payload.clear();
         return s.Join();
       }},
      {"EmptySignatureSegment", R::kMalformed,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.signature.clear();
         return s.Join();
       }},
      {"OnlyDots", R::kMalformed, [](const Env&) { return std::string(".."); }},
      {"EmptyToken", R::kMalformed, [](const Env&) { return std::string(); }},
      {"NoDots", R::kMalformed, [](const Env& e) { return test::Split(Good(*e.ed1)).payload; }},
      // --- size.
      {"Oversize", R::kTooLarge,
       [](const Env& e) { return WithClaim(*e.ed1, "pad", Quote(std::string(9000, 'p'))); },
       "ed1"},
      {"OversizeGarbage", R::kTooLarge, [](const Env&) { return std::string(9000, 'A'); }},
      {"OversizeUnderLargeCap", R::kTooLarge,
       [](const Env& e) { return WithClaim(*e.ed1, "pad", Quote(std::string(70000, 'p'))); },
       "ed1", Policy::kLargeCap},
      // --- signatures that must not verify.
      {"Es256DerSignature", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.es1);
         return ReplaceSignature(t, Es256Der(Sig(t)));
       }},
      {"Es256ZeroRAndS", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.es1), std::string(64, '\0')); }},
      {"Es256RAndSEqualToOrder", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.es1), P256Order() + P256Order()); }},
      {"Es256REqualToOrder", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.es1);
         return ReplaceSignature(t, P256Order() + Sig(t).substr(32));
       }},
      {"Es256SZero", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.es1);
         return ReplaceSignature(t, Sig(t).substr(0, 32) + std::string(32, '\0'));
       }},
      {"Es256Truncated", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.es1);
         return ReplaceSignature(t, Sig(t).substr(0, 63));
       }},
      {"Ed25519SPlusL", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.ed1);
         return ReplaceSignature(t, Ed25519WithSPlusL(Sig(t)));
       }},
      {"Ed25519AllZero", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.ed1), std::string(64, '\0')); }},
      {"Ed25519AllOnes", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.ed1), std::string(64, '\xff')); }},
      {"Ed25519Truncated", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.ed1);
         return ReplaceSignature(t, Sig(t).substr(0, 63));
       }},
      {"Ed25519Extended", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.ed1);
         return ReplaceSignature(t, Sig(t) + '\0');
       }},
      {"Hs256Truncated16", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.hs1);
         return ReplaceSignature(t, Sig(t).substr(0, 16));
       }},
      {"Hs256OneBitFlipped", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.hs1);
         std::string mac = Sig(t);
         mac[31] = static_cast<char>(mac[31] ^ 1);
         return ReplaceSignature(t, mac);
       }},
      {"Hs256Extended", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.hs1);
         return ReplaceSignature(t, Sig(t) + Sig(t));
       }},
      {"Rs256Truncated", R::kBadSignature,
       [](const Env& e) {
         const std::string t = Good(*e.rs1);
         return ReplaceSignature(t, Sig(t).substr(1));
       }},
      {"Rs256Zero", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.rs1), std::string(256, '\0')); }},
      {"Ps256SignatureFromRs256Key", R::kBadSignature,
       [](const Env& e) {
         // PKCS#1 v1.5 bytes presented as PSS under a different modulus.
         return ReplaceSignature(Good(*e.ps1), Sig(Good(*e.rs1)));
       }},
      {"SignatureSegmentBeyondAnyKey", R::kBadSignature,
       [](const Env& e) { return ReplaceSignature(Good(*e.ed1), std::string(2000, 's')); }},
      {"DifferentEdDsaKeySameKid", R::kBadSignature,
       [](const Env& e) { return Good(*e.ed1_impostor); }},
      {"DifferentEs256KeySameKid", R::kBadSignature,
       [](const Env& e) { return Good(*e.es1_impostor); }},
      {"DifferentRs256KeySameKid", R::kBadSignature,
       [](const Env& e) { return Good(*e.rs1_impostor); }},
      {"DifferentHs256SecretSameKid", R::kBadSignature,
       [](const Env& e) { return Good(*e.hs1_impostor); }},
      {"PayloadAlteredAfterSigning", R::kBadSignature,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.payload = B64(Claims().SetString("sub", "admin").Str());
         return s.Join();
       }},
      {"HeaderAlteredAfterSigning", R::kBadSignature,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.header = B64(Header(*e.ed2).Str());
         return s.Join();
       }},
      {"SignatureFromAnotherToken", R::kBadSignature,
       [](const Env& e) {
         test::Segments s = test::Split(Good(*e.ed1));
         s.signature = test::Split(WithClaim(*e.ed1, "sub", "\"admin\"")).signature;
         return s.Join();
       }},
      {"SignatureOverDecodedJson", R::kBadSignature,
       [](const Env& e) {
         const std::string h = Header(*e.ed1).Str();
         const std::string c = Claims().Str();
         std::string sig;
         EXPECT_TRUE(e.ed1->Sign(h + "." + c, &sig).ok());
         return absl::StrCat(B64(h), ".", B64(c), ".", B64(sig));
       }},
      // --- time.
      {"ExpiredBeyondLeeway", R::kExpired,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", std::to_string(kNow - kLeeway - 1)); },
       "ed1"},
      {"ExpiredLongAgo", R::kExpired,
       [](const Env& e) { return WithClaim(*e.ed1, "exp", std::to_string(kNow - 86400)); },
       "ed1"},
      {"ExpAtEpoch", R::kExpired, [](const Env& e) { return WithClaim(*e.ed1, "exp", "0"); },
       "ed1"},
      {"NbfInFutureBeyondLeeway", R::kNotYetValid,
       [](const Env& e) { return WithClaim(*e.ed1, "nbf", std::to_string(kNow + kLeeway + 1)); },
       "ed1"},
      {"IatInFutureBeyondLeeway", R::kNotYetValid,
       [](const Env& e) { return WithClaim(*e.ed1, "iat", std::to_string(kNow + kLeeway + 1)); },
       "ed1"},
      {"ExpMissing", R::kMissingClaim, [](const Env& e) { return WithoutClaim(*e.ed1, "exp"); },
       "ed1"},
      // --- issuer.
      {"WrongIssuer", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"https://evil.example\""); }, "ed1"},
      {"IssuerTrailingSlash", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"https://issuer.example/\""); },
       "ed1"},
      {"IssuerOtherCase", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"HTTPS://ISSUER.EXAMPLE\""); },
       "ed1"},
      {"IssuerWithSuffix", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"https://issuer.example.evil\""); },
       "ed1"},
      {"IssuerWithNulSuffix", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"https://issuer.example\\u0000\""); },
       "ed1"},
      {"IssuerEmpty", R::kWrongIssuer,
       [](const Env& e) { return WithClaim(*e.ed1, "iss", "\"\""); }, "ed1"},
      {"IssuerMissing", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "iss"); }, "ed1"},
      // --- audience.
      {"AudienceWrong", R::kWrongAudience,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "\"other\""); }, "ed1"},
      {"AudienceOtherCase", R::kWrongAudience,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "\"API\""); }, "ed1"},
      {"AudienceArrayWithoutAccepted", R::kWrongAudience,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "[\"a\",\"b\"]"); }, "ed1"},
      {"AudienceEmptyArray", R::kWrongAudience,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "[]"); }, "ed1"},
      {"AudienceArrayWithNonString", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "[\"api\",1]"); }, "ed1"},
      {"AudienceArrayWithNull", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "[null,\"api\"]"); }, "ed1"},
      {"AudienceNestedArray", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "[[\"api\"]]"); }, "ed1"},
      {"AudienceNumber", R::kBadClaim,
       [](const Env& e) { return WithClaim(*e.ed1, "aud", "1"); }, "ed1"},
      {"AudienceArrayBeyondCap", R::kBadClaim,
       [](const Env& e) {
         std::string aud = "[";
         for (int i = 0; i < kMaxAudiences; ++i) {
           absl::StrAppend(&aud, "\"a", i, "\",");
         }
         aud += "\"api\"]";
         return WithClaim(*e.ed1, "aud", aud);
       },
       "ed1"},
      {"AudienceMissing", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "aud"); }, "ed1"},
      // --- the RFC 9068 access-token profile.
      {"ProfileTypJwt", R::kWrongType,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1).SetString("typ", "JWT"), Claims()); },
       "ed1", Policy::kProfile},
      {"ProfileTypApplicationJwt", R::kWrongType,
       [](const Env& e) {
         return Sign(*e.ed1, Header(*e.ed1).SetString("typ", "application/jwt"), Claims());
       },
       "ed1", Policy::kProfile},
      {"ProfileTypMissing", R::kWrongType,
       [](const Env& e) { return Sign(*e.ed1, Header(*e.ed1).Remove("typ"), Claims()); }, "ed1",
       Policy::kProfile},
      {"ProfileMissingClientId", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "client_id"); }, "ed1", Policy::kProfile},
      {"ProfileMissingJti", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "jti"); }, "ed1", Policy::kProfile},
      {"ProfileMissingSub", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "sub"); }, "ed1", Policy::kProfile},
      {"ProfileMissingIat", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "iat"); }, "ed1", Policy::kProfile},
      {"ProfileMissingAud", R::kMissingClaim,
       [](const Env& e) { return WithoutClaim(*e.ed1, "aud"); }, "ed1", Policy::kProfile},
  };
  return kCases;
}

class HostileTokenTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileTokenTest, IsRefusedForTheRightReason) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const HostileCase& c = GetParam();
  const std::string token = c.make(env);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "building the token failed";
  SCOPED_TRACE(absl::StrCat("token: ", token.substr(0, 400)));

  if (c.signed_by != nullptr) {
    // The signature is genuine, so only the rule under test can be what refuses the token.
    const Key* key = env.trusted->Find(c.signed_by);
    ASSERT_NE(key, nullptr);
    const test::Segments s = test::Split(token);
    const std::optional<std::string> sig = Base64UrlDecode(s.signature);
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(key->Verify(absl::StrCat(s.header, ".", s.payload),
                            reinterpret_cast<const uint8_t*>(sig->data()), sig->size()))
        << "the hostile token's signature does not verify under " << c.signed_by;
  }

  const Verifier& verifier = env.Get(c.policy);
  VerifyScratch scratch;
  VerifiedToken out;
  EXPECT_EQ(verifier.Verify(token, kNow, scratch, &out), c.want);

  // A scratch that lives across tokens (as a shard's does) and has just verified a good token
  // with the standard ed1 header, which most hostile tokens share: its header memo must not
  // change any answer.
  static VerifyScratch* shared = new VerifyScratch();
  ASSERT_EQ(verifier.Verify(Good(*env.ed1), kNow, *shared, &out), VerifyReason::kOk);
  EXPECT_EQ(verifier.Verify(token, kNow, *shared, &out), c.want) << "with a primed scratch";
  EXPECT_EQ(verifier.Verify(token, kNow, *shared, &out), c.want) << "verified twice";

  // The cached path gives the same answer and caches nothing.
  VerifiedTokenCache cache(16);
  EXPECT_EQ(verifier.Verify(token, kNow, scratch, cache, &out), c.want);
  EXPECT_EQ(verifier.Verify(token, kNow, scratch, cache, &out), c.want);
  EXPECT_EQ(cache.stats().inserts, 0u);
  EXPECT_EQ(cache.stats().hits, 0u);
}

INSTANTIATE_TEST_SUITE_P(Table, HostileTokenTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(HostileTokenTableTest, HasAtLeastSixtyCasesWithUniqueNames) {
  EXPECT_GE(Cases().size(), 60u);
  std::set<std::string_view> names;
  for (const HostileCase& c : Cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_NE(c.want, VerifyReason::kOk) << c.name;
  }
}

// ---------------------------------------------------------------------------------------------
// The accepted side: every algorithm, and both sides of every boundary.

TEST(HostileTokenControlTest, ValidTokensOfEveryAlgorithmAreAccepted) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  VerifyScratch scratch;
  for (const Key* key :
       {env.ed1.get(), env.ed2.get(), env.es1.get(), env.rs1.get(), env.ps1.get(), env.hs1.get()}) {
    SCOPED_TRACE(key->kid());
    const std::string token = Good(*key);
    for (Policy p : {Policy::kMain, Policy::kProfile, Policy::kLargeCap}) {
      VerifiedToken out;
      ASSERT_EQ(env.Get(p).Verify(token, kNow, scratch, &out), VerifyReason::kOk);
      EXPECT_EQ(out.kid, key->kid());
      EXPECT_EQ(out.sub, "user-1");
    }
  }
}

TEST(HostileTokenControlTest, TokenWithoutKidSelectsTheOnlyKeyOfItsAlgorithm) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  VerifyScratch scratch;
  for (const Key* key : {env.es1.get(), env.rs1.get(), env.ps1.get(), env.hs1.get()}) {
    SCOPED_TRACE(key->kid());
    const std::string token = Sign(*key, Header(*key).Remove("kid"), Claims());
    VerifiedToken out;
    ASSERT_EQ(env.main->Verify(token, kNow, scratch, &out), VerifyReason::kOk);
    EXPECT_EQ(out.kid, key->kid());
  }
}

// The header memo in a scratch is keyed by the header segment's bytes: tokens whose headers
// differ in one character (ed1/ed2, at+jwt/at+JWT) or are too long to memoize must each get
// exactly the answer a fresh scratch gives, in any order.
TEST(HostileTokenControlTest, ReusedScratchAnswersLikeAFreshOne) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const std::string long_kid(400, 'k');
  const std::vector<std::string> tokens = {
      Good(*env.ed1),
      Good(*env.ed2),
      Good(*env.ed1_impostor),
      Sign(*env.ed1, Header(*env.ed1).SetString("typ", "at+JWT"), Claims()),
      Sign(*env.ed1, Header(*env.ed1).SetString("typ", "JWT"), Claims()),
      Sign(*env.ed1, Header(*env.ed1).SetString("kid", "ed3"), Claims()),
      Sign(*env.ed1, Header(*env.ed1).SetString("kid", long_kid), Claims()),
      Sign(*env.ed1, Header(*env.ed1).SetString("typ", long_kid), Claims()),
      Sign(*env.ed1, Header(*env.ed1).Set("x", test::Quote(std::string(600, 'x'))), Claims()),
      Sign(*env.ed1, Header(*env.ed1).SetString("alg", "none"), Claims()),
      WithClaim(*env.ed1, "sub", "\"other\""),
      WithClaim(*env.ed1, "exp", "1.5"),
      Good(*env.es1),
      Good(*env.hs1),
      Sign(*env.es1, Header(*env.es1).SetString("kid", "ed1"), Claims()),
  };
  for (Policy p : {Policy::kMain, Policy::kProfile}) {
    const Verifier& verifier = env.Get(p);
    std::vector<VerifyReason> fresh;
    std::vector<std::string> fresh_kid;
    for (const std::string& t : tokens) {
      VerifyScratch scratch;
      VerifiedToken out;
      fresh.push_back(verifier.Verify(t, kNow, scratch, &out));
      fresh_kid.push_back(fresh.back() == VerifyReason::kOk ? std::string(out.kid) : "");
    }
    // Every ordered pair (i then j) through one scratch.
    VerifyScratch shared;
    for (size_t i = 0; i < tokens.size(); ++i) {
      for (size_t j = 0; j < tokens.size(); ++j) {
        SCOPED_TRACE(absl::StrCat("tokens ", i, " then ", j));
        VerifiedToken out;
        ASSERT_EQ(verifier.Verify(tokens[i], kNow, shared, &out), fresh[i]);
        ASSERT_EQ(verifier.Verify(tokens[j], kNow, shared, &out), fresh[j]);
        if (fresh[j] == VerifyReason::kOk) {
          EXPECT_EQ(out.kid, fresh_kid[j]);
        }
      }
    }
  }
}

TEST(HostileTokenControlTest, ProfileAcceptsBothSpellingsOfAtJwtInAnyCase) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  VerifyScratch scratch;
  for (const char* typ : {"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"}) {
    SCOPED_TRACE(typ);
    VerifiedToken out;
    EXPECT_EQ(env.profile->Verify(Sign(*env.ed1, Header(*env.ed1).SetString("typ", typ), Claims()),
                                  kNow, scratch, &out),
              VerifyReason::kOk);
  }
}

// Verify checks |token| with the main verifier at |now|.
VerifyReason VerifyAt(const std::string& token, int64_t now) {
  VerifyScratch scratch;
  VerifiedToken out;
  return Env::Instance().main->Verify(token, now, scratch, &out);
}

TEST(HostileTokenBoundaryTest, ExpiresExactlyAtExpPlusLeeway) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const int64_t exp = kNow + 600;
  const std::string token = WithClaim(*env.ed1, "exp", std::to_string(exp));
  EXPECT_EQ(VerifyAt(token, exp - 1), VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(token, exp), VerifyReason::kOk);  // inside the leeway
  EXPECT_EQ(VerifyAt(token, exp + kLeeway - 1), VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(token, exp + kLeeway), VerifyReason::kExpired);
  EXPECT_EQ(VerifyAt(token, exp + kLeeway + 1), VerifyReason::kExpired);
}

TEST(HostileTokenBoundaryTest, NbfHoldsUntilNbfMinusLeeway) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const int64_t nbf = kNow;
  const std::string token = WithClaim(*env.ed1, "nbf", std::to_string(nbf));
  EXPECT_EQ(VerifyAt(token, nbf - kLeeway - 1), VerifyReason::kNotYetValid);
  EXPECT_EQ(VerifyAt(token, nbf - kLeeway), VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(token, nbf), VerifyReason::kOk);
}

TEST(HostileTokenBoundaryTest, IatInTheFutureHoldsUntilIatMinusLeeway) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const int64_t iat = kNow;
  const std::string token = WithClaim(*env.ed1, "iat", std::to_string(iat));
  EXPECT_EQ(VerifyAt(token, iat - kLeeway - 1), VerifyReason::kNotYetValid);
  EXPECT_EQ(VerifyAt(token, iat - kLeeway), VerifyReason::kOk);
}

TEST(HostileTokenBoundaryTest, NumericDateRangeEndsAreAccepted) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  EXPECT_EQ(VerifyAt(WithClaim(*env.ed1, "exp", std::to_string(kMaxNumericDate)), kNow),
            VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(WithClaim(*env.ed1, "nbf", "0"), kNow), VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(WithClaim(*env.ed1, "iat", "0"), kNow), VerifyReason::kOk);
}

// TokenOfSize builds a valid ed1 token of exactly |size| bytes by padding a claim and, since
// no base64url length is 1 mod 4, the header's trailing whitespace.
std::string TokenOfSize(const Env& env, size_t size) {
  for (int header_pad = 0; header_pad < 3; ++header_pad) {
    const std::string header = Header(*env.ed1).Str() + std::string(header_pad, ' ');
    for (size_t pad = 0; pad < size; ++pad) {
      const std::string claims = Claims().SetString("pad", std::string(pad, 'p')).Str();
      const size_t len = Base64UrlEncodedSize(header.size()) + 1 +
                         Base64UrlEncodedSize(claims.size()) + 1 + Base64UrlEncodedSize(64);
      if (len == size) {
        return SignJson(*env.ed1, header, claims);
      }
      if (len > size) {
        break;
      }
    }
  }
  ADD_FAILURE() << "no token of size " << size;
  return "";
}

TEST(HostileTokenBoundaryTest, SizeCapIsInclusive) {
  const Env& env = Env::Instance();
  ASSERT_TRUE(env.error.empty()) << env.error;
  const std::string at_cap = TokenOfSize(env, kDefaultMaxTokenSize);
  const std::string over_cap = TokenOfSize(env, kDefaultMaxTokenSize + 1);
  ASSERT_EQ(at_cap.size(), kDefaultMaxTokenSize);
  ASSERT_EQ(over_cap.size(), kDefaultMaxTokenSize + 1);
  EXPECT_EQ(VerifyAt(at_cap, kNow), VerifyReason::kOk);
  EXPECT_EQ(VerifyAt(over_cap, kNow), VerifyReason::kTooLarge);
}

// ---------------------------------------------------------------------------------------------
// Published test vectors through the full Verifier.

constexpr char kRfc7515Payload[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
    "cnVlfQ";
constexpr int64_t kRfc7515Exp = 1300819380;

std::unique_ptr<Verifier> SingleKeyVerifier(std::string_view jwk, std::string_view issuer) {
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(jwk);
  EXPECT_TRUE(key.ok()) << key.status();
  if (!key.ok()) {
    return nullptr;
  }
  auto keys = std::make_shared<KeySet>();
  EXPECT_TRUE(keys->Add(*std::move(key)).ok());
  VerifyPolicy policy;
  policy.issuers = {std::string(issuer)};
  absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Create(keys, policy);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : nullptr;
}

void ExpectRfc7515Token(const Verifier& verifier, const std::string& token) {
  VerifyScratch scratch;
  VerifiedToken out;
  ASSERT_EQ(verifier.Verify(token, 1300819300, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.iss, "joe");
  EXPECT_EQ(out.exp, kRfc7515Exp);
  EXPECT_EQ(out.claims_json,
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
  EXPECT_EQ(verifier.Verify(token, kRfc7515Exp + 29, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(verifier.Verify(token, kRfc7515Exp + 30, scratch, &out), VerifyReason::kExpired);

  // One changed signature byte, and the vector no longer verifies.
  std::string sig = Sig(token);
  sig[5] = static_cast<char>(sig[5] ^ 0x40);
  EXPECT_EQ(verifier.Verify(ReplaceSignature(token, sig), 1300819300, scratch, &out),
            VerifyReason::kBadSignature);
}

TEST(RfcVectorTest, Rfc7515A1Hs256) {
  const std::unique_ptr<Verifier> verifier = SingleKeyVerifier(
      R"({"kty":"oct","kid":"rfc7515-a1","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})",
      "joe");
  ASSERT_NE(verifier, nullptr);
  ExpectRfc7515Token(*verifier,
                     absl::StrCat("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.", kRfc7515Payload,
                                  ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
}

TEST(RfcVectorTest, Rfc7515A1Hs256FromRawSecret) {
  const std::optional<std::string> secret = Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(secret.has_value());
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromHmacSecret(*secret, "rfc");
  ASSERT_TRUE(key.ok()) << key.status();
  auto keys = std::make_shared<KeySet>();
  ASSERT_TRUE(keys->Add(*std::move(key)).ok());
  VerifyPolicy policy;
  policy.issuers = {"joe"};
  absl::StatusOr<std::unique_ptr<Verifier>> verifier = Verifier::Create(keys, policy);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  ExpectRfc7515Token(**verifier,
                     absl::StrCat("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.", kRfc7515Payload,
                                  ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
}

TEST(RfcVectorTest, Rfc7515A2Rs256) {
  const std::unique_ptr<Verifier> verifier = SingleKeyVerifier(
      R"({"kty":"RSA","kid":"rfc7515-a2","alg":"RS256","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"})",
      "joe");
  ASSERT_NE(verifier, nullptr);
  ExpectRfc7515Token(
      *verifier,
      absl::StrCat(
          "eyJhbGciOiJSUzI1NiJ9.", kRfc7515Payload,
          ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
          "O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARN"
          "PvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1p"
          "hCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"));
}

TEST(RfcVectorTest, Rfc7515A3Es256) {
  const std::unique_ptr<Verifier> verifier = SingleKeyVerifier(
      R"({"kty":"EC","kid":"rfc7515-a3","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
      "joe");
  ASSERT_NE(verifier, nullptr);
  ExpectRfc7515Token(
      *verifier,
      absl::StrCat(
          "eyJhbGciOiJFUzI1NiJ9.", kRfc7515Payload,
          ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-"
          "Kg6NU1Q"));
}

// RFC 8037 A.4 signs a payload that is not JSON. Through the Verifier its signature must verify
// (the claims are only parsed after that), so the token fails as bad JSON, never as a bad
// signature; with one signature byte changed it fails as a bad signature.
TEST(RfcVectorTest, Rfc8037A4Ed25519SignatureVerifiesBeforeClaimsAreRead) {
  const std::unique_ptr<Verifier> verifier = SingleKeyVerifier(
      R"({"kty":"OKP","kid":"rfc8037","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      "joe");
  ASSERT_NE(verifier, nullptr);
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-"
      "09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  VerifyScratch scratch;
  VerifiedToken out;
  EXPECT_EQ(verifier->Verify(token, kNow, scratch, &out), VerifyReason::kBadJson);
  std::string sig = Sig(token);
  sig[0] = static_cast<char>(sig[0] ^ 1);
  EXPECT_EQ(verifier->Verify(ReplaceSignature(token, sig), kNow, scratch, &out),
            VerifyReason::kBadSignature);
}

}  // namespace
}  // namespace ringward::token
