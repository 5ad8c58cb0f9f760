// tests/testing/token_factory.h: builds JWS compact tokens, well-formed or hostile, for tests.
//
// Every builder signs exactly the text it is given, so a hostile token (a forbidden header
// member, a duplicate claim, a non-canonical payload segment, ...) still carries a signature
// that verifies under the key. A test expecting a specific VerifyReason then proves that the rule
// it names refused the token, not the signature check.
//
// Header-only, test code only. Functions are pure apart from Key::Sign (thread-safe); the caller
// owns every returned string.
#ifndef RINGWARD_TESTS_TESTING_TOKEN_FACTORY_H_
#define RINGWARD_TESTS_TESTING_TOKEN_FACTORY_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "ringward/token/algorithm.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "ringward/token/verify_reason.h"

namespace ringward::token {

// PrintTo makes GoogleTest print reasons by name ("bad_signature") rather than as a byte.
inline void PrintTo(VerifyReason reason, std::ostream* os) { *os << VerifyReasonName(reason); }

}  // namespace ringward::token

namespace ringward::test {

// B64 is the canonical base64url spelling of |bytes|.
inline std::string B64(std::string_view bytes) { return Base64UrlEncode(bytes); }

// Quote returns |s| as a JSON string literal.
inline std::string Quote(std::string_view s) { return json::JsonQuote(s); }

// SignSegments signs "header_b64.payload_b64" exactly as given (neither segment is checked or
// re-encoded) and returns the compact token. A signing failure is a test failure.
inline std::string SignSegments(const token::Key& key, std::string_view header_b64,
                                std::string_view payload_b64) {
  std::string token = absl::StrCat(ToAbsl(header_b64), ".", ToAbsl(payload_b64));
  std::string sig;
  if (absl::Status s = key.Sign(token, &sig); !s.ok()) {
    ADD_FAILURE() << "signing with key " << key.kid() << " failed: " << s;
    return "";
  }
  absl::StrAppend(&token, ".", B64(sig));
  return token;
}

// SignJson base64url-encodes the raw header and claims texts (byte for byte, whatever they
// hold) and signs them with |key|.
inline std::string SignJson(const token::Key& key, std::string_view header_json,
                            std::string_view claims_json) {
  return SignSegments(key, B64(header_json), B64(claims_json));
}

// HeaderJson is the header a well-behaved issuer writes: alg (of |key| unless |alg| is given),
// typ when not empty, and kid.
inline std::string HeaderJson(const token::Key& key, std::string_view typ = "at+jwt") {
  std::string h = absl::StrCat("{\"alg\":", Quote(token::AlgorithmName(key.alg())));
  if (!typ.empty()) {
    absl::StrAppend(&h, ",\"typ\":", Quote(typ));
  }
  absl::StrAppend(&h, ",\"kid\":", Quote(key.kid()), "}");
  return h;
}

// JsonObject assembles one JSON object from members whose values are raw JSON text, in order.
// It can say things a JSON library would refuse to: duplicate names, odd escapes, bad values.
class JsonObject {
 public:
  JsonObject() = default;

  // Set replaces the value of the first member named |name|, or appends one.
  JsonObject& Set(std::string_view name, std::string_view raw_value) {
    for (auto& [n, v] : members_) {
      if (n == Quote(name)) {
        v = std::string(raw_value);
        return *this;
      }
    }
    return Add(name, raw_value);
  }
  // SetString is Set with a JSON string value.
  JsonObject& SetString(std::string_view name, std::string_view value) {
    return Set(name, Quote(value));
  }
  JsonObject& SetInt(std::string_view name, int64_t value) {
    return Set(name, std::to_string(value));
  }
  // Add appends a member even if the name is taken.
  JsonObject& Add(std::string_view name, std::string_view raw_value) {
    members_.emplace_back(Quote(name), std::string(raw_value));
    return *this;
  }
  // AddRawName appends a member whose name is given as raw JSON (e.g. "\"s\\u0075b\"").
  JsonObject& AddRawName(std::string_view raw_name, std::string_view raw_value) {
    members_.emplace_back(std::string(raw_name), std::string(raw_value));
    return *this;
  }
  // Remove drops every member named |name|.
  JsonObject& Remove(std::string_view name) {
    std::vector<std::pair<std::string, std::string>> kept;
    for (auto& m : members_) {
      if (m.first != Quote(name)) {
        kept.push_back(std::move(m));
      }
    }
    members_ = std::move(kept);
    return *this;
  }

  std::string Str() const {
    std::string out = "{";
    for (size_t i = 0; i < members_.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", members_[i].first, ":", members_[i].second);
    }
    out.push_back('}');
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> members_;  // raw name, raw value
};

// Segments are the three dot-separated parts of a compact token, still encoded.
struct Segments {
  std::string header;
  std::string payload;
  std::string signature;

  std::string Join() const { return absl::StrCat(header, ".", payload, ".", signature); }
};

// Split cuts a compact token at its first two dots (the signature keeps any further dots).
inline Segments Split(std::string_view token) {
  Segments s;
  const size_t a = token.find('.');
  const size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) {
    ADD_FAILURE() << "not a compact token: " << token;
    return s;
  }
  s.header = std::string(token.substr(0, a));
  s.payload = std::string(token.substr(a + 1, b - a - 1));
  s.signature = std::string(token.substr(b + 1));
  return s;
}

// SignatureBytes decodes the signature segment of |token|.
inline std::string SignatureBytes(std::string_view token) {
  return Base64UrlDecode(Split(token).signature).value_or("");
}

// WithSignature replaces the signature of |token| with the encoding of |sig_bytes|.
inline std::string WithSignature(std::string_view token, std::string_view sig_bytes) {
  Segments s = Split(token);
  s.signature = B64(sig_bytes);
  return s.Join();
}

// WithUnusedBitsSet returns |segment| (whose length must be 2 or 3 mod 4) with the last
// character changed so that bits the decoder must ignore are set: the same bytes in a
// non-canonical spelling that a lenient decoder would accept.
inline std::string WithUnusedBitsSet(std::string_view segment) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out(segment);
  if (out.size() % 4 != 2 && out.size() % 4 != 3) {
    ADD_FAILURE() << "segment of length " << out.size() << " has no unused bits";
    return out;
  }
  const size_t value = kAlphabet.find(out.back());
  out.back() = kAlphabet[value | 1];  // bit 0 is never significant in a final partial group
  return out;
}

// PadToPartialGroup appends JSON whitespace to |json| until its encoding ends in a partial group
// (length % 3 != 0), so that its last base64url character has unused bits.
inline std::string PadToPartialGroup(std::string json) {
  while (json.size() % 3 == 0) {
    json.push_back(' ');
  }
  return json;
}

}  // namespace ringward::test

#endif  // RINGWARD_TESTS_TESTING_TOKEN_FACTORY_H_
