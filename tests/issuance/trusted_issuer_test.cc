// Tests for issuance/trusted_issuer.h: a file issuer's keys, and a URL issuer's refetching on a
// schedule and on an unknown kid (single-flight, negative cache, taking over a queued fetch),
// with a fake fetch and a fake clock; fetched sets that must be refused; the log lines.
#include "issuance/trusted_issuer.h"

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ringward/token/key.h"
#include "testing/temp_dir.h"
#include "testing/token_factory.h"

namespace ringward::issuance {
namespace {

using ::testing::HasSubstr;
using token::VerifyReason;

constexpr int64_t kNow = 1700000000;  // the tokens' clock (seconds)
constexpr char kIssuer[] = "https://idp.example";
constexpr char kUrl[] = "https://idp.example/.well-known/jwks.json";

std::unique_ptr<token::Key> NewKey(const std::string& kid) {
  absl::StatusOr<std::unique_ptr<token::Key>> key =
      token::Key::Generate(token::Algorithm::kEdDSA, kid);
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

std::string Jwks(std::initializer_list<const token::Key*> keys, bool include_private = false) {
  std::string out = "{\"keys\":[";
  for (const token::Key* key : keys) {
    absl::StrAppend(&out, out.back() == '[' ? "" : ",", key->ToJwk(include_private));
  }
  return out + "]}";
}

std::string IdToken(const token::Key& key) {
  return test::SignJson(key, test::HeaderJson(key, "JWT"),
                        absl::StrCat("{\"iss\":\"", kIssuer,
                                     "\",\"sub\":\"u-1\",\"aud\":\"ringward\",\"iat\":", kNow,
                                     ",\"exp\":", kNow + 300, "}"));
}

VerifyReason Check(const TrustedIssuer& issuer, const std::string& token) {
  token::VerifyScratch scratch;
  token::VerifiedToken out;
  return issuer.verifier()->Verify(token, kNow, scratch, &out);
}

// FakeIdp stands in for FetchJwks: it serves |body| (or |error|), counts the calls and, when
// gated, holds each call until Open().
class FakeIdp {
 public:
  absl::StatusOr<std::string> Fetch(const std::string& url) {
    std::unique_lock<std::mutex> lock(mu_);
    urls_.push_back(url);
    ++calls_;
    entered_.notify_all();
    cv_.wait(lock, [this] { return !gated_; });
    if (!error_.ok()) {
      return error_;
    }
    return body_;
  }
  void Serve(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
    error_ = absl::OkStatus();
  }
  void Fail(absl::Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(error);
  }
  void Gate() {
    std::lock_guard<std::mutex> lock(mu_);
    gated_ = true;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    gated_ = false;
    cv_.notify_all();
  }
  void WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    entered_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_ >= n; });
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::vector<std::string> urls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return urls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable entered_;
  bool gated_ = false;
  int calls_ = 0;
  std::vector<std::string> urls_;
  std::string body_;
  absl::Status error_ = absl::OkStatus();
};

class TrustedIssuerTest : public ::testing::Test {
 protected:
  std::unique_ptr<TrustedIssuer> Remote(int64_t refresh_s = 300, int64_t min_refresh_s = 30) {
    TrustedIssuerOptions o;
    o.config.issuer = kIssuer;
    o.config.jwks_url = kUrl;
    o.config.ca_file = "/unused-by-the-fake";
    o.config.audiences = {"ringward"};
    o.config.jwks_refresh_s = refresh_s;
    o.config.jwks_min_refresh_s = min_refresh_s;
    o.fetch = [this](const std::string& url) { return idp_.Fetch(url); };
    o.now_ms = [this] { return clock_ms_.load(); };
    o.log = [this](int priority, std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(absl::StrCat("<", priority, ">", std::string(line)));
    };
    absl::StatusOr<std::unique_ptr<TrustedIssuer>> issuer = TrustedIssuer::Create(std::move(o));
    EXPECT_TRUE(issuer.ok()) << issuer.status();
    return issuer.ok() ? *std::move(issuer) : nullptr;
  }
  // FirstFetch runs the scheduled first fetch, as the service's worker would.
  void FirstFetch(TrustedIssuer& issuer) {
    ASSERT_TRUE(issuer.ScheduleRefresh());
    issuer.RunScheduledRefresh();
  }
  void Advance(int64_t seconds) { clock_ms_ += seconds * 1000; }
  std::vector<std::string> TakeLog() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return std::exchange(log_, {});
  }

