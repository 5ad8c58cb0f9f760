// ringward/net/http/request_parser.h: a strict HTTP/1.1 request parser (RFC 9112) that works in
// place on a connection's receive buffer.
//
// The parser reads one request head (request line and header fields) plus a Content-Length body
// from a contiguous byte span that may hold a partial request or several pipelined ones. It never
// allocates, copies or throws: every string in a Request is a view into the caller's buffer.
// Anything that two HTTP implementations could read differently is refused with its own
// ParseStatus, so the server can count it, answer once and close the connection (see the status
// list below for the intended HTTP status codes; mapping them is src/server's job).
//
// Deliberate choices where RFC 9112 leaves room:
//  - Transfer-Encoding is refused in every form (kTransferEncodingNotSupported, answer 501).
//    ringward decodes no transfer coding, so it cannot find the end of such a body; RFC 9112
//    §6.1 says a server that does not understand a transfer coding SHOULD answer 501, and
//    because the body framing is unknown the connection must be closed afterwards (§6.3). The
//    edge proxies and OAuth clients ringward serves send small bodies with Content-Length.
//    Content-Length together with Transfer-Encoding is the classic smuggling signal and gets its
//    own status (kContentLengthAndTransferEncoding, answer 400).
//  - Exactly one empty line (CRLF) before the request line is skipped, the minimum RFC 9112 §2.2
//    asks for; a second one is kBadRequestLine.
//  - Content-Length is 1*DIGIT, once. A repeated field, even with the same value, and the list
//    form "5, 5" that RFC 9110 §8.6 lets recipients accept, are both refused.
//  - The request-target must be origin-form ("/path?query", RFC 3986 characters only, valid
//    percent-encoding), asterisk-form for OPTIONS, or absolute-form with an http or https scheme
//    and no userinfo (§3.2.2: a server MUST accept it; Request::host then comes from the target).
//  - Host must appear exactly once in HTTP/1.1 (§3.2), at most once in HTTP/1.0, and hold only
//    authority characters. Authorization and Content-Type may appear at most once too
//    (kDuplicateField): a token service must never guess which of two credentials was meant.
//  - Field values may contain obs-text (bytes >= 0x80), which RFC 9110 §5.5 allows; every other
//    control character except HTAB is refused.
//
// Thread-bound: one RequestParser per connection (it keeps a few words of resume state between
// calls), used on the shard that owns the connection. Request is owned by the caller; its views
// are valid until the caller moves, frees or overwrites the buffer bytes they point into.
#ifndef RINGWARD_NET_HTTP_REQUEST_PARSER_H_
#define RINGWARD_NET_HTTP_REQUEST_PARSER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringward::http {

// kMaxHeaders is the capacity of Request::headers; Limits::max_headers may lower it.
inline constexpr size_t kMaxHeaders = 64;

// ParseStatus is the outcome of one Parse call. Every error has its own value so metrics can
// count each kind of malformed or hostile request; the comment names the intended answer. After
// any error the server answers and closes: the framing of what follows is unknown.
enum class ParseStatus : uint8_t {
  kComplete = 0,            // a whole request (head and body) is in the buffer
  kIncomplete,              // need more bytes; call again with the same bytes plus more
  kBadRequestLine,          // 400: not `method SP target SP version`, or extra empty lines
  kBadMethod,               // 400: a method byte that is not a tchar
  kBadTarget,               // 400: not origin-, asterisk- (OPTIONS only) or absolute-form
  kBadVersion,              // 400: not `HTTP/DIGIT.DIGIT`
  kVersionNotSupported,     // 505: well-formed but neither HTTP/1.1 nor HTTP/1.0
  kBareCr,                  // 400: CR not followed by LF inside the head
  kBareLf,                  // 400: LF not preceded by CR
  kObsFold,                 // 400: a field line starting with SP or HTAB (line folding)
  kBadHeaderName,           // 400: empty field name, non-tchar byte in it, or no colon
  kWhitespaceBeforeColon,   // 400: `Name : value` (RFC 9112 §5.1 requires rejection)
  kBadHeaderValue,          // 400: control character other than HTAB in a field value
  kTooManyHeaders,          // 431: more than Limits::max_headers field lines
  kHeadTooLarge,            // 431: the head does not end within Limits::max_head_bytes
  kMissingHost,             // 400: HTTP/1.1 request without Host
  kDuplicateHost,           // 400: more than one Host field line
  kBadHost,                 // 400: Host value with bytes outside uri-host [":" port]
  kBadContentLength,        // 400: empty, signed, non-digit, list or overflowing value
  kDuplicateContentLength,  // 400: Content-Length twice, even with equal values
  kContentLengthAndTransferEncoding,  // 400: both framing fields (request smuggling)
  kTransferEncodingNotSupported,      // 501: any Transfer-Encoding (see the file comment)
  kDuplicateField,                    // 400: Authorization or Content-Type twice
  kBodyTooLarge,                      // 413: Content-Length above Limits::max_body_bytes
};

// kParseStatusCount is the number of ParseStatus values, for metric arrays indexed by status.
inline constexpr size_t kParseStatusCount = static_cast<size_t>(ParseStatus::kBodyTooLarge) + 1;

// IsParseError reports whether |status| ends the connection (neither complete nor incomplete).
constexpr bool IsParseError(ParseStatus status) {
  return status != ParseStatus::kComplete && status != ParseStatus::kIncomplete;
}

// ParseStatusName returns a stable snake_case name for metrics labels and logs, e.g.
// "bare_lf"; "unknown" for values outside the enum.
std::string_view ParseStatusName(ParseStatus status);

