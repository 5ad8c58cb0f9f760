// Fuzzes the whole verification pipeline: compact splitting, strict base64url, header and claims
// parsing, key selection and signature checks, with and without the verified-token cache.
//
// The key set holds one key of every algorithm. The input is taken as a token as-is, and also
// re-signed with the HS256 key so the fuzzer reaches the claims parser with a valid signature.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ringward/base/base64url.h"
#include "ringward/token/key.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"

namespace {

using ringward::token::Algorithm;
using ringward::token::Key;
using ringward::token::KeySet;
using ringward::token::VerifiedToken;
using ringward::token::VerifiedTokenCache;
using ringward::token::Verifier;
using ringward::token::VerifyReason;
using ringward::token::VerifyScratch;

struct Fixture {
  std::unique_ptr<Verifier> verifier;
  const Key* hmac = nullptr;
  VerifyScratch scratch;
  VerifiedTokenCache cache{64};

  Fixture() {
    auto keys = std::make_shared<KeySet>();
    const Algorithm algs[] = {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256,
                              Algorithm::kPS256};
    const char* kids[] = {"ed", "es", "rs", "ps"};
    for (int i = 0; i < 4; ++i) {
      if (!keys->Add(*Key::Generate(algs[i], kids[i])).ok()) {
        __builtin_trap();
      }
    }
    if (!keys->Add(*Key::FromHmacSecret(std::string(32, 'k'), "hs")).ok()) {
      __builtin_trap();
    }
    hmac = keys->Find("hs");
    ringward::token::VerifyPolicy policy;
    policy.issuers = {"https://issuer.example"};
    policy.audiences = {"api"};
    verifier = *Verifier::Create(keys, policy);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr int64_t kNow = 1700000000;
  VerifiedToken out;

  // 1. The input as a token.
  const VerifyReason direct = fixture->verifier->Verify(input, kNow, fixture->scratch, &out);
  const VerifyReason cached =
      fixture->verifier->Verify(input, kNow, fixture->scratch, fixture->cache, &out);
  if (direct != cached) {
    __builtin_trap();  // the cache must never change a verdict
  }

  // 2. The input split at the first 0xff byte into header and claims JSON, HS256-signed, so the
  //    JSON parsers see arbitrary text behind a valid signature.
  const size_t cut = input.find('\xff');
  if (cut != std::string_view::npos && fixture->hmac != nullptr) {
    std::string signing_input = ringward::Base64UrlEncode(input.substr(0, cut)) + "." +
                                ringward::Base64UrlEncode(input.substr(cut + 1));
    std::string signature;
    if (fixture->hmac->Sign(signing_input, &signature).ok()) {
      const std::string token = signing_input + "." + ringward::Base64UrlEncode(signature);
      const VerifyReason r = fixture->verifier->Verify(token, kNow, fixture->scratch, &out);
      if (r == VerifyReason::kOk && (out.iss != "https://issuer.example")) {
        __builtin_trap();  // accepted a token from an untrusted issuer
      }
    }
  }
  return 0;
}
