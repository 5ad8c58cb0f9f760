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
#include "server/cli_overrides.h"
#include "server/log.h"
#include "server/server.h"
#include "server/systemd_notify.h"

namespace ringward::cli {

namespace {

int ServeUsage(std::string_view message) {
  std::fprintf(stderr, "ringward: serve: %.*s (see ringward help)\n",
               static_cast<int>(message.size()), message.data());
  return 2;
}

// MintDevToken signs a one-hour access token with the dev key, for the curl example, and
// returns its jti and exp for the revoke example.
absl::StatusOr<std::string> MintDevToken(const config::Config& config, std::string* jti,
                                         int64_t* exp) {
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
  *jti = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  *exp = now + 3600;
  absl::StrAppend(&claims, ",\"iat\":", now, ",\"exp\":", *exp, ",\"jti\":\"", *jti, "\"}");
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
  std::string jti;
  int64_t exp = 0;
  absl::StatusOr<std::string> token = MintDevToken(config, &jti, &exp);
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
  std::printf("\nThe token is valid for one hour (sub dev-user).");
  if (!server.admin_listeners().empty() && !config.admin.token_file.empty()) {
    const std::string& admin = server.admin_listeners()[0];
    const std::string token_file = Relative(config.admin.token_file);
    std::printf(" Revoke it (durable in %s/wal) and try again:\n\n",
                Relative(config.data_dir).c_str());
    if (admin.substr(0, 5) == "unix:") {
      std::printf("  curl --unix-socket %s", admin.substr(5).c_str());
    } else {
      std::printf("  curl");
    }
    std::printf(" -H \"Authorization: Bearer $(cat %s)\" -H \"Content-Type: application/json\" "
                "-d '{\"jti\":\"%s\",\"exp\":%lld}' http://%s/admin/revocations\n",
                token_file.c_str(), jti.c_str(), static_cast<long long>(exp),
                admin.substr(0, 5) == "unix:" ? "localhost" : admin.c_str());
    std::printf("  ringward revoke --admin %s%s --token-file %s --jti %s --exp %lld\n",
                admin.substr(0, 5) == "unix:" ? "" : "http://", admin.c_str(), token_file.c_str(),
                jti.c_str(), static_cast<long long>(exp));
    if (config.issuance.enabled && admin.substr(0, 5) != "unix:") {
      // The OAuth way: register an application, then ask the token endpoint.
      std::string tls_address;
      for (const server::BoundListener& l : server.listeners()) {
        if (l.tls && tls_address.empty()) {
          tls_address = l.address;
        }
      }
      if (!tls_address.empty()) {
        std::printf("\nOr get tokens the OAuth 2.0 way: register an application (its secret is shown "
                    "once), then ask the token endpoint:\n\n");
        std::printf("  ringward client create --admin http://%s --token-file %s --id my-app "
                    "--scope \"read write\"\n",
                    admin.c_str(), token_file.c_str());
        std::printf("  curl --cacert %s -u my-app:SECRET -d grant_type=client_credentials "
                    "https://%s/oauth2/token\n",
                    Relative(config.tls.certificate).c_str(), tls_address.c_str());
      }
    }
  }
  std::printf("\nStop with Ctrl-C.\n");
  std::fflush(stdout);
}

// StartFailureExitCode is 78 (EX_CONFIG) when the configuration is what is wrong, so that
// systemd does not restart a service that would fail the same way (RestartPreventExitStatus=78
// in ringward.service), and 1 for everything a restart may cure (an address still in use).
int StartFailureExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:  // a bad value, key file, certificate, socket
    case absl::StatusCode::kNotFound:         // a file the config names
      return kExitConfig;
    default:
      return 1;
  }
}

// LogStartFailure logs one line per problem (config errors come one per line) and tells
// systemd why, for `systemctl status`.
void LogStartFailure(std::string_view event, const absl::Status& status) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    server::LogEvent(server::LogPriority::kError, event, {{"error", ToStd(line)}});
  }
  const absl::string_view message = status.message();
  server::SystemdNotifier().Status(
      absl::StrCat("failed to start: ", message.substr(0, message.find('\n'))));
}

}  // namespace

int RunServe(const Args& args) {
  ArgParser p(args);
  std::string config_path;
  bool dev = false;
  OverrideOptions overrides;
  while (p.Next()) {
    if (p.Is("--config")) {
      if (!p.Value(&config_path)) {
        return 2;
      }
      continue;
    }
    if (p.Is("--dev")) {
      dev = true;
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
    return ServeUsage(absl::StrCat("unexpected argument \"", std::string(p.current()), "\""));
  }
  if (dev == !config_path.empty()) {
    return ServeUsage("give either --config FILE or --dev [--data-dir DIR]");
  }
  // Flags win over the environment (see cli_overrides.h); a bad variable is a config error.
  if (absl::Status env = overrides.ReadEnvironment(); !env.ok()) {
    LogStartFailure("config_error", env);
    return kExitConfig;
  }
  absl::StatusOr<config::Config> config;
  if (dev) {
    const std::string& dir = overrides.data_dir_as_given();
    config = config::PrepareDevEnvironment(dir.empty() ? std::string("./var") : dir);
    if (!config.ok()) {
      LogStartFailure("start_failed", config.status());
      return 1;
    }
  } else {
    config = config::LoadConfig(config_path);
    if (!config.ok()) {
      LogStartFailure("config_error", config.status());
      return kExitConfig;
    }
  }
  server::ConfigOverrides effective = overrides.Overrides();
  if (dev) {
    effective.data_dir.clear();  // the dev directory is the data directory
  }
  absl::StatusOr<std::unique_ptr<server::Server>> server =
      server::Server::Start(*config, std::move(effective));
  if (!server.ok()) {
    LogStartFailure(StartFailureExitCode(server.status()) == kExitConfig ? "config_error"
                                                                          : "start_failed",
                    server.status());
    return StartFailureExitCode(server.status());
  }
  if (dev) {
    PrintDevInstructions((*server)->config(), **server);
  }
  return (*server)->Run();
}

}  // namespace ringward::cli
