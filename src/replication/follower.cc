// replication/follower.cc: see follower.h; the wire protocol is in protocol.md.
//
// The connection is a tls::BlockingTlsConnection whose cancel fd is the client's eventfd: that is
// how Stop() interrupts a connect, a handshake or a read at once (and the backoff here polls it
// too), and the connection's io timeout is how a leader that sends nothing (not even a
// heartbeat) is noticed and dropped.
#include "replication/follower.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "openssl/crypto.h"
#include "replication/protocol.h"
#include "ringward/base/json.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"
#include "ringward/net/tls/blocking_client.h"

namespace ringward::replication {
namespace {

using revocation::WalRecord;
using revocation::wal_format::RecordView;

// kMaxResponseHeadBytes bounds the leader's status line and headers.
constexpr size_t kMaxResponseHeadBytes = 16 * 1024;
// kMaxErrorBodyBytes bounds how much of a non-200 answer's body is read into last_error.
constexpr size_t kMaxErrorBodyBytes = 512;
constexpr size_t kReadChunk = 64 * 1024;
// kMaxGatherBytes: once data is flowing, up to this much that is already readable is taken
// before the records are handed to the sink, so one fsync covers many records.
constexpr size_t kMaxGatherBytes = 1 << 20;
// kMaxBatchRecords bounds one Apply call (and the memory it holds).
constexpr size_t kMaxBatchRecords = 4096;



// Printable keeps the printable ASCII of leader-supplied text (a status reason, an error body),
// so last_error stays one clean line of valid UTF-8.
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, std::min(s.size(), max))) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(ToAbsl(a), ToAbsl(b));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsDiverged(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         ToStd(status.message()).find("diverged") != std::string_view::npos;
}

// MediaTypeMatches compares a Content-Type value's media type (parameters ignored).
bool MediaTypeMatches(std::string_view content_type, std::string_view expected) {
  const size_t semicolon = content_type.find(';');
  return EqualsIgnoreCase(Trim(content_type.substr(0, semicolon)), expected);
}

// LeaderError names the leader in an error from the connection to it. A timeout there means a
// leader that sent nothing (not even a heartbeat) for the whole io timeout.
absl::Status LeaderError(const ReplicationClient::Endpoint& leader, const absl::Status& status) {
  if (absl::IsDeadlineExceeded(status)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "leader ", leader.host_header, " sent nothing: ", status.message(), "; reconnecting"));
  }
  return absl::Status(status.code(),
                      absl::StrCat("leader ", leader.host_header, ": ", status.message()));
}

}  // namespace

absl::StatusOr<ReplicationClient::Endpoint> ReplicationClient::ParseLeaderUrl(
    const std::string& url) {
  const auto bad = [&url](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replication leader \"", Printable(url, 200), "\": ", std::string(why),
        " (expected https://host:port, e.g. https://127.0.0.1:8445 or https://[::1]:8445)"));
  };
  constexpr std::string_view kScheme = "https://";
  std::string_view rest = url;
  if (rest.size() < kScheme.size() || !EqualsIgnoreCase(rest.substr(0, kScheme.size()), kScheme)) {
    return bad("must start with https:// (replication always uses TLS)");
  }
  rest.remove_prefix(kScheme.size());
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("must not have a path, query, fragment or user name");
  }
  Endpoint endpoint;
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated [IPv6 address]");
    }
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad("unexpected text after the [IPv6 address]");
      }
      port = rest.substr(1);
      if (port.empty()) {
        return bad("empty port");
      }
    }
    in6_addr addr6;
    if (!inet_pton(AF_INET6, std::string(host).c_str(), &addr6)) {
      return bad("not a valid IPv6 address in brackets");
    }
    endpoint.host_is_ip = true;
  } else {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) {
        return bad("empty port");
      }
    }
    if (host.empty()) {
      return bad("no host");
    }
    for (char c : host) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
      if (!ok) {
        return bad("the host may hold only letters, digits, '-' and '.' (IPv6 goes in [])");
      }
    }
    in_addr addr4;
    endpoint.host_is_ip = inet_pton(AF_INET, std::string(host).c_str(), &addr4) == 1;
  }
  if (port.empty()) {
    port = "443";
  }
  uint32_t port_value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || port_value > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    port_value = port_value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port_value == 0 || port_value > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  endpoint.host = std::string(host);
  endpoint.port = absl::StrCat(port_value);
  const bool is_v6 = endpoint.host.find(':') != std::string::npos;
  endpoint.host_header = is_v6 ? absl::StrCat("[", endpoint.host, "]:", endpoint.port)
                               : absl::StrCat(endpoint.host, ":", endpoint.port);
  return endpoint;
}

