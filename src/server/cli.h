// server/cli.h: the ringward command line, one function per subcommand family.
//
// Each Run* function takes the arguments after its subcommand and returns the process exit
// code (0 success, 1 the operation failed, e.g. an invalid token, 2 a usage error, and for
// `serve` kExitConfig when the configuration keeps it from starting).
#ifndef RINGWARD_SERVER_CLI_H_
#define RINGWARD_SERVER_CLI_H_

#include <string>
#include <string_view>
#include <vector>

namespace ringward::cli {

using Args = std::vector<std::string_view>;

// kExitConfig is EX_CONFIG from sysexits.h: `serve` cannot start because of its configuration.
// ringward.service has RestartPreventExitStatus=78: restarting would fail the same way.
inline constexpr int kExitConfig = 78;

int RunKeygen(const Args& args);
int RunToken(const Args& args);
int RunServe(const Args& args);
int RunConfig(const Args& args);  // cli_config.cc: `config check`
int RunRevoke(const Args& args);  // cli_admin.cc
int RunWal(const Args& args);     // cli_admin.cc
// cli_issuance.cc: the issuance admin API. `client create|list|show|delete|rotate-secret`,
// `user create|set-password|delete|list|totp|unlock`, `keys list|rotate`.
int RunClient(const Args& args);
int RunUser(const Args& args);
int RunKeys(const Args& args);
// RunPromote: `ringward promote` (a follower becomes the leader; see README "Replication").
int RunPromote(const Args& args);

// ArgParser walks "--name value" / "--flag" pairs and positional arguments.
class ArgParser {
 public:
  explicit ArgParser(const Args& args) : args_(args) {}

  // Next advances to the next argument; false at the end.
  bool Next();
  // Is reports whether the current argument is the option |name| (e.g. "--kid"), accepting
  // "--kid=value" too.
  bool Is(std::string_view name);
  // Value consumes the option's value into |*out|; false (with a message on stderr) if missing.
  bool Value(std::string* out);
  std::string_view current() const { return current_; }
  bool IsOption() const { return current_.size() > 1 && current_[0] == '-'; }

 private:
  const Args& args_;
  size_t next_ = 0;
  std::string_view current_;
  std::string_view inline_value_;
  bool has_inline_value_ = false;
  std::string_view name_;
};

// ReadFile reads a whole file; false (with a message naming the file) on failure.
bool ReadFile(const std::string& path, std::string* out);

}  // namespace ringward::cli

#endif  // RINGWARD_SERVER_CLI_H_
