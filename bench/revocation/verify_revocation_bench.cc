// What the revocation check costs on the verify path (HS256, the fastest signature, so the
// check's share is the largest it can be). Each pair reads as a ratio:
//   BM_VerifyHS256_NoRevocationCheck      vs BM_VerifyHS256_RevocationCheck/<set>
//   BM_VerifyHS256Cached_NoRevocationCheck vs BM_VerifyHS256Cached_RevocationCheck/<set>
// where <set> is 0: an empty set, 1: one million jti revocations (none of them the tokens
// verified, the common case), 2: the same plus subject, client and kid revocations (every kind
// live, so the principal filter is probed too). The handler does exactly this: Verify, then
// IsRevoked on the verified token (server/handlers.cc). Tokens cycle through a pool of 1024
// distinct ones, so the filter probes touch different lines.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "concurrent/qsbr.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"

namespace ringward {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://issuer.example";
constexpr int kPool = 1024;
constexpr size_t kRevoked = 1'000'000;

std::string ClaimsJson(int i) {
  return absl::StrCat("{\"iss\":\"", kIssuer, "\",\"sub\":\"user-", i,
                      "\",\"aud\":\"edge-api\",\"exp\":", kNow + 86400, ",\"iat\":", kNow,
                      ",\"nbf\":", kNow - 10, ",\"jti\":\"8f14e45f-ceea-467f-a0e6-",
                      100000000000 + i,
                      "\",\"scope\":\"read:orders write:orders\",\"client_id\":\"bench-client\"}");
}

struct Fixture {
  std::shared_ptr<token::KeySet> keys = std::make_shared<token::KeySet>();
  std::unique_ptr<token::Verifier> verifier;
  std::vector<std::string> tokens;
  // One domain per set: this thread is reader 0 of each, online for the whole run.
  concurrent::QsbrDomain domains[3] = {concurrent::QsbrDomain(1), concurrent::QsbrDomain(1),
                                       concurrent::QsbrDomain(1)};
  std::unique_ptr<revocation::RevocationSet> sets[3];

  Fixture() {
    (void)keys->Add(
        *token::Key::FromHmacSecret("peer-bench-secret-0123456789abcdef-0123456789", "hs-1"));
    token::VerifyPolicy policy;
    policy.issuers = {kIssuer};
    policy.audiences = {"edge-api"};
    verifier = *token::Verifier::Create(keys, policy);
    for (int i = 0; i < kPool; ++i) {
      tokens.push_back(*token::SignCompact(*keys->Find("hs-1"), ClaimsJson(i), "at+jwt"));
    }
    std::mt19937_64 rng(7);
    for (int s = 0; s < 3; ++s) {
      revocation::RevocationSetOptions options;
      options.expected_revocations = kRevoked;
      options.hash_seed = 42;
      sets[s] = std::move(*revocation::RevocationSet::Create(options, &domains[s]));
      if (s == 0) {
        continue;
      }
      for (size_t i = 0; i < kRevoked; ++i) {
        (void)sets[s]->AddJti(absl::StrCat("revoked-", rng()), kNow + 86400);
      }
      if (s == 2) {
        for (int i = 0; i < 1000; ++i) {
          (void)sets[s]->AddSubjectBefore(absl::StrCat("gone-user-", i), kNow);
          (void)sets[s]->AddClientBefore(absl::StrCat("gone-client-", i), kNow);
        }
        (void)sets[s]->AddKid("retired-key");
      }
      sets[s]->Publish();
      domains[s].Online(0);
    }
    domains[0].Online(0);
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

void BM_VerifyHS256_NoRevocationCheck(benchmark::State& state) {
  Fixture& f = F();
  token::VerifyScratch scratch;
  token::VerifiedToken out;
  size_t i = 0;
  for (auto _ : state) {
    if (f.verifier->Verify(f.tokens[i], kNow, scratch, &out) != token::VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
    benchmark::DoNotOptimize(out.jti);
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyHS256_NoRevocationCheck);

void BM_VerifyHS256_RevocationCheck(benchmark::State& state) {
  Fixture& f = F();
  const int s = static_cast<int>(state.range(0));
  const revocation::RevocationSet& set = *f.sets[s];
  token::VerifyScratch scratch;
  token::VerifiedToken out;
  size_t i = 0;
  int64_t revoked = 0;
  for (auto _ : state) {
    if (f.verifier->Verify(f.tokens[i], kNow, scratch, &out) != token::VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
    revoked += set.IsRevoked(out) ? 1 : 0;
    i = (i + 1) & (kPool - 1);
  }
  f.domains[s].Quiescent(0);
  state.SetItemsProcessed(state.iterations());
  state.counters["revoked"] = static_cast<double>(revoked);
}
BENCHMARK(BM_VerifyHS256_RevocationCheck)->Arg(0)->Arg(1)->Arg(2);

void BM_VerifyHS256Cached_NoRevocationCheck(benchmark::State& state) {
  Fixture& f = F();
  token::VerifyScratch scratch;
  token::VerifiedTokenCache cache(kPool * 8);
  token::VerifiedToken out;
  for (const std::string& t : f.tokens) {
    f.verifier->Verify(t, kNow, scratch, cache, &out);
  }
  size_t i = 0;
  for (auto _ : state) {
    if (f.verifier->Verify(f.tokens[i], kNow, scratch, cache, &out) != token::VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
    benchmark::DoNotOptimize(out.jti);
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyHS256Cached_NoRevocationCheck);

void BM_VerifyHS256Cached_RevocationCheck(benchmark::State& state) {
  Fixture& f = F();
  const int s = static_cast<int>(state.range(0));
  const revocation::RevocationSet& set = *f.sets[s];
  token::VerifyScratch scratch;
  token::VerifiedTokenCache cache(kPool * 8);
  token::VerifiedToken out;
  for (const std::string& t : f.tokens) {
    f.verifier->Verify(t, kNow, scratch, cache, &out);
  }
  size_t i = 0;
  int64_t revoked = 0;
  for (auto _ : state) {
    if (f.verifier->Verify(f.tokens[i], kNow, scratch, cache, &out) != token::VerifyReason::kOk) {
      state.SkipWithError("verify failed");
      break;
    }
    revoked += set.IsRevoked(out) ? 1 : 0;
    i = (i + 1) & (kPool - 1);
  }
  f.domains[s].Quiescent(0);
  state.SetItemsProcessed(state.iterations());
  state.counters["revoked"] = static_cast<double>(revoked);
}
BENCHMARK(BM_VerifyHS256Cached_RevocationCheck)->Arg(0)->Arg(1)->Arg(2);

}  // namespace
}  // namespace ringward

BENCHMARK_MAIN();
