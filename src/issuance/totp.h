// issuance/totp.h: one-time passwords for the password grant's second factor: HOTP (RFC 4226),
// TOTP (RFC 6238) with HMAC-SHA1, base32 secrets (RFC 4648 §6) and otpauth:// provisioning URIs
// (the Key Uri Format authenticator apps read from QR codes).
//
// Time is a parameter, never read here, so tests and the service's clock agree. CheckTotp takes
// the last accepted time step and refuses any step at or before it, which makes each code usable
// once; persisting the returned step is the caller's job.
//
// All functions are pure and thread-safe.
#ifndef RINGWARD_ISSUANCE_TOTP_H_
#define RINGWARD_ISSUANCE_TOTP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringward::issuance {

// The product's TOTP profile (issuance spec): SHA-1, 6 digits, 30 s steps, one step either side.
inline constexpr int kTotpDigits = 6;
inline constexpr int kTotpPeriodSeconds = 30;
inline constexpr int64_t kTotpWindowSteps = 1;

// Base32Encode returns the RFC 4648 base32 encoding of |bytes|, upper case, without padding.
std::string Base32Encode(std::string_view bytes);

// Base32Decode decodes unpadded base32 in upper or lower case. It returns InvalidArgument on any
// other character (including '=' and spaces), on a length no encoding has, or when the unused
// trailing bits are not zero (so each value has one spelling per case).
absl::StatusOr<std::string> Base32Decode(std::string_view text);

// Hotp returns the RFC 4226 value for |key| and |counter|: HMAC-SHA1, dynamic truncation, modulo
// 10^|digits|. |digits| is clamped to 1..9.
uint32_t Hotp(std::string_view key, uint64_t counter, int digits = kTotpDigits);

// TotpCode returns the RFC 6238 code at |unix_time| as |digits| zero-padded decimal digits. The
// time step is floor(unix_time / period); |period| below 1 is treated as 1.
std::string TotpCode(std::string_view key, int64_t unix_time, int digits = kTotpDigits,
                     int period = kTotpPeriodSeconds);

// CheckTotp checks a 6-digit |code| against the steps now-1, now and now+1 (now =
// floor(unix_time / 30)), skipping negative steps and any step <= |last_used_step| (a replay,
// even when the code is right). It returns the matching step, the earliest if several match,
// or -1 when none does or |code| is not exactly 6 ASCII digits. All candidate codes are
// computed and compared in constant time, so timing does not reveal which step matched.
int64_t CheckTotp(std::string_view key, std::string_view code, int64_t unix_time,
                  int64_t last_used_step);

// OtpauthUri returns
//   otpauth://totp/<issuer>:<account>?secret=<BASE32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30
// with |issuer| and |account| percent-encoded (RFC 3986: everything but unreserved characters,
// so a ':' inside either cannot be mistaken for the separator and spaces are %20).
std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view key);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_TOTP_H_
