#include "server/router.h"

#include "gtest/gtest.h"

namespace ringward::server {
namespace {

using http::Method;

TEST(MatchRouteTest, VerifyByMethod) {
  EXPECT_EQ(MatchRoute("/v1/verify", Method::kGet, true).route, Route::kVerify);
  EXPECT_EQ(MatchRoute("/v1/verify", Method::kHead, true).route, Route::kVerify);
  EXPECT_TRUE(MatchRoute("/v1/verify", Method::kHead, true).method_allowed);
  EXPECT_EQ(MatchRoute("/v1/verify", Method::kPost, true).route, Route::kVerifyBulk);
  const RouteMatch put = MatchRoute("/v1/verify", Method::kPut, true);
  EXPECT_FALSE(put.method_allowed);
  EXPECT_EQ(put.allow, "GET, HEAD, POST");
}

TEST(MatchRouteTest, ForwardAuthPrefixAcceptsAnyMethod) {
  // Envoy ext_authz keeps the method and appends the original path.
  for (const Method m : {Method::kGet, Method::kPost, Method::kDelete, Method::kUnknown}) {
    const RouteMatch r = MatchRoute("/v1/verify/api/orders", m, true);
    EXPECT_EQ(r.route, Route::kVerify);
    EXPECT_TRUE(r.method_allowed);
  }
  EXPECT_EQ(MatchRoute("/v1/verify/", Method::kPost, true).route, Route::kVerify);
  EXPECT_EQ(MatchRoute("/v1/verifyx", Method::kGet, true).route, Route::kNotFound);
}

TEST(MatchRouteTest, ReadOnlyEndpoints) {
  EXPECT_EQ(MatchRoute("/.well-known/jwks.json", Method::kGet, true).route, Route::kJwks);
  EXPECT_EQ(MatchRoute("/healthz", Method::kGet, true).route, Route::kHealthz);
  EXPECT_EQ(MatchRoute("/readyz", Method::kHead, true).route, Route::kReadyz);
  EXPECT_EQ(MatchRoute("/metrics", Method::kGet, true).route, Route::kMetrics);
  const RouteMatch post = MatchRoute("/healthz", Method::kPost, true);
  EXPECT_EQ(post.route, Route::kHealthz);
  EXPECT_FALSE(post.method_allowed);
  EXPECT_EQ(post.allow, "GET, HEAD");
}

TEST(MatchRouteTest, UnknownPathsAndDisabledMetricsAreNotFound) {
  EXPECT_EQ(MatchRoute("/", Method::kGet, true).route, Route::kNotFound);
  EXPECT_EQ(MatchRoute("/healthz/", Method::kGet, true).route, Route::kNotFound);
  EXPECT_EQ(MatchRoute("/HEALTHZ", Method::kGet, true).route, Route::kNotFound);
  EXPECT_EQ(MatchRoute("/metrics", Method::kGet, false).route, Route::kNotFound);
}

TEST(RouteNameTest, NamesAreStableLabels) {
  EXPECT_EQ(RouteName(Route::kVerify), "verify");
  EXPECT_EQ(RouteName(Route::kVerifyBulk), "verify_bulk");
  EXPECT_EQ(RouteName(Route::kInvalid), "invalid");
}

}  // namespace
}  // namespace ringward::server
