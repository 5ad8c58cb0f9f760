// Form parsing copies each decoded component once; duplicate names are found by sorting views
// of the names, so a caller's large |max_fields| cannot make the check quadratic.
#include "issuance/form.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/percent.h"
#include "ringward/base/strings.h"

namespace ringward::issuance {
namespace {

// Printable quotes a client-supplied name for an error message: escaped, and bounded so a
// hostile body cannot make the log line arbitrarily long.
std::string Printable(std::string_view name) {
  constexpr size_t kMaxShown = 64;
  std::string shown = absl::CHexEscape(ToAbsl(name.substr(0, kMaxShown)));
  if (name.size() > kMaxShown) {
    shown += "...";
  }
  return absl::StrCat("\"", shown, "\"");
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80;  // bounds of the second byte, which rule out overlongs and surrogates
    uint8_t hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b == 0xe0) {
        lo = 0xa0;
      } else if (b == 0xed) {
        hi = 0x9f;
      }
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b == 0xf0) {
        lo = 0x90;
      } else if (b == 0xf4) {
        hi = 0x8f;
      }
    } else {
      return false;
    }
    if (n - i < len) {
      return false;
    }
    if (p[i + 1] < lo || p[i + 1] > hi) {
      return false;
    }
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

absl::StatusOr<std::string> FormDecode(std::string_view component) {
  std::string out;
  out.reserve(component.size());
  for (size_t i = 0; i < component.size(); ++i) {
    const char c = component[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 1 < component.size() ? HexDigitValue(component[i + 1]) : -1;
      const int lo = i + 2 < component.size() ? HexDigitValue(component[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed percent-escape at offset ", i, " of a form component"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  if (!IsValidUtf8(out)) {
    return absl::InvalidArgumentError("form component is not valid UTF-8");
  }
  return out;
}

std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
        c == '-' || c == '.' || c == '_') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

absl::StatusOr<Form> Form::Parse(std::string_view body, size_t max_fields) {
  Form form;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    const std::string_view pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) {
      continue;
    }
    if (form.fields_.size() == max_fields) {
      return absl::InvalidArgumentError(
          absl::StrCat("form has more than ", max_fields, " parameters"));
    }
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    absl::StatusOr<std::string> name = FormDecode(raw_name);
    if (!name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("form parameter name: ", name.status().message()));
    }
    absl::StatusOr<std::string> value = FormDecode(raw_value);
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("form parameter ", Printable(*name), ": ",
                                                     value.status().message()));
    }
    form.fields_.push_back(FormField{*std::move(name), *std::move(value)});
  }

  std::vector<std::string_view> names;
  names.reserve(form.fields_.size());
  for (const FormField& field : form.fields_) {
    names.push_back(field.name);
  }
  std::sort(names.begin(), names.end());
  const auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("form parameter ", Printable(*dup), " is included more than once"));
  }
  return form;
}

const std::string* Form::Find(std::string_view name) const {
  for (const FormField& field : fields_) {
    if (field.name == name) {
      return &field.value;
    }
  }
  return nullptr;
}

std::string_view Form::Get(std::string_view name) const {
  const std::string* value = Find(name);
  return value == nullptr ? std::string_view() : std::string_view(*value);
}

}  // namespace ringward::issuance
