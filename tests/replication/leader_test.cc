// Tests for the replication leader (src/replication/leader.h): a real write-ahead log in a temp
// dir, a ReplicationServer on 127.0.0.1:0 with a self-signed certificate, and a blocking
// BoringSSL client that verifies the certificate and speaks protocol.md.
#include "replication/leader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "replication/protocol.h"
#include "ringward/base/fd.h"
#include "ringward/net/tls/self_signed.h"
#include "ringward/revocation/wal.h"
#include "testing/temp_dir.h"

namespace ringward::replication {
namespace {

using revocation::WalRecord;
using revocation::WriteAheadLog;
using revocation::wal_format::RecordView;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr char kSecret[] = "replication-secret-0123456789";

struct Frame {
  uint16_t type = 0;
  uint64_t lsn = 0;
  std::string payload;
};

// Client is a follower stand-in: blocking TLS with certificate and IP verification, reads
// bounded by a 5 s socket timeout so that a broken server fails the test instead of hanging it.
class Client {
 public:
  // Connect connects to |address| ("127.0.0.1:port") trusting |ca_file|.
  bool Connect(const std::string& address, const std::string& ca_file) {
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      ADD_FAILURE() << "bad address " << address;
      return false;
    }
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval timeout = {5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      return false;
    }
    ctx_.reset(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
    EXPECT_TRUE(SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), "127.0.0.1");
    SSL_set_fd(ssl_.get(), fd_.get());
    if (SSL_connect(ssl_.get()) != 1) {
      ADD_FAILURE() << "TLS handshake failed";
      return false;
    }
    return true;
  }

  bool Send(std::string_view bytes) {
    return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }

  // Read reads once into |pending_|; false on EOF, error or timeout.
  bool Read() {
    char buf[16384];
    const int n = SSL_read(ssl_.get(), buf, sizeof(buf));
    if (n <= 0) {
      return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // ReadHead returns the status code of the response and its head in |*head| (0 on failure).
  int ReadHead(std::string* head) {
    size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Read()) {
        return 0;
      }
    }
    *head = pending_.substr(0, end + 4);
    pending_.erase(0, end + 4);
    int status = 0;
    if (head->size() < 12 || head->compare(0, 9, "HTTP/1.1 ") != 0 ||
        !absl::SimpleAtoi(head->substr(9, 3), &status)) {
      return 0;
    }
    return status;
  }

  // ReadToEnd returns everything until the server closes the connection (at most 1 MiB or 5 s,
  // so that a stream opened by mistake fails the test instead of hanging it).
  std::string ReadToEnd() {
    const auto deadline = steady_clock::now() + milliseconds(5000);
    while (pending_.size() < (1u << 20) && steady_clock::now() < deadline && Read()) {
    }
    std::string all = std::move(pending_);
    pending_.clear();
    return all;
  }

  // NextFrame reads until a complete frame arrives (false on close, timeout or bad frame).
  bool NextFrame(Frame* frame) {
    for (;;) {
      if (!pending_.empty()) {
        frames_.Feed(pending_);
        pending_.clear();
      }
      RecordView view;
      absl::StatusOr<bool> got = frames_.Next(&view);
      if (!got.ok()) {
        ADD_FAILURE() << got.status();
        return false;
      }
      if (*got) {
        *frame = Frame{view.type, view.lsn, std::string(view.payload)};
        return true;
      }
      if (!Read()) {
        return false;
      }
    }
  }

  // NextRecord skips heartbeats.
  bool NextRecord(Frame* frame) {
    while (NextFrame(frame)) {
      if (frame->type != kFrameHeartbeat) {
        return true;
      }
    }
    return false;
  }

  void Close() {
    ssl_.reset();
    fd_.reset();
  }

