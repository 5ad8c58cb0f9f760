// The systemd-facing parts of `ringward serve`, in process: sd_notify messages (to a datagram
// socket standing in for systemd's), the watchdog's probe protocol, the socket-activation
// matcher, the sampled access log and the logfmt log lines. The integration test
// tests/integration/serve_systemd_test.py drives the same features through the real binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "concurrent/liveness_probe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ringward/net/http/request_parser.h"
#include "server/access_log.h"
#include "server/log.h"
#include "server/socket_activation.h"
#include "server/systemd_notify.h"
#include "server/watchdog.h"

namespace ringward::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// FakeSystemd is the datagram socket $NOTIFY_SOCKET names, for the life of one test.
class FakeSystemd {
 public:
  FakeSystemd() {
    char dir[] = "/tmp/systemd_test.XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const char* old = getenv("NOTIFY_SOCKET");
    had_old_ = old != nullptr;
    old_ = had_old_ ? old : "";
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeSystemd() {
    if (had_old_) {
      setenv("NOTIFY_SOCKET", old_.c_str(), 1);
    } else {
      unsetenv("NOTIFY_SOCKET");
    }
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  // Messages returns every datagram received so far.
  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    char buffer[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return out;
      }
      out.emplace_back(buffer, static_cast<size_t>(n));
    }
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  bool had_old_ = false;
  std::string old_;
};

TEST(SystemdNotifierTest, SendsTheProtocolMessages) {
  FakeSystemd systemd;
  SystemdNotifier notifier;
  ASSERT_TRUE(notifier.enabled());
  notifier.Ready("serving\non 127.0.0.1:8443");
  notifier.Reloading("reloading");
  notifier.Stopping("stopping");
  notifier.WatchdogPing();
  const std::vector<std::string> m = systemd.Messages();
  ASSERT_EQ(m.size(), 4u);
  // A newline in a status would start a new field: it is made a space.
  EXPECT_EQ(m[0], "READY=1\nSTATUS=serving on 127.0.0.1:8443");
  EXPECT_THAT(m[1], MatchesRegex("RELOADING=1\nMONOTONIC_USEC=[0-9]+\nSTATUS=reloading"));
  EXPECT_EQ(m[2], "STOPPING=1\nSTATUS=stopping");
  EXPECT_EQ(m[3], "WATCHDOG=1");
}

TEST(SystemdNotifierTest, NothingWithoutNotifySocket) {
  const char* set = getenv("NOTIFY_SOCKET");
  const std::string old = set != nullptr ? set : "";
  unsetenv("NOTIFY_SOCKET");
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  notifier.Ready("x");  // must not crash or block
  if (set != nullptr) {
    setenv("NOTIFY_SOCKET", old.c_str(), 1);
  }
}

TEST(SystemdNotifierTest, WatchdogIntervalFollowsTheEnvironment) {
  unsetenv("WATCHDOG_PID");
  setenv("WATCHDOG_USEC", "400000", 1);
  EXPECT_EQ(SystemdNotifier::WatchdogInterval(), std::chrono::microseconds(400000));
  // Meant for another process (the service's main pid is not ours).
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(SystemdNotifier::WatchdogInterval(), std::chrono::microseconds(0));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(SystemdNotifier::WatchdogInterval(), std::chrono::microseconds(400000));
  unsetenv("WATCHDOG_PID");
  unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SystemdNotifier::WatchdogInterval(), std::chrono::microseconds(0));
}

class WatchdogTest : public ::testing::Test {
 protected:
  static constexpr std::chrono::milliseconds kHalf{100};

  WatchdogTest()
      : watchdog_(&notifier_, std::span<concurrent::LivenessProbe>(probes_, 2),
                  std::chrono::microseconds(2 * kHalf), [this] { ++wakes_; }) {}

  size_t Pings() {
    size_t n = 0;
    for (const std::string& m : systemd_.Messages()) {
      n += m == "WATCHDOG=1" ? 1 : 0;
    }
    return n;
  }

