// libFuzzer target for the strict form parser (issuance/form.h).
//
// Input layout: byte 0 picks max_fields, the rest is the form body. For every input it checks
// that
//  - a parse (on an exact-size heap copy, so ASan sees any read past the end) that succeeds
//    gives at most max_fields fields, each name once, every name and value valid UTF-8, and
//    Find/Get/Has agree with fields();
//  - re-encoding the parsed fields with FormEncode and parsing that gives the same fields in the
//    same order (encode/parse round trip);
//  - the body taken as one component round-trips through FormEncode/FormDecode when it is UTF-8,
//    and FormDecode never yields invalid UTF-8.
// A violated invariant calls abort() so libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "issuance/form.h"

namespace {

using ringward::issuance::Form;
using ringward::issuance::FormDecode;
using ringward::issuance::FormEncode;
using ringward::issuance::IsValidUtf8;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

size_t PickMaxFields(uint8_t selector) {
  switch (selector % 4) {
    case 0:
      return Form::kDefaultMaxFields;
    case 1:
      return 0;
    case 2:
      return 3;
    default:
      return 1000;
  }
}

void CheckForm(const Form& form, size_t max_fields) {
  const auto& fields = form.fields();
  FUZZ_CHECK(fields.size() <= max_fields);
  for (size_t i = 0; i < fields.size(); ++i) {
    FUZZ_CHECK(IsValidUtf8(fields[i].name));
    FUZZ_CHECK(IsValidUtf8(fields[i].value));
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(fields[i].name != fields[j].name);
    }
    const std::string* found = form.Find(fields[i].name);
    FUZZ_CHECK(found == &fields[i].value);
    FUZZ_CHECK(form.Get(fields[i].name) == fields[i].value);
    FUZZ_CHECK(form.Has(fields[i].name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const size_t max_fields = PickMaxFields(data[0]);
  const size_t n = size - 1;
  std::unique_ptr<char[]> copy(new char[n == 0 ? 1 : n]);
  if (n != 0) {
    std::memcpy(copy.get(), data + 1, n);
  }
  const std::string_view body(copy.get(), n);

  // 1. Parse, and check what a successful parse promises.
  absl::StatusOr<Form> form = Form::Parse(body, max_fields);
  if (form.ok()) {
    CheckForm(*form, max_fields);

    // 2. Encode what parsed and parse it again: the same fields, in order.
    std::string encoded;
    for (const auto& field : form->fields()) {
      if (!encoded.empty()) {
        encoded.push_back('&');
      }
      encoded += FormEncode(field.name);
      encoded.push_back('=');
      encoded += FormEncode(field.value);
    }
    absl::StatusOr<Form> again = Form::Parse(encoded, max_fields);
    FUZZ_CHECK(again.ok());
    CheckForm(*again, max_fields);
    FUZZ_CHECK(again->fields().size() == form->fields().size());
    for (size_t i = 0; i < form->fields().size(); ++i) {
      FUZZ_CHECK(again->fields()[i].name == form->fields()[i].name);
      FUZZ_CHECK(again->fields()[i].value == form->fields()[i].value);
    }
  } else {
    FUZZ_CHECK(form.status().code() == absl::StatusCode::kInvalidArgument);
  }

  // 3. The body as one component.
  absl::StatusOr<std::string> decoded = FormDecode(body);
  if (decoded.ok()) {
    FUZZ_CHECK(IsValidUtf8(*decoded));
    FUZZ_CHECK(decoded->size() <= body.size());
  }
  if (IsValidUtf8(body)) {
    const std::string encoded = FormEncode(body);
    absl::StatusOr<std::string> round = FormDecode(encoded);
    FUZZ_CHECK(round.ok() && *round == body);
  }
  return 0;
}
