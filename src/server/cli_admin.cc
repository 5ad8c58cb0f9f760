// The admin subcommands: `ringward revoke` (a client of the admin listener, through
// cli_admin_client.h) and `ringward wal dump|repair` (the log tools, on a directory).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "issuance/records.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "ringward/revocation/revocation_log.h"
#include "ringward/revocation/wal_tools.h"
#include "server/cli.h"
#include "server/cli_admin_client.h"

namespace ringward::cli {
namespace {

bool ParseTime(const std::string& text, int64_t* out) {
  if (text == "now") {
    *out = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
    return true;
  }
  return absl::SimpleAtoi(text, out);
}

// WalDir accepts the log directory itself or a data_dir holding it in wal/.
std::string WalDir(const std::string& dir) {
  struct stat st;
  const std::string nested = dir + "/wal";
  const std::string lock = dir + "/LOCK";
  if (::stat(lock.c_str(), &st) != 0 && ::stat(nested.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return nested;
  }
  return dir;
}

}  // namespace

int RunRevoke(const Args& args) {
  constexpr std::string_view kCommand = "revoke";
  ArgParser p(args);
  AdminOptions options;
  std::string jti, exp, sub, client, before, kid;
  while (p.Next()) {
    bool ok = true;
    if (options.Take(p, &ok)) {
      if (!ok) {
        return 2;
      }
      continue;
    }
    std::string* target = nullptr;
    if (p.Is("--jti")) {
      target = &jti;
    } else if (p.Is("--exp")) {
      target = &exp;
    } else if (p.Is("--sub")) {
      target = &sub;
    } else if (p.Is("--client")) {
      target = &client;
    } else if (p.Is("--before")) {
      target = &before;
    } else if (p.Is("--kid")) {
      target = &kid;
    } else {
      return Usage(kCommand,
                   absl::StrCat("unexpected argument \"", std::string(p.current()), "\""));
    }
    if (!p.Value(target)) {
      return 2;
    }
  }
  options.Resolve();
  const int kinds = !jti.empty() + !sub.empty() + !client.empty() + !kid.empty();
  if (kinds != 1) {
    return Usage(kCommand, "give exactly one of --jti, --sub, --client and --kid");
  }
  std::string body = "{";
  if (!jti.empty()) {
    int64_t e = 0;
    if (exp.empty() || !ParseTime(exp, &e)) {
      return Usage(kCommand,
                   "--jti needs --exp N: the token's exp claim (seconds since the epoch)");
    }
    if (!before.empty()) {
      return Usage(kCommand, "--before goes with --sub or --client, not --jti");
    }
    absl::StrAppend(&body, "\"jti\":", json::JsonQuote(jti), ",\"exp\":", e);
  } else if (!kid.empty()) {
    if (!exp.empty() || !before.empty()) {
      return Usage(kCommand, "--kid takes no --exp or --before");
    }
    absl::StrAppend(&body, "\"kid\":", json::JsonQuote(kid));
  } else {
    int64_t b = 0;
    if (!exp.empty()) {
      return Usage(kCommand, "--exp goes with --jti");
    }
    if (!ParseTime(before.empty() ? std::string("now") : before, &b)) {
      return Usage(kCommand, "--before takes seconds since the epoch, or \"now\" (the default)");
    }
    absl::StrAppend(&body, sub.empty() ? "\"client_id\":" : "\"sub\":",
                    json::JsonQuote(sub.empty() ? client : sub), ",\"before\":", b);
  }
  body.append("}");

  std::string token;
  if (!ReadAdminToken(options.token_file, &token)) {
    return 1;
  }
  AdminEndpoint endpoint;
  std::string error;
  if (!ParseAdminUrl(options.admin, &endpoint, &error)) {
    return Usage(kCommand, absl::StrCat("--admin: ", error));
  }
  const std::string request = AdminRequest("POST", endpoint, "/admin/revocations", token, &body);
  HttpAnswer answer;
  if (!Exchange(endpoint, request, &answer, &error)) {
    return Fail(absl::StrCat(error, " (", options.admin, ")"));
  }
  if (answer.status != 200) {
    return Fail(absl::StrCat("revoke failed: HTTP ", answer.status, ": ", answer.body));
  }
  std::fwrite(answer.body.data(), 1, answer.body.size(), stdout);
  return 0;
}

int RunWal(const Args& args) {
  constexpr std::string_view kCommand = "wal";
  if (args.size() != 2 || (args[0] != "dump" && args[0] != "repair")) {
    return Usage(kCommand, "use `ringward wal dump DIR` or `ringward wal repair DIR`");
  }
  const std::string dir = WalDir(std::string(args[1]));
  if (args[0] == "dump") {
    revocation::WalDumpOptions options;
    options.type_name = [](uint16_t type) {
      return issuance::IsIssuanceRecordType(type) ? issuance::IssuanceRecordTypeName(type)
                                                  : revocation::RevocationRecordTypeName(type);
    };
    // Issuance records are JSON: show more of them. Secrets are never in the log (only hashes
    // and public keys), so printing them is safe.
    options.preview_bytes = 160;
    absl::Status s = revocation::DumpWal(dir, stdout, options);
    std::fflush(stdout);
    if (!s.ok()) {
      return Fail(ToStd(s.message()));
    }
    return 0;
  }
  absl::StatusOr<revocation::WalRepairReport> report = revocation::RepairWal(dir);
  if (!report.ok()) {
    return Fail(ToStd(report.status().message()));
  }
  std::printf("%s\n", report->ToString().c_str());
  return 0;
}

}  // namespace ringward::cli
