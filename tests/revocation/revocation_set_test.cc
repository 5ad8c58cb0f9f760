// RevocationSet: each kind of revocation, expiry and rebuild, exact confirmation of filter
// positives, visibility through QSBR, and readers racing the writer.
#include "ringward/revocation/revocation_set.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "concurrent/published.h"
#include "concurrent/qsbr.h"
#include "gtest/gtest.h"
#include "ringward/token/claims.h"
#include "ringward/token/verifier.h"

namespace ringward::revocation {
namespace {

using token::VerifiedToken;

// Tok owns the strings a VerifiedToken points at.
struct Tok {
  std::string sub = "user-1";
  std::string client_id = "client-1";
  std::string jti = "jti-1";
  std::string kid = "ed1";
  int64_t iat = 1'700'000'000;
  uint32_t present = token::kClaimIss | token::kClaimSub | token::kClaimExp | token::kClaimIat |
                     token::kClaimJti | token::kClaimClientId;

  VerifiedToken View() const {
    VerifiedToken t;
    t.iss = "https://issuer.example";
    t.sub = sub;
    t.client_id = client_id;
    t.jti = jti;
    t.kid = kid;
    t.exp = iat + 600;
    t.iat = iat;
    t.present = present;
    return t;
  }
};

RevocationSetOptions TestOptions() {
  RevocationSetOptions options;
  options.expected_revocations = 10'000;
  options.false_positive_rate = 0.01;
  options.expected_principal_revocations = 256;
  options.expire_grace_seconds = 0;
  options.hash_seed = 0x5eed;
  return options;
}

std::unique_ptr<RevocationSet> MakeSet(concurrent::QsbrDomain* domain,
                                       const RevocationSetOptions& options = TestOptions()) {
  absl::StatusOr<std::unique_ptr<RevocationSet>> set = RevocationSet::Create(options, domain);
  EXPECT_TRUE(set.ok()) << set.status();
  return std::move(*set);
}

bool Revoked(const RevocationSet& set, const Tok& tok) { return set.IsRevoked(tok.View()); }

TEST(RevocationSetTest, EmptySetRevokesNothing) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  EXPECT_FALSE(Revoked(*set, Tok{}));
}

TEST(RevocationSetTest, JtiRevocationRejectsThatTokenOnly) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  ASSERT_TRUE(set->AddJti("jti-revoked", 1'700'000'600).ok());
  Tok revoked;
  revoked.jti = "jti-revoked";
  Tok other;
  other.jti = "jti-other";
  Tok prefix;
  prefix.jti = "jti-revoke";  // a prefix of the revoked id: the exact compare includes length
  Tok no_jti;
  no_jti.jti = "";
  EXPECT_TRUE(Revoked(*set, revoked));
  EXPECT_FALSE(Revoked(*set, other));
  EXPECT_FALSE(Revoked(*set, prefix));
  EXPECT_FALSE(Revoked(*set, no_jti));
  // Kinds are separate namespaces: a subject named like the revoked jti is not revoked.
  Tok same_name_subject;
  same_name_subject.sub = "jti-revoked";
  EXPECT_FALSE(Revoked(*set, same_name_subject));
  EXPECT_EQ(set->Stats().live[static_cast<int>(RevocationKind::kJti)], 1u);
}

TEST(RevocationSetTest, SubjectBeforeRejectsOnlyTokensIssuedBeforeT) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  constexpr int64_t kT = 1'700'000'000;
  ASSERT_TRUE(set->AddSubjectBefore("alice", kT).ok());
  Tok before;
  before.sub = "alice";
  before.iat = kT - 1;
  Tok at;
  at.sub = "alice";
  at.iat = kT;
  Tok after;
  after.sub = "alice";
  after.iat = kT + 1;
  Tok bob;
  bob.sub = "bob";
  bob.iat = kT - 1;
  Tok no_iat;
  no_iat.sub = "alice";
  no_iat.iat = kT + 100;
  no_iat.present &= ~token::kClaimIat;
  EXPECT_TRUE(Revoked(*set, before));
  EXPECT_FALSE(Revoked(*set, at));
  EXPECT_FALSE(Revoked(*set, after));
  EXPECT_FALSE(Revoked(*set, bob));
  EXPECT_TRUE(Revoked(*set, no_iat)) << "a token without iat cannot show it is newer than T";
  // The same name as a client is a different revocation.
  Tok alice_client;
  alice_client.client_id = "alice";
  alice_client.iat = kT - 1;
  EXPECT_FALSE(Revoked(*set, alice_client));
}

TEST(RevocationSetTest, ClientBeforeRejectsOnlyTokensIssuedBeforeT) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  constexpr int64_t kT = 1'700'000'000;
  ASSERT_TRUE(set->AddClientBefore("app-7", kT).ok());
  Tok before;
  before.client_id = "app-7";
  before.iat = kT - 1;
  Tok at;
  at.client_id = "app-7";
  at.iat = kT;
  Tok other;
  other.client_id = "app-8";
  other.iat = kT - 1;
  EXPECT_TRUE(Revoked(*set, before));
  EXPECT_FALSE(Revoked(*set, at));
  EXPECT_FALSE(Revoked(*set, other));
}

