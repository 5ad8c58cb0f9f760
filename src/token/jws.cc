#include "ringward/token/jws.h"

#include <cstring>

#include "ringward/base/json.h"
#include "token/json_document.h"

namespace ringward::token {
namespace {

// kSegmentChar marks the base64url alphabet; '.' is handled separately.
constexpr bool IsBase64UrlChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

struct CharTable {
  bool ok[256];
  constexpr CharTable() : ok() {
    for (int c = 0; c < 256; ++c) {
      ok[c] = IsBase64UrlChar(static_cast<unsigned char>(c));
    }
  }
};
constexpr CharTable kTokenChars;

// Header members that would make a verifier fetch or trust a key chosen by the token, change
// the signing input, or mean the object is not a plain JWS. None is ever honoured.
bool IsForbiddenHeaderMember(std::string_view name) {
  return name == "crit" || name == "b64" || name == "zip" || name == "jku" || name == "jwk" ||
         name == "x5u" || name == "x5c" || name == "enc";
}


}  // namespace

VerifyReason SplitCompact(std::string_view token, CompactParts* parts) {
  size_t dots[2];
  int ndots = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = p[i];
    if (kTokenChars.ok[c]) {
      continue;
    }
    if (c != '.' || ndots == 2) {
      return VerifyReason::kMalformed;
    }
    dots[ndots++] = i;
  }
  if (ndots != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 || dots[1] + 1 == token.size()) {
    return VerifyReason::kMalformed;
  }
  parts->header_b64 = token.substr(0, dots[0]);
  parts->payload_b64 = token.substr(dots[0] + 1, dots[1] - dots[0] - 1);
  parts->signature_b64 = token.substr(dots[1] + 1);
  parts->signing_input = token.substr(0, dots[1]);
  return VerifyReason::kOk;
}

VerifyReason ParseJoseHeader(simdjson::ondemand::parser& parser, const uint8_t* json, size_t len,
                             JoseHeader* header) {
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (VerifyReason r = OpenObject(parser, json, len, &doc, &object); r != VerifyReason::kOk) {
    return r;
  }
  json::DuplicateTracker seen;
  bool has_alg = false;
  bool alg_ok = false;
  bool forbidden = false;
  *header = JoseHeader{};
  for (auto field : object) {
    std::string_view name;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS) {
      return VerifyReason::kBadJson;
    }
    if (json::JsonError e = seen.Add(name); e != json::JsonError::kOk) {
      return FromJsonError(e);
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return VerifyReason::kBadJson;
    }
    if (name == "alg") {
      std::string_view alg;
      if (value.get_string().get(alg) != simdjson::SUCCESS) {
        // A non-string alg is as unusable as a missing one, but the JSON must still be valid.
        if (json::JsonError e = json::CheckValue(value, 2); e != json::JsonError::kOk) {
          return FromJsonError(e);
        }
        has_alg = true;
        continue;
      }
      has_alg = true;
      const std::optional<Algorithm> parsed = ParseAlgorithm(alg);
      if (parsed.has_value()) {
        header->alg = *parsed;
        alg_ok = true;
      }
    } else if (name == "kid" || name == "typ") {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) {
        // Present but not a string: the header is not one ringward can trust.
        if (json::JsonError e = json::CheckValue(value, 2); e != json::JsonError::kOk) {
          return FromJsonError(e);
        }
        forbidden = true;
        continue;
      }
      if (name == "kid") {
        header->kid = s;
        header->has_kid = true;
      } else {
        header->typ = s;
        header->has_typ = true;
      }
    } else {
      // Validate the value even when it is ignored or forbidden, so that the JSON-level
      // reasons (bad JSON, duplicates) are reported consistently.
      if (json::JsonError e = json::CheckValue(value, 2); e != json::JsonError::kOk) {
        return FromJsonError(e);
      }
      if (IsForbiddenHeaderMember(name)) {
        forbidden = true;
      }
    }
  }
  if (json::CheckEnd(doc) != json::JsonError::kOk) {
    return VerifyReason::kBadJson;
  }
  if (!has_alg || !alg_ok) {
    return VerifyReason::kUnsupportedAlgorithm;
  }
  if (forbidden) {
    return VerifyReason::kUnsupportedHeader;
  }
  return VerifyReason::kOk;
}

}  // namespace ringward::token
