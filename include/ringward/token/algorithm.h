// ringward/token/algorithm.h: the JWS algorithms ringward signs and verifies.
//
// "none" is not an algorithm here and can never be parsed into one (RFC 8725 §3.1).
#ifndef RINGWARD_TOKEN_ALGORITHM_H_
#define RINGWARD_TOKEN_ALGORITHM_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringward::token {

enum class Algorithm : uint8_t {
  kEdDSA,  // Ed25519 (RFC 8037); the default
  kES256,  // ECDSA P-256 SHA-256, signature is raw r||s (64 bytes), never DER
  kRS256,  // RSASSA-PKCS1-v1_5 SHA-256, modulus >= 2048 bits
  kPS256,  // RSASSA-PSS SHA-256, MGF1 SHA-256, salt length 32
  kHS256,  // HMAC SHA-256, secret >= 32 bytes
};

// AlgorithmName returns the JWA name ("EdDSA", "ES256", ...).
std::string_view AlgorithmName(Algorithm alg);

// ParseAlgorithm maps an exact, case-sensitive JWA name to an Algorithm, and everything else
// (including "none", "NONE", "HS512") to std::nullopt.
std::optional<Algorithm> ParseAlgorithm(std::string_view name);

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_ALGORITHM_H_