TEST(RevocationSetTest, KidRevocationRejectsEveryTokenOfThatKey) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  ASSERT_TRUE(set->AddKid("compromised").ok());
  for (int i = 0; i < 100; ++i) {
    Tok t;
    t.kid = "compromised";
    t.jti = absl::StrCat("jti-", i);
    t.sub = absl::StrCat("user-", i);
    t.iat = 1'800'000'000 + i;  // however new
    EXPECT_TRUE(Revoked(*set, t));
  }
  Tok fine;
  fine.kid = "current";
  EXPECT_FALSE(Revoked(*set, fine));
}

TEST(RevocationSetTest, ReAddingKeepsTheLaterTime) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  Tok t;
  t.sub = "carol";
  t.iat = 150;
  ASSERT_TRUE(set->AddSubjectBefore("carol", 100).ok());
  EXPECT_FALSE(Revoked(*set, t));
  ASSERT_TRUE(set->AddSubjectBefore("carol", 50).ok());  // older: no change
  EXPECT_FALSE(Revoked(*set, t));
  t.iat = 75;
  EXPECT_TRUE(Revoked(*set, t));
  ASSERT_TRUE(set->AddSubjectBefore("carol", 200).ok());  // newer: replaces
  t.iat = 150;
  EXPECT_TRUE(Revoked(*set, t));
  EXPECT_EQ(set->Stats().live[static_cast<int>(RevocationKind::kSubject)], 1u);

  // A jti added again keeps the later exp: it survives an Expire between the two.
  ASSERT_TRUE(set->AddJti("j", 1000).ok());
  ASSERT_TRUE(set->AddJti("j", 2000).ok());
  ASSERT_TRUE(set->AddJti("j", 1500).ok());
  set->Expire(1800);
  Tok j;
  j.jti = "j";
  EXPECT_TRUE(Revoked(*set, j));
  set->Expire(2001);
  EXPECT_FALSE(Revoked(*set, j));
}

