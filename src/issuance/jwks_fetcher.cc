// issuance/jwks_fetcher.cc: see jwks_fetcher.h.
//
// The connection (timeouts, cancel fd, TLS verification, http:// kept to loopback) is
// tls::BlockingTlsConnection's; this file speaks the HTTP/1.1 GET over it and frames the body.
#include "issuance/jwks_fetcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "openssl/ssl.h"
#include "ringward/base/strings.h"
#include "ringward/net/tls/blocking_client.h"

namespace ringward::issuance {
namespace {

// kMaxHeadBytes bounds the status line and headers.
constexpr size_t kMaxHeadBytes = 16 * 1024;
// kMaxChunkLine bounds one chunk-size line (with its extensions) and one trailer line.
constexpr size_t kMaxChunkLine = 1024;
constexpr size_t kReadChunk = 16 * 1024;


bool IsLoopbackName(const std::string& host) {
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 && (ntohl(addr4.s_addr) >> 24) == 127;
}

// ScopedSigpipeBlock: BoringSSL writes with write(2), which raises SIGPIPE on a connection the
// server already closed, and the fetcher must not depend on the process ignoring it. Blocked on
// this thread for the fetch; one raised meanwhile is consumed before the mask is restored.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (sigismember(&old_, SIGPIPE) == 1) {
      return;  // it was blocked before: leave it as it was
    }
    const timespec zero = {0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};


// ChunkedDecoder decodes a chunked body (RFC 9112 §7.1) as it arrives: Feed consumes what it
// can from the front of |*in| and keeps its place between calls.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_body) : max_body_(max_body) {}

  bool done() const { return state_ == State::kDone; }
  std::string& body() { return body_; }

  absl::Status Feed(std::string_view* in) {
    while (!in->empty() && state_ != State::kDone) {
      switch (state_) {
        case State::kSize: {
          const size_t eol = in->find("\r\n");
          if (eol == std::string_view::npos) {
            if (in->size() > kMaxChunkLine) {
              return absl::UnavailableError("a chunk-size line of the chunked body is too long");
            }
            return absl::OkStatus();  // need more
          }
          const std::string_view line = in->substr(0, eol);
          const std::string_view digits = line.substr(0, line.find(';'));
          if (digits.empty() || digits.size() > 8 ||
              !std::all_of(digits.begin(), digits.end(), absl::ascii_isxdigit)) {
            return absl::UnavailableError(absl::StrCat("the chunked body has a bad chunk size (",
                                                       tls::PrintableAscii(line, 32), ")"));
          }
          size_t size = 0;
          for (const char c : digits) {
            size = size * 16 + static_cast<size_t>(absl::ascii_isdigit(c)
                                                       ? c - '0'
                                                       : absl::ascii_tolower(c) - 'a' + 10);
          }
          in->remove_prefix(eol + 2);
          if (size == 0) {
            state_ = State::kTrailer;
          } else if (size > max_body_ - body_.size()) {
            return absl::UnavailableError(absl::StrCat(
                "the chunked body is larger than the limit of ", max_body_, " bytes"));
          } else {
            left_ = size;
            state_ = State::kData;
          }
          break;
        }
        case State::kData: {
          const size_t n = std::min(left_, in->size());
          body_.append(in->data(), n);
          in->remove_prefix(n);
          left_ -= n;
          if (left_ == 0) {
            state_ = State::kDataEnd;
          }
          break;
        }
        case State::kDataEnd:
          if (in->size() < 2) {
            return absl::OkStatus();
          }
          if (in->substr(0, 2) != "\r\n") {
            return absl::UnavailableError("a chunk of the chunked body does not end in CRLF");
          }
          in->remove_prefix(2);
          state_ = State::kSize;
          break;
        case State::kTrailer: {
          const size_t eol = in->find("\r\n");
          if (eol == std::string_view::npos) {
            if (in->size() > kMaxChunkLine) {
              return absl::UnavailableError("a trailer line of the chunked body is too long");
            }
            return absl::OkStatus();
          }
          in->remove_prefix(eol + 2);
          if (eol == 0) {
            state_ = State::kDone;
          } else if (++trailers_ > 64) {
            return absl::UnavailableError("the chunked body has too many trailer lines");
          }
          break;
        }
        case State::kDone:
          break;
      }
    }
    return absl::OkStatus();
  }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  const size_t max_body_;
  State state_ = State::kSize;
  size_t left_ = 0;
  int trailers_ = 0;
  std::string body_;
};

