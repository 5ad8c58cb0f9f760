// Tests for ringward-load (bench/load/): the latency histogram, the response parser, the
// option and URL parsers, the workload's token pool and requests, the JSON and SVG writers,
// and the io_uring worker end to end against a small in-process server on 127.0.0.1:0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "load/cpu_time.h"
#include "load/histogram.h"
#include "load/json_writer.h"
#include "load/options.h"
#include "load/report.h"
#include "load/response_parser.h"
#include "load/worker.h"
#include "load/workload.h"
#include "ringward/token/key.h"
#include "ringward/token/verifier.h"
#include "simdjson.h"

namespace ringward::load {
namespace {

// ---- LatencyHistogram ----

TEST(LatencyHistogramTest, BucketsTileTheRangeWithBoundedWidth) {
  for (size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    const uint64_t low = LatencyHistogram::BucketLow(i);
    const uint64_t high = LatencyHistogram::BucketHigh(i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(low), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(high), i);
    if (i + 1 < LatencyHistogram::kBucketCount) {
      ASSERT_EQ(LatencyHistogram::BucketLow(i + 1), high + 1) << i;
    }
    // Two significant digits: no bucket is wider than 1/128 of its lower bound.
    if (low >= LatencyHistogram::kSubBucketCount) {
      ASSERT_LE(static_cast<double>(high - low + 1) / static_cast<double>(low), 1.0 / 128) << i;
    }
  }
  // The last octave is allocated whole, so 60 s lands inside the array, not at its end.
  EXPECT_LT(LatencyHistogram::BucketIndex(LatencyHistogram::kMaxValue),
            LatencyHistogram::kBucketCount);
  EXPECT_EQ(LatencyHistogram::BucketHigh(LatencyHistogram::kBucketCount - 1),
            std::bit_ceil(LatencyHistogram::kMaxValue) - 1);
}

TEST(LatencyHistogramTest, PercentilesOfUniformValuesAreWithinOnePercent) {
  LatencyHistogram h;
  for (int us = 1; us <= 100000; ++us) {
    h.Record(int64_t{us} * 1000);
  }
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_NEAR(h.mean(), 50'000'500.0, 1.0);
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const double exact = p / 100.0 * 100'000'000.0;
    EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(p)), exact, exact * 0.01) << p;
    EXPECT_GE(static_cast<double>(h.ValueAtPercentile(p)), exact) << "never under-reports, " << p;
  }
  EXPECT_EQ(h.ValueAtPercentile(100), h.max());
  EXPECT_EQ(h.ValueAtPercentile(0), h.min());
}

TEST(LatencyHistogramTest, PercentileRankRoundsUp) {
  LatencyHistogram h;
  h.Record(100);
  h.Record(5'000'000);
  EXPECT_EQ(h.ValueAtPercentile(50), 100u);
  EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(50.1)), 5e6, 5e6 / 128);
  // One slow request in a thousand is the p99.9, not hidden below it.
  LatencyHistogram g;
  for (int i = 0; i < 999; ++i) {
    g.Record(50'000);
  }
  g.Record(200'000'000);
  EXPECT_LT(g.ValueAtPercentile(99.9), 51'000u);
  EXPECT_GT(g.ValueAtPercentile(99.95), 198'000'000u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = (i * 7919) % 3'000'000;
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {25.0, 50.0, 75.0, 99.0, 99.9}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

TEST(LatencyHistogramTest, OutOfRangeValuesAreClampedAndCounted) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(61'000'000'000);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(99), 0u);
  EXPECT_TRUE(h.PercentileCurve(10).empty());
}

TEST(LatencyHistogramTest, PercentileCurveIsMonotoneAndEndsAtTheMaximum) {
  LatencyHistogram h;
  for (int i = 1; i <= 10000; ++i) {
    h.Record(int64_t{i} * 997);
  }
  const std::vector<LatencyHistogram::CurvePoint> curve = h.PercentileCurve(10);
  // x = 0 .. log10(10000) = 4 in steps of 0.1, plus the maximum.
  ASSERT_EQ(curve.size(), 42u);
  EXPECT_EQ(curve.front().percentile, 0.0);
  EXPECT_NEAR(curve[10].percentile, 90.0, 1e-9);
  EXPECT_NEAR(curve[40].percentile, 99.99, 1e-9);
  EXPECT_EQ(curve.back().percentile, 100.0);
  EXPECT_EQ(curve.back().value_ns, h.max());
  for (size_t i = 1; i < curve.size(); ++i) {
    EXPECT_GT(curve[i].percentile, curve[i - 1].percentile);
    EXPECT_GE(curve[i].value_ns, curve[i - 1].value_ns);
  }
}

// ---- ResponseParser ----

// ParseAll feeds |pieces| in order and collects every complete response; returns false on a
// parse error.
bool ParseAll(ResponseParser& p, const std::vector<std::string>& pieces, std::vector<Response>* out) {
  for (const std::string& piece : pieces) {
    const char* cur = piece.data();
    const char* end = cur + piece.size();
    while (true) {
      Response r;
      const ResponseParser::Result res = p.Parse(&cur, end, &r);
      if (res == ResponseParser::Result::kError) {
        return false;
      }
      if (res == ResponseParser::Result::kNeedMore) {
        EXPECT_EQ(cur, end);
        break;
      }
      out->push_back(r);
    }
  }
  return true;
}

// ExpectSameAtEverySplit parses |text| whole, split in two at every offset, and byte by byte,
// and expects |want| each time.
void ExpectSameAtEverySplit(const std::string& text, const std::vector<Response>& want) {
  auto check = [&](const std::vector<std::string>& pieces, const std::string& how) {
    ResponseParser p(4096);
    std::vector<Response> got;
    ASSERT_TRUE(ParseAll(p, pieces, &got)) << how << ": " << p.error();
    ASSERT_EQ(got.size(), want.size()) << how;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].status, want[i].status) << how << " #" << i;
      EXPECT_EQ(got[i].keep_alive, want[i].keep_alive) << how << " #" << i;
      EXPECT_EQ(got[i].body_bytes, want[i].body_bytes) << how << " #" << i;
    }
    EXPECT_FALSE(p.InProgress()) << how;
  };
  check({text}, "whole");
  for (size_t cut = 1; cut < text.size(); ++cut) {
    check({text.substr(0, cut), text.substr(cut)}, absl::StrCat("split at ", cut));
  }
  std::vector<std::string> bytes;
  for (char c : text) {
    bytes.emplace_back(1, c);
  }
  check(bytes, "byte by byte");
}