  FakeSystemd systemd_;
  SystemdNotifier notifier_;
  concurrent::LivenessProbe probes_[2];
  int wakes_ = 0;
  Watchdog watchdog_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

TEST_F(WatchdogTest, PingsOnlyWhenEveryShardEchoedTheLatestProbe) {
  watchdog_.Start(t0_);
  EXPECT_EQ(probes_[0].posted(), 1u);
  EXPECT_EQ(probes_[1].posted(), 1u);
  EXPECT_EQ(wakes_, 1);
  EXPECT_EQ(watchdog_.TimeUntilTick(t0_), kHalf);

  ShardHeartbeat shard0, shard1;
  shard0.Init(&probes_[0], 0, 0);
  shard1.Init(&probes_[1], 1, 0);
  shard0.Beat(1);
  // Early: nothing happens even though a shard answered.
  watchdog_.Tick(t0_ + kHalf / 2);
  EXPECT_EQ(Pings(), 0u);
  // Due, but shard 1 has not turned its loop: no ping, the same probe stays out, shards woken.
  watchdog_.Tick(t0_ + kHalf);
  EXPECT_EQ(Pings(), 0u);
  EXPECT_EQ(probes_[0].posted(), 1u);
  EXPECT_EQ(wakes_, 2);
  // Shard 1 turns: the next due tick pings and posts probe 2.
  shard1.Beat(2);
  watchdog_.Tick(t0_ + 2 * kHalf);
  EXPECT_EQ(Pings(), 1u);
  EXPECT_EQ(watchdog_.pings(), 1u);
  EXPECT_EQ(probes_[1].posted(), 2u);
  // Echoes of the old probe do not count for the new one.
  watchdog_.Tick(t0_ + 3 * kHalf);
  EXPECT_EQ(Pings(), 0u);
  shard0.Beat(3);
  shard1.Beat(3);
  EXPECT_EQ(probes_[0].echoed(), 2u);
  watchdog_.Tick(t0_ + 4 * kHalf);
  EXPECT_EQ(Pings(), 1u);
}

TEST_F(WatchdogTest, HeartbeatWithoutProbeIsANoOp) {
  ShardHeartbeat beat;
  beat.Init(nullptr, 0, 0);
  beat.Beat(5);  // no watchdog: nothing to echo, nothing to crash on
  SUCCEED();
}

TEST(StallHookTest, ParsedOnlyWithTestHooksEnabled) {
  setenv("RINGWARD_TEST_STALL_SHARD", "1:2.5:0.5", 1);
  unsetenv("RINGWARD_TEST_HOOKS");
  EXPECT_EQ(StallHookFromEnvironment().shard, -1);
  setenv("RINGWARD_TEST_HOOKS", "1", 1);
  const StallHook hook = StallHookFromEnvironment();
  EXPECT_EQ(hook.shard, 1);
  EXPECT_EQ(hook.stall_ms, 2500);
  EXPECT_EQ(hook.after_ms, 500);
  setenv("RINGWARD_TEST_STALL_SHARD", "1", 1);
  EXPECT_EQ(StallHookFromEnvironment().shard, -1);
  setenv("RINGWARD_TEST_STALL_SHARD", "0:3", 1);
  EXPECT_EQ(StallHookFromEnvironment().after_ms, 1000);
  unsetenv("RINGWARD_TEST_STALL_SHARD");
  unsetenv("RINGWARD_TEST_HOOKS");
}

// --- Socket activation. ---

int ListenOn(int family, const char* ip, uint16_t port, bool listen = true) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  if (listen) {
    EXPECT_EQ(::listen(fd, 16), 0);
  }
  return fd;
}

uint16_t PortOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

TEST(ActivatedSocketsTest, MatchesConfiguredAddressesByWhatTheSocketIsBoundTo) {
  const int a = ListenOn(AF_INET, "127.0.0.1", 0);
  const uint16_t port = PortOf(a);
  const int b = ListenOn(AF_INET, "127.0.0.1", port);  // a second socket for the same address
  const int c = ListenOn(AF_INET6, "::1", 0);
  const uint16_t port6 = PortOf(c);
  absl::StatusOr<ActivatedSockets> sockets =
      ActivatedSockets::FromDescriptors({{a, "ringward"}, {b, "ringward"}, {c, "ringward"}});
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  EXPECT_EQ(sockets->size(), 3u);

  std::string bound;
  EXPECT_TRUE(sockets->Claim("127.0.0.2:" + std::to_string(port), &bound).empty());
  EXPECT_TRUE(sockets->Claim("127.0.0.1:" + std::to_string(port + 1), &bound).empty());
  EXPECT_EQ(sockets->Claim("127.0.0.1:" + std::to_string(port), &bound), (std::vector<int>{a, b}));
  EXPECT_EQ(bound, "127.0.0.1:" + std::to_string(port));
  absl::Status unclaimed = sockets->CheckAllClaimed("/etc/ringward/ringward.toml");
  ASSERT_FALSE(unclaimed.ok());
  EXPECT_EQ(unclaimed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unclaimed.message()),
              HasSubstr("fd " + std::to_string(c) +
                        " (ringward) is bound to [::1]:" + std::to_string(port6) +
                        ", which is in neither [server] listen nor plain_listen of "
                        "/etc/ringward/ringward.toml"));
  EXPECT_EQ(sockets->Claim("[::1]:" + std::to_string(port6), &bound), std::vector<int>{c});
  EXPECT_TRUE(sockets->CheckAllClaimed("x").ok());
  EXPECT_EQ(sockets->TakeFds().size(), 3u);  // closed here
}

