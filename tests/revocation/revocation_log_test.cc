// Revocation records (revocation_records.md): the exact payload bytes, decoding and its refusals,
// and replay of a real log (snapshot + segments, a torn tail, a bad payload) into a
// RevocationSet.
#include "ringward/revocation/revocation_log.h"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "concurrent/qsbr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/revocation/wal.h"
#include "ringward/token/claims.h"
#include "ringward/token/verifier.h"

namespace ringward::revocation {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr int64_t kNow = 1'700'000'000;

using ::ringward::test::TempDir;

RevocationSetOptions SetOptions() {
  RevocationSetOptions options;
  options.expected_revocations = 4096;
  options.expected_principal_revocations = 64;
  options.expire_grace_seconds = 0;
  options.hash_seed = 0x5eed;
  return options;
}

// A token as the verifier would hand it to IsRevoked.
struct Tok {
  std::string jti = "jti-x";
  std::string sub = "sub-x";
  std::string client_id = "client-x";
  std::string kid = "kid-x";
  int64_t iat = kNow - 60;

  token::VerifiedToken View() const {
    token::VerifiedToken t;
    t.jti = jti;
    t.sub = sub;
    t.client_id = client_id;
    t.kid = kid;
    t.iat = iat;
    t.exp = kNow + 600;
    t.present = token::kClaimSub | token::kClaimJti | token::kClaimClientId | token::kClaimIat |
                token::kClaimExp;
    return t;
  }
};

Revocation Jti(std::string key, int64_t exp) { return {RevocationKind::kJti, std::move(key), exp}; }
Revocation Sub(std::string key, int64_t before) {
  return {RevocationKind::kSubject, std::move(key), before};
}
Revocation Client(std::string key, int64_t before) {
  return {RevocationKind::kClient, std::move(key), before};
}
Revocation Kid(std::string key) { return {RevocationKind::kKid, std::move(key), 0}; }

uint64_t Append(WriteAheadLog& wal, const Revocation& r) {
  absl::StatusOr<uint64_t> lsn = wal.AppendAndWait(RecordTypeFor(r.kind), EncodeRevocation(r));
  EXPECT_TRUE(lsn.ok()) << lsn.status();
  return lsn.ok() ? *lsn : 0;
}

std::unique_ptr<RevocationSet> NewSet(concurrent::QsbrDomain* domain) {
  absl::StatusOr<std::unique_ptr<RevocationSet>> set = RevocationSet::Create(SetOptions(), domain);
  EXPECT_TRUE(set.ok()) << set.status();
  return *std::move(set);
}

// --- Encoding ---

TEST(RevocationRecordTest, JtiPayloadIsTheSpecifiedBytes) {
  // The example in revocation_records.md.
  const std::string payload = EncodeRevocation(Jti("abc", 1700000000));
  const std::string expected(
      "\x00\xf1\x53\x65\x00\x00\x00\x00\x03\x00"
      "abc",
      13);
  EXPECT_EQ(payload, expected);
  EXPECT_EQ(RecordTypeFor(RevocationKind::kJti), 1);
}

TEST(RevocationRecordTest, EveryKindHasItsTypeAndLayout) {
  EXPECT_EQ(RecordTypeFor(RevocationKind::kSubject), 2);
  EXPECT_EQ(RecordTypeFor(RevocationKind::kClient), 3);
  EXPECT_EQ(RecordTypeFor(RevocationKind::kKid), 4);
  // A negative time is two's complement, little-endian.
  EXPECT_EQ(EncodeRevocation(Sub("al", -2)), std::string("\xfe\xff\xff\xff\xff\xff\xff\xff\x02\x00"
                                                         "al",
                                                         12));
  EXPECT_EQ(EncodeRevocation(Kid("k1")), std::string("\x02\x00"
                                                     "k1",
                                                     4));
  EXPECT_EQ(RevocationRecordTypeName(1), "revoke_jti");
  EXPECT_EQ(RevocationRecordTypeName(4), "revoke_kid");
  EXPECT_EQ(RevocationRecordTypeName(5), "");
}

TEST(RevocationRecordTest, RoundTripsEveryKind) {
  const std::string long_key(65535, 'k');
  for (const Revocation& r : {Jti("j-1", kNow), Sub("alice", kNow), Client("web", 0),
                              Kid("key-2024"), Jti(long_key, INT64_MAX)}) {
    absl::StatusOr<Revocation> back = DecodeRevocation(RecordTypeFor(r.kind), EncodeRevocation(r));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, r);
  }
}

