// net/tls/blocking_client.cc: see blocking_client.h.
//
// One non-blocking socket, waited on with poll() together with the optional cancel fd: poll's
// timeout is what bounds every step, and the cancel fd is how a stopping owner interrupts a
// connect, a handshake or a read from a peer that went silent.
#include "ringward/net/tls/blocking_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "openssl/err.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"

namespace ringward::tls {
namespace {

// kMaxWrite keeps one SSL_write's length well inside an int.
constexpr size_t kMaxWrite = size_t{1} << 20;



// SslErrorText drains BoringSSL's error queue into one line.
std::string SslErrorText() {
  std::string text;
  while (const uint32_t e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) {
      text.append("; ");
    }
    text.append(buf);
  }
  return text.empty() ? std::string("no further detail") : text;
}

// IoErrorText describes a failed read or write from SSL_get_error's |err| (SSL_ERROR_SYSCALL
// for a failed send or recv on a plaintext connection).
std::string IoErrorText(int err) {
  if (err == SSL_ERROR_SYSCALL) {
    const int saved = errno;
    const std::string queue = SslErrorText();
    return saved != 0 ? ErrnoText(saved) : queue;
  }
  return SslErrorText();
}

bool IsLoopbackAddress(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  }
  return false;
}

}  // namespace

absl::StatusOr<bssl::UniquePtr<SSL_CTX>> MakeVerifyingClientContext(const std::string& ca_file) {
  if (ca_file.empty()) {
    return absl::InvalidArgumentError("no CA file to verify the server's certificate with");
  }
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION)) {
    return absl::InternalError(absl::StrCat("SSL_CTX_new: ", SslErrorText()));
  }
  ERR_clear_error();
  if (!SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat("the CA file ", ca_file,
                                                   " cannot be read or holds no PEM certificate (",
                                                   SslErrorText(), ")"));
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

BlockingTlsConnection::BlockingTlsConnection(const ClientTlsOptions& options,
                                             int64_t total_deadline_ms)
    : options_(options), total_deadline_ms_(total_deadline_ms) {}

BlockingTlsConnection::~BlockingTlsConnection() {
  ssl_.reset();
  if (fd_ >= 0) {
    close(fd_);
  }
}

absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> BlockingTlsConnection::Connect(
    SSL_CTX* ctx, const ClientTlsOptions& options) {
  if (options.timeout_ms <= 0 || options.total_timeout_ms < 0) {
    return absl::InvalidArgumentError("the connection timeouts must be positive");
  }
  const int64_t total_deadline = options.total_timeout_ms > 0
                                     ? SteadyNowMs() + options.total_timeout_ms
                                     : std::numeric_limits<int64_t>::max();
  std::unique_ptr<BlockingTlsConnection> conn(new BlockingTlsConnection(options, total_deadline));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (options.host_is_ip ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  const int gai = getaddrinfo(options.host.c_str(), options.port.c_str(), &hints, &found);
  if (gai != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", options.host, ": ", gai_strerror(gai)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat(options.host, " has no address"));
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ctx == nullptr && !IsLoopbackAddress(ai->ai_addr)) {
      // Plaintext carries everything in the clear: only ever to this machine.
      last = absl::UnavailableError(absl::StrCat(
          options.host, " resolves to a non-loopback address; plaintext is allowed only on "
                        "loopback"));
      continue;
    }
    last = conn->ConnectTo(ai);
    // A step timeout moves on to the next address; the end of the whole budget does not.
    if (last.ok() || absl::IsCancelled(last) ||
        (absl::IsDeadlineExceeded(last) && SteadyNowMs() >= total_deadline)) {
      break;
    }
  }
  freeaddrinfo(found);
  if (!last.ok()) {
    return last;
  }
  if (ctx != nullptr) {
    if (absl::Status s = conn->Handshake(ctx); !s.ok()) {
      return s;
    }
  }
  return conn;
}

absl::Status BlockingTlsConnection::ConnectTo(const addrinfo* ai) {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  char where[INET6_ADDRSTRLEN + 8] = "?";
  getnameinfo(ai->ai_addr, ai->ai_addrlen, where, sizeof(where), nullptr, 0, NI_NUMERICHOST);
  fd_ = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("socket(): ", ErrnoText(errno)));
  }
  if (connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", where, ": ", ErrnoText(errno)));
    }
    if (absl::Status waited = Wait(POLLOUT, StepDeadline(), "connecting"); !waited.ok()) {
      return waited;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
      so_error = errno;
    }
    if (so_error != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", where, ": ", ErrnoText(so_error)));
    }
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return absl::OkStatus();
}

