// Tests for the follower side of replication: ReplicationClient against a fake leader (a real
// BoringSSL server on 127.0.0.1:0 with a freshly made self-signed certificate, writing frames
// built by hand with wal_format::AppendRecord) and a fake ReplicaSink that records every call.
#include "replication/follower.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "openssl/ssl.h"
#include "replication/protocol.h"
#include "revocation/wal_format.h"
#include "testing/fake_http_server.h"
#include "testing/temp_dir.h"

namespace ringward::replication {
namespace {

using revocation::WalRecord;
namespace wal_format = revocation::wal_format;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kCredential[] = "follower-test-credential-0123456789";
constexpr char kStreamHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ringward.wal-stream\r\n"
    "Cache-Control: no-store\r\nConnection: close\r\n\r\n";

// ---- frames, by hand (independent of protocol.cc's encoders) ----

std::string Record(uint64_t lsn, uint16_t type, std::string_view payload) {
  std::string out;
  wal_format::AppendRecord(&out, lsn, type, payload);
  return out;
}

std::string U64(uint64_t v) {
  std::string out(8, '\0');
  wal_format::PutU64(out.data(), v);
  return out;
}

std::string Heartbeat(uint64_t leader_lsn) {
  return Record(leader_lsn, 0xFF01, U64(1767225600000));
}
std::string SnapshotBegin(uint64_t covered) { return Record(covered, 0xFF02, ""); }
std::string SnapshotEnd(uint64_t covered, uint64_t records) {
  return Record(covered, 0xFF03, U64(records));
}

std::string Payload(uint64_t lsn) { return absl::StrCat("payload-", lsn); }

// Records lsn first..last of type 1 with Payload(lsn).
std::string Records(uint64_t first, uint64_t last) {
  std::string out;
  for (uint64_t lsn = first; lsn <= last; ++lsn) {
    out += Record(lsn, 1, Payload(lsn));
  }
  return out;
}

// ---- a fake sink ----

class FakeSink : public ReplicaSink {
 public:
  explicit FakeSink(uint64_t durable = 0) : durable_(durable) {}

  uint64_t DurableLsn() override {
    std::lock_guard<std::mutex> lock(mu_);
    return durable_;
  }

  absl::Status Apply(std::vector<WalRecord> records) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++apply_calls_;
    if (!apply_error_.ok()) {
      return apply_error_;
    }
    for (WalRecord& record : records) {
      if (record.lsn != durable_ + 1) {
        contract_broken_ = true;
      }
      durable_ = record.lsn;
      applied_.push_back(std::move(record));
    }
    return absl::OkStatus();
  }

  absl::Status InstallSnapshot(uint64_t covered_lsn, std::vector<WalRecord> records) override {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.emplace_back(covered_lsn, std::move(records));
    durable_ = covered_lsn;
    return absl::OkStatus();
  }

  void SetApplyError(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    apply_error_ = std::move(status);
  }
  std::vector<WalRecord> applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }
  std::vector<std::pair<uint64_t, std::vector<WalRecord>>> snapshots() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshots_;
  }
  int apply_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return apply_calls_;
  }
  bool contract_broken() const {
    std::lock_guard<std::mutex> lock(mu_);
    return contract_broken_;
  }

 private:
  mutable std::mutex mu_;
  uint64_t durable_;
  std::vector<WalRecord> applied_;
  std::vector<std::pair<uint64_t, std::vector<WalRecord>>> snapshots_;
  absl::Status apply_error_;
  int apply_calls_ = 0;
  bool contract_broken_ = false;
};

// ---- a fake leader ----

using test::CertFiles;
using test::MakeCert;

// FakeLeader is a TLS test::FakeHttpServer: a leader whose answers the test scripts.
class FakeLeader : public test::FakeHttpServer {
 public:
  FakeLeader(const CertFiles& files, Script script) : FakeHttpServer(&files, std::move(script)) {}
};

// WaitUntil polls |done| for up to 10 s.
bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return done();
}

std::string RequestLine(const std::string& request) {
  return request.substr(0, request.find("\r\n"));
}

FollowerOptions Options(const std::string& url, const std::string& ca_file) {
  FollowerOptions options;
  options.leader_url = url;
  options.ca_file = ca_file;
  options.credential = kCredential;
  options.backoff_initial_ms = 20;
  options.backoff_max_ms = 80;
  return options;
}

