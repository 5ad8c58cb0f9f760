#include "ringward/net/uring/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/fd.h"

namespace ringward::uring {

namespace {

// Debian's abseil has its own absl::string_view (not std::string_view), so StrCat needs this.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr absl::string_view kForms =
    "expected \"IPv4:port\", \"[IPv6]:port\", \"unix:/path\" or \"unix:@abstract-name\"";

absl::Status BadAddress(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("listen address \"", Av(text), "\": ", Av(why), "; ", kForms));
}

absl::Status SetIntOption(int fd, int level, int name, const char* what) {
  const int one = 1;
  if (setsockopt(fd, level, name, &one, sizeof(one)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("setsockopt(", what, ")"));
  }
  return absl::OkStatus();
}

// RemoveStaleUnixSocket unlinks |path| if it is a socket nobody listens on any more (a process
// that died without cleaning up). A live socket or a non-socket file is left alone and
// reported, so two instances can never steal each other's admin socket.
absl::Status RemoveStaleUnixSocket(const ListenAddress& address) {
  const std::string& path = address.unix_path;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus()
                           : absl::ErrnoToStatus(errno, absl::StrCat("lstat(", path, ")"));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(
        absl::StrCat("unix listener path ", path,
                     " exists and is not a socket; remove it or choose another "
                     "path"));
  }
  Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) {
    return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  }
  if (connect(probe.get(), address.addr(), address.length) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("unix listener path ", path,
                     " is in use by a running process; stop it or choose "
                     "another path"));
  }
  if (errno != ECONNREFUSED) {
    return absl::ErrnoToStatus(errno, absl::StrCat("probing existing socket ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink(stale socket ", path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

uint16_t ListenAddress::port() const {
  if (family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  constexpr std::string_view kUnix = "unix:";
  if (text.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = text.substr(kUnix.size());
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.empty()) {
      return BadAddress(text, "empty unix socket path");
    }
    // sun_path holds 108 bytes; a filesystem path needs its terminating NUL inside it.
    const bool abstract = path[0] == '@';
    if (path.size() > sizeof(sun.sun_path) - (abstract ? 0 : 1)) {
      return BadAddress(
          text, absl::StrCat("unix socket path longer than ", sizeof(sun.sun_path) - 1, " bytes"));
    }
    if (path.find('\0') != std::string_view::npos) {
      return BadAddress(text, "NUL byte in unix socket path");
    }
    std::memcpy(sun.sun_path, path.data(), path.size());
    if (abstract) {
      sun.sun_path[0] = '\0';  // Linux abstract namespace: leading NUL, length-delimited name
    }
    out.family = AF_UNIX;
    out.unix_path = std::string(path);
    out.length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
    std::memcpy(&out.storage, &sun, sizeof(sun));
    return out;
  }

  std::string host;
  std::string_view port_text;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return BadAddress(text, "IPv6 address must be written as [address]:port");
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return BadAddress(text, "missing :port");
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return BadAddress(text, "IPv6 address must be written in brackets");
    }
  }
  uint32_t port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(Av(port_text), &port) || port > 65535) {
    return BadAddress(text, "port must be a number from 0 to 65535");
  }

  if (text[0] == '[') {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr) != 1) {
      return BadAddress(text, absl::StrCat("\"", host, "\" is not a numeric IPv6 address"));
    }
    out.family = AF_INET6;
    out.length = sizeof(sin6);
    std::memcpy(&out.storage, &sin6, sizeof(sin6));
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
      return BadAddress(
          text, absl::StrCat("\"", host, "\" is not a numeric IPv4 address (no DNS names)"));
    }
    out.family = AF_INET;
    out.length = sizeof(sin);
    std::memcpy(&out.storage, &sin, sizeof(sin));
  }
  return out;
}

absl::StatusOr<Fd> CreateListenSocket(std::string_view address) {
  return CreateListenSocket(address, ListenOptions{});
}

absl::StatusOr<Fd> CreateListenSocket(std::string_view address, const ListenOptions& options) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(address);
  if (!parsed.ok()) {
    return parsed.status();
  }
  const bool is_unix = parsed->family == AF_UNIX;
  const bool abstract = is_unix && parsed->unix_path[0] == '@';
  if (is_unix && !abstract) {
    absl::Status stale = RemoveStaleUnixSocket(*parsed);
    if (!stale.ok()) {
      return stale;
    }
  }

  Fd fd(socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return absl::ErrnoToStatus(errno, absl::StrCat("socket() for listener ", Av(address)));
  }
  if (!is_unix) {
    absl::Status s = SetIntOption(fd.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
    if (s.ok() && options.reuse_port) {
      s = SetIntOption(fd.get(), SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
    }
    if (s.ok()) {
      s = SetIntOption(fd.get(), IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
    }
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("listener ", Av(address), ": ", s.message()));
    }
  }
  if (bind(fd.get(), parsed->addr(), parsed->length) != 0) {
    const int err = errno;
    std::string hint;
    if (err == EADDRINUSE) {
      hint = options.reuse_port
                 ? " (another process holds it without SO_REUSEPORT, or runs as another user)"
                 : " (another process is listening there)";
    } else if (err == EACCES) {
      hint = " (ports below 1024 need CAP_NET_BIND_SERVICE)";
    } else if (err == EADDRNOTAVAIL) {
      hint = " (the address is not configured on any interface)";
    }
    return absl::ErrnoToStatus(err, absl::StrCat("bind(", Av(address), ")", hint));
  }
  if (listen(fd.get(), options.backlog) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listen(", Av(address), ")"));
  }
  return fd;
}

absl::Status CheckNotListening(std::string_view address, std::chrono::milliseconds wait) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(address);
  if (!parsed.ok()) {
    return parsed.status();
  }
  if (parsed->family == AF_UNIX || parsed->port() == 0) {
    return absl::OkStatus();
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    Fd probe(socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) {
      return absl::ErrnoToStatus(errno, absl::StrCat("socket() for listener ", Av(address)));
    }
    // SO_REUSEADDR as the listeners have it: connections of an earlier run in TIME_WAIT are no
    // conflict, a listening socket is.
    if (absl::Status s = SetIntOption(probe.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
        !s.ok()) {
      return s;
    }
    if (bind(probe.get(), parsed->addr(), parsed->length) == 0) {
      return absl::OkStatus();
    }
    const int err = errno;
    if (err != EADDRINUSE) {
      return absl::ErrnoToStatus(err, absl::StrCat("bind(", Av(address), ")"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bind(", Av(address),
          "): address already in use (another process listens there; is another ringward "
          "running? It would share this port's connections through SO_REUSEPORT)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::StatusOr<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return absl::ErrnoToStatus(errno, "getsockname");
  }
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("LocalPort: socket family ", ss.ss_family, " has no port"));
}

absl::Status SetTcpNoDelay(int fd) {
  return SetIntOption(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
}

}  // namespace ringward::uring
