#include "replication/leader.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/ssl.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"

namespace ringward::replication {

namespace {

using revocation::WalReader;
using revocation::WalRecord;
using revocation::WalSnapshotReader;

// A batch of frames goes to the socket in one SSL_write once it reaches this size (a single
// record may make it larger: records go whole).
constexpr size_t kBatchBytes = 256 * 1024;
// Connections allowed to be handshaking or reading their request on top of max_followers, so
// that a refused follower still gets its 503 but a flood of idle sockets cannot pile up threads.
constexpr int kSpareConnections = 4;
// A streamer waiting for new records wakes at least this often to notice Stop().
constexpr std::chrono::milliseconds kWaitSlice{100};
// After an error response, unread request bytes are drained for at most this long before the
// close, so that the kernel does not answer them with a reset that could destroy the response.
constexpr int kLingerMs = 500;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- A socket BIO with deadlines and a stop signal ---
//
// BoringSSL's own socket BIO blocks in read(2)/write(2): a stuck peer could hold a thread for
// ever, and write(2) raises SIGPIPE on a closed connection. This BIO waits with poll(2) on the
// socket and on the server's wake eventfd, up to a deadline, then does a non-blocking
// recv/send(MSG_NOSIGNAL). Partial sends are fine: SSL loops until its buffer is flushed.

struct SocketIo {
  int fd = -1;
  int wake_fd = -1;
  int64_t deadline_ms = INT64_MAX;  // steady clock; INT64_MAX: none
  bool timed_out = false;
  bool stopped = false;
};

// WaitFor waits until |io->fd| is ready for |events|, the deadline passes (timed_out) or the
// server stops (stopped). Returns whether the socket is ready (or in error: the next call says).
bool WaitFor(SocketIo* io, short events) {
  for (;;) {
    int timeout = -1;
    if (io->deadline_ms != INT64_MAX) {
      const int64_t left = io->deadline_ms - SteadyNowMs();
      if (left <= 0) {
        io->timed_out = true;
        errno = ETIMEDOUT;
        return false;
      }
      timeout = static_cast<int>(std::min<int64_t>(left, INT_MAX));
    }
    pollfd fds[2] = {{io->fd, events, 0}, {io->wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return false;
    }
    if (fds[1].revents != 0) {
      io->stopped = true;
      errno = ECANCELED;
      return false;
    }
    if (fds[0].revents != 0) {
      return true;
    }
  }
}

int BioWrite(BIO* bio, const char* in, int len) {
  SocketIo* io = static_cast<SocketIo*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(io->fd, in, static_cast<size_t>(len), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      return static_cast<int>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || !WaitFor(io, POLLOUT)) {
      return -1;
    }
  }
}

int BioRead(BIO* bio, char* out, int len) {
  SocketIo* io = static_cast<SocketIo*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(io->fd, out, static_cast<size_t>(len), MSG_DONTWAIT);
    if (n >= 0) {
      return static_cast<int>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || !WaitFor(io, POLLIN)) {
      return -1;
    }
  }
}

long BioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(runtime/int): BoringSSL's signature
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketIoMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringward socket");
    if (m != nullptr) {
      BIO_meth_set_write(m, BioWrite);
      BIO_meth_set_read(m, BioRead);
      BIO_meth_set_ctrl(m, BioCtrl);
    }
    return m;
  }();
  return method;
}

// --- Small text helpers ---

// JsonString quotes |s| for JSON, and for log values (a quoted logfmt value with the same
// escapes). Error texts may come from BoringSSL or the log, so they are always escaped.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string FormatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
  return absl::StrCat(host, ":", ntohs(a->sin_port));
}