  FakeIdp idp_;
  std::atomic<int64_t> clock_ms_{5'000'000};
  std::mutex log_mu_;
  std::vector<std::string> log_;
  std::unique_ptr<token::Key> k1_ = NewKey("k1");
  std::unique_ptr<token::Key> k2_ = NewKey("k2");
  std::unique_ptr<token::Key> k3_ = NewKey("k3");
};

TEST_F(TrustedIssuerTest, FileIssuerReadsItsKeysAtCreateAndNeverFetches) {
  test::TempDir dir;
  const std::string path = dir.path() + "/idp.json";
  std::ofstream(path) << Jwks({k1_.get()});
  TrustedIssuerOptions o;
  o.config.issuer = kIssuer;
  o.config.jwks = path;
  o.config.audiences = {"ringward"};
  o.fetch = [this](const std::string& url) { return idp_.Fetch(url); };
  absl::StatusOr<std::unique_ptr<TrustedIssuer>> issuer = TrustedIssuer::Create(std::move(o));
  ASSERT_TRUE(issuer.ok()) << issuer.status();
  EXPECT_FALSE((*issuer)->remote());
  EXPECT_EQ(Check(**issuer, IdToken(*k1_)), VerifyReason::kOk);
  EXPECT_EQ(Check(**issuer, IdToken(*k2_)), VerifyReason::kUnknownKid);
  EXPECT_FALSE((*issuer)->ScheduleRefresh());
  EXPECT_FALSE((*issuer)->RefreshForUnknownKid());
  EXPECT_EQ(idp_.calls(), 0);

  TrustedIssuerOptions missing;
  missing.config.issuer = kIssuer;
  missing.config.jwks = dir.path() + "/nope.json";
  EXPECT_FALSE(TrustedIssuer::Create(std::move(missing)).ok());
}

TEST_F(TrustedIssuerTest, RemoteIssuerRefusesEveryTokenUntilItsFirstFetch) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  ASSERT_NE(issuer, nullptr);
  idp_.Serve(Jwks({k1_.get()}));
  EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kUnknownKid);
  ASSERT_TRUE(issuer->ScheduleRefresh());
  EXPECT_FALSE(issuer->ScheduleRefresh());  // queued: not twice
  EXPECT_EQ(idp_.calls(), 0);               // the caller runs it, on a worker
  issuer->RunScheduledRefresh();
  EXPECT_EQ(idp_.urls(), std::vector<std::string>{kUrl});
  EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kOk);
  EXPECT_EQ(issuer->fetches_ok(), 1u);
  EXPECT_EQ(issuer->fetches_failed(), 0u);
}

TEST_F(TrustedIssuerTest, RefreshComesEveryIntervalAndSoonerAfterAFailure) {
  std::unique_ptr<TrustedIssuer> issuer = Remote(/*refresh_s=*/300, /*min_refresh_s=*/30);
  idp_.Serve(Jwks({k1_.get()}));
  FirstFetch(*issuer);
  Advance(299);
  EXPECT_FALSE(issuer->ScheduleRefresh());
  Advance(1);
  ASSERT_TRUE(issuer->ScheduleRefresh());
  idp_.Fail(absl::UnavailableError("GET x: connection refused"));
  issuer->RunScheduledRefresh();
  EXPECT_EQ(issuer->fetches_failed(), 1u);
  EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kOk);  // the keys it had stay
  Advance(29);
  EXPECT_FALSE(issuer->ScheduleRefresh());
  Advance(1);
  ASSERT_TRUE(issuer->ScheduleRefresh());
  idp_.Serve(Jwks({k2_.get()}));
  issuer->RunScheduledRefresh();
  EXPECT_EQ(Check(*issuer, IdToken(*k2_)), VerifyReason::kOk);
  EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kUnknownKid);  // replaced, not merged
  EXPECT_EQ(idp_.calls(), 3);
}

