#include "load/response_parser.h"

#include <cstring>

namespace ringward::load {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
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

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// kMaxBodyDigits keeps lengths far below 2^64 (Content-Length and chunk sizes alike).
constexpr size_t kMaxBodyDigits = 15;
constexpr size_t kMaxLineBytes = 4096;

}  // namespace

ResponseParser::Result ResponseParser::Fail(const char* why) {
  error_ = why;
  return Result::kError;
}

void ResponseParser::Reset() {
  state_ = State::kHead;
  remaining_ = 0;
  current_ = Response{};
  buffer_.clear();
  error_ = "";
}

ResponseParser::Result ResponseParser::Finish(Response* response) {
  *response = current_;
  current_ = Response{};
  state_ = State::kHead;
  remaining_ = 0;
  return Result::kComplete;
}

ResponseParser::Result ResponseParser::ParseHead(std::string_view head, Response* response,
                                                 bool* interim) {
  *interim = false;
  // Status line: HTTP/1.x SP 3DIGIT SP reason CRLF (the reason may be empty).
  if (head.size() < 14 || head.substr(0, 7) != "HTTP/1." || !IsDigit(head[7]) || head[8] != ' ' ||
      !IsDigit(head[9]) || !IsDigit(head[10]) || !IsDigit(head[11]) ||
      (head[12] != ' ' && head[12] != '\r')) {
    return Fail("malformed status line");
  }
  Response r;
  r.status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
  r.keep_alive = head[7] != '0';  // HTTP/1.0 closes unless it says keep-alive
  if (r.status < 100) {
    return Fail("status code below 100");
  }
  size_t pos = head.find("\r\n");
  pos += 2;
  bool chunked = false;
  bool has_length = false;
  bool has_transfer_encoding = false;
  uint64_t length = 0;
  while (pos < head.size()) {
    const size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return Fail("malformed header line");
    }
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) {
      break;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Fail("header line without a name");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      if (value.empty() || value.size() > kMaxBodyDigits) {
        return Fail("invalid Content-Length");
      }
      uint64_t v = 0;
      for (char c : value) {
        if (!IsDigit(c)) {
          return Fail("invalid Content-Length");
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (has_length && v != length) {
        return Fail("conflicting Content-Length");
      }
      has_length = true;
      length = v;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      has_transfer_encoding = true;
      // chunked must be the final coding (RFC 9112 §6.3); anything else runs to the close.
      chunked = value.size() >= 7 && EqualsIgnoreCase(value.substr(value.size() - 7), "chunked");
    } else if (EqualsIgnoreCase(name, "connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view token = TrimOws(rest.substr(0, comma));
        if (EqualsIgnoreCase(token, "close")) {
          r.keep_alive = false;
        } else if (EqualsIgnoreCase(token, "keep-alive")) {
          r.keep_alive = true;
        }
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
  }
  if (r.status < 200) {
    if (r.status == 101) {
      return Fail("101 Switching Protocols is not supported");
    }
    *interim = true;  // 100 Continue, 103 Early Hints: the real response follows
    return Result::kNeedMore;
  }
  current_ = r;
  if (r.status == 204 || r.status == 304) {
    return Finish(response);
  }
  if (has_transfer_encoding) {
    if (chunked) {
      state_ = State::kChunkSize;
      return Result::kNeedMore;
    }
    state_ = State::kUntilClose;
    current_.keep_alive = false;
    return Result::kNeedMore;
  }
  if (has_length) {
    if (length == 0) {
      return Finish(response);
    }
    remaining_ = length;
    state_ = State::kBody;
    return Result::kNeedMore;
  }
  state_ = State::kUntilClose;
  current_.keep_alive = false;
  return Result::kNeedMore;
}

bool ResponseParser::TakeLine(const char** cursor, const char* end, std::string_view* line) {
  const char* p = *cursor;
  const size_t avail = static_cast<size_t>(end - p);
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
  if (nl == nullptr) {
    if (buffer_.size() + avail > kMaxLineBytes) {
      Fail("line too long");
      return false;
    }
    buffer_.append(p, avail);
    *cursor = end;
    return false;
  }
  std::string_view text;
  if (buffer_.empty()) {
    text = std::string_view(p, static_cast<size_t>(nl - p) + 1);
  } else {
    buffer_.append(p, static_cast<size_t>(nl - p) + 1);
    text = buffer_;
  }
  *cursor = nl + 1;
  if (text.size() < 2 || text[text.size() - 2] != '\r') {
    Fail("line ends in a bare LF");
    return false;
  }
  *line = text.substr(0, text.size() - 2);
  return true;
}

ResponseParser::Result ResponseParser::Parse(const char** cursor, const char* end,
                                             Response* response) {
  while (true) {
    switch (state_) {
      case State::kHead: {
        const char* p = *cursor;
        if (p == end) {
          return Result::kNeedMore;
        }
        std::string_view head;
        if (buffer_.empty()) {
          const void* found = memmem(p, static_cast<size_t>(end - p), "\r\n\r\n", 4);
          if (found == nullptr) {
            if (static_cast<size_t>(end - p) > max_head_bytes_) {
              return Fail("response head too large");
            }
            buffer_.assign(p, end);
            *cursor = end;
            return Result::kNeedMore;
          }
          const char* head_end = static_cast<const char*>(found) + 4;
          head = std::string_view(p, static_cast<size_t>(head_end - p));
          *cursor = head_end;
        } else {
          const size_t old = buffer_.size();
          const size_t take = std::min(static_cast<size_t>(end - p), max_head_bytes_ + 1 - old);
          buffer_.append(p, take);
          const size_t found = buffer_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
          if (found == std::string::npos) {
            if (buffer_.size() > max_head_bytes_) {
              return Fail("response head too large");
            }
            *cursor = p + take;
            return Result::kNeedMore;
          }
          const size_t head_len = found + 4;
          head = std::string_view(buffer_.data(), head_len);
          *cursor = p + (head_len - old);
        }
        if (head.size() > max_head_bytes_) {
          return Fail("response head too large");
        }
        bool interim = false;
        const Result r = ParseHead(head, response, &interim);
        buffer_.clear();  // |head| may point into it; ParseHead keeps nothing from it
        if (r != Result::kNeedMore) {
          return r;
        }
        break;  // interim response skipped, or a body follows
      }
      case State::kBody:
      case State::kChunkData: {
        const uint64_t avail = static_cast<uint64_t>(end - *cursor);
        const uint64_t n = avail < remaining_ ? avail : remaining_;
        *cursor += n;
        remaining_ -= n;
        current_.body_bytes += n;
        if (remaining_ != 0) {
          return Result::kNeedMore;
        }
        if (state_ == State::kBody) {
          return Finish(response);
        }
        state_ = State::kChunkDataEnd;
        break;
      }
      case State::kChunkSize: {
        std::string_view line;
        if (!TakeLine(cursor, end, &line)) {
          return *error_ != '\0' ? Result::kError : Result::kNeedMore;
        }
        uint64_t size = 0;
        size_t digits = 0;
        for (char c : line) {
          int v;
          if (IsDigit(c)) {
            v = c - '0';
          } else if (Lower(c) >= 'a' && Lower(c) <= 'f') {
            v = Lower(c) - 'a' + 10;
          } else if (c == ';' || c == ' ' || c == '\t') {
            break;  // chunk extensions are ignored
          } else {
            buffer_.clear();
            return Fail("invalid chunk size");
          }
          size = size * 16 + static_cast<uint64_t>(v);
          if (++digits > kMaxBodyDigits) {
            buffer_.clear();
            return Fail("chunk size too large");
          }
        }
        buffer_.clear();
        if (digits == 0) {
          return Fail("invalid chunk size");
        }
        if (size == 0) {
          state_ = State::kTrailer;
        } else {
          remaining_ = size;
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkDataEnd:
      case State::kTrailer: {
        std::string_view line;
        if (!TakeLine(cursor, end, &line)) {
          return *error_ != '\0' ? Result::kError : Result::kNeedMore;
        }
        const bool empty = line.empty();
        buffer_.clear();
        if (state_ == State::kChunkDataEnd) {
          if (!empty) {
            return Fail("chunk data longer than its size");
          }
          state_ = State::kChunkSize;
        } else if (empty) {
          return Finish(response);
        }
        break;
      }
      case State::kUntilClose: {
        current_.body_bytes += static_cast<uint64_t>(end - *cursor);
        *cursor = end;
        return Result::kNeedMore;
      }
    }
  }
}

ResponseParser::Result ResponseParser::Eof(Response* response) {
  if (state_ == State::kUntilClose) {
    return Finish(response);
  }
  if (state_ == State::kHead && buffer_.empty()) {
    return Result::kNeedMore;
  }
  return Fail("connection closed in the middle of a response");
}

}  // namespace ringward::load
