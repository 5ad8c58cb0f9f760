// The parser finds each line with memchr('\n') and checks the byte before it for CR, so the head
// is scanned by glibc's vector loop rather than byte by byte; the bytes of each line are then
// checked against one 256-entry class table (field values eight bytes at a time). Errors are
// decided line by line in input order, which is what makes the result independent of how the
// bytes were split across calls.
#include "ringward/net/http/request_parser.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace ringward::http {
namespace {

// Character classes, one bit each, in one table so each check is a load and a test.
enum : uint8_t {
  kTchar = 1 << 0,       // RFC 9110 §5.6.2 token characters
  kTargetChar = 1 << 1,  // RFC 3986 pchar plus "/" and "?" (and "%" for pct-encoded)
  kValueChar = 1 << 2,   // RFC 9110 field-vchar, SP and HTAB
  kAuthChar = 1 << 3,    // RFC 3986 host and port characters, without userinfo
  kHexDigit = 1 << 4,
  kB64Token = 1 << 5,  // RFC 6750 b64token characters, without the trailing "="
};

constexpr bool IsAlpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsDigit(int c) { return c >= '0' && c <= '9'; }

constexpr std::array<uint8_t, 256> MakeCharTable() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    uint8_t bits = 0;
    const bool alnum = IsAlpha(c) || IsDigit(c);
    const bool unreserved = alnum || c == '-' || c == '.' || c == '_' || c == '~';
    const bool sub_delim = c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
                           c == '*' || c == '+' || c == ',' || c == ';' || c == '=';
    if (alnum || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
        c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' ||
        c == '|' || c == '~') {
      bits |= kTchar;
    }
    if (unreserved || sub_delim || c == ':' || c == '@' || c == '/' || c == '?' || c == '%') {
      bits |= kTargetChar;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
      bits |= kValueChar;
    }
    if (unreserved || sub_delim || c == ':' || c == '[' || c == ']' || c == '%') {
      bits |= kAuthChar;
    }
    if (IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      bits |= kHexDigit;
    }
    if (alnum || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
      bits |= kB64Token;
    }
    table[static_cast<size_t>(c)] = bits;
  }
  return table;
}

constexpr std::array<uint8_t, 256> kCharClass = MakeCharTable();

constexpr std::array<uint8_t, 256> MakeLowerTable() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<size_t>(c)] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kLower = MakeLowerTable();

inline bool Has(char c, uint8_t cls) { return (kCharClass[static_cast<uint8_t>(c)] & cls) != 0; }

inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

// EqualsLower compares |s| ASCII case-insensitively with |lower|, which must be lower case.
inline bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (kLower[static_cast<uint8_t>(s[i])] != static_cast<uint8_t>(lower[i])) {
      return false;
    }
  }
  return true;
}

// WordHasControl reports whether the eight bytes at |p| hold a byte below 0x20 or equal to 0x7f
// (the "has byte less than n" and "has zero byte" word tricks; exact for existence). An HTAB
// counts too, so a true answer is only a hint to look closer.
inline bool WordHasControl(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighs;
  const uint64_t y = x ^ (kOnes * 0x7f);
  const uint64_t del = (y - kOnes) & ~y & kHighs;
  return (below_space | del) != 0;
}

bool ValidFieldValueScalar(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!Has(p[i], kValueChar)) {
      return false;
    }
  }
  return true;
}

#if defined(__AVX2__)
// Block32HasControl reports whether the 32 bytes at |p| hold a control character other than
// HTAB (bytes <= 0x1f by unsigned max-compare, or 0x7f); exact.
inline bool Block32HasControl(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i k1f = _mm256_set1_epi8(0x1f);
  __m256i bad = _mm256_cmpeq_epi8(_mm256_max_epu8(v, k1f), k1f);
  bad = _mm256_andnot_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')), bad);
  bad = _mm256_or_si256(bad, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f)));
  return _mm256_testz_si256(bad, bad) == 0;
}
#endif

