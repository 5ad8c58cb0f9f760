// Tests for issuance/jwks_fetcher.h: FetchJwks against a fake identity provider (a real
// BoringSSL server, or a plain one, on 127.0.0.1:0 with a freshly made self-signed certificate,
// answering with bytes written by hand), and ParseJwksUrl.
#include "issuance/jwks_fetcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openssl/ssl.h"
#include "testing/fake_http_server.h"
#include "testing/temp_dir.h"

namespace ringward::issuance {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kJwks[] = R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1"}]})";

using test::CertFiles;
using test::MakeCert;

std::string Ok(std::string_view body) {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ",
                      body.size(), "\r\n\r\n", std::string(body));
}

// FakeIdp is the identity provider: test::FakeHttpServer (TLS when given a certificate) with
// scripts that do not need the connection's index, serving the JWKS path by default.
class FakeIdp : public test::FakeHttpServer {
 public:
  using Script = std::function<void(const std::string& request, Conn& conn)>;
  FakeIdp(const CertFiles* cert, Script script)
      : FakeHttpServer(cert, [script = std::move(script)](int, const std::string& request,
                                                           Conn& conn) { script(request, conn); }) {}
  std::string url(std::string_view path = "/.well-known/jwks.json",
                  std::string_view host = "127.0.0.1") const {
    return FakeHttpServer::url(path, host);
  }
};

FakeIdp::Script Answer(std::string response) {
  return [response](const std::string&, FakeIdp::Conn& conn) { conn.Write(response); };
}

template <typename T>
std::string Msg(const absl::StatusOr<T>& result) {
  return std::string(result.status().message());
}

JwksFetchOptions Options(const CertFiles& ca) {
  JwksFetchOptions o;
  o.ca_file = ca.cert;
  return o;
}

class JwksFetcherTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  CertFiles cert_ = MakeCert(dir_, "idp");
};

TEST_F(JwksFetcherTest, ContentLengthBodyIsReturnedFromAVerifiedServer) {
  FakeIdp idp(&cert_, Answer(Ok(kJwks) + "trailing bytes past Content-Length are not read"));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, kJwks);
  ASSERT_EQ(idp.requests().size(), 1u);
  const std::string request = idp.requests()[0];
  EXPECT_THAT(request, StartsWith("GET /.well-known/jwks.json HTTP/1.1\r\n"));
  EXPECT_THAT(request, HasSubstr(absl::StrCat("\r\nHost: 127.0.0.1:", idp.port(), "\r\n")));
  EXPECT_THAT(request, HasSubstr("\r\nConnection: close\r\n"));
  // An IP address is not sent as SNI (RFC 6066 §3).
  EXPECT_EQ(idp.server_names(), std::vector<std::string>{""});
}

TEST_F(JwksFetcherTest, HostNameIsSentAsSniAndChecked) {
  FakeIdp idp(&cert_, Answer(Ok(kJwks)));
  absl::StatusOr<std::string> body =
      FetchJwks(idp.url("/keys", "localhost"), Options(cert_));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, kJwks);
  EXPECT_EQ(idp.server_names(), std::vector<std::string>{"localhost"});
  ASSERT_EQ(idp.requests().size(), 1u);
  EXPECT_THAT(idp.requests()[0],
              HasSubstr(absl::StrCat("\r\nHost: localhost:", idp.port(), "\r\n")));
}

TEST_F(JwksFetcherTest, ChunkedBodyIsDecoded) {
  FakeIdp idp(&cert_, [](const std::string&, FakeIdp::Conn& conn) {
    // Written in pieces that cut chunk-size lines and CRLFs, with an extension and a trailer.
    for (std::string_view piece :
         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "f", ";ext=1\r\n",
          R"({"keys":[{"kty")", "\r", "\n2E\r\n",
          R"(:"OKP","crv":"Ed25519","x":"abc","kid":"k1"}]})",
          "\r\n0\r\nX-Trailer: 1\r\n", "\r\n"}) {
      conn.Write(piece);
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, kJwks);
}

TEST_F(JwksFetcherTest, BodyMayEndWithTheConnection) {
  FakeIdp idp(&cert_, Answer(absl::StrCat("HTTP/1.0 200 OK\r\n\r\n", kJwks)));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, kJwks);
}