TEST(ActivatedSocketsTest, UnixSocketsMatchByPath) {
  char dir[] = "/tmp/systemd_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/rw.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  absl::StatusOr<ActivatedSockets> sockets = ActivatedSockets::FromDescriptors({{fd, ""}});
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  std::string bound;
  EXPECT_TRUE(sockets->Claim("unix:" + path + "x", &bound).empty());
  EXPECT_EQ(sockets->Claim("unix:" + path, &bound), std::vector<int>{fd});
  EXPECT_EQ(bound, "unix:" + path);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(ActivatedSocketsTest, RefusesWhatIsNotAListeningStreamSocket) {
  const int not_listening = ListenOn(AF_INET, "127.0.0.1", 0, /*listen=*/false);
  absl::StatusOr<ActivatedSockets> sockets =
      ActivatedSockets::FromDescriptors({{not_listening, "web"}});
  ASSERT_FALSE(sockets.ok());
  EXPECT_THAT(std::string(sockets.status().message()),
              HasSubstr("(web) is not a listening stream socket"));
  const int file = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  sockets = ActivatedSockets::FromDescriptors({{file, ""}});
  ASSERT_FALSE(sockets.ok());
  EXPECT_THAT(std::string(sockets.status().message()), HasSubstr("(unnamed) is not a listening"));
}

TEST(ActivatedSocketsTest, NothingPassedIsEmpty) {
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_PID");
  absl::StatusOr<ActivatedSockets> sockets = ActivatedSockets::Take();
  ASSERT_TRUE(sockets.ok());
  EXPECT_TRUE(sockets->empty());
  std::string bound;
  EXPECT_TRUE(sockets->Claim("127.0.0.1:8443", &bound).empty());
  EXPECT_TRUE(sockets->CheckAllClaimed("x").ok());
}

// --- Access log. ---

class AccessLogTest : public ::testing::Test {
 protected:
  AccessLogTest() { EXPECT_EQ(::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK), 0); }
  ~AccessLogTest() override {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }

  std::string Read() {
    std::string out;
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(pipe_[0], buffer, sizeof(buffer))) > 0) {
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

  // Parse fills request_ from |text| (kept alive in text_).
  void Parse(std::string text) {
    text_ = std::move(text);
    http::RequestParser parser{http::Limits{}};
    ASSERT_EQ(parser.Parse(text_, &request_).status, http::ParseStatus::kComplete);
  }

  int pipe_[2];
  std::string text_;
  http::Request request_;
};

TEST_F(AccessLogTest, OffSamplesNothingAndOneSamplesEverything) {
  AccessLog log(0, 42, pipe_[1]);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(log.ShouldSample());
  }
  log.SetSampleRate(1.0);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(log.ShouldSample());
  }
  log.SetSampleRate(0.0);
  EXPECT_FALSE(log.ShouldSample());
}

TEST_F(AccessLogTest, FractionSamplesAboutThatShare) {
  AccessLog log(0, 12345, pipe_[1]);
  log.SetSampleRate(0.25);
  int sampled = 0;
  for (int i = 0; i < 100000; ++i) {
    sampled += log.ShouldSample() ? 1 : 0;
  }
  EXPECT_GT(sampled, 24000);
  EXPECT_LT(sampled, 26000);
}