// ValidFieldValue checks a trimmed field value: 32 bytes per step with AVX2, else 8 bytes per
// step with the word trick, the last block overlapping the previous one instead of a byte loop.
// Long values (bearer tokens, forwarded URIs) are the common case worth the vector path.
bool ValidFieldValue(const char* p, size_t n) {
#if defined(__AVX2__)
  if (n >= 32) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      if (Block32HasControl(p + i)) {
        return false;
      }
    }
    return i == n || !Block32HasControl(p + n - 32);
  }
#endif
  if (n < 8) {
    return ValidFieldValueScalar(p, n);
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (WordHasControl(p + i) && !ValidFieldValueScalar(p + i, 8)) {
      return false;
    }
  }
  return i == n || !WordHasControl(p + n - 8) || ValidFieldValueScalar(p + n - 8, 8);
}

#if defined(__AVX2__)
// Block32AllB64Token reports whether the 32 bytes at |p| are all RFC 6750 b64token characters
// other than "=": ALPHA, DIGIT, "-", ".", "/" (one range), "_", "~" and "+"; exact.
inline bool Block32AllB64Token(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  // InRange: (v - lo) <= span as unsigned bytes.
  const auto in_range = [](__m256i x, char lo, char span) {
    const __m256i d = _mm256_sub_epi8(x, _mm256_set1_epi8(lo));
    return _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(span)), d);
  };
  // Setting bit 5 folds A-Z onto a-z and maps nothing else into a-z.
  __m256i ok = in_range(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), 'a', 25);
  ok = _mm256_or_si256(ok, in_range(v, '0', 9));
  ok = _mm256_or_si256(ok, in_range(v, '-', 2));  // - . /
  ok = _mm256_or_si256(ok, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('_')));
  ok = _mm256_or_si256(ok, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('~')));
  ok = _mm256_or_si256(ok, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('+')));
  return _mm256_movemask_epi8(ok) == -1;
}
#endif

// AllB64Token reports whether |s| holds only b64token characters other than "=": 32 bytes per
// step with AVX2 (the last block overlapping the previous one), else through the class table.
// A bearer token is a few hundred bytes, checked on every GET /v1/verify.
bool AllB64Token(std::string_view s) {
  size_t i = 0;
#if defined(__AVX2__)
  if (s.size() >= 32) {
    for (; i + 32 <= s.size(); i += 32) {
      if (!Block32AllB64Token(s.data() + i)) {
        return false;
      }
    }
    return i == s.size() || Block32AllB64Token(s.data() + s.size() - 32);
  }
#endif
  for (; i < s.size(); ++i) {
    if (!Has(s[i], kB64Token)) {
      return false;
    }
  }
  return true;
}

// ValidUriChars checks that |s| holds only characters of class |cls| and that every '%' starts
// a pct-encoded triplet.
bool ValidUriChars(std::string_view s, uint8_t cls) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!Has(c, cls)) {
      return false;
    }
    if (c == '%') {
      if (i + 2 >= s.size() || !Has(s[i + 1], kHexDigit) || !Has(s[i + 2], kHexDigit)) {
        return false;
      }
      i += 2;
    }
  }
  return true;
}

Method ClassifyMethod(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") {
        return Method::kGet;
      }
      if (m == "PUT") {
        return Method::kPut;
      }
      break;
    case 4:
      if (m == "POST") {
        return Method::kPost;
      }
      if (m == "HEAD") {
        return Method::kHead;
      }
      break;
    case 5:
      if (m == "PATCH") {
        return Method::kPatch;
      }
      break;
    case 6:
      if (m == "DELETE") {
        return Method::kDelete;
      }
      break;
    case 7:
      if (m == "OPTIONS") {
        return Method::kOptions;
      }
      break;
    default:
      break;
  }
  return Method::kUnknown;
}

