// Token core benchmarks. Each pipeline sits beside its raw primitive over the same input, so the
// overhead of ringward's parsing and checks is a ratio anyone can read:
//   BM_Raw_HmacSha256     vs BM_Verify_HS256
//   BM_Raw_Ed25519Verify  vs BM_Verify_EdDSA
//   BM_Raw_EcdsaP256Verify vs BM_Verify_ES256
// plus a verified-cache hit, strict base64url decoding and claims parsing on their own.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "openssl/curve25519.h"
#include "openssl/ec.h"
#include "openssl/ec_key.h"
#include "openssl/ecdsa.h"
#include "openssl/hmac.h"
#include "openssl/nid.h"
#include "openssl/sha.h"
#include "ringward/base/base64url.h"
#include "ringward/token/claims.h"
#include "ringward/token/jws.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"

namespace ringward::token {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://issuer.example";

// Claims shaped like a typical access token (the same shape ../shared/peers mints).
std::string ClaimsJson(int i) {
  return std::string("{\"iss\":\"https://issuer.example\",\"sub\":\"user-") + std::to_string(i) +
         "\",\"aud\":\"edge-api\",\"exp\":" + std::to_string(kNow + 86400) +
         ",\"iat\":" + std::to_string(kNow) + ",\"nbf\":" + std::to_string(kNow - 10) +
         ",\"jti\":\"8f14e45f-ceea-467f-a0e6-" + std::to_string(100000000000 + i) +
         "\",\"scope\":\"read:orders write:orders\",\"client_id\":\"bench-client\"}";
}

struct Fixture {
  std::shared_ptr<KeySet> keys = std::make_shared<KeySet>();
  std::unique_ptr<Verifier> verifier;
  std::string hs256, eddsa, es256;

  Fixture() {
    (void)keys->Add(*Key::FromHmacSecret("peer-bench-secret-0123456789abcdef-0123456789", "hs-1"));
    (void)keys->Add(*Key::Generate(Algorithm::kEdDSA, "ed-1"));
    (void)keys->Add(*Key::Generate(Algorithm::kES256, "es-1"));
    VerifyPolicy policy;
    policy.issuers = {kIssuer};
    policy.audiences = {"edge-api"};
    verifier = *Verifier::Create(keys, policy);
    hs256 = *SignCompact(*keys->Find("hs-1"), ClaimsJson(1), "at+jwt");
    eddsa = *SignCompact(*keys->Find("ed-1"), ClaimsJson(1), "at+jwt");
    es256 = *SignCompact(*keys->Find("es-1"), ClaimsJson(1), "at+jwt");
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

std::string_view SigningInput(const std::string& token) {
  return std::string_view(token).substr(0, token.rfind('.'));
}

void BM_Base64Url_DecodeClaims(benchmark::State& state) {
  const std::string& token = F().hs256;
  CompactParts parts;
  SplitCompact(token, &parts);
  uint8_t out[1024];
  size_t n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Base64UrlDecode(parts.payload_b64, out, sizeof(out), &n));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * parts.payload_b64.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Base64Url_DecodeClaims);

void BM_Claims_Parse(benchmark::State& state) {
  const std::string claims = ClaimsJson(1);
  std::vector<uint8_t> padded(claims.begin(), claims.end());
  padded.resize(claims.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::parser parser;
  Claims parsed;
  for (auto _ : state) {
    if (ParseClaims(parser, padded.data(), claims.size(), &parsed) != VerifyReason::kOk) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(parsed.exp);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Claims_Parse);

void BM_Raw_HmacSha256(benchmark::State& state) {
  const std::string_view input = SigningInput(F().hs256);
  const std::string secret = "peer-bench-secret-0123456789abcdef-0123456789";
  uint8_t mac[SHA256_DIGEST_LENGTH];
  unsigned int mac_len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), secret.data(), secret.size(), reinterpret_cast<const uint8_t*>(input.data()),
         input.size(), mac, &mac_len);
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Raw_HmacSha256);

void BM_Verify_HS256(benchmark::State& state) {
  VerifyScratch scratch;
  VerifiedToken out;
  for (auto _ : state) {
    if (F().verifier->Verify(F().hs256, kNow, scratch, &out) != VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Verify_HS256);

void BM_Raw_Ed25519Verify(benchmark::State& state) {
  uint8_t public_key[32];
  uint8_t private_key[64];
  ED25519_keypair(public_key, private_key);
  const std::string_view input = SigningInput(F().eddsa);
  uint8_t signature[64];
  ED25519_sign(signature, reinterpret_cast<const uint8_t*>(input.data()), input.size(),
               private_key);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ED25519_verify(reinterpret_cast<const uint8_t*>(input.data()),
                                            input.size(), signature, public_key));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Raw_Ed25519Verify);

void BM_Verify_EdDSA(benchmark::State& state) {
  VerifyScratch scratch;
  VerifiedToken out;
  for (auto _ : state) {
    if (F().verifier->Verify(F().eddsa, kNow, scratch, &out) != VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Verify_EdDSA);

void BM_Raw_EcdsaP256Verify(benchmark::State& state) {
  bssl::UniquePtr<EC_KEY> key(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  EC_KEY_generate_key(key.get());
  const std::string_view input = SigningInput(F().es256);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  bssl::UniquePtr<ECDSA_SIG> sig(ECDSA_do_sign(digest, sizeof(digest), key.get()));
  for (auto _ : state) {
    // The raw cost includes hashing the signing input, as the pipeline must.
    SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
    benchmark::DoNotOptimize(ECDSA_do_verify(digest, sizeof(digest), sig.get(), key.get()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Raw_EcdsaP256Verify);

void BM_Verify_ES256(benchmark::State& state) {
  VerifyScratch scratch;
  VerifiedToken out;
  for (auto _ : state) {
    if (F().verifier->Verify(F().es256, kNow, scratch, &out) != VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Verify_ES256);

// A cache hit over a pool of distinct tokens (arg = pool size), so the lookup is not a single
// hot line: XXH3 over the token, a 4-way set probe, a full byte compare, and the time re-check.
void BM_Verify_CacheHit(benchmark::State& state) {
  const int pool = static_cast<int>(state.range(0));
  std::vector<std::string> tokens;
  for (int i = 0; i < pool; ++i) {
    tokens.push_back(*SignCompact(*F().keys->Find("ed-1"), ClaimsJson(i), "at+jwt"));
  }
  VerifyScratch scratch;
  VerifiedTokenCache cache(pool * 8);
  VerifiedToken out;
  for (const std::string& t : tokens) {
    F().verifier->Verify(t, kNow, scratch, cache, &out);
  }
  // A set-associative cache can evict a few tokens even below capacity (more than four in one
  // set); those verify in full again, and hit_ratio says how rare that is.
  size_t i = 0;
  int64_t hits = 0;
  for (auto _ : state) {
    if (F().verifier->Verify(tokens[i], kNow, scratch, cache, &out) != VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
    hits += out.from_cache ? 1 : 0;
    if (++i == tokens.size()) {
      i = 0;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_ratio"] =
      static_cast<double>(hits) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
}
BENCHMARK(BM_Verify_CacheHit)->Arg(1)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace ringward::token

BENCHMARK_MAIN();
