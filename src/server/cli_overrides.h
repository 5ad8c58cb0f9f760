// server/cli_overrides.h: OverrideOptions, the few per-host settings that may be given outside
// the config file, shared by `ringward serve` and `ringward config check --print` so that both
// show and use the same effective configuration.
//
//   flag                  environment               replaces
//   --listen ADDR         RINGWARD_LISTEN=A,B       [server] listen (repeatable flag)
//   --plain-listen ADDR   RINGWARD_PLAIN_LISTEN=A,B [server] plain_listen (repeatable flag)
//   --shards N            RINGWARD_SHARDS=N         [server] shards
//   --data-dir DIR        RINGWARD_DATA_DIR=DIR     data_dir
//   --admin-listen ADDR   RINGWARD_ADMIN_LISTEN=A,B [admin] listen (repeatable flag)
//
// Flags win over the environment, the environment over the file. A value given once replaces
// the whole setting (a list is not merged with the file's). Addresses are checked as the config
// file's are; relative directories are made absolute against the working directory.
//
// Thread-compatible; reads the environment only in ReadEnvironment.
#ifndef RINGWARD_SERVER_CLI_OVERRIDES_H_
#define RINGWARD_SERVER_CLI_OVERRIDES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/cli.h"
#include "server/server.h"

namespace ringward::cli {

class OverrideOptions {
 public:
  // ReadEnvironment reads the RINGWARD_* variables above; an error names the variable.
  absl::Status ReadEnvironment();

  enum class Consumed {
    kNo,   // the current argument is not an override flag
    kYes,  // it was, and its value was taken
    kBad,  // it was, with a missing or bad value (a message is on stderr)
  };
  // Consume takes the current argument of |p| (and its value) when it is an override flag.
  Consumed Consume(ArgParser& p);

  // Overrides are the effective overrides: each flag's value, else the variable's.
  server::ConfigOverrides Overrides() const;

  // data_dir is the --data-dir or RINGWARD_DATA_DIR value as given ("" when neither).
  const std::string& data_dir_as_given() const;

 private:
  struct Source {
    std::vector<std::string> listen;
    std::vector<std::string> plain_listen;
    std::vector<std::string> admin_listen;
    int shards = -1;
    std::string data_dir;
    std::string data_dir_as_given;
  };
  Source env_;
  Source flags_;
};

}  // namespace ringward::cli

#endif  // RINGWARD_SERVER_CLI_OVERRIDES_H_