// ParseListen parses "IPv4:port" or "[IPv6]:port".
absl::Status ParseListen(std::string_view listen, sockaddr_storage* addr, socklen_t* len) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("[replication] listen = \"", ToAbsl(listen), "\": ", ToAbsl(why),
                     " (write \"127.0.0.1:8445\" or \"[::1]:8445\": an IP address and a port)"));
  };
  std::string host;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("an IPv6 address must be written in brackets and followed by :port");
    }
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || listen.find(':') != colon) {
      return bad("expected host:port");
    }
    host = std::string(listen.substr(0, colon));
    port_text = listen.substr(colon + 1);
  }
  uint32_t port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(ToAbsl(port_text), &port) || port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  std::memset(addr, 0, sizeof(*addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return absl::OkStatus();
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return absl::OkStatus();
  }
  return bad("the host must be an IPv4 or IPv6 address");
}

// --- The request ---

struct Request {
  int status = 0;  // 0: acceptable so far; else the error status to answer
  std::string error;
  uint64_t from = 0;
  std::string_view bearer;  // the presented credential (views into the head)
  bool has_authorization = false;
};

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseLsn(std::string_view text, uint64_t* lsn) {
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    return false;
  }
  return absl::SimpleAtoi(ToAbsl(text), lsn) && *lsn >= 1;
}

// ParseRequest checks |head| (request line and headers, without the final empty line's CRLF)
// strictly: anything a compliant follower would not send is refused rather than guessed at.
Request ParseRequest(std::string_view head) {
  Request r;
  auto fail = [&r](int status, std::string error) {
    r.status = status;
    r.error = std::move(error);
    return r;
  };
  if (head.find('\0') != std::string_view::npos) {
    return fail(400, "the request head contains a NUL byte");
  }
  const size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);

  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), IsTokenChar) || target.empty() ||
      target.front() != '/' || line.find_first_of("\r\n\t") != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  if (version != "HTTP/1.1") {
    return fail(400, "the replication stream needs HTTP/1.1");
  }
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (path != kStreamPath) {
    return fail(404, absl::StrCat("not found: the replication stream is GET ", ToAbsl(kStreamPath),
                                  "?from=<LSN>"));
  }
  if (method != "GET") {
    return fail(405, "method not allowed: the replication stream is read with GET");
  }
  if (query.substr(0, 5) != "from=" || !ParseLsn(query.substr(5), &r.from)) {
    return fail(400, "the query must be exactly from=<LSN>, a decimal LSN of at least 1");
  }

  bool has_host = false;
  bool has_length = false;
  while (!rest.empty()) {
    const size_t end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    if (field.empty() || field.front() == ' ' || field.front() == '\t') {
      return fail(400, "header line folding (obs-fold) is not accepted");
    }
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(400, "malformed header line");
    }
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = TrimOws(field.substr(colon + 1));
    if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return fail(400, "malformed header name");
    }
    for (char c : value) {
      const unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return fail(400, "control character in a header value (bare CR or LF?)");
      }
    }
    auto is = [name](std::string_view want) {
      return absl::EqualsIgnoreCase(ToAbsl(name), ToAbsl(want));
    };
    if (is("host")) {
      if (has_host) {
        return fail(400, "more than one Host header");
      }
      has_host = true;
    } else if (is("authorization")) {
      if (r.has_authorization) {
        return fail(400, "more than one Authorization header");
      }
      r.has_authorization = true;
      const size_t space = value.find(' ');
      if (space != std::string_view::npos &&
          absl::EqualsIgnoreCase(ToAbsl(value.substr(0, space)), "Bearer")) {
        r.bearer = TrimOws(value.substr(space + 1));
      }
    } else if (is("transfer-encoding")) {
      return fail(400, "a stream request has no body (Transfer-Encoding is not accepted)");
    } else if (is("content-length")) {
      if (has_length || value != "0") {
        return fail(400, "a stream request has no body");
      }
      has_length = true;
    }
  }
  if (!has_host) {
    return fail(400, "the Host header is missing");
  }
  return r;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

