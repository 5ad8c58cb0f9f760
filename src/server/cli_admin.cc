// The admin subcommands: `ringward revoke` (a client of the admin listener) and
// `ringward wal dump|repair` (the log tools, on a directory).
//
// The client is a minimal blocking HTTP/1.1 client: one request with Connection: close over a
// TCP or unix socket, the answer read until the server closes. It is for an operator's shell,
// not for load (bench/load/ringward-load does that).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/fd.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "ringward/revocation/revocation_log.h"
#include "ringward/revocation/wal_tools.h"
#include "server/cli.h"

namespace ringward::cli {
namespace {

constexpr int kTimeoutSeconds = 10;

int Usage(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "ringward: %.*s: %.*s (see ringward help)\n",
               static_cast<int>(command.size()), command.data(), static_cast<int>(message.size()),
               message.data());
  return 2;
}

int Fail(std::string_view message) {
  std::fprintf(stderr, "ringward: %.*s\n", static_cast<int>(message.size()), message.data());
  return 1;
}

// AdminEndpoint is where --admin points: "http://127.0.0.1:8444", "http://[::1]:8444",
// "http://localhost:8444" or "unix:/run/ringward/admin.sock".
struct AdminEndpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;
  std::string prefix;  // path prefix before /admin/... (usually empty)
};

bool ParseAdminUrl(std::string_view url, AdminEndpoint* out, std::string* error) {
  if (url.substr(0, 5) == "unix:") {
    const std::string path(url.substr(5));
    sockaddr_un un{};
    if (path.empty() || path.size() >= sizeof(un.sun_path)) {
      *error = "a unix socket path must follow \"unix:\" (at most 107 bytes)";
      return false;
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    std::memcpy(&out->addr, &un, sizeof(un));
    out->addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    out->host_header = "localhost";
    return true;
  }
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) {
    *error = "--admin takes http://HOST:PORT or unix:/path (the admin listener is plain HTTP)";
    return false;
  }
  std::string_view rest = url.substr(kHttp.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out->prefix = std::string(rest.substr(slash));
    while (!out->prefix.empty() && out->prefix.back() == '/') {
      out->prefix.pop_back();
    }
  }
  out->host_header = std::string(authority);
  std::string host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() ||
        authority[close + 1] != ':') {
      *error = "expected http://[IPv6]:PORT";
      return false;
    }
    host = std::string(authority.substr(1, close - 1));
    port_text = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      *error = "the admin URL needs a port, e.g. http://127.0.0.1:8444";
      return false;
    }
    host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
  }
  int port = 0;
  if (!absl::SimpleAtoi(ToAbsl(port_text), &port) || port <= 0 || port > 65535) {
    *error = absl::StrCat("bad port \"", ToAbsl(port_text), "\"");
    return false;
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  sockaddr_in in4{};
  sockaddr_in6 in6{};
  if (::inet_pton(AF_INET, host.c_str(), &in4.sin_addr) == 1) {
    in4.sin_family = AF_INET;
    in4.sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&out->addr, &in4, sizeof(in4));
    out->addr_len = sizeof(in4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&out->addr, &in6, sizeof(in6));
    out->addr_len = sizeof(in6);
  } else {
    *error = absl::StrCat("\"", host,
                          "\" is not a numeric address (the admin listener is on loopback: "
                          "use 127.0.0.1 or [::1])");
    return false;
  }
  return true;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Exchange sends one request and reads the answer until the server closes.
bool Exchange(const AdminEndpoint& endpoint, const std::string& request, HttpAnswer* answer,
              std::string* error) {
  Fd fd(::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = absl::StrCat("socket: ", std::strerror(errno));
    return false;
  }
  timeval tv{kTimeoutSeconds, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.addr_len) !=
      0) {
    *error = absl::StrCat("cannot connect to the admin listener: ", std::strerror(errno));
    return false;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      *error = absl::StrCat("send: ", std::strerror(errno));
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      *error = absl::StrCat("no answer from the admin listener: ", std::strerror(errno));
      return false;
    }
    if (n == 0) {
      break;
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  const size_t end = data.find("\r\n\r\n");
  if (data.size() < 12 || data.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(data.data() + 9, 3), &answer->status)) {
    *error = "the admin listener sent something that is not an HTTP/1.1 response";
    return false;
  }
  answer->body = data.substr(end + 4);
  return true;
}

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
  std::string admin, token_file, jti, exp, sub, client, before, kid;
  while (p.Next()) {
    std::string* target = nullptr;
    if (p.Is("--admin")) {
      target = &admin;
    } else if (p.Is("--token-file")) {
      target = &token_file;
    } else if (p.Is("--jti")) {
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
  if (admin.empty() || token_file.empty()) {
    return Usage(kCommand, "--admin URL and --token-file FILE are required");
  }
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
  if (!ReadFile(token_file, &token)) {
    return 1;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  // One line of bearer-token characters (RFC 6750 b64token), or it would corrupt the request.
  for (const char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("-._~+/=").find(c) != std::string_view::npos;
    if (!ok || token.empty()) {
      return Fail(absl::StrCat(token_file,
                               " does not hold an admin token (one line of A-Z a-z "
                               "0-9 - . _ ~ + / =)"));
    }
  }
  if (token.empty()) {
    return Fail(absl::StrCat(token_file, " is empty; it should hold the admin token"));
  }
  AdminEndpoint endpoint;
  std::string error;
  if (!ParseAdminUrl(admin, &endpoint, &error)) {
    return Usage(kCommand, absl::StrCat("--admin: ", error));
  }
  const std::string request = absl::StrCat(
      "POST ", endpoint.prefix, "/admin/revocations HTTP/1.1\r\nHost: ", endpoint.host_header,
      "\r\nAuthorization: Bearer ", token,
      "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
  HttpAnswer answer;
  if (!Exchange(endpoint, request, &answer, &error)) {
    return Fail(error);
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
    options.type_name = revocation::RevocationRecordTypeName;
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