std::unique_ptr<ReplicationClient> StartClient(FollowerOptions options, ReplicaSink* sink) {
  absl::StatusOr<std::unique_ptr<ReplicationClient>> client =
      ReplicationClient::Start(std::move(options), sink);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

void ExpectRecords(const std::vector<WalRecord>& records, uint64_t first, uint64_t last) {
  ASSERT_EQ(records.size(), last - first + 1);
  for (uint64_t lsn = first; lsn <= last; ++lsn) {
    const WalRecord& record = records[lsn - first];
    EXPECT_EQ(record.lsn, lsn);
    EXPECT_EQ(record.type, 1);
    EXPECT_EQ(record.payload, Payload(lsn));
  }
}

// ---- tests ----

TEST(ReplicationClientTest, RecordsAreAppliedInOrder) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    // The head with the first records in one write, then a frame split across two writes.
    const std::string more = Records(4, 6);
    conn.Write(kStreamHead + Records(1, 3));
    conn.Write(more.substr(0, 10));
    std::this_thread::sleep_for(milliseconds(20));
    conn.Write(more.substr(10) + Heartbeat(6));
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->applied_lsn() == 6 && client->leader_lsn() == 6; }))
      << client->last_error();
  ExpectRecords(sink.applied(), 1, 6);
  EXPECT_FALSE(sink.contract_broken());
  EXPECT_TRUE(client->connected());
  EXPECT_EQ(client->applied_records(), 6u);
  EXPECT_EQ(client->lag_records(), 0u);
  EXPECT_EQ(client->reconnects(), 0u);

  const std::vector<std::string> requests = leader.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(RequestLine(requests[0]), "GET /replication/v1/stream?from=1 HTTP/1.1");
  EXPECT_NE(requests[0].find(absl::StrCat("\r\nHost: 127.0.0.1:", leader.port(), "\r\n")),
            std::string::npos);
  EXPECT_NE(requests[0].find(absl::StrCat("\r\nAuthorization: Bearer ", kCredential, "\r\n")),
            std::string::npos);
  EXPECT_NE(requests[0].find("\r\nUser-Agent: ringward-follower\r\n"), std::string::npos);
  client->Stop();
  EXPECT_FALSE(client->connected());
}

TEST(ReplicationClientTest, HeartbeatUpdatesLeaderLsnAndStaleness) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  FakeLeader leader(cert, [&](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead);
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return go; });
    }
    for (int i = 0; i < 200; ++i) {
      if (!conn.Write(Heartbeat(42))) {
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  FakeSink sink;
  FollowerOptions options = Options(leader.url(), cert.cert);
  options.max_staleness_ms = 2000;
  std::unique_ptr<ReplicationClient> client = StartClient(options, &sink);
  ASSERT_NE(client, nullptr);

  // Connected, but no frame yet: stale, and the lag is unknown.
  ASSERT_TRUE(WaitUntil([&] { return client->connected(); })) << client->last_error();
  EXPECT_TRUE(client->stale());
  EXPECT_EQ(client->ms_since_last_frame(), std::numeric_limits<int64_t>::max());
  EXPECT_NE(client->StatusJson().find("\"lag_ms\":null"), std::string::npos);
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
    cv.notify_all();
  }
  ASSERT_TRUE(WaitUntil([&] { return client->leader_lsn() == 42; })) << client->last_error();
  EXPECT_FALSE(client->stale());
  EXPECT_LT(client->ms_since_last_frame(), 2000);
  EXPECT_EQ(client->applied_lsn(), 0u);
  EXPECT_EQ(client->lag_records(), 42u);
  EXPECT_TRUE(sink.applied().empty());

  std::string metrics;
  client->RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("\nringward_replication_leader_lsn 42\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nringward_replication_lag_records 42\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nringward_replication_connected 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nringward_replication_stale 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("# TYPE ringward_replication_reconnects_total counter\n"),
            std::string::npos);
  const std::string json = client->StatusJson();
  EXPECT_NE(json.find("\"role\":\"follower\""), std::string::npos) << json;
  EXPECT_NE(json.find(absl::StrCat("\"leader\":\"", leader.url(), "\"")), std::string::npos);
  EXPECT_NE(json.find("\"leader_lsn\":42,\"applied_lsn\":0,\"lag_records\":42"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"stale\":false"), std::string::npos) << json;
}