absl::StatusOr<std::unique_ptr<ReplicationClient>> ReplicationClient::Start(FollowerOptions options,
                                                                            ReplicaSink* sink) {
  if (sink == nullptr) {
    return absl::InvalidArgumentError("replication client needs a sink");
  }
  absl::StatusOr<Endpoint> endpoint = ParseLeaderUrl(options.leader_url);
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  if (!IsValidCredential(options.credential)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replication credential must be ", kMinCredentialBytes, "..", kMaxCredentialBytes,
        " characters of A-Z a-z 0-9 - . _ ~ + / (then optional '='); check "
        "[replication] credential_file"));
  }
  if (options.max_staleness_ms <= 0 || options.backoff_initial_ms <= 0 ||
      options.backoff_max_ms < options.backoff_initial_ms || options.io_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        "replication timings must be positive: max_staleness_ms > 0, 0 < backoff_initial_ms <= "
        "backoff_max_ms, io_timeout_ms >= 0");
  }
  if (options.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "replication needs ca_file: the PEM CA bundle that the leader's certificate chains to");
  }
  if (access(options.ca_file.c_str(), R_OK) != 0) {
    const int err = errno;
    const std::string message =
        absl::StrCat("replication ca_file ", options.ca_file, " cannot be read: ", ErrnoText(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::FailedPreconditionError(message);
  }

  absl::StatusOr<bssl::UniquePtr<SSL_CTX>> ctx = tls::MakeVerifyingClientContext(options.ca_file);
  if (!ctx.ok()) {
    return absl::Status(ctx.status().code(),
                        absl::StrCat("replication ca_file: ", ctx.status().message()));
  }

  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    return absl::InternalError(absl::StrCat("eventfd(): ", ErrnoText(errno)));
  }
  std::unique_ptr<ReplicationClient> client(new ReplicationClient(
      std::move(options), sink, *std::move(endpoint), *std::move(ctx), wake_fd));
  client->thread_ = std::thread([c = client.get()] { c->Run(); });
  return client;
}

ReplicationClient::ReplicationClient(FollowerOptions options, ReplicaSink* sink, Endpoint endpoint,
                                     bssl::UniquePtr<SSL_CTX> ctx, int wake_fd)
    : options_(std::move(options)),
      sink_(sink),
      endpoint_(std::move(endpoint)),
      ctx_(std::move(ctx)),
      wake_fd_(wake_fd),
      io_timeout_ms_(options_.io_timeout_ms > 0 ? options_.io_timeout_ms
                                                : options_.max_staleness_ms) {}

ReplicationClient::~ReplicationClient() {
  Stop();
  close(wake_fd_);
}

void ReplicationClient::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  stopping_.store(true, std::memory_order_relaxed);
  // The eventfd counter is never read back, so it stays readable: every later wait of the
  // thread returns at once too.
  const uint64_t one = 1;
  while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

int64_t ReplicationClient::ms_since_last_frame() const {
  const int64_t last = last_frame_ms_.load(std::memory_order_relaxed);
  if (last < 0) {
    return std::numeric_limits<int64_t>::max();
  }
  return std::max<int64_t>(SteadyNowMs() - last, 0);
}

bool ReplicationClient::stale() const { return ms_since_last_frame() > options_.max_staleness_ms; }