TEST_F(AccessLogTest, LineHoldsFingerprintNeverTokenOrQuery) {
  AccessLog log(3, 1, pipe_[1]);
  log.SetSampleRate(1.0);
  Parse(
      "GET /v1/verify?access_token=SECRETQUERY HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer abc\r\n\r\n");
  log.Record(request_, 200, 12'400);
  EXPECT_EQ(Read(), "");  // nothing before the flush
  log.Flush();
  // SHA-256("abc") = ba7816bf...
  EXPECT_EQ(Read(),
            "<6>ringward: event=access shard=3 method=GET path=/v1/verify status=200 us=12 "
            "token=ba7816bf\n");
  // A path that could pass for another field is quoted.
  Parse("POST /a=b%20c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  log.Record(request_, 404, 0);
  log.Flush();
  EXPECT_EQ(Read(),
            "<6>ringward: event=access shard=3 method=POST path=\"/a=b%20c\" status=404 us=0 "
            "token=-\n");
}

TEST_F(AccessLogTest, FullPipeNeitherBlocksNorLosesLinesUntilTheCap) {
  // A slow reader: the pipe fills, Flush returns at once (the test would hang otherwise) and
  // keeps the rest for later; past the cap lines are dropped and counted.
  ASSERT_GE(::fcntl(pipe_[1], F_SETPIPE_SZ, 4096), 0);
  AccessLog log(0, 1, pipe_[1]);
  log.SetSampleRate(1.0);
  Parse("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t recorded = 0;
  while (log.dropped() == 0) {
    log.Record(request_, 200, 1000);
    ++recorded;
    log.Flush();
  }
  EXPECT_GT(log.pending_bytes(), AccessLog::kMaxPendingBytes);
  // The reader catches up: every line not dropped arrives, whole.
  std::string all;
  for (int i = 0; i < 10000 && log.pending_bytes() > 0; ++i) {
    all += Read();
    log.Flush();
  }
  all += Read();
  EXPECT_EQ(log.pending_bytes(), 0u);
  size_t lines = 0;
  for (size_t pos = 0; (pos = all.find('\n', pos)) != std::string::npos; ++pos) {
    ++lines;
  }
  EXPECT_EQ(lines, recorded - log.dropped());
  EXPECT_THAT(all.substr(0, all.find('\n')),
              MatchesRegex("<6>ringward: event=access shard=0 method=GET path=/healthz "
                           "status=200 us=1 token=-"));
}

// --- Log lines. ---

TEST(LogTest, ValuesAreQuotedOnlyWhenNeeded) {
  std::string out;
  AppendLogValue(&out, "plain");
  out += ' ';
  AppendLogValue(&out, "");
  out += ' ';
  AppendLogValue(&out, "two words");
  out += ' ';
  AppendLogValue(&out, "a=b");
  out += ' ';
  AppendLogValue(&out, "say \"hi\"\\\n");
  EXPECT_EQ(out, "plain \"\" \"two words\" \"a=b\" \"say \\\"hi\\\"\\\\ \"");
}

TEST(LogTest, FingerprintIsTheStartOfSha256) {
  const std::array<char, 8> fp = TokenFingerprint("abc");
  EXPECT_EQ(std::string(fp.data(), fp.size()), "ba7816bf");
}

// CaptureStderr runs |f| with stderr redirected to a pipe and returns what was written.
template <typename F>
std::string CaptureStderr(F f) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const int saved = ::dup(2);
  ::dup2(p[1], 2);
  f();
  ::dup2(saved, 2);
  ::close(saved);
  ::close(p[1]);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(p[0], buffer, sizeof(buffer))) > 0) {
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(p[0]);
  return out;
}

TEST(LogTest, EventAndFreeTextLinesAreBothLogfmt) {
  EXPECT_EQ(CaptureStderr([] {
              LogEvent(LogPriority::kInfo, "reload",
                       {{"status", "ok"}, {"generation", 3}, {"tls", true}});
            }),
            "<6>ringward: event=reload status=ok generation=3 tls=yes\n");
  EXPECT_EQ(CaptureStderr([] { LogWarning("something \"odd\"\nhappened"); }),
            "<4>ringward: msg=\"something \\\"odd\\\" happened\"\n");
  EXPECT_EQ(CaptureStderr([] { LogError("event=x a=b"); }), "<3>ringward: event=x a=b\n");
}

}  // namespace
}  // namespace ringward::server
