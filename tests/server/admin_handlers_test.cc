// The admin API on parsed requests: strict revocation bodies, authentication before anything
// else, the routes and their errors, a revocation round trip through a real ControlPlane, and
// the verify path refusing a token revoked after it was cached.
#include "server/admin_handlers.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ringward/base/percent.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "server/handlers.h"
#include "server/router.h"

namespace ringward::server {
namespace {

using revocation::Revocation;
using revocation::RevocationKind;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;

constexpr char kToken[] = "admin-token-for-tests-0123456789";
constexpr char kIssuer[] = "https://issuer.test";

// --- RevocationBodyParser ---

std::string ParseError(const std::string& body, size_t max = 10) {
  RevocationBodyParser parser;
  std::vector<Revocation> out;
  absl::Status s = parser.Parse(body, max, &out);
  EXPECT_FALSE(s.ok()) << body;
  return std::string(s.message());
}

TEST(RevocationBodyParserTest, AcceptsEveryFormAndTheBulkForm) {
  RevocationBodyParser parser;
  std::vector<Revocation> out;
  ASSERT_TRUE(parser.Parse(R"({"jti":"j1","exp":1700000000})", 10, &out).ok());
  EXPECT_EQ(out, (std::vector<Revocation>{{RevocationKind::kJti, "j1", 1700000000}}));
  ASSERT_TRUE(parser.Parse(R"({"before":5,"sub":"alice"})", 10, &out).ok());
  EXPECT_EQ(out, (std::vector<Revocation>{{RevocationKind::kSubject, "alice", 5}}));
  ASSERT_TRUE(parser.Parse(R"({"client_id":"web","before":0})", 10, &out).ok());
  EXPECT_EQ(out, (std::vector<Revocation>{{RevocationKind::kClient, "web", 0}}));
  ASSERT_TRUE(parser.Parse(R"( {"kid":"k\u00e9"} )", 10, &out).ok());
  EXPECT_EQ(out, (std::vector<Revocation>{{RevocationKind::kKid, "k\xc3\xa9", 0}}));
  ASSERT_TRUE(
      parser
          .Parse(R"({"revocations":[{"jti":"a","exp":9},{"kid":"b"},{"sub":"c","before":1}]})", 10,
                 &out)
          .ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1], (Revocation{RevocationKind::kKid, "b", 0}));
}

TEST(RevocationBodyParserTest, RefusesWhatIsNotExactlyOneRevocation) {
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":1,"jti":"b"})"), HasSubstr("not one strict JSON"));
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":1} x)"), HasSubstr("not one strict JSON"));
  EXPECT_THAT(ParseError("[1]"), HasSubstr("must be a JSON object"));
  EXPECT_THAT(ParseError(R"({"jti":"a"})"), HasSubstr("exp is required with jti"));
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":1.5})"), HasSubstr("exp must be an integer"));
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":"1"})"), HasSubstr("exp must be an integer"));
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":18446744073709551615})"), HasSubstr("too large"));
  EXPECT_THAT(ParseError(R"({"jti":"a","exp":0})"), HasSubstr("exp must be the token's expiry"));
  EXPECT_THAT(ParseError(R"({"jti":"","exp":5})"), HasSubstr("jti must not be empty"));
  EXPECT_THAT(ParseError(R"({"jti":5,"exp":5})"), HasSubstr("jti must be a string"));
  EXPECT_THAT(ParseError(R"({"jti":"a","sub":"b","exp":5})"), HasSubstr("exactly one of"));
  EXPECT_THAT(ParseError(R"({"sub":"a"})"), HasSubstr("before is required with sub"));
  EXPECT_THAT(ParseError(R"({"sub":"a","before":1,"exp":2})"), HasSubstr("exp does not go"));
  EXPECT_THAT(ParseError(R"({"kid":"a","before":1})"), HasSubstr("takes no exp or before"));
  EXPECT_THAT(ParseError(R"({"kid":"a","why":"x"})"), HasSubstr("unknown member \"why\""));
  EXPECT_THAT(ParseError(R"({"revocations":[]})"), HasSubstr("must not be empty"));
  EXPECT_THAT(ParseError(R"({"revocations":{}})"), HasSubstr("must be an array"));
  EXPECT_THAT(ParseError(R"({"revocations":[{"kid":"a"}],"kid":"b"})"),
              HasSubstr("must be the only member"));
  EXPECT_THAT(ParseError(R"({"revocations":[{"kid":"a"},{"kid":"b","exp":1}]})"),
              StartsWith("revocations[1]: a kid revocation takes no exp"));
  RevocationBodyParser parser;
  std::vector<Revocation> out;
  absl::Status too_many =
      parser.Parse(R"({"revocations":[{"kid":"a"},{"kid":"b"},{"kid":"c"}]})", 2, &out);
  EXPECT_EQ(too_many.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(too_many.message()), HasSubstr("at most 2"));
}

