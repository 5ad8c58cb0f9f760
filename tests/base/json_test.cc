#include "ringward/base/json.h"

#include <string>

#include "gtest/gtest.h"
#include "simdjson.h"

namespace ringward::json {
namespace {

absl::Status Validate(const std::string& text) {
  simdjson::ondemand::parser parser;
  return ValidateStrict(parser, text);
}

TEST(JsonTest, SimdjsonUsesItsAvx2KernelInRingward) {
  // Without -march=haswell (AVX2, BMI, PCLMUL, LZCNT) simdjson falls back to its slow kernel.
  EXPECT_STREQ(SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION), "haswell");
}

TEST(JsonTest, AcceptsStrictDocuments) {
  EXPECT_TRUE(Validate(R"({"a":1,"b":[1,2,{"c":null}],"d":{"e":true}})").ok());
  EXPECT_TRUE(Validate(R"([1,"x",false])").ok());
  EXPECT_TRUE(Validate(" {\"a\" : 1} \n").ok());
}

TEST(JsonTest, RejectsDuplicateNamesAtAnyDepth) {
  EXPECT_EQ(Validate(R"({"a":1,"a":2})").message(), "duplicate member name");
  EXPECT_EQ(Validate(R"({"x":{"a":1,"a":1}})").message(), "duplicate member name");
  EXPECT_EQ(Validate(R"({"x":[{"a":1,"a":1}]})").message(), "duplicate member name");
  // Duplicates are found after unescaping.
  EXPECT_EQ(Validate(R"({"sub":1,"s\u0075b":2})").message(), "duplicate member name");
  // The same name in sibling objects is fine.
  EXPECT_TRUE(Validate(R"({"x":{"a":1},"y":{"a":1}})").ok());
}

TEST(JsonTest, RejectsTrailingContent) {
  EXPECT_FALSE(Validate(R"({"a":1} x)").ok());
  EXPECT_FALSE(Validate(R"({"a":1}{"b":2})").ok());
  EXPECT_FALSE(Validate(R"({"a":1}])").ok());
}

TEST(JsonTest, ValidatesSkippedValues) {
  EXPECT_FALSE(Validate(R"({"a":[1,2,}})").ok());
  EXPECT_FALSE(Validate(R"({"a":tru})").ok());
  EXPECT_FALSE(Validate(R"({"a":"\x"})").ok());
  EXPECT_FALSE(Validate(R"({"a":01})").ok());
  EXPECT_FALSE(Validate("{\"a\":\"\xff\"}").ok());
}

TEST(JsonTest, BoundsDepthAndWidth) {
  std::string deep;
  for (int i = 0; i < kMaxDepth + 1; ++i) {
    deep += "[";
  }
  for (int i = 0; i < kMaxDepth + 1; ++i) {
    deep += "]";
  }
  EXPECT_EQ(Validate(deep).message(), "nested too deeply");
  std::string wide = "{";
  for (int i = 0; i <= kMaxMembers; ++i) {
    wide += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  }
  wide += "}";
  EXPECT_EQ(Validate(wide).message(), "too many members in one object");
}

}  // namespace
}  // namespace ringward::json