uint64_t ReplicationClient::lag_records() const {
  const uint64_t leader = leader_lsn();
  const uint64_t applied = applied_lsn();
  return leader > applied ? leader - applied : 0;
}

std::string ReplicationClient::last_error() const {
  std::lock_guard<std::mutex> lock(error_mu_);
  return last_error_;
}

void ReplicationClient::SetError(const std::string& error) {
  bool changed;
  {
    std::lock_guard<std::mutex> lock(error_mu_);
    changed = last_error_ != error;
    last_error_ = error;
  }
  // Logged when it changes, so a leader that stays away does not flood the journal while the
  // client retries with backoff.
  if (changed && options_.log) {
    std::string line = "event=replication_stream_failed error=";
    json::AppendJsonString(&line, error);
    line.append(" action=\"reconnecting with backoff\"");
    options_.log(4, line);
  }
}

void ReplicationClient::NoteFrame() {
  last_frame_ms_.store(SteadyNowMs(), std::memory_order_relaxed);
}

void ReplicationClient::Run() {
  // BoringSSL writes with write(2), which raises SIGPIPE on a connection the leader closed. The
  // server ignores SIGPIPE, but the client must not depend on it: with the signal blocked on
  // this thread, a write to a closed socket just fails with EPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  applied_lsn_.store(sink_->DurableLsn(), std::memory_order_relaxed);
  int64_t backoff_ms = options_.backoff_initial_ms;
  bool first = true;
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (!first) {
      reconnects_.fetch_add(1, std::memory_order_relaxed);
    }
    first = false;
    bool streamed = false;
    const absl::Status status = Session(&streamed);
    connected_.store(false, std::memory_order_relaxed);
    if (stopping_.load(std::memory_order_relaxed)) {
      break;
    }
    SetError(std::string(status.message()));
    if (diverged_.load(std::memory_order_relaxed)) {
      break;  // a follower ahead of (or different from) its leader must not go on guessing
    }
    const int64_t delay_ms = streamed ? options_.backoff_initial_ms : backoff_ms;
    backoff_ms = std::min(delay_ms * 2, options_.backoff_max_ms);
    pollfd wake = {wake_fd_, POLLIN, 0};
    const int64_t deadline = SteadyNowMs() + delay_ms;
    for (;;) {
      const int64_t left = deadline - SteadyNowMs();
      if (left <= 0 || poll(&wake, 1, static_cast<int>(left)) > 0) {
        break;
      }
    }
  }
}