TEST(ResponseParserTest, PipelinedContentLengthResponsesAtEverySplit) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 3\r\n\r\nok\n"
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length:  8 \r\n\r\ninvalid\n";
  ExpectSameAtEverySplit(text, {{200, true, 3}, {404, true, 0}, {401, true, 8}});
}

TEST(ResponseParserTest, ChunkedBodiesAtEverySplit) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
  ExpectSameAtEverySplit(text, {{200, true, 15}, {204, true, 0}, {200, true, 0}});
}

TEST(ResponseParserTest, ConnectionHeaderAndVersionDecideKeepAlive) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 503 Busy\r\nConnection: upgrade, close\r\nContent-Length: 1\r\n\r\nx";
  ExpectSameAtEverySplit(text, {{200, false, 0}, {200, false, 0}, {200, true, 0}, {503, false, 1}});
}

TEST(ResponseParserTest, InterimResponsesAreSkippedAnd304HasNoBody) {
  const std::string text =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n";
  ExpectSameAtEverySplit(text, {{201, true, 2}, {304, true, 0}});
}

TEST(ResponseParserTest, BodyWithoutLengthEndsAtEof) {
  ResponseParser p;
  const std::string text = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nsome body";
  std::vector<Response> got;
  ASSERT_TRUE(ParseAll(p, {text}, &got));
  EXPECT_TRUE(got.empty());
  Response r;
  ASSERT_EQ(p.Eof(&r), ResponseParser::Result::kComplete);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(r.body_bytes, 9u);
  // Nothing in progress: EOF is just the end of the connection.
  EXPECT_EQ(p.Eof(&r), ResponseParser::Result::kNeedMore);
}

TEST(ResponseParserTest, EofInsideAResponseIsAnError) {
  for (const std::string text : {"HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"}) {
    ResponseParser p;
    std::vector<Response> got;
    ASSERT_TRUE(ParseAll(p, {text}, &got));
    EXPECT_TRUE(p.InProgress()) << text;
    Response r;
    EXPECT_EQ(p.Eof(&r), ResponseParser::Result::kError) << text;
  }
}

TEST(ResponseParserTest, MalformedResponsesAreErrors) {
  const std::vector<std::string> bad = {
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: " + std::string(5000, 'a') + "\r\n\r\n",
  };
  for (const std::string& text : bad) {
    ResponseParser whole(4096);
    std::vector<Response> got;
    EXPECT_FALSE(ParseAll(whole, {text}, &got)) << text.substr(0, 60);
    EXPECT_FALSE(std::string(whole.error()).empty());
    ResponseParser split(4096);
    got.clear();
    EXPECT_FALSE(ParseAll(split, {text.substr(0, text.size() / 2), text.substr(text.size() / 2)}, &got))
        << "split: " << text.substr(0, 60);
  }
}

// ---- Options ----

