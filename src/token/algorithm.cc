#include "ringward/token/algorithm.h"

namespace ringward::token {

std::string_view AlgorithmName(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEdDSA:
      return "EdDSA";
    case Algorithm::kES256:
      return "ES256";
    case Algorithm::kRS256:
      return "RS256";
    case Algorithm::kPS256:
      return "PS256";
    case Algorithm::kHS256:
      return "HS256";
  }
  return "unknown";
}

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  // Exact, case-sensitive matches only: RFC 7515 §4.1.1 makes "alg" case-sensitive, and a
  // lenient match is how "None"/"nOnE" slipped past other libraries.
  if (name == "EdDSA") {
    return Algorithm::kEdDSA;
  }
  if (name == "ES256") {
    return Algorithm::kES256;
  }
  if (name == "RS256") {
    return Algorithm::kRS256;
  }
  if (name == "PS256") {
    return Algorithm::kPS256;
  }
  if (name == "HS256") {
    return Algorithm::kHS256;
  }
  return std::nullopt;
}

}  // namespace ringward::token
