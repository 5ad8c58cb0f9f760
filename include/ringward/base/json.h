// ringward/base/json.h: strict JSON on top of simdjson On-Demand.
//
// simdjson's On-Demand API is lazy: values that are skipped are not fully validated, and for
// duplicate member names it returns the first. RFC 8725 §3.6/RFC 7515 §5.2 want duplicates
// rejected, so every JSON document ringward accepts from outside (token headers and claims, JWK
// sets, request bodies) is walked completely with the functions here, which validate every value
// and reject duplicate names in every object, at any depth.
//
// Thread-bound: the walkers use the caller's parser and document; they allocate nothing.
#ifndef RINGWARD_BASE_JSON_H_
#define RINGWARD_BASE_JSON_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "simdjson.h"

namespace ringward::json {

// JsonError says why a document was refused.
enum class JsonError : uint8_t {
  kOk = 0,
  kSyntax,           // not JSON, or trailing content after the root value
  kDuplicateMember,  // an object names the same member twice (after unescaping)
  kTooDeep,          // nesting beyond kMaxDepth
  kTooManyMembers,   // an object with more than kMaxMembers members
};

inline constexpr int kMaxDepth = 32;
inline constexpr int kMaxMembers = 128;

// DuplicateTracker remembers the unescaped member names of one object (views into the parser's
// string buffer, valid for the document's lifetime) and reports a repeat.
class DuplicateTracker {
 public:
  // Add returns kOk, kDuplicateMember or kTooManyMembers.
  JsonError Add(std::string_view name) {
    for (int i = 0; i < count_; ++i) {
      if (names_[i].size == name.size() && std::memcmp(names_[i].data, name.data(), name.size()) == 0) {
        return JsonError::kDuplicateMember;
      }
    }
    if (count_ == kMaxMembers) {
      return JsonError::kTooManyMembers;
    }
    names_[count_++] = Name{name.data(), name.size()};
    return JsonError::kOk;
  }

 private:
  // A trivial struct rather than std::string_view, so that the array is left uninitialized:
  // zeroing 128 views would cost more than parsing a typical claims object.
  struct Name {
    const char* data;
    size_t size;
  };
  Name names_[kMaxMembers];
  int count_ = 0;
};

// CheckValue walks |value| to its end, validating every nested value. |depth| is the depth of
// |value| itself (the root is 1).
JsonError CheckValue(simdjson::ondemand::value value, int depth);

// IsJsonNumberToken reports whether |raw| (a raw token, possibly followed by whitespace) is a
// JSON number per RFC 8259 §6, of any magnitude.
bool IsJsonNumberToken(std::string_view raw);

// CheckEnd reports kSyntax when anything but whitespace follows the root value of |doc|.
JsonError CheckEnd(simdjson::ondemand::document& doc);

// JsonErrorName returns a short, stable description for logs and error messages.
std::string_view JsonErrorName(JsonError error);

// AppendJsonString appends |s| to |*out| as a quoted JSON string. |s| must be valid UTF-8
// (simdjson guarantees it for parsed text); quotes, backslashes and control characters are
// escaped.
void AppendJsonString(std::string* out, std::string_view s);

// JsonQuote returns |s| as a quoted JSON string (see AppendJsonString).
std::string JsonQuote(std::string_view s);

// ValidateStrict parses |json| completely with |parser| and returns an InvalidArgument status
// naming the problem when it is not one strict JSON value. For cold paths (files, admin bodies),
// after which a DOM parser may read the same text knowing every name is unique.
absl::Status ValidateStrict(simdjson::ondemand::parser& parser, std::string_view json);

}  // namespace ringward::json

#endif  // RINGWARD_BASE_JSON_H_