 private:
  Fd fd_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
  std::string pending_;
  FrameReader frames_;
};

std::string StreamRequest(uint64_t from, std::string_view secret = kSecret) {
  return absl::StrCat("GET /replication/v1/stream?from=", from,
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ", std::string(secret),
                      "\r\n\r\n");
}

std::string Payload(uint64_t lsn) {
  return absl::StrCat("record-", lsn, "-", std::string(lsn % 7, '#'));
}
uint16_t TypeOf(uint64_t lsn) { return static_cast<uint16_t>(1 + lsn % 3); }

template <typename Predicate>
bool Eventually(Predicate predicate, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return predicate();
}

class LeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    ASSERT_TRUE(
        tls::WriteSelfSignedCertificate(cert_, key_, std::chrono::system_clock::now()).ok());
    revocation::WalOptions wal_options;
    wal_options.segment_bytes = 256;  // a few records per segment, so compaction removes some
    absl::StatusOr<std::unique_ptr<WriteAheadLog>> wal =
        WriteAheadLog::Open(dir_.path() + "/wal", wal_options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = *std::move(wal);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Stop();
    }
  }

  LeaderOptions Options() {
    LeaderOptions o;
    o.listen = "127.0.0.1:0";
    o.certificate_file = cert_;
    o.private_key_file = key_;
    o.credential = kSecret;
    o.heartbeat_ms = 50;
    o.log = [this](int, std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(std::string(line));
    };
    return o;
  }

  void StartServer(LeaderOptions options) {
    absl::StatusOr<std::unique_ptr<ReplicationServer>> server =
        ReplicationServer::Start(std::move(options), wal_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void StartServer() { StartServer(Options()); }

  void Append(uint64_t through) {
    while (wal_->durable_lsn() < through) {
      const uint64_t lsn = wal_->durable_lsn() + 1;
      absl::StatusOr<uint64_t> got = wal_->AppendAndWait(TypeOf(lsn), Payload(lsn));
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, lsn);
    }
  }

  // Request connects, sends |request| and returns the status (the head in |*head|).
  int Request(Client* client, const std::string& request, std::string* head = nullptr) {
    std::string ignored;
    if (!client->Connect(server_->bound_address(), cert_) || !client->Send(request)) {
      return 0;
    }
    return client->ReadHead(head != nullptr ? head : &ignored);
  }

  // ExpectRecords reads records |first|..|last| (heartbeats skipped) with their LSNs.
  void ExpectRecords(Client* client, uint64_t first, uint64_t last) {
    for (uint64_t lsn = first; lsn <= last; ++lsn) {
      Frame frame;
      ASSERT_TRUE(client->NextRecord(&frame)) << "waiting for LSN " << lsn;
      ASSERT_EQ(frame.lsn, lsn);
      ASSERT_EQ(frame.type, TypeOf(lsn));
      ASSERT_EQ(frame.payload, Payload(lsn));
    }
  }

  std::string Metrics() {
    std::string out;
    server_->RenderMetrics(&out);
    return out;
  }

  bool Logged(std::string_view needle) {
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const std::string& line : log_) {
      if (line.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  test::TempDir dir_;
  std::string cert_;
  std::string key_;
  std::unique_ptr<WriteAheadLog> wal_;
  std::unique_ptr<ReplicationServer> server_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(LeaderTest, BindsAnEphemeralPort) {
  StartServer();
  const std::string address = server_->bound_address();
  EXPECT_THAT(address, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(address, "127.0.0.1:0");
  EXPECT_TRUE(Logged("event=replication_listening"));
}

TEST_F(LeaderTest, WrongOrMissingCredentialIs401) {
  Append(3);
  StartServer();
  {
    Client client;
    std::string head;
    EXPECT_EQ(Request(&client, StreamRequest(1, "wrong-secret-0123456789"), &head), 401);
    EXPECT_THAT(head, HasSubstr("WWW-Authenticate: Bearer"));
    EXPECT_THAT(head, HasSubstr("Content-Type: application/json"));
    const std::string body = client.ReadToEnd();
    EXPECT_THAT(body, HasSubstr("{\"error\":"));
    EXPECT_THAT(body, HasSubstr("credential"));
    EXPECT_THAT(body, ::testing::Not(HasSubstr("record-"))) << "records leaked to a stranger";
  }
  {
    Client client;
    EXPECT_EQ(Request(&client, "GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
              401);
  }
  {
    // The right secret under another scheme is no credential.
    Client client;
    EXPECT_EQ(Request(&client, absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: "
                                            "x\r\nAuthorization: Basic ",
                                            kSecret, "\r\n\r\n")),
              401);
  }
  {
    // A prefix of the secret is wrong too.
    Client client;
    EXPECT_EQ(Request(&client, StreamRequest(1, std::string(kSecret).substr(0, 20))), 401);
  }
  EXPECT_EQ(server_->refused(ReplicationServer::Refusal::kCredential), 4u);
  EXPECT_THAT(Metrics(), HasSubstr("ringward_replication_refused_total{reason=\"credential\"} 4"));
  EXPECT_EQ(server_->sent_records(), 0u);
}

TEST_F(LeaderTest, StreamsRecordsThenNewOnesAsTheyBecomeDurable) {
  Append(20);
  StartServer();
  Client client;
  std::string head;
  ASSERT_EQ(Request(&client, StreamRequest(1), &head), 200);
  EXPECT_THAT(head, HasSubstr("Content-Type: application/vnd.ringward.wal-stream\r\n"));
  EXPECT_THAT(head, HasSubstr("Cache-Control: no-store\r\n"));
  EXPECT_THAT(head, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(head, ::testing::Not(HasSubstr("Content-Length")));

  // The stream opens with a heartbeat carrying the leader's durable LSN.
  Frame first;
  ASSERT_TRUE(client.NextFrame(&first));
  ASSERT_EQ(first.type, kFrameHeartbeat);
  EXPECT_EQ(first.lsn, 20u);
  ExpectRecords(&client, 1, 20);
  EXPECT_TRUE(Eventually([&] { return server_->followers() == 1; }));

  // Appended while connected: streamed without a reconnect.
  Append(27);
  ExpectRecords(&client, 21, 27);
  EXPECT_TRUE(Eventually([&] { return server_->sent_records() == 27; }));
  EXPECT_TRUE(Eventually([&] {
    return server_->StatusJson().find("\"sent_lsn\":27,") != std::string::npos;
  })) << server_->StatusJson();
  const std::string status = server_->StatusJson();
  EXPECT_THAT(status, HasSubstr("{\"role\":\"leader\""));
  EXPECT_THAT(status, HasSubstr("\"peer\":\"127.0.0.1:"));
  EXPECT_THAT(status, HasSubstr("\"durable_lsn\":27"));
  EXPECT_THAT(status, HasSubstr("\"connected_ms\":"));
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("ringward_replication_followers 1\n"));
  EXPECT_THAT(metrics, HasSubstr("ringward_replication_sent_records_total 27\n"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE ringward_replication_sent_bytes_total counter\n"));
  EXPECT_GT(server_->sent_bytes(), 27u * 20);

  // The follower goes away: the streamer notices and the gauge drops.
  client.Close();
  EXPECT_TRUE(Eventually([&] { return server_->followers() == 0; }));
  EXPECT_TRUE(Eventually([&] { return Logged("event=replication_follower_disconnected"); }));
}

TEST_F(LeaderTest, ResumesFromTheRequestedLsn) {
  Append(12);
  StartServer();
  Client client;
  ASSERT_EQ(Request(&client, StreamRequest(9)), 200);
  ExpectRecords(&client, 9, 12);
}

TEST_F(LeaderTest, HeartbeatsWhenIdle) {
  Append(4);
  StartServer();
  Client client;
  ASSERT_EQ(Request(&client, StreamRequest(5)), 200);
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  // The opening heartbeat and at least two more while the log is idle.
  for (int i = 0; i < 3; ++i) {
    Frame frame;
    ASSERT_TRUE(client.NextFrame(&frame)) << "heartbeat " << i;
    ASSERT_EQ(frame.type, kFrameHeartbeat);
    RecordView view;
    view.type = frame.type;
    view.lsn = frame.lsn;
    view.payload = frame.payload;
    uint64_t lsn = 0;
    int64_t unix_ms = 0;
    ASSERT_TRUE(DecodeHeartbeat(view, &lsn, &unix_ms));
    EXPECT_EQ(lsn, 4u);
    EXPECT_NEAR(static_cast<double>(unix_ms), static_cast<double>(now_ms), 60000.0);
  }
  EXPECT_EQ(server_->sent_records(), 0u);
  // A heartbeat carries the new durable LSN once there is one, and the record follows.
  Append(5);
  ExpectRecords(&client, 5, 5);
}

TEST_F(LeaderTest, SendsTheSnapshotWhenTheFollowerIsBehindTheOldestSegment) {
  Append(30);
  const std::vector<WalRecord> live = {{0, 7, "live-a"}, {0, 8, "live-b"}, {0, 7, ""}};
  ASSERT_TRUE(wal_->Compact(20, live).ok());
  ASSERT_GT(wal_->oldest_lsn(), 1u) << "the test needs compaction to remove a segment";
  ASSERT_LE(wal_->oldest_lsn(), 21u);
  StartServer();

  Client client;
  ASSERT_EQ(Request(&client, StreamRequest(1)), 200);
  Frame frame;
  ASSERT_TRUE(client.NextRecord(&frame));
  ASSERT_EQ(frame.type, kFrameSnapshotBegin);
  EXPECT_EQ(frame.lsn, 20u);
  EXPECT_TRUE(frame.payload.empty());
  for (const WalRecord& want : live) {
    ASSERT_TRUE(client.NextRecord(&frame));
    EXPECT_EQ(frame.lsn, 0u) << "snapshot records carry LSN 0";
    EXPECT_EQ(frame.type, want.type);
    EXPECT_EQ(frame.payload, want.payload);
  }
  ASSERT_TRUE(client.NextRecord(&frame));
  ASSERT_EQ(frame.type, kFrameSnapshotEnd);
  RecordView view;
  view.type = frame.type;
  view.lsn = frame.lsn;
  view.payload = frame.payload;
  uint64_t covered = 0;
  uint64_t count = 0;
  ASSERT_TRUE(DecodeSnapshotEnd(view, &covered, &count));
  EXPECT_EQ(covered, 20u);
  EXPECT_EQ(count, live.size());
  // Then the log after the snapshot, each LSN once.
  ExpectRecords(&client, 21, 30);
  EXPECT_EQ(server_->snapshots_sent(), 1u);
  EXPECT_TRUE(Eventually([&] { return server_->sent_records() == live.size() + 10; }));

  // A follower still within the segments gets no snapshot.
  Client near;
  const uint64_t oldest = wal_->oldest_lsn();
  ASSERT_EQ(Request(&near, StreamRequest(oldest)), 200);
  ExpectRecords(&near, oldest, 30);
  EXPECT_EQ(server_->snapshots_sent(), 1u);
}

TEST_F(LeaderTest, FollowerAheadOfTheLeaderIs409) {
  Append(5);
  StartServer();
  {
    Client client;
    EXPECT_EQ(Request(&client, StreamRequest(7)), 409);
    const std::string body = client.ReadToEnd();
    EXPECT_THAT(body, HasSubstr("follower is ahead of the leader: diverged"));
    EXPECT_THAT(body, HasSubstr("\"leader_durable_lsn\":5"));
  }
  EXPECT_EQ(server_->refused(ReplicationServer::Refusal::kDiverged), 1u);
  {
    // durable + 1 is the normal "caught up" position.
    Client client;
    EXPECT_EQ(Request(&client, StreamRequest(6)), 200);
  }
}

TEST_F(LeaderTest, MalformedRequestsAreRefused) {
  Append(2);
  StartServer();
  const std::string auth = absl::StrCat("Authorization: Bearer ", kSecret, "\r\n");
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      {absl::StrCat("GET /replication/v1/other?from=1 HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"), 404},
      {absl::StrCat("POST /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"),
       405},
      {absl::StrCat("GET /replication/v1/stream HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"), 400},
      {absl::StrCat("GET /replication/v1/stream?from=0 HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1x HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=-1 HTTP/1.1\r\nHost: x\r\n", auth, "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=99999999999999999999999 HTTP/1.1\r\nHost: "
                    "x\r\n",
                    auth, "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.0\r\nHost: x\r\n", auth, "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\n", auth, "\r\n"), 400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n", auth, auth,
                    "\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n", auth,
                    " folded\r\n\r\n"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n", auth,
                    "Content-Length: 5\r\n\r\nhello"),
       400},
      {absl::StrCat("GET /replication/v1/stream?from=1 HTTP/1.1\r\nHost: x\r\n", auth,
                    "X-Big: ", std::string(9000, 'a'), "\r\n\r\n"),
       400},
  };
  uint64_t expected_refusals = 0;
  for (const Case& c : cases) {
    Client client;
    std::string head;
    EXPECT_EQ(Request(&client, c.request, &head), c.status) << c.request.substr(0, 80);
    EXPECT_THAT(client.ReadToEnd(), HasSubstr("\"error\":")) << c.request.substr(0, 80);
    ++expected_refusals;
  }
  EXPECT_EQ(server_->refused(ReplicationServer::Refusal::kBadRequest), expected_refusals);
  EXPECT_EQ(server_->refused(ReplicationServer::Refusal::kCredential), 0u);
  EXPECT_EQ(server_->sent_records(), 0u);
}

TEST_F(LeaderTest, MoreThanMaxFollowersIs503) {
  Append(3);
  LeaderOptions options = Options();
  options.max_followers = 1;
  StartServer(std::move(options));
  Client first;
  ASSERT_EQ(Request(&first, StreamRequest(1)), 200);
  ASSERT_TRUE(Eventually([&] { return server_->followers() == 1; }));
  {
    Client second;
    std::string head;
    EXPECT_EQ(Request(&second, StreamRequest(1), &head), 503);
    EXPECT_THAT(head, HasSubstr("Retry-After:"));
  }
  EXPECT_EQ(server_->refused(ReplicationServer::Refusal::kFull), 1u);
  first.Close();
  ASSERT_TRUE(Eventually([&] { return server_->followers() == 0; }));
  Client third;
  EXPECT_EQ(Request(&third, StreamRequest(1)), 200);
}

TEST_F(LeaderTest, StopEndsStreamsPromptly) {
  Append(3);
  StartServer();
  Client a;
  Client b;
  ASSERT_EQ(Request(&a, StreamRequest(1)), 200);
  ASSERT_EQ(Request(&b, StreamRequest(4)), 200);
  // A third connection that never finishes its handshake.
  Fd idle(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  {
    const std::string address = server_->bound_address();
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(idle.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ASSERT_TRUE(Eventually([&] { return server_->followers() == 2; }));
  const auto start = steady_clock::now();
  server_->Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(server_->followers(), 0);
  // The listener is closed: new connections are refused.
  {
    const std::string address = server_->bound_address();
    Fd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_NE(::connect(late.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  // The followers see the end of the stream.
  Frame frame;
  while (a.NextFrame(&frame)) {
  }
  while (b.NextFrame(&frame)) {
  }
}

TEST_F(LeaderTest, HandshakeTimeoutDropsSilentConnections) {
  LeaderOptions options = Options();
  options.handshake_timeout_ms = 100;
  StartServer(std::move(options));
  Fd idle(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const std::string address = server_->bound_address();
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(idle.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval timeout = {5, 0};
  ::setsockopt(idle.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char byte;
  const auto start = steady_clock::now();
  EXPECT_EQ(::recv(idle.get(), &byte, 1, 0), 0) << "the server should close the connection";
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));
  EXPECT_TRUE(Eventually([&] { return Logged("timeout"); }));
}

TEST_F(LeaderTest, StartRejectsBadOptions) {
  {
    LeaderOptions o = Options();
    o.listen = "localhost:8445";
    EXPECT_TRUE(absl::IsInvalidArgument(ReplicationServer::Start(o, wal_.get()).status()));
  }
  {
    LeaderOptions o = Options();
    o.listen = "127.0.0.1:70000";
    EXPECT_TRUE(absl::IsInvalidArgument(ReplicationServer::Start(o, wal_.get()).status()));
  }
  {
    LeaderOptions o = Options();
    o.listen = "::1:8445";
    EXPECT_TRUE(absl::IsInvalidArgument(ReplicationServer::Start(o, wal_.get()).status()));
  }
  {
    LeaderOptions o = Options();
    o.credential = "short";
    EXPECT_TRUE(absl::IsInvalidArgument(ReplicationServer::Start(o, wal_.get()).status()));
  }
  {
    LeaderOptions o = Options();
    o.certificate_file = dir_.path() + "/missing.pem";
    absl::Status status = ReplicationServer::Start(o, wal_.get()).status();
    EXPECT_FALSE(status.ok());
    EXPECT_THAT(std::string(status.message()), HasSubstr("missing.pem"));
  }
}

}  // namespace
}  // namespace ringward::replication