std::string ErrorResponse(int status, std::string_view json_body) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", status, " ", ToAbsl(ReasonPhrase(status)),
                   "\r\nContent-Type: application/json\r\nContent-Length: ", json_body.size() + 1,
                   "\r\nCache-Control: no-store\r\nConnection: close\r\n");
  if (status == 401) {
    out.append("WWW-Authenticate: Bearer realm=\"ringward-replication\"\r\n");
  } else if (status == 405) {
    out.append("Allow: GET\r\n");
  } else if (status == 503) {
    out.append("Retry-After: 1\r\n");
  }
  absl::StrAppend(&out, "\r\n", ToAbsl(json_body), "\n");
  return out;
}

// WriteAll writes |bytes| whole (SSL_write without partial writes) and returns 1, or returns
// the failed SSL_write's result for SSL_get_error.
int WriteAll(SSL* ssl, std::string_view bytes) {
  while (!bytes.empty()) {
    const int chunk = static_cast<int>(std::min<size_t>(bytes.size(), 1u << 30));
    const int n = SSL_write(ssl, bytes.data(), chunk);
    if (n <= 0) {
      return n;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 1;
}

}  // namespace

// Connection is one accepted socket. The acceptor fills in everything but the atomics before the
// thread starts; afterwards only the connection's thread writes the atomics.
struct ReplicationServer::Connection {
  Fd fd;
  std::string peer;
  int64_t accepted_ms = 0;  // steady clock
  std::atomic<bool> streaming{false};
  std::atomic<bool> snapshot{false};
  std::atomic<uint64_t> from{0};
  std::atomic<uint64_t> sent_lsn{0};
  std::atomic<bool> done{false};
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<ReplicationServer>> ReplicationServer::Start(
    LeaderOptions options, revocation::WriteAheadLog* wal) {
  if (wal == nullptr) {
    return absl::InvalidArgumentError("replication leader: no write-ahead log");
  }
  if (!IsValidCredential(options.credential)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "[replication] credential: must be ", kMinCredentialBytes, " to ", kMaxCredentialBytes,
        " characters from A-Z a-z 0-9 - . _ ~ + / with optional trailing '='"));
  }
  if (options.heartbeat_ms < 1 || options.heartbeat_ms > 60000) {
    return absl::InvalidArgumentError("[replication] heartbeat_ms: must be 1..60000");
  }
  if (options.max_followers < 1 || options.max_followers > 1024) {
    return absl::InvalidArgumentError("[replication] max_followers: must be 1..1024");
  }
  if (options.handshake_timeout_ms < 1 || options.write_timeout_ms < 1) {
    return absl::InvalidArgumentError("replication leader: timeouts must be positive");
  }
  sockaddr_storage addr;
  socklen_t addr_len = 0;
  absl::Status status = ParseListen(options.listen, &addr, &addr_len);
  if (!status.ok()) {
    return status;
  }
  if (SocketIoMethod() == nullptr) {
    return absl::InternalError("replication leader: BIO_meth_new failed");
  }
  tls::TlsContextOptions tls_options;
  tls_options.certificate_chain_path = options.certificate_file;
  tls_options.private_key_path = options.private_key_file;
  absl::StatusOr<std::shared_ptr<const tls::TlsContext>> tls = tls::TlsContext::Create(tls_options);
  if (!tls.ok()) {
    return tls.status();
  }

  Fd listener(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener) {
    return absl::InternalError(
        absl::StrCat("replication listener: socket: ", std::strerror(errno)));
  }
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr.ss_family == AF_INET6) {
    ::setsockopt(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    const int err = errno;
    return absl::FailedPreconditionError(absl::StrCat("[replication] listen = \"", options.listen,
                                                      "\": cannot bind: ", std::strerror(err)));
  }
  if (::listen(listener.get(), 64) != 0) {
    return absl::InternalError(
        absl::StrCat("replication listener: listen: ", std::strerror(errno)));
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return absl::InternalError(
        absl::StrCat("replication listener: getsockname: ", std::strerror(errno)));
  }
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) {
    return absl::InternalError(absl::StrCat("replication leader: eventfd: ", std::strerror(errno)));
  }
  std::unique_ptr<ReplicationServer> server(
      new ReplicationServer(std::move(options), wal, *std::move(tls), std::move(listener),
                            std::move(wake), FormatAddress(bound)));
  server->Log(6, absl::StrCat("event=replication_listening address=", server->bound_address_,
                              " max_followers=", server->options_.max_followers,
                              " heartbeat_ms=", server->options_.heartbeat_ms));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ReplicationServer::ReplicationServer(LeaderOptions options, revocation::WriteAheadLog* wal,
                                     std::shared_ptr<const tls::TlsContext> tls, Fd listener,
                                     Fd wake, std::string bound_address)
    : options_(std::move(options)),
      wal_(wal),
      tls_(std::move(tls)),
      credential_(options_.credential),
      listener_(std::move(listener)),
      wake_(std::move(wake)),
      bound_address_(std::move(bound_address)) {}