TEST(ReplicationClientTest, SilentLeaderMakesFollowerStaleAndIsDropped) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int index, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead);
    if (index == 0) {
      conn.Write(Heartbeat(3));
    }
    leader_ptr->Hold();  // then nothing, not even heartbeats
  });
  leader_ptr = &leader;
  FakeSink sink;
  FollowerOptions options = Options(leader.url(), cert.cert);
  options.max_staleness_ms = 300;
  std::unique_ptr<ReplicationClient> client = StartClient(options, &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->leader_lsn() == 3; })) << client->last_error();
  const auto fresh_at = steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return client->stale(); }));
  EXPECT_GE(steady_clock::now() - fresh_at, milliseconds(200));
  EXPECT_GT(client->ms_since_last_frame(), 300);
  std::string metrics;
  client->RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("\nringward_replication_stale 1\n"), std::string::npos) << metrics;

  // No byte for io_timeout (= max_staleness_ms): the connection is dropped and retried.
  ASSERT_TRUE(WaitUntil([&] { return leader.requests().size() >= 2; }));
  EXPECT_GE(client->reconnects(), 1u);
  EXPECT_NE(client->last_error().find("sent nothing"), std::string::npos) << client->last_error();
  EXPECT_TRUE(client->stale());
}

TEST(ReplicationClientTest, SnapshotIsInstalledThenRecordsFollow) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + SnapshotBegin(10) + Record(0, 1, "snap-a") + Record(0, 2, "snap-b") +
               Record(0, 33, "snap-c") + SnapshotEnd(10, 3) + Records(11, 12) + Heartbeat(12));
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->applied_lsn() == 12; })) << client->last_error();
  const auto snapshots = sink.snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].first, 10u);
  ASSERT_EQ(snapshots[0].second.size(), 3u);
  EXPECT_EQ(snapshots[0].second[0].type, 1);
  EXPECT_EQ(snapshots[0].second[0].payload, "snap-a");
  EXPECT_EQ(snapshots[0].second[1].type, 2);
  EXPECT_EQ(snapshots[0].second[2].type, 33);
  EXPECT_EQ(snapshots[0].second[2].payload, "snap-c");
  EXPECT_EQ(snapshots[0].second[2].lsn, 10u);
  ExpectRecords(sink.applied(), 11, 12);
  EXPECT_FALSE(sink.contract_broken());
  EXPECT_EQ(RequestLine(leader.requests()[0]), "GET /replication/v1/stream?from=1 HTTP/1.1");
}

TEST(ReplicationClientTest, SnapshotWithWrongCountIsNotInstalled) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + SnapshotBegin(10) + Record(0, 1, "snap-a") + SnapshotEnd(10, 2));
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return client->reconnects() >= 1; }));
  EXPECT_TRUE(sink.snapshots().empty());
  EXPECT_NE(client->last_error().find("snapshot end"), std::string::npos) << client->last_error();
}

TEST(ReplicationClientTest, LeaderFailingVerificationIsNeverReadFrom) {
  test::TempDir dir;
  const CertFiles leader_cert = MakeCert(dir, "leader");
  const CertFiles other_cert = MakeCert(dir, "other");
  FakeLeader leader(leader_cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + Records(1, 3));
  });
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client =
      StartClient(Options(leader.url(), other_cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->reconnects() >= 2; }));
  EXPECT_TRUE(leader.requests().empty());  // the credential never left the follower
  EXPECT_GE(leader.handshakes_failed(), 1);
  EXPECT_EQ(sink.apply_calls(), 0);
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(client->leader_lsn(), 0u);
  EXPECT_TRUE(client->stale());
  EXPECT_NE(client->last_error().find("certificate verification"), std::string::npos)
      << client->last_error();
}

TEST(ReplicationClientTest, CertificateNotNamingTheLeaderAddressIsRejected) {
  test::TempDir dir;
  // Trusted (it is the CA file) but issued for another name: the IP check must refuse it.
  const CertFiles cert = MakeCert(dir, "leader", {"leader.example"});
  FakeLeader leader(cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + Records(1, 3));
  });
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->reconnects() >= 1; }));
  EXPECT_TRUE(leader.requests().empty());
  EXPECT_EQ(sink.apply_calls(), 0);
  EXPECT_NE(client->last_error().find("certificate verification"), std::string::npos)
      << client->last_error();
}

TEST(ReplicationClientTest, HostNameUrlIsResolvedAndChecked) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader", {"localhost"});
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + Records(1, 2));
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(
      Options(absl::StrCat("https://localhost:", leader.port(), "/"), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->applied_lsn() == 2; })) << client->last_error();
  ASSERT_FALSE(leader.requests().empty());
  EXPECT_NE(leader.requests()[0].find(absl::StrCat("\r\nHost: localhost:", leader.port(), "\r\n")),
            std::string::npos);
}

