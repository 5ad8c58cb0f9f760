// Shard in-process: a real ring and a real socket on 127.0.0.1, driven by blocking client
// sockets. Covers what the integration tests cannot steer: a provided-buffer ring running dry.
#include "server/shard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/net/uring/listener.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/probe.h"
#include "ringward/net/uring/user_data.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"

namespace ringward::server {
namespace {

constexpr char kIssuer[] = "https://issuer.test";

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

// ReadResponse returns the status line and body of one response ("" on EOF or timeout).
std::string ReadResponse(int fd, std::string* body = nullptr) {
  std::string buf;
  char chunk[65536];
  size_t head_end = std::string::npos;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return "";
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
  size_t length = 0;
  const size_t cl = buf.find("Content-Length: ");
  if (cl != std::string::npos && cl < head_end) {
    length = std::stoul(buf.substr(cl + 16));
  }
  while (buf.size() < head_end + 4 + length) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return "";
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
  if (body != nullptr) {
    *body = buf.substr(head_end + 4, length);
  }
  return buf.substr(0, buf.find("\r\n"));
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status s = uring::ProbeIoUring(); !s.ok()) {
      GTEST_SKIP() << "io_uring unusable here: " << s;
    }
    auto key = token::Key::Generate(token::Algorithm::kEdDSA, "k1");
    ASSERT_TRUE(key.ok());
    key_ = key->get();
    auto keys = std::make_shared<token::KeySet>();
    ASSERT_TRUE(keys->Add(*std::move(key)).ok());
    auto state = std::make_shared<ServingState>();
    state->config.server.listen.clear();
    state->config.server.shutdown_grace_ms = 2000;
    state->config.server.max_body_bytes = 4 << 20;
    state->config.tokens.issuers = {kIssuer};
    state->config.tokens.access_token_profile = false;
    state->config.tokens.cache_entries = 0;  // every token verified in full: slow on purpose
    state->config.tokens.bulk_max_tokens = 100000;
    state->limits.max_body_bytes = 4 << 20;
    state->keys = keys;
    auto verifier = token::Verifier::Create(keys, PolicyFromConfig(state->config.tokens));
    ASSERT_TRUE(verifier.ok());
    state->verifier = *std::move(verifier);
    snapshot_ = std::make_unique<concurrent::VersionedSnapshot<ServingState>>(state);
  }

  void Start(const ShardTuning& tuning) {
    absl::StatusOr<Fd> fd = uring::CreateListenSocket("127.0.0.1:0");
    ASSERT_TRUE(fd.ok()) << fd.status();
    auto port = uring::LocalPort(fd->get());
    ASSERT_TRUE(port.ok());
    port_ = *port;
    std::vector<ListenerSpec> listeners(1);
    listeners[0].fd = fd->get();
    listeners[0].owned = *std::move(fd);
    ShardShared shared;
    shared.state = snapshot_.get();
    shared.metrics = std::span<ShardMetrics>(metrics_, 1);
    shared.ready = &ready_;
    shard_ = std::make_unique<Shard>(0, -1, std::move(listeners), shared, tuning);
    thread_ = std::thread([this] { shard_->Run(); });
    ASSERT_TRUE(ready_.WaitSettled(std::chrono::seconds(5))) << shard_->status();
  }

  // Drain sends the drain command the way the Server does, from a ring of this thread.
  void Drain() {
    auto ring = uring::Ring::Create(8);
    ASSERT_TRUE(ring.ok());
    uring::PrepMsgRing(ring->GetSqe(), shard_->ring_fd(), kShardDrain,
                       uring::EncodeUserData(uring::Op::kWake, 0, 0),
                       uring::EncodeUserData(uring::Op::kMsgSent, 0, 0));
    ASSERT_TRUE(ring->SubmitAndWait(1, std::chrono::seconds(2)).ok());
    int res = -1;
    ring->ForEachCompletion([&res](const io_uring_cqe& cqe) { res = cqe.res; });
    EXPECT_EQ(res, 0);
  }

  void TearDown() override {
    if (thread_.joinable()) {
      Drain();
      thread_.join();
    }
  }

  std::string Mint(const std::string& sub) {
    auto t = token::SignCompact(
        *key_, absl::StrCat("{\"iss\":\"", kIssuer, "\",\"sub\":\"", sub, "\",\"exp\":",
                            std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                600,
                            "}"),
        "");
    return *t;
  }

  const token::Key* key_ = nullptr;
  std::unique_ptr<concurrent::VersionedSnapshot<ServingState>> snapshot_;
  ShardMetrics metrics_[1];
  concurrent::ReadyLatch ready_{1};
  std::unique_ptr<Shard> shard_;
  std::thread thread_;
  uint16_t port_ = 0;
};

TEST_F(ShardTest, ServesKeepAliveRequests) {
  Start(ShardTuning());
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string body;
    EXPECT_EQ(ReadResponse(fd, &body), "HTTP/1.1 200 OK");
    EXPECT_EQ(body, "ok\n");
  }
  ::close(fd);
}

TEST_F(ShardTest, EmptyBufferRingIsRecoveredFrom) {
  // Two provided buffers for 64 connections whose requests all arrive while the shard is busy
  // verifying a bulk request: most receives find the ring empty, and every connection must
  // still be answered once buffers come back.
  ShardTuning tuning;
  tuning.recv_buffer_count = 2;
  tuning.recv_buffer_size = 2048;
  Start(tuning);
  const std::string token = Mint("bulk");
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&body, token, "\n");
  }
  const int busy = Connect(port_);
  ASSERT_GE(busy, 0);
  ASSERT_TRUE(SendAll(busy, absl::StrCat("POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: ",
                                         body.size(), "\r\n\r\n", body)));
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    fds.push_back(Connect(port_));
    ASSERT_GE(fds.back(), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (const int fd : fds) {
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  for (const int fd : fds) {
    EXPECT_EQ(ReadResponse(fd), "HTTP/1.1 200 OK");
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));  // still armed
    EXPECT_EQ(ReadResponse(fd), "HTTP/1.1 200 OK");
    ::close(fd);
  }
  std::string answer;
  EXPECT_EQ(ReadResponse(busy, &answer), "HTTP/1.1 200 OK");
  EXPECT_EQ(answer.size(), std::string("ok bulk\n").size() * 2000);
  ::close(busy);
  EXPECT_GT(metrics_[0].recv_starved.Value(), 0u);
}

TEST_F(ShardTest, DrainClosesIdleConnectionsAndEnds) {
  Start(ShardTuning());
  const int fd = Connect(port_);
  ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(ReadResponse(fd), "HTTP/1.1 200 OK");
  const auto start = std::chrono::steady_clock::now();
  Drain();
  char c;
  EXPECT_EQ(::recv(fd, &c, 1, 0), 0);  // closed by the drain, not by a timeout
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(shard_->status().ok());
  EXPECT_LT(Connect(port_), 0);  // the listener is gone
  ::close(fd);
}

}  // namespace
}  // namespace ringward::server