TEST(RevocationSetTest, RejectsEmptyAndOverlongIdentifiers) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  EXPECT_EQ(set->AddJti("", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(set->AddSubjectBefore("", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(set->AddKid(std::string(70'000, 'k')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(set->AddKid(std::string(65'535, 'k')).ok());
  EXPECT_EQ(set->Stats().live_total, 1u);
}

TEST(RevocationSetTest, CreateRejectsBadOptions) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options = TestOptions();
  EXPECT_FALSE(RevocationSet::Create(options, nullptr).ok());
  options.false_positive_rate = 0;
  EXPECT_EQ(RevocationSet::Create(options, &domain).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = TestOptions();
  options.expire_grace_seconds = -1;
  EXPECT_FALSE(RevocationSet::Create(options, &domain).ok());
  options = TestOptions();
  options.expected_revocations = uint64_t{1} << 40;
  EXPECT_FALSE(RevocationSet::Create(options, &domain).ok());
}

TEST(RevocationSetTest, JtiExpiryRemovesEntriesOnceExpPlusGraceHasPassed) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options = TestOptions();
  options.expire_grace_seconds = 30;
  auto set = MakeSet(&domain, options);
  ASSERT_TRUE(set->AddJti("a", 1000).ok());
  ASSERT_TRUE(set->AddJti("b", 2000).ok());
  ASSERT_TRUE(set->AddKid("k").ok());  // never expires
  Tok a;
  a.jti = "a";
  a.kid = "other";
  Tok b;
  b.jti = "b";
  b.kid = "other";
  EXPECT_EQ(set->Expire(1000), 0u);
  EXPECT_EQ(set->Expire(1030), 0u) << "still within the grace period";
  EXPECT_TRUE(Revoked(*set, a));
  EXPECT_EQ(set->Expire(1031), 1u);
  EXPECT_FALSE(Revoked(*set, a));
  EXPECT_TRUE(Revoked(*set, b));
  EXPECT_EQ(set->Expire(1'000'000), 1u);
  EXPECT_FALSE(Revoked(*set, b));
  const RevocationStats stats = set->Stats();
  EXPECT_EQ(stats.live_total, 1u);
  EXPECT_EQ(stats.live[static_cast<int>(RevocationKind::kKid)], 1u);
  EXPECT_EQ(stats.dead, 2u);
  EXPECT_EQ(stats.table_tombstones, 2u);
}

TEST(RevocationSetTest, BoundedExpireSweepsTheTableAcrossCalls) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(set->AddJti(absl::StrCat("jti-", i), 1000).ok());
  }
  const size_t capacity = set->Stats().table_capacity;
  ASSERT_GE(capacity, 1000u);
  size_t removed = 0;
  int calls = 0;
  while (calls * 64 < static_cast<int>(capacity)) {
    const size_t now_removed = set->Expire(5000, 64);
    EXPECT_LT(now_removed, 65u);
    removed += now_removed;
    ++calls;
  }
  EXPECT_GT(calls, 1);
  EXPECT_EQ(removed, 500u);
  EXPECT_EQ(set->Stats().live_total, 0u);
}

TEST(RevocationSetTest, PrincipalRetentionExpiresSubjectRevocations) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options = TestOptions();
  options.principal_retention_seconds = 3600;
  auto set = MakeSet(&domain, options);
  ASSERT_TRUE(set->AddSubjectBefore("dave", 1000).ok());
  Tok t;
  t.sub = "dave";
  t.iat = 999;
  EXPECT_EQ(set->Expire(4600), 0u);
  EXPECT_TRUE(Revoked(*set, t));
  EXPECT_EQ(set->Expire(4601), 1u);
  EXPECT_FALSE(Revoked(*set, t));
}