TEST_F(TrustedIssuerTest, UnknownKidRefetchesButNotWithinTheMinimumInterval) {
  std::unique_ptr<TrustedIssuer> issuer = Remote(/*refresh_s=*/300, /*min_refresh_s=*/30);
  idp_.Serve(Jwks({k1_.get()}));
  FirstFetch(*issuer);
  idp_.Serve(Jwks({k1_.get(), k2_.get()}));  // the provider rotates
  Advance(10);
  EXPECT_FALSE(issuer->RefreshForUnknownKid());  // 10 s after the last fetch: negative cache
  EXPECT_EQ(idp_.calls(), 1);
  Advance(20);
  EXPECT_TRUE(issuer->RefreshForUnknownKid());
  EXPECT_EQ(idp_.calls(), 2);
  EXPECT_EQ(Check(*issuer, IdToken(*k2_)), VerifyReason::kOk);
  // Made-up kids, again and again: no fetch until the interval has passed.
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(issuer->RefreshForUnknownKid());
  }
  EXPECT_EQ(idp_.calls(), 2);
  // A failed fetch starts the interval too.
  Advance(30);
  idp_.Fail(absl::UnavailableError("GET x: timed out"));
  EXPECT_TRUE(issuer->RefreshForUnknownKid());
  Advance(29);
  EXPECT_FALSE(issuer->RefreshForUnknownKid());
  EXPECT_EQ(idp_.calls(), 3);
}

TEST_F(TrustedIssuerTest, ConcurrentUnknownKidsShareOneFetch) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  idp_.Serve(Jwks({k1_.get()}));
  FirstFetch(*issuer);
  Advance(60);
  idp_.Serve(Jwks({k2_.get()}));
  idp_.Gate();
  std::atomic<int> refreshed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (issuer->RefreshForUnknownKid()) {
        refreshed.fetch_add(1);
      }
      // Whoever fetched, every caller now verifies with the new set.
      EXPECT_EQ(Check(*issuer, IdToken(*k2_)), VerifyReason::kOk);
    });
  }
  idp_.WaitForCalls(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the others pile up
  idp_.Open();
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(idp_.calls(), 2);  // the first fetch and one refetch for all eight
  // Those that arrived after the fetch ended were turned away by the negative cache (false);
  // the others waited for it (true). At least the one that fetched says true.
  EXPECT_GE(refreshed.load(), 1);
}

TEST_F(TrustedIssuerTest, UnknownKidTakesOverAQueuedScheduledFetch) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  idp_.Serve(Jwks({k1_.get()}));
  ASSERT_TRUE(issuer->ScheduleRefresh());  // queued behind, say, this very worker
  EXPECT_TRUE(issuer->RefreshForUnknownKid());
  EXPECT_EQ(idp_.calls(), 1);
  EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kOk);
  issuer->RunScheduledRefresh();  // finds nothing left to do
  EXPECT_EQ(idp_.calls(), 1);
  EXPECT_FALSE(issuer->ScheduleRefresh());  // and the next one is jwks_refresh_s away
}

