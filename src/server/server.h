// server/server.h: Server, the process-wide part of `ringward serve`: it checks the kernel,
// builds the first ServingState, opens the listeners, starts one pinned Shard thread per core,
// and then runs the control loop on the calling thread — signals (SIGHUP reload, SIGTERM/SIGINT
// graceful shutdown), TLS ticket-key rotation, and watching for a shard that died.
//
// Threads: the thread that calls Start and Run is the control thread. It never serves requests
// and is the only one that does blocking work after start-up (reading files on reload). It
// reaches shards only through the VersionedSnapshot it publishes and MSG_RING doorbells sent
// from its own small ring.
//
// Ownership: the Server owns the shards, their threads, the metrics array, the snapshot and the
// shared (unix) listening sockets; all outlive the shard threads, which Run joins.
#ifndef RINGWARD_SERVER_SERVER_H_
#define RINGWARD_SERVER_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "concurrent/liveness_probe.h"
#include "concurrent/ready_latch.h"
#include "concurrent/versioned_snapshot.h"
#include "replication/follower.h"
#include "replication/leader.h"
#include "ringward/base/fd.h"
#include "ringward/config/config.h"
#include "ringward/net/tls/ticket_keys.h"
#include "ringward/net/uring/ring.h"
#include "server/control_plane.h"
#include "server/metrics.h"
#include "server/serving_state.h"
#include "server/shard.h"
#include "server/systemd_notify.h"
#include "server/watchdog.h"

namespace ringward::server {

// ConfigOverrides are settings from flags or the environment that win over the config file,
// re-applied on every reload.
struct ConfigOverrides {
  std::vector<std::string> listen;        // replaces [server] listen when not empty
  std::vector<std::string> plain_listen;  // replaces [server] plain_listen when not empty
  int shards = -1;                        // replaces [server] shards when >= 0
  std::string data_dir;                   // replaces data_dir when not empty
  std::vector<std::string> admin_listen;  // replaces [admin] listen when not empty

  void ApplyTo(config::Config* config) const;
};

// BoundListener is one configured address after binding: what the logs print.
struct BoundListener {
  std::string address;  // with the real port when the config said port 0
  bool tls = false;
  int passed = 0;  // sockets systemd passed for it (socket activation); 0: bound here
};

class Server {
 public:
  // Start does everything up to "every shard serves" and returns the running server, or an
  // error naming what failed (io_uring unusable, a file, an address in use, ...).
  static absl::StatusOr<std::unique_ptr<Server>> Start(config::Config config,
                                                      ConfigOverrides overrides);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Run blocks in the control loop until SIGTERM or SIGINT (or a shard failure), drains the
  // shards and returns the exit code: 0 after a clean shutdown, 1 after a failure. It tells
  // systemd (when $NOTIFY_SOCKET is set) READY=1 on entry, RELOADING=1/READY=1 around each
  // SIGHUP, STOPPING=1 when the drain starts, and pings the watchdog (server/watchdog.h).
  int Run();

  const std::vector<BoundListener>& listeners() const { return bound_; }
  // admin_listeners are the bound [admin] listen addresses (real port for port 0).
  const std::vector<std::string>& admin_listeners() const { return admin_bound_; }
  int shard_count() const { return static_cast<int>(shards_.size()); }
  const config::Config& config() const { return config_; }

 private:
  Server(config::Config config, ConfigOverrides overrides);

  absl::Status OpenListeners(int shard_count, std::vector<std::vector<ListenerSpec>>* per_shard);
  // Reload applies a SIGHUP; an error says why the previous configuration stays.
  absl::Status Reload();
  // StartReplication opens the leader's replication listener and/or starts following.
  absl::Status StartReplication();
  // PromoteNow stops following and lets the control plane take writes. Main thread.
  void PromoteNow();
  // RebuildState publishes a serving state with the issuance service's current keys (after a
  // rotation), keeping the configuration. Control thread (Run).
  void RebuildState();
  std::string IssuanceJwks() const;
  std::string StatusLine() const;
  void SendToShards(int32_t command);
  void StopShards(int32_t command);

  config::Config config_;
  ConfigOverrides overrides_;
  std::shared_ptr<tls::TicketKeys> ticket_keys_;
  uint64_t generation_ = 1;
  std::unique_ptr<concurrent::VersionedSnapshot<ServingState>> state_;
  // The revocation log and set and the admin API's control thread (null without data_dir).
  // Declared before the shards, so it is destroyed after them.
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<ShardMetrics[]> metrics_;
  std::unique_ptr<concurrent::ReadyLatch> ready_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::vector<Fd> shared_listeners_;  // unix sockets and sockets from systemd, shared by shards
  std::vector<std::string> unix_paths_;
  std::vector<BoundListener> bound_;
  std::vector<std::string> admin_bound_;
  std::unique_ptr<uring::Ring> control_ring_;
  bool need_tls_ = false;
  std::atomic<bool> keys_changed_{false};  // set by the issuance service, from any thread
  std::atomic<bool> promote_requested_{false};  // POST /admin/promote, from a shard
  std::unique_ptr<replication::ReplicationServer> repl_leader_;
  std::unique_ptr<replication::ReplicationClient> repl_client_;
  // systemd: notifications, and the watchdog with one liveness probe per shard.
  SystemdNotifier notifier_;
  std::unique_ptr<concurrent::LivenessProbe[]> liveness_;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_SERVER_H_
