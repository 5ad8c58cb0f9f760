// issuance/form.h: strict application/x-www-form-urlencoded parsing, as the OAuth 2.0 token
// endpoint receives its parameters (RFC 6749 §3.2 and appendix B, WHATWG URL "urlencoded").
//
// Strict where the WHATWG parser is lenient, because every leniency here is a way for two parsers
// (ours and a proxy's, or ours and a client's) to read one body differently: a malformed %-escape
// is an error rather than literal text, a parameter named twice is an error (RFC 6749 §3.1) rather
// than "first wins" or "last wins", and the decoded bytes must be UTF-8.
//
// A Form owns copies of its decoded names and values; it does not refer to the body it was parsed
// from. Forms are plain values: not synchronized, safe to use from one thread at a time and to
// move between threads. The free functions are pure and thread-safe.
#ifndef RINGWARD_ISSUANCE_FORM_H_
#define RINGWARD_ISSUANCE_FORM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringward::issuance {

// FormField is one decoded name=value pair.
struct FormField {
  std::string name;
  std::string value;
};

// Form is the decoded parameter list of one form body, in body order, each name at most once.
class Form {
 public:
  // kDefaultMaxFields bounds the work one request body can cause; the token endpoint's grants
  // use fewer than a dozen parameters.
  static constexpr size_t kDefaultMaxFields = 64;

  // Parse decodes |body|: '&'-separated name=value pairs (split at the first '='), '+' is a
  // space and %XX (either case) a byte. Empty pairs ("a=1&&b=2") are skipped and a pair without
  // '=' is a name with an empty value. It returns InvalidArgument when an escape is malformed,
  // a decoded name or value is not valid UTF-8, a name appears twice (the message names it), or
  // there are more than |max_fields| pairs.
  static absl::StatusOr<Form> Parse(std::string_view body,
                                    size_t max_fields = kDefaultMaxFields);

  // Find returns the value of |name|, or nullptr when the form has no such parameter. The
  // pointer is valid until the Form is moved or destroyed.
  const std::string* Find(std::string_view name) const;

  // Get returns the value of |name|, or "" when absent; use Find or Has where "absent" and
  // "present but empty" must differ (RFC 6749 treats both as "not sent" for most parameters).
  std::string_view Get(std::string_view name) const;

  // Has returns whether |name| was sent, even with an empty value.
  bool Has(std::string_view name) const { return Find(name) != nullptr; }

  const std::vector<FormField>& fields() const { return fields_; }

 private:
  std::vector<FormField> fields_;
};

// FormDecode decodes one form component (a name or a value): '+' is a space, %XX a byte. It
// returns InvalidArgument on a malformed escape or when the result is not valid UTF-8. Basic
// authentication credentials use it too (RFC 6749 §2.3.1).
absl::StatusOr<std::string> FormDecode(std::string_view component);

// FormEncode encodes |s| as one form component: ASCII letters, digits and "*-._" stay, space
// becomes '+', every other byte becomes %XX (upper case). FormDecode(FormEncode(s)) == s for
// every valid UTF-8 |s|.
std::string FormEncode(std::string_view s);

// IsValidUtf8 returns whether |s| is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_FORM_H_
