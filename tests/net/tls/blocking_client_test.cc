// Tests for tls::BlockingTlsConnection's connection handling over plaintext loopback: the
// verified TLS path is covered end to end by replication_follower_test and
// issuance_jwks_fetcher_test, which run it against real TLS servers.
#include "ringward/net/tls/blocking_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace ringward::tls {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

// Listener is a loopback TCP socket that listens but accepts only when asked: a connect to it
// completes through the backlog, so a peer that never sends is one line.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  int Accept() { return accept(fd_, nullptr, nullptr); }
  ClientTlsOptions Options() const {
    ClientTlsOptions options;
    options.host = "127.0.0.1";
    options.host_is_ip = true;
    options.port = std::to_string(port_);
    options.timeout_ms = 2000;
    return options;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(BlockingTlsConnectionTest, ContextNeedsAUsableCaFile) {
  absl::StatusOr<bssl::UniquePtr<SSL_CTX>> ctx = MakeVerifyingClientContext("");
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);

  test::TempDir dir;
  const std::string junk = dir.path() + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  ctx = MakeVerifyingClientContext(junk);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Msg(ctx.status()).find("junk.pem cannot be read or holds no PEM certificate"),
            std::string::npos)
      << ctx.status();
}

TEST(BlockingTlsConnectionTest, PlaintextGoesOnlyToLoopback) {
  ClientTlsOptions options;
  options.host = "192.0.2.1";  // TEST-NET-1: never contacted, refused before connect()
  options.host_is_ip = true;
  options.port = "80";
  absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> conn =
      BlockingTlsConnection::Connect(nullptr, options);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(Msg(conn.status()).find("non-loopback"), std::string::npos) << conn.status();
}

TEST(BlockingTlsConnectionTest, ClosedPortIsUnavailable) {
  Listener listener;
  const ClientTlsOptions options = listener.Options();
  listener.Close();
  absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> conn =
      BlockingTlsConnection::Connect(nullptr, options);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Msg(conn.status()).rfind("cannot connect to 127.0.0.1: ", 0), 0u) << conn.status();
}

TEST(BlockingTlsConnectionTest, WritesReadsAndSeesTheClose) {
  Listener listener;
  absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> conn =
      BlockingTlsConnection::Connect(nullptr, listener.Options());
  ASSERT_TRUE(conn.ok()) << conn.status();
  const int peer = listener.Accept();
  ASSERT_GE(peer, 0);
  ASSERT_TRUE((*conn)->WriteAll("ping").ok());
  char got[8] = {};
  ASSERT_EQ(recv(peer, got, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(got, 4), "ping");

  char buf[16];
  bool eof = true;
  absl::StatusOr<size_t> n = (*conn)->Read(buf, sizeof(buf), /*wait=*/false, &eof);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);  // nothing readable yet, and not the end
  EXPECT_FALSE(eof);

  ASSERT_EQ(send(peer, "pong", 4, 0), 4);
  n = (*conn)->Read(buf, sizeof(buf), /*wait=*/true, &eof);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(buf, *n), "pong");
  close(peer);
  n = (*conn)->Read(buf, sizeof(buf), /*wait=*/true, &eof);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(eof);
}

TEST(BlockingTlsConnectionTest, SilentPeerTimesOut) {
  Listener listener;
  ClientTlsOptions options = listener.Options();
  options.timeout_ms = 100;
  absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> conn =
      BlockingTlsConnection::Connect(nullptr, options);
  ASSERT_TRUE(conn.ok()) << conn.status();
  char buf[16];
  bool eof = false;
  const auto start = steady_clock::now();
  absl::StatusOr<size_t> n = (*conn)->Read(buf, sizeof(buf), /*wait=*/true, &eof);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDeadlineExceeded) << n.status();
  EXPECT_EQ(Msg(n.status()), "timed out reading the response (100 ms)");
  EXPECT_GE(steady_clock::now() - start, milliseconds(95));
}

TEST(BlockingTlsConnectionTest, CancelFdEndsAWaitAtOnce) {
  Listener listener;
  const int cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(cancel, 0);
  ClientTlsOptions options = listener.Options();
  options.timeout_ms = 60000;
  options.cancel_fd = cancel;
  absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> conn =
      BlockingTlsConnection::Connect(nullptr, options);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const uint64_t one = 1;
  ASSERT_EQ(write(cancel, &one, sizeof(one)), 8);
  char buf[16];
  bool eof = false;
  const auto start = steady_clock::now();
  absl::StatusOr<size_t> n = (*conn)->Read(buf, sizeof(buf), /*wait=*/true, &eof);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kCancelled) << n.status();
  EXPECT_LT(steady_clock::now() - start, milliseconds(5000));
  close(cancel);
}

}  // namespace
}  // namespace ringward::tls
