// ControlPlane: a revocation is answered only once durable and visible to every online shard;
// a failed fdatasync answers 503 and turns the plane unhealthy; restarts replay what was
// acknowledged; compaction by segment count keeps everything; shards are woken by MSG_RING.
// The test thread plays the shard: it submits through channel(0) and takes the answers.
#include "server/control_plane.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/ring.h"
#include "ringward/revocation/wal_file_layer.h"
#include "server/shard.h"

namespace ringward::server {
namespace {

using revocation::Revocation;
using revocation::RevocationKind;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr int64_t kExp = 4'000'000'000;  // far in the future

using ::ringward::test::TempDir;

class ControlPlaneTest : public ::testing::Test {
 protected:
  ControlPlaneOptions Options() {
    ControlPlaneOptions o;
    o.wal_dir = dir_.path() + "/wal";
    o.set.expected_revocations = 4096;
    o.set.expected_principal_revocations = 64;
    o.shards = 1;
    o.channel_capacity = 64;
    o.compaction_interval = std::chrono::seconds(0);
    o.compaction_segments = 0;
    o.files = files_;
    return o;
  }

  void Open(ControlPlaneOptions options) {
    absl::StatusOr<std::unique_ptr<ControlPlane>> cp = ControlPlane::Open(std::move(options));
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
    ASSERT_TRUE(cp_->Start().ok());
  }

  // Submit hands one request over as shard 0 would; |id| comes back as the connection index.
  void Submit(uint32_t id, std::vector<Revocation> revocations, ControlOp op = ControlOp::kRevoke) {
    auto r = std::make_unique<ControlRequest>();
    r->shard = 0;
    r->conn_index = id;
    r->op = op;
    r->revocations = std::move(revocations);
    r->received = std::chrono::steady_clock::now();
    ASSERT_TRUE(cp_->channel(0).Submit(r));
    cp_->Wake();
  }