ReplicationServer::~ReplicationServer() { Stop(); }

void ReplicationServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (!stopping_.exchange(true, std::memory_order_acq_rel)) {
    const uint64_t one = 1;
    // Never read back: the eventfd stays readable, so every later poll returns at once.
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  listener_.reset();  // the port is free again once Stop returns
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections.swap(connections_);
  }
  for (const std::unique_ptr<Connection>& c : connections) {
    if (c->thread.joinable()) {
      c->thread.join();
    }
  }
}

void ReplicationServer::Log(int priority, std::string_view line) const {
  if (options_.log) {
    options_.log(priority, line);
  }
}

void ReplicationServer::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done.load(std::memory_order_acquire)) {
        auto next = std::next(it);
        finished.splice(finished.end(), connections_, it);
        it = next;
      } else {
        ++it;
      }
    }
  }
  for (const std::unique_ptr<Connection>& c : finished) {
    c->thread.join();
  }
}

void ReplicationServer::AcceptLoop() {
  while (!stopping_.load(std::memory_order_acquire)) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    // The timeout only bounds how long finished connections wait to be joined.
    const int n = ::poll(fds, 2, 1000);
    ReapFinished();
    if (n <= 0 || fds[1].revents != 0 || fds[0].revents == 0) {
      continue;
    }
    sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    Fd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        Log(4, absl::StrCat("event=replication_accept_error error=",
                            JsonString(std::strerror(errno))));
        // Out of descriptors or memory: back off rather than spin on a ready listener.
        pollfd wake = {wake_.get(), POLLIN, 0};
        ::poll(&wake, 1, 100);
      }
      continue;  // EAGAIN, ECONNABORTED, EINTR: nothing to do
    }
    auto connection = std::make_unique<Connection>();
    connection->peer = FormatAddress(peer);
    connection->accepted_ms = SteadyNowMs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (static_cast<int>(connections_.size()) >= options_.max_followers + kSpareConnections) {
        Refuse(Refusal::kFull);
        Log(4, absl::StrCat(
                   "event=replication_refused peer=", connection->peer,
                   " reason=full status=0 error=\"too many connections; closed before TLS\""));
        continue;  // |fd| closes
      }
      connection->fd = std::move(fd);
      Connection* c = connection.get();
      connections_.push_back(std::move(connection));
      c->thread = std::thread([this, c] {
        Serve(c);
        c->fd.reset();
        c->done.store(true, std::memory_order_release);
      });
    }
  }
}