absl::Status ReplicationClient::Session(bool* streamed) {
  tls::ClientTlsOptions connect_options;
  connect_options.host = endpoint_.host;
  connect_options.host_is_ip = endpoint_.host_is_ip;
  connect_options.port = endpoint_.port;
  connect_options.ca_file = options_.ca_file;
  connect_options.timeout_ms = io_timeout_ms_;
  connect_options.cancel_fd = wake_fd_;  // Stop() interrupts any wait
  absl::StatusOr<std::unique_ptr<tls::BlockingTlsConnection>> connected =
      tls::BlockingTlsConnection::Connect(ctx_.get(), connect_options);
  if (!connected.ok()) {
    return LeaderError(endpoint_, connected.status());
  }
  tls::BlockingTlsConnection& conn = **connected;
  const uint64_t from = sink_->DurableLsn() + 1;
  applied_lsn_.store(from - 1, std::memory_order_relaxed);
  std::string request =
      absl::StrCat("GET ", std::string(kStreamPath), "?from=", from,
                   " HTTP/1.1\r\nHost: ", endpoint_.host_header, "\r\nAuthorization: Bearer ",
                   options_.credential, "\r\nUser-Agent: ringward-follower\r\n\r\n");
  absl::Status status = conn.WriteAll(request);
  OPENSSL_cleanse(request.data(), request.size());  // the secret does not linger in freed memory
  if (!status.ok()) {
    return LeaderError(endpoint_, status);
  }

  // Status line and headers.
  std::vector<char> buf(kReadChunk);
  std::string head;
  size_t head_end = std::string::npos;
  bool eof = false;
  while (head_end == std::string::npos) {
    absl::StatusOr<size_t> n = conn.Read(buf.data(), buf.size(), /*wait=*/true, &eof);
    if (!n.ok()) {
      return LeaderError(endpoint_, n.status());
    }
    if (eof) {
      return absl::UnavailableError("leader closed the connection before answering");
    }
    head.append(buf.data(), *n);
    head_end = head.find("\r\n\r\n");
    if (head_end == std::string::npos && head.size() > kMaxResponseHeadBytes) {
      return absl::UnavailableError("leader's response headers are too large");
    }
  }
  absl::StatusOr<tls::HttpResponseHead> response =
      tls::ParseHttpResponseHead(std::string_view(head).substr(0, head_end + 2));
  if (!response.ok()) {
    return response.status();
  }
  std::string_view body = std::string_view(head).substr(head_end + 4);

  if (response->status != 200) {
    // Read a little of the body for the message (the 409's JSON says why); a read error here
    // changes nothing, the status code decides.
    std::string text(body.substr(0, kMaxErrorBodyBytes));
    const size_t want = response->has_content_length
                            ? std::min<uint64_t>(response->content_length, kMaxErrorBodyBytes)
                            : kMaxErrorBodyBytes;
    while (text.size() < want && !eof) {
      absl::StatusOr<size_t> n = conn.Read(buf.data(), buf.size(), /*wait=*/true, &eof);
      if (!n.ok()) {
        break;
      }
      text.append(buf.data(), std::min(*n, kMaxErrorBodyBytes));
    }
    const std::string detail = absl::StrCat(response->status, " ", response->reason,
                                            text.empty() ? "" : ": ", Printable(text, want));
    if (response->status == 401 || response->status == 403) {
      return absl::PermissionDeniedError(
          absl::StrCat("leader refused the replication credential (", detail,
                       "); check [replication] credential_file on both nodes"));
    }
    if (response->status == 409) {
      diverged_.store(true, std::memory_order_relaxed);
      return absl::FailedPreconditionError(absl::StrCat(
          "diverged: the leader refused to stream from LSN ", from, " (", detail,
          "); replication stopped: rebuild this follower's data directory from the leader"));
    }
    return absl::UnavailableError(absl::StrCat("leader answered ", detail));
  }
  if (!MediaTypeMatches(response->content_type, kStreamContentType)) {
    return absl::UnavailableError(absl::StrCat(
        "leader answered 200 with Content-Type \"", Printable(response->content_type, 100),
        "\", not ", std::string(kStreamContentType), " (is the URL a ringward replication port?)"));
  }
  if (response->chunked) {
    return absl::UnavailableError(
        "leader answered with a Transfer-Encoding; the stream must run until the connection "
        "closes");
  }
  connected_.store(true, std::memory_order_relaxed);

  FrameReader reader;
  reader.Feed(body);
  uint64_t expected = from;  // the next record's LSN
  std::vector<WalRecord> batch;
  bool in_snapshot = false;
  uint64_t snapshot_lsn = 0;
  std::vector<WalRecord> snapshot;

  const auto flush = [&]() -> absl::Status {
    if (batch.empty()) {
      return absl::OkStatus();
    }
    const uint64_t first_lsn = batch.front().lsn;
    const uint64_t last_lsn = batch.back().lsn;
    const size_t count = batch.size();
    std::vector<WalRecord> records;
    records.swap(batch);
    absl::Status applied = sink_->Apply(std::move(records));
    if (!applied.ok()) {
      if (IsDiverged(applied)) {
        diverged_.store(true, std::memory_order_relaxed);
      }
      return absl::Status(applied.code(), absl::StrCat("applying records ", first_lsn, "..",
                                                       last_lsn, " failed: ", applied.message()));
    }
    applied_lsn_.store(last_lsn, std::memory_order_relaxed);
    applied_records_.fetch_add(count, std::memory_order_relaxed);
    return absl::OkStatus();
  };

  const auto handle = [&](const RecordView& frame) -> absl::Status {
    if (frame.type == kFrameHeartbeat) {
      uint64_t lsn = 0;
      int64_t unix_ms = 0;
      if (!DecodeHeartbeat(frame, &lsn, &unix_ms)) {
        return absl::UnavailableError("leader sent a malformed heartbeat");
      }
      if (lsn + 1 < expected) {
        return absl::UnavailableError(absl::StrCat("leader's heartbeat says its durable LSN is ",
                                                   lsn, " but it already sent LSN ", expected - 1));
      }
      leader_lsn_.store(lsn, std::memory_order_relaxed);
      return absl::OkStatus();
    }
    if (frame.type == kFrameSnapshotBegin) {
      if (in_snapshot) {
        return absl::UnavailableError("leader began a snapshot inside a snapshot");
      }
      if (frame.lsn + 1 < expected) {
        return absl::UnavailableError(absl::StrCat("leader sent a snapshot covering LSN ",
                                                   frame.lsn, " but this follower already has LSN ",
                                                   expected - 1));
      }
      absl::Status flushed = flush();  // the records before it land first, in order
      if (!flushed.ok()) {
        return flushed;
      }
      in_snapshot = true;
      snapshot_lsn = frame.lsn;
      snapshot.clear();
      return absl::OkStatus();
    }
    if (frame.type == kFrameSnapshotEnd) {
      uint64_t lsn = 0;
      uint64_t records = 0;
      if (!DecodeSnapshotEnd(frame, &lsn, &records)) {
        return absl::UnavailableError("leader sent a malformed snapshot end");
      }
      if (!in_snapshot || lsn != snapshot_lsn || records != snapshot.size()) {
        return absl::UnavailableError(absl::StrCat(
            "leader's snapshot end (LSN ", lsn, ", ", records,
            " records) does not match what was received (",
            in_snapshot ? absl::StrCat("LSN ", snapshot_lsn, ", ", snapshot.size(), " records")
                        : std::string("no snapshot begun"),
            ")"));
      }
      in_snapshot = false;
      absl::Status installed = sink_->InstallSnapshot(snapshot_lsn, std::move(snapshot));
      snapshot.clear();
      if (!installed.ok()) {
        if (IsDiverged(installed)) {
          diverged_.store(true, std::memory_order_relaxed);
        }
        return absl::Status(installed.code(),
                            absl::StrCat("installing the leader's snapshot at LSN ", snapshot_lsn,
                                         " failed: ", installed.message()));
      }
      expected = snapshot_lsn + 1;
      applied_lsn_.store(snapshot_lsn, std::memory_order_relaxed);
      if (leader_lsn_.load(std::memory_order_relaxed) < snapshot_lsn) {
        leader_lsn_.store(snapshot_lsn, std::memory_order_relaxed);
      }
      return absl::OkStatus();
    }
    if (IsControlFrame(frame.type)) {
      return absl::OkStatus();  // a control frame from a newer leader: ignored by design
    }
    if (in_snapshot) {
      // protocol.md sends snapshot records with lsn 0; the covered LSN is tolerated too.
      if (frame.lsn != 0 && frame.lsn != snapshot_lsn) {
        return absl::UnavailableError(
            absl::StrCat("leader sent a snapshot record with LSN ", frame.lsn, " (expected 0)"));
      }
      snapshot.push_back(WalRecord{snapshot_lsn, frame.type, std::string(frame.payload)});
      return absl::OkStatus();
    }
    if (frame.lsn != expected) {
      return absl::UnavailableError(
          absl::StrCat("leader sent LSN ", frame.lsn, " where LSN ", expected, " was due"));
    }
    batch.push_back(WalRecord{frame.lsn, frame.type, std::string(frame.payload)});
    ++expected;
    if (leader_lsn_.load(std::memory_order_relaxed) < frame.lsn) {
      leader_lsn_.store(frame.lsn, std::memory_order_relaxed);
    }
    if (batch.size() >= kMaxBatchRecords) {
      return flush();
    }
    return absl::OkStatus();
  };

  for (;;) {
    for (;;) {
      RecordView frame;
      absl::StatusOr<bool> next = reader.Next(&frame);
      if (!next.ok()) {
        return absl::UnavailableError(
            absl::StrCat("leader sent a damaged frame: ", next.status().message()));
      }
      if (!*next) {
        break;
      }
      NoteFrame();
      *streamed = true;
      status = handle(frame);
      if (!status.ok()) {
        return status;
      }
    }
    status = flush();
    if (!status.ok()) {
      return status;
    }
    if (stopping_.load(std::memory_order_relaxed)) {
      return absl::CancelledError("replication client stopping");
    }
    // Wait for data, then take whatever else is already readable, so that a burst of records
    // reaches the sink as one batch.
    size_t gathered = 0;
    bool wait = true;
    while (gathered < kMaxGatherBytes) {
      absl::StatusOr<size_t> n = conn.Read(buf.data(), buf.size(), wait, &eof);
      if (!n.ok()) {
        return LeaderError(endpoint_, n.status());
      }
      if (eof) {
        if (gathered > 0) {
          break;  // apply what arrived, then see the close on the next turn
        }
        return absl::UnavailableError("leader closed the stream");
      }
      if (*n == 0) {
        break;
      }
      reader.Feed(std::string_view(buf.data(), *n));
      gathered += *n;
      wait = false;
    }
  }
}

