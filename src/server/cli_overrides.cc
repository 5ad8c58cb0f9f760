#include "server/cli_overrides.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/listener.h"

namespace ringward::cli {

namespace {

constexpr int kMaxShards = 1024;  // as [server] shards

// AddressProblem returns "" when |address| may be a listener of that kind.
std::string AddressProblem(const std::string& address, bool tls) {
  if (tls && address.rfind("unix:", 0) == 0) {
    return "unix sockets are for plain listeners only (--plain-listen)";
  }
  absl::StatusOr<uring::ListenAddress> parsed = uring::ParseListenAddress(address);
  if (!parsed.ok()) {
    return std::string(ToStd(parsed.status().message()));
  }
  return "";
}

bool ParseShards(std::string_view text, int* out) {
  int n = 0;
  if (!absl::SimpleAtoi(ToAbsl(text), &n) || n < 0 || n > kMaxShards) {
    return false;
  }
  *out = n;
  return true;
}

std::string Absolute(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(dir, ec);
  if (ec) {
    return dir;
  }
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

}  // namespace

absl::Status OverrideOptions::ReadEnvironment() {
  for (const auto& [name, tls, out] :
       {std::tuple{"RINGWARD_LISTEN", true, &env_.listen},
        std::tuple{"RINGWARD_PLAIN_LISTEN", false, &env_.plain_listen},
        std::tuple{"RINGWARD_ADMIN_LISTEN", false, &env_.admin_listen}}) {
    const char* value = Env(name);
    if (value == nullptr) {
      continue;
    }
    for (absl::string_view a : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      std::string address(absl::StripAsciiWhitespace(a));
      const std::string problem = AddressProblem(address, tls);
      if (!problem.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": bad address \"", address, "\": ", problem));
      }
      out->push_back(std::move(address));
    }
  }
  if (const char* value = Env("RINGWARD_SHARDS"); value != nullptr) {
    if (!ParseShards(value, &env_.shards)) {
      return absl::InvalidArgumentError(
          absl::StrCat("RINGWARD_SHARDS: \"", value,
                       "\" is not a number of shards from 0 (one per CPU) to ", kMaxShards));
    }
  }
  if (const char* value = Env("RINGWARD_DATA_DIR"); value != nullptr) {
    env_.data_dir_as_given = value;
    env_.data_dir = Absolute(value);
  }
  return absl::OkStatus();
}

OverrideOptions::Consumed OverrideOptions::Consume(ArgParser& p) {
  const bool listen = p.Is("--listen");
  const bool plain = p.Is("--plain-listen");
  const bool shards = p.Is("--shards");
  const bool data_dir = p.Is("--data-dir");
  const bool admin = p.Is("--admin-listen");
  if (!listen && !plain && !shards && !data_dir && !admin) {
    return Consumed::kNo;
  }
  const std::string name(p.current().substr(0, p.current().find('=')));
  std::string value;
  if (!p.Value(&value)) {
    return Consumed::kBad;
  }
  if (listen || plain || admin) {
    const std::string problem = AddressProblem(value, listen);
    if (!problem.empty()) {
      std::fprintf(stderr, "ringward: %s: bad address \"%s\": %s\n", name.c_str(), value.c_str(),
                   problem.c_str());
      return Consumed::kBad;
    }
    (listen ? flags_.listen : (plain ? flags_.plain_listen : flags_.admin_listen)).push_back(value);
  } else if (shards) {
    if (!ParseShards(value, &flags_.shards)) {
      std::fprintf(stderr,
                   "ringward: --shards takes a number of shards from 0 (one per CPU) to %d\n",
                   kMaxShards);
      return Consumed::kBad;
    }
  } else {
    if (value.empty()) {
      std::fprintf(stderr, "ringward: --data-dir needs a directory\n");
      return Consumed::kBad;
    }
    flags_.data_dir_as_given = value;
    flags_.data_dir = Absolute(value);
  }
  return Consumed::kYes;
}

server::ConfigOverrides OverrideOptions::Overrides() const {
  server::ConfigOverrides out;
  out.listen = !flags_.listen.empty() ? flags_.listen : env_.listen;
  out.plain_listen = !flags_.plain_listen.empty() ? flags_.plain_listen : env_.plain_listen;
  out.shards = flags_.shards >= 0 ? flags_.shards : env_.shards;
  out.admin_listen = !flags_.admin_listen.empty() ? flags_.admin_listen : env_.admin_listen;
  out.data_dir = !flags_.data_dir.empty() ? flags_.data_dir : env_.data_dir;
  return out;
}

const std::string& OverrideOptions::data_dir_as_given() const {
  return !flags_.data_dir.empty() ? flags_.data_dir_as_given : env_.data_dir_as_given;
}

}  // namespace ringward::cli
