// Tests for ringward/token/key.h: sign/verify for every algorithm, the RFC test vectors, strict
// JWK parsing and its error messages, and key sets.
#include "ringward/token/key.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "openssl/bn.h"
#include "openssl/ec.h"
#include "openssl/ecdsa.h"
#include "openssl/err.h"
#include "openssl/hmac.h"
#include "openssl/mem.h"
#include "openssl/nid.h"
#include "openssl/rsa.h"
#include "openssl/sha.h"
#include "ringward/base/base64url.h"
#include "ringward/token/algorithm.h"

// The test binary interposes malloc to count heap allocations (operator new and BoringSSL's
// OPENSSL_malloc both end up here), forwarding to glibc's allocator.
extern "C" void* __libc_malloc(size_t size);
extern "C" void* __libc_calloc(size_t count, size_t size);
extern "C" void* __libc_realloc(void* ptr, size_t size);
extern "C" void __libc_free(void* ptr);

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

extern "C" void* malloc(size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
extern "C" void* calloc(size_t count, size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
extern "C" void* realloc(void* ptr, size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(ptr, size);
}
extern "C" void free(void* ptr) noexcept { __libc_free(ptr); }

namespace ringward::token {
namespace {

constexpr Algorithm kAllAlgorithms[] = {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256,
                                        Algorithm::kPS256, Algorithm::kHS256};

constexpr std::string_view kSigningInput = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9";

// RFC 8037 Appendix A.1 (Ed25519 private key) and A.4 (JWS).
constexpr std::string_view kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfc8037SigningInput =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr std::string_view kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
constexpr std::string_view kRfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

// RFC 7515 Appendix A.1 (HS256).
constexpr std::string_view kRfc7515K =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::string_view kRfc7515SigningInput =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQog"
    "Imh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kRfc7515Signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// The order L of the Ed25519 base point, little-endian.
constexpr uint8_t kEd25519L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                   0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

std::string Rfc8037PrivateJwk() {
  return "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" + std::string(kRfc8037D) + "\",\"x\":\"" +
         std::string(kRfc8037X) + "\"}";
}

std::string Unbase64(std::string_view s) {
  std::optional<std::string> decoded = Base64UrlDecode(s);
  EXPECT_TRUE(decoded.has_value()) << s;
  return decoded.value_or("");
}

bool VerifyString(const Key& key, std::string_view input, std::string_view sig) {
  return key.Verify(input, reinterpret_cast<const uint8_t*>(sig.data()), sig.size());
}

std::string SignOrDie(const Key& key, std::string_view input) {
  std::string sig;
  absl::Status status = key.Sign(input, &sig);
  EXPECT_TRUE(status.ok()) << status;
  return sig;
}

// GetMember returns the string value of |name| in ToJwk's compact output, or nullopt.
std::optional<std::string> GetMember(const std::string& json, std::string_view name) {
  const std::string needle = "\"" + std::string(name) + "\":\"";
  const size_t start = json.find(needle);
  if (start == std::string::npos) {
    return std::nullopt;
  }
  const size_t value = start + needle.size();
  return json.substr(value, json.find('"', value) - value);
}

// SetMember replaces the value of string member |name|.
std::string SetMember(std::string json, std::string_view name, std::string_view value) {
  const std::string needle = "\"" + std::string(name) + "\":\"";
  const size_t start = json.find(needle);
  EXPECT_NE(start, std::string::npos) << name;
  if (start == std::string::npos) {
    return json;
  }
  const size_t begin = start + needle.size();
  json.replace(begin, json.find('"', begin) - begin, value);
  return json;
}

// RemoveMember deletes the string member |name| (never the first one) with its comma.
std::string RemoveMember(std::string json, std::string_view name) {
  const std::string needle = ",\"" + std::string(name) + "\":\"";
  const size_t start = json.find(needle);
  EXPECT_NE(start, std::string::npos) << name;
  if (start == std::string::npos) {
    return json;
  }
  const size_t end = json.find('"', start + needle.size()) + 1;
  json.erase(start, end - start);
  return json;
}

// SharedKey generates one private key per algorithm for the whole binary (RSA generation is
// slow enough to matter on a shared 2-core machine).
const Key& SharedKey(Algorithm alg) {
  static auto* keys = new std::map<Algorithm, std::unique_ptr<Key>>();
  auto it = keys->find(alg);
  if (it == keys->end()) {
    absl::StatusOr<std::unique_ptr<Key>> key = Key::Generate(alg, "");
    EXPECT_TRUE(key.ok()) << key.status();
    it = keys->emplace(alg, std::move(key).value()).first;
  }
  return *it->second;
}

void ExpectJwkError(const std::string& jwk, std::string_view expected_substring) {
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(jwk);
  ASSERT_FALSE(key.ok()) << "accepted: " << jwk;
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find(
                absl::string_view(expected_substring.data(), expected_substring.size())),
            absl::string_view::npos)
      << "message: " << key.status().message() << "\nwanted: " << expected_substring;
}

// ---------------------------------------------------------------------------------------------

TEST(AlgorithmTest, NamesRoundTripAndNoneNeverParses) {
  for (Algorithm alg : kAllAlgorithms) {
    EXPECT_EQ(ParseAlgorithm(AlgorithmName(alg)), alg);
  }
  EXPECT_EQ(AlgorithmName(Algorithm::kEdDSA), "EdDSA");
  EXPECT_EQ(AlgorithmName(Algorithm::kPS256), "PS256");
  for (std::string_view bad : {"none", "None", "NONE", "", "hs256", "HS512", "ES256 "}) {
    EXPECT_EQ(ParseAlgorithm(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseAlgorithm(std::string_view("EdDSA\0", 6)), std::nullopt);
}

class PerAlgorithmTest : public ::testing::TestWithParam<Algorithm> {};

INSTANTIATE_TEST_SUITE_P(All, PerAlgorithmTest, ::testing::ValuesIn(kAllAlgorithms),
                         [](const ::testing::TestParamInfo<Algorithm>& info) {
                           return std::string(AlgorithmName(info.param));
                         });

TEST_P(PerAlgorithmTest, GenerateSignVerifyRoundTrip) {
  const Key& key = SharedKey(GetParam());
  EXPECT_EQ(key.alg(), GetParam());
  EXPECT_TRUE(key.has_private());
  EXPECT_EQ(key.kid(), key.Thumbprint());
  EXPECT_EQ(key.kid().size(), 43u);
  const std::string sig = SignOrDie(key, kSigningInput);
  EXPECT_EQ(sig.size(), key.SignatureSize());
  EXPECT_TRUE(VerifyString(key, kSigningInput, sig));
}

TEST_P(PerAlgorithmTest, SignatureSizeIsExact) {
  const size_t expected = GetParam() == Algorithm::kHS256                                      ? 32
                          : GetParam() == Algorithm::kRS256 || GetParam() == Algorithm::kPS256 ? 256
                                                                                               : 64;
  EXPECT_EQ(SharedKey(GetParam()).SignatureSize(), expected);
}

TEST_P(PerAlgorithmTest, TamperedInputOrSignatureIsRejected) {
  const Key& key = SharedKey(GetParam());
  const std::string sig = SignOrDie(key, kSigningInput);
  ASSERT_TRUE(VerifyString(key, kSigningInput, sig));

  std::string input(kSigningInput);
  input[5] ^= 0x01;
  EXPECT_FALSE(VerifyString(key, input, sig));
  EXPECT_FALSE(VerifyString(key, std::string(kSigningInput) + ".", sig));
  EXPECT_FALSE(VerifyString(key, kSigningInput.substr(1), sig));

  for (size_t pos : {size_t{0}, sig.size() / 2, sig.size() - 1}) {
    std::string bad = sig;
    bad[pos] ^= 0x01;
    EXPECT_FALSE(VerifyString(key, kSigningInput, bad)) << "flipped byte " << pos;
  }
}

TEST_P(PerAlgorithmTest, WrongSignatureLengthIsRejected) {
  const Key& key = SharedKey(GetParam());
  const std::string sig = SignOrDie(key, kSigningInput);
  EXPECT_FALSE(VerifyString(key, kSigningInput, sig.substr(0, sig.size() - 1)));
  EXPECT_FALSE(VerifyString(key, kSigningInput, sig + '\0'));
  EXPECT_FALSE(VerifyString(key, kSigningInput, ""));
  EXPECT_FALSE(key.Verify(kSigningInput, nullptr, 0));
}

TEST_P(PerAlgorithmTest, PrivateJwkRoundTrips) {
  const Key& key = SharedKey(GetParam());
  const std::string jwk = key.ToJwk(true);
  absl::StatusOr<std::unique_ptr<Key>> loaded = Key::FromJwk(jwk);
  ASSERT_TRUE(loaded.ok()) << loaded.status() << "\n" << jwk;
  EXPECT_EQ((*loaded)->alg(), key.alg());
  EXPECT_EQ((*loaded)->kid(), key.kid());
  EXPECT_TRUE((*loaded)->has_private());
  EXPECT_EQ((*loaded)->ToJwk(true), jwk);
  EXPECT_EQ((*loaded)->Thumbprint(), key.Thumbprint());
  // Each signs what the other verifies.
  EXPECT_TRUE(VerifyString(key, kSigningInput, SignOrDie(**loaded, kSigningInput)));
  EXPECT_TRUE(VerifyString(**loaded, kSigningInput, SignOrDie(key, kSigningInput)));
}

TEST_P(PerAlgorithmTest, PublicJwkHasNoPrivateMembers) {
  const Key& key = SharedKey(GetParam());
  const std::string jwk = key.ToJwk(false);
  for (std::string_view member : {"d", "p", "q", "dp", "dq", "qi", "k"}) {
    EXPECT_EQ(jwk.find("\"" + std::string(member) + "\":"), std::string::npos)
        << member << " in " << jwk;
  }
  EXPECT_EQ(GetMember(jwk, "use"), "sig");
  EXPECT_EQ(GetMember(jwk, "alg"), std::string(AlgorithmName(key.alg())));
  EXPECT_EQ(GetMember(jwk, "kid"), key.kid());
}

TEST_P(PerAlgorithmTest, PublicJwkVerifiesButCannotSign) {
  const Key& key = SharedKey(GetParam());
  if (GetParam() == Algorithm::kHS256) {
    // A symmetric key has no public form: without "k" there is nothing to load.
    ExpectJwkError(key.ToJwk(false), "JWK member \"k\": missing");
    return;
  }
  absl::StatusOr<std::unique_ptr<Key>> public_key = Key::FromJwk(key.ToJwk(false));
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  EXPECT_FALSE((*public_key)->has_private());
  EXPECT_EQ((*public_key)->ToJwk(true), key.ToJwk(false));
  EXPECT_TRUE(VerifyString(**public_key, kSigningInput, SignOrDie(key, kSigningInput)));
  std::string sig;
  EXPECT_EQ((*public_key)->Sign(kSigningInput, &sig).code(), absl::StatusCode::kFailedPrecondition);
}

// Verify must not disturb the thread's BoringSSL error queue: a stale entry would make a later
// SSL_get_error on the same shard thread misreport.
TEST_P(PerAlgorithmTest, FailedVerifyLeavesErrorQueueEmpty) {
  const Key& key = SharedKey(GetParam());
  ERR_clear_error();
  std::string sig = SignOrDie(key, kSigningInput);
  sig[sig.size() / 2] ^= 0x40;
  EXPECT_FALSE(VerifyString(key, kSigningInput, sig));
  EXPECT_FALSE(VerifyString(key, kSigningInput, std::string(key.SignatureSize(), '\xff')));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_P(PerAlgorithmTest, VerifyIsSafeFromManyThreads) {
  const Key& key = SharedKey(GetParam());
  const std::string sig = SignOrDie(key, kSigningInput);
  std::string bad = sig;
  bad[0] ^= 0x01;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (!VerifyString(key, kSigningInput, sig) || VerifyString(key, kSigningInput, bad)) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

TEST(AllocationCounterTest, SeesOperatorNewAndBoringSslAllocations) {
  const uint64_t before = g_allocations.load();
  auto heap_string = std::make_unique<std::string>(100, 'x');
  bssl::UniquePtr<BIGNUM> bn(BN_new());
  EXPECT_GE(g_allocations.load() - before, 2u);
}

// EdDSA and HS256 verify without touching the heap; ES256 reuses a per-thread ECDSA_SIG, so
// after a thread's first call it does not allocate either. (RSA allocates inside BoringSSL.)
TEST(KeyTest, VerifyDoesNotAllocate) {
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kHS256, Algorithm::kES256}) {
    const Key& key = SharedKey(alg);
    const std::string sig = SignOrDie(key, kSigningInput);
    std::string bad = sig;
    bad[1] ^= 0x01;
    const auto* good_bytes = reinterpret_cast<const uint8_t*>(sig.data());
    const auto* bad_bytes = reinterpret_cast<const uint8_t*>(bad.data());
    // Warm the per-thread state: ES256's ECDSA_SIG, and BoringSSL's error queue, which a
    // failed ECDSA_do_verify allocates on a thread's first error.
    ASSERT_TRUE(key.Verify(kSigningInput, good_bytes, sig.size()));
    ASSERT_FALSE(key.Verify(kSigningInput, bad_bytes, bad.size()));
    const uint64_t before = g_allocations.load();
    bool all_ok = true;
    for (int i = 0; i < 10; ++i) {
      all_ok &= key.Verify(kSigningInput, good_bytes, sig.size());
      all_ok &= !key.Verify(kSigningInput, bad_bytes, bad.size());
      all_ok &= !key.Verify(kSigningInput, good_bytes, sig.size() - 1);
    }
    const uint64_t allocations = g_allocations.load() - before;
    EXPECT_TRUE(all_ok) << AlgorithmName(alg);
    EXPECT_EQ(allocations, 0u) << AlgorithmName(alg);
  }
}

// ---------------------------------------------------------------------------------------------
// RFC vectors.

TEST(KeyTest, Rfc8037Ed25519VectorsMatch) {
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(Rfc8037PrivateJwk());
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->alg(), Algorithm::kEdDSA);  // inferred from OKP Ed25519
  EXPECT_TRUE((*key)->kid().empty());
  // Ed25519 is deterministic, so signing must reproduce A.4 exactly.
  EXPECT_EQ(Base64UrlEncode(SignOrDie(**key, kRfc8037SigningInput)), kRfc8037Signature);
  EXPECT_TRUE(VerifyString(**key, kRfc8037SigningInput, Unbase64(kRfc8037Signature)));
  // A.3: the RFC 7638 thumbprint of the public key.
  EXPECT_EQ((*key)->Thumbprint(), kRfc8037Thumbprint);
  EXPECT_EQ(GetMember((*key)->ToJwk(false), "x"), std::string(kRfc8037X));
}

TEST(KeyTest, Ed25519SignatureWithSPlusLIsRejected) {
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(Rfc8037PrivateJwk());
  ASSERT_TRUE(key.ok()) << key.status();
  std::string sig = Unbase64(kRfc8037Signature);
  ASSERT_EQ(sig.size(), 64u);
  ASSERT_TRUE(VerifyString(**key, kRfc8037SigningInput, sig));
  // S' = S + L satisfies the verification equation ([S']B = [S]B) but is not canonical.
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    const unsigned sum = static_cast<uint8_t>(sig[32 + i]) + kEd25519L[i] + carry;
    sig[32 + i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);
  EXPECT_FALSE(VerifyString(**key, kRfc8037SigningInput, sig));
}

TEST(KeyTest, Rfc7515Hs256VectorVerifies) {
  const std::string jwk = "{\"kty\":\"oct\",\"k\":\"" + std::string(kRfc7515K) + "\"}";
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(jwk);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->alg(), Algorithm::kHS256);
  EXPECT_TRUE(VerifyString(**key, kRfc7515SigningInput, Unbase64(kRfc7515Signature)));
  EXPECT_EQ(Base64UrlEncode(SignOrDie(**key, kRfc7515SigningInput)), kRfc7515Signature);

  absl::StatusOr<std::unique_ptr<Key>> raw = Key::FromHmacSecret(Unbase64(kRfc7515K), "raw");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ((*raw)->kid(), "raw");
  EXPECT_TRUE(VerifyString(**raw, kRfc7515SigningInput, Unbase64(kRfc7515Signature)));
}

TEST(KeyTest, Hs256MatchesBoringSslHmacForLongAndShortSecrets) {
  // Secrets above the 64-byte block size are hashed first (RFC 2104); the precomputed pad
  // states must get both cases right.
  for (size_t size : {32, 63, 64, 65, 200}) {
    std::string secret(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      secret[i] = static_cast<char>(i * 7 + 3);
    }
    absl::StatusOr<std::unique_ptr<Key>> key = Key::FromHmacSecret(secret, "k");
    ASSERT_TRUE(key.ok()) << key.status();
    uint8_t expected[32];
    unsigned expected_len = 0;
    ASSERT_NE(HMAC(EVP_sha256(), secret.data(), secret.size(),
                   reinterpret_cast<const uint8_t*>(kSigningInput.data()), kSigningInput.size(),
                   expected, &expected_len),
              nullptr);
    EXPECT_EQ(SignOrDie(**key, kSigningInput),
              std::string(reinterpret_cast<const char*>(expected), expected_len))
        << "secret size " << size;
  }
}

TEST(KeyTest, HmacSecretShorterThan32BytesIsRejected) {
  EXPECT_EQ(Key::FromHmacSecret(std::string(31, 'a'), "k").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Key::FromHmacSecret(std::string(32, 'a'), "k").ok());
  absl::StatusOr<std::unique_ptr<Key>> no_kid = Key::FromHmacSecret(std::string(32, 'a'), "");
  ASSERT_TRUE(no_kid.ok());
  EXPECT_EQ((*no_kid)->kid(), (*no_kid)->Thumbprint());
}

// ---------------------------------------------------------------------------------------------
// ES256 signature encoding.

TEST(KeyTest, Es256DerSignatureIsRejected) {
  const Key& key = SharedKey(Algorithm::kES256);
  const std::string raw = SignOrDie(key, kSigningInput);
  ASSERT_EQ(raw.size(), 64u);
  bssl::UniquePtr<ECDSA_SIG> ecdsa_sig(ECDSA_SIG_new());
  ASSERT_NE(ecdsa_sig, nullptr);
  const auto* bytes = reinterpret_cast<const uint8_t*>(raw.data());
  ASSERT_NE(BN_bin2bn(bytes, 32, ecdsa_sig->r), nullptr);
  ASSERT_NE(BN_bin2bn(bytes + 32, 32, ecdsa_sig->s), nullptr);
  uint8_t* der = nullptr;
  size_t der_len = 0;
  ASSERT_TRUE(ECDSA_SIG_to_bytes(&der, &der_len, ecdsa_sig.get()));
  bssl::UniquePtr<uint8_t> der_owner(der);
  EXPECT_FALSE(key.Verify(kSigningInput, der, der_len));
  EXPECT_TRUE(key.Verify(kSigningInput, bytes, raw.size()));
}

TEST(KeyTest, Es256ZeroOrOutOfRangeScalarsAreRejected) {
  const Key& key = SharedKey(Algorithm::kES256);
  const uint8_t zeros[64] = {};
  EXPECT_FALSE(key.Verify(kSigningInput, zeros, sizeof(zeros)));

  const std::string raw = SignOrDie(key, kSigningInput);
  ASSERT_TRUE(VerifyString(key, kSigningInput, raw));
  // r = 0 or s = 0 with the other half valid.
  EXPECT_FALSE(VerifyString(key, kSigningInput, std::string(32, '\0') + raw.substr(32)));
  EXPECT_FALSE(VerifyString(key, kSigningInput, raw.substr(0, 32) + std::string(32, '\0')));
  // s = n - s is the other valid signature; s + n is not representable, but s = n is.
  bssl::UniquePtr<EC_GROUP> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  uint8_t order[32];
  ASSERT_TRUE(BN_bn2bin_padded(order, sizeof(order), EC_GROUP_get0_order(group.get())));
  const std::string order_bytes(reinterpret_cast<const char*>(order), sizeof(order));
  EXPECT_FALSE(VerifyString(key, kSigningInput, raw.substr(0, 32) + order_bytes));
  EXPECT_FALSE(VerifyString(key, kSigningInput, order_bytes + raw.substr(32)));
  EXPECT_FALSE(VerifyString(key, kSigningInput, std::string(64, '\xff')));
}

TEST(KeyTest, Rs256SignatureDoesNotVerifyUnderPs256) {
  const Key& rs256 = SharedKey(Algorithm::kRS256);
  const std::string public_jwk = rs256.ToJwk(false);
  absl::StatusOr<std::unique_ptr<Key>> ps256 = Key::FromJwk(SetMember(public_jwk, "alg", "PS256"));
  ASSERT_TRUE(ps256.ok()) << ps256.status();
  const std::string sig = SignOrDie(rs256, kSigningInput);
  EXPECT_TRUE(VerifyString(rs256, kSigningInput, sig));
  EXPECT_FALSE(VerifyString(**ps256, kSigningInput, sig));
}

// BnFromMember decodes a base64url JWK member of ToJwk's output into a BIGNUM.
BIGNUM* BnFromMember(const std::string& jwk, std::string_view name) {
  const std::string bytes = Unbase64(GetMember(jwk, name).value_or(""));
  return BN_bin2bn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), nullptr);
}

TEST(KeyTest, Ps256RequiresSaltLength32) {
  const Key& key = SharedKey(Algorithm::kPS256);
  const std::string jwk = key.ToJwk(true);
  bssl::UniquePtr<RSA> rsa(RSA_new());
  ASSERT_TRUE(RSA_set0_key(rsa.get(), BnFromMember(jwk, "n"), BnFromMember(jwk, "e"),
                           BnFromMember(jwk, "d")));
  uint8_t digest[32];
  SHA256(reinterpret_cast<const uint8_t*>(kSigningInput.data()), kSigningInput.size(), digest);
  for (int salt_len : {0, 20, 32, 64}) {
    std::string sig(RSA_size(rsa.get()), '\0');
    size_t sig_len = 0;
    ASSERT_TRUE(RSA_sign_pss_mgf1(rsa.get(), &sig_len, reinterpret_cast<uint8_t*>(sig.data()),
                                  sig.size(), digest, sizeof(digest), EVP_sha256(), EVP_sha256(),
                                  salt_len));
    EXPECT_EQ(VerifyString(key, kSigningInput, sig), salt_len == 32) << "salt " << salt_len;
  }
}

TEST(KeyTest, RsaPrivateKeyWithoutCrtParametersSigns) {
  const Key& key = SharedKey(Algorithm::kRS256);
  std::string jwk = key.ToJwk(true);
  for (std::string_view member : {"p", "q", "dp", "dq", "qi"}) {
    jwk = RemoveMember(jwk, member);
  }
  absl::StatusOr<std::unique_ptr<Key>> loaded = Key::FromJwk(jwk);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->has_private());
  EXPECT_TRUE(VerifyString(key, kSigningInput, SignOrDie(**loaded, kSigningInput)));
}

