// ringward: one binary, subcommands. See README.md for the full list.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "server/cli.h"

namespace {

constexpr char kUsage[] =
    "usage: ringward <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve --config FILE | --dev [--data-dir DIR]  [--listen ADDR]... [--plain-listen ADDR]...\n"
    "        [--shards N]\n"
    "      run the verification server (one io_uring shard per CPU) until SIGTERM or SIGINT;\n"
    "      SIGHUP reloads keys, certificate and config. --dev creates DIR (default ./var) with a\n"
    "      key, a self-signed certificate and a config, and prints a curl command to try.\n"
    "      RINGWARD_LISTEN (comma-separated) and RINGWARD_SHARDS override the config too.\n"
    "  keygen --alg EdDSA|ES256|RS256|PS256|HS256 [--kid ID]\n"
    "      print a new private JWKS (JSON) on stdout\n"
    "  token mint --keys FILE --claims JSON [--kid ID] [--ttl SECONDS] [--typ TYP]\n"
    "      sign the claims with a private key from FILE and print the token\n"
    "  token verify --keys FILE --issuer ISS [--audience AUD] [--leeway S] [--now UNIX]\n"
    "               [--access-token] [--max-size BYTES] TOKEN|-\n"
    "      exit 0 and print the claims when valid; exit 1 and print the reason when not\n"
    "  token inspect TOKEN|-\n"
    "      decode header and claims WITHOUT verifying them\n"
    "  help\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view command = argv[1];
  ringward::cli::Args args;
  for (int i = 2; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  if (command == "keygen") {
    return ringward::cli::RunKeygen(args);
  }
  if (command == "serve") {
    return ringward::cli::RunServe(args);
  }
  if (command == "token") {
    return ringward::cli::RunToken(args);
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "ringward: unknown command \"%s\"\n\n%s", argv[1], kUsage);
  return 2;
}
