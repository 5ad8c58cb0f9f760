// config/toml.h: the one place that includes toml++, with the settings ringward needs.
//
// Debian's libtomlplusplus3 is built with exceptions and only exports toml::ex::parse, which
// throws; ringward compiles with -fno-exceptions, so toml++ is used header-only with
// TOML_EXCEPTIONS=0 (parse returns a toml::parse_result). That is why src/config/meson.build takes
// only toml++'s include path and none of its pkg-config flags (TOML_HEADER_ONLY=0,
// -ltomlplusplus). Private to src/config: nothing outside it sees a toml++ type.
#ifndef RINGWARD_CONFIG_TOML_H_
#define RINGWARD_CONFIG_TOML_H_

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
// The formatters (TOML/JSON/YAML writers) are not used: RenderEffectiveConfig writes its own
// TOML so that the output keeps ringward's key order and comments.
#define TOML_ENABLE_FORMATTERS 0

#include <toml++/toml.h>

#endif  // RINGWARD_CONFIG_TOML_H_