// ---------------------------------------------------------------------------------------------
// JWK errors.

TEST(JwkErrorTest, DuplicateMemberIsRejected) {
  const std::string x = std::string(kRfc8037X);
  ExpectJwkError("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + x + "\",\"x\":\"" + x + "\"}",
                 "duplicate");
  // The same name spelled with an escape is still the same name.
  ExpectJwkError(
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + x + "\",\"\\u0078\":\"" + x + "\"}",
      "duplicate");
  ExpectJwkError("{\"kty\":\"OKP\",\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"" + x + "\"}",
                 "duplicate");
}

TEST(JwkErrorTest, MalformedJsonIsRejected) {
  ExpectJwkError("", "JWK");
  ExpectJwkError("[]", "not a JSON object");
  ExpectJwkError(Rfc8037PrivateJwk() + "x", "JWK");
  ExpectJwkError("{\"kty\":\"OKP\",", "JWK");
  ExpectJwkError("{\"crv\":\"Ed25519\",\"x\":\"" + std::string(kRfc8037X) + "\"}",
                 "JWK member \"kty\": missing");
  ExpectJwkError("{\"kty\":5}", "JWK member \"kty\": not a string");
}

TEST(JwkErrorTest, NonCanonicalBase64UrlIsRejected) {
  const std::string jwk = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  const std::string x = *GetMember(jwk, "x");
  ASSERT_EQ(x.size(), 43u);
  // Padding.
  ExpectJwkError(SetMember(jwk, "x", x + "="), "JWK member \"x\": not canonical base64url");
  // Non-zero unused trailing bits: 32 bytes leave 2 spare bits in the last character.
  std::string noncanonical = std::string(kRfc8037X);
  ASSERT_EQ(noncanonical.back(), 'o');
  noncanonical.back() = 'p';
  ExpectJwkError(SetMember(jwk, "x", noncanonical), "JWK member \"x\": not canonical base64url");
  // The standard alphabet, and whitespace.
  std::string standard = std::string(kRfc8037X);
  standard[standard.find('_')] = '/';
  ExpectJwkError(SetMember(jwk, "x", standard), "JWK member \"x\": not canonical base64url");
  ExpectJwkError(SetMember(jwk, "x", x.substr(0, 20) + " " + x.substr(20, 22)),
                 "JWK member \"x\": not canonical base64url");
  // Private members go through the same decoder.
  const std::string private_jwk = Rfc8037PrivateJwk();
  ExpectJwkError(SetMember(private_jwk, "d", std::string(kRfc8037D) + "="),
                 "JWK member \"d\": not canonical base64url");
}

