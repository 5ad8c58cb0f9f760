// ringward/net/uring/listener.h: listening sockets for shards.
//
// Every shard opens its own listener on the same address with SO_REUSEPORT, so the kernel
// spreads incoming connections over the shards and no accept queue is shared. Addresses are
// numeric only (no DNS at start-up):
//   "127.0.0.1:8443", "0.0.0.0:443", "[::1]:0", "[::]:443"   TCP (port 0: the kernel picks)
//   "unix:/run/ringward/admin.sock"                           a unix stream socket
//   "unix:@ringward-admin"                                    a Linux abstract unix socket
// TCP listeners have SO_REUSEADDR, SO_REUSEPORT (optional) and TCP_NODELAY, which Linux copies
// to every accepted socket, so responses are not held back by Nagle's algorithm.
//
// Functions are thread-safe (plain system calls); the returned Fd is owned by the caller.
#ifndef RINGWARD_NET_URING_LISTENER_H_
#define RINGWARD_NET_URING_LISTENER_H_

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/base/fd.h"

namespace ringward::uring {

// ListenAddress is a parsed listener address: a sockaddr ready for bind().
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;  // AF_INET, AF_INET6 or AF_UNIX
  std::string unix_path;   // for AF_UNIX: the filesystem path, or "@name" for abstract

  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // port is the TCP port in host byte order (0: any, or a unix socket).
  uint16_t port() const;
};

// ParseListenAddress parses one of the forms above. Errors name the offending text and the
// expected forms.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

struct ListenOptions {
  bool reuse_port = true;  // SO_REUSEPORT: one listener per shard on the same address
  int backlog = 4096;      // capped by net.core.somaxconn
};

// CreateListenSocket binds and listens on |address| (see the forms above). For a unix socket,
// a stale socket file left by a dead process (connect() refused) is removed first; a path that
// is not a socket, or a socket someone still listens on, is an error.
absl::StatusOr<Fd> CreateListenSocket(std::string_view address, const ListenOptions& options);
absl::StatusOr<Fd> CreateListenSocket(std::string_view address);

// CheckNotListening fails when some socket still listens on TCP |address| after |wait| (checked
// with a bind without SO_REUSEPORT, every 20 ms). A SO_REUSEPORT bind succeeds next to another
// process's SO_REUSEPORT listeners of the same user, and the kernel then hands that process a
// share of the connections: a second server started by mistake on a busy port must fail
// instead. The wait rides out a predecessor that is going away: a killed server's listeners
// live on until the kernel has torn down its io_uring, which holds them. Port 0 and unix
// sockets pass (CreateListenSocket deals with those).
absl::Status CheckNotListening(std::string_view address,
                               std::chrono::milliseconds wait = std::chrono::milliseconds(0));
// The wait `ringward serve` gives a predecessor's listeners before it calls the port busy.
inline constexpr std::chrono::milliseconds kListenerReleaseWait(2000);

// LocalPort returns the TCP port |fd| is bound to (useful after binding port 0).
absl::StatusOr<uint16_t> LocalPort(int fd);

// SetTcpNoDelay sets TCP_NODELAY on |fd|, for sockets that did not inherit it.
absl::Status SetTcpNoDelay(int fd);

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_LISTENER_H_
