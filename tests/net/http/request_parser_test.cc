#include "ringward/net/http/request_parser.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace ringward::http {
namespace {

using ::testing::TestWithParam;

constexpr std::string_view kGet =
    "GET /v1/verify?aud=api HTTP/1.1\r\n"
    "Host: auth.example.com\r\n"
    "Authorization: Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln\r\n"
    "User-Agent: test/1.0\r\n"
    "\r\n";

constexpr std::string_view kPost =
    "POST /oauth2/token HTTP/1.1\r\n"
    "Host: auth.example.com\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "Content-Length: 29\r\n"
    "\r\n"
    "grant_type=client_credentials";

ParseResult Parse(std::string_view buffer, Request* req, const Limits& limits = Limits()) {
  return ParseRequest(buffer, limits, req);
}

ParseStatus StatusOf(std::string_view buffer, const Limits& limits = Limits()) {
  Request req;
  return Parse(buffer, &req, limits).status;
}

// Describe renders every field of |req| with views as offsets into |base|, so two parses of the
// same bytes at different addresses can be compared for equality.
std::string Describe(const Request& req, std::string_view buffer) {
  const auto begin = reinterpret_cast<uintptr_t>(buffer.data());
  auto view = [begin, &buffer](std::string_view v) {
    if (v.data() == nullptr) {
      return std::string("null");
    }
    const auto at = reinterpret_cast<uintptr_t>(v.data());
    if (at < begin || at + v.size() > begin + buffer.size()) {
      return "outside:" + std::string(v);
    }
    return std::to_string(at - begin) + "+" + std::to_string(v.size()) + ":" + std::string(v);
  };
  std::string s;
  s += "method=" + std::to_string(static_cast<int>(req.method)) +
       " token=" + view(req.method_token) + " target=" + view(req.target) +
       " path=" + view(req.path) + " query=" + view(req.query) +
       " authority=" + view(req.authority) +
       " version=" + std::to_string(static_cast<int>(req.version)) + "\n";
  for (const Header& h : req.Headers()) {
    s += "  " + view(h.name) + " = " + view(h.value) + "\n";
  }
  s += "body=" + view(req.body) + " cl=" + std::to_string(req.has_content_length) + "/" +
       std::to_string(req.content_length) + " keep_alive=" + std::to_string(req.keep_alive) +
       " expect=" + std::to_string(req.expect_continue) + " host=" + std::to_string(req.has_host) +
       view(req.host) + " auth=" + view(req.authorization) + " ctype=" + view(req.content_type);
  return s;
}

TEST(RequestParserTest, SimpleGetIsComplete) {
  Request req;
  const ParseResult r = Parse(kGet, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kGet.size());
  EXPECT_EQ(r.head_size, kGet.size());
  EXPECT_EQ(r.total_size, kGet.size());
  EXPECT_EQ(req.method, Method::kGet);
  EXPECT_EQ(req.method_token, "GET");
  EXPECT_EQ(req.target, "/v1/verify?aud=api");
  EXPECT_EQ(req.path, "/v1/verify");
  EXPECT_EQ(req.query, "aud=api");
  EXPECT_EQ(req.version, Version::kHttp11);
  ASSERT_EQ(req.header_count, 3u);
  EXPECT_EQ(req.headers[2].name, "User-Agent");
  EXPECT_EQ(req.headers[2].value, "test/1.0");
  EXPECT_EQ(req.host, "auth.example.com");
  EXPECT_TRUE(req.has_host);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_FALSE(req.has_content_length);
  EXPECT_TRUE(req.body.empty());
  // Views point into the buffer, not into copies.
  EXPECT_EQ(req.path.data(), kGet.data() + 4);
}

TEST(RequestParserTest, HeaderLookupIsCaseInsensitive) {
  constexpr std::string_view kText =
      "GET / HTTP/1.1\r\nhOsT: a.example\r\nX-Request-Id: 42\r\nCONTENT-TYPE: text/plain\r\n\r\n";
  Request req;
  ASSERT_EQ(Parse(kText, &req).status, ParseStatus::kComplete);
  ASSERT_NE(req.FindHeader("x-request-id"), nullptr);
  EXPECT_EQ(req.FindHeader("x-request-id")->value, "42");
  ASSERT_NE(req.FindHeader("X-REQUEST-ID"), nullptr);
  EXPECT_EQ(req.FindHeader("X-REQUEST-ID")->name, "X-Request-Id");
  ASSERT_NE(req.FindHeader("Host"), nullptr);
  EXPECT_EQ(req.FindHeader("Host")->value, "a.example");
  EXPECT_EQ(req.FindHeader("X-Request-I"), nullptr);
  EXPECT_EQ(req.FindHeader("X-Request-Idx"), nullptr);
  EXPECT_EQ(req.FindHeader("missing"), nullptr);
  // The pre-extracted fields are found case-insensitively too.
  EXPECT_EQ(req.host, "a.example");
  EXPECT_EQ(req.content_type, "text/plain");
}

TEST(RequestParserTest, OptionalWhitespaceAroundValuesIsTrimmed) {
  constexpr std::string_view kText =
      "GET / HTTP/1.1\r\nHost: \t a.example \t\r\nX-Empty:\r\nX-Inner:  a \t b  \r\n\r\n";
  Request req;
  ASSERT_EQ(Parse(kText, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.host, "a.example");
  ASSERT_NE(req.FindHeader("X-Empty"), nullptr);
  EXPECT_EQ(req.FindHeader("X-Empty")->value, "");
  EXPECT_EQ(req.FindHeader("X-Inner")->value, "a \t b");
}

struct KeepAliveCase {
  std::string_view version;
  std::string_view connection;  // empty: no Connection field
  bool keep_alive;
};

class KeepAliveTest : public TestWithParam<KeepAliveCase> {};

TEST_P(KeepAliveTest, FollowsVersionDefaultAndConnectionField) {
  const KeepAliveCase& c = GetParam();
  std::string text = "GET / " + std::string(c.version) + "\r\nHost: a\r\n";
  if (!c.connection.empty()) {
    text += "Connection: " + std::string(c.connection) + "\r\n";
  }
  text += "\r\n";
  Request req;
  ASSERT_EQ(Parse(text, &req).status, ParseStatus::kComplete) << text;
  EXPECT_EQ(req.keep_alive, c.keep_alive) << text;
}

INSTANTIATE_TEST_SUITE_P(Cases, KeepAliveTest,
                         ::testing::Values(KeepAliveCase{"HTTP/1.1", "", true},
                                           KeepAliveCase{"HTTP/1.1", "close", false},
                                           KeepAliveCase{"HTTP/1.1", "Close", false},
                                           KeepAliveCase{"HTTP/1.1", "keep-alive", true},
                                           KeepAliveCase{"HTTP/1.1", "Upgrade", true},
                                           KeepAliveCase{"HTTP/1.1", "keep-alive, close", false},
                                           KeepAliveCase{"HTTP/1.1", "foo ,\tCLOSE", false},
                                           KeepAliveCase{"HTTP/1.0", "", false},
                                           KeepAliveCase{"HTTP/1.0", "keep-alive", true},
                                           KeepAliveCase{"HTTP/1.0", "Keep-Alive", true},
                                           KeepAliveCase{"HTTP/1.0", "close", false},
                                           KeepAliveCase{"HTTP/1.0", "Keep-Alive, close", false},
                                           KeepAliveCase{"HTTP/1.0", "keep-alives", false}));

TEST(RequestParserTest, PipelinedRequestsAreParsedOneAfterAnother) {
  const std::string first = std::string(kGet);
  const std::string second = std::string(kPost);
  const std::string third = "HEAD /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
  const std::string buffer = first + second + third + "GET /partial HT";
  std::string_view rest = buffer;
  RequestParser parser;
  Request req;

  ParseResult r = parser.Parse(rest, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(req.path, "/v1/verify");
  rest.remove_prefix(r.consumed);

  r = parser.Parse(rest, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, second.size());
  EXPECT_EQ(req.method, Method::kPost);
  EXPECT_EQ(req.body, "grant_type=client_credentials");
  rest.remove_prefix(r.consumed);

  r = parser.Parse(rest, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, third.size());
  EXPECT_EQ(req.method, Method::kHead);
  EXPECT_EQ(req.host, "b");
  EXPECT_FALSE(req.keep_alive);
  EXPECT_FALSE(req.has_content_length);
  rest.remove_prefix(r.consumed);

  r = parser.Parse(rest, &req);
  EXPECT_EQ(r.status, ParseStatus::kIncomplete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(rest, "GET /partial HT");
}

// Valid requests used for the split-point tests: GET, POST with body, a skipped leading CRLF,
// absolute-form, HTTP/1.0 and one with every extracted field.
const std::vector<std::string>& ValidRequests() {
  static const std::vector<std::string> kRequests = {
      std::string(kGet),
      std::string(kPost),
      "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET http://a.example:8080/p?q HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
      "Authorization: Basic YTpi\r\nContent-Type: text/plain\r\nX-Tab:\ta\tb\t\r\n"
      "X-Obs: caf\xc3\xa9\r\n\r\nhello",
  };
  return kRequests;
}

TEST(RequestParserTest, IncompleteAtEverySplitPointThenCompleteWithIdenticalFields) {
  for (const std::string& text : ValidRequests()) {
    Request whole;
    const ParseResult expected = Parse(text, &whole);
    ASSERT_EQ(expected.status, ParseStatus::kComplete) << text;
    ASSERT_EQ(expected.consumed, text.size());
    const std::string expected_fields = Describe(whole, text);

    // One growing buffer at a fixed address: the parser resumes where it stopped.
    std::string growing(text.size(), '\0');
    RequestParser parser;
    Request resumed;
    for (size_t n = 0; n <= text.size(); ++n) {
      if (n > 0) {
        growing[n - 1] = text[n - 1];
      }
      const ParseResult r = parser.Parse(std::string_view(growing.data(), n), &resumed);
      if (n < text.size()) {
        ASSERT_EQ(r.status, ParseStatus::kIncomplete) << "prefix " << n << " of " << text;
        EXPECT_EQ(r.consumed, 0u);
        if (n >= expected.head_size) {
          EXPECT_EQ(r.head_size, expected.head_size);
          EXPECT_EQ(r.total_size, text.size());
        } else {
          EXPECT_EQ(r.total_size, 0u);
        }
      } else {
        ASSERT_EQ(r.status, ParseStatus::kComplete) << text;
        EXPECT_EQ(r.consumed, text.size());
        EXPECT_EQ(Describe(resumed, growing), expected_fields);
      }
    }

    // A fresh copy of every prefix, each at a new address: the parser starts over each time.
    RequestParser restarting;
    Request restarted;
    for (size_t n = 0; n < text.size(); ++n) {
      const std::string prefix = text.substr(0, n);
      ASSERT_EQ(restarting.Parse(prefix, &restarted).status, ParseStatus::kIncomplete)
          << "prefix " << n << " of " << text;
    }
    const std::string copy = text;
    ASSERT_EQ(restarting.Parse(copy, &restarted).status, ParseStatus::kComplete);
    EXPECT_EQ(Describe(restarted, copy), expected_fields);
  }
}

TEST(RequestParserTest, PostWithBody) {
  Request req;
  const ParseResult r = Parse(kPost, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(req.method, Method::kPost);
  EXPECT_TRUE(req.has_content_length);
  EXPECT_EQ(req.content_length, 29u);
  EXPECT_EQ(req.body, "grant_type=client_credentials");
  EXPECT_EQ(req.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.head_size, kPost.size() - 29);
  EXPECT_EQ(r.consumed, kPost.size());
}

TEST(RequestParserTest, TrailingBytesAfterBodyAreNotConsumed) {
  const std::string text = std::string(kPost) + "GET";
  Request req;
  const ParseResult r = Parse(text, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kPost.size());
  EXPECT_EQ(req.body, "grant_type=client_credentials");
}

TEST(RequestParserTest, BodyIncompleteExposesHeadAndExpectedSize) {
  constexpr std::string_view kText =
      "POST /v1/verify HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n"
      "0123";
  Request req;
  const ParseResult r = Parse(kText, &req);
  ASSERT_EQ(r.status, ParseStatus::kIncomplete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(r.head_size, kText.size() - 4);
  EXPECT_EQ(r.total_size, kText.size() + 6);
  // The server needs these before the body arrives, to send "100 Continue" or refuse early.
  EXPECT_TRUE(req.expect_continue);
  EXPECT_EQ(req.path, "/v1/verify");
  EXPECT_EQ(req.content_length, 10u);

  const std::string full = std::string(kText) + "456789";
  ASSERT_EQ(Parse(full, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.body, "0123456789");
}

TEST(RequestParserTest, ExpectContinueIsIgnoredForHttp10) {
  Request req;
  ASSERT_EQ(
      Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", &req).status,
      ParseStatus::kComplete);
  EXPECT_FALSE(req.expect_continue);
  ASSERT_EQ(Parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n"
                  "\r\nx",
                  &req)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(req.expect_continue);
  ASSERT_EQ(Parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(req.expect_continue);
}

struct ErrorCase {
  const char* what;
  std::string_view text;
  ParseStatus status;
};

class MalformedRequestTest : public TestWithParam<ErrorCase> {};

// Each malformed request gives its own status, and gives it for the whole buffer and for every
// split of it: a prefix is either incomplete or already fails the same way.
TEST_P(MalformedRequestTest, IsRejectedWithItsOwnStatus) {
  const ErrorCase& c = GetParam();
  Request req;
  const ParseResult r = Parse(c.text, &req);
  EXPECT_EQ(r.status, c.status) << c.what << ": got " << ParseStatusName(r.status);
  EXPECT_EQ(r.consumed, 0u);

  std::string growing(c.text.size(), '\0');
  RequestParser parser;
  Request resumed;
  for (size_t n = 0; n <= c.text.size(); ++n) {
    if (n > 0) {
      growing[n - 1] = c.text[n - 1];
    }
    const ParseStatus s = parser.Parse(std::string_view(growing.data(), n), &resumed).status;
    if (s != ParseStatus::kIncomplete) {
      EXPECT_EQ(s, c.status) << c.what << " at prefix " << n;
      break;
    }
    EXPECT_LT(n, c.text.size()) << c.what;
  }
}

constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n";

INSTANTIATE_TEST_SUITE_P(
    Framing, MalformedRequestTest,
    ::testing::Values(
        ErrorCase{"CL then TE",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\nabc",
                  ParseStatus::kContentLengthAndTransferEncoding},
        ErrorCase{"TE then CL",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 3\r\n\r\nabc",
                  ParseStatus::kContentLengthAndTransferEncoding},
        ErrorCase{"TE chunked",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  ParseStatus::kTransferEncodingNotSupported},
        ErrorCase{"TE identity",
                  "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: identity\r\n\r\n",
                  ParseStatus::kTransferEncodingNotSupported},
        ErrorCase{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                  ParseStatus::kTransferEncodingNotSupported},
        ErrorCase{"duplicate CL, equal",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                  ParseStatus::kDuplicateContentLength},
        ErrorCase{"duplicate CL, different",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nxy",
                  ParseStatus::kDuplicateContentLength},
        ErrorCase{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL minus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL trailing junk", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nx",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL leading junk", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x1\r\n\r\nx",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\nx",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL overflow",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
                  ParseStatus::kBadContentLength},
        ErrorCase{"CL max uint64 is merely too large",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n",
                  ParseStatus::kBodyTooLarge}));

INSTANTIATE_TEST_SUITE_P(
    LineSyntax, MalformedRequestTest,
    ::testing::Values(
        ErrorCase{"obs-fold SP", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
                  ParseStatus::kObsFold},
        ErrorCase{"obs-fold HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n",
                  ParseStatus::kObsFold},
        ErrorCase{"whitespace line after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
                  ParseStatus::kObsFold},
        ErrorCase{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n",
                  ParseStatus::kBareCr},
        ErrorCase{"bare CR ending a value", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
                  ParseStatus::kBareCr},
        ErrorCase{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBareCr},
        ErrorCase{"bare CR after version", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
                  ParseStatus::kBareCr},
        ErrorCase{"bare CR in name", "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", ParseStatus::kBareCr},
        ErrorCase{"bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
                  ParseStatus::kBareCr},
        ErrorCase{"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n",
                  ParseStatus::kBareLf},
        ErrorCase{"bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", ParseStatus::kBareLf},
        ErrorCase{"bare LF as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n", ParseStatus::kBareLf},
        ErrorCase{"bare LF before request", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBareLf},
        ErrorCase{"SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                  ParseStatus::kWhitespaceBeforeColon},
        ErrorCase{"HTAB before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
                  ParseStatus::kWhitespaceBeforeColon},
        ErrorCase{"space inside name", "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n",
                  ParseStatus::kBadHeaderName},
        ErrorCase{"non-tchar in name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n",
                  ParseStatus::kBadHeaderName},
        ErrorCase{"non-ASCII name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n",
                  ParseStatus::kBadHeaderName},
        ErrorCase{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
                  ParseStatus::kBadHeaderName},
        ErrorCase{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n",
                  ParseStatus::kBadHeaderName},
        ErrorCase{"NUL in value", std::string_view(kNulInValue, sizeof(kNulInValue) - 1),
                  ParseStatus::kBadHeaderValue},
        ErrorCase{"SOH in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n",
                  ParseStatus::kBadHeaderValue},
        ErrorCase{"DEL in a long value",
                  "GET / HTTP/1.1\r\nHost: a\r\nX-A: 0123456789abcdef\x7f"
                  "0123456789\r\n\r\n",
                  ParseStatus::kBadHeaderValue},
        ErrorCase{"SOH in the overlapping tail of a 40-byte value",
                  "GET / HTTP/1.1\r\nHost: a\r\nX-A: 0123456789abcdef0123456789abcdef012\x01"
                  "456\r\n\r\n",
                  ParseStatus::kBadHeaderValue},
        ErrorCase{"DEL early in a 70-byte value",
                  "GET / HTTP/1.1\r\nHost: a\r\nX-A: 012\x7f"
                  "456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345\r\n\r\n",
                  ParseStatus::kBadHeaderValue},
        ErrorCase{"ESC late in a long value",
                  "GET / HTTP/1.1\r\nHost: a\r\nX-A: 0123456789abcdef0123456\x1b\r\n\r\n",
                  ParseStatus::kBadHeaderValue}));

INSTANTIATE_TEST_SUITE_P(
    RequestLine, MalformedRequestTest,
    ::testing::Values(
        ErrorCase{"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"HTAB separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"HTTP/0.9 simple request", "GET /\r\n\r\n", ParseStatus::kBadRequestLine},
        ErrorCase{"method only", "GET\r\n\r\n", ParseStatus::kBadRequestLine},
        ErrorCase{"two leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadRequestLine},
        ErrorCase{"non-tchar in method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadMethod},
        ErrorCase{"control in method", "GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadMethod},
        ErrorCase{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ParseStatus::kBadTarget},
        ErrorCase{"authority-form", "CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", ParseStatus::kBadTarget},
        ErrorCase{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"control in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"HTAB in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"quote in target", "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"bad percent", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", ParseStatus::kBadTarget},
        ErrorCase{"short percent", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", ParseStatus::kBadTarget},
        ErrorCase{"absolute-form with userinfo",
                  "GET http://u@a.example/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseStatus::kBadTarget},
        ErrorCase{"absolute-form without authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"absolute-form other scheme", "GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadTarget},
        ErrorCase{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
                  ParseStatus::kVersionNotSupported},
        ErrorCase{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
                  ParseStatus::kVersionNotSupported},
        ErrorCase{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
                  ParseStatus::kVersionNotSupported},
        ErrorCase{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadVersion},
        ErrorCase{"version without minor", "GET / HTTP/2\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadVersion},
        ErrorCase{"two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n",
                  ParseStatus::kBadVersion},
        ErrorCase{"version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", ParseStatus::kBadVersion},
        ErrorCase{"no version", "GET / \r\nHost: a\r\n\r\n", ParseStatus::kBadVersion}));

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedRequestTest,
    ::testing::Values(
        ErrorCase{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
                  ParseStatus::kMissingHost},
        ErrorCase{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
                  ParseStatus::kDuplicateHost},
        ErrorCase{"two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
                  ParseStatus::kDuplicateHost},
        ErrorCase{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseStatus::kBadHost},
        ErrorCase{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
                  ParseStatus::kBadHost},
        ErrorCase{"Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseStatus::kBadHost},
        ErrorCase{"two Authorizations",
                  "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n"
                  "authorization: Bearer y\r\n\r\n",
                  ParseStatus::kDuplicateField},
        ErrorCase{"two Content-Types",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
                  ParseStatus::kDuplicateField},
        ErrorCase{"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n",
                  ParseStatus::kBodyTooLarge}));

TEST(RequestParserTest, EmptyHostIsAllowedAndHttp10NeedsNoHost) {
  Request req;
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", &req).status, ParseStatus::kComplete);
  EXPECT_TRUE(req.has_host);
  EXPECT_EQ(req.host, "");
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", &req).status, ParseStatus::kComplete);
  EXPECT_FALSE(req.has_host);
  EXPECT_EQ(req.version, Version::kHttp10);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.host, "[::1]:8443");
}

TEST(RequestParserTest, OneLeadingEmptyLineIsSkippedAndConsumed) {
  constexpr std::string_view kText = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  Request req;
  const ParseResult r = Parse(kText, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kText.size());
  EXPECT_EQ(req.method_token.data(), kText.data() + 2);
}

TEST(RequestParserTest, HeadTooLargeIsReportedWhileStillIncomplete) {
  Limits limits;
  limits.max_head_bytes = 64;
  // No newline ever arrives: the error comes as soon as the limit is reached.
  const std::string endless = "GET /" + std::string(200, 'a');
  RequestParser parser(limits);
  Request req;
  for (size_t n = 0; n <= endless.size(); ++n) {
    const ParseStatus s = parser.Parse(std::string_view(endless.data(), n), &req).status;
    if (n < 64) {
      ASSERT_EQ(s, ParseStatus::kIncomplete) << n;
    } else {
      ASSERT_EQ(s, ParseStatus::kHeadTooLarge) << n;
      break;
    }
  }
  // Many short complete lines without the final empty line hit the same limit.
  const std::string many_lines =
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\n";
  ASSERT_LT(many_lines.size(), 64u);
  EXPECT_EQ(StatusOf(many_lines, limits), ParseStatus::kIncomplete);
  EXPECT_EQ(StatusOf(many_lines + "X-E: 5\r\n", limits), ParseStatus::kHeadTooLarge);
  // The default limit is 8 KiB.
  EXPECT_EQ(StatusOf("GET /" + std::string(8 * 1024, 'a')), ParseStatus::kHeadTooLarge);
  EXPECT_EQ(StatusOf("GET /" + std::string(8 * 1024 - 10, 'a')), ParseStatus::kIncomplete);
}

TEST(RequestParserTest, HeadExactlyAtTheLimitIsAccepted) {
  const std::string head_start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  Limits limits;
  limits.max_head_bytes = 100;
  const std::string exact = head_start + std::string(100 - head_start.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 100u);
  EXPECT_EQ(StatusOf(exact, limits), ParseStatus::kComplete);
  const std::string over = head_start + std::string(100 - head_start.size() - 3, 'p') + "\r\n\r\n";
  EXPECT_EQ(StatusOf(over, limits), ParseStatus::kHeadTooLarge);
  // The body does not count towards the head limit.
  const std::string with_body =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'b');
  EXPECT_EQ(StatusOf(with_body, limits), ParseStatus::kComplete);
}

TEST(RequestParserTest, BodyTooLargeIsDecidedFromContentLengthAlone) {
  Limits limits;
  limits.max_body_bytes = 100;
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", limits),
            ParseStatus::kBodyTooLarge);
  // Even before the head is complete.
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n", limits),
            ParseStatus::kBodyTooLarge);
  Request req;
  const ParseResult r =
      Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", &req, limits);
  EXPECT_EQ(r.status, ParseStatus::kIncomplete);
  EXPECT_EQ(r.total_size, r.head_size + 100);
  // The default limit is 1 MiB.
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n"),
            ParseStatus::kIncomplete);
}

std::string WithHeaders(size_t count) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (size_t i = 1; i < count; ++i) {
    text += "X-H" + std::to_string(i) + ": v\r\n";
  }
  return text + "\r\n";
}

TEST(RequestParserTest, TooManyHeaders) {
  Request req;
  const std::string text = WithHeaders(64);  // req's views point into it
  ASSERT_EQ(Parse(text, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.header_count, 64u);
  EXPECT_EQ(req.FindHeader("x-h63")->value, "v");
  EXPECT_EQ(StatusOf(WithHeaders(65)), ParseStatus::kTooManyHeaders);

  Limits limits;
  limits.max_headers = 3;
  EXPECT_EQ(StatusOf(WithHeaders(3), limits), ParseStatus::kComplete);
  EXPECT_EQ(StatusOf(WithHeaders(4), limits), ParseStatus::kTooManyHeaders);
  // A limit above the array capacity is clamped, never overflows the array.
  limits.max_headers = 1000;
  RequestParser parser(limits);
  EXPECT_EQ(parser.limits().max_headers, kMaxHeaders);
  EXPECT_EQ(parser.Parse(WithHeaders(65), &req).status, ParseStatus::kTooManyHeaders);
}

TEST(RequestParserTest, AuthorizationBearerIsExtracted) {
  Request req;
  ASSERT_EQ(Parse(kGet, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.authorization, "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln");
  EXPECT_EQ(BearerToken(req.authorization), "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln");

  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.authorization, "");

  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER   a-b_c.d~e+f/g=="), "a-b_c.d~e+f/g==");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("Bearer\tabc"), "");
  EXPECT_EQ(BearerToken("Bearer a b"), "");
  EXPECT_EQ(BearerToken("Bearer a=b"), "");
  EXPECT_EQ(BearerToken("Bearer =="), "");
  EXPECT_EQ(BearerToken("Basic YTpi"), "");
}

// Long tokens take the 32-bytes-at-a-time path: every byte value, at every offset of a block
// and in the overlapping last block, gets the answer of the RFC 6750 grammar.
TEST(RequestParserTest, BearerTokenChecksEveryByteOfLongTokens) {
  const auto b64token_char = [](int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  };
  for (const size_t length : {31u, 32u, 33u, 64u, 77u, 398u}) {
    const std::string base(length, 'A');
    for (int c = 0; c < 256; ++c) {
      for (const size_t at : {size_t{0}, size_t{1}, length / 2, length - 2, length - 1}) {
        if (c == ' ' && at == 0) {
          continue;  // one more SP after the scheme: the same token
        }
        std::string token = base;
        token[at] = static_cast<char>(c);
        const std::string value = "Bearer " + token;
        // "=" is padding: allowed only in a trailing run.
        const bool valid = b64token_char(c) || (c == '=' && at == length - 1);
        EXPECT_EQ(BearerToken(value) == token, valid)
            << "length " << length << " byte " << c << " at " << at;
        EXPECT_EQ(BearerToken(value).empty(), !valid) << "byte " << c << " at " << at;
      }
    }
  }
  EXPECT_EQ(BearerToken("Bearer " + std::string(100, 'x') + "=="), std::string(100, 'x') + "==");
  EXPECT_EQ(BearerToken("Bearer " + std::string(100, '=')), "");
}

TEST(RequestParserTest, QueryStringIsSplitFromPath) {
  Request req;
  ASSERT_EQ(Parse("GET /v1/verify?token=a%2Fb&x=1?2 HTTP/1.1\r\nHost: a\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/v1/verify");
  EXPECT_EQ(req.query, "token=a%2Fb&x=1?2");
  ASSERT_EQ(Parse("GET /? HTTP/1.1\r\nHost: a\r\n\r\n", &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/");
  EXPECT_EQ(req.query, "");
  ASSERT_EQ(Parse("GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/.well-known/jwks.json");
  EXPECT_EQ(req.query, "");
}

TEST(RequestParserTest, AbsoluteFormTakesHostFromTarget) {
  Request req;
  ASSERT_EQ(Parse("GET HTTP://a.example:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.authority, "a.example:8080");
  EXPECT_EQ(req.host, "a.example:8080");
  EXPECT_EQ(req.path, "/p/q");
  EXPECT_EQ(req.query, "x=1");
  ASSERT_EQ(Parse("GET https://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/");
  EXPECT_EQ(req.query, "");
  ASSERT_EQ(Parse("GET https://a.example?k HTTP/1.1\r\nHost: a.example\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/");
  EXPECT_EQ(req.query, "k");
}

TEST(RequestParserTest, AsteriskFormOnlyForOptions) {
  Request req;
  ASSERT_EQ(Parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.method, Method::kOptions);
  EXPECT_EQ(req.path, "*");
}

TEST(RequestParserTest, HeadMethod) {
  Request req;
  ASSERT_EQ(Parse("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &req).status,
            ParseStatus::kComplete);
  EXPECT_EQ(req.method, Method::kHead);
  EXPECT_EQ(MethodName(req.method), "HEAD");
  EXPECT_EQ(req.path, "/healthz");
}

TEST(RequestParserTest, MethodsAreCaseSensitiveAndUnknownTokensAreKept) {
  struct Case {
    std::string_view token;
    Method method;
  };
  for (const Case& c :
       {Case{"GET", Method::kGet}, Case{"HEAD", Method::kHead}, Case{"POST", Method::kPost},
        Case{"PUT", Method::kPut}, Case{"PATCH", Method::kPatch}, Case{"DELETE", Method::kDelete},
        Case{"OPTIONS", Method::kOptions}, Case{"get", Method::kUnknown},
        Case{"PURGE", Method::kUnknown}, Case{"TRACE", Method::kUnknown},
        Case{"GETS", Method::kUnknown}}) {
    const std::string text = std::string(c.token) + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    Request req;
    ASSERT_EQ(Parse(text, &req).status, ParseStatus::kComplete) << c.token;
    EXPECT_EQ(req.method, c.method) << c.token;
    EXPECT_EQ(req.method_token, c.token);
  }
}

TEST(RequestParserTest, ForwardingHeadersAreOrdinaryFields) {
  constexpr std::string_view kText =
      "GET /v1/verify HTTP/1.1\r\n"
      "Host: ringward.internal:8443\r\n"
      "X-Original-URI: /api/orders?id=7&sort=desc#frag \"quoted\" {json}\r\n"
      "X-Original-Method: POST\r\n"
      "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"
      "X-Forwarded-Proto: https\r\n"
      "X-Forwarded-Host: shop.example.com\r\n"
      "X-Forwarded-Uri: /api/orders\r\n"
      "X-Real-IP: 203.0.113.7\r\n"
      "Authorization: Bearer abc.def.ghi\r\n"
      "\r\n";
  Request req;
  ASSERT_EQ(Parse(kText, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/v1/verify");
  EXPECT_EQ(req.host, "ringward.internal:8443");
  EXPECT_EQ(req.FindHeader("x-original-uri")->value,
            "/api/orders?id=7&sort=desc#frag \"quoted\" {json}");
  EXPECT_EQ(req.FindHeader("X-Forwarded-Host")->value, "shop.example.com");
  EXPECT_EQ(req.FindHeader("x-forwarded-for")->value, "203.0.113.7, 10.0.0.1");
  EXPECT_EQ(BearerToken(req.authorization), "abc.def.ghi");
  EXPECT_EQ(req.header_count, 9u);
}

TEST(RequestParserTest, ControlCharactersAreFoundAtEveryPositionOfAValue) {
  Request req;
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (const char bad : {'\x00', '\x01', '\x0b', '\x1f', '\x7f'}) {
        std::string value(len, '\x80');
        value[at] = bad;
        const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-V: <" + value + ">\r\n\r\n";
        ASSERT_EQ(Parse(text, &req).status, ParseStatus::kBadHeaderValue)
            << len << " " << at << " " << static_cast<int>(bad);
      }
    }
  }
}

TEST(RequestParserTest, ObsTextAndTabsInValuesAreAccepted) {
  Request req;
  // Values of every length around the 8- and 32-byte blocks, with an HTAB in each position.
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t tab = 0; tab < len; ++tab) {
      std::string value(len, 'v');
      value[len - 1] = '\xff';
      if (len > 2 && tab > 0 && tab < len - 1) {
        value[tab] = '\t';
      }
      const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-V: " + value + "\r\n\r\n";
      ASSERT_EQ(Parse(text, &req).status, ParseStatus::kComplete) << len << " " << tab;
      ASSERT_EQ(req.FindHeader("x-v")->value, value);
    }
  }
  ASSERT_EQ(
      Parse("GET / HTTP/1.1\r\nHost: a\r\nX-Name: Jos\xc3\xa9\tM\xfcller and more text\r\n\r\n",
            &req)
          .status,
      ParseStatus::kComplete);
  EXPECT_EQ(req.FindHeader("x-name")->value, "Jos\xc3\xa9\tM\xfcller and more text");
}

TEST(RequestParserTest, ResumesWhenTheBufferMovesBetweenCalls) {
  const std::string text(kPost);
  RequestParser parser;
  Request req;
  const std::string first = text.substr(0, 40);
  ASSERT_EQ(parser.Parse(first, &req).status, ParseStatus::kIncomplete);
  const std::string second = text.substr(0, text.size() - 3);
  const ParseResult mid = parser.Parse(second, &req);
  ASSERT_EQ(mid.status, ParseStatus::kIncomplete);
  EXPECT_EQ(mid.total_size, text.size());
  EXPECT_EQ(req.path.data(), second.data() + 5);
  const std::string whole = text;
  ASSERT_EQ(parser.Parse(whole, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.path.data(), whole.data() + 5);
  EXPECT_EQ(req.body.data(), whole.data() + text.size() - 29);
  EXPECT_EQ(req.content_type.data(), whole.data() + whole.find("application/"));
}

// The resume path is what keeps a trickling head from being rescanned on every recv: lines
// already parsed are not read again. Changing one of them in place (which the contract forbids)
// makes that visible; a fresh parse of the same bytes sees the change.
TEST(RequestParserTest, ResumeDoesNotRereadParsedLines) {
  std::string buffer;
  buffer.reserve(64);
  buffer = "GET /a HTTP/1.1\r\nHost: a\r\n";
  const char* address = buffer.data();
  RequestParser parser;
  Request req;
  ASSERT_EQ(parser.Parse(buffer, &req).status, ParseStatus::kIncomplete);
  buffer[1] = '(';
  buffer += "\r\n";
  ASSERT_EQ(buffer.data(), address);
  EXPECT_EQ(parser.Parse(buffer, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(StatusOf(buffer), ParseStatus::kBadMethod);
}

TEST(RequestParserTest, ResetForgetsAPartialRequest) {
  RequestParser parser;
  Request req;
  std::string buffer;
  buffer.reserve(64);  // keeps one address for both requests
  buffer = "GET /a HTTP/1.1\r\nHost: a\r\n";
  ASSERT_EQ(parser.Parse(buffer, &req).status, ParseStatus::kIncomplete);
  parser.Reset();
  // After Reset the same address may hold a different request.
  const char* address = buffer.data();
  buffer = "GET /bb HTTP/1.1\r\nHost: bb\r\n\r\n";
  ASSERT_EQ(buffer.data(), address);
  ASSERT_EQ(parser.Parse(buffer, &req).status, ParseStatus::kComplete);
  EXPECT_EQ(req.path, "/bb");
  EXPECT_EQ(req.host, "bb");
}

TEST(RequestParserTest, StatusNamesAreDistinct) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kParseStatusCount; ++i) {
    const std::string_view name = ParseStatusName(static_cast<ParseStatus>(i));
    EXPECT_NE(name, "unknown") << i;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kParseStatusCount);
  EXPECT_EQ(ParseStatusName(static_cast<ParseStatus>(kParseStatusCount)), "unknown");
  EXPECT_FALSE(IsParseError(ParseStatus::kComplete));
  EXPECT_FALSE(IsParseError(ParseStatus::kIncomplete));
  EXPECT_TRUE(IsParseError(ParseStatus::kBareLf));
}

}  // namespace
}  // namespace ringward::http