TEST(JwkErrorTest, WrongSizesAreRejected) {
  const std::string okp = SharedKey(Algorithm::kEdDSA).ToJwk(true);
  ExpectJwkError(SetMember(okp, "x", Base64UrlEncode(std::string(31, 'a'))),
                 "JWK member \"x\": must decode to exactly 32 bytes");
  ExpectJwkError(SetMember(okp, "x", Base64UrlEncode(std::string(33, 'a'))),
                 "JWK member \"x\": must decode to exactly 32 bytes");
  ExpectJwkError(SetMember(okp, "d", Base64UrlEncode(std::string(64, 'a'))),
                 "JWK member \"d\": must decode to exactly 32 bytes");
  ExpectJwkError(SetMember(okp, "x", ""), "JWK member \"x\"");

  const std::string ec = SharedKey(Algorithm::kES256).ToJwk(true);
  ExpectJwkError(SetMember(ec, "x", Base64UrlEncode(std::string(31, 'a'))),
                 "JWK member \"x\": must decode to exactly 32 bytes");
  // A leading zero byte added to y changes nothing numerically but is not the fixed width.
  ExpectJwkError(SetMember(ec, "y", Base64UrlEncode('\0' + Unbase64(*GetMember(ec, "y")))),
                 "JWK member \"y\": must decode to exactly 32 bytes");
  ExpectJwkError(SetMember(ec, "d", Base64UrlEncode(std::string(31, 'a'))),
                 "JWK member \"d\": must decode to exactly 32 bytes");
}