TEST(OptionsTest, ParsesUrls) {
  absl::StatusOr<Url> u = ParseUrl("http://127.0.0.1:18090/");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, 18090);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->host_header, "127.0.0.1:18090");
  EXPECT_EQ(u->addr.ss_family, AF_INET);

  u = ParseUrl("https://[::1]:8443/v1/verify?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->path, "/v1/verify?x=1");
  EXPECT_EQ(u->host_header, "[::1]:8443");
  EXPECT_EQ(u->addr.ss_family, AF_INET6);
  EXPECT_EQ(u->Origin(), "https://[::1]:8443");

  u = ParseUrl("localhost");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->host_header, "localhost");
  EXPECT_EQ(u->addr.ss_family, AF_INET);

  u = ParseUrl("http://:8080/v1/verify");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->host_header, "127.0.0.1:8080");

  for (const char* bad : {"ftp://127.0.0.1/", "http://example.com/", "http://127.0.0.1:0/",
                          "http://127.0.0.1:70000/", "http://[::1/", "http://[::1]x/", "http://1.2.3.4:x/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

TEST(OptionsTest, ParsesMixes) {
  absl::StatusOr<std::vector<MixEntry>> m = ParseMix("verify=98,issue=1,revoke=1");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].name, "verify");
  EXPECT_EQ((*m)[0].weight, 98u);
  EXPECT_EQ((*m)[2].name, "revoke");
  m = ParseMix("static");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].weight, 1u);
  for (const char* bad : {"", "verify=0", "fetch=1", "verify=1,verify=2", "verify=x", "verify=-1"}) {
    EXPECT_FALSE(ParseMix(bad).ok()) << bad;
  }
}

absl::StatusOr<Options> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ringward-load");
  return ParseOptions(static_cast<int>(args.size()), args.data());
}