void ReplicationServer::Serve(Connection* c) {
  const int one = 1;
  ::setsockopt(c->fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SocketIo io;
  io.fd = c->fd.get();
  io.wake_fd = wake_.get();
  io.deadline_ms = SteadyNowMs() + options_.handshake_timeout_ms;

  bssl::UniquePtr<SSL> ssl(SSL_new(tls_->ssl_ctx()));
  bssl::UniquePtr<BIO> bio(BIO_new(SocketIoMethod()));
  if (ssl == nullptr || bio == nullptr) {
    Log(3, "event=replication_error error=\"SSL_new or BIO_new failed\"");
    return;
  }
  BIO_set_data(bio.get(), &io);
  BIO_set_init(bio.get(), 1);
  BIO* raw = bio.release();
  SSL_set_bio(ssl.get(), raw, raw);  // the SSL owns the BIO now (one reference for both sides)
  SSL_set_accept_state(ssl.get());

  auto end_reason = [&io](SSL* s, int ret) -> std::string {
    if (io.stopped) {
      return "server stopping";
    }
    if (io.timed_out) {
      return "timeout";
    }
    const int error = SSL_get_error(s, ret);
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && ret == 0)) {
      return "peer closed the connection";
    }
    if (error == SSL_ERROR_SSL) {
      char buf[256];
      ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
      ERR_clear_error();
      return absl::StrCat("TLS error: ", buf);
    }
    return absl::StrCat("socket error: ", std::strerror(errno));
  };

  const int handshake = SSL_do_handshake(ssl.get());
  if (handshake != 1) {
    Log(6, absl::StrCat("event=replication_handshake_failed peer=", c->peer,
                        " error=", JsonString(end_reason(ssl.get(), handshake))));
    ERR_clear_error();
    return;
  }

  // Read the request head: bounded in size and time.
  io.deadline_ms = SteadyNowMs() + options_.handshake_timeout_ms;
  std::string head;
  size_t head_end = std::string::npos;
  char buf[4096];
  while (head_end == std::string::npos) {
    if (head.size() >= kMaxRequestHeadBytes) {
      break;
    }
    const int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) {
      Log(6, absl::StrCat("event=replication_request_failed peer=", c->peer,
                          " error=", JsonString(end_reason(ssl.get(), n))));
      ERR_clear_error();
      return;
    }
    const size_t scan_from = head.size() >= 3 ? head.size() - 3 : 0;
    head.append(buf, static_cast<size_t>(n));
    head_end = head.find("\r\n\r\n", scan_from);
  }

  Request request;
  if (head_end == std::string::npos || head_end + 4 > kMaxRequestHeadBytes) {
    request.status = 400;
    request.error =
        absl::StrCat("the request head is larger than ", kMaxRequestHeadBytes, " bytes");
  } else if (head.size() != head_end + 4) {
    request.status = 400;
    request.error = "bytes follow the request head: a stream request has no body";
  } else {
    request = ParseRequest(std::string_view(head).substr(0, head_end));
  }
  if (request.status == 0 && (!request.has_authorization || !credential_.Matches(request.bearer))) {
    request.status = 401;
    request.error = "missing or wrong replication credential";
  }

  // Decide what to stream (or why not) before the response head goes out.
  const uint64_t durable = wal_->durable_lsn();
  std::unique_ptr<WalSnapshotReader> snapshot;
  std::unique_ptr<WalReader> reader;
  WalRecord record;
  bool have_record = false;  // |record| was read ahead to pin the reader's first segment
  bool counted = false;      // streaming_ was incremented for this connection
  std::string extra_json;
  if (request.status == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (streaming_.load(std::memory_order_relaxed) >= options_.max_followers) {
      request.status = 503;
      request.error = absl::StrCat("the leader already streams to ", options_.max_followers,
                                   " followers ([replication] max_followers)");
    } else {
      streaming_.fetch_add(1, std::memory_order_relaxed);
      counted = true;
    }
  }
  if (request.status == 0 && request.from > durable + 1) {
    request.status = 409;
    request.error = "follower is ahead of the leader: diverged";
    extra_json = absl::StrCat(",\"leader_durable_lsn\":", durable);
  }
  // A compaction may move oldest_lsn() between the check and opening the reader: try again a few
  // times (each retry sees the newer snapshot) before giving up.
  for (int attempt = 0; request.status == 0 && reader == nullptr; ++attempt) {
    snapshot.reset();
    uint64_t start = request.from;
    if (request.from < wal_->oldest_lsn()) {
      absl::StatusOr<std::unique_ptr<WalSnapshotReader>> opened = wal_->NewSnapshotReader();
      if (!opened.ok()) {
        request.status = 500;
        request.error = absl::StrCat("cannot read the snapshot: ", opened.status().message());
        break;
      }
      snapshot = *std::move(opened);
      start = snapshot->lsn() + 1;
    }
    absl::StatusOr<std::unique_ptr<WalReader>> opened = wal_->NewReader(start);
    if (opened.ok()) {
      reader = *std::move(opened);
      // Reading one record ahead opens the segment that holds |start|: an open descriptor keeps
      // reading a segment that a compaction removes while the snapshot is being sent.
      absl::StatusOr<bool> got = reader->Next(&record);
      if (got.ok()) {
        have_record = *got;
      } else if (absl::IsOutOfRange(got.status()) && attempt < 3) {
        reader.reset();
      } else {
        request.status = 500;
        request.error = absl::StrCat("cannot read the log: ", got.status().message());
      }
    } else if (!absl::IsOutOfRange(opened.status()) || attempt >= 3) {
      request.status = 500;
      request.error = absl::StrCat("cannot read the log: ", opened.status().message());
    }
  }
  if (request.status != 0 && counted) {
    streaming_.fetch_sub(1, std::memory_order_relaxed);
  }

  if (request.status != 0) {
    std::string_view reason = "internal";
    switch (request.status) {
      case 401:
        Refuse(Refusal::kCredential);
        reason = "credential";
        break;
      case 409:
        Refuse(Refusal::kDiverged);
        reason = "diverged";
        break;
      case 503:
        Refuse(Refusal::kFull);
        reason = "full";
        break;
      case 500:
        break;
      default:
        Refuse(Refusal::kBadRequest);
        reason = "bad_request";
        break;
    }
    Log(request.status == 500 ? 3 : 4,
        absl::StrCat("event=replication_refused peer=", c->peer, " reason=", ToAbsl(reason),
                     " status=", request.status, " error=", JsonString(request.error)));
    io.deadline_ms = SteadyNowMs() + options_.handshake_timeout_ms;
    const std::string response = ErrorResponse(
        request.status, absl::StrCat("{\"error\":", JsonString(request.error), extra_json, "}"));
    if (WriteAll(ssl.get(), response) == 1) {
      SSL_shutdown(ssl.get());  // close_notify: the body is complete
      ::shutdown(c->fd.get(), SHUT_WR);
      // Drain what the peer still sends until it closes, so that unread bytes do not turn the
      // close into a reset that could discard the response before the peer reads it.
      io.deadline_ms = SteadyNowMs() + kLingerMs;
      while (!io.timed_out && !io.stopped && SSL_read(ssl.get(), buf, sizeof(buf)) > 0) {
      }
    }
    ERR_clear_error();
    return;
  }

  // 200: the stream.
  c->from.store(request.from, std::memory_order_relaxed);
  c->snapshot.store(snapshot != nullptr, std::memory_order_relaxed);
  c->sent_lsn.store(request.from - 1, std::memory_order_relaxed);
  c->streaming.store(true, std::memory_order_relaxed);
  Log(6, absl::StrCat("event=replication_follower_connected peer=", c->peer, " from=", request.from,
                      " snapshot=", snapshot != nullptr ? "yes" : "no",
                      snapshot != nullptr ? absl::StrCat(" snapshot_lsn=", snapshot->lsn()) : "",
                      " leader_durable_lsn=", durable));

  std::string out = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: ", ToAbsl(kStreamContentType),
                                 "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  size_t head_bytes = out.size();  // not counted as stream bytes
  uint64_t batch_records = 0;      // records in |out|
  uint64_t batch_last_lsn = 0;     // the last LSN in |out| (0: none)
  int64_t last_send_ms = 0;
  std::string why;  // why the stream ended; empty while it runs
  // Send writes |out| whole and accounts for it, or sets |why|.
  auto send = [&]() -> bool {
    io.deadline_ms = SteadyNowMs() + options_.write_timeout_ms;
    const int ret = WriteAll(ssl.get(), out);
    if (ret != 1) {
      why = end_reason(ssl.get(), ret);
      ERR_clear_error();
      return false;
    }
    sent_bytes_.fetch_add(out.size() - head_bytes, std::memory_order_relaxed);
    sent_records_.fetch_add(batch_records, std::memory_order_relaxed);
    if (batch_last_lsn != 0) {
      c->sent_lsn.store(batch_last_lsn, std::memory_order_relaxed);
    }
    head_bytes = 0;
    batch_records = 0;
    batch_last_lsn = 0;
    out.clear();
    last_send_ms = SteadyNowMs();
    return true;
  };

  // The stream opens with a heartbeat, so the follower learns the leader's position at once.
  AppendHeartbeat(&out, durable, UnixMs());
  if (snapshot != nullptr) {
    const uint64_t covered = snapshot->lsn();
    AppendSnapshotBegin(&out, covered);
    WalRecord item;
    uint64_t count = 0;
    while (why.empty()) {
      absl::StatusOr<bool> got = snapshot->Next(&item);
      if (!got.ok()) {
        why = absl::StrCat("cannot read the snapshot: ", got.status().message());
        Log(3, absl::StrCat("event=replication_error peer=", c->peer, " error=", JsonString(why)));
        break;
      }
      if (!*got) {
        AppendSnapshotEnd(&out, covered, count);
        batch_last_lsn = covered;
        snapshots_sent_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      AppendRecordFrame(&out, 0, item.type, item.payload);
      ++count;
      ++batch_records;
      if (out.size() >= kBatchBytes) {
        send();
      }
    }
    snapshot.reset();
  }

  while (why.empty()) {
    if (stopping_.load(std::memory_order_acquire)) {
      why = "server stopping";
      break;
    }
    // Everything durable now, in batches of about kBatchBytes.
    absl::Status read_error;
    while (out.size() < kBatchBytes) {
      if (!have_record) {
        absl::StatusOr<bool> got = reader->Next(&record);
        if (!got.ok()) {
          read_error = got.status();
          break;
        }
        if (!*got) {
          break;
        }
      }
      have_record = false;
      AppendRecordFrame(&out, record.lsn, record.type, record.payload);
      ++batch_records;
      batch_last_lsn = record.lsn;
    }
    const bool sent = !out.empty();
    if (sent && !send()) {
      break;
    }
    if (!read_error.ok()) {
      // OutOfRange: a compaction removed a segment this reader had not opened yet. The follower
      // reconnects from its next LSN and gets a snapshot if it needs one.
      const bool compacted = absl::IsOutOfRange(read_error);
      why = std::string(read_error.message());
      Log(compacted ? 6 : 3,
          absl::StrCat("event=", compacted ? "replication_stream_compacted" : "replication_error",
                       " peer=", c->peer, " error=", JsonString(why)));
      break;
    }
    if (sent) {
      continue;
    }
    // Idle: a heartbeat when due, else wait for the next record (in slices, to notice Stop()).
    const int64_t idle_ms = SteadyNowMs() - last_send_ms;
    if (idle_ms >= options_.heartbeat_ms) {
      AppendHeartbeat(&out, wal_->durable_lsn(), UnixMs());
      send();
      continue;
    }
    const auto wait = std::min<std::chrono::milliseconds>(
        kWaitSlice, std::chrono::milliseconds(options_.heartbeat_ms - idle_ms));
    if (!wal_->WaitForDurable(reader->next_lsn(), wait) && !wal_->healthy()) {
      // A failed log answers WaitForDurable at once and will never grow: sleep instead of
      // spinning, and keep heartbeating what is durable (it stays the truth up to that LSN).
      pollfd wake = {wake_.get(), POLLIN, 0};
      ::poll(&wake, 1, static_cast<int>(wait.count()));
    }
  }
  streaming_.fetch_sub(1, std::memory_order_relaxed);
  c->streaming.store(false, std::memory_order_relaxed);
  Log(6, absl::StrCat("event=replication_follower_disconnected peer=", c->peer, " sent_lsn=",
                      c->sent_lsn.load(std::memory_order_relaxed), " reason=", JsonString(why)));
}