TEST(RevocationSetTest, RebuildKeepsExactlyTheLiveEntries) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  constexpr int kJtis = 5000;
  for (int i = 0; i < kJtis; ++i) {
    // Even ids expire at 1000, odd ones at 5000.
    ASSERT_TRUE(set->AddJti(absl::StrCat("jti-", i), i % 2 == 0 ? 1000 : 5000).ok());
  }
  ASSERT_TRUE(set->AddSubjectBefore("erin", 100).ok());
  ASSERT_TRUE(set->AddClientBefore("app", 100).ok());
  ASSERT_TRUE(set->AddKid("old-key").ok());
  // 2500 dead against 2503 live: not enough for Expire to compact by itself.
  EXPECT_EQ(set->Expire(2000), static_cast<size_t>(kJtis / 2));
  set->Publish();  // frees the tables that growth retired: no reader is online
  ASSERT_EQ(domain.pending(), 0u);
  const RevocationStats before = set->Stats();
  EXPECT_EQ(before.generation, 0u);
  EXPECT_EQ(before.dead, static_cast<uint64_t>(kJtis / 2));

  ASSERT_TRUE(set->Rebuild().ok());
  const RevocationStats after = set->Stats();
  EXPECT_EQ(after.generation, 1u);
  EXPECT_EQ(after.live_total, before.live_total);
  for (int k = 0; k < kRevocationKinds; ++k) {
    EXPECT_EQ(after.live[k], before.live[k]);
  }
  EXPECT_EQ(after.dead, 0u);
  EXPECT_EQ(after.table_tombstones, 0u);
  EXPECT_EQ(after.jti_filter_keys, static_cast<uint64_t>(kJtis / 2));
  EXPECT_LT(after.arena_used_bytes, before.arena_used_bytes);
  EXPECT_EQ(domain.pending(), 1u);  // the old generation, freed once readers pass

  for (int i = 0; i < kJtis; ++i) {
    Tok t;
    t.jti = absl::StrCat("jti-", i);
    ASSERT_EQ(Revoked(*set, t), i % 2 == 1) << t.jti;
  }
  Tok erin;
  erin.sub = "erin";
  erin.iat = 99;
  EXPECT_TRUE(Revoked(*set, erin));
  Tok app;
  app.client_id = "app";
  app.iat = 99;
  EXPECT_TRUE(Revoked(*set, app));
  Tok key;
  key.kid = "old-key";
  EXPECT_TRUE(Revoked(*set, key));
  set->Publish();
  EXPECT_EQ(domain.pending(), 0u);  // no reader online: freed at once
}

TEST(RevocationSetTest, ExpireCompactsWhenDeadEntriesOutnumberLiveOnes) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(set->AddJti(absl::StrCat("jti-", i), i < 2000 ? 1000 : 9000).ok());
  }
  EXPECT_EQ(set->Expire(2000), 2000u);
  const RevocationStats stats = set->Stats();
  EXPECT_EQ(stats.generation, 1u);
  EXPECT_EQ(stats.dead, 0u);
  EXPECT_EQ(stats.live_total, 1000u);
}

TEST(RevocationSetTest, FullArenaMovesToABiggerOneWithoutLosingEntries) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  // 1100 identifiers of 64 KiB overflow the smallest arena reservation (64 MiB).
  constexpr int kCount = 1100;
  auto id = [](int i) { return absl::StrCat(i, "-", std::string(65'000, 'x')); };
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(set->AddKid(id(i)).ok());
  }
  const RevocationStats stats = set->Stats();
  EXPECT_GE(stats.generation, 1u);
  EXPECT_GT(stats.arena_used_bytes, uint64_t{64} << 20);
  EXPECT_EQ(stats.live_total, static_cast<uint64_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    Tok t;
    t.kid = id(i);
    ASSERT_TRUE(Revoked(*set, t)) << i;
  }
}

TEST(RevocationSetTest, ValidTokensAreNeverRejectedDespiteFilterPositives) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options = TestOptions();
  options.expected_revocations = 100'000;
  options.false_positive_rate = 0.05;  // many positives, to exercise the exact confirmation
  auto set = MakeSet(&domain, options);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(set->AddJti(absl::StrCat("revoked-", rng()), 2'000'000'000).ok());
  }
  std::mt19937_64 valid(12);
  Tok t;
  int filter_positives = 0;
  int rejected = 0;
  constexpr int kValid = 1'000'000;
  for (int i = 0; i < kValid; ++i) {
    t.jti = absl::StrCat("valid-", valid());
    filter_positives += set->FilterMayContainJtiForTesting(t.jti) ? 1 : 0;
    rejected += Revoked(*set, t) ? 1 : 0;
  }
  EXPECT_GT(filter_positives, kValid / 100) << "the filter should have produced positives";
  EXPECT_EQ(rejected, 0);
}

TEST(RevocationSetTest, GrowsTableAndFilterPastTheExpectedCountWithoutLosingEntries) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options = TestOptions();
  options.expected_revocations = 1000;
  auto set = MakeSet(&domain, options);
  constexpr int kCount = 50'000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(set->AddJti(absl::StrCat("jti-", i), 2'000'000'000).ok());
  }
  const RevocationStats stats = set->Stats();
  EXPECT_GE(stats.table_capacity, 65'536u);
  EXPECT_GT(stats.generation, 0u) << "the filter should have been rebuilt larger";
  EXPECT_GE(stats.jti_filter_capacity, static_cast<uint64_t>(kCount));
  EXPECT_LE(stats.jti_filter_expected_fpr, 0.01);
  EXPECT_EQ(stats.rebuild_failures, 0u);
  for (int i = 0; i < kCount; ++i) {
    Tok t;
    t.jti = absl::StrCat("jti-", i);
    ASSERT_TRUE(Revoked(*set, t)) << t.jti;
  }
}