TEST(PercentDecodeTest, DecodesEscapesAndRefusesBrokenOnes) {
  std::string out;
  ASSERT_TRUE(PercentDecode("a%2Fb%20c+d", &out));
  EXPECT_EQ(out, "a/b c+d");
  EXPECT_FALSE(PercentDecode("a%2", &out));
  EXPECT_FALSE(PercentDecode("a%zz", &out));
  EXPECT_FALSE(PercentDecode("%", &out));
}

TEST(AdminRoutesTest, AdminPathsDoNotExistOnThePublicListener) {
  for (const char* path : {"/admin/revocations", "/admin/revocations/x", "/admin/wal"}) {
    for (const http::Method m : {http::Method::kGet, http::Method::kPost}) {
      EXPECT_EQ(MatchRoute(path, m, true).route, Route::kNotFound) << path;
    }
  }
}

// --- AdminHandlers with a real control plane ---

class AdminHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/admin_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ControlPlaneOptions o;
    o.wal_dir = dir_ + "/wal";
    o.set.expected_revocations = 4096;
    o.set.expected_principal_revocations = 64;
    o.shards = 1;
    o.channel_capacity = 4;
    o.compaction_interval = std::chrono::seconds(0);
    o.compaction_segments = 0;
    o.bulk_max = 3;
    auto token = AdminToken::FromString(kToken, "test");
    ASSERT_TRUE(token.ok());
    o.admin_token = std::make_unique<AdminToken>(*token);
    auto cp = ControlPlane::Open(std::move(o));
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
    ASSERT_TRUE(cp_->Start().ok());
    admin_ = std::make_unique<AdminHandlers>(
        0, cp_.get(), std::span<const ShardMetrics>(metrics_, 1), &metrics_[0]);
    date_.Update(1767225600);
    // This thread is shard 0: an online reader of the revocation set.
    cp_->qsbr().Online(0);
  }

  void TearDown() override {
    cp_->qsbr().Offline(0);
    admin_.reset();
    cp_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Send handles one raw request; a deferred one is answered by the control plane, waited for
  // here as a shard would (passing quiescent states while it waits).
  std::string Send(const std::string& raw) {
    raw_ = raw;
    const http::ParseResult r = http::ParseRequest(raw_, http::Limits(), &request_);
    EXPECT_EQ(r.status, http::ParseStatus::kComplete) << raw;
    std::string out;
    HandlerContext ctx;
    const AdminHandlers::Result result = admin_->Handle(request_, ctx, date_, 5, 1, &out);
    if (!result.deferred) {
      admin_->Commit(result.outcome);
      return out;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.empty() && std::chrono::steady_clock::now() < deadline) {
      cp_->qsbr().Quiescent(0);
      if (cp_->channel(0).HasResponses()) {
        cp_->channel(0).TakeResponses([&](ControlResponse& response) {
          EXPECT_EQ(response.conn_index, 5u);
          admin_->Commit(admin_->Render(response, date_, &out));
        });
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    return out;
  }

  std::string Request(const std::string& method, const std::string& path,
                      const std::string& auth = kToken, const std::string& body = "",
                      const std::string& content_type = "application/json") {
    std::string raw = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: x\r\n");
    if (!auth.empty()) {
      absl::StrAppend(&raw, "Authorization: Bearer ", auth, "\r\n");
    }
    if (!body.empty()) {
      if (!content_type.empty()) {
        absl::StrAppend(&raw, "Content-Type: ", content_type, "\r\n");
      }
      absl::StrAppend(&raw, "Content-Length: ", body.size(), "\r\n");
    }
    absl::StrAppend(&raw, "\r\n", body);
    return Send(raw);
  }

  static std::string Body(const std::string& response) {
    return response.substr(response.find("\r\n\r\n") + 4);
  }

  std::string dir_;
  std::unique_ptr<ControlPlane> cp_;
  ShardMetrics metrics_[1];
  std::unique_ptr<AdminHandlers> admin_;
  HttpDate date_;
  std::string raw_;
  http::Request request_;
};

TEST_F(AdminHandlersTest, EveryRouteNeedsTheAdminToken) {
  for (const char* path : {"/admin/revocations/x", "/admin/wal", "/metrics", "/nope"}) {
    std::string r = Request("GET", path, "");
    EXPECT_THAT(r, StartsWith("HTTP/1.1 401 ")) << path;
    EXPECT_THAT(r, HasSubstr("\r\nWWW-Authenticate: Bearer realm=\"ringward-admin\"\r\n"));
    r = Request("GET", path, "admin-token-for-tests-0123456780");
    EXPECT_THAT(r, StartsWith("HTTP/1.1 401 ")) << path;
    EXPECT_THAT(r, HasSubstr("error=\"invalid_token\""));
  }
  EXPECT_THAT(Request("POST", "/admin/revocations", "", R"({"kid":"k"})"),
              StartsWith("HTTP/1.1 401 "));
  EXPECT_EQ(metrics_[0].requests[static_cast<size_t>(Route::kAdminRevoke)][StatusSlot(401)].Value(),
            1u);
}

TEST_F(AdminHandlersTest, RevokeThenLookUp) {
  EXPECT_THAT(Request("GET", "/admin/revocations/abc%2Fdef"), StartsWith("HTTP/1.1 404 "));
  std::string r =
      Request("POST", "/admin/revocations", kToken, R"({"jti":"abc/def","exp":4000000000})");
  ASSERT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(r, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(Body(r), "{\"revoked\":1,\"lsn\":1}\n");
  r = Request("GET", "/admin/revocations/abc%2Fdef");
  ASSERT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(Body(r), "{\"kind\":\"jti\",\"jti\":\"abc/def\",\"exp\":4000000000}\n");

  ASSERT_THAT(Request("POST", "/admin/revocations", kToken,
                      R"({"revocations":[{"sub":"alice","before":77},{"kid":"k1"}]})"),
              StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(Body(Request("GET", "/admin/revocations/alice?kind=subject")),
            "{\"kind\":\"subject\",\"sub\":\"alice\",\"before\":77}\n");
  EXPECT_EQ(Body(Request("GET", "/admin/revocations/k1?kind=kid")),
            "{\"kind\":\"kid\",\"kid\":\"k1\"}\n");
  EXPECT_THAT(Request("GET", "/admin/revocations/k1?kind=nope"), StartsWith("HTTP/1.1 400 "));
  EXPECT_EQ(metrics_[0].requests[static_cast<size_t>(Route::kAdminRevoke)][StatusSlot(200)].Value(),
            2u);
}

TEST_F(AdminHandlersTest, ClearErrorsForBadRequests) {
  std::string r = Request("POST", "/admin/revocations", kToken, R"({"jti":"a"})");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(Body(r), HasSubstr("{\"error\":\"exp is required with jti"));
  r = Request("POST", "/admin/revocations", kToken,
              R"({"revocations":[{"kid":"a"},{"kid":"b"},{"kid":"c"},{"kid":"d"}]})");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 413 "));
  r = Request("POST", "/admin/revocations", kToken, "jti=a", "application/x-www-form-urlencoded");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 415 "));
  r = Request("GET", "/admin/revocations");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(r, HasSubstr("\r\nAllow: POST\r\n"));
  EXPECT_THAT(Request("DELETE", "/admin/wal"), StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(Request("GET", "/admin/nothing"), StartsWith("HTTP/1.1 404 "));
}

TEST_F(AdminHandlersTest, WalStatusAndMetrics) {
  ASSERT_THAT(Request("POST", "/admin/revocations", kToken, R"({"kid":"k"})"),
              StartsWith("HTTP/1.1 200 "));
  std::string r = Request("GET", "/admin/wal");
  ASSERT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(Body(r), HasSubstr("\"healthy\":true"));
  EXPECT_THAT(Body(r), HasSubstr("\"durable_lsn\":1"));
  EXPECT_THAT(Body(r), HasSubstr("\"segments\":[{\"name\":\"wal-00000000000000000001.log\""));
  r = Request("GET", "/metrics");
  ASSERT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(r, HasSubstr("\nringward_revocations_total{kind=\"kid\"} 1\n"));
  EXPECT_THAT(r, HasSubstr("\nringward_wal_healthy 1\n"));
  EXPECT_THAT(r,
              HasSubstr("\nringward_http_requests_total{route=\"admin_revoke\",status=\"200\"}"));
}

TEST_F(AdminHandlersTest, VerifyRefusesACachedTokenOnceItIsRevoked) {
  auto key = token::Key::Generate(token::Algorithm::kEdDSA, "k1");
  ASSERT_TRUE(key.ok());
  const token::Key* signer = key->get();
  auto keys = std::make_shared<token::KeySet>();
  ASSERT_TRUE(keys->Add(*std::move(key)).ok());
  auto state = std::make_shared<ServingState>();
  state->config.tokens.issuers = {kIssuer};
  state->config.tokens.access_token_profile = false;
  state->config.tokens.cache_entries = 64;
  state->keys = keys;
  auto verifier = token::Verifier::Create(keys, PolicyFromConfig(state->config.tokens));
  ASSERT_TRUE(verifier.ok());
  state->verifier = *std::move(verifier);
  Handlers verify(std::span<const ShardMetrics>(metrics_, 1), &metrics_[0]);
  verify.SetState(state);
  verify.SetControlPlane(cp_.get());
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto minted = token::SignCompact(
      *signer,
      absl::StrCat("{\"iss\":\"", kIssuer, "\",\"sub\":\"u\",\"jti\":\"tok-1\",\"exp\":", now + 600,
                   "}"),
      "JWT");
  ASSERT_TRUE(minted.ok());
  const std::string other = *token::SignCompact(
      *signer,
      absl::StrCat("{\"iss\":\"", kIssuer, "\",\"sub\":\"u\",\"jti\":\"tok-2\",\"exp\":", now + 600,
                   "}"),
      "JWT");
  auto get = [&](const std::string& t) {
    raw_ =
        absl::StrCat("GET /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", t, "\r\n\r\n");
    EXPECT_EQ(http::ParseRequest(raw_, http::Limits(), &request_).status,
              http::ParseStatus::kComplete);
    std::string out;
    HandlerContext ctx;
    ctx.now = now;
    verify.Commit(verify.Handle(request_, ctx, date_, &out));
    return out;
  };
  ASSERT_THAT(get(*minted), StartsWith("HTTP/1.1 200 "));  // verified and cached
  ASSERT_THAT(get(*minted), StartsWith("HTTP/1.1 200 "));  // a cache hit
  const uint64_t hits = metrics_[0].cache_hits.Value();
  EXPECT_EQ(hits, 1u);
  ASSERT_THAT(Request("POST", "/admin/revocations", kToken,
                      absl::StrCat("{\"jti\":\"tok-1\",\"exp\":", now + 600, "}")),
              StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(get(*minted), StartsWith("HTTP/1.1 401 "));
  EXPECT_EQ(metrics_[0].cache_hits.Value(), hits + 1);  // refused on the cache-hit path
  EXPECT_EQ(metrics_[0].verify[static_cast<size_t>(token::VerifyReason::kRevoked)].Value(), 1u);
  EXPECT_THAT(get(other), StartsWith("HTTP/1.1 200 "));
  // Subject-wide: tokens without iat cannot show they are newer, so both fall.
  ASSERT_THAT(Request("POST", "/admin/revocations", kToken,
                      absl::StrCat("{\"sub\":\"u\",\"before\":", now, "}")),
              StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(get(other), StartsWith("HTTP/1.1 401 "));
}

}  // namespace
}  // namespace ringward::server