// SplitPathQuery validates an origin-form path[?query] and splits it.
bool SplitPathQuery(std::string_view s, Request* out) {
  if (!ValidUriChars(s, kTargetChar)) {
    return false;
  }
  const size_t q = s.find('?');
  if (q == std::string_view::npos) {
    out->path = s;
    out->query = {};
  } else {
    out->path = s.substr(0, q);
    out->query = s.substr(q + 1);
  }
  return true;
}

ParseStatus ParseTarget(std::string_view target, Request* out) {
  if (target[0] == '/') {
    return SplitPathQuery(target, out) ? ParseStatus::kComplete : ParseStatus::kBadTarget;
  }
  if (target.size() == 1 && target[0] == '*') {
    if (out->method != Method::kOptions) {
      return ParseStatus::kBadTarget;
    }
    out->path = target;
    return ParseStatus::kComplete;
  }
  // absolute-form (RFC 9112 §3.2.2), http or https only.
  size_t scheme_len = 0;
  if (target.size() >= 7 && EqualsLower(target.substr(0, 7), "http://")) {
    scheme_len = 7;
  } else if (target.size() >= 8 && EqualsLower(target.substr(0, 8), "https://")) {
    scheme_len = 8;
  } else {
    return ParseStatus::kBadTarget;
  }
  const std::string_view rest = target.substr(scheme_len);
  const size_t end = std::min(rest.find('/'), rest.find('?'));
  const std::string_view authority = rest.substr(0, end);
  if (authority.empty() || !ValidUriChars(authority, kAuthChar)) {
    return ParseStatus::kBadTarget;
  }
  out->authority = authority;
  if (end == std::string_view::npos) {
    out->path = "/";
    out->query = {};
    return ParseStatus::kComplete;
  }
  std::string_view path_query = rest.substr(end);
  if (path_query[0] == '?') {
    if (!SplitPathQuery(path_query, out)) {
      return ParseStatus::kBadTarget;
    }
    out->path = "/";
    return ParseStatus::kComplete;
  }
  return SplitPathQuery(path_query, out) ? ParseStatus::kComplete : ParseStatus::kBadTarget;
}

// ParseRequestLine parses `method SP request-target SP HTTP-version` (no CRLF).
ParseStatus ParseRequestLine(const char* line, size_t len, Request* out) {
  size_t i = 0;
  while (i < len && Has(line[i], kTchar)) {
    ++i;
  }
  if (i == len) {
    return ParseStatus::kBadRequestLine;
  }
  if (line[i] != ' ') {
    return (i == 0 || line[i] == '\t') ? ParseStatus::kBadRequestLine : ParseStatus::kBadMethod;
  }
  if (i == 0) {
    return ParseStatus::kBadRequestLine;
  }
  const std::string_view method(line, i);
  const size_t target_start = i + 1;
  const void* sp = std::memchr(line + target_start, ' ', len - target_start);
  if (sp == nullptr) {
    return ParseStatus::kBadRequestLine;  // also HTTP/0.9's `GET /`
  }
  const size_t target_end = static_cast<size_t>(static_cast<const char*>(sp) - line);
  if (target_end == target_start) {
    return ParseStatus::kBadRequestLine;
  }
  const std::string_view version(line + target_end + 1, len - target_end - 1);
  if (version.find(' ') != std::string_view::npos) {
    return ParseStatus::kBadRequestLine;
  }

  out->method_token = method;
  out->method = ClassifyMethod(method);

  if (version == "HTTP/1.1") {
    out->version = Version::kHttp11;
  } else if (version == "HTTP/1.0") {
    out->version = Version::kHttp10;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && IsDigit(version[5]) &&
             version[6] == '.' && IsDigit(version[7])) {
    return ParseStatus::kVersionNotSupported;
  } else {
    return ParseStatus::kBadVersion;
  }

  out->target = std::string_view(line + target_start, target_end - target_start);
  return ParseTarget(out->target, out);
}