TEST_F(TrustedIssuerTest, FetchedSetMustHoldUsablePublicKeysOnly) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  idp_.Serve(Jwks({k1_.get()}));
  FirstFetch(*issuer);
  std::unique_ptr<token::Key> hmac = [] {
    absl::StatusOr<std::unique_ptr<token::Key>> k =
        token::Key::Generate(token::Algorithm::kHS256, "h1");
    EXPECT_TRUE(k.ok());
    return *std::move(k);
  }();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {Jwks({hmac.get()}, /*include_private=*/true), "symmetric (oct) key, kid h1"},
      {Jwks({k2_.get()}, /*include_private=*/true), "private part of kid k2"},
      {"{\"keys\":[]}", "not a usable JWKS"},
      {"<html>login</html>", "not a usable JWKS"},
  };
  uint64_t failed = 0;
  for (const auto& [body, why] : bad) {
    Advance(30);
    idp_.Serve(body);
    ASSERT_TRUE(issuer->RefreshForUnknownKid());
    EXPECT_EQ(issuer->fetches_failed(), ++failed);
    EXPECT_EQ(Check(*issuer, IdToken(*k1_)), VerifyReason::kOk) << why;  // k1 still there
    EXPECT_EQ(Check(*issuer, IdToken(*k2_)), VerifyReason::kUnknownKid) << why;
    const std::vector<std::string> log = TakeLog();
    ASSERT_FALSE(log.empty()) << why;
    EXPECT_THAT(log.back(), HasSubstr(why));
    EXPECT_THAT(log.back(), HasSubstr(absl::StrCat("GET ", kUrl)));
  }
  EXPECT_EQ(issuer->fetches_ok(), 1u);
}

TEST_F(TrustedIssuerTest, LogsChangedSetsAndNewErrorsOnly) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  idp_.Serve(Jwks({k1_.get(), k2_.get()}));
  FirstFetch(*issuer);
  EXPECT_EQ(TakeLog(),
            std::vector<std::string>{absl::StrCat(
                "<6>event=trusted_jwks_fetch issuer=\"", kIssuer, "\" url=\"", kUrl,
                "\" result=ok kids=\"k1,k2\"")});
  Advance(300);
  issuer->ScheduleRefresh();
  issuer->RunScheduledRefresh();
  EXPECT_TRUE(TakeLog().empty());  // the same set
  idp_.Fail(absl::UnavailableError("GET u: answered HTTP 503, not 200"));
  for (int i = 0; i < 2; ++i) {
    Advance(300);
    ASSERT_TRUE(issuer->ScheduleRefresh());
    issuer->RunScheduledRefresh();
  }
  EXPECT_EQ(TakeLog(), std::vector<std::string>{absl::StrCat(
                           "<4>event=trusted_jwks_fetch issuer=\"", kIssuer, "\" url=\"", kUrl,
                           "\" result=error keys_kept=\"k1,k2\" error=\"GET u: answered HTTP "
                           "503, not 200\"")});
  idp_.Serve(Jwks({k1_.get(), k2_.get()}));
  Advance(300);
  ASSERT_TRUE(issuer->ScheduleRefresh());
  issuer->RunScheduledRefresh();
  const std::vector<std::string> log = TakeLog();
  ASSERT_EQ(log.size(), 1u);  // recovered: said once
  EXPECT_THAT(log[0], HasSubstr("result=ok"));
}

TEST_F(TrustedIssuerTest, AVerifierHeldAcrossASwapStaysUsable) {
  std::unique_ptr<TrustedIssuer> issuer = Remote();
  idp_.Serve(Jwks({k1_.get()}));
  FirstFetch(*issuer);
  std::shared_ptr<const token::Verifier> held = issuer->verifier();
  Advance(30);
  idp_.Serve(Jwks({k3_.get()}));
  ASSERT_TRUE(issuer->RefreshForUnknownKid());
  token::VerifyScratch scratch;
  token::VerifiedToken out;
  EXPECT_EQ(held->Verify(IdToken(*k1_), kNow, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.kid, "k1");
  EXPECT_EQ(Check(*issuer, IdToken(*k3_)), VerifyReason::kOk);
  EXPECT_NE(issuer->verifier(), held);
}

}  // namespace
}  // namespace ringward::issuance