// Method is the request method. Methods are case-sensitive (RFC 9110 §9.1): "get" is kUnknown.
// kUnknown carries any other valid token (Request::method_token has the bytes) so the server
// can answer 501 or 405 instead of 400.
enum class Method : uint8_t {
  kUnknown = 0,
  kGet,
  kHead,
  kPost,
  kPut,
  kPatch,
  kDelete,
  kOptions,
};

// MethodName returns the canonical token for a known method, "" for kUnknown.
std::string_view MethodName(Method method);

enum class Version : uint8_t {
  kHttp10,
  kHttp11,
};

// Header is one field line; |value| has leading and trailing SP/HTAB removed.
struct Header {
  std::string_view name;
  std::string_view value;
};

// Limits bound the memory and time one request may claim.
struct Limits {
  size_t max_head_bytes = 8 * 1024;     // request line + fields + final CRLF (+ one skipped CRLF)
  size_t max_body_bytes = 1024 * 1024;  // largest accepted Content-Length
  size_t max_headers = kMaxHeaders;     // clamped to kMaxHeaders
};

// Request is one parsed request. All views point into the buffer given to Parse, except |path|
// for an absolute-form target without a path, which is the static string "/".
struct Request {
  Method method = Method::kUnknown;
  std::string_view method_token;  // the method as sent, also for kUnknown
  std::string_view target;        // the whole request-target as sent
  std::string_view path;          // origin-form path; "*" for asterisk-form
  std::string_view query;         // after the first '?', without it; empty when absent
  std::string_view authority;     // absolute-form only: "host[:port]" from the target
  Version version = Version::kHttp11;

  std::array<Header, kMaxHeaders> headers;  // the first |header_count| entries are valid
  size_t header_count = 0;

  std::string_view body;  // exactly content_length bytes, only when Parse returned kComplete

  // Fields the server needs on every request, extracted during the same pass.
  bool has_content_length = false;
  uint64_t content_length = 0;   // 0 when absent (RFC 9112 §6.3: no body)
  bool keep_alive = true;        // 1.1: unless "close"; 1.0: only with "keep-alive"
  bool expect_continue = false;  // "Expect: 100-continue" on HTTP/1.1 (ignored for 1.0)
  bool has_host = false;
  std::string_view host;           // Host value, or the target's authority for absolute-form
  std::string_view authorization;  // Authorization value, empty when absent
  std::string_view content_type;   // Content-Type value, empty when absent

  // Headers returns the valid field lines in the order received.
  std::span<const Header> Headers() const { return {headers.data(), header_count}; }

  // FindHeader returns the first field line named |name| (ASCII case-insensitive), or nullptr.
  const Header* FindHeader(std::string_view name) const;

  // Clear resets every field to its default (the header array is not wiped, only the count).
  void Clear();
};

// ParseResult says what Parse found. |consumed| is non-zero only for kComplete: it is the length
// of the request including the body and any skipped leading CRLF, so the next pipelined request
// starts at buffer[consumed]. Once the head is complete (also while the body is still arriving,
// which is when the server decides on "100 Continue"), |head_size| and |total_size| are set and
// the Request's head fields are valid; otherwise they are 0.
struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  size_t head_size = 0;
  size_t total_size = 0;
};

// RequestParser parses requests for one connection.
//
// After kIncomplete, call Parse again with the same bytes followed by more, and the same
// Request. If the buffer still starts at the same address, the parser resumes after the last
// complete line instead of starting over, so a head that trickles in is scanned about once; if
// the buffer moved (or |out| changed, or the buffer shrank) it simply starts over, which is
// always correct. The caller must not change bytes it already passed in, nor |*out|, between
// calls for one request. After kComplete or an error the parser is ready for the next request.
class RequestParser {
 public:
  explicit RequestParser(const Limits& limits = Limits());

  // Parse reads the request at the start of |buffer| into |*out|. On an error |*out| is
  // unspecified. The result depends only on the bytes: splitting a request across calls never
  // changes it, and a complete or failed prefix gives the same result for any longer buffer.
  ParseResult Parse(std::string_view buffer, Request* out);

  // Reset forgets any partially parsed request.
  void Reset();

  const Limits& limits() const { return limits_; }

 private:
  enum class Phase : uint8_t { kRequestLine, kHeaders, kBody };

  // ParseHeaderLine parses one field line (no CRLF) into |out| and the resume state; it and
  // FinishHead return kComplete when the line or head is acceptable.
  ParseStatus ParseHeaderLine(const char* line, size_t len, Request* out);
  // FinishHead applies the checks and defaults that need the whole head.
  ParseStatus FinishHead(Request* out);
  ParseResult Finish(ParseStatus status);

  Limits limits_;
  // Resume state: valid only while |data_| and |out_| match the next call.
  const char* data_ = nullptr;
  const Request* out_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;  // start of the first line not yet parsed
  size_t head_size_ = 0;
  Phase phase_ = Phase::kRequestLine;
  bool skipped_empty_line_ = false;
  bool saw_transfer_encoding_ = false;
  bool saw_authorization_ = false;
  bool saw_content_type_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool expect_continue_ = false;
};

// ParseRequest parses one request from |buffer| with no resume state (tests, fuzzing, tools).
ParseResult ParseRequest(std::string_view buffer, const Limits& limits, Request* out);

// BearerToken returns the b64token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1;
// the scheme is case-insensitive, then one or more SP), or an empty view when |authorization|
// is not a well-formed Bearer credential.
std::string_view BearerToken(std::string_view authorization);

}  // namespace ringward::http

#endif  // RINGWARD_NET_HTTP_REQUEST_PARSER_H_