TEST(OptionsTest, ParsesACommandLine) {
  absl::StatusOr<Options> o = Parse({"-c", "32", "--threads=2", "-d", "500ms", "--rate", "1500",
                                     "--pipeline", "4", "--server-pid", "10,20", "-H", "X-A: b",
                                     "--workload", "mixed", "--client-id", "app",
                                     "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connections, 32);
  EXPECT_EQ(o->threads, 2);
  EXPECT_DOUBLE_EQ(o->duration_s, 0.5);
  EXPECT_TRUE(o->open_loop());
  EXPECT_EQ(o->pipeline, 4);
  EXPECT_EQ(o->server_pids, (std::vector<int>{10, 20}));
  EXPECT_EQ(o->headers, (std::vector<std::string>{"X-A: b"}));
  ASSERT_EQ(o->mix.size(), 3u);
  EXPECT_EQ(o->mix[0].weight, 98u);

  o = Parse({"-n", "100", "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->requests, 100u);
  EXPECT_FALSE(o->open_loop());
  EXPECT_EQ(o->mix[0].name, "static");

  EXPECT_TRUE(Parse({"--help"})->help);
  for (std::vector<const char*> bad : std::vector<std::vector<const char*>>{
           {},
           {"http://127.0.0.1:9/", "http://127.0.0.1:10/"},
           {"-c", "0", "http://127.0.0.1:9/"},
           {"-d", "soon", "http://127.0.0.1:9/"},
           {"--rate", "-5", "http://127.0.0.1:9/"},
           {"--workload", "verify", "--mix", "verify=1", "http://127.0.0.1:9/"},
           {"--workload", "fetch", "http://127.0.0.1:9/"},
           {"--invalid-share", "0.7", "--expired-share", "0.7", "http://127.0.0.1:9/"},
           {"-H", "no colon", "http://127.0.0.1:9/"},
           {"--bogus", "1", "http://127.0.0.1:9/"},
           {"-c", "1", "-t", "2", "http://127.0.0.1:9/"},
           {"--connections"},
       }) {
    EXPECT_FALSE(Parse(bad).ok()) << (bad.empty() ? "(none)" : bad[0]);
  }
  EXPECT_FALSE(HelpText().empty());
}

// ---- Workload ----

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/load_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(absl::StrCat("rm -rf ", path_).c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = absl::StrCat(path_, "/", name);
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

TEST(WorkloadTest, MintedPoolVerifiesAsLabelled) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<token::Key>> key = token::Key::Generate(token::Algorithm::kEdDSA, "k1");
  ASSERT_TRUE(key.ok());
  auto keys = std::make_shared<token::KeySet>();
  ASSERT_TRUE(keys->Add(*std::move(key)).ok());
  const std::string path = dir.Write("keys.json", keys->ToJwks(/*include_private=*/true));
  absl::StatusOr<Options> o = Parse({"--workload", "verify", "--keys", path.c_str(), "--pool",
                                     "200", "--invalid-share", "0.1", "--expired-share", "0.25",
                                     "--issuer", "https://iss.test", "--audience", "api",
                                     "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok()) << o.status();
  absl::StatusOr<Workload> w = Workload::Create(*o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->pool_size(), 200u);
  EXPECT_EQ(w->pool_stats().valid, 130u);
  EXPECT_EQ(w->pool_stats().invalid, 20u);
  EXPECT_EQ(w->pool_stats().expired, 50u);

  token::VerifyPolicy policy;
  policy.issuers = {"https://iss.test"};
  policy.audiences = {"api"};
  policy.access_token_profile = true;
  absl::StatusOr<std::unique_ptr<token::Verifier>> verifier =
      token::Verifier::Create(std::shared_ptr<const token::KeySet>(keys), policy);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  token::VerifyScratch scratch;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int bad_signature = 0, expired = 0, ok = 0, first_bad = -1;
  for (size_t i = 0; i < w->pool_size(); ++i) {
    token::VerifiedToken out;
    const token::VerifyReason reason = (*verifier)->Verify(w->pool_token(i), now, scratch, &out);
    if (w->pool_expect(i) == Expect::kValid) {
      EXPECT_EQ(reason, token::VerifyReason::kOk) << token::VerifyReasonName(reason);
      ++ok;
    } else {
      ASSERT_EQ(w->pool_expect(i), Expect::kRejected);
      if (first_bad < 0) {
        first_bad = static_cast<int>(i);
      }
      bad_signature += reason == token::VerifyReason::kBadSignature;
      expired += reason == token::VerifyReason::kExpired;
    }
  }
  EXPECT_EQ(ok, 130);
  EXPECT_EQ(bad_signature, 20);
  EXPECT_EQ(expired, 50);
  // Seeded shuffle: the bad tokens are spread out, not all at the front.
  EXPECT_LT(first_bad, 20);
  EXPECT_GT(w->pool_expect(0) == Expect::kValid || w->pool_expect(1) == Expect::kValid, 0);
}

TEST(WorkloadTest, BuildsEachKindOfRequest) {
  TempDir dir;
  const std::string tokens = dir.Write("tokens.txt", "aaa.bbb.ccc\n\nddd.eee.fff\r\n");
  absl::StatusOr<Options> o =
      Parse({"--mix", "verify=1,bulk=1,static=1,issue=1,revoke=1", "--tokens", tokens.c_str(),
             "--batch", "3", "--client-id", "my app", "--client-secret", "s3cr3t", "--admin-url",
             "http://127.0.0.1:9901/admin/revoke", "--admin-token", "adm", "-H", "X-Test: 1",
             "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok()) << o.status();
  absl::StatusOr<Workload> w = Workload::Create(*o);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->targets().size(), 2u);
  ASSERT_EQ(w->templates().size(), 5u);
  EXPECT_EQ(w->templates()[4].target, 1);
  EXPECT_EQ(w->pool_stats().from_file, 2u);
  WorkloadCursor c = w->NewCursor(0, 1, 1);
  auto build = [&](int t, Expect* e) {
    std::string out;
    *e = w->Build(t, c, &out);
    return out;
  };
  Expect e;
  EXPECT_EQ(build(0, &e),
            "GET /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer aaa.bbb.ccc\r\n"
            "X-Test: 1\r\n\r\n");
  EXPECT_EQ(e, Expect::kUnknown);
  EXPECT_EQ(build(0, &e).find("Bearer ddd.eee.fff\r\n") != std::string::npos, true);
  const std::string bulk = build(1, &e);
  EXPECT_EQ(bulk,
            "POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Type: text/plain\r\n"
            "Content-Length: 36\r\nX-Test: 1\r\n\r\naaa.bbb.ccc\nddd.eee.fff\naaa.bbb.ccc\n");
  EXPECT_EQ(e, Expect::kSuccess);
  EXPECT_EQ(build(2, &e), "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Test: 1\r\n\r\n");
  const std::string issue = build(3, &e);
  // "my+app:s3cr3t" in base64.
  EXPECT_NE(issue.find("Authorization: Basic bXkrYXBwOnMzY3IzdA==\r\n"), std::string::npos) << issue;
  EXPECT_NE(issue.find("\r\n\r\ngrant_type=client_credentials&scope=read+write"), std::string::npos);
  const std::string revoke = build(4, &e);
  // The body carries an exp (the admin API keeps a jti until then): now + the token lifetime.
  const std::string body_start = "{\"jti\":\"ringward-load-1-0-0\",\"exp\":";
  const std::string head = "POST /admin/revoke HTTP/1.1\r\nHost: 127.0.0.1:9901\r\n"
                           "Authorization: Bearer adm\r\nContent-Type: application/json\r\n"
                           "Content-Length: 46\r\nX-Test: 1\r\n\r\n";
  EXPECT_EQ(revoke.substr(0, head.size() + body_start.size()), head + body_start);
  EXPECT_EQ(revoke.size(), head.size() + 46);
  EXPECT_EQ(revoke.back(), '}');
}

TEST(WorkloadTest, ContentLengthsMatchBodies) {
  TempDir dir;
  const std::string tokens = dir.Write("tokens.txt", "a.b.c\nlonger.token.here\n");
  absl::StatusOr<Options> o = Parse({"--mix", "bulk=1,revoke=1", "--tokens", tokens.c_str(),
                                     "--batch", "5", "--client-id", "x", "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok()) << o.status();
  absl::StatusOr<Workload> w = Workload::Create(*o);
  ASSERT_TRUE(w.ok()) << w.status();
  WorkloadCursor c = w->NewCursor(3, 4, 77);
  for (int i = 0; i < 30; ++i) {
    std::string req;
    w->Build(i % 2, c, &req);
    const size_t head_end = req.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const size_t cl = req.find("Content-Length: ");
    ASSERT_NE(cl, std::string::npos);
    EXPECT_EQ(std::stoul(req.substr(cl + 16)), req.size() - head_end - 4) << req;
  }
}

TEST(WorkloadTest, RefusesVerifyWithoutTokens) {
  absl::StatusOr<Options> o = Parse({"--workload", "verify", "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(Workload::Create(*o).ok());
  o = Parse({"--workload", "issue", "http://127.0.0.1:9/"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(Workload::Create(*o).ok()) << "issue needs --client-id";
}

// ---- JsonWriter ----

TEST(JsonWriterTest, NestsAndEscapes) {
  JsonWriter w;
  w.BeginObject();
  w.Field("a", uint64_t{1});
  w.Key("list");
  w.BeginArray();
  w.Int(-2);
  w.String("q\"\\\n\x01\x7f\xc3\xa9");
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.Null();
  w.Bool(true);
  w.EndArray();
  w.Field("d", 2.5000, 3);
  w.Field("n", std::nan(""), 3);
  w.Field("z", -0.0001, 2);
  w.Field("i", 1e300 * 1e300);
  w.EndObject();
  EXPECT_EQ(w.str(),
            "{\"a\":1,\"list\":[-2,\"q\\\"\\\\\\n\\u0001\\u007f\xc3\xa9\",{},[],null,true],"
            "\"d\":2.5,\"n\":null,\"z\":0,\"i\":null}");
}

Report SampleReport(bool open_loop) {
  Report r;
  r.url = "http://127.0.0.1:9/?a=1&b=<2>";
  r.open_loop = open_loop;
  r.target_rate = open_loop ? 1000 : 0;
  r.threads = 1;
  r.connections = 8;
  r.duration_s = 3;
  r.workload = "mix";
  r.mix = {{"verify", 98}, {"issue", 2}};
  r.window_s = 3;
  r.elapsed_s = 3.01;
  Stats& s = r.stats;
  s.templates.resize(2);
  s.templates[0].name = "verify";
  s.templates[1].name = "issue";
  for (int i = 0; i < 3000; ++i) {
    const int64_t v = (i % 100 == 0) ? 150'000'000 : 40'000 + i;
    s.latency.Record(v);
    s.service.Record(v / 2);
    s.send_lag.Record(1000);
    s.templates[i % 50 == 0 ? 1 : 0].latency.Record(v);
    ++s.templates[i % 50 == 0 ? 1 : 0].completed;
    SecondBucket& b = s.SecondAt(int64_t{i} * 1'000'000);
    ++b.completed;
    b.max_latency_ns = std::max<uint64_t>(b.max_latency_ns, static_cast<uint64_t>(v));
  }
  s.completed = 3000;
  s.sent = s.sent_in_window = 3000;
  s.ok = 2940;
  s.status[200] = 2940;
  s.status[404] = 60;
  s.errors.status = 60;
  s.errors.connect = 1;
  s.seconds[1].errors = 60;
  s.verify.valid_accepted = 2940;
  s.window_ns = 3'000'000'000;
  r.has_server_cpu = true;
  r.server_pids = {42};
  r.server_cpu_s = 0.03;
  r.client_cpu_s = 0.015;
  return r;
}

TEST(ReportTest, JsonIsValidAndCarriesTheNumbers) {
  const Report r = SampleReport(/*open_loop=*/true);
  const std::string json = FormatJson(r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(std::string_view(doc["config"]["url"].get_string().value_unsafe()), r.url);
  EXPECT_EQ(std::string_view(doc["config"]["mode"].get_string().value_unsafe()), "open-loop");
  EXPECT_EQ(doc["result"]["requests"].get_uint64().value_unsafe(), 3000u);
  EXPECT_NEAR(doc["result"]["throughput_rps"].get_double().value_unsafe(), 3000 / 3.01, 0.1);
  EXPECT_NEAR(doc["result"]["sent_rps"].get_double().value_unsafe(), 1000, 0.1);
  const double p50 = doc["latency_us"]["p50"].get_double().value_unsafe();
  EXPECT_NEAR(p50, static_cast<double>(r.stats.latency.ValueAtPercentile(50)) / 1000, 0.05);
  EXPECT_NEAR(doc["latency_us"]["p99_9"].get_double().value_unsafe(), 150000, 150000 / 128.0);
  EXPECT_NEAR(doc["service_time_us"]["max"].get_double().value_unsafe(), 75000, 1);
  EXPECT_EQ(doc["status"]["404"].get_uint64().value_unsafe(), 60u);
  EXPECT_EQ(doc["status_classes"]["2xx"].get_uint64().value_unsafe(), 2940u);
  EXPECT_EQ(doc["status_classes"]["4xx"].get_uint64().value_unsafe(), 60u);
  EXPECT_EQ(doc["status_classes"]["5xx"].get_uint64().value_unsafe(), 0u);
  EXPECT_EQ(doc["errors"]["request_errors"].get_uint64().value_unsafe(), 60u);
  EXPECT_EQ(doc["errors"]["connect"].get_uint64().value_unsafe(), 1u);
  EXPECT_NEAR(doc["server_cpu"]["us_per_request"].get_double().value_unsafe(), 10.0, 1e-6);
  EXPECT_EQ(doc["per_second"].get_array().value_unsafe().size(), 3u);
  EXPECT_EQ(doc["per_second"].at(1)["errors"].get_uint64().value_unsafe(), 60u);
  EXPECT_EQ(doc["templates"].at(1)["name"].get_string().value_unsafe(), "issue");
  simdjson::dom::array curve = doc["latency_curve"].get_array().value_unsafe();
  EXPECT_GT(curve.size(), 30u);
  EXPECT_EQ(curve.at(curve.size() - 1).at(0).get_double().value_unsafe(), 100.0);

  const Report closed = SampleReport(false);
  ASSERT_EQ(parser.parse(FormatJson(closed)).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["service_time_us"].error(), simdjson::NO_SUCH_FIELD);
}

// CheckWellFormed is a small XML well-formedness check: every element closes in order,
// attributes are quoted, and text has no raw '<' or '&' outside entities.
::testing::AssertionResult CheckWellFormed(const std::string& xml) {
  std::vector<std::string> open;
  size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '<') {
      const size_t end = xml.find('>', i);
      if (end == std::string::npos) {
        return ::testing::AssertionFailure() << "unterminated tag at " << i;
      }
      std::string tag = xml.substr(i + 1, end - i - 1);
      i = end + 1;
      if (tag[0] == '?') {
        continue;
      }
      if (tag[0] == '/') {
        if (open.empty() || open.back() != tag.substr(1)) {
          return ::testing::AssertionFailure() << "mismatched </" << tag.substr(1) << ">";
        }
        open.pop_back();
        continue;
      }
      size_t quotes = 0;
      for (char c : tag) {
        quotes += c == '"';
        if (c == '<') {
          return ::testing::AssertionFailure() << "'<' inside tag " << tag;
        }
      }
      if (quotes % 2 != 0) {
        return ::testing::AssertionFailure() << "unbalanced quotes in " << tag;
      }
      const bool self_closing = tag.back() == '/';
      const std::string name = tag.substr(0, tag.find_first_of(" /"));
      if (!self_closing) {
        open.push_back(name);
      }
      continue;
    }
    if (xml[i] == '&') {
      const size_t semi = xml.find(';', i);
      const std::string entity = xml.substr(i, semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;") {
        return ::testing::AssertionFailure() << "bad entity " << entity;
      }
    }
    ++i;
  }
  if (!open.empty()) {
    return ::testing::AssertionFailure() << "unclosed <" << open.back() << ">";
  }
  return ::testing::AssertionSuccess();
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// PolylinePoints returns the (x, y) pairs of the polyline with class |cls|.
std::vector<std::pair<double, double>> PolylinePoints(const std::string& svg, const std::string& cls) {
  std::vector<std::pair<double, double>> points;
  const size_t at = svg.find(absl::StrCat("<polyline class=\"", cls, "\""));
  if (at == std::string::npos) {
    return points;
  }
  const size_t start = svg.find("points=\"", at) + 8;
  const std::string list = svg.substr(start, svg.find('"', start) - start);
  double x, y;
  int consumed = 0;
  const char* p = list.c_str();
  while (std::sscanf(p, " %lf,%lf%n", &x, &y, &consumed) == 2) {
    points.emplace_back(x, y);
    p += consumed;
  }
  return points;
}

TEST(ReportTest, SvgIsWellFormedWithBothCharts) {
  const Report r = SampleReport(/*open_loop=*/true);
  const std::string svg = FormatSvg(r);
  EXPECT_TRUE(CheckWellFormed(svg));
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  // The URL's & and <> are escaped in the title.
  EXPECT_NE(svg.find("?a=1&amp;b=&lt;2&gt;"), std::string::npos);
  // Percentile axis labels on the log scale, up to the resolution of 3000 samples (99.99%).
  for (const char* label : {">0%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  // One bar per second of the window.
  EXPECT_EQ(Count(svg, "<rect class=\"second\""), 3u);
  // The latency curve goes left to right and up; the slow 1% shows at the right.
  const std::vector<std::pair<double, double>> curve = PolylinePoints(svg, "latency");
  ASSERT_GT(curve.size(), 30u);
  for (size_t i = 1; i < curve.size(); ++i) {
    EXPECT_GE(curve[i].first, curve[i - 1].first);
    EXPECT_LE(curve[i].second, curve[i - 1].second);  // SVG y grows downwards
  }
  EXPECT_LT(curve.back().second, curve.front().second - 200) << "p100 near the top";
  EXPECT_FALSE(PolylinePoints(svg, "service").empty());
  EXPECT_EQ(PolylinePoints(svg, "max-latency").size(), 3u);

  const std::string closed = FormatSvg(SampleReport(false));
  EXPECT_TRUE(CheckWellFormed(closed));
  EXPECT_TRUE(PolylinePoints(closed, "service").empty());
}

TEST(ReportTest, TextNamesTheNumbers) {
  const std::string text = FormatText(SampleReport(true));
  EXPECT_NE(text.find("open loop"), std::string::npos);
  EXPECT_NE(text.find("3000 answered"), std::string::npos);
  EXPECT_NE(text.find("200: 2940  404: 60"), std::string::npos);
  EXPECT_NE(text.find("server cpu   10.00 us/request"), std::string::npos) << text;
  EXPECT_NE(text.find("service time"), std::string::npos);
  EXPECT_EQ(FormatDuration(850), "850ns");
  EXPECT_EQ(FormatDuration(612'040), "612.0us");
  EXPECT_EQ(FormatDuration(12'345'678), "12.35ms");
  EXPECT_EQ(FormatDuration(1'234'567'890), "1.235s");
}

TEST(CpuTimeTest, ParsesProcStatWithAnAwkwardCommandName) {
  const std::string stat =
      "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 1000 10";
  absl::StatusOr<unsigned long long> t = ParseProcStatCpuTicks(stat);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 325u);
  EXPECT_FALSE(ParseProcStatCpuTicks("1234 (x) S 1 2").ok());
  EXPECT_FALSE(ParseProcStatCpuTicks("garbage").ok());
  absl::StatusOr<double> self = ProcessesCpuSeconds({static_cast<int>(getpid())});
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GE(*self, 0.0);
}

// ---- Worker, end to end ----

// FixedServer answers every request on 127.0.0.1:0 with a fixed response, one thread per
// connection; with close_after it closes each connection after that many answers.
class FixedServer {
 public:
  explicit FixedServer(std::string response, int close_after = 0)
      : response_(std::move(response)), close_after_(close_after) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(listen_fd_, 128);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FixedServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    for (std::thread& t : handlers_) {
      t.join();
    }
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void Accept() {
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        return;
      }
      ++accepted_;
      handlers_.emplace_back([this, fd] { Handle(fd); });
    }
  }
  void Handle(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::string buf;
    char chunk[4096];
    int answered = 0;
    while (true) {
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
      std::string out;
      size_t end;
      bool done = false;
      while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
        buf.erase(0, end + 4);
        out += response_;
        if (close_after_ > 0 && ++answered >= close_after_) {
          done = true;
          break;
        }
      }
      if (!out.empty() && send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) {
        break;
      }
      if (done) {
        break;
      }
    }
    close(fd);
  }

  std::string response_;
  int close_after_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> handlers_;
};

// RunWorker runs one worker against 127.0.0.1:|port| with |extra| options and returns its
// stats; skips when this kernel cannot run the ring.
struct WorkerRun {
  bool skipped = false;
  Stats stats;
};

WorkerRun RunWorker(int port, WorkerPlan plan, std::vector<const char*> extra = {}) {
  WorkerRun run;
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/x");
  extra.push_back(url.c_str());
  absl::StatusOr<Options> o = Parse(extra);
  EXPECT_TRUE(o.ok()) << o.status();
  absl::StatusOr<Workload> w = Workload::Create(*o);
  EXPECT_TRUE(w.ok()) << w.status();
  Worker worker(*w, nullptr, plan);
  const absl::Status s = worker.Connect(MonotonicNs() + 2'000'000'000);
  if (!s.ok()) {
    run.skipped = true;
    return run;
  }
  EXPECT_EQ(worker.ready_connections(), plan.connections) << worker.last_error();
  worker.Run(MonotonicNs() + 1'000'000);
  run.stats = std::move(worker.stats());
  return run;
}

TEST(WorkerTest, ClosedLoopSendsExactlyTheRequestedNumber) {
  FixedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  WorkerPlan plan;
  plan.connections = 4;
  plan.max_requests = 2000;
  plan.duration_ns = 20'000'000'000;
  WorkerRun run = RunWorker(server.port(), plan);
  if (run.skipped) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  const Stats& s = run.stats;
  EXPECT_EQ(s.sent, 2000u);
  EXPECT_EQ(s.completed, 2000u);
  EXPECT_EQ(s.ok, 2000u);
  EXPECT_EQ(s.status[200], 2000u);
  EXPECT_EQ(s.errors.RequestErrors(), 0u);
  EXPECT_EQ(s.connects, 4u);
  EXPECT_EQ(s.latency.count(), 2000u);
  EXPECT_GT(s.latency.min(), 0u);
  EXPECT_EQ(s.bytes_out, 2000u * std::string("GET /x HTTP/1.1\r\nHost: 127.0.0.1:XXXXX\r\n\r\n").size());
}

TEST(WorkerTest, PipelinedRequestsAreMatchedInOrder) {
  FixedServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  WorkerPlan plan;
  plan.connections = 2;
  plan.pipeline = 8;
  plan.max_requests = 1000;
  plan.duration_ns = 20'000'000'000;
  WorkerRun run = RunWorker(server.port(), plan);
  if (run.skipped) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  EXPECT_EQ(run.stats.completed, 1000u);
  EXPECT_EQ(run.stats.status[404], 1000u);
  EXPECT_EQ(run.stats.errors.status, 1000u) << "404 is not what a static GET expects";
  EXPECT_EQ(run.stats.ok, 0u);
}

TEST(WorkerTest, ReconnectsWhenTheServerClosesAfterEachAnswer) {
  FixedServer server("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 1);
  WorkerPlan plan;
  plan.connections = 3;
  plan.max_requests = 300;
  plan.duration_ns = 20'000'000'000;
  WorkerRun run = RunWorker(server.port(), plan);
  if (run.skipped) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  EXPECT_EQ(run.stats.completed, 300u);
  EXPECT_EQ(run.stats.ok, 300u);
  EXPECT_EQ(run.stats.errors.RequestErrors(), 0u);
  EXPECT_GE(run.stats.connects, 300u);
  EXPECT_GE(server.accepted(), 300);
}

TEST(WorkerTest, OpenLoopKeepsItsScheduleAndCountsFromIntendedTimes) {
  FixedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  WorkerPlan plan;
  plan.connections = 8;
  plan.rate = 2000;
  plan.duration_ns = 500'000'000;
  WorkerRun run = RunWorker(server.port(), plan);
  if (run.skipped) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  const Stats& s = run.stats;
  EXPECT_EQ(s.scheduled, 1000u);
  EXPECT_EQ(s.sent, 1000u);
  EXPECT_EQ(s.completed, 1000u);
  EXPECT_EQ(s.window_ns, 500'000'000);
  EXPECT_EQ(s.send_lag.count(), 1000u);
  EXPECT_EQ(s.service.count(), 1000u);
  // Latency from the intended time includes the send lag, so it is never below service time.
  EXPECT_GE(s.latency.ValueAtPercentile(50), s.service.ValueAtPercentile(50));
}

TEST(WorkerTest, UnansweredRequestsTimeOut) {
  // A server that accepts but never answers (the listen backlog completes the handshake).
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  WorkerPlan plan;
  plan.connections = 2;
  plan.duration_ns = 300'000'000;
  plan.timeout_ns = 100'000'000;
  WorkerRun run = RunWorker(ntohs(a.sin_port), plan);
  close(fd);
  if (run.skipped) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  EXPECT_EQ(run.stats.completed, 0u);
  EXPECT_GE(run.stats.errors.timeout, 2u);
  EXPECT_EQ(run.stats.errors.timeout + run.stats.errors.unfinished + run.stats.errors.closed,
            run.stats.sent);
}

}  // namespace
}  // namespace ringward::load
