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
    "  serve --config FILE | --dev  [--listen ADDR]... [--plain-listen ADDR]... [--shards N]\n"
    "        [--data-dir DIR] [--admin-listen ADDR]...\n"
    "      run the verification server (one io_uring shard per CPU) until SIGTERM or SIGINT;\n"
    "      SIGHUP reloads keys, certificate and config. --dev creates DIR (default ./var) with a\n"
    "      key, a self-signed certificate and a config, and prints a curl command to try.\n"
    "      RINGWARD_LISTEN, RINGWARD_PLAIN_LISTEN (comma-separated), RINGWARD_SHARDS and\n"
    "      RINGWARD_DATA_DIR, RINGWARD_ADMIN_LISTEN override the config too (flags win).\n"
    "      Exit 78: bad configuration. --dev also makes DIR/admin-token and an admin listener\n"
    "      on 127.0.0.1:8444 (revocations, kept in DIR/wal).\n"
    "      Under systemd: Type=notify, watchdog, socket activation (see ringward(8)).\n"
    "  config check [--print] [--listen ADDR]... [--plain-listen ADDR]... [--shards N]\n"
    "               [--data-dir DIR] FILE\n"
    "      exit 0 and print \"FILE: ok\" when FILE is valid; exit 1 and print every problem\n"
    "      (file:line: key: message) when not. --print shows the effective configuration,\n"
    "      overrides applied, secrets redacted\n"
    "  keygen --alg EdDSA|ES256|RS256|PS256|HS256 [--kid ID]\n"
    "      print a new private JWKS (JSON) on stdout\n"
    "  token mint --keys FILE --claims JSON [--kid ID] [--ttl SECONDS] [--typ TYP]\n"
    "      sign the claims with a private key from FILE and print the token\n"
    "  token verify --keys FILE --issuer ISS [--audience AUD] [--leeway S] [--now UNIX]\n"
    "               [--access-token] [--max-size BYTES] TOKEN|-\n"
    "      exit 0 and print the claims when valid; exit 1 and print the reason when not\n"
    "  token inspect TOKEN|-\n"
    "      decode header and claims WITHOUT verifying them\n"
    "  revoke [ADMIN] (--jti J --exp N | --sub S [--before T] | --client C [--before T] |\n"
    "         --kid K)\n"
    "      revoke through the admin listener; prints the answer once the revocation is\n"
    "      durable and enforced (--before: now by default)\n"
    "  client create [ADMIN] [--id ID] [--name N] [--grant G]... [--scope \"A B\"]\n"
    "                [--audience A]... [--auth-method client_secret_basic|client_secret_post|\n"
    "                private_key_jwt] [--jwks FILE] [--ttl SECONDS]\n"
    "      register an OAuth client ([issuance]); --grant: client_credentials (default),\n"
    "      password, refresh_token, token-exchange. Prints it with its client_secret, which is\n"
    "      shown only once (--jwks FILE: the public keys of a private_key_jwt client)\n"
    "  client list | client show ID | client delete ID | client rotate-secret ID  [ADMIN]\n"
    "  user create NAME [--scope \"A B\"] [--password-file FILE]  [ADMIN]\n"
    "  user set-password NAME [--password-file FILE]  [ADMIN]\n"
    "      the password is one line of FILE, or of stdin (asked twice on a terminal)\n"
    "  user list | user delete NAME | user totp NAME | user unlock NAME  [ADMIN]\n"
    "      totp: give NAME a new TOTP secret and print its otpauth:// URI; unlock: end a\n"
    "      lock-out after failed logins\n"
    "  keys list | keys rotate  [ADMIN]\n"
    "      the issuance signing keys (next, active, retired); rotate: the next key (published\n"
    "      for publish_lead_s) signs from now, and a new next key is published\n"
    "  promote  [ADMIN]\n"
    "      a replication follower stops following and takes writes (copy the leader's\n"
    "      <data_dir>/keys first); waits until it reports role \"leader\"\n"
    "    ADMIN is [--admin URL] [--token-file FILE]: the admin listener (http://HOST:PORT or\n"
    "    unix:/path; default $RINGWARD_ADMIN, else http://127.0.0.1:8444) and its bearer token\n"
    "    (default $RINGWARD_ADMIN_TOKEN_FILE, else ./var/admin-token, as made by serve --dev).\n"
    "    Exit 0: done (the answer's JSON on stdout); 1: refused or unreachable; 2: usage\n"
    "  wal dump DIR | wal repair DIR\n"
    "      print every record of the revocation log in DIR (or DIR/wal); repair cuts a damaged\n"
    "      log at its first bad record (server stopped), keeping the rest in .bak files\n"
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
  if (command == "config") {
    return ringward::cli::RunConfig(args);
  }
  if (command == "revoke") {
    return ringward::cli::RunRevoke(args);
  }
  if (command == "wal") {
    return ringward::cli::RunWal(args);
  }
  if (command == "client") {
    return ringward::cli::RunClient(args);
  }
  if (command == "user") {
    return ringward::cli::RunUser(args);
  }
  if (command == "keys") {
    return ringward::cli::RunKeys(args);
  }
  if (command == "promote") {
    return ringward::cli::RunPromote(args);
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "ringward: unknown command \"%s\"\n\n%s", argv[1], kUsage);
  return 2;
}