absl::Status BlockingTlsConnection::Handshake(SSL_CTX* ctx) {
  ssl_.reset(SSL_new(ctx));
  if (!ssl_ || !SSL_set_fd(ssl_.get(), fd_)) {
    return absl::InternalError(absl::StrCat("SSL_new: ", SslErrorText()));
  }
  const std::string& host = options_.host;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
  if (options_.host_is_ip) {
    // No SNI for an address (RFC 6066 §3): the certificate must carry it as an IP SAN.
    if (!X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())) {
      return absl::InternalError(absl::StrCat("X509_VERIFY_PARAM_set1_ip_asc: ", SslErrorText()));
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!SSL_set_tlsext_host_name(ssl_.get(), host.c_str()) ||
        !X509_VERIFY_PARAM_set1_host(param, host.data(), host.size())) {
      return absl::InternalError(absl::StrCat("setting the host name: ", SslErrorText()));
    }
  }
  static constexpr uint8_t kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_set_alpn_protos(ssl_.get(), kAlpn, sizeof(kAlpn));
  const int64_t deadline = StepDeadline();  // for the handshake as a whole
  for (;;) {
    ERR_clear_error();
    const int r = SSL_connect(ssl_.get());
    if (r == 1) {
      break;
    }
    const int err = SSL_get_error(ssl_.get(), r);
    absl::Status waited;
    if (err == SSL_ERROR_WANT_READ) {
      waited = Wait(POLLIN, deadline, "in the TLS handshake");
    } else if (err == SSL_ERROR_WANT_WRITE) {
      waited = Wait(POLLOUT, deadline, "in the TLS handshake");
    } else {
      const long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        return absl::UnavailableError(absl::StrCat(
            "TLS certificate verification failed: ", X509_verify_cert_error_string(verify),
            " (the certificate must chain to ", options_.ca_file, " and name ", host, ")"));
      }
      return absl::UnavailableError(absl::StrCat("TLS handshake failed: ", IoErrorText(err)));
    }
    if (!waited.ok()) {
      return waited;
    }
  }
  // SSL_VERIFY_PEER already failed the handshake on a bad chain; checked again so that no
  // configuration slip (a context without SSL_VERIFY_PEER) can let an unverified peer through.
  const bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(ssl_.get()));
  const long verify = SSL_get_verify_result(ssl_.get());
  if (peer == nullptr || verify != X509_V_OK) {
    return absl::UnavailableError(absl::StrCat("TLS certificate verification failed: ",
                                               X509_verify_cert_error_string(verify)));
  }
  return absl::OkStatus();
}