// ParseContentLength accepts 1*DIGIT without overflow.
bool ParseContentLength(std::string_view v, uint64_t* value) {
  if (v.empty()) {
    return false;
  }
  uint64_t n = 0;
  for (const char c : v) {
    if (!IsDigit(c)) {
      return false;
    }
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) {
      return false;
    }
    n = n * 10 + d;
  }
  *value = n;
  return true;
}

}  // namespace

std::string_view ParseStatusName(ParseStatus status) {
  switch (status) {
    case ParseStatus::kComplete:
      return "complete";
    case ParseStatus::kIncomplete:
      return "incomplete";
    case ParseStatus::kBadRequestLine:
      return "bad_request_line";
    case ParseStatus::kBadMethod:
      return "bad_method";
    case ParseStatus::kBadTarget:
      return "bad_target";
    case ParseStatus::kBadVersion:
      return "bad_version";
    case ParseStatus::kVersionNotSupported:
      return "version_not_supported";
    case ParseStatus::kBareCr:
      return "bare_cr";
    case ParseStatus::kBareLf:
      return "bare_lf";
    case ParseStatus::kObsFold:
      return "obs_fold";
    case ParseStatus::kBadHeaderName:
      return "bad_header_name";
    case ParseStatus::kWhitespaceBeforeColon:
      return "whitespace_before_colon";
    case ParseStatus::kBadHeaderValue:
      return "bad_header_value";
    case ParseStatus::kTooManyHeaders:
      return "too_many_headers";
    case ParseStatus::kHeadTooLarge:
      return "head_too_large";
    case ParseStatus::kMissingHost:
      return "missing_host";
    case ParseStatus::kDuplicateHost:
      return "duplicate_host";
    case ParseStatus::kBadHost:
      return "bad_host";
    case ParseStatus::kBadContentLength:
      return "bad_content_length";
    case ParseStatus::kDuplicateContentLength:
      return "duplicate_content_length";
    case ParseStatus::kContentLengthAndTransferEncoding:
      return "content_length_and_transfer_encoding";
    case ParseStatus::kTransferEncodingNotSupported:
      return "transfer_encoding_not_supported";
    case ParseStatus::kDuplicateField:
      return "duplicate_field";
    case ParseStatus::kBodyTooLarge:
      return "body_too_large";
  }
  return "unknown";
}

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kUnknown:
      break;
  }
  return "";
}

const Header* Request::FindHeader(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i) {
    const std::string_view n = headers[i].name;
    if (n.size() != name.size()) {
      continue;
    }
    size_t j = 0;
    while (j < n.size() &&
           kLower[static_cast<uint8_t>(n[j])] == kLower[static_cast<uint8_t>(name[j])]) {
      ++j;
    }
    if (j == n.size()) {
      return &headers[i];
    }
  }
  return nullptr;
}

void Request::Clear() {
  method = Method::kUnknown;
  method_token = {};
  target = {};
  path = {};
  query = {};
  authority = {};
  version = Version::kHttp11;
  header_count = 0;
  body = {};
  has_content_length = false;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
  has_host = false;
  host = {};
  authorization = {};
  content_type = {};
}

RequestParser::RequestParser(const Limits& limits) : limits_(limits) {
  limits_.max_headers = std::min(limits_.max_headers, kMaxHeaders);
}

void RequestParser::Reset() {
  data_ = nullptr;
  out_ = nullptr;
  size_ = 0;
  pos_ = 0;
  head_size_ = 0;
  phase_ = Phase::kRequestLine;
  skipped_empty_line_ = false;
  saw_transfer_encoding_ = false;
  saw_authorization_ = false;
  saw_content_type_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  expect_continue_ = false;
}

ParseResult RequestParser::Finish(ParseStatus status) {
  Reset();
  ParseResult result;
  result.status = status;
  return result;
}

