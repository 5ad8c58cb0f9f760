// The config subcommand: `ringward config check [--print] [overrides] FILE`.
//
// Exit codes: 0 the file is valid ("FILE: ok" on stdout, or with --print the effective
// configuration on stdout and "FILE: ok" on stderr, so that stdout is a TOML file); 1 it is not
// (every problem on stderr, one "file:line: key: message" line each) or it cannot be read;
// 2 a usage error. The same overrides as `serve` (flags and RINGWARD_* variables) apply, so
// --print shows what `serve` would run with.
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ringward/base/strings.h"
#include "ringward/config/config.h"
#include "server/cli.h"
#include "server/cli_overrides.h"

namespace ringward::cli {

namespace {

constexpr char kConfigUsage[] =
    "usage: ringward config check [--print] [--listen ADDR]... [--plain-listen ADDR]...\n"
    "                             [--shards N] [--data-dir DIR] FILE\n";

int ConfigUsage(std::string_view message) {
  std::fprintf(stderr, "ringward: config: %.*s\n%s", static_cast<int>(message.size()),
               message.data(), kConfigUsage);
  return 2;
}

int RunCheck(const Args& args) {
  ArgParser p(args);
  OverrideOptions overrides;
  bool print = false;
  std::string path;
  while (p.Next()) {
    if (p.Is("--print")) {
      print = true;
      continue;
    }
    switch (overrides.Consume(p)) {
      case OverrideOptions::Consumed::kYes:
        continue;
      case OverrideOptions::Consumed::kBad:
        return 2;
      case OverrideOptions::Consumed::kNo:
        break;
    }
    if (p.IsOption()) {
      return ConfigUsage("check: unknown option \"" + std::string(p.current()) + "\"");
    }
    if (!path.empty()) {
      return ConfigUsage("check takes one FILE");
    }
    path = std::string(p.current());
  }
  if (path.empty()) {
    return ConfigUsage("check needs a FILE");
  }
  if (absl::Status env = overrides.ReadEnvironment(); !env.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ToStd(env.message())).c_str());
    return 1;
  }
  absl::StatusOr<config::Config> config = config::LoadConfig(path);
  if (!config.ok()) {
    // One problem per line already, each "file:line: key: message".
    std::fprintf(stderr, "%s\n", std::string(ToStd(config.status().message())).c_str());
    return 1;
  }
  overrides.Overrides().ApplyTo(&*config);
  if (print) {
    std::fputs(config::RenderEffectiveConfig(*config).c_str(), stdout);
    std::fprintf(stderr, "%s: ok\n", path.c_str());
  } else {
    std::printf("%s: ok\n", path.c_str());
  }
  return 0;
}

}  // namespace

int RunConfig(const Args& args) {
  if (args.empty()) {
    return ConfigUsage("missing subcommand");
  }
  if (args[0] == "check") {
    return RunCheck(Args(args.begin() + 1, args.end()));
  }
  if (args[0] == "--help" || args[0] == "help") {
    std::fputs(kConfigUsage, stdout);
    return 0;
  }
  return ConfigUsage("unknown subcommand \"" + std::string(args[0]) + "\"");
}

}  // namespace ringward::cli
