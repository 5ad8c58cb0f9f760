// cli_admin_client.cc: the admin listener's client side (see cli_admin_client.h).
#include "server/cli_admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/fd.h"
#include "ringward/base/strings.h"

namespace ringward::cli {
namespace {

constexpr int kTimeoutSeconds = 10;

}  // namespace

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

bool ReadAdminToken(const std::string& path, std::string* token) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr,
                 "ringward: cannot read the admin token file %s: %s (give --token-file FILE or "
                 "set %s)\n",
                 path.c_str(), std::strerror(errno), kAdminTokenFileEnv);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty()) {
    Fail(absl::StrCat(path, " is empty; it should hold the admin token"));
    return false;
  }
  // One line of bearer-token characters (RFC 6750 b64token), or it would corrupt the request.
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("-._~+/=").find(c) != std::string_view::npos;
    if (!ok) {
      Fail(absl::StrCat(path,
                        " does not hold an admin token (one line of A-Z a-z 0-9 - . _ ~ + / =)"));
      return false;
    }
  }
  *token = std::move(text);
  return true;
}

std::string AdminRequest(std::string_view method, const AdminEndpoint& endpoint,
                         std::string_view path, const std::string& token, const std::string* body) {
  std::string request =
      absl::StrCat(std::string(method), " ", endpoint.prefix, std::string(path),
                   " HTTP/1.1\r\nHost: ", endpoint.host_header, "\r\nAuthorization: Bearer ", token,
                   "\r\nConnection: close\r\n");
  if (body != nullptr) {
    absl::StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ", body->size(),
                    "\r\n\r\n", *body);
  } else if (method == "POST" || method == "PUT" || method == "PATCH") {
    request.append("Content-Length: 0\r\n\r\n");
  } else {
    request.append("\r\n");
  }
  return request;
}

std::string PercentEncodeSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

bool AdminOptions::Take(ArgParser& p, bool* ok) {
  std::string* target = nullptr;
  if (p.Is("--admin")) {
    target = &admin;
  } else if (p.Is("--token-file")) {
    target = &token_file;
  } else {
    return false;
  }
  *ok = p.Value(target);
  return true;
}

void AdminOptions::Resolve() {
  if (admin.empty()) {
    const char* env = std::getenv(kAdminUrlEnv);
    admin = env != nullptr && *env != '\0' ? env : kDefaultAdminUrl;
  }
  if (token_file.empty()) {
    const char* env = std::getenv(kAdminTokenFileEnv);
    token_file = env != nullptr && *env != '\0' ? env : kDefaultAdminTokenFile;
  }
}

}  // namespace ringward::cli
