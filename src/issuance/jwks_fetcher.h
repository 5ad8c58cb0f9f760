// issuance/jwks_fetcher.h: FetchJwks, a blocking HTTPS GET of an external identity provider's
// JWKS (the token exchange's [[issuance.trusted_issuers]] with jwks_url), and ParseJwksUrl.
//
// Small and strict on purpose, because what it fetches decides whose tokens are believed:
//   - https:// with TLS 1.2 or 1.3 only, the certificate verified against |ca_file| and the
//     URL's host name (sent as SNI) or IP address; http:// only to a loopback address;
//   - one GET with Connection: close; no redirects followed (a 3xx is an error naming the
//     Location), no proxies, no cookies, no compression; the status must be 200;
//   - the body delimited by Content-Length, chunked encoding or the end of the connection, at
//     most max_body_bytes; a response that is ambiguous (both Content-Length and
//     Transfer-Encoding, two Content-Lengths, obs-fold) is refused;
//   - every wait (connect, handshake, each read and write) bounded by timeout_ms and the whole
//     fetch by total_timeout_ms; readable |cancel_fd| ends it at once.
// Every error names the URL and what failed.
//
// Thread-safe (no shared state). It blocks (DNS, connect, TLS): call it on a worker thread,
// never on a shard or the control thread.
#ifndef RINGWARD_ISSUANCE_JWKS_FETCHER_H_
#define RINGWARD_ISSUANCE_JWKS_FETCHER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringward::issuance {

struct JwksFetchOptions {
  // PEM certificate(s) the server's certificate must chain to. Required for https://.
  std::string ca_file;
  int64_t timeout_ms = 5000;         // connect, TLS handshake, each read and each write
  int64_t total_timeout_ms = 15000;  // the whole fetch (a DNS lookup itself is not cut short)
  size_t max_body_bytes = size_t{1} << 20;
  // When >= 0 and readable (an eventfd the owner signals on shutdown), the fetch ends at once
  // with Cancelled. Not owned.
  int cancel_fd = -1;
};

// JwksUrl is a URL FetchJwks accepts, taken apart.
struct JwksUrl {
  bool tls = true;           // https:// (else http://, loopback only)
  std::string host;          // name or address, IPv6 without the brackets
  bool host_is_ip = false;   // an IPv4 or IPv6 literal: checked as an IP SAN, no SNI
  std::string port;          // "443" or "80" unless the URL names one
  std::string host_header;   // the authority as written ("idp.example", "[::1]:8443")
  std::string target;        // the path (and query), "/" when the URL has none
};

// ParseJwksUrl checks |url|: http:// or https://, a host name or IP address, an optional port,
// no user information or fragment, and http:// only for a loopback host (localhost,
// 127.0.0.0/8, [::1]). InvalidArgument naming the problem otherwise.
absl::StatusOr<JwksUrl> ParseJwksUrl(std::string_view url);

// FetchJwks GETs |url| and returns the response body (not parsed: the caller reads it as a
// JWKS). Errors, each message starting with "GET <url>: ": InvalidArgument (the URL or
// options), Unavailable (DNS, connect, TLS, certificate, a malformed or oversized response, a
// status other than 200), DeadlineExceeded, Cancelled.
absl::StatusOr<std::string> FetchJwks(std::string_view url, const JwksFetchOptions& options);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_JWKS_FETCHER_H_
