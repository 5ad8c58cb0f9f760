// server/response.h: writing HTTP/1.1 responses from precomputed fragments, and the rules for
// what may go into a response header.
//
// Responses are assembled in a per-shard std::string whose capacity is reserved once, so
// appending allocates nothing in steady state. Status lines and fixed header lines are string
// constants; only the Date line (once per second per shard), Content-Length and the claim
// values are formatted per response.
//
// Header safety: claim values come from tokens, i.e. from whoever the issuer let choose them
// (a user's name, a client's id). A value is written into a header only when IsSafeHeaderValue
// says so; otherwise a CR LF in "sub" would let the token holder add headers of their choice
// (X-Auth-Subject: alice\r\nX-Admin: 1) in front of an auth_request proxy.
//
// Thread-compatible value types and pure functions; a ResponseWriter is used by one shard.
#ifndef RINGWARD_SERVER_RESPONSE_H_
#define RINGWARD_SERVER_RESPONSE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ringward/net/http/request_parser.h"

namespace ringward::server {

// HttpStatusForParse maps a parse error to the HTTP status the parser's enum documents
// (400, 413, 431, 501, 505). kComplete/kIncomplete map to 200/0 and are never answered.
int HttpStatusForParse(http::ParseStatus status);

// StatusLine returns "HTTP/1.1 <code> <reason>\r\n" for the statuses ringward sends; any other
// code gets a generic line for its class.
std::string_view StatusLine(int status);

// ReasonPhrase returns the reason phrase alone ("Not Found").
std::string_view ReasonPhrase(int status);

// IsSafeHeaderValue reports whether |value| can be sent as a header field value and arrive as
// exactly the same bytes: no control characters (0x00-0x1F, including CR, LF and HTAB, and
// 0x7F) anywhere, and no leading or trailing space, which receivers strip (so " admin" would
// arrive as "admin"). Bytes >= 0x80 (UTF-8) are allowed, as RFC 9110 §5.5 allows obs-text.
// The empty value is safe.
bool IsSafeHeaderValue(std::string_view value);

// IsHeaderName reports whether |name| is a valid field name (a non-empty RFC 9110 token).
bool IsHeaderName(std::string_view name);

// HttpDate keeps the "Date: <IMF-fixdate>\r\n" line for the current second.
class HttpDate {
 public:
  HttpDate() { Update(0); }
  // Update reformats the line when |unix_seconds| differs from the last call.
  void Update(int64_t unix_seconds);
  std::string_view line() const { return {line_, kLineSize}; }

 private:
  static constexpr size_t kLineSize = 37;  // "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
  int64_t seconds_ = -1;
  char line_[kLineSize + 1];
};

// ConnectionHeader says what the response tells the client about the connection.
enum class ConnectionHeader : uint8_t {
  kNone,       // HTTP/1.1 keep-alive: nothing to say
  kKeepAlive,  // HTTP/1.0 client that asked for keep-alive
  kClose,      // the server closes after this response
};

// ResponseWriter appends one response to |*out|:
//   Start(status)  status line and Date;
//   Header*/Raw*   header lines;
//   Finish(...)    Content-Type, Content-Length, Connection, the empty line and the body
//                  (the body is left out for HEAD, Content-Length still describes it).
class ResponseWriter {
 public:
  ResponseWriter(std::string* out, const HttpDate& date) : out_(out), date_(date) {}

  void Start(int status) {
    out_->append(StatusLine(status));
    out_->append(date_.line());
  }
  // Raw appends complete header lines ("Cache-Control: no-store\r\n").
  void Raw(std::string_view lines) { out_->append(lines); }
  // Header appends "|name_colon_space||value|\r\n"; |name_colon_space| is e.g. "X-Auth-Scope: ".
  // The caller has checked |value| with IsSafeHeaderValue.
  void Header(std::string_view name_colon_space, std::string_view value) {
    out_->append(name_colon_space);
    out_->append(value);
    out_->append("\r\n");
  }
  // Finish ends the head and appends |body| unless |head_only|. |content_type| may be empty.
  void Finish(std::string_view content_type, std::string_view body, bool head_only,
              ConnectionHeader connection);
  // FinishNoContent ends the head of a 204, which has neither body nor Content-Length
  // (RFC 9110 §8.6).
  void FinishNoContent(ConnectionHeader connection);

 private:
  std::string* out_;
  const HttpDate& date_;
};

// AppendDecimal appends |v| in decimal.
void AppendDecimal(std::string* out, uint64_t v);
void AppendSignedDecimal(std::string* out, int64_t v);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_RESPONSE_H_
