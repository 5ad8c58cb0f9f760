// The serve subcommand: `ringward serve --config FILE` and `ringward serve --dev`.
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/rand.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "ringward/config/config.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "server/cli.h"
#include "server/log.h"
#include "server/server.h"

namespace ringward::cli {

namespace {

int ServeUsage(std::string_view message) {
  std::fprintf(stderr, "ringward: serve: %.*s (see ringward help)\n",
               static_cast<int>(message.size()), message.data());
  return 2;
}

// MintDevToken signs a one-hour access token with the dev key, for the curl example.
absl::StatusOr<std::string> MintDevToken(const config::Config& config) {
  absl::StatusOr<token::KeySet> keys = token::KeySet::FromFile(config.tokens.keys);
  if (!keys.ok()) {
    return keys.status();
  }
  const token::Key* key = nullptr;
  for (const auto& k : keys->keys()) {
    if (k->has_private()) {
      key = k.get();
      break;
    }
  }
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(config.tokens.keys, " holds no private key to mint a sample token with"));
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  uint8_t random[16];
  RAND_bytes(random, sizeof(random));
  std::string claims = "{\"iss\":";
  json::AppendJsonString(&claims, config.tokens.issuers.empty() ? "" : config.tokens.issuers[0]);
  claims.append(",\"sub\":\"dev-user\",\"client_id\":\"dev-client\",\"scope\":\"read write\"");
  if (!config.tokens.audiences.empty()) {
    claims.append(",\"aud\":");
    json::AppendJsonString(&claims, config.tokens.audiences[0]);
  }
  absl::StrAppend(&claims, ",\"iat\":", now, ",\"exp\":", now + 3600, ",\"jti\":\"",
                  Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(random),
                                                   sizeof(random))),
                  "\"}");
  return token::SignCompact(*key, claims, config.tokens.access_token_profile ? "at+jwt" : "JWT");
}

// Relative returns |path| relative to the working directory when it lies below it.
std::string Relative(const std::string& path) {
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) {
    return path;
  }
  const std::string prefix = absl::StrCat(cwd, "/");
  if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
    return path.substr(prefix.size());
  }
  return path;
}

void PrintDevInstructions(const config::Config& config, const server::Server& server) {
  absl::StatusOr<std::string> token = MintDevToken(config);
  if (!token.ok()) {
    server::LogWarning(absl::StrCat("cannot mint a sample token: ", token.status().message()));
    return;
  }
  std::printf("ringward is serving in development mode (data in %s). Try:\n\n",
              Relative(config.data_dir).c_str());
  for (const server::BoundListener& l : server.listeners()) {
    if (l.address.substr(0, 5) == "unix:") {
      std::printf("  curl --unix-socket %s -H \"Authorization: Bearer %s\" http://localhost/v1/verify\n",
                  l.address.substr(5).c_str(), token->c_str());
    } else if (l.tls) {
      std::printf("  curl --cacert %s -H \"Authorization: Bearer %s\" https://%s/v1/verify\n",
                  Relative(config.tls.certificate).c_str(), token->c_str(), l.address.c_str());
    } else {
      std::printf("  curl -H \"Authorization: Bearer %s\" http://%s/v1/verify\n", token->c_str(),
                  l.address.c_str());
    }
  }
  std::printf("\nThe token is valid for one hour (sub dev-user). Stop with Ctrl-C.\n");
  std::fflush(stdout);
}

bool ParseShards(std::string_view text, int* out) {
  int n = 0;
  if (!absl::SimpleAtoi(ToAbsl(text), &n) || n < 0 || n > 4096) {
    return false;
  }
  *out = n;
  return true;
}

}  // namespace

int RunServe(const Args& args) {
  ArgParser p(args);
  std::string config_path, data_dir = "./var", value;
  bool dev = false;
  server::ConfigOverrides overrides;
  // Environment first, so that flags win.
  if (const char* env = std::getenv("RINGWARD_LISTEN"); env != nullptr && *env != '\0') {
    for (absl::string_view a : absl::StrSplit(env, ',', absl::SkipWhitespace())) {
      overrides.listen.emplace_back(a.data(), a.size());
    }
  }
  if (const char* env = std::getenv("RINGWARD_SHARDS"); env != nullptr && *env != '\0') {
    if (!ParseShards(env, &overrides.shards)) {
      return ServeUsage("RINGWARD_SHARDS must be a number of shards (0: one per CPU)");
    }
  }
  std::vector<std::string> flag_listen;
  while (p.Next()) {
    if (p.Is("--config")) {
      if (!p.Value(&config_path)) {
        return 2;
      }
    } else if (p.Is("--dev")) {
      dev = true;
    } else if (p.Is("--data-dir")) {
      if (!p.Value(&data_dir)) {
        return 2;
      }
    } else if (p.Is("--listen")) {
      if (!p.Value(&value)) {
        return 2;
      }
      flag_listen.push_back(value);
    } else if (p.Is("--plain-listen")) {
      if (!p.Value(&value)) {
        return 2;
      }
      overrides.plain_listen.push_back(value);
    } else if (p.Is("--shards")) {
      if (!p.Value(&value) || !ParseShards(value, &overrides.shards)) {
        return ServeUsage("--shards takes a number of shards (0: one per CPU)");
      }
    } else {
      return ServeUsage(absl::StrCat("unexpected argument \"", std::string(p.current()), "\""));
    }
  }
  if (!flag_listen.empty()) {
    overrides.listen = std::move(flag_listen);
  }
  if (dev == !config_path.empty()) {
    return ServeUsage("give either --config FILE or --dev [--data-dir DIR]");
  }
  absl::StatusOr<config::Config> config =
      dev ? config::PrepareDevEnvironment(data_dir) : config::LoadConfig(config_path);
  if (!config.ok()) {
    server::LogError(ToStd(config.status().message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<server::Server>> server =
      server::Server::Start(*config, std::move(overrides));
  if (!server.ok()) {
    server::LogError(ToStd(server.status().message()));
    return 1;
  }
  if (dev) {
    PrintDevInstructions((*server)->config(), **server);
  }
  return (*server)->Run();
}

}  // namespace ringward::cli