absl::Status BlockingTlsConnection::WriteAll(std::string_view data) {
  while (!data.empty()) {
    const size_t chunk = std::min(data.size(), kMaxWrite);
    ssize_t n;
    int err = 0;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int r = SSL_write(ssl_.get(), data.data(), static_cast<int>(chunk));
      n = r;
      if (r <= 0) {
        err = SSL_get_error(ssl_.get(), r);
      }
    } else {
      n = send(fd_, data.data(), chunk, MSG_NOSIGNAL);
      if (n < 0) {
        err = errno == EAGAIN || errno == EWOULDBLOCK ? SSL_ERROR_WANT_WRITE : SSL_ERROR_SYSCALL;
      }
    }
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    absl::Status waited;
    if (err == SSL_ERROR_WANT_WRITE) {
      waited = Wait(POLLOUT, StepDeadline(), "sending the request");
    } else if (err == SSL_ERROR_WANT_READ) {
      waited = Wait(POLLIN, StepDeadline(), "sending the request");
    } else {
      return absl::UnavailableError(
          absl::StrCat("sending the request failed: ", IoErrorText(err)));
    }
    if (!waited.ok()) {
      return waited;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> BlockingTlsConnection::Read(char* buf, size_t n, bool wait, bool* eof) {
  *eof = false;
  const int len = static_cast<int>(std::min<size_t>(n, std::numeric_limits<int>::max()));
  for (;;) {
    ssize_t got;
    int err = 0;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int r = SSL_read(ssl_.get(), buf, len);
      got = r;
      if (r <= 0) {
        err = SSL_get_error(ssl_.get(), r);
        if (err == SSL_ERROR_ZERO_RETURN ||
            (err == SSL_ERROR_SYSCALL && r == 0 && ERR_peek_error() == 0)) {
          *eof = true;
          return 0;
        }
      }
    } else {
      got = recv(fd_, buf, static_cast<size_t>(len), 0);
      if (got == 0) {
        *eof = true;
        return 0;
      }
      if (got < 0) {
        err = errno == EAGAIN || errno == EWOULDBLOCK ? SSL_ERROR_WANT_READ : SSL_ERROR_SYSCALL;
      }
    }
    if (got > 0) {
      return static_cast<size_t>(got);
    }
    absl::Status waited;
    if (err == SSL_ERROR_WANT_READ) {
      if (!wait) {
        return 0;
      }
      waited = Wait(POLLIN, StepDeadline(), "reading the response");
    } else if (err == SSL_ERROR_WANT_WRITE) {
      waited = Wait(POLLOUT, StepDeadline(), "reading the response");
    } else {
      return absl::UnavailableError(
          absl::StrCat("reading the response failed: ", IoErrorText(err)));
    }
    if (!waited.ok()) {
      return waited;
    }
  }
}

int64_t BlockingTlsConnection::StepDeadline() const {
  return std::min(SteadyNowMs() + options_.timeout_ms, total_deadline_ms_);
}

absl::Status BlockingTlsConnection::Wait(short events, int64_t deadline_ms, const char* doing) {
  const bool cancellable = options_.cancel_fd >= 0;
  for (;;) {
    pollfd fds[2] = {{fd_, events, 0}, {options_.cancel_fd, POLLIN, 0}};
    const int64_t left = std::max<int64_t>(deadline_ms - SteadyNowMs(), 0);
    const int n = poll(fds, cancellable ? 2 : 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return absl::InternalError(absl::StrCat("poll(): ", ErrnoText(errno)));
    }
    if (cancellable && fds[1].revents != 0) {
      return absl::CancelledError("cancelled (the owner is stopping)");
    }
    if (fds[0].revents != 0) {
      return absl::OkStatus();
    }
    if (SteadyNowMs() >= deadline_ms) {
      return absl::DeadlineExceededError(absl::StrCat(
          "timed out ", doing, " (",
          deadline_ms == total_deadline_ms_ ? options_.total_timeout_ms : options_.timeout_ms,
          " ms)"));
    }
  }
}

std::string PrintableAscii(std::string_view s, size_t max) {
  std::string out;
  for (const char c : s.substr(0, std::min(s.size(), max))) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (s.size() > max) {
    out.append("...");
  }
  return out;
}

absl::StatusOr<HttpResponseHead> ParseHttpResponseHead(std::string_view head) {
  HttpResponseHead out;
  size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK": version, space, three digits, then an optional space and reason.
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      status_line[7] < '0' || status_line[7] > '9' || status_line[8] != ' ' ||
      !std::all_of(status_line.begin() + 9, status_line.begin() + 12,
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return absl::UnavailableError(absl::StrCat("the answer is not an HTTP/1.x response (",
                                               PrintableAscii(status_line, 64), ")"));
  }
  out.status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (status_line.size() > 13) {
    out.reason = PrintableAscii(status_line.substr(13), 80);
  }
  bool has_transfer_encoding = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (line.empty()) {
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return absl::UnavailableError("the response folds a header line (obs-fold)");
    }
    if (line.find_first_of("\r\n") != std::string_view::npos ||
        std::find(line.begin(), line.end(), '\0') != line.end()) {
      return absl::UnavailableError("the response has a bare CR, LF or NUL in its headers");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        line.substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
      return absl::UnavailableError(
          absl::StrCat("the response has a malformed header line (", PrintableAscii(line, 64), ")"));
    }
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    if (absl::EqualsIgnoreCase(ToAbsl(name), "content-length")) {
      if (out.has_content_length) {
        return absl::UnavailableError("the response has two Content-Length headers");
      }
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return absl::UnavailableError(
            absl::StrCat("the response's Content-Length ", PrintableAscii(value, 32),
                         " is not a number"));
      }
      out.has_content_length = true;
      for (const char c : value) {
        out.content_length = out.content_length * 10 + static_cast<uint64_t>(c - '0');
      }
    } else if (absl::EqualsIgnoreCase(ToAbsl(name), "transfer-encoding")) {
      if (has_transfer_encoding || !absl::EqualsIgnoreCase(ToAbsl(value), "chunked")) {
        return absl::UnavailableError(
            absl::StrCat("the response's Transfer-Encoding ", PrintableAscii(value, 64),
                         " is not supported (only a single \"chunked\")"));
      }
      has_transfer_encoding = true;
      out.chunked = true;
    } else if (absl::EqualsIgnoreCase(ToAbsl(name), "location")) {
      out.location = PrintableAscii(value, 200);
    } else if (absl::EqualsIgnoreCase(ToAbsl(name), "content-type")) {
      out.content_type = std::string(value);
    }
  }
  if (out.has_content_length && out.chunked) {
    return absl::UnavailableError(
        "the response has both Content-Length and Transfer-Encoding (ambiguous framing)");
  }
  return out;
}

}  // namespace ringward::tls
