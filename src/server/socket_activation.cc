#include "server/socket_activation.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/listener.h"

namespace ringward::server {

namespace {

std::string Describe(int fd, const std::string& name) {
  return absl::StrCat("fd ", fd, " (", name.empty() ? "unnamed" : name, ")");
}

bool SameAddress(const sockaddr_storage& a, socklen_t a_length, const uring::ListenAddress& b) {
  if (a.ss_family != b.family) {
    return false;
  }
  if (a.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b.storage);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage);
    return x->sin6_port == y->sin6_port &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0;
  }
  if (a.ss_family == AF_UNIX) {
    return SocketAddressText(a, a_length) == absl::StrCat("unix:", b.unix_path);
  }
  return false;
}

}  // namespace

std::string SocketAddressText(const sockaddr_storage& storage, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(in6->sin6_port));
  }
  if (storage.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
    const size_t offset = offsetof(sockaddr_un, sun_path);
    if (length <= offset) {
      return "unix:";  // unnamed
    }
    size_t n = static_cast<size_t>(length) - offset;
    if (un->sun_path[0] == '\0') {
      return absl::StrCat("unix:@", absl::string_view(un->sun_path + 1, n - 1));
    }
    n = strnlen(un->sun_path, n);
    return absl::StrCat("unix:", absl::string_view(un->sun_path, n));
  }
  return absl::StrCat("(address family ", storage.ss_family, ")");
}

absl::StatusOr<ActivatedSockets> ActivatedSockets::FromDescriptors(
    std::vector<std::pair<int, std::string>> fds) {
  ActivatedSockets out;
  for (auto& [fd, name] : fds) {
    Passed p;
    p.fd = Fd(fd);
    p.name = std::move(name);
    out.sockets_.push_back(std::move(p));
  }
  for (Passed& p : out.sockets_) {
    const int fd = p.fd.get();
    // sd_is_socket: a stream socket in the listening state, of any family.
    const int r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
    if (r <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "socket activation: ", Describe(fd, p.name), " is not a listening stream socket",
          r < 0 ? absl::StrCat(" (", std::strerror(-r), ")") : std::string(),
          "; ringward.socket may only pass ListenStream= sockets, with Accept=no"));
    }
    p.length = sizeof(p.storage);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&p.storage), &p.length) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("socket activation: getsockname(", Describe(fd, p.name), ")"));
    }
    p.address = SocketAddressText(p.storage, p.length);
  }
  return out;
}

absl::StatusOr<ActivatedSockets> ActivatedSockets::Take() {
  char** names = nullptr;
  // unset_environment = 1: nothing this process starts later could make sense of them.
  const int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket activation: $LISTEN_FDS/$LISTEN_PID are malformed: ", std::strerror(-n)));
  }
  std::vector<std::pair<int, std::string>> fds;
  for (int i = 0; i < n; ++i) {
    fds.emplace_back(SD_LISTEN_FDS_START + i,
                     names != nullptr && names[i] != nullptr ? names[i] : "");
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) {
      std::free(names[i]);
    }
    std::free(names);
  }
  return FromDescriptors(std::move(fds));
}

std::vector<int> ActivatedSockets::Claim(std::string_view configured, std::string* bound) {
  std::vector<int> out;
  absl::StatusOr<uring::ListenAddress> parsed = uring::ParseListenAddress(configured);
  if (!parsed.ok()) {
    return out;  // the caller binds it and reports the parse error
  }
  for (Passed& p : sockets_) {
    if (!p.claimed && SameAddress(p.storage, p.length, *parsed)) {
      p.claimed = true;
      out.push_back(p.fd.get());
      *bound = p.address;
    }
  }
  return out;
}

absl::Status ActivatedSockets::CheckAllClaimed(std::string_view config_path) const {
  for (const Passed& p : sockets_) {
    if (p.claimed) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "socket activation: ", Describe(p.fd.get(), p.name), " is bound to ", p.address,
        ", which is in neither [server] listen nor plain_listen",
        config_path.empty() ? std::string() : absl::StrCat(" of ", ToAbsl(config_path)), "; add \"",
        p.address,
        "\" to one of them (the config says whether it is TLS or plain HTTP), or remove its "
        "ListenStream= from the socket unit"));
  }
  return absl::OkStatus();
}

std::vector<Fd> ActivatedSockets::TakeFds() {
  std::vector<Fd> out;
  for (Passed& p : sockets_) {
    out.push_back(std::move(p.fd));
  }
  return out;
}

}  // namespace ringward::server
