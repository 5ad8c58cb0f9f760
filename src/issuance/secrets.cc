#include "issuance/secrets.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "issuance/form.h"
#include "openssl/base64.h"
#include "openssl/crypto.h"
#include "openssl/mem.h"
#include "openssl/rand.h"
#include "openssl/sha.h"
#include "ringward/base/base64url.h"
#include "ringward/base/strings.h"

namespace ringward::issuance {
namespace {

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(ToAbsl(a), ToAbsl(b));
}

}  // namespace

std::string RandomToken(size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  if (bytes != 0 && RAND_bytes(buf.data(), buf.size()) != 1) {
    // BoringSSL's RAND_bytes aborts rather than fail; this guards a build where it would not.
    std::abort();
  }
  std::string out(Base64UrlEncodedSize(bytes), '\0');
  Base64UrlEncode(buf.data(), buf.size(), out.data());
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

std::string Sha256B64(std::string_view data) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest);
  std::string out(Base64UrlEncodedSize(sizeof(digest)), '\0');
  Base64UrlEncode(digest, sizeof(digest), out.data());
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::Status ParseBasicAuth(std::string_view authorization_header_value, std::string* id,
                            std::string* secret) {
  std::string_view v = authorization_header_value;
  const size_t sp = v.find(' ');
  if (sp == std::string_view::npos || !EqualsIgnoreAsciiCase(v.substr(0, sp), "basic")) {
    return absl::InvalidArgumentError("authorization is not of the Basic scheme");
  }
  v.remove_prefix(sp);
  while (!v.empty() && v.front() == ' ') {
    v.remove_prefix(1);
  }
  size_t max_len = 0;
  if (v.empty() || !EVP_DecodedLength(&max_len, v.size())) {
    return absl::InvalidArgumentError("Basic credentials are not base64");
  }
  std::string decoded(max_len, '\0');
  size_t len = 0;
  // EVP_DecodeBase64 is strict: standard alphabet, padded to a multiple of four, no whitespace.
  if (!EVP_DecodeBase64(reinterpret_cast<uint8_t*>(decoded.data()), &len, decoded.size(),
                        reinterpret_cast<const uint8_t*>(v.data()), v.size())) {
    return absl::InvalidArgumentError("Basic credentials are not base64");
  }
  decoded.resize(len);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("Basic credentials have no ':'");
  }
  absl::StatusOr<std::string> decoded_id = FormDecode(std::string_view(decoded).substr(0, colon));
  absl::StatusOr<std::string> decoded_secret =
      FormDecode(std::string_view(decoded).substr(colon + 1));
  OPENSSL_cleanse(decoded.data(), decoded.size());
  if (!decoded_id.ok() || !decoded_secret.ok()) {
    return absl::InvalidArgumentError("Basic credentials are not form-urlencoded");
  }
  if (decoded_id->empty()) {
    return absl::InvalidArgumentError("Basic credentials have an empty client id");
  }
  *id = *std::move(decoded_id);
  *secret = *std::move(decoded_secret);
  return absl::OkStatus();
}

}  // namespace ringward::issuance