TEST(RevocationRecordTest, MalformedPayloadsAreDataLoss) {
  const std::string good = EncodeRevocation(Jti("abc", kNow));
  EXPECT_EQ(DecodeRevocation(1, good.substr(0, 9)).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRevocation(1, good.substr(0, 12)).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRevocation(1, good + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRevocation(4, std::string("\x00\x00", 2)).status().code(),
            absl::StatusCode::kDataLoss);  // empty key
  // A kid payload read as a jti one is too short for its header.
  EXPECT_EQ(DecodeRevocation(1, EncodeRevocation(Kid("k"))).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRevocation(9, good).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RevocationRecordTest, ValidationSaysWhatIsWrong) {
  EXPECT_TRUE(ValidateRevocation(Jti("a", kNow)).ok());
  EXPECT_THAT(ValidateRevocation(Jti("", kNow)).message(), HasSubstr("jti must not be empty"));
  EXPECT_THAT(ValidateRevocation(Jti("a", 0)).message(), HasSubstr("exp"));
  EXPECT_THAT(ValidateRevocation(Sub("a", -1)).message(), HasSubstr("before"));
  EXPECT_TRUE(ValidateRevocation(Client("a", 0)).ok());
  EXPECT_THAT(ValidateRevocation(Kid(std::string(kMaxRevocationKeyBytes + 1, 'k'))).message(),
              HasSubstr("longer than 1024"));
  EXPECT_FALSE(ValidateRevocation(Revocation{RevocationKind::kKid, "k", 5}).ok());
}

// --- Replay ---

TEST(RevocationReplayTest, ReplaysEveryKindAndSkipsOtherTypes) {
  TempDir dir;
  {
    auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
    ASSERT_TRUE(wal.ok()) << wal.status();
    Append(**wal, Jti("jti-1", kNow + 600));
    ASSERT_TRUE((*wal)->AppendAndWait(200, "a client record").ok());  // another subsystem's
    Append(**wal, Sub("alice", kNow));
    Append(**wal, Client("web", kNow));
    Append(**wal, Kid("old-key"));
  }
  auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
  ASSERT_TRUE(wal.ok()) << wal.status();
  concurrent::QsbrDomain domain(1);
  auto set = NewSet(&domain);
  absl::StatusOr<ReplayReport> report = ReplayRevocations(**wal, set.get());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, 4u);
  EXPECT_EQ(report->log_records, 5u);
  EXPECT_EQ(report->unknown_types, 1u);
  EXPECT_EQ(report->last_lsn, 5u);
  EXPECT_THAT(report->ToString(), HasSubstr("1 record(s) of other types"));

  Tok clean;
  EXPECT_FALSE(set->IsRevoked(clean.View()));
  Tok t = clean;
  t.jti = "jti-1";
  EXPECT_TRUE(set->IsRevoked(t.View()));
  t = clean;
  t.sub = "alice";
  EXPECT_TRUE(set->IsRevoked(t.View()));
  t.iat = kNow;  // issued at "before": not before it
  EXPECT_FALSE(set->IsRevoked(t.View()));
  t = clean;
  t.client_id = "web";
  EXPECT_TRUE(set->IsRevoked(t.View()));
  t = clean;
  t.kid = "old-key";
  EXPECT_TRUE(set->IsRevoked(t.View()));
}

TEST(RevocationReplayTest, SnapshotThenLogRestoresEverything) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;  // a few records per segment, so compaction removes some
  {
    auto wal = WriteAheadLog::Open(dir.path(), options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    concurrent::QsbrDomain domain(1);
    auto set = NewSet(&domain);
    uint64_t last = 0;
    for (int i = 0; i < 40; ++i) {
      const Revocation r = Jti(absl::StrCat("before-", i), kNow + 600);
      last = Append(**wal, r);
      ASSERT_TRUE(ApplyRevocation(r, set.get()).ok());
    }
    // One that has long expired: the sweep before the snapshot drops it.
    const Revocation stale = Jti("stale", kNow - 3600);
    last = Append(**wal, stale);
    ASSERT_TRUE(ApplyRevocation(stale, set.get()).ok());
    const Revocation sub = Sub("alice", kNow);
    last = Append(**wal, sub);
    ASSERT_TRUE(ApplyRevocation(sub, set.get()).ok());
    EXPECT_EQ(set->Expire(kNow), 1u);
    const LiveSnapshot live = LiveSnapshot::Capture(*set);
    EXPECT_EQ(live.records(), 41u);
    std::vector<WalRecord> records = live.ToRecords();
    ASSERT_EQ(records.size(), 41u);
    // Each record is exactly what the log would hold for that revocation.
    bool found_sub = false;
    for (const WalRecord& record : records) {
      absl::StatusOr<Revocation> r = DecodeRevocation(record.type, record.payload);
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->kind == RevocationKind::kSubject) {
        EXPECT_EQ(*r, sub);
        found_sub = true;
      } else {
        EXPECT_EQ(r->time, kNow + 600);
      }
    }
    EXPECT_TRUE(found_sub);
    const uint64_t segments_before = (*wal)->GetStatus().segments.size();
    ASSERT_TRUE(live.WriteTo(**wal, last).ok());
    EXPECT_LT((*wal)->GetStatus().segments.size(), segments_before);
    Append(**wal, Jti("after", kNow + 600));
  }
  auto wal = WriteAheadLog::Open(dir.path(), options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  concurrent::QsbrDomain domain(1);
  auto set = NewSet(&domain);
  absl::StatusOr<ReplayReport> report = ReplayRevocations(**wal, set.get());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->snapshot_lsn, 42u);
  EXPECT_EQ(report->snapshot_records, 41u);
  EXPECT_EQ(report->log_records, 1u);
  EXPECT_EQ(report->applied, 42u);
  EXPECT_EQ(report->last_lsn, 43u);
  Tok t;
  for (const std::string jti : {"before-0", "before-39", "after"}) {
    t.jti = jti;
    EXPECT_TRUE(set->IsRevoked(t.View())) << jti;
  }
  t.jti = "stale";
  EXPECT_FALSE(set->IsRevoked(t.View()));
  RevocationEntry entry;
  ASSERT_TRUE(set->Lookup(RevocationKind::kSubject, "alice", &entry));
  EXPECT_EQ(entry.before, kNow);
}