  // Take waits up to |timeout| for |n| answers.
  std::vector<ControlResponse> Take(size_t n,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<ControlResponse> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      if (cp_->channel(0).HasResponses()) {
        cp_->channel(0).TakeResponses([&out](ControlResponse& r) { out.push_back(r); });
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    return out;
  }

  bool Revoked(RevocationKind kind, const std::string& key) {
    revocation::RevocationEntry entry;
    return cp_->revocations().Lookup(kind, key, &entry);
  }

  std::string Metrics() {
    std::string out;
    cp_->RenderMetrics(&out);
    return out;
  }

  TempDir dir_;
  revocation::FileLayer* files_ = nullptr;
  std::unique_ptr<ControlPlane> cp_;
};

TEST_F(ControlPlaneTest, AcknowledgesOnceDurableAndApplied) {
  Open(Options());
  Submit(7, {{RevocationKind::kJti, "j-1", kExp},
             {RevocationKind::kSubject, "alice", 100},
             {RevocationKind::kClient, "web", 100},
             {RevocationKind::kKid, "k-old", 0}});
  std::vector<ControlResponse> answers = Take(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].conn_index, 7u);
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_EQ(answers[0].body, "{\"revoked\":4,\"lsn\":4}\n");
  EXPECT_GE(cp_->wal().durable_lsn(), 4u);
  EXPECT_TRUE(Revoked(RevocationKind::kJti, "j-1"));
  EXPECT_TRUE(Revoked(RevocationKind::kSubject, "alice"));
  EXPECT_TRUE(Revoked(RevocationKind::kClient, "web"));
  EXPECT_TRUE(Revoked(RevocationKind::kKid, "k-old"));
  EXPECT_FALSE(Revoked(RevocationKind::kJti, "j-2"));
  EXPECT_EQ(cp_->channel(0).in_flight(), 0u);
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("ringward_revocations_total{kind=\"jti\"} 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("ringward_revocation_requests_total{result=\"acknowledged\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("ringward_revocation_ack_seconds_count 1\n"));
}

TEST_F(ControlPlaneTest, ManyRequestsInFlightShareGroupCommits) {
  Open(Options());
  constexpr int kRequests = 64;
  for (int i = 0; i < kRequests; ++i) {
    Submit(static_cast<uint32_t>(i), {{RevocationKind::kJti, absl::StrCat("many-", i), kExp}});
  }
  std::vector<ControlResponse> answers = Take(kRequests);
  ASSERT_EQ(answers.size(), static_cast<size_t>(kRequests));
  for (const ControlResponse& a : answers) {
    EXPECT_EQ(a.status, 200) << a.body;
  }
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_TRUE(Revoked(RevocationKind::kJti, absl::StrCat("many-", i)));
  }
  // Fewer fdatasyncs than records: the appends were batched.
  EXPECT_LT(cp_->wal().GetStatus().syncs, static_cast<uint64_t>(kRequests));
}

TEST_F(ControlPlaneTest, AnswerWaitsUntilEveryOnlineShardHasSeenTheRevocation) {
  Open(Options());
  // This thread is shard 0, online and in the middle of a loop turn: it could be holding the
  // set's old generation, so the revocation must not be acknowledged yet.
  cp_->qsbr().Online(0);
  Submit(1, {{RevocationKind::kJti, "wait-for-me", kExp}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Revoked(RevocationKind::kJti, "wait-for-me") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(Revoked(RevocationKind::kJti, "wait-for-me"));     // durable and applied...
  EXPECT_TRUE(Take(1, std::chrono::milliseconds(200)).empty());  // ...but not yet answered
  cp_->qsbr().Quiescent(0);                                      // the top of the next loop turn
  std::vector<ControlResponse> answers = Take(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200);
  cp_->qsbr().Offline(0);
}

TEST_F(ControlPlaneTest, FailedFdatasyncAnswers503AndStopsTheLogForGood) {
  revocation::FaultInjectingFileLayer faults(revocation::PosixFileLayer::Default());
  files_ = &faults;
  Open(Options());
  Submit(1, {{RevocationKind::kJti, "before-failure", kExp}});
  ASSERT_EQ(Take(1).at(0).status, 200);
  EXPECT_TRUE(cp_->healthy());

  faults.FailSyncAt(1);
  Submit(2, {{RevocationKind::kJti, "lost", kExp}});
  std::vector<ControlResponse> answers = Take(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503);
  EXPECT_THAT(answers[0].body, HasSubstr("may or may not"));
  EXPECT_FALSE(cp_->healthy());
  EXPECT_FALSE(Revoked(RevocationKind::kJti, "lost"));

  // Later requests are refused without touching the disk, though fdatasync would work again.
  Submit(3, {{RevocationKind::kJti, "after", kExp}});
  answers = Take(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503);
  EXPECT_THAT(answers[0].body, HasSubstr("refuses writes until ringward restarts"));
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("ringward_wal_healthy 0\n"));
  EXPECT_THAT(metrics, HasSubstr("ringward_revocation_requests_total{result=\"failed\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("ringward_revocation_requests_total{result=\"refused\"} 1\n"));

  // GET /admin/wal says so too.
  Submit(4, {}, ControlOp::kWalStatus);
  answers = Take(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_THAT(answers[0].body, HasSubstr("\"healthy\":false"));
  EXPECT_THAT(answers[0].body, HasSubstr("\"error\":"));
}

TEST_F(ControlPlaneTest, RestartReplaysWhatWasAcknowledged) {
  Open(Options());
  Submit(1, {{RevocationKind::kJti, "kept", kExp}, {RevocationKind::kSubject, "bob", 1234}});
  ASSERT_EQ(Take(1).at(0).status, 200);
  cp_.reset();
  Open(Options());
  EXPECT_TRUE(Revoked(RevocationKind::kJti, "kept"));
  revocation::RevocationEntry entry;
  ASSERT_TRUE(cp_->revocations().Lookup(RevocationKind::kSubject, "bob", &entry));
  EXPECT_EQ(entry.before, 1234);
  EXPECT_EQ(cp_->applied_lsn(), 2u);
}

TEST_F(ControlPlaneTest, CompactionBySegmentCountKeepsEveryRevocation) {
  ControlPlaneOptions options = Options();
  options.wal.segment_bytes = 4096;
  options.compaction_segments = 3;
  Open(std::move(options));
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Revocation> batch;
    for (int i = 0; i < 20; ++i) {
      batch.push_back({RevocationKind::kJti, absl::StrCat("c-", round, "-", i), kExp});
    }
    Submit(static_cast<uint32_t>(round), std::move(batch));
    ASSERT_EQ(Take(1).at(0).status, 200);
  }
  // The control thread looks at the segment count once a second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cp_->wal().snapshot_lsn() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(cp_->wal().snapshot_lsn(), 0u);
  EXPECT_LT(cp_->wal().GetStatus().segments.size(), 10u);
  cp_.reset();
  Open(Options());
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(Revoked(RevocationKind::kJti, absl::StrCat("c-", round, "-", i)))
          << round << " " << i;
    }
  }
}

TEST_F(ControlPlaneTest, WakesTheShardWithAMsgRing) {
  Open(Options());
  absl::StatusOr<uring::Ring> ring = uring::Ring::Create(8);
  ASSERT_TRUE(ring.ok()) << ring.status();
  cp_->channel(0).SetRingFd(ring->fd());
  Submit(9, {{RevocationKind::kKid, "wake", 0}});
  ASSERT_TRUE(ring->SubmitAndWait(1, std::chrono::seconds(10)).ok());
  int command = 0;
  ring->ForEachCompletion([&command](const io_uring_cqe& cqe) { command = cqe.res; });
  EXPECT_EQ(command, kShardResponses);
  EXPECT_EQ(Take(1).at(0).conn_index, 9u);
  cp_->channel(0).SetRingFd(-1);
}

TEST(AdminTokenTest, MatchesOnlyTheExactToken) {
  absl::StatusOr<AdminToken> token = AdminToken::FromString("  s3cret-admin-token-1234\n", "t");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(token->Matches("s3cret-admin-token-1234"));
  EXPECT_FALSE(token->Matches("s3cret-admin-token-123"));
  EXPECT_FALSE(token->Matches("s3cret-admin-token-12345"));
  EXPECT_FALSE(token->Matches(""));
  EXPECT_FALSE(AdminToken::FromString("short", "f").ok());
  EXPECT_THAT(
      std::string(AdminToken::FromString("has space inside, long enough", "f").status().message()),
      HasSubstr("openssl rand"));
}

}  // namespace
}  // namespace ringward::server