TEST_F(JwksFetcherTest, RedirectIsNotFollowed) {
  FakeIdp idp(&cert_, Answer("HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/jwks\r\n"
                             "Content-Length: 0\r\n\r\n"));
  const std::string url = idp.url();
  absl::StatusOr<std::string> body = FetchJwks(url, Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(body), StartsWith(absl::StrCat("GET ", url, ": ")));
  EXPECT_THAT(Msg(body),
              HasSubstr("HTTP 302 (Location: https://elsewhere.example/jwks); redirects are not "
                        "followed"));
  EXPECT_EQ(idp.connections(), 1);
}

TEST_F(JwksFetcherTest, StatusOtherThan200IsAnError) {
  FakeIdp idp(&cert_, Answer("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body), HasSubstr("answered HTTP 404 Not Found, not 200"));
}

TEST_F(JwksFetcherTest, BodyOverTheLimitIsRefused) {
  JwksFetchOptions options = Options(cert_);
  options.max_body_bytes = 64;
  const std::string exact(64, 'x');
  const std::string over(65, 'x');
  {
    FakeIdp idp(&cert_, Answer(Ok(exact)));
    absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_EQ(*body, exact);
  }
  for (const std::string& response :
       {Ok(over), absl::StrCat("HTTP/1.1 200 OK\r\n\r\n", over),
        absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n",
                     std::string(32, 'x'), "\r\n21\r\n", std::string(33, 'x'), "\r\n0\r\n\r\n")}) {
    FakeIdp idp(&cert_, Answer(response));
    absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
    ASSERT_FALSE(body.ok()) << response;
    EXPECT_THAT(Msg(body), HasSubstr("larger than the limit of 64 bytes"));
  }
  // The default limit is 1 MiB, told by Content-Length before any of the body is read.
  FakeIdp idp(&cert_, Answer("HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n"));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body),
              HasSubstr("(Content-Length 1048577) is larger than the limit of 1048576 bytes"));
}

TEST_F(JwksFetcherTest, AmbiguousOrUnsupportedFramingIsRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
       "both Content-Length and Transfer-Encoding"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
       "two Content-Length headers"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "is not supported"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "is not a number"},
      {"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\n{}", "obs-fold"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
      {"ICY 200 OK\r\n\r\n{}", "not an HTTP/1.x response"},
  };
  for (const auto& [response, why] : cases) {
    FakeIdp idp(&cert_, Answer(response));
    absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
    ASSERT_FALSE(body.ok()) << response;
    EXPECT_THAT(Msg(body), HasSubstr(why)) << response;
  }
}

TEST_F(JwksFetcherTest, TruncatedBodyIsAnError) {
  FakeIdp idp(&cert_, Answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\":"));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body),
              HasSubstr("closed the connection after 8 of 100 body bytes"));
  FakeIdp chunked(&cert_,
                  Answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"keys\""));
  body = FetchJwks(chunked.url(), Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body), HasSubstr("in the middle of the chunked body"));
}

TEST_F(JwksFetcherTest, ServerNotChainingToTheCaFileIsNeverAsked) {
  const CertFiles other = MakeCert(dir_, "other");
  FakeIdp idp(&cert_, Answer(Ok(kJwks)));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), Options(other));
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(body), HasSubstr("TLS certificate verification failed"));
  EXPECT_TRUE(idp.requests().empty());
}

TEST_F(JwksFetcherTest, CertificateForAnotherNameIsRefused) {
  const CertFiles named = MakeCert(dir_, "named", {"idp.example"});
  FakeIdp idp(&named, Answer(Ok(kJwks)));
  for (const std::string& url : {idp.url(), idp.url("/", "localhost")}) {
    absl::StatusOr<std::string> body = FetchJwks(url, Options(named));
    ASSERT_FALSE(body.ok()) << url;
    EXPECT_THAT(Msg(body), HasSubstr("TLS certificate verification failed"));
  }
  EXPECT_TRUE(idp.requests().empty());
}

TEST_F(JwksFetcherTest, MissingCaFileIsAnError) {
  FakeIdp idp(&cert_, Answer(Ok(kJwks)));
  JwksFetchOptions options;
  options.ca_file = dir_.path() + "/nope.pem";
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body), HasSubstr("nope.pem cannot be read"));
  EXPECT_EQ(idp.connections(), 0);
}

