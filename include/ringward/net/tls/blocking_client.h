// ringward/net/tls/blocking_client.h: a small blocking TLS client for the few places where
// ringward is itself an HTTPS client (the replication follower, the JWKS fetcher): a verifying
// client SSL_CTX, and one connection that resolves, connects, verifies and then reads and writes
// with every wait bounded by a timeout and interruptible through a cancel fd.
//
// Policy: TLS 1.2 and 1.3; the peer's chain must verify against the CA file, and its certificate
// must name the host (a DNS SAN, no partial wildcards, and the name is sent as SNI) or the IP
// address (an IP SAN, no SNI: RFC 6066 §3). ALPN offers http/1.1 only. A connection made without
// an SSL_CTX is plaintext TCP and is only ever made to a loopback address.
//
// Thread-bound: a BlockingTlsConnection is used by one thread at a time; it blocks that thread
// (never use it on a shard). The caller must keep SIGPIPE from killing the process (BoringSSL
// writes with write(2)): block it on the calling thread or ignore it process-wide. The connection
// owns its socket and SSL; the SSL holds its own reference to the SSL_CTX. The cancel fd is not
// owned.
#ifndef RINGWARD_NET_TLS_BLOCKING_CLIENT_H_
#define RINGWARD_NET_TLS_BLOCKING_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "openssl/ssl.h"

struct addrinfo;

namespace ringward::tls {

struct ClientTlsOptions {
  std::string host;         // a name, or an IPv4/IPv6 literal without brackets
  bool host_is_ip = false;  // |host| is an address: verified as an IP SAN, resolved numerically
  std::string port;         // decimal
  // ca_file is only named in the verification error; the SSL_CTX holds the loaded CA.
  std::string ca_file;
  // timeout_ms (> 0) bounds each connect attempt, the whole TLS handshake, and each wait of a
  // read or write. total_timeout_ms, when > 0, also bounds everything from Connect() on.
  int64_t timeout_ms = 5000;
  int64_t total_timeout_ms = 0;
  // cancel_fd, when >= 0, ends any wait with Cancelled once it is readable (an eventfd the
  // owner signals on shutdown).
  int cancel_fd = -1;
};

// MakeVerifyingClientContext returns a client SSL_CTX for TLS 1.2 and 1.3 that verifies peers
// (SSL_VERIFY_PEER) against the PEM certificate(s) in |ca_file|. InvalidArgument when |ca_file|
// is empty, cannot be read or holds no certificate.
absl::StatusOr<bssl::UniquePtr<SSL_CTX>> MakeVerifyingClientContext(const std::string& ca_file);

class BlockingTlsConnection {
 public:
  // Connect resolves |options.host|, connects to each address in turn until one accepts and, with
  // a |ctx| (from MakeVerifyingClientContext), completes a verified TLS handshake. Without a
  // |ctx| the connection is plaintext and only loopback addresses are tried. Errors: Unavailable
  // (resolution, connection, handshake, verification), DeadlineExceeded, Cancelled.
  static absl::StatusOr<std::unique_ptr<BlockingTlsConnection>> Connect(
      SSL_CTX* ctx, const ClientTlsOptions& options);

  BlockingTlsConnection(const BlockingTlsConnection&) = delete;
  BlockingTlsConnection& operator=(const BlockingTlsConnection&) = delete;
  // Closes without close_notify: both callers' peers delimit what they send by the close.
  ~BlockingTlsConnection();

  // WriteAll writes all of |data|, waiting as needed.
  absl::Status WriteAll(std::string_view data);

  // Read reads up to |n| bytes into |buf|. With |wait| it waits until at least one byte arrives;
  // without, it returns 0 when nothing is readable yet. Sets |*eof| and returns 0 when the peer
  // closed the connection (a close without close_notify counts as one: callers must delimit
  // their data themselves).
  absl::StatusOr<size_t> Read(char* buf, size_t n, bool wait, bool* eof);

 private:
  BlockingTlsConnection(const ClientTlsOptions& options, int64_t total_deadline_ms);

  absl::Status ConnectTo(const addrinfo* ai);
  absl::Status Handshake(SSL_CTX* ctx);
  // StepDeadline is when a wait starting now must end.
  int64_t StepDeadline() const;
  // Wait polls the socket for |events| and the cancel fd: OK when the socket is ready (or in
  // error: the next call reports it), Cancelled, or DeadlineExceeded at |deadline_ms|.
  absl::Status Wait(short events, int64_t deadline_ms, const char* doing);

  const ClientTlsOptions options_;
  const int64_t total_deadline_ms_;
  int fd_ = -1;
  bssl::UniquePtr<SSL> ssl_;
};

// HttpResponseHead is the status line of an HTTP/1.x answer read over a BlockingTlsConnection
// and the headers that delimit its body.
struct HttpResponseHead {
  int status = 0;
  std::string reason;  // printable ASCII, bounded
  std::string location;
  std::string content_type;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;  // Transfer-Encoding: chunked (any other coding is refused)
};

// ParseHttpResponseHead parses |head| (up to and including the CRLF before the empty line),
// strictly: a malformed status line, obs-fold, a bare CR/LF/NUL, a malformed header line, two
// Content-Lengths, a transfer coding other than one "chunked", or Content-Length with
// Transfer-Encoding are Unavailable errors saying which.
absl::StatusOr<HttpResponseHead> ParseHttpResponseHead(std::string_view head);

// PrintableAscii keeps the printable ASCII of peer-supplied text (a reason phrase, a Location),
// at most |max| bytes ("..." after), so that an error message stays one clean line.
std::string PrintableAscii(std::string_view s, size_t max);

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_BLOCKING_CLIENT_H_
