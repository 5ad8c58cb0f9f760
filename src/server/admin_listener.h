// server/admin_listener.h: opening the admin API's listening sockets ([admin] listen).
//
// They are opened like the public plain-HTTP listeners (one SO_REUSEPORT socket per shard on a
// TCP address, one shared socket for a unix path), with ListenerSpec::admin set so that the
// shards answer them with AdminHandlers. A unix socket is made mode 0600: the admin token
// protects it as well, but there is no reason for other users to reach it at all.
//
// Thread-compatible: a plain function, called once by Server::Start on the control thread.
#ifndef RINGWARD_SERVER_ADMIN_LISTENER_H_
#define RINGWARD_SERVER_ADMIN_LISTENER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ringward/base/fd.h"
#include "server/shard.h"

namespace ringward::server {

// OpenAdminListeners binds every address in |addresses| and appends one ListenerSpec per shard
// to |*per_shard|. Shared (unix) sockets are appended to |*shared| (the caller keeps them open
// while shards run) and their paths to |*unix_paths| (removed at exit); the bound addresses,
// with the real port for port 0, to |*bound|. It logs "event=admin_listening address=ADDR
// shards=N" (not "listening", which names the public listeners).
absl::Status OpenAdminListeners(const std::vector<std::string>& addresses, int shard_count,
                                std::vector<std::vector<ListenerSpec>>* per_shard,
                                std::vector<Fd>* shared, std::vector<std::string>* unix_paths,
                                std::vector<std::string>* bound);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_ADMIN_LISTENER_H_