ParseStatus RequestParser::ParseHeaderLine(const char* line, size_t len, Request* out) {
  if (len != 0 && IsOws(line[0])) {
    return ParseStatus::kObsFold;
  }
  size_t i = 0;
  while (i < len && Has(line[i], kTchar)) {
    ++i;
  }
  if (i == len || i == 0) {
    return ParseStatus::kBadHeaderName;
  }
  if (line[i] != ':') {
    size_t j = i;
    while (j < len && IsOws(line[j])) {
      ++j;
    }
    return (j > i && j < len && line[j] == ':') ? ParseStatus::kWhitespaceBeforeColon
                                                : ParseStatus::kBadHeaderName;
  }
  size_t value_start = i + 1;
  while (value_start < len && IsOws(line[value_start])) {
    ++value_start;
  }
  size_t value_end = len;
  while (value_end > value_start && IsOws(line[value_end - 1])) {
    --value_end;
  }
  if (!ValidFieldValue(line + value_start, value_end - value_start)) {
    return ParseStatus::kBadHeaderValue;
  }
  if (out->header_count == limits_.max_headers) {
    return ParseStatus::kTooManyHeaders;
  }
  const std::string_view name(line, i);
  const std::string_view value(line + value_start, value_end - value_start);
  out->headers[out->header_count++] = Header{name, value};

  // Dispatch on length first: most field lines are none of these and leave after one compare.
  switch (name.size()) {
    case 4:
      if (EqualsLower(name, "host")) {
        if (out->has_host) {
          return ParseStatus::kDuplicateHost;
        }
        if (!ValidUriChars(value, kAuthChar)) {
          return ParseStatus::kBadHost;
        }
        out->has_host = true;
        out->host = value;
      }
      break;
    case 6:
      if (EqualsLower(name, "expect")) {
        expect_continue_ = expect_continue_ || EqualsLower(value, "100-continue");
      }
      break;
    case 10:
      if (EqualsLower(name, "connection")) {
        // A comma-separated list of tokens; "close" anywhere wins over "keep-alive".
        std::string_view rest = value;
        while (!rest.empty()) {
          const size_t comma = rest.find(',');
          std::string_view item = rest.substr(0, comma);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
          while (!item.empty() && IsOws(item.front())) {
            item.remove_prefix(1);
          }
          while (!item.empty() && IsOws(item.back())) {
            item.remove_suffix(1);
          }
          if (EqualsLower(item, "close")) {
            connection_close_ = true;
          } else if (EqualsLower(item, "keep-alive")) {
            connection_keep_alive_ = true;
          }
        }
      }
      break;
    case 12:
      if (EqualsLower(name, "content-type")) {
        if (saw_content_type_) {
          return ParseStatus::kDuplicateField;
        }
        saw_content_type_ = true;
        out->content_type = value;
      }
      break;
    case 13:
      if (EqualsLower(name, "authorization")) {
        if (saw_authorization_) {
          return ParseStatus::kDuplicateField;
        }
        saw_authorization_ = true;
        out->authorization = value;
      }
      break;
    case 14:
      if (EqualsLower(name, "content-length")) {
        if (out->has_content_length) {
          return ParseStatus::kDuplicateContentLength;
        }
        if (saw_transfer_encoding_) {
          return ParseStatus::kContentLengthAndTransferEncoding;
        }
        uint64_t length = 0;
        if (!ParseContentLength(value, &length)) {
          return ParseStatus::kBadContentLength;
        }
        if (length > limits_.max_body_bytes) {
          return ParseStatus::kBodyTooLarge;
        }
        out->has_content_length = true;
        out->content_length = length;
      }
      break;
    case 17:
      if (EqualsLower(name, "transfer-encoding")) {
        if (out->has_content_length) {
          return ParseStatus::kContentLengthAndTransferEncoding;
        }
        // Refused at the end of the head, so that a Content-Length after it is still reported
        // as the smuggling attempt it is.
        saw_transfer_encoding_ = true;
      }
      break;
    default:
      break;
  }
  return ParseStatus::kComplete;
}

