#include "ringward/token/signer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringward/base/base64url.h"

namespace ringward::token {

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<std::string> SignCompact(const Key& key, std::string_view claims_json,
                                        std::string_view typ) {
  if (!key.has_private()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", JsonQuote(key.kid()), " has no private part and cannot sign"));
  }
  std::string header = absl::StrCat("{\"alg\":\"", std::string(AlgorithmName(key.alg())), "\"");
  if (!typ.empty()) {
    absl::StrAppend(&header, ",\"typ\":", JsonQuote(typ));
  }
  absl::StrAppend(&header, ",\"kid\":", JsonQuote(key.kid()), "}");
  std::string token = absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(claims_json));
  std::string signature;
  if (absl::Status s = key.Sign(token, &signature); !s.ok()) {
    return s;
  }
  absl::StrAppend(&token, ".", Base64UrlEncode(signature));
  return token;
}

}  // namespace ringward::token
