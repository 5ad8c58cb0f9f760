// ringward/base/base64url.h: strict base64url (RFC 4648 §5) without padding, as JWS uses it.
//
// Every byte string has exactly one accepted spelling: no padding, no characters outside the
// URL-safe alphabet, no whitespace, no non-canonical trailing bits, and no length with
// `len % 4 == 1`. This is deliberately stricter than absl::WebSafeBase64Unescape, which accepts
// several spellings of one value and must never be used for tokens.
//
// All functions are pure and thread-safe; none allocates except the std::string conveniences.
#ifndef RINGWARD_BASE_BASE64URL_H_
#define RINGWARD_BASE_BASE64URL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringward {

// Base64UrlDecodedSize returns how many bytes |encoded_len| characters decode to, or
// std::nullopt when no canonical encoding has that length (len % 4 == 1).
constexpr std::optional<size_t> Base64UrlDecodedSize(size_t encoded_len) {
  if (encoded_len % 4 == 1) {
    return std::nullopt;
  }
  return encoded_len / 4 * 3 + (encoded_len % 4 == 0 ? 0 : encoded_len % 4 - 1);
}

// Base64UrlEncodedSize returns the unpadded length of the encoding of |n| bytes.
constexpr size_t Base64UrlEncodedSize(size_t n) { return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1); }

// Base64UrlDecode decodes |in| into |out|, which must hold at least
// Base64UrlDecodedSize(in.size()) bytes. On success it sets |*out_len| and returns true; on any
// deviation from the canonical spelling it returns false and |out| holds unspecified bytes.
// It never reads or writes out of bounds and never allocates.
bool Base64UrlDecode(std::string_view in, uint8_t* out, size_t out_capacity, size_t* out_len);

// Base64UrlEncode writes the canonical encoding of |in| to |out|, which must hold
// Base64UrlEncodedSize(len) bytes, and returns the number written.
size_t Base64UrlEncode(const uint8_t* in, size_t len, char* out);

// Conveniences for cold paths (key files, the command line, tests).
std::string Base64UrlEncode(std::string_view in);
std::optional<std::string> Base64UrlDecode(std::string_view in);

}  // namespace ringward

#endif  // RINGWARD_BASE_BASE64URL_H_
