// server/socket_activation.h: ActivatedSockets, the listening sockets systemd passes to a
// socket-activated `ringward serve` (sd_listen_fds(3): $LISTEN_FDS, $LISTEN_PID, $LISTEN_FDNAMES),
// matched to the configured listeners by the address each is bound to (getsockname).
//
// The config stays the one description of every listener: it says whether an address is TLS
// (listen) or plain HTTP (plain_listen); the socket unit only opens it. So every passed socket
// must match a configured address (one that does not is a start error naming it), while a
// configured address with no passed socket is bound by ringward as usual. Several sockets may
// be passed for one address (one ListenStream= per shard, with ReusePort=yes): shard i then
// accepts on socket i % K, and with fewer sockets than shards, several shards share one socket
// (each arms its own multishot accept on it; the kernel hands every connection to one of them).
//
// Thread-compatible: made and used on the Server's control thread during start-up. It owns the
// passed descriptors until TakeFds hands them to the Server.
#ifndef RINGWARD_SERVER_SOCKET_ACTIVATION_H_
#define RINGWARD_SERVER_SOCKET_ACTIVATION_H_

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/base/fd.h"

namespace ringward::server {

class ActivatedSockets {
 public:
  // Take claims the sockets systemd passed to this process (none when $LISTEN_PID is not our
  // pid or $LISTEN_FDS is unset) and removes the variables from the environment. Errors: a
  // passed descriptor that is not a listening stream socket.
  static absl::StatusOr<ActivatedSockets> Take();

  // FromDescriptors wraps already open (descriptor, name) pairs, taking ownership: Take's
  // checks without the environment, for tests.
  static absl::StatusOr<ActivatedSockets> FromDescriptors(
      std::vector<std::pair<int, std::string>> fds);

  ActivatedSockets(ActivatedSockets&&) = default;
  ActivatedSockets& operator=(ActivatedSockets&&) = default;

  size_t size() const { return sockets_.size(); }
  bool empty() const { return sockets_.empty(); }

  // Claim returns the descriptors of the passed sockets bound to |configured| (a [server]
  // listen or plain_listen value), in the order systemd passed them, and marks them used; empty
  // when none was passed for it. |*bound| is set to the address as the socket reports it.
  std::vector<int> Claim(std::string_view configured, std::string* bound);

  // CheckAllClaimed returns an error naming the first passed socket that no configured
  // address claimed (|config_path| is named in the fix).
  absl::Status CheckAllClaimed(std::string_view config_path) const;

  // TakeFds hands over ownership of every passed descriptor (to keep them open for the
  // server's lifetime).
  std::vector<Fd> TakeFds();

 private:
  struct Passed {
    Fd fd;
    std::string name;     // from $LISTEN_FDNAMES, e.g. "ringward"
    std::string address;  // "127.0.0.1:8443", "[::1]:8443", "unix:/run/x.sock", "unix:@name"
    sockaddr_storage storage{};
    socklen_t length = 0;
    bool claimed = false;
  };

  ActivatedSockets() = default;

  std::vector<Passed> sockets_;
};

// SocketAddressText prints a bound address the way the config writes it.
std::string SocketAddressText(const sockaddr_storage& storage, socklen_t length);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_SOCKET_ACTIVATION_H_