TEST(JwkErrorTest, Ed25519PrivateKeyMustMatchPublicKey) {
  const std::string other_x = *GetMember(SharedKey(Algorithm::kEdDSA).ToJwk(false), "x");
  const std::string jwk = SetMember(Rfc8037PrivateJwk(), "x", other_x);
  ExpectJwkError(jwk, "JWK member \"d\": private key does not match \"x\"");
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(jwk);
  ASSERT_FALSE(key.ok());
  // Error messages never carry key material.
  EXPECT_EQ(key.status().message().find(std::string(kRfc8037D.substr(0, 10))),
            absl::string_view::npos);
}

TEST(JwkErrorTest, EcPointMustBeOnTheCurve) {
  const std::string jwk = SharedKey(Algorithm::kES256).ToJwk(false);
  std::string y = Unbase64(*GetMember(jwk, "y"));
  y[31] ^= 0x01;  // only y and p - y lie on the curve for a given x
  ExpectJwkError(SetMember(jwk, "y", Base64UrlEncode(y)), "not a point on P-256");
  // A coordinate >= p.
  ExpectJwkError(SetMember(jwk, "x", Base64UrlEncode(std::string(32, '\xff'))),
                 "not a point on P-256");
}

TEST(JwkErrorTest, EcPrivateKeyMustMatchPublicKey) {
  absl::StatusOr<std::unique_ptr<Key>> other = Key::Generate(Algorithm::kES256, "other");
  ASSERT_TRUE(other.ok());
  const std::string other_d = *GetMember((*other)->ToJwk(true), "d");
  const std::string jwk = SharedKey(Algorithm::kES256).ToJwk(true);
  ExpectJwkError(SetMember(jwk, "d", other_d), "JWK member \"d\": private key does not match");
  ExpectJwkError(SetMember(jwk, "d", Base64UrlEncode(std::string(32, '\0'))),
                 "JWK member \"d\": not a valid P-256 private scalar");
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(SetMember(jwk, "d", other_d));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().find(other_d.substr(0, 10)), absl::string_view::npos);
}