TEST(ReplicationClientTest, UnauthorizedIsRetriedWithGrowingBackoff) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader leader(cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    const std::string body = "{\"error\":\"invalid replication credential\"}";
    conn.Write(
        absl::StrCat("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                     "Content-Length: ",
                     body.size(), "\r\nConnection: close\r\n\r\n", body));
  });
  FakeSink sink;
  FollowerOptions options = Options(leader.url(), cert.cert);
  options.backoff_initial_ms = 25;
  options.backoff_max_ms = 50;
  std::unique_ptr<ReplicationClient> client = StartClient(options, &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return leader.requests().size() >= 6; }));
  EXPECT_GE(client->reconnects(), 5u);
  EXPECT_FALSE(client->diverged());
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(sink.apply_calls(), 0);
  const std::string error = client->last_error();
  EXPECT_NE(error.find("401"), std::string::npos) << error;
  EXPECT_NE(error.find("invalid replication credential"), std::string::npos) << error;
  // The waits double from 25 ms and stop at 50 ms: 25, 50, 50, 50, 50 (uncapped, the fifth
  // would be 400 ms).
  const std::vector<steady_clock::time_point> times = leader.request_times();
  const int64_t expected_ms[] = {25, 50, 50, 50, 50};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_GE(times[i + 1] - times[i], milliseconds(expected_ms[i] - 2)) << "gap " << i;
  }
  EXPECT_LT(times[5] - times[4], milliseconds(300));
}

TEST(ReplicationClientTest, ConflictStopsReplicationAsDiverged) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader leader(cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    const std::string body = "{\"error\":\"follower is ahead of the leader: diverged\"}";
    conn.Write(
        absl::StrCat("HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
                     "Content-Length: ",
                     body.size(), "\r\nConnection: close\r\n\r\n", body));
  });
  FakeSink sink(/*durable=*/50);
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->diverged(); }));
  std::this_thread::sleep_for(milliseconds(200));  // several backoffs' worth
  ASSERT_EQ(leader.requests().size(), 1u);
  EXPECT_EQ(RequestLine(leader.requests()[0]), "GET /replication/v1/stream?from=51 HTTP/1.1");
  EXPECT_EQ(client->reconnects(), 0u);
  EXPECT_NE(client->last_error().find("diverged"), std::string::npos) << client->last_error();
  EXPECT_NE(client->StatusJson().find("\"diverged\":true"), std::string::npos);
}

TEST(ReplicationClientTest, SinkDivergenceStopsReplication) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader leader(cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead + Records(1, 2));
  });
  FakeSink sink;
  sink.SetApplyError(absl::FailedPreconditionError("log assigned LSN 9, leader sent 1: diverged"));
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->diverged(); }));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(leader.requests().size(), 1u);
  EXPECT_EQ(client->applied_lsn(), 0u);
  EXPECT_NE(client->last_error().find("diverged"), std::string::npos) << client->last_error();
}

TEST(ReplicationClientTest, DroppedConnectionResumesFromDurableLsn) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int index, const std::string&, FakeLeader::Conn& conn) {
    if (index == 0) {
      // A record and a half, then the connection drops.
      const std::string next = Record(10, 1, Payload(10));
      conn.Write(kStreamHead + Records(8, 9) + next.substr(0, next.size() / 2));
      return;
    }
    conn.Write(kStreamHead + Records(10, 11));
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink(/*durable=*/7);  // a follower that already holds LSNs 1..7
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return client->applied_lsn() == 11; })) << client->last_error();
  const std::vector<std::string> requests = leader.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(RequestLine(requests[0]), "GET /replication/v1/stream?from=8 HTTP/1.1");
  EXPECT_EQ(RequestLine(requests[1]), "GET /replication/v1/stream?from=10 HTTP/1.1");
  ExpectRecords(sink.applied(), 8, 11);
  EXPECT_FALSE(sink.contract_broken());
  EXPECT_EQ(client->reconnects(), 1u);
  EXPECT_EQ(client->applied_records(), 4u);
}

TEST(ReplicationClientTest, OutOfOrderLsnIsRefusedAndReconnects) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int index, const std::string&, FakeLeader::Conn& conn) {
    if (index == 0) {
      conn.Write(kStreamHead + Records(1, 1));
      std::this_thread::sleep_for(milliseconds(50));
      conn.Write(Records(3, 3));  // LSN 2 skipped
      leader_ptr->Hold();
      return;
    }
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return leader.requests().size() >= 2; }));
  ExpectRecords(sink.applied(), 1, 1);
  EXPECT_NE(client->last_error().find("LSN 3 where LSN 2 was due"), std::string::npos)
      << client->last_error();
  EXPECT_EQ(RequestLine(leader.requests()[1]), "GET /replication/v1/stream?from=2 HTTP/1.1");
}