TEST(RevocationSetTest, PublishedRevocationIsVisibleOnlyAfterEveryOnlineReaderPasses) {
  concurrent::QsbrDomain domain(3);
  auto set = MakeSet(&domain);
  domain.Online(0);
  domain.Online(1);
  // Reader 2 never comes online: it must not hold anything up.
  ASSERT_TRUE(set->AddJti("x", 2'000'000'000).ok());
  const uint64_t ticket = set->Publish();
  EXPECT_FALSE(set->Visible(ticket));
  domain.Quiescent(0);
  EXPECT_FALSE(set->Visible(ticket));
  EXPECT_FALSE(set->WaitVisible(ticket, std::chrono::milliseconds(1)));
  domain.Offline(1);  // a reader going idle counts as having passed
  EXPECT_TRUE(set->Visible(ticket));
  domain.Online(1);
  EXPECT_TRUE(set->Visible(ticket)) << "coming online later already sees the change";
  EXPECT_FALSE(set->Visible(set->Publish()));
  domain.Offline(0);
  domain.Offline(1);
}

TEST(RevocationSetTest, RetiredGenerationsWaitForOnlineReaders) {
  concurrent::QsbrDomain domain(1);
  auto set = MakeSet(&domain);
  domain.Online(0);
  ASSERT_TRUE(set->AddJti("x", 2'000'000'000).ok());
  ASSERT_TRUE(set->Rebuild().ok());
  set->Publish();
  EXPECT_EQ(domain.pending(), 1u) << "reader 0 may still hold the old generation";
  domain.Quiescent(0);
  set->Publish();
  EXPECT_EQ(domain.pending(), 0u);
  domain.Offline(0);
}

// Readers hammer IsRevoked while the writer adds 100k revocations, grows the table, rebuilds
// generations and expires short-lived entries. A reader that saw "added up to N" must find
// every id below N revoked; ids never added must never be rejected.
TEST(RevocationSetTest, ConcurrentReadersSeeEveryCompletedAdd) {
  constexpr int kReaders = 2;
  constexpr int kJtis = 100'000;
  constexpr int kSubjects = 1000;
  concurrent::QsbrDomain domain(kReaders);
  RevocationSetOptions options = TestOptions();
  options.expected_revocations = 4096;  // forces several filter-growth rebuilds
  auto set = MakeSet(&domain, options);

  std::vector<std::string> jtis(kJtis);
  for (int i = 0; i < kJtis; ++i) {
    jtis[i] = absl::StrCat("jti-", i, "-", i * 7919);
  }
  std::vector<std::string> subjects(kSubjects);
  for (int i = 0; i < kSubjects; ++i) {
    subjects[i] = absl::StrCat("user-", i);
  }
  std::vector<std::string> never(4096);
  for (size_t i = 0; i < never.size(); ++i) {
    never[i] = absl::StrCat("never-", i);
  }

  concurrent::Published<uint64_t> jtis_added(0);
  concurrent::Published<uint64_t> subjects_added(0);
  concurrent::Published<uint32_t> stop(0);

  struct ReaderResult {
    uint64_t checks = 0;
    uint64_t false_negatives = 0;
    uint64_t false_rejections = 0;
    uint64_t in_flight_revoked = 0;  // unchecked
  };
  std::vector<ReaderResult> results(kReaders);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(100 + r);
      ReaderResult& result = results[r];
      uint64_t in_flight = 0;
      domain.Online(r);
      VerifiedToken t;
      t.present = token::kClaimSub | token::kClaimIat | token::kClaimJti;
      t.kid = "k";
      t.client_id = "c";
      while (stop.Load() == 0) {
        const uint64_t n = jtis_added.Load();
        const uint64_t s = subjects_added.Load();
        t.sub = "nobody";
        t.iat = 100;
        if (n > 0) {
          t.jti = jtis[rng() % n];
          result.false_negatives += set->IsRevoked(t) ? 0 : 1;
        }
        if (n < kJtis) {
          // The id being added right now: either answer is right, but the probe races the
          // writer's publication of that very entry (which ThreadSanitizer checks).
          t.jti = jtis[n];
          in_flight += set->IsRevoked(t) ? 1 : 0;
        }
        if (s > 0) {
          t.jti = never[rng() % never.size()];
          t.sub = subjects[rng() % s];
          result.false_negatives += set->IsRevoked(t) ? 0 : 1;  // iat 100 < T 1000
          t.iat = 1000;
          result.false_rejections += set->IsRevoked(t) ? 1 : 0;  // iat == T: valid
        }
        t.jti = never[rng() % never.size()];
        t.sub = "nobody";
        result.false_rejections += set->IsRevoked(t) ? 1 : 0;
        ++result.checks;
        domain.Quiescent(r);
      }
      domain.Offline(r);
      result.in_flight_revoked = in_flight;
    });
  }

  int subject = 0;
  for (int i = 0; i < kJtis; ++i) {
    ASSERT_TRUE(set->AddJti(jtis[i], 2'000'000'000).ok());
    jtis_added.Store(i + 1);
    // Short-lived entries that Expire tombstones while readers probe past them.
    ASSERT_TRUE(set->AddJti(absl::StrCat("tmp-", i), 10).ok());
    if (i % 100 == 0 && subject < kSubjects) {
      ASSERT_TRUE(set->AddSubjectBefore(subjects[subject], 1000).ok());
      subjects_added.Store(++subject);
    }
    if (i % 5000 == 4999) {
      set->Expire(1000);
    }
    if (i % 20'000 == 19'999) {
      ASSERT_TRUE(set->Rebuild().ok());
    }
    if (i % 1000 == 999) {
      set->Publish();  // frees what readers have finished with
    }
  }
  // Let the readers run against the final state for a moment.
  const uint64_t ticket = set->Publish();
  EXPECT_TRUE(set->WaitVisible(ticket, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop.Store(1);
  for (std::thread& t : readers) {
    t.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  uint64_t checks = 0;
  for (const ReaderResult& result : results) {
    EXPECT_EQ(result.false_negatives, 0u);
    EXPECT_EQ(result.false_rejections, 0u);
    checks += result.checks;
  }
  const RevocationStats stats = set->Stats();
  EXPECT_GT(checks, 1000u);
  EXPECT_GE(stats.generation, 5u);
  EXPECT_EQ(stats.live[static_cast<int>(RevocationKind::kJti)], static_cast<uint64_t>(kJtis));
  set->Publish();
  EXPECT_EQ(domain.pending(), 0u);
#if defined(__SANITIZE_THREAD__)
  constexpr double kLimit = 60;  // ThreadSanitizer runs this 10-20x slower
#else
  constexpr double kLimit = 5;
#endif
  EXPECT_LT(seconds, kLimit);
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("reader_checks", std::to_string(checks));
}

}  // namespace
}  // namespace ringward::revocation
