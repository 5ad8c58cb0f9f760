#include "server/response.h"

#include <string>

#include "gtest/gtest.h"

namespace ringward::server {
namespace {

TEST(IsSafeHeaderValueTest, RefusesControlCharactersAndEdgeSpaces) {
  EXPECT_TRUE(IsSafeHeaderValue("alice"));
  EXPECT_TRUE(IsSafeHeaderValue("read write"));
  EXPECT_TRUE(IsSafeHeaderValue(""));
  EXPECT_TRUE(IsSafeHeaderValue("J\xc3\xbcrgen"));  // UTF-8 is obs-text, allowed
  EXPECT_FALSE(IsSafeHeaderValue("alice\r\nX-Evil: 1"));
  EXPECT_FALSE(IsSafeHeaderValue("alice\nX-Evil: 1"));
  EXPECT_FALSE(IsSafeHeaderValue("alice\r"));
  EXPECT_FALSE(IsSafeHeaderValue(std::string("al\0ice", 6)));
  EXPECT_FALSE(IsSafeHeaderValue("a\tb"));
  EXPECT_FALSE(IsSafeHeaderValue("a\x7f"));
  EXPECT_FALSE(IsSafeHeaderValue(" admin"));  // a receiver would strip the space
  EXPECT_FALSE(IsSafeHeaderValue("admin "));
}

TEST(IsHeaderNameTest, AcceptsTokensOnly) {
  EXPECT_TRUE(IsHeaderName("X-Tenant"));
  EXPECT_FALSE(IsHeaderName(""));
  EXPECT_FALSE(IsHeaderName("X Tenant"));
  EXPECT_FALSE(IsHeaderName("X-Tenant:"));
  EXPECT_FALSE(IsHeaderName("X-Tenant\r\nX-Evil"));
}

TEST(HttpStatusForParseTest, MapsEveryErrorToItsDocumentedStatus) {
  using http::ParseStatus;
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kBareLf), 400);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kContentLengthAndTransferEncoding), 400);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kHeadTooLarge), 431);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kTooManyHeaders), 431);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kBodyTooLarge), 413);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kTransferEncodingNotSupported), 501);
  EXPECT_EQ(HttpStatusForParse(ParseStatus::kVersionNotSupported), 505);
  for (size_t i = 0; i < http::kParseStatusCount; ++i) {
    const auto status = static_cast<ParseStatus>(i);
    if (http::IsParseError(status)) {
      const int code = HttpStatusForParse(status);
      EXPECT_GE(code, 400) << http::ParseStatusName(status);
      EXPECT_LT(code, 600) << http::ParseStatusName(status);
    }
  }
}

TEST(StatusLineTest, HasCodeAndReason) {
  EXPECT_EQ(StatusLine(200), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(StatusLine(431), "HTTP/1.1 431 Request Header Fields Too Large\r\n");
  EXPECT_EQ(ReasonPhrase(404), "Not Found");
  EXPECT_EQ(ReasonPhrase(405), "Method Not Allowed");
}

TEST(HttpDateTest, FormatsImfFixdate) {
  HttpDate date;
  date.Update(784111777);  // RFC 9110's example: Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(date.line(), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  date.Update(1767225600);
  EXPECT_EQ(date.line(), "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n");
}

TEST(ResponseWriterTest, WritesHeadAndBody) {
  HttpDate date;
  date.Update(784111777);
  std::string out;
  ResponseWriter w(&out, date);
  w.Start(200);
  w.Header("X-Auth-Subject: ", "alice");
  w.Finish("text/plain", "ok\n", false, ConnectionHeader::kNone);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nX-Auth-Subject: alice\r\n"
            "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n");
}

TEST(ResponseWriterTest, HeadKeepsContentLengthButDropsTheBody) {
  HttpDate date;
  date.Update(784111777);
  std::string out;
  ResponseWriter w(&out, date);
  w.Start(404);
  w.Finish("text/plain", "not found\n", /*head_only=*/true, ConnectionHeader::kClose);
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\n");
}

TEST(ResponseWriterTest, Http10KeepAliveIsAnnounced) {
  HttpDate date;
  std::string out;
  ResponseWriter w(&out, date);
  w.Start(200);
  w.Finish("", "", false, ConnectionHeader::kKeepAlive);
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Content-Type"), std::string::npos);
}

TEST(AppendDecimalTest, FormatsNumbers) {
  std::string out;
  AppendDecimal(&out, 0);
  out.push_back(' ');
  AppendDecimal(&out, 18446744073709551615ull);
  out.push_back(' ');
  AppendSignedDecimal(&out, -42);
  EXPECT_EQ(out, "0 18446744073709551615 -42");
}

}  // namespace
}  // namespace ringward::server
