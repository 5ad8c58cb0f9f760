#include "server/response.h"

#include <ctime>

namespace ringward::server {

int HttpStatusForParse(http::ParseStatus status) {
  using http::ParseStatus;
  switch (status) {
    case ParseStatus::kComplete:
      return 200;
    case ParseStatus::kIncomplete:
      return 0;
    case ParseStatus::kVersionNotSupported:
      return 505;
    case ParseStatus::kTooManyHeaders:
    case ParseStatus::kHeadTooLarge:
      return 431;
    case ParseStatus::kTransferEncodingNotSupported:
      return 501;
    case ParseStatus::kBodyTooLarge:
      return 413;
    case ParseStatus::kBadRequestLine:
    case ParseStatus::kBadMethod:
    case ParseStatus::kBadTarget:
    case ParseStatus::kBadVersion:
    case ParseStatus::kBareCr:
    case ParseStatus::kBareLf:
    case ParseStatus::kObsFold:
    case ParseStatus::kBadHeaderName:
    case ParseStatus::kWhitespaceBeforeColon:
    case ParseStatus::kBadHeaderValue:
    case ParseStatus::kMissingHost:
    case ParseStatus::kDuplicateHost:
    case ParseStatus::kBadHost:
    case ParseStatus::kBadContentLength:
    case ParseStatus::kDuplicateContentLength:
    case ParseStatus::kContentLengthAndTransferEncoding:
    case ParseStatus::kDuplicateField:
      return 400;
  }
  return 400;
}

std::string_view StatusLine(int status) {
  switch (status) {
    case 100:
      return "HTTP/1.1 100 Continue\r\n";
    case 200:
      return "HTTP/1.1 200 OK\r\n";
    case 201:
      return "HTTP/1.1 201 Created\r\n";
    case 202:
      return "HTTP/1.1 202 Accepted\r\n";
    case 204:
      return "HTTP/1.1 204 No Content\r\n";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\n";
    case 401:
      return "HTTP/1.1 401 Unauthorized\r\n";
    case 403:
      return "HTTP/1.1 403 Forbidden\r\n";
    case 404:
      return "HTTP/1.1 404 Not Found\r\n";
    case 405:
      return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408:
      return "HTTP/1.1 408 Request Timeout\r\n";
    case 409:
      return "HTTP/1.1 409 Conflict\r\n";
    case 413:
      return "HTTP/1.1 413 Content Too Large\r\n";
    case 415:
      return "HTTP/1.1 415 Unsupported Media Type\r\n";
    case 429:
      return "HTTP/1.1 429 Too Many Requests\r\n";
    case 431:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 500:
      return "HTTP/1.1 500 Internal Server Error\r\n";
    case 501:
      return "HTTP/1.1 501 Not Implemented\r\n";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\n";
    case 505:
      return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    default:
      break;
  }
  if (status >= 500) {
    return "HTTP/1.1 500 Internal Server Error\r\n";
  }
  if (status >= 400) {
    return "HTTP/1.1 400 Bad Request\r\n";
  }
  return "HTTP/1.1 200 OK\r\n";
}

std::string_view ReasonPhrase(int status) {
  std::string_view line = StatusLine(status);
  // "HTTP/1.1 NNN " is 13 bytes; drop it and the CRLF.
  return line.substr(13, line.size() - 15);
}

bool IsSafeHeaderValue(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return value.empty() || (value.front() != ' ' && value.back() != ' ');
}

bool IsHeaderName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    const bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
                       c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' ||
                       c == '`' || c == '|' || c == '~';
    if (!tchar) {
      return false;
    }
  }
  return true;
}

void HttpDate::Update(int64_t unix_seconds) {
  if (unix_seconds == seconds_) {
    return;
  }
  seconds_ = unix_seconds;
  static constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char* p = line_;
  auto put = [&p](std::string_view s) {
    for (const char c : s) {
      *p++ = c;
    }
  };
  auto put2 = [&p](int v) {
    *p++ = static_cast<char>('0' + (v / 10) % 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  put("Date: ");
  put(kDays[tm.tm_wday % 7]);
  put(", ");
  put2(tm.tm_mday);
  *p++ = ' ';
  put(kMonths[tm.tm_mon % 12]);
  *p++ = ' ';
  const int year = tm.tm_year + 1900;
  put2(year / 100);
  put2(year % 100);
  *p++ = ' ';
  put2(tm.tm_hour);
  *p++ = ':';
  put2(tm.tm_min);
  *p++ = ':';
  put2(tm.tm_sec);
  put(" GMT\r\n");
  *p = '\0';
}

void AppendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  char* end = buf + sizeof(buf);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(p, static_cast<size_t>(end - p));
}

void AppendSignedDecimal(std::string* out, int64_t v) {
  if (v < 0) {
    out->push_back('-');
    AppendDecimal(out, static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
    return;
  }
  AppendDecimal(out, static_cast<uint64_t>(v));
}

void ResponseWriter::Finish(std::string_view content_type, std::string_view body, bool head_only,
                            ConnectionHeader connection) {
  if (!content_type.empty()) {
    out_->append("Content-Type: ");
    out_->append(content_type);
    out_->append("\r\n");
  }
  out_->append("Content-Length: ");
  AppendDecimal(out_, body.size());
  switch (connection) {
    case ConnectionHeader::kNone:
      out_->append("\r\n\r\n");
      break;
    case ConnectionHeader::kKeepAlive:
      out_->append("\r\nConnection: keep-alive\r\n\r\n");
      break;
    case ConnectionHeader::kClose:
      out_->append("\r\nConnection: close\r\n\r\n");
      break;
  }
  if (!head_only) {
    out_->append(body);
  }
}

void ResponseWriter::FinishNoContent(ConnectionHeader connection) {
  switch (connection) {
    case ConnectionHeader::kNone:
      out_->append("\r\n");
      break;
    case ConnectionHeader::kKeepAlive:
      out_->append("Connection: keep-alive\r\n\r\n");
      break;
    case ConnectionHeader::kClose:
      out_->append("Connection: close\r\n\r\n");
      break;
  }
}

}  // namespace ringward::server