TEST(ReplicationClientTest, DamagedFrameIsRefused) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    std::string frame = Record(1, 1, Payload(1));
    frame[wal_format::kRecordHeaderSize] ^= 1;  // a payload bit: the CRC no longer matches
    conn.Write(kStreamHead + frame);
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return client->reconnects() >= 1; }));
  EXPECT_EQ(sink.apply_calls(), 0);
  EXPECT_NE(client->last_error().find("damaged frame"), std::string::npos) << client->last_error();
}

TEST(ReplicationClientTest, WrongContentTypeIsRefused) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader leader(cert, [](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + Records(1, 1));
  });
  FakeSink sink;
  std::unique_ptr<ReplicationClient> client = StartClient(Options(leader.url(), cert.cert), &sink);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return client->reconnects() >= 1; }));
  EXPECT_EQ(sink.apply_calls(), 0);
  EXPECT_NE(client->last_error().find("text/html"), std::string::npos) << client->last_error();
}

TEST(ReplicationClientTest, StopIsPromptWhileWaitingOnASilentLeader) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeLeader* leader_ptr = nullptr;
  FakeLeader leader(cert, [&leader_ptr](int, const std::string&, FakeLeader::Conn& conn) {
    conn.Write(kStreamHead);
    leader_ptr->Hold();
  });
  leader_ptr = &leader;
  FakeSink sink;
  FollowerOptions options = Options(leader.url(), cert.cert);
  options.max_staleness_ms = 60000;
  std::unique_ptr<ReplicationClient> client = StartClient(options, &sink);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return client->connected(); }));
  const auto before = steady_clock::now();
  client->Stop();
  EXPECT_LT(steady_clock::now() - before, milliseconds(1000));
  EXPECT_FALSE(client->connected());
  client->Stop();  // idempotent
}

TEST(ReplicationClientTest, ParsesLeaderUrls) {
  absl::StatusOr<ReplicationClient::Endpoint> v4 =
      ReplicationClient::ParseLeaderUrl("https://127.0.0.1:8445");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_TRUE(v4->host_is_ip);
  EXPECT_EQ(v4->port, "8445");
  EXPECT_EQ(v4->host_header, "127.0.0.1:8445");

  absl::StatusOr<ReplicationClient::Endpoint> v6 =
      ReplicationClient::ParseLeaderUrl("https://[::1]:8445/");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->host_is_ip);
  EXPECT_EQ(v6->host_header, "[::1]:8445");

  absl::StatusOr<ReplicationClient::Endpoint> name =
      ReplicationClient::ParseLeaderUrl("HTTPS://leader.example");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->host, "leader.example");
  EXPECT_FALSE(name->host_is_ip);
  EXPECT_EQ(name->port, "443");

  for (const char* bad :
       {"http://127.0.0.1:8445", "https://", "https://:8445", "https://h:0", "https://h:65536",
        "https://h:", "https://[::1", "https://[::1]x", "https://[zz]:1", "https://h/path",
        "https://u@h:1", "https://h:1?x", "https://h_1:1", "127.0.0.1:8445"}) {
    absl::StatusOr<ReplicationClient::Endpoint> parsed = ReplicationClient::ParseLeaderUrl(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ReplicationClientTest, StartRejectsBadOptions) {
  test::TempDir dir;
  const CertFiles cert = MakeCert(dir, "leader");
  FakeSink sink;
  const std::string url = "https://127.0.0.1:1";

  absl::StatusOr<std::unique_ptr<ReplicationClient>> started =
      ReplicationClient::Start(Options("http://127.0.0.1:1", cert.cert), &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);

  started = ReplicationClient::Start(Options(url, dir.path() + "/missing.pem"), &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(started.status().message()).find("missing.pem"), std::string::npos);

  // A file that is not a certificate (the private key).
  started = ReplicationClient::Start(Options(url, cert.key), &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument) << started.status();

  FollowerOptions short_secret = Options(url, cert.cert);
  short_secret.credential = "short";
  started = ReplicationClient::Start(short_secret, &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);

  FollowerOptions header_injection = Options(url, cert.cert);
  header_injection.credential = "abcdefghijklmnop\r\nX-Evil: 1";
  started = ReplicationClient::Start(header_injection, &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);

  FollowerOptions zero_staleness = Options(url, cert.cert);
  zero_staleness.max_staleness_ms = 0;
  started = ReplicationClient::Start(zero_staleness, &sink);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);

  started = ReplicationClient::Start(Options(url, cert.cert), nullptr);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringward::replication