TEST(JwkErrorTest, Rsa1024BitKeyIsRejected) {
  bssl::UniquePtr<RSA> rsa(RSA_new());
  bssl::UniquePtr<BIGNUM> e(BN_new());
  ASSERT_TRUE(BN_set_word(e.get(), RSA_F4));
  ASSERT_TRUE(RSA_generate_key_ex(rsa.get(), 1024, e.get(), nullptr));
  std::string n(BN_num_bytes(RSA_get0_n(rsa.get())), '\0');
  BN_bn2bin(RSA_get0_n(rsa.get()), reinterpret_cast<uint8_t*>(n.data()));
  ASSERT_EQ(n.size(), 128u);
  const std::string jwk =
      "{\"kty\":\"RSA\",\"n\":\"" + Base64UrlEncode(n) + "\",\"e\":\"AQAB\",\"alg\":\"RS256\"}";
  ExpectJwkError(jwk, "JWK member \"n\": RSA modulus shorter than 2048 bits");
}

TEST(JwkErrorTest, RsaEncodingAndExponentRules) {
  const std::string jwk = SharedKey(Algorithm::kRS256).ToJwk(false);
  ASSERT_TRUE(Key::FromJwk(jwk).ok());
  ExpectJwkError(RemoveMember(jwk, "alg"), "JWK member \"alg\": required for RSA keys");
  ExpectJwkError(SetMember(jwk, "n", Base64UrlEncode('\0' + Unbase64(*GetMember(jwk, "n")))),
                 "JWK member \"n\": leading zero byte");
  ExpectJwkError(SetMember(jwk, "e", "AAEAAQ"), "JWK member \"e\": leading zero byte");
  ExpectJwkError(SetMember(jwk, "e", "AQ"), "JWK member \"e\"");       // e = 1
  ExpectJwkError(SetMember(jwk, "e", "AQAA"), "JWK member \"e\"");     // e = 65536, even
  ExpectJwkError(SetMember(jwk, "e", "AQAAAAE"), "JWK member \"e\"");  // 2^32 + 1
  ExpectJwkError(RemoveMember(jwk, "e"), "JWK member \"e\": missing");
  ExpectJwkError(SetMember(jwk, "alg", "ES256"), "JWK member \"alg\": does not fit kty \"RSA\"");
}