TEST_F(JwksFetcherTest, SilentServerTimesOut) {
  FakeIdp* idp_ptr = nullptr;
  FakeIdp idp(&cert_, [&idp_ptr](const std::string&, FakeIdp::Conn&) { idp_ptr->Hold(); });
  idp_ptr = &idp;
  JwksFetchOptions options = Options(cert_);
  options.timeout_ms = 200;
  const auto start = steady_clock::now();
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
  const auto took = steady_clock::now() - start;
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kDeadlineExceeded) << body.status();
  EXPECT_THAT(Msg(body), HasSubstr("timed out reading the response (200 ms)"));
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(3000));
  idp.Release();
}

TEST_F(JwksFetcherTest, TotalTimeoutBoundsASlowDrip) {
  FakeIdp idp(&cert_, [](const std::string&, FakeIdp::Conn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 200; ++i) {
      if (!conn.Write("x")) {
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  JwksFetchOptions options = Options(cert_);
  options.timeout_ms = 1000;
  options.total_timeout_ms = 300;
  const auto start = steady_clock::now();
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kDeadlineExceeded) << body.status();
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));
}

TEST_F(JwksFetcherTest, CancelFdEndsTheFetchAtOnce) {
  FakeIdp* idp_ptr = nullptr;
  FakeIdp idp(&cert_, [&idp_ptr](const std::string&, FakeIdp::Conn&) { idp_ptr->Hold(); });
  idp_ptr = &idp;
  const int cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(cancel, 0);
  JwksFetchOptions options = Options(cert_);
  options.cancel_fd = cancel;
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(milliseconds(100));
    const uint64_t one = 1;
    EXPECT_EQ(write(cancel, &one, sizeof(one)), 8);
  });
  const auto start = steady_clock::now();
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), options);
  canceller.join();
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kCancelled) << body.status();
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));  // not the 5 s timeout
  idp.Release();
  close(cancel);
}

TEST_F(JwksFetcherTest, ClosedPortIsAnError) {
  int port;
  {
    FakeIdp idp(&cert_, Answer(Ok(kJwks)));
    port = idp.port();
  }
  const std::string url = absl::StrCat("https://127.0.0.1:", port, "/jwks");
  absl::StatusOr<std::string> body = FetchJwks(url, Options(cert_));
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(Msg(body),
              StartsWith(absl::StrCat("GET ", url, ": cannot connect to 127.0.0.1: ")));
}

TEST_F(JwksFetcherTest, PlainHttpWorksOnLoopbackOnly) {
  FakeIdp idp(nullptr, Answer(Ok(kJwks)));
  absl::StatusOr<std::string> body = FetchJwks(idp.url(), JwksFetchOptions{});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, kJwks);
  body = FetchJwks("http://idp.example/jwks", JwksFetchOptions{});
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(body), HasSubstr("must use https://"));
}

TEST(ParseJwksUrlTest, TakesUrlsApart) {
  absl::StatusOr<JwksUrl> u = ParseJwksUrl("https://idp.example/.well-known/jwks.json");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "idp.example");
  EXPECT_FALSE(u->host_is_ip);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->host_header, "idp.example");
  EXPECT_EQ(u->target, "/.well-known/jwks.json");

  u = ParseJwksUrl("https://[::1]:8443?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_TRUE(u->host_is_ip);
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->host_header, "[::1]:8443");
  EXPECT_EQ(u->target, "/?x=1");

  u = ParseJwksUrl("http://127.0.0.2:80");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->tls);
  EXPECT_TRUE(u->host_is_ip);
  EXPECT_EQ(u->target, "/");
}

TEST(ParseJwksUrlTest, RefusesWhatItCannotFetchSafely) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ftp://idp.example/jwks", "is not an https:// URL"},
      {"https://user:pw@idp.example/jwks", "user name or password"},
      {"https://idp.example/jwks#frag", "fragment"},
      {"https:///jwks", "no valid host name"},
      {"https://idp_example/jwks", "no valid host name"},
      {"https://idp.example:0/", "port"},
      {"https://idp.example:99999/", "port"},
      {"https://idp.example:/", "port"},
      {"https://[::1/", "']'"},
      {"https://[zz]/", "IPv6"},
      {"https://idp.example/a b", "spaces"},
      {"http://10.0.0.1/jwks", "loopback"},
      {"http://localhost.example/jwks", "loopback"},
  };
  for (const auto& [url, why] : cases) {
    absl::StatusOr<JwksUrl> u = ParseJwksUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(Msg(u), HasSubstr(why)) << url;
  }
}

}  // namespace
}  // namespace ringward::issuance
