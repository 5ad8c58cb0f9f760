#include "issuance/totp.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "issuance/secrets.h"
#include "openssl/digest.h"
#include "openssl/hmac.h"

namespace ringward::issuance {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a';
  }
  if (c >= '2' && c <= '7') {
    return c - '2' + 26;
  }
  return -1;
}

// FloorDiv rounds toward negative infinity, so times before 1970 fall in the step that
// contains them rather than in step 0.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

// PercentEncode keeps RFC 3986 unreserved characters and %-encodes every other byte.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      const auto b = static_cast<uint8_t>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

int ClampDigits(int digits) {
  if (digits < 1) {
    return 1;
  }
  return digits > 9 ? 9 : digits;
}

// StepCode formats the HOTP value of a TOTP time step as zero-padded decimal.
std::string StepCode(std::string_view key, int64_t step, int digits);

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 0x1f]);
    }
  }
  if (bits > 0) {
    out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  }
  return out;
}

absl::StatusOr<std::string> Base32Decode(std::string_view text) {
  // 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters ends mid-byte.
  const size_t rem = text.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("base32 text of length ", text.size(), " is not a valid encoding"));
  }
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = Base32Value(c);
    if (v < 0) {
      return absl::InvalidArgumentError("base32 text has a character outside A-Z, a-z, 2-7");
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base32 text has non-zero trailing bits");
  }
  return out;
}

uint32_t Hotp(std::string_view key, uint64_t counter, int digits) {
  digits = ClampDigits(digits);
  uint8_t message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), key.data(), key.size(), message, sizeof(message), mac, &mac_len);
  const int offset = mac[mac_len - 1] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                          static_cast<uint32_t>(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) {
    modulus *= 10;
  }
  return binary % modulus;
}

namespace {

std::string StepCode(std::string_view key, int64_t step, int digits) {
  digits = ClampDigits(digits);
  uint32_t value = Hotp(key, static_cast<uint64_t>(step), digits);
  std::string code(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    code[static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return code;
}

}  // namespace

std::string TotpCode(std::string_view key, int64_t unix_time, int digits, int period) {
  if (period < 1) {
    period = 1;
  }
  return StepCode(key, FloorDiv(unix_time, period), digits);
}

int64_t CheckTotp(std::string_view key, std::string_view code, int64_t unix_time,
                  int64_t last_used_step) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) {
    return -1;
  }
  for (const char c : code) {
    if (c < '0' || c > '9') {
      return -1;
    }
  }
  const int64_t now = FloorDiv(unix_time, kTotpPeriodSeconds);
  int64_t matched = -1;
  for (int64_t delta = -kTotpWindowSteps; delta <= kTotpWindowSteps; ++delta) {
    const int64_t step = now + delta;
    if (step < 0) {
      continue;
    }
    // Every in-window candidate is computed and compared, match or not, so the time taken does
    // not depend on which step matched; only the replay rule below picks among them.
    const bool equal =
        ConstantTimeEquals(StepCode(key, step, kTotpDigits), code);
    if (equal && step > last_used_step && matched < 0) {
      matched = step;
    }
  }
  return matched;
}

std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view key) {
  const std::string encoded_issuer = PercentEncode(issuer);
  return absl::StrCat("otpauth://totp/", encoded_issuer, ":", PercentEncode(account),
                      "?secret=", Base32Encode(key), "&issuer=", encoded_issuer,
                      "&algorithm=SHA1&digits=", kTotpDigits, "&period=", kTotpPeriodSeconds);
}

}  // namespace ringward::issuance