ParseStatus RequestParser::FinishHead(Request* out) {
  if (out->version == Version::kHttp11 && !out->has_host) {
    return ParseStatus::kMissingHost;
  }
  if (saw_transfer_encoding_) {
    return ParseStatus::kTransferEncodingNotSupported;
  }
  if (!out->authority.empty()) {
    out->host = out->authority;  // RFC 9112 §3.2.2: the target's authority wins over Host.
  }
  if (out->version == Version::kHttp11) {
    out->keep_alive = !connection_close_;
    out->expect_continue = expect_continue_;
  } else {
    out->keep_alive = connection_keep_alive_ && !connection_close_;
    out->expect_continue = false;  // RFC 9110 §10.1.1: ignored in HTTP/1.0 requests.
  }
  return ParseStatus::kComplete;
}

ParseResult RequestParser::Parse(std::string_view buffer, Request* out) {
  const char* base = buffer.data();
  if (base != data_ || out != out_ || buffer.size() < size_ || pos_ == 0) {
    Reset();
    out->Clear();
  }

  if (phase_ != Phase::kBody) {
    const size_t window = std::min(buffer.size(), limits_.max_head_bytes);
    while (true) {
      const char* line = base + pos_;
      // memchr must not see a null pointer, even with length 0 (an empty buffer).
      const void* found = pos_ < window ? std::memchr(line, '\n', window - pos_) : nullptr;
      if (found == nullptr) {
        // A head longer than the limit can never complete: say so as soon as the limit is
        // reached rather than waiting for a newline that may never come.
        if (buffer.size() >= limits_.max_head_bytes) {
          return Finish(ParseStatus::kHeadTooLarge);
        }
        break;
      }
      const char* nl = static_cast<const char*>(found);
      if (nl == line || nl[-1] != '\r') {
        return Finish(ParseStatus::kBareLf);
      }
      const size_t len = static_cast<size_t>(nl - 1 - line);
      const size_t next = static_cast<size_t>(nl + 1 - base);
      ParseStatus status = ParseStatus::kComplete;
      if (phase_ == Phase::kRequestLine) {
        if (len == 0 && !skipped_empty_line_) {
          skipped_empty_line_ = true;  // RFC 9112 §2.2: ignore one CRLF before the request.
        } else if (len == 0) {
          status = ParseStatus::kBadRequestLine;
        } else {
          status = ParseRequestLine(line, len, out);
          phase_ = Phase::kHeaders;
        }
      } else if (len == 0) {
        status = FinishHead(out);
        head_size_ = next;
        phase_ = Phase::kBody;
      } else {
        status = ParseHeaderLine(line, len, out);
      }
      if (status != ParseStatus::kComplete) {
        // Every byte a field or request line may hold excludes CR, so a line that failed and
        // holds a CR failed because of it; report the root cause.
        if (len != 0 && std::memchr(line, '\r', len) != nullptr) {
          status = ParseStatus::kBareCr;
        }
        return Finish(status);
      }
      pos_ = next;
      if (phase_ == Phase::kBody) {
        break;
      }
    }
  }

  ParseResult result;
  result.status = ParseStatus::kIncomplete;
  if (phase_ == Phase::kBody) {
    result.head_size = head_size_;
    result.total_size = head_size_ + out->content_length;
    if (buffer.size() >= result.total_size) {
      out->body = buffer.substr(head_size_, out->content_length);
      result.status = ParseStatus::kComplete;
      result.consumed = result.total_size;
      Reset();
      return result;
    }
  }
  data_ = base;
  out_ = out;
  size_ = buffer.size();
  return result;
}

ParseResult ParseRequest(std::string_view buffer, const Limits& limits, Request* out) {
  RequestParser parser(limits);
  return parser.Parse(buffer, out);
}

std::string_view BearerToken(std::string_view authorization) {
  if (authorization.size() < 7 || !EqualsLower(authorization.substr(0, 6), "bearer") ||
      authorization[6] != ' ') {
    return {};
  }
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  // 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  size_t end = token.size();
  while (end > 0 && token[end - 1] == '=') {
    --end;
  }
  return end > 0 && AllB64Token(token.substr(0, end)) ? token : std::string_view();
}

}  // namespace ringward::http