// ReadResponse reads the whole response and returns its body, or the error.
absl::StatusOr<std::string> ReadResponse(tls::BlockingTlsConnection& conn, size_t max_body) {
  char buf[kReadChunk];
  std::string data;
  size_t body_start = 0;
  tls::HttpResponseHead head;
  bool have_head = false;
  std::unique_ptr<ChunkedDecoder> chunked;
  size_t chunked_fed = 0;  // bytes of |data| after the head that the decoder consumed
  for (;;) {
    bool eof = false;
    absl::StatusOr<size_t> n = conn.Read(buf, sizeof(buf), /*wait=*/true, &eof);
    if (!n.ok()) {
      return n.status();
    }
    data.append(buf, *n);
    if (!have_head) {
      const size_t end = data.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (data.size() > kMaxHeadBytes) {
          return absl::UnavailableError(
              absl::StrCat("the response head is larger than ", kMaxHeadBytes, " bytes"));
        }
        if (eof) {
          return absl::UnavailableError(
              data.empty() ? "the server closed the connection without answering"
                           : "the server closed the connection in the middle of the response "
                             "head");
        }
        continue;
      }
      absl::StatusOr<tls::HttpResponseHead> parsed = tls::ParseHttpResponseHead(std::string_view(data).substr(0, end + 2));
      if (!parsed.ok()) {
        return parsed.status();
      }
      head = *std::move(parsed);
      have_head = true;
      body_start = end + 4;
      if (head.status >= 300 && head.status < 400) {
        const std::string location =
            head.location.empty() ? std::string()
                                  : absl::StrCat(" (Location: ", head.location, ")");
        return absl::UnavailableError(
            absl::StrCat("answered HTTP ", head.status, location,
                         "; redirects are not followed: configure the final URL"));
      }
      if (head.status != 200) {
        return absl::UnavailableError(
            absl::StrCat("answered HTTP ", head.status,
                         head.reason.empty() ? std::string() : absl::StrCat(" ", head.reason),
                         ", not 200"));
      }
      if (head.has_content_length && head.content_length > max_body) {
        return absl::UnavailableError(absl::StrCat("the body (Content-Length ",
                                                   head.content_length,
                                                   ") is larger than the limit of ", max_body,
                                                   " bytes"));
      }
      if (head.chunked) {
        chunked = std::make_unique<ChunkedDecoder>(max_body);
      }
    }
    const size_t have = data.size() - body_start;
    if (chunked != nullptr) {
      std::string_view in = std::string_view(data).substr(body_start + chunked_fed);
      const size_t before = in.size();
      if (absl::Status s = chunked->Feed(&in); !s.ok()) {
        return s;
      }
      chunked_fed += before - in.size();
      if (chunked->done()) {
        return std::move(chunked->body());
      }
      if (eof) {
        return absl::UnavailableError(
            "the server closed the connection in the middle of the chunked body");
      }
      // Keep only what the decoder has not consumed, so the raw bytes never pile up.
      data.erase(body_start, chunked_fed);
      chunked_fed = 0;
      continue;
    }
    if (head.has_content_length) {
      if (have >= head.content_length) {
        return data.substr(body_start, static_cast<size_t>(head.content_length));
      }
      if (eof) {
        return absl::UnavailableError(absl::StrCat("the server closed the connection after ",
                                                   have, " of ", head.content_length,
                                                   " body bytes"));
      }
      continue;
    }
    // Delimited by the end of the connection.
    if (have > max_body) {
      return absl::UnavailableError(
          absl::StrCat("the body is larger than the limit of ", max_body, " bytes"));
    }
    if (eof) {
      return data.substr(body_start);
    }
  }
}

}  // namespace

