// replication/leader.h: ReplicationServer, the leader side of replication. It listens on its own
// TLS socket (the [replication] listener, never a shard) and streams the write-ahead log to each
// authenticated follower as protocol.md specifies: a snapshot first when the follower is behind
// the log's oldest segment, then every durable record in LSN order, with heartbeats while idle.
//
// Threads: one acceptor thread and one blocking streamer thread per connection (at most
// max_followers streaming, plus a few connections still handshaking). Nothing here runs on a
// shard, and all waiting is bounded: Stop() wakes every thread through an eventfd that each of
// their socket waits polls, and a streamer idle in WriteAheadLog::WaitForDurable notices within
// 100 ms.
//
// Thread-safety: every public member may be called from any thread. Getters read atomics;
// StatusJson takes the connection-list mutex briefly.
//
// Ownership: the server borrows the WriteAheadLog, which must outlive it (or at least Stop()). It
// owns its listener, its connections and their threads.
#ifndef RINGWARD_REPLICATION_LEADER_H_
#define RINGWARD_REPLICATION_LEADER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "replication/protocol.h"
#include "ringward/base/secret_digest.h"
#include "ringward/base/fd.h"
#include "ringward/net/tls/tls_context.h"
#include "ringward/revocation/wal.h"

namespace ringward::replication {

struct LeaderOptions {
  // listen: "127.0.0.1:8445" or "[::1]:8445"; an IP literal, port 0 picks a free port (see
  // ReplicationServer::bound_address).
  std::string listen;
  // The PEM certificate chain and private key of the [tls] section (same policy: TLS 1.2/1.3,
  // P-256 or Ed25519 keys).
  std::string certificate_file;
  std::string private_key_file;
  // credential: the shared bearer secret itself (see LoadCredential), not a file name.
  std::string credential;
  // heartbeat_ms: a heartbeat is sent when nothing was sent for this long (1..60000).
  int heartbeat_ms = 200;
  // max_followers: connections streaming at once; more are answered 503 (1..1024).
  int max_followers = 16;
  // handshake_timeout_ms bounds the TLS handshake and, separately, reading the request head.
  int handshake_timeout_ms = 5000;
  // write_timeout_ms: a follower that accepts no byte for this long is disconnected.
  int write_timeout_ms = 30000;
  // log, when set, receives one logfmt line per event ("event=replication_... key=value ...")
  // with a syslog priority (3 error, 4 warning, 6 info); the server passes server::Log. Called
  // from the acceptor and streamer threads, concurrently.
  std::function<void(int priority, std::string_view line)> log;
};

class ReplicationServer {
 public:
  // Start validates |options| (InvalidArgument naming the option), loads the certificate and key
  // (the TlsContext errors name the file), binds and listens, and starts the acceptor thread.
  // |wal| is borrowed.
  static absl::StatusOr<std::unique_ptr<ReplicationServer>> Start(LeaderOptions options,
                                                                  revocation::WriteAheadLog* wal);

  ~ReplicationServer();  // Stop()
  ReplicationServer(const ReplicationServer&) = delete;
  ReplicationServer& operator=(const ReplicationServer&) = delete;

  // Stop closes the listener and every follower connection and joins all threads. Idempotent.
  void Stop();

  // bound_address: "127.0.0.1:8445" or "[::1]:8445", with the real port when listen said :0.
  std::string bound_address() const { return bound_address_; }

  // followers: connections streaming now (answered 200).
  int followers() const { return streaming_.load(std::memory_order_relaxed); }
  // sent_records: log and snapshot records sent, over all connections (not control frames).
  uint64_t sent_records() const { return sent_records_.load(std::memory_order_relaxed); }
  // sent_bytes: stream body bytes sent (every frame, heartbeats included; not HTTP heads).
  uint64_t sent_bytes() const { return sent_bytes_.load(std::memory_order_relaxed); }
  uint64_t snapshots_sent() const { return snapshots_sent_.load(std::memory_order_relaxed); }

  // Why a request was refused, for ringward_replication_refused_total{reason=...}.
  enum class Refusal : int { kCredential = 0, kDiverged, kFull, kBadRequest, kCount };
  uint64_t refused(Refusal reason) const {
    return refused_[static_cast<int>(reason)].load(std::memory_order_relaxed);
  }

  // RenderMetrics appends, in the Prometheus text format: ringward_replication_followers (gauge),
  // ringward_replication_sent_records_total, ringward_replication_sent_bytes_total,
  // ringward_replication_snapshots_sent_total and
  // ringward_replication_refused_total{reason="credential|diverged|full|bad_request"}.
  void RenderMetrics(std::string* out) const;

  // StatusJson: {"role":"leader","listen":"127.0.0.1:8445","durable_lsn":N,"oldest_lsn":N,
  // "snapshot_lsn":N,"followers":[{"peer":"127.0.0.1:5555","from":N,"sent_lsn":N,
  // "lag_records":N,"connected_ms":N,"snapshot":bool}],"sent_records":N,"sent_bytes":N,
  // "snapshots_sent":N,"refused":{"credential":N,"diverged":N,"full":N,"bad_request":N}}.
  // sent_lsn is the last LSN written to that follower's socket (the snapshot's LSN right after a
  // snapshot); connected_ms is how long it has been connected.
  std::string StatusJson() const;

  struct Connection;  // one accepted socket and its thread (leader.cc)

 private:
  ReplicationServer(LeaderOptions options, revocation::WriteAheadLog* wal,
                    std::shared_ptr<const tls::TlsContext> tls, Fd listener, Fd wake,
                    std::string bound_address);

  void AcceptLoop();
  void Serve(Connection* connection);
  // ReapFinished joins and removes connections whose thread has ended. Acceptor thread only.
  void ReapFinished();
  void Refuse(Refusal reason) { refused_[static_cast<int>(reason)].fetch_add(1); }
  void Log(int priority, std::string_view line) const;

  const LeaderOptions options_;
  revocation::WriteAheadLog* const wal_;
  const std::shared_ptr<const tls::TlsContext> tls_;
  const SecretDigest credential_;
  Fd listener_;  // closed by Stop() once the acceptor has ended
  // wake_ is an eventfd that Stop() makes readable for good: every socket wait polls it too.
  const Fd wake_;
  const std::string bound_address_;

  // The counters are independent statistics, so relaxed ordering is enough: a reader may see
  // them from slightly different instants. stopping_ is set (release) before wake_ is
  // signalled; threads read it (acquire) after each wait.
  std::atomic<bool> stopping_{false};
  std::atomic<int> streaming_{0};
  std::atomic<uint64_t> sent_records_{0};
  std::atomic<uint64_t> sent_bytes_{0};
  std::atomic<uint64_t> snapshots_sent_{0};
  std::atomic<uint64_t> refused_[static_cast<int>(Refusal::kCount)] = {};

  // mu_ guards connections_ (the list, not the Connection members, which are atomics or set
  // before the thread starts) and makes the max_followers check and the streaming_ increment
  // one step.
  mutable std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;
  std::mutex stop_mu_;  // serialises Stop()
  std::thread acceptor_;
};

}  // namespace ringward::replication

#endif  // RINGWARD_REPLICATION_LEADER_H_