TEST(RevocationReplayTest, TornTailIsCutAndTheRestReplays) {
  TempDir dir;
  std::string segment;
  {
    auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
    ASSERT_TRUE(wal.ok()) << wal.status();
    Append(**wal, Jti("kept-1", kNow + 600));
    Append(**wal, Jti("kept-2", kNow + 600));
    segment = dir.path() + "/" + (*wal)->GetStatus().segments.back().name;
  }
  {
    // An interrupted write: the first 11 bytes of a third record.
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out.write("\x0d\x00\x00\x00\x01\x00\x00\x00\x03\x00\x00", 11);
  }
  auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_TRUE((*wal)->recovery_report().truncated);
  EXPECT_EQ((*wal)->recovery_report().bytes_truncated, 11u);
  concurrent::QsbrDomain domain(1);
  auto set = NewSet(&domain);
  absl::StatusOr<ReplayReport> report = ReplayRevocations(**wal, set.get());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, 2u);
  Tok t;
  t.jti = "kept-2";
  EXPECT_TRUE(set->IsRevoked(t.View()));
}

TEST(RevocationReplayTest, UndecodablePayloadStopsReplayNamingTheLsn) {
  TempDir dir;
  {
    auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
    ASSERT_TRUE(wal.ok()) << wal.status();
    Append(**wal, Jti("fine", kNow + 600));
    ASSERT_TRUE((*wal)->AppendAndWait(kRecordRevokeJti, "short").ok());
  }
  auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
  ASSERT_TRUE(wal.ok()) << wal.status();
  concurrent::QsbrDomain domain(1);
  auto set = NewSet(&domain);
  absl::StatusOr<ReplayReport> report = ReplayRevocations(**wal, set.get());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(report.status().message(), HasSubstr("log record 2"));
}

TEST(RevocationReplayTest, MidLogCorruptionFailsOpenWithSegmentAndOffset) {
  TempDir dir;
  std::string segment;
  {
    auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
    ASSERT_TRUE(wal.ok()) << wal.status();
    for (int i = 0; i < 3; ++i) {
      Append(**wal, Jti(absl::StrCat("j", i), kNow + 600));
    }
    segment = dir.path() + "/" + (*wal)->GetStatus().segments.back().name;
  }
  {
    // Flip a payload byte of the first record (file header 32 + record header 16).
    std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(32 + 16 + 12);
    f.put('X');
  }
  auto wal = WriteAheadLog::Open(dir.path(), WalOptions());
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wal.status().message(), HasSubstr(fs::path(segment).filename().string()));
  EXPECT_THAT(wal.status().message(), HasSubstr("offset 32"));
  EXPECT_THAT(wal.status().message(), HasSubstr("ringward wal repair"));
}

}  // namespace
}  // namespace ringward::revocation
