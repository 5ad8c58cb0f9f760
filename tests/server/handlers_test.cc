// Handlers end to end on parsed requests: what GET/POST /v1/verify and the other endpoints
// answer, what they count, and that no claim can smuggle a header into a response.
#include "server/handlers.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"

namespace ringward::server {
namespace {

constexpr char kIssuer[] = "https://issuer.test";
constexpr int64_t kNow = 1767225600;

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = token::Key::Generate(token::Algorithm::kEdDSA, "k1");
    ASSERT_TRUE(key.ok());
    key_ = key->get();
    auto keys = std::make_shared<token::KeySet>();
    ASSERT_TRUE(keys->Add(*std::move(key)).ok());
    keys_ = keys;
    date_.Update(kNow);
    SetState({});
  }

  void SetState(std::vector<std::pair<std::string, std::string>> claim_headers,
                size_t cache_entries = 64, size_t bulk_max = 100) {
    auto state = std::make_shared<ServingState>();
    state->config.tokens.issuers = {kIssuer};
    state->config.tokens.access_token_profile = false;
    state->config.tokens.cache_entries = cache_entries;
    state->config.tokens.bulk_max_tokens = bulk_max;
    state->keys = keys_;
    auto verifier = token::Verifier::Create(keys_, PolicyFromConfig(state->config.tokens));
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    state->verifier = *std::move(verifier);
    state->jwks_json = keys_->ToJwks(false);
    for (const auto& [claim, header] : claim_headers) {
      state->claim_headers.push_back(ClaimHeader{claim, header + ": "});
    }
    handlers_.SetState(state);
  }

  std::string Mint(const std::string& extra_claims) {
    const std::string claims = absl::StrCat("{\"iss\":\"", kIssuer, "\",\"exp\":", kNow + 600,
                                            extra_claims.empty() ? "" : ",", extra_claims, "}");
    auto token = token::SignCompact(*key_, claims, "JWT");
    EXPECT_TRUE(token.ok());
    return *token;
  }

  // Send parses |raw| (one complete request), handles it and commits the outcome.
  std::string Send(const std::string& raw) {
    raw_ = raw;
    const http::ParseResult r = http::ParseRequest(raw_, http::Limits(), &request_);
    EXPECT_EQ(r.status, http::ParseStatus::kComplete) << raw;
    std::string out;
    HandlerContext ctx;
    ctx.now = kNow;
    const Outcome outcome = handlers_.Handle(request_, ctx, date_, &out);
    handlers_.Commit(outcome);
    return out;
  }

  std::string Get(const std::string& path, const std::string& authorization = "") {
    std::string raw = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n");
    if (!authorization.empty()) {
      absl::StrAppend(&raw, "Authorization: ", authorization, "\r\n");
    }
    raw.append("\r\n");
    return Send(raw);
  }

  std::string Post(const std::string& content_type, const std::string& body) {
    std::string raw = "POST /v1/verify HTTP/1.1\r\nHost: x\r\n";
    if (!content_type.empty()) {
      absl::StrAppend(&raw, "Content-Type: ", content_type, "\r\n");
    }
    absl::StrAppend(&raw, "Content-Length: ", body.size(), "\r\n\r\n", body);
    return Send(raw);
  }

  static std::string Body(const std::string& response) {
    return response.substr(response.find("\r\n\r\n") + 4);
  }

  uint64_t Outcomes(size_t i) const { return metrics_[0].verify[i].Value(); }

  const token::Key* key_ = nullptr;
  std::shared_ptr<const token::KeySet> keys_;
  ShardMetrics metrics_[1];
  Handlers handlers_{std::span<const ShardMetrics>(metrics_, 1), &metrics_[0]};
  HttpDate date_;
  std::string raw_;
  http::Request request_;
};