TEST(JwkErrorTest, RsaPrivateKeyRules) {
  const std::string jwk = SharedKey(Algorithm::kPS256).ToJwk(true);
  ASSERT_TRUE(Key::FromJwk(jwk).ok());
  // CRT parameters are all or nothing.
  ExpectJwkError(RemoveMember(jwk, "qi"), "JWK member \"qi\": missing");
  ExpectJwkError(RemoveMember(jwk, "d"), "JWK member \"d\": missing");
  // A "d" from another key: caught by RSA_check_key with CRT parameters, and by the pairwise
  // test without them.
  const std::string other_d = *GetMember(SharedKey(Algorithm::kRS256).ToJwk(true), "d");
  ExpectJwkError(SetMember(jwk, "d", other_d), "JWK member \"d\": RSA private key is inconsistent");
  std::string no_crt = jwk;
  for (std::string_view member : {"p", "q", "dp", "dq", "qi"}) {
    no_crt = RemoveMember(no_crt, member);
  }
  ASSERT_TRUE(Key::FromJwk(no_crt).ok());
  ExpectJwkError(SetMember(no_crt, "d", other_d),
                 "JWK member \"d\": RSA private key is inconsistent");
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(SetMember(no_crt, "d", other_d));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().find(other_d.substr(0, 10)), absl::string_view::npos);
}