void ReplicationServer::RenderMetrics(std::string* out) const {
  auto family = [out](std::string_view name, std::string_view type, std::string_view help) {
    absl::StrAppend(out, "# HELP ", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ", ToAbsl(name), " ",
                    ToAbsl(type), "\n");
  };
  family("ringward_replication_followers", "gauge", "Followers streaming from this leader.");
  absl::StrAppend(out, "ringward_replication_followers ", followers(), "\n");
  family("ringward_replication_sent_records_total", "counter",
         "Log and snapshot records sent to followers.");
  absl::StrAppend(out, "ringward_replication_sent_records_total ", sent_records(), "\n");
  family("ringward_replication_sent_bytes_total", "counter",
         "Replication stream bytes sent to followers (frames, heartbeats included).");
  absl::StrAppend(out, "ringward_replication_sent_bytes_total ", sent_bytes(), "\n");
  family("ringward_replication_snapshots_sent_total", "counter",
         "Snapshots sent to followers that were behind the oldest log segment.");
  absl::StrAppend(out, "ringward_replication_snapshots_sent_total ", snapshots_sent(), "\n");
  family("ringward_replication_refused_total", "counter",
         "Replication requests refused, by reason.");
  static constexpr std::string_view kReasons[] = {"credential", "diverged", "full", "bad_request"};
  for (int i = 0; i < static_cast<int>(Refusal::kCount); ++i) {
    absl::StrAppend(out, "ringward_replication_refused_total{reason=\"", ToAbsl(kReasons[i]),
                    "\"} ", refused_[i].load(std::memory_order_relaxed), "\n");
  }
}

