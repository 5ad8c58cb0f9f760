// ringward/base/strings.h: bridges between std::string_view and Debian's abseil.
//
// Debian builds abseil 20220623 with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is
// a distinct class with no implicit conversion from std::string_view. ringward uses
// std::string_view everywhere and converts at abseil's boundary with these two functions.
#ifndef RINGWARD_BASE_STRINGS_H_
#define RINGWARD_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ringward {

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace ringward

#endif  // RINGWARD_BASE_STRINGS_H_
