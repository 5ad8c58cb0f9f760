// ringward/base/percent.h: percent-decoding (RFC 3986 §2.1), for URL path segments and forms.
//
// Pure functions; thread-safe.
#ifndef RINGWARD_BASE_PERCENT_H_
#define RINGWARD_BASE_PERCENT_H_

#include <string>
#include <string_view>

namespace ringward {

// HexDigitValue returns the value of an ASCII hex digit (either case), or -1.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// PercentDecode decodes %XX escapes in |in| into |*out| ('+' stays '+': that is a form rule, not
// a URL one); false for a malformed escape.
inline bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return false;
    }
    const int hi = HexDigitValue(in[i + 1]);
    const int lo = HexDigitValue(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

}  // namespace ringward

#endif  // RINGWARD_BASE_PERCENT_H_
