#include "issuance/password.h"

#include <argon2.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "openssl/mem.h"
#include "openssl/rand.h"

namespace ringward::issuance {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
// An encoded hash with our parameter bounds is under 150 characters; anything far longer is not
// one of ours and is refused before libargon2 sizes buffers by it.
constexpr size_t kMaxEncodedBytes = 512;

absl::Status CheckPasswordLength(std::string_view password) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("password must be ", kMinPasswordBytes, "..",
                                                   kMaxPasswordBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status Argon2Error(int code) {
  if (code == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return absl::ResourceExhaustedError("argon2id: memory allocation failed");
  }
  return absl::InternalError(absl::StrCat("argon2id: ", argon2_error_message(code)));
}

// ConsumeDecimal reads a canonical decimal number (no sign, no leading zero) from the front of
// |*s| that fits in uint32_t.
bool ConsumeDecimal(std::string_view* s, uint32_t* out) {
  size_t n = 0;
  uint64_t v = 0;
  while (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9') {
    v = v * 10 + static_cast<uint64_t>((*s)[n] - '0');
    if (v > UINT32_MAX) {
      return false;
    }
    ++n;
  }
  if (n == 0 || (n > 1 && (*s)[0] == '0')) {
    return false;
  }
  s->remove_prefix(n);
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) {
    return false;
  }
  s->remove_prefix(prefix.size());
  return true;
}

// ParseEncodedParams reads the variant, version and cost parameters of a PHC string; libargon2
// parses the salt and hash that follow.
bool ParseEncodedParams(std::string_view s, Argon2Params* params) {
  return ConsumePrefix(&s, "$argon2id$v=19$m=") && ConsumeDecimal(&s, &params->memory_kib) &&
         ConsumePrefix(&s, ",t=") && ConsumeDecimal(&s, &params->iterations) &&
         ConsumePrefix(&s, ",p=") && ConsumeDecimal(&s, &params->parallelism) &&
         ConsumePrefix(&s, "$");
}

}  // namespace

absl::Status ValidateArgon2Params(const Argon2Params& params) {
  if (params.parallelism < 1 || params.parallelism > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("argon2 parallelism ", params.parallelism, " is outside 1..16"));
  }
  if (params.memory_kib < 8 * params.parallelism || params.memory_kib > 4194304) {
    return absl::InvalidArgumentError(absl::StrCat("argon2 memory ", params.memory_kib,
                                                   " KiB is outside ", 8 * params.parallelism,
                                                   "..4194304 (8 KiB per lane up to 4 GiB)"));
  }
  if (params.iterations < 1 || params.iterations > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("argon2 iterations ", params.iterations, " is outside 1..64"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashPassword(std::string_view password, const Argon2Params& params) {
  if (absl::Status s = CheckPasswordLength(password); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateArgon2Params(params); !s.ok()) {
    return s;
  }
  uint8_t salt[kSaltBytes];
  RAND_bytes(salt, sizeof(salt));
  // argon2_encodedlen counts the terminating NUL.
  std::string encoded(argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  const int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt, sizeof(salt),
                                       kHashBytes, encoded.data(), encoded.size());
  OPENSSL_cleanse(salt, sizeof(salt));
  if (rc != ARGON2_OK) {
    return Argon2Error(rc);
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  if (absl::Status s = CheckPasswordLength(password); !s.ok()) {
    return s;
  }
  Argon2Params params;
  if (encoded.size() > kMaxEncodedBytes || encoded.find('\0') != std::string_view::npos ||
      !ParseEncodedParams(encoded, &params)) {
    return absl::InvalidArgumentError("password hash is not an argon2id v=19 encoded string");
  }
  if (absl::Status s = ValidateArgon2Params(params); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("password hash parameters: ", s.message()));
  }
  const std::string terminated(encoded);  // libargon2 wants a C string
  const int rc = argon2id_verify(terminated.c_str(), password.data(), password.size());
  switch (rc) {
    case ARGON2_OK:
      return true;
    case ARGON2_VERIFY_MISMATCH:
      return false;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
    case ARGON2_THREAD_FAIL:
      return Argon2Error(rc);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("password hash is malformed: ", argon2_error_message(rc)));
  }
}

}  // namespace ringward::issuance