std::string ReplicationServer::StatusJson() const {
  const revocation::WalStatus wal = wal_->GetStatus();
  std::string out =
      absl::StrCat("{\"role\":\"leader\",\"listen\":", JsonString(bound_address_),
                   ",\"durable_lsn\":", wal.durable_lsn, ",\"oldest_lsn\":", wal.oldest_lsn,
                   ",\"snapshot_lsn\":", wal.snapshot_lsn, ",\"followers\":[");
  const int64_t now = SteadyNowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool first = true;
    for (const std::unique_ptr<Connection>& c : connections_) {
      if (!c->streaming.load(std::memory_order_relaxed)) {
        continue;
      }
      const uint64_t sent = c->sent_lsn.load(std::memory_order_relaxed);
      absl::StrAppend(&out, first ? "" : ",", "{\"peer\":", JsonString(c->peer),
                      ",\"from\":", c->from.load(std::memory_order_relaxed), ",\"sent_lsn\":", sent,
                      ",\"lag_records\":", wal.durable_lsn > sent ? wal.durable_lsn - sent : 0,
                      ",\"connected_ms\":", now - c->accepted_ms, ",\"snapshot\":",
                      c->snapshot.load(std::memory_order_relaxed) ? "true" : "false", "}");
      first = false;
    }
  }
  absl::StrAppend(&out, "],\"sent_records\":", sent_records(), ",\"sent_bytes\":", sent_bytes(),
                  ",\"snapshots_sent\":", snapshots_sent(),
                  ",\"refused\":{\"credential\":", refused(Refusal::kCredential),
                  ",\"diverged\":", refused(Refusal::kDiverged),
                  ",\"full\":", refused(Refusal::kFull),
                  ",\"bad_request\":", refused(Refusal::kBadRequest), "}}");
  return out;
}

}  // namespace ringward::replication
