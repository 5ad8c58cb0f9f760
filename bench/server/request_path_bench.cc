// The user-space cost of one GET /v1/verify on a shard, without the kernel: parse the request
// as wrk sends it (Host + Authorization: Bearer <398-byte HS256 token>), route, verify through
// the verified-token cache, check revocation, write the 200. 1024 distinct tokens rotate, as in
// `../shared/peers/measure` with 1000 tokens, so the cache is warm but its lines are not all
// in L1. The pieces are measured on their own too:
//   BM_Parse               the HTTP/1.1 parser on one request
//   BM_BearerToken         extracting the token from the Authorization value
//   BM_CacheLookup         XXH3 + the verified-token cache probe and comparison
//   BM_VerifyRequest       everything above plus the handler and response (what a shard does)
// Read BM_VerifyRequest against the server's CPU per request from peers/measure: the rest of
// that figure is the kernel (TCP, io_uring, scheduling).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verifier.h"
#include "server/handlers.h"
#include "server/metrics.h"
#include "server/response.h"
#include "server/serving_state.h"

namespace ringward::server {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://issuer.example";
constexpr int kPool = 1024;

// The claims of ../shared/peers/mint.py's tokens, so token and request sizes match the load.
std::string ClaimsJson(int i) {
  return absl::StrCat("{\"iss\":\"", kIssuer, "\",\"sub\":\"user-", i,
                      "\",\"aud\":\"edge-api\",\"exp\":", kNow + 86400, ",\"iat\":", kNow,
                      ",\"nbf\":", kNow - 10, ",\"jti\":\"b9aee13e-3323-49ff-88a7-",
                      100000000000 + i,
                      "\",\"scope\":\"read:orders write:orders\",\"client_id\":\"bench-client\"}");
}

struct Fixture {
  std::shared_ptr<token::KeySet> keys = std::make_shared<token::KeySet>();
  std::vector<std::string> tokens;
  std::vector<std::string> requests;  // as wrk formats them
  std::shared_ptr<ServingState> state = std::make_shared<ServingState>();

  Fixture() {
    (void)keys->Add(
        *token::Key::FromHmacSecret("peer-bench-secret-0123456789abcdef-0123456789", "hs-1"));
    state->config.tokens.issuers = {kIssuer};
    state->config.tokens.audiences = {"edge-api"};
    state->config.tokens.access_token_profile = false;
    state->config.tokens.cache_entries = 16384;
    state->keys = keys;
    state->verifier = *token::Verifier::Create(keys, PolicyFromConfig(state->config.tokens));
    for (int i = 0; i < kPool; ++i) {
      tokens.push_back(*token::SignCompact(*keys->Find("hs-1"), ClaimsJson(i), "JWT"));
      requests.push_back(absl::StrCat("GET /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:19088\r\n",
                                      "Authorization: Bearer ", tokens.back(), "\r\n\r\n"));
    }
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

void BM_Parse(benchmark::State& state) {
  Fixture& f = F();
  http::RequestParser parser{http::Limits()};
  http::Request req;
  size_t i = 0;
  for (auto _ : state) {
    const http::ParseResult r = parser.Parse(f.requests[i], &req);
    if (r.status != http::ParseStatus::kComplete) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(req.authorization);
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(f.requests[0].size()));
}
BENCHMARK(BM_Parse);

void BM_BearerToken(benchmark::State& state) {
  Fixture& f = F();
  std::vector<std::string> values;
  for (const std::string& t : f.tokens) {
    values.push_back("Bearer " + t);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(http::BearerToken(values[i]));
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BearerToken);

void BM_CacheLookup(benchmark::State& state) {
  Fixture& f = F();
  token::VerifyScratch scratch;
  token::VerifiedTokenCache cache(16384);
  token::VerifiedToken out;
  for (const std::string& t : f.tokens) {
    (void)f.state->verifier->Verify(t, kNow, scratch, cache, &out);
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string& t = f.tokens[i];
    if (!cache.Lookup(t, token::VerifiedTokenCache::Hash(t), &out)) {
      state.SkipWithError("cache miss");
      break;
    }
    benchmark::DoNotOptimize(out.sub);
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheLookup);

void BM_VerifyRequest(benchmark::State& state) {
  Fixture& f = F();
  ShardMetrics metrics[1];
  Handlers handlers(std::span<const ShardMetrics>(metrics, 1), &metrics[0]);
  handlers.SetState(f.state);
  HttpDate date;
  date.Update(kNow);
  HandlerContext ctx;
  ctx.now = kNow;
  http::RequestParser parser{http::Limits()};
  http::Request req;
  std::string out;
  out.reserve(64 * 1024);
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    const http::ParseResult r = parser.Parse(f.requests[i], &req);
    const Outcome outcome = handlers.Handle(req, ctx, date, &out);
    handlers.Commit(outcome);
    if (r.status != http::ParseStatus::kComplete || outcome.status != 200) {
      state.SkipWithError("request not answered 200");
      break;
    }
    i = (i + 1) & (kPool - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyRequest);

}  // namespace
}  // namespace ringward::server

BENCHMARK_MAIN();