absl::StatusOr<JwksUrl> ParseJwksUrl(std::string_view url) {
  auto bad = [url](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", tls::PrintableAscii(url, 200), "\" ", ToAbsl(why)));
  };
  if (std::any_of(url.begin(), url.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b <= 0x20 || b >= 0x7f;
      })) {
    return bad("must not contain spaces, control or non-ASCII characters");
  }
  JwksUrl out;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    out.tls = false;
    rest = url.substr(7);
  } else {
    return bad("is not an https:// URL");
  }
  const size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (tail.find('#') != std::string_view::npos) {
    return bad("must not have a fragment");
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not hold a user name or password");
  }
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("misses the ']' after its IPv6 address");
    }
    out.host = std::string(authority.substr(1, close - 1));
    in6_addr addr6;
    if (inet_pton(AF_INET6, out.host.c_str(), &addr6) != 1) {
      return bad("has no valid IPv6 address between '[' and ']'");
    }
    out.host_is_ip = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return bad("may have only \":port\" after its IPv6 address");
    }
    has_port = !after.empty();
    port = has_port ? after.substr(1) : after;
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    has_port = colon != std::string_view::npos;
    port = has_port ? authority.substr(colon + 1) : std::string_view();
    if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '-' || c == '.';
        })) {
      return bad("has no valid host name (letters, digits, '-' and '.')");
    }
    in_addr addr4;
    out.host_is_ip = inet_pton(AF_INET, out.host.c_str(), &addr4) == 1;
  }
  if (has_port) {
    int number = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("has a port that is not a number from 1 to 65535");
    }
    for (const char c : port) {
      number = number * 10 + (c - '0');
    }
    if (number < 1 || number > 65535) {
      return bad("has a port that is not a number from 1 to 65535");
    }
    out.port = std::string(port);
  } else {
    out.port = out.tls ? "443" : "80";
  }
  if (!out.tls && !IsLoopbackName(out.host)) {
    return bad("must use https:// (http:// is allowed only for a loopback host: localhost, "
               "127.0.0.1, [::1])");
  }
  out.host_header = std::string(authority);
  // "https://h?x" has the path "/" (RFC 9110 §4.2.3); built by concatenation rather than an
  // insert, which GCC 12 at -O3 misreads as an overlapping copy (-Wrestrict).
  out.target = tail.empty()          ? std::string("/")
               : tail.front() == '?' ? absl::StrCat("/", ToAbsl(tail))
                                     : std::string(tail);
  return out;
}

absl::StatusOr<std::string> FetchJwks(std::string_view url, const JwksFetchOptions& options) {
  auto fail = [url](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("GET ", ToAbsl(url), ": ", s.message()));
  };
  absl::StatusOr<JwksUrl> parsed = ParseJwksUrl(url);
  if (!parsed.ok()) {
    return fail(parsed.status());
  }
  if (options.timeout_ms <= 0 || options.total_timeout_ms <= 0 || options.max_body_bytes == 0) {
    return fail(absl::InvalidArgumentError("timeouts and max_body_bytes must be positive"));
  }
  bssl::UniquePtr<SSL_CTX> ctx;  // none for http://, which the library keeps to loopback
  if (parsed->tls) {
    absl::StatusOr<bssl::UniquePtr<SSL_CTX>> made = tls::MakeVerifyingClientContext(options.ca_file);
    if (!made.ok()) {
      return fail(made.status());
    }
    ctx = *std::move(made);
  }
  const ScopedSigpipeBlock no_sigpipe;
  tls::ClientTlsOptions connect_options;
  connect_options.host = parsed->host;
  connect_options.host_is_ip = parsed->host_is_ip;
  connect_options.port = parsed->port;
  connect_options.ca_file = options.ca_file;
  connect_options.timeout_ms = options.timeout_ms;
  connect_options.total_timeout_ms = options.total_timeout_ms;
  connect_options.cancel_fd = options.cancel_fd;
  absl::StatusOr<std::unique_ptr<tls::BlockingTlsConnection>> conn =
      tls::BlockingTlsConnection::Connect(ctx.get(), connect_options);
  if (!conn.ok()) {
    return fail(conn.status());
  }
  const std::string request =
      absl::StrCat("GET ", parsed->target, " HTTP/1.1\r\nHost: ", parsed->host_header,
                   "\r\nAccept: application/jwk-set+json, application/json\r\n"
                   "User-Agent: ringward\r\nConnection: close\r\n\r\n");
  if (absl::Status s = (*conn)->WriteAll(request); !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<std::string> body = ReadResponse(**conn, options.max_body_bytes);
  if (!body.ok()) {
    return fail(body.status());
  }
  return body;
}

}  // namespace ringward::issuance
