// server/cli_admin_client.h: the client side of the admin listener, shared by the subcommands
// that talk to it (`ringward revoke`, `client`, `user`, `keys`).
//
// A minimal blocking HTTP/1.1 client: one request with Connection: close over a TCP or unix
// socket, the answer read until the server closes. It is for an operator's shell, not for load.
// Nothing here is shared between threads; each call owns its socket. The admin token is read
// from a file and only ever written into the request, never into a message.
#ifndef RINGWARD_SERVER_CLI_ADMIN_CLIENT_H_
#define RINGWARD_SERVER_CLI_ADMIN_CLIENT_H_

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "server/cli.h"

namespace ringward::cli {

// kDefaultAdminUrl and kDefaultAdminTokenFile are what `ringward serve --dev` sets up; the
// environment variables below override them, and --admin / --token-file override both.
inline constexpr char kDefaultAdminUrl[] = "http://127.0.0.1:8444";
inline constexpr char kDefaultAdminTokenFile[] = "./var/admin-token";
inline constexpr char kAdminUrlEnv[] = "RINGWARD_ADMIN";
inline constexpr char kAdminTokenFileEnv[] = "RINGWARD_ADMIN_TOKEN_FILE";

// Usage prints "ringward: <command>: <message> (see ringward help)" and returns 2.
int Usage(std::string_view command, std::string_view message);

// Fail prints "ringward: <message>" and returns 1.
int Fail(std::string_view message);

// AdminEndpoint is where --admin points: "http://127.0.0.1:8444", "http://[::1]:8444",
// "http://localhost:8444" or "unix:/run/ringward/admin.sock".
struct AdminEndpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;
  std::string prefix;  // path prefix before /admin/... (usually empty)
};

// ParseAdminUrl fills |*out| from |url|; false with |*error| saying what is wrong.
bool ParseAdminUrl(std::string_view url, AdminEndpoint* out, std::string* error);

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Exchange sends |request| (a whole HTTP/1.1 request) and reads the answer until the server
// closes; false with |*error| when there is no HTTP answer (cannot connect, timeout, garbage).
bool Exchange(const AdminEndpoint& endpoint, const std::string& request, HttpAnswer* answer,
              std::string* error);

// ReadAdminToken reads the bearer token from |path|: one line of RFC 6750 b64token characters
// (trailing whitespace removed). On failure it prints why (naming the file, never its contents)
// and returns false.
bool ReadAdminToken(const std::string& path, std::string* token);

// AdminRequest builds one request to the admin API: |method| |prefix||path| with the bearer
// |token|, and |body| as application/json when it is not null (Content-Length: 0 for a POST,
// PUT or PATCH without one).
std::string AdminRequest(std::string_view method, const AdminEndpoint& endpoint,
                         std::string_view path, const std::string& token, const std::string* body);

// PercentEncodeSegment encodes |segment| for one path segment (RFC 3986 §3.3): everything but
// the unreserved characters A-Z a-z 0-9 - . _ ~ becomes %XX.
std::string PercentEncodeSegment(std::string_view segment);

// AdminOptions are the options every admin subcommand takes, resolved against the environment
// and the defaults by Resolve.
struct AdminOptions {
  std::string admin;       // --admin URL
  std::string token_file;  // --token-file FILE

  // Take consumes the current argument of |p| when it is --admin or --token-file. Returns true
  // when it was one; |*ok| is false when its value was missing (reported on stderr).
  bool Take(ArgParser& p, bool* ok);
  // Resolve fills what the command line left empty from RINGWARD_ADMIN /
  // RINGWARD_ADMIN_TOKEN_FILE, else the defaults.
  void Resolve();
};

}  // namespace ringward::cli

#endif  // RINGWARD_SERVER_CLI_ADMIN_CLIENT_H_
