#include "ringward/token/signer.h"

#include "absl/strings/str_cat.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"

namespace ringward::token {


absl::StatusOr<std::string> SignCompact(const Key& key, std::string_view claims_json,
                                        std::string_view typ) {
  if (!key.has_private()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", json::JsonQuote(key.kid()), " has no private part and cannot sign"));
  }
  std::string header = absl::StrCat("{\"alg\":\"", std::string(AlgorithmName(key.alg())), "\"");
  if (!typ.empty()) {
    absl::StrAppend(&header, ",\"typ\":", json::JsonQuote(typ));
  }
  absl::StrAppend(&header, ",\"kid\":", json::JsonQuote(key.kid()), "}");
  std::string token = absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(claims_json));
  std::string signature;
  if (absl::Status s = key.Sign(token, &signature); !s.ok()) {
    return s;
  }
  absl::StrAppend(&token, ".", Base64UrlEncode(signature));
  return token;
}

}  // namespace ringward::token
