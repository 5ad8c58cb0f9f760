#include "server/claim_headers.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringward/token/verified_cache.h"

namespace ringward::server {
namespace {

TEST(ClaimHeaderRendererTest, RendersSupportedTypesInConfigOrder) {
  const std::vector<ClaimHeader> headers = {
      {"b", "X-B: "}, {"a", "X-A: "}, {"n", "X-N: "}, {"t", "X-T: "}, {"arr", "X-Arr: "},
      {"obj", "X-Obj: "}, {"mixed", "X-Mixed: "}, {"missing", "X-Missing: "}};
  ClaimHeaderRenderer r;
  std::string out;
  const size_t omitted = r.Render(
      R"({"a":"x","b":"y\u00e9","n":-12,"t":true,"arr":["p","q"],"obj":{"k":1},"mixed":["p",1]})",
      headers, &out);
  EXPECT_EQ(omitted, 0u);
  EXPECT_EQ(out, "X-B: y\xc3\xa9\r\nX-A: x\r\nX-N: -12\r\nX-T: true\r\nX-Arr: p,q\r\n");
}

TEST(ClaimHeaderRendererTest, UnsafeValuesAreLeftOutAndCounted) {
  const std::vector<ClaimHeader> headers = {{"a", "X-A: "}, {"b", "X-B: "}, {"c", "X-C: "}};
  ClaimHeaderRenderer r;
  std::string out;
  EXPECT_EQ(r.Render(R"({"a":"ok","b":"x\r\nX-Evil: 1","c":[" lead"]})", headers, &out), 2u);
  EXPECT_EQ(out, "X-A: ok\r\n");
}

TEST(ClaimHeaderCacheTest, HitNeedsTheWholeToken) {
  ClaimHeaderCache cache(4, 256);
  const std::string token = "aaa.bbb.ccc";
  const uint64_t hash = token::VerifiedTokenCache::Hash(token);
  cache.Insert(token, hash, "X-A: 1\r\n");
  std::string_view lines;
  ASSERT_TRUE(cache.Lookup(token, hash, &lines));
  EXPECT_EQ(lines, "X-A: 1\r\n");
  // Same hash (forced), different bytes: a miss, never another token's headers.
  EXPECT_FALSE(cache.Lookup("aaa.bbb.ccd", hash, &lines));
  cache.Clear();
  EXPECT_FALSE(cache.Lookup(token, hash, &lines));
}

TEST(ClaimHeaderCacheTest, TooLargeIsNotCached) {
  ClaimHeaderCache cache(4, 16);
  const std::string token(20, 'a');
  cache.Insert(token, 1, "X: 1\r\n");
  std::string_view lines;
  EXPECT_FALSE(cache.Lookup(token, 1, &lines));
}

}  // namespace
}  // namespace ringward::server