TEST_F(HandlersTest, ValidTokenGets200WithIdentityHeaders) {
  const std::string token = Mint(R"("sub":"alice","client_id":"web","scope":"read write")");
  const std::string out = Get("/v1/verify", "Bearer " + token);
  EXPECT_EQ(out.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  EXPECT_NE(out.find("\r\nX-Auth-Subject: alice\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Auth-Client: web\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nX-Auth-Scope: read write\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 0\r\n\r\n"), std::string::npos);
  EXPECT_EQ(Outcomes(0), 1u);
  EXPECT_EQ(metrics_[0].requests[0][StatusSlot(200)].Value(), 1u);
}

TEST_F(HandlersTest, SchemeIsCaseInsensitiveAndSecondRequestHitsTheCache) {
  const std::string token = Mint(R"("sub":"alice")");
  EXPECT_EQ(Get("/v1/verify", "bearer " + token).substr(9, 3), "200");
  EXPECT_EQ(Get("/v1/verify", "BEARER " + token).substr(9, 3), "200");
  EXPECT_EQ(metrics_[0].cache_misses.Value(), 1u);
  EXPECT_EQ(metrics_[0].cache_hits.Value(), 1u);
}

TEST_F(HandlersTest, MissingOrForeignCredentialsGetRealmWithoutError) {
  for (const char* auth : {"", "Basic dXNlcjpwYXNz"}) {
    const std::string out = Get("/v1/verify", auth);
    EXPECT_EQ(out.substr(0, 25), "HTTP/1.1 401 Unauthorized");
    EXPECT_NE(out.find("\r\nWWW-Authenticate: Bearer realm=\"ringward\"\r\n"), std::string::npos);
    EXPECT_EQ(out.find("error="), std::string::npos);
  }
  EXPECT_EQ(Outcomes(kOutcomeMissingToken), 2u);
}

TEST_F(HandlersTest, InvalidTokensGetInvalidTokenWithoutDetail) {
  const std::string good = Mint(R"("sub":"alice")");
  std::string tampered = good;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  const std::string expired = [&] {
    auto t = token::SignCompact(*key_, absl::StrCat("{\"iss\":\"", kIssuer, "\",\"exp\":1}"), "");
    return *t;
  }();
  for (const std::string& auth : {"Bearer " + tampered, "Bearer " + expired,
                                  std::string("Bearer"), std::string("Bearer a b")}) {
    const std::string out = Get("/v1/verify", auth);
    EXPECT_EQ(out.substr(0, 25), "HTTP/1.1 401 Unauthorized") << auth;
    EXPECT_NE(out.find("\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n"),
              std::string::npos);
    EXPECT_EQ(out.find("signature"), std::string::npos);
    EXPECT_EQ(out.find("expired"), std::string::npos);
  }
  EXPECT_EQ(Outcomes(static_cast<size_t>(token::VerifyReason::kBadSignature)), 1u);
  EXPECT_EQ(Outcomes(static_cast<size_t>(token::VerifyReason::kExpired)), 1u);
  EXPECT_EQ(Outcomes(static_cast<size_t>(token::VerifyReason::kMalformed)), 2u);
}

TEST_F(HandlersTest, SubjectWithCrLfIsRefusedAndNeverWritten) {
  const std::string token = Mint(R"("sub":"alice\r\nX-Evil: 1")");
  for (int i = 0; i < 2; ++i) {  // full verification, then a cache hit
    const std::string out = Get("/v1/verify", "Bearer " + token);
    EXPECT_EQ(out.substr(9, 3), "401");
    EXPECT_EQ(out.find("X-Evil"), std::string::npos);
    EXPECT_EQ(out.find("alice"), std::string::npos);
  }
  EXPECT_EQ(Outcomes(kOutcomeUnsafeClaim), 2u);
  EXPECT_EQ(Body(Post("text/plain", token)), "invalid\n");
}

TEST_F(HandlersTest, ClaimHeadersWorkOnCacheMissAndHit) {
  SetState({{"tenant", "X-Tenant"}, {"roles", "X-Roles"}, {"level", "X-Level"},
            {"note", "X-Note"}, {"absent", "X-Absent"}});
  const std::string token =
      Mint(R"("sub":"alice","tenant":"acme","roles":["a","b"],"level":3,"note":"x\r\nX-Evil: 1")");
  for (int i = 0; i < 3; ++i) {
    const std::string out = Get("/v1/verify", "Bearer " + token);
    EXPECT_EQ(out.substr(9, 3), "200") << out;
    EXPECT_NE(out.find("\r\nX-Tenant: acme\r\n"), std::string::npos) << i << out;
    EXPECT_NE(out.find("\r\nX-Roles: a,b\r\n"), std::string::npos) << i;
    EXPECT_NE(out.find("\r\nX-Level: 3\r\n"), std::string::npos) << i;
    EXPECT_EQ(out.find("X-Note"), std::string::npos) << i;
    EXPECT_EQ(out.find("X-Evil"), std::string::npos) << i;
    EXPECT_EQ(out.find("X-Absent"), std::string::npos) << i;
  }
  EXPECT_EQ(metrics_[0].cache_hits.Value(), 2u);
  EXPECT_EQ(metrics_[0].claim_headers_omitted.Value(), 1u);
}

TEST_F(HandlersTest, ClaimHeadersWithoutTheirCacheEntryVerifyAgain) {
  // The claim-header cache is cleared by SetState while the verified cache is not (same
  // verifier), so the next request is a verified-cache hit with no rendered lines to reuse.
  SetState({{"tenant", "X-Tenant"}});
  const std::string token = Mint(R"("sub":"alice","tenant":"acme")");
  EXPECT_NE(Get("/v1/verify", "Bearer " + token).find("X-Tenant: acme"), std::string::npos);
  SetState({{"tenant", "X-Org"}});
  const std::string out = Get("/v1/verify", "Bearer " + token);
  EXPECT_NE(out.find("\r\nX-Org: acme\r\n"), std::string::npos) << out;
}

TEST_F(HandlersTest, HeadOmitsBody) {
  raw_ = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string out = Send(raw_);
  EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_EQ(Body(out), "");
  EXPECT_EQ(Body(Get("/healthz")), "ok\n");
}

TEST_F(HandlersTest, NotFoundAndMethodNotAllowed) {
  EXPECT_EQ(Get("/nope").substr(9, 3), "404");
  const std::string out = Send("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.substr(9, 3), "405");
  EXPECT_NE(out.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  const std::string put = Send("PUT /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(put.find("\r\nAllow: GET, HEAD, POST\r\n"), std::string::npos);
}

TEST_F(HandlersTest, BulkTextAnswersEachLineInOrder) {
  const std::string a = Mint(R"("sub":"alice")");
  const std::string b = Mint(R"("sub":"bob")");
  const std::string out = Post("text/plain", a + "\nnot-a-token\n" + b + "\n\n" + a + "\n");
  EXPECT_EQ(out.substr(9, 3), "200");
  EXPECT_EQ(Body(out), "ok alice\ninvalid\nok bob\ninvalid\nok alice\n");
}

TEST_F(HandlersTest, BulkJson) {
  const std::string a = Mint(R"("sub":"alice","client_id":"web","scope":"read")");
  const std::string out = Post("application/json", "{\"tokens\":[\"" + a + "\",\"x.y.z\"]}");
  EXPECT_EQ(out.substr(9, 3), "200");
  EXPECT_NE(out.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(Body(out), absl::StrCat("{\"results\":[{\"valid\":true,\"sub\":\"alice\",\"client_id\":"
                                    "\"web\",\"scope\":\"read\",\"exp\":",
                                    kNow + 600, "},{\"valid\":false}]}\n"));
}

TEST_F(HandlersTest, BulkLimitsAndErrors) {
  SetState({}, 64, /*bulk_max=*/2);
  EXPECT_EQ(Post("text/plain", "a\nb\nc\n").substr(9, 3), "413");
  EXPECT_NE(Body(Post("text/plain", "a\nb\nc\n")).find("at most 2"), std::string::npos);
  EXPECT_EQ(Post("text/plain", "").substr(9, 3), "400");
  EXPECT_EQ(Post("application/json", "{").substr(9, 3), "400");
  EXPECT_EQ(Post("application/xml", "<x/>").substr(9, 3), "415");
}

TEST_F(HandlersTest, JwksIsPublic) {
  const std::string out = Get("/.well-known/jwks.json");
  EXPECT_NE(out.find("Cache-Control: public, max-age=300\r\n"), std::string::npos);
  EXPECT_NE(Body(out).find("\"kid\":\"k1\""), std::string::npos);
  EXPECT_EQ(Body(out).find("\"d\""), std::string::npos);
}

TEST_F(HandlersTest, MetricsExposeCountersPerShardAndInTotal) {
  Get("/v1/verify");
  const std::string token = Mint(R"("sub":"alice")");
  Get("/v1/verify", "Bearer " + token);
  const std::string body = Body(Get("/metrics"));
  EXPECT_NE(body.find("ringward_http_requests_total{route=\"verify\",status=\"401\"} 1\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("ringward_http_requests_total{shard=\"0\",route=\"verify\",status=\"200\"} 1\n"),
            std::string::npos);
  EXPECT_NE(body.find("ringward_verify_total{reason=\"missing_token\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("ringward_verify_total{reason=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("ringward_verify_total{shard=\"0\",reason=\"bad_signature\"} 0\n"),
            std::string::npos);
  EXPECT_NE(body.find("# TYPE ringward_open_connections gauge\n"), std::string::npos);
  EXPECT_NE(body.find("ringward_verify_cache_misses_total 1\n"), std::string::npos);
}

TEST_F(HandlersTest, DiscardForgetsTheTally) {
  const std::string token = Mint(R"("sub":"alice")");
  raw_ = absl::StrCat("GET /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", token,
                      "\r\n\r\n");
  ASSERT_EQ(http::ParseRequest(raw_, http::Limits(), &request_).status,
            http::ParseStatus::kComplete);
  std::string out;
  handlers_.Handle(request_, HandlerContext{kNow}, date_, &out);
  handlers_.Discard();
  EXPECT_EQ(Outcomes(0), 0u);
  EXPECT_EQ(metrics_[0].requests[0][StatusSlot(200)].Value(), 0u);
}

TEST_F(HandlersTest, ParseErrorsAnswerWithTheMappedStatusAndClose) {
  std::string out;
  const Outcome o = handlers_.HandleParseError(http::ParseStatus::kHeadTooLarge, date_, &out);
  EXPECT_EQ(o.status, 431);
  EXPECT_EQ(o.route, Route::kInvalid);
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 431");
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ringward::server