void ReplicationClient::RenderMetrics(std::string* out) const {
  const auto gauge = [out](std::string_view name, std::string_view type, std::string_view help,
                           const std::string& value) {
    absl::StrAppend(out, "# HELP ringward_replication_", std::string(name), " ", std::string(help),
                    "\n# TYPE ringward_replication_", std::string(name), " ", std::string(type),
                    "\nringward_replication_", std::string(name), " ", value, "\n");
  };
  const int64_t since = ms_since_last_frame();
  const bool never = since == std::numeric_limits<int64_t>::max();
  gauge("connected", "gauge", "1 while the stream from the leader is open.",
        connected() ? "1" : "0");
  gauge("leader_lsn", "gauge", "The leader's durable LSN by its last heartbeat or record.",
        absl::StrCat(leader_lsn()));
  gauge("applied_lsn", "gauge", "The last LSN persisted and applied on this follower.",
        absl::StrCat(applied_lsn()));
  gauge("lag_records", "gauge", "leader_lsn - applied_lsn.", absl::StrCat(lag_records()));
  gauge("lag_ms", "gauge", "Milliseconds since the last frame from the leader (+Inf: none yet).",
        never ? std::string("+Inf") : absl::StrCat(since));
  gauge("stale", "gauge", "1 when no frame arrived for longer than max_staleness_ms.",
        stale() ? "1" : "0");
  gauge("diverged", "gauge", "1 when replication stopped because this follower diverged.",
        diverged() ? "1" : "0");
  gauge("reconnects_total", "counter", "Connection attempts to the leader after the first.",
        absl::StrCat(reconnects()));
  gauge("applied_records_total", "counter", "Records streamed from the leader and applied.",
        absl::StrCat(applied_records()));
}

std::string ReplicationClient::StatusJson() const {
  const int64_t since = ms_since_last_frame();
  const bool never = since == std::numeric_limits<int64_t>::max();
  std::string out = "{\"role\":\"follower\",\"leader\":";
  json::AppendJsonString(&out, Printable(options_.leader_url, 1000));
  absl::StrAppend(
      &out, ",\"connected\":", connected() ? "true" : "false", ",\"leader_lsn\":", leader_lsn(),
      ",\"applied_lsn\":", applied_lsn(), ",\"lag_records\":", lag_records(),
      ",\"lag_ms\":", never ? std::string("null") : absl::StrCat(since),
      ",\"stale\":", stale() ? "true" : "false", ",\"diverged\":", diverged() ? "true" : "false",
      ",\"reconnects\":", reconnects(), ",\"last_error\":");
  json::AppendJsonString(&out, last_error());
  out.push_back('}');
  return out;
}

}  // namespace ringward::replication
