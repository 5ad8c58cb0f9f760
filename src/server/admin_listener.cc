#include "server/admin_listener.h"

#include <netinet/in.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/listener.h"
#include "server/log.h"

namespace ringward::server {
absl::Status OpenAdminListeners(const std::vector<std::string>& addresses, int shard_count,
                                std::vector<std::vector<ListenerSpec>>* per_shard,
                                std::vector<Fd>* shared, std::vector<std::string>* unix_paths,
                                std::vector<std::string>* bound) {
  for (const std::string& configured : addresses) {
    absl::StatusOr<uring::ListenAddress> parsed = uring::ParseListenAddress(configured);
    if (!parsed.ok()) {
      return parsed.status();
    }
    std::string address = configured;
    if (parsed->family == AF_UNIX) {
      uring::ListenOptions options;
      options.reuse_port = false;
      absl::StatusOr<Fd> fd = uring::CreateListenSocket(address, options);
      if (!fd.ok()) {
        return fd.status();
      }
      const std::string& path = parsed->unix_path;
      if (!path.empty() && path[0] != '@') {
        if (::chmod(path.c_str(), 0600) != 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("chmod 0600 ", path, ": ", std::strerror(errno)));
        }
        unix_paths->push_back(path);
      }
      for (auto& specs : *per_shard) {
        ListenerSpec spec;
        spec.fd = fd->get();
        spec.is_unix = true;
        spec.admin = true;
        specs.push_back(std::move(spec));
      }
      shared->push_back(*std::move(fd));
    } else {
      const bool port_zero = parsed->port() == 0;
      if (absl::Status free = uring::CheckNotListening(address, uring::kListenerReleaseWait);
          !free.ok()) {
        return free;
      }
      for (int i = 0; i < shard_count; ++i) {
        absl::StatusOr<Fd> fd = uring::CreateListenSocket(address);
        if (!fd.ok()) {
          return fd.status();
        }
        if (i == 0 && port_zero) {
          // The first bind picks the port; the other shards' sockets join it.
          absl::StatusOr<uint16_t> port = uring::LocalPort(fd->get());
          if (!port.ok()) {
            return port.status();
          }
          address = absl::StrCat(address.substr(0, address.rfind(':') + 1), *port);
        }
        ListenerSpec spec;
        spec.fd = fd->get();
        spec.owned = *std::move(fd);
        spec.admin = true;
        (*per_shard)[static_cast<size_t>(i)].push_back(std::move(spec));
      }
    }
    LogEvent(LogPriority::kInfo, "admin_listening",
             {{"address", address}, {"shards", shard_count}});
    bound->push_back(address);
  }
  return absl::OkStatus();
}

}  // namespace ringward::server