TEST(JwkErrorTest, AlgorithmMustBeSupportedAndFitTheKeyType) {
  const std::string okp = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  ExpectJwkError(SetMember(okp, "alg", "none"), "JWK member \"alg\": not an algorithm");
  ExpectJwkError(SetMember(okp, "alg", "HS512"), "JWK member \"alg\": not an algorithm");
  ExpectJwkError(SetMember(okp, "alg", "eddsa"), "JWK member \"alg\": not an algorithm");
  ExpectJwkError(SetMember(okp, "alg", "ES256"), "JWK member \"alg\": does not fit kty \"OKP\"");
  const std::string oct = SharedKey(Algorithm::kHS256).ToJwk(true);
  ExpectJwkError(SetMember(oct, "alg", "RS256"), "JWK member \"alg\": does not fit kty \"oct\"");
  ExpectJwkError(SetMember(oct, "alg", "none"), "JWK member \"alg\": not an algorithm");
  const std::string ec = SharedKey(Algorithm::kES256).ToJwk(false);
  ExpectJwkError(SetMember(ec, "alg", "EdDSA"), "JWK member \"alg\": does not fit kty \"EC\"");
  // Absent "alg" is inferred for the unambiguous types.
  absl::StatusOr<std::unique_ptr<Key>> inferred = Key::FromJwk(RemoveMember(ec, "alg"));
  ASSERT_TRUE(inferred.ok()) << inferred.status();
  EXPECT_EQ((*inferred)->alg(), Algorithm::kES256);
}

TEST(JwkErrorTest, UseMustBeSigAndKeyOpsSignOrVerify) {
  const std::string jwk = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  ExpectJwkError(SetMember(jwk, "use", "enc"), "JWK member \"use\": must be \"sig\"");
  ExpectJwkError(SetMember(jwk, "use", "SIG"), "JWK member \"use\"");
  const std::string body = jwk.substr(0, jwk.size() - 1);
  EXPECT_TRUE(Key::FromJwk(body + ",\"key_ops\":[\"verify\"]}").ok());
  ExpectJwkError(body + ",\"key_ops\":[\"encrypt\"]}", "JWK member \"key_ops\"");
  ExpectJwkError(body + ",\"key_ops\":[\"verify\",\"verify\"]}", "JWK member \"key_ops\"");
  ExpectJwkError(body + ",\"key_ops\":\"verify\"}", "JWK member \"key_ops\"");
}

TEST(JwkErrorTest, UnsupportedTypesAndCurvesAreRejected) {
  const std::string okp = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  ExpectJwkError(SetMember(okp, "crv", "Ed448"), "JWK member \"crv\"");
  ExpectJwkError(SetMember(okp, "crv", "X25519"), "JWK member \"crv\"");
  ExpectJwkError(SetMember(okp, "kty", "okp"), "JWK member \"kty\"");
  const std::string ec = SharedKey(Algorithm::kES256).ToJwk(false);
  ExpectJwkError(SetMember(ec, "crv", "P-384"), "JWK member \"crv\"");
  ExpectJwkError(RemoveMember(ec, "y"), "JWK member \"y\": missing");
}

TEST(JwkErrorTest, ShortOctKeyIsRejected) {
  const std::string k31 = Base64UrlEncode(std::string(31, 'k'));
  ExpectJwkError("{\"kty\":\"oct\",\"k\":\"" + k31 + "\"}", "JWK member \"k\"");
  ExpectJwkError("{\"kty\":\"oct\",\"alg\":\"HS256\"}", "JWK member \"k\": missing");
  EXPECT_TRUE(
      Key::FromJwk("{\"kty\":\"oct\",\"k\":\"" + Base64UrlEncode(std::string(32, 'k')) + "\"}")
          .ok());
}

TEST(JwkTest, UnknownMembersAreIgnored) {
  const std::string jwk = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  const std::string extended = jwk.substr(0, jwk.size() - 1) +
                               ",\"x5t\":\"whatever\",\"ext\":true,\"nested\":{\"a\":[1,2]}}";
  absl::StatusOr<std::unique_ptr<Key>> key = Key::FromJwk(extended);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->ToJwk(false), jwk);
}

TEST(JwkTest, KidIsEscapedAndRoundTrips) {
  const std::string kid = "a\"b\\c\n\x01/\xc3\xa9";
  absl::StatusOr<std::unique_ptr<Key>> key = Key::Generate(Algorithm::kEdDSA, kid);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->kid(), kid);
  const std::string jwk = (*key)->ToJwk(false);
  EXPECT_NE(jwk.find("\"kid\":\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\""), std::string::npos) << jwk;
  absl::StatusOr<std::unique_ptr<Key>> loaded = Key::FromJwk(jwk);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->kid(), kid);
  // A kid that is not UTF-8 could not be written as JSON.
  EXPECT_FALSE(Key::Generate(Algorithm::kEdDSA, "\xff").ok());
}

// ---------------------------------------------------------------------------------------------
// KeySet.

KeySet ThreeKeySet() {
  KeySet set;
  for (auto [alg, kid] :
       {std::pair{Algorithm::kEdDSA, "ed-1"}, std::pair{Algorithm::kEdDSA, "ed-2"},
        std::pair{Algorithm::kES256, "ec-1"}}) {
    absl::StatusOr<std::unique_ptr<Key>> key = Key::Generate(alg, kid);
    EXPECT_TRUE(key.ok());
    EXPECT_TRUE(set.Add(*std::move(key)).ok());
  }
  return set;
}

