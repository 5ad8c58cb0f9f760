#include "server/bulk.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringward::server {
namespace {

std::vector<std::string> Tokens(const BulkParser& p) {
  return std::vector<std::string>(p.tokens().begin(), p.tokens().end());
}

TEST(BulkFormatForTest, ByMediaType) {
  EXPECT_EQ(BulkFormatFor(""), BulkFormat::kText);
  EXPECT_EQ(BulkFormatFor("text/plain"), BulkFormat::kText);
  EXPECT_EQ(BulkFormatFor("Text/Plain; charset=utf-8"), BulkFormat::kText);
  EXPECT_EQ(BulkFormatFor("application/json"), BulkFormat::kJson);
  EXPECT_EQ(BulkFormatFor("application/JSON ; charset=UTF-8"), BulkFormat::kJson);
  EXPECT_EQ(BulkFormatFor("application/x-www-form-urlencoded"), BulkFormat::kUnsupported);
}

TEST(BulkParserTest, TextOneTokenPerLine) {
  BulkParser p;
  ASSERT_EQ(p.Parse(BulkFormat::kText, "a.b.c\r\n  d.e.f \nx", 10), BulkError::kOk);
  EXPECT_EQ(Tokens(p), (std::vector<std::string>{"a.b.c", "d.e.f", "x"}));
}

TEST(BulkParserTest, TextKeepsEmptyLinesInTheMiddleSoResultsStayAligned) {
  BulkParser p;
  ASSERT_EQ(p.Parse(BulkFormat::kText, "a\n\nb\n", 10), BulkError::kOk);
  EXPECT_EQ(Tokens(p), (std::vector<std::string>{"a", "", "b"}));
}

TEST(BulkParserTest, EmptyBodyIsAnError) {
  BulkParser p;
  EXPECT_EQ(p.Parse(BulkFormat::kText, "", 10), BulkError::kEmpty);
  EXPECT_EQ(p.Parse(BulkFormat::kJson, R"({"tokens":[]})", 10), BulkError::kEmpty);
}

TEST(BulkParserTest, TooManyTokens) {
  BulkParser p;
  EXPECT_EQ(p.Parse(BulkFormat::kText, "a\nb\nc\n", 2), BulkError::kTooMany);
  EXPECT_NE(p.message().find("at most 2"), std::string_view::npos);
  EXPECT_EQ(p.Parse(BulkFormat::kText, "a\nb\n", 2), BulkError::kOk);
  EXPECT_EQ(p.Parse(BulkFormat::kJson, R"({"tokens":["a","b","c"]})", 2), BulkError::kTooMany);
}

TEST(BulkParserTest, JsonTokens) {
  BulkParser p;
  ASSERT_EQ(p.Parse(BulkFormat::kJson, R"( {"tokens":["a.b.c","d\u002ee.f"], "x":{"y":[1]}} )", 10),
            BulkError::kOk);
  EXPECT_EQ(Tokens(p), (std::vector<std::string>{"a.b.c", "d.e.f"}));
}

TEST(BulkParserTest, JsonRefusesWhatIsNotAStrictTokenList) {
  BulkParser p;
  const char* bad[] = {
      R"({"tokens":"a"})",
      R"({"tokens":["a",1]})",
      R"({"tokens":["a"],"tokens":["b"]})",
      R"({"tokens":["a"]} x)",
      R"(["a"])",
      R"({"other":1})",
      R"({"tokens":["a")",
      "{\"tokens\":[\"\xff\"]}",
  };
  for (const char* body : bad) {
    EXPECT_EQ(p.Parse(BulkFormat::kJson, body, 10), BulkError::kBadJson) << body;
    EXPECT_FALSE(p.message().empty());
  }
}

}  // namespace
}  // namespace ringward::server