TEST(KeySetTest, FindAndFindOnly) {
  KeySet set = ThreeKeySet();
  ASSERT_EQ(set.keys().size(), 3u);
  ASSERT_NE(set.Find("ed-2"), nullptr);
  EXPECT_EQ(set.Find("ed-2")->kid(), "ed-2");
  EXPECT_EQ(set.Find("ed-3"), nullptr);
  EXPECT_EQ(set.Find(""), nullptr);
  // Two EdDSA keys: a token without a kid cannot pick one.
  EXPECT_EQ(set.FindOnly(Algorithm::kEdDSA), nullptr);
  ASSERT_NE(set.FindOnly(Algorithm::kES256), nullptr);
  EXPECT_EQ(set.FindOnly(Algorithm::kES256)->kid(), "ec-1");
  EXPECT_EQ(set.FindOnly(Algorithm::kRS256), nullptr);
}

TEST(KeySetTest, AddRejectsDuplicateKid) {
  KeySet set = ThreeKeySet();
  absl::StatusOr<std::unique_ptr<Key>> key = Key::Generate(Algorithm::kHS256, "ed-1");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(set.Add(*std::move(key)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(set.keys().size(), 3u);
}

TEST(KeySetTest, JwksRoundTripsPublicAndPrivate) {
  KeySet set = ThreeKeySet();
  const std::string public_jwks = set.ToJwks(false);
  EXPECT_EQ(public_jwks.find("\"d\":"), std::string::npos);
  absl::StatusOr<KeySet> loaded = KeySet::FromJwks(public_jwks);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->keys().size(), 3u);
  EXPECT_EQ(loaded->ToJwks(false), public_jwks);
  for (const std::unique_ptr<Key>& key : set.keys()) {
    const Key* found = loaded->Find(key->kid());
    ASSERT_NE(found, nullptr) << key->kid();
    EXPECT_FALSE(found->has_private());
    EXPECT_TRUE(VerifyString(*found, kSigningInput, SignOrDie(*key, kSigningInput)));
  }

  absl::StatusOr<KeySet> private_set = KeySet::FromJwks(set.ToJwks(true));
  ASSERT_TRUE(private_set.ok()) << private_set.status();
  EXPECT_EQ(private_set->ToJwks(true), set.ToJwks(true));
  EXPECT_TRUE(private_set->Find("ec-1")->has_private());
}

TEST(KeySetTest, PublicJwksLeavesOutSymmetricKeys) {
  KeySet set = ThreeKeySet();
  absl::StatusOr<std::unique_ptr<Key>> hmac = Key::Generate(Algorithm::kHS256, "hmac");
  ASSERT_TRUE(hmac.ok());
  ASSERT_TRUE(set.Add(*std::move(hmac)).ok());
  EXPECT_EQ(set.ToJwks(false).find("hmac"), std::string::npos);
  EXPECT_EQ(set.ToJwks(false).find("\"oct\""), std::string::npos);
  absl::StatusOr<KeySet> with_private = KeySet::FromJwks(set.ToJwks(true));
  ASSERT_TRUE(with_private.ok()) << with_private.status();
  EXPECT_NE(with_private->Find("hmac"), nullptr);
}

TEST(KeySetTest, FromJwksErrors) {
  const std::string a = SharedKey(Algorithm::kEdDSA).ToJwk(false);
  const std::string b = SharedKey(Algorithm::kES256).ToJwk(false);
  auto expect_error = [](const std::string& json, std::string_view wanted) {
    absl::StatusOr<KeySet> set = KeySet::FromJwks(json);
    ASSERT_FALSE(set.ok()) << json;
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(set.status().message().find(absl::string_view(wanted.data(), wanted.size())),
              absl::string_view::npos)
        << set.status().message() << "\nwanted: " << wanted;
  };
  ASSERT_TRUE(KeySet::FromJwks("{\"keys\":[" + a + "," + b + "]}").ok());
  expect_error("{\"keys\":[]}", "empty");
  expect_error("{}", "\"keys\"");
  expect_error("{\"keys\":{}}", "\"keys\"");
  expect_error("[" + a + "]", "not a JSON object");
  expect_error("{\"keys\":[" + a + "],\"keys\":[" + b + "]}", "duplicate");
  expect_error("{\"keys\":[" + a + "," + SetMember(b, "kid", *GetMember(a, "kid")) + "]}",
               "keys[1]: JWK member \"kid\": duplicate kid");
  expect_error("{\"keys\":[" + a + "," + RemoveMember(b, "kid") + "]}",
               "keys[1]: JWK member \"kid\": missing or empty");
  expect_error("{\"keys\":[" + SetMember(a, "kid", "") + "," + b + "]}",
               "keys[0]: JWK member \"kid\": missing or empty");
  expect_error("{\"keys\":[" + a + "," + SetMember(b, "alg", "none") + "]}",
               "keys[1]: JWK member \"alg\"");
  expect_error("{\"keys\":[" + a + ",7]}", "keys[1]: not a JSON object");
}

TEST(KeySetTest, FromFileNamesTheFile) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/key_test_jwks_" + std::to_string(getpid()) + ".json";
  KeySet set = ThreeKeySet();
  {
    std::ofstream out(path);
    out << set.ToJwks(false) << "\n";
  }
  absl::StatusOr<KeySet> loaded = KeySet::FromFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->keys().size(), 3u);

  {
    std::ofstream out(path);
    out << "{\"keys\":[]}";
  }
  absl::StatusOr<KeySet> empty = KeySet::FromFile(path);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(path), absl::string_view::npos)
      << empty.status().message();
  std::remove(path.c_str());

  absl::StatusOr<KeySet> missing = KeySet::FromFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), absl::string_view::npos);
}

}  // namespace
}  // namespace ringward::token
