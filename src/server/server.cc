#include "server/server.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/cpu.h"
#include "ringward/net/uring/listener.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/probe.h"
#include "ringward/net/uring/user_data.h"
#include "server/admin_listener.h"
#include "server/log.h"
#include "server/socket_activation.h"

namespace ringward::server {

namespace {

constexpr std::chrono::seconds kStartTimeout(10);

bool IsUnix(std::string_view address) { return address.substr(0, 5) == "unix:"; }

// WithPort replaces the port of a numeric TCP address ("127.0.0.1:0", "[::1]:0").
std::string WithPort(std::string_view address, uint16_t port) {
  const size_t colon = address.rfind(':');
  return absl::StrCat(ToAbsl(address.substr(0, colon + 1)), port);
}

// FirstLine is the first line of a (possibly multi-line) status message, for STATUS=.
std::string FirstLine(absl::string_view message) {
  return std::string(message.substr(0, message.find('\n')));
}

// LogReloadFailure logs one line per problem (a config file reports each on its own line).
void LogReloadFailure(const absl::Status& status) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    LogEvent(LogPriority::kError, "reload",
             {{"status", "failed"}, {"action", "kept the previous configuration"},
              {"error", ToStd(line)}});
  }
}

sigset_t ControlSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR2);  // internal: the issuance keys changed (Server::RebuildState)
  return set;
}

}  // namespace

void ConfigOverrides::ApplyTo(config::Config* config) const {
  if (!listen.empty()) {
    config->server.listen = listen;
  }
  if (!plain_listen.empty()) {
    config->server.plain_listen = plain_listen;
  }
  if (shards >= 0) {
    config->server.shards = shards;
  }
  if (!data_dir.empty()) {
    config->data_dir = data_dir;
  }
  if (!admin_listen.empty()) {
    config->admin.listen = admin_listen;
  }
}

Server::Server(config::Config config, ConfigOverrides overrides)
    : config_(std::move(config)), overrides_(std::move(overrides)) {}

Server::~Server() {
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  for (const std::string& path : unix_paths_) {
    ::unlink(path.c_str());
  }
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(config::Config config,
                                                     ConfigOverrides overrides) {
  overrides.ApplyTo(&config);
  if (absl::Status s = uring::ProbeIoUring(); !s.ok()) {
    return s;
  }
  if (config.server.listen.empty() && config.server.plain_listen.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.path.empty() ? "config" : config.path,
                     ": [server] listen and plain_listen are both empty; nothing to serve on"));
  }
  std::unique_ptr<Server> server(new Server(std::move(config), std::move(overrides)));
  Server& s = *server;
  s.need_tls_ = !s.config_.server.listen.empty();
  s.ticket_keys_ = std::make_shared<tls::TicketKeys>();
  // Signals are taken by the control thread with sigtimedwait; blocking them before any thread
  // starts (the log's and the issuance service's start in ControlPlane::Open) makes every
  // thread inherit the mask, so none is interrupted by them.
  const sigset_t set = ControlSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::vector<int>> cpus = uring::AllowedCpus();
  if (!cpus.ok() || cpus->empty()) {
    cpus = std::vector<int>{};
  }
  int shard_count = s.config_.server.shards;
  if (shard_count <= 0) {
    shard_count = std::max<int>(1, static_cast<int>(cpus->size()));
  }

  // The revocation log is recovered before anything listens: damage stops the start here.
  if (!s.config_.data_dir.empty()) {
    absl::StatusOr<ControlPlaneOptions> options = ControlPlaneOptionsFrom(s.config_, shard_count);
    if (!options.ok()) {
      return options.status();
    }
    absl::StatusOr<std::unique_ptr<ControlPlane>> control =
        ControlPlane::Open(*std::move(options));
    if (!control.ok()) {
      return control.status();
    }
    s.control_ = *std::move(control);
  }
  absl::StatusOr<std::shared_ptr<const ServingState>> state =
      BuildServingState(s.config_, s.need_tls_, s.ticket_keys_, s.generation_, s.IssuanceJwks());
  if (!state.ok()) {
    return state.status();
  }
  s.state_ = std::make_unique<concurrent::VersionedSnapshot<ServingState>>(*std::move(state));
  if (s.control_ != nullptr && s.control_->issuance() != nullptr) {
    Server* raw = &s;
    s.control_->SetIssuanceHooks(
        [raw]() -> std::shared_ptr<const token::Verifier> {
          std::shared_ptr<const ServingState> current = raw->state_->Load();
          const token::Verifier* verifier = current->verifier.get();
          return std::shared_ptr<const token::Verifier>(std::move(current), verifier);
        },
        [raw] {
          raw->keys_changed_.store(true, std::memory_order_release);
          kill(getpid(), SIGUSR2);
        });
  }

  std::vector<std::vector<ListenerSpec>> per_shard(static_cast<size_t>(shard_count));
  if (absl::Status st = s.OpenListeners(shard_count, &per_shard); !st.ok()) {
    return st;
  }
  if (absl::Status st = OpenAdminListeners(s.config_.admin.listen, shard_count, &per_shard,
                                           &s.shared_listeners_, &s.unix_paths_, &s.admin_bound_);
      !st.ok()) {
    return st;
  }


  absl::StatusOr<uring::Ring> control = uring::Ring::Create(8, 64);
  if (!control.ok()) {
    return control.status();
  }
  s.control_ring_ = std::make_unique<uring::Ring>(*std::move(control));

  s.metrics_ = std::make_unique<ShardMetrics[]>(static_cast<size_t>(shard_count));
  s.ready_ = std::make_unique<concurrent::ReadyLatch>(shard_count);
  ShardShared shared;
  shared.state = s.state_.get();
  shared.metrics = std::span<ShardMetrics>(s.metrics_.get(), static_cast<size_t>(shard_count));
  shared.ready = s.ready_.get();
  shared.control = s.control_.get();
  s.liveness_ = std::make_unique<concurrent::LivenessProbe[]>(static_cast<size_t>(shard_count));
  shared.liveness = s.liveness_.get();
  if (s.control_ != nullptr) {
    if (absl::Status st = s.control_->Start(); !st.ok()) {
      return st;
    }
    if (absl::Status st = s.StartReplication(); !st.ok()) {
      return st;
    }
    shared.replica = s.repl_client_.get();
    shared.replica_fail_closed = s.config_.replication.fail_mode != "open";
  }
  shared.batch_scheduling = s.config_.server.shard_scheduling == "batch";
  for (int i = 0; i < shard_count; ++i) {
    const int cpu = (cpus->empty() || !s.config_.server.pin_shards)
                        ? -1
                        : (*cpus)[static_cast<size_t>(i) % cpus->size()];
    s.shards_.push_back(
        std::make_unique<Shard>(i, cpu, std::move(per_shard[static_cast<size_t>(i)]), shared));
  }
  for (auto& shard : s.shards_) {
    Shard* raw = shard.get();
    s.threads_.emplace_back([raw] { raw->Run(); });
  }
  if (!s.ready_->WaitSettled(kStartTimeout)) {
    // A shard that failed has already stopped; the others are told to stop. Reading ring_fd()
    // needs every shard settled (see Shard::ring_fd), which setup guarantees soon enough.
    while (!s.ready_->Settled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    absl::Status why = absl::DeadlineExceededError("shards did not start within 10 s");
    for (auto& shard : s.shards_) {
      if (!shard->status().ok()) {
        why = shard->status();
      }
    }
    s.StopShards(kShardDrain);
    return why;
  }
  for (const BoundListener& l : s.bound_) {
    if (l.passed > 0) {
      LogEvent(LogPriority::kInfo, "listening",
               {{"address", l.address}, {"tls", l.tls}, {"shards", shard_count},
                {"systemd_sockets", l.passed}});
    } else {
      LogEvent(LogPriority::kInfo, "listening",
               {{"address", l.address}, {"tls", l.tls}, {"shards", shard_count}});
    }
  }
  return server;
}

absl::Status Server::OpenListeners(int shard_count,
                                   std::vector<std::vector<ListenerSpec>>* per_shard) {
  struct Configured {
    std::string address;
    bool tls;
  };
  std::vector<Configured> all;
  for (const std::string& a : config_.server.listen) {
    all.push_back({a, true});
  }
  for (const std::string& a : config_.server.plain_listen) {
    all.push_back({a, false});
  }
  // Sockets systemd opened (ringward.socket) stand in for binding their address here; shard i
  // takes the i % K-th of the K passed for an address (server/socket_activation.h).
  absl::StatusOr<ActivatedSockets> activated = ActivatedSockets::Take();
  if (!activated.ok()) {
    return activated.status();
  }
  for (const Configured& c : all) {
    absl::StatusOr<uring::ListenAddress> parsed = uring::ParseListenAddress(c.address);
    if (!parsed.ok()) {
      return parsed.status();
    }
    std::string passed_address;
    const std::vector<int> passed = activated->Claim(c.address, &passed_address);
    if (!passed.empty()) {
      for (size_t i = 0; i < per_shard->size(); ++i) {
        ListenerSpec spec;
        spec.fd = passed[i % passed.size()];
        spec.tls = c.tls;
        spec.is_unix = IsUnix(c.address);
        (*per_shard)[i].push_back(std::move(spec));
      }
      bound_.push_back({passed_address, c.tls, static_cast<int>(passed.size())});
      continue;
    }
    if (IsUnix(c.address)) {
      uring::ListenOptions options;
      options.reuse_port = false;
      absl::StatusOr<Fd> fd = uring::CreateListenSocket(c.address, options);
      if (!fd.ok()) {
        return fd.status();
      }
      for (auto& specs : *per_shard) {
        ListenerSpec spec;
        spec.fd = fd->get();
        spec.tls = c.tls;
        spec.is_unix = true;
        specs.push_back(std::move(spec));
      }
      if (!parsed->unix_path.empty() && parsed->unix_path[0] != '@') {
        unix_paths_.push_back(parsed->unix_path);
      }
      shared_listeners_.push_back(*std::move(fd));
      bound_.push_back({c.address, c.tls});
      continue;
    }
    // One SO_REUSEPORT socket per shard on the same address, so the kernel spreads connections
    // over the shards. With port 0 the first bind picks the port and the others follow it.
    std::string address = c.address;
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
        absl::StatusOr<uint16_t> port = uring::LocalPort(fd->get());
        if (!port.ok()) {
          return port.status();
        }
        address = WithPort(address, *port);
      }
      ListenerSpec spec;
      spec.fd = fd->get();
      spec.owned = *std::move(fd);
      spec.tls = c.tls;
      (*per_shard)[static_cast<size_t>(i)].push_back(std::move(spec));
    }
    bound_.push_back({address, c.tls});
  }
  if (absl::Status st = activated->CheckAllClaimed(config_.path); !st.ok()) {
    return st;
  }
  for (Fd& fd : activated->TakeFds()) {
    shared_listeners_.push_back(std::move(fd));
  }
  return absl::OkStatus();
}

void Server::SendToShards(int32_t command) {
  unsigned sent = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i]->ring_fd() < 0) {
      continue;
    }
    uring::PrepMsgRing(control_ring_->GetSqe(), shards_[i]->ring_fd(),
                       static_cast<uint32_t>(command),
                       uring::EncodeUserData(uring::Op::kWake, 0, 0),
                       uring::EncodeUserData(uring::Op::kMsgSent, static_cast<uint32_t>(i), 0));
    ++sent;
  }
  if (sent == 0) {
    return;
  }
  unsigned done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (done < sent && std::chrono::steady_clock::now() < deadline) {
    (void)control_ring_->SubmitAndWait(sent - done, std::chrono::milliseconds(100));
    done += control_ring_->ForEachCompletion([this](const io_uring_cqe& cqe) {
      if (cqe.res < 0) {
        const uring::UserData ud = uring::UserData::Decode(cqe.user_data);
        LogEvent(LogPriority::kWarning, "shard_unreachable",
                 {{"shard", ud.index}, {"error", std::strerror(-cqe.res)}});
      }
    });
  }
}

void Server::StopShards(int32_t command) {
  SendToShards(command);
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

absl::Status Server::Reload() {
  absl::StatusOr<config::Config> next = config_;
  if (!config_.path.empty()) {
    next = config::LoadConfig(config_.path);
  }
  if (!next.ok()) {
    LogReloadFailure(next.status());
    return next.status();
  }
  overrides_.ApplyTo(&*next);
  // Listeners and shards are fixed for the life of the process.
  if (next->server.listen != config_.server.listen ||
      next->server.plain_listen != config_.server.plain_listen ||
      next->server.shards != config_.server.shards ||
      next->server.pin_shards != config_.server.pin_shards ||
      next->server.shard_scheduling != config_.server.shard_scheduling) {
    LogEvent(LogPriority::kWarning, "reload",
             {{"status", "restart_needed"},
              {"keys", "listen,plain_listen,shards,pin_shards,shard_scheduling"},
              {"detail", "these take effect only after a restart"}});
    next->server.listen = config_.server.listen;
    next->server.plain_listen = config_.server.plain_listen;
    next->server.shards = config_.server.shards;
    next->server.pin_shards = config_.server.pin_shards;
    next->server.shard_scheduling = config_.server.shard_scheduling;
  }
  if (next->data_dir != config_.data_dir || next->admin.listen != config_.admin.listen ||
      next->admin.token_file != config_.admin.token_file) {
    LogWarning("reload: changes to data_dir and [admin] take effect only after a restart");
    next->data_dir = config_.data_dir;
    next->admin = config_.admin;
  }
  if (next->server.max_connections_per_shard != config_.server.max_connections_per_shard) {
    LogEvent(LogPriority::kWarning, "reload",
             {{"status", "restart_needed"}, {"keys", "max_connections_per_shard"},
              {"detail", "it takes effect only after a restart"}});
  }
  absl::StatusOr<std::shared_ptr<const ServingState>> state =
      BuildServingState(*next, need_tls_, ticket_keys_, generation_ + 1, IssuanceJwks());
  if (!state.ok()) {
    LogReloadFailure(state.status());
    return state.status();
  }
  ++generation_;
  std::vector<std::string> kids;
  for (const auto& key : (*state)->keys->keys()) {
    kids.push_back(key->kid());
  }
  config_ = *std::move(next);
  state_->Publish(*std::move(state));
  SendToShards(kShardWake);
  LogEvent(LogPriority::kInfo, "reload",
           {{"status", "ok"}, {"generation", generation_}, {"kids", absl::StrJoin(kids, ",")}});
  return absl::OkStatus();
}

absl::Status Server::StartReplication() {
  const config::ReplicationConfig& r = config_.replication;
  if (r.listen.empty() && r.leader.empty()) {
    control_->SetReplication(nullptr, nullptr, nullptr);
    return absl::OkStatus();
  }
  // systemd LoadCredential=replication-credential wins over the configured file.
  std::string path = r.credential_file;
  if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr) {
    const std::string candidate = absl::StrCat(dir, "/replication-credential");
    if (access(candidate.c_str(), R_OK) == 0) {
      path = candidate;
    }
  }
  absl::StatusOr<std::string> credential = replication::LoadCredential(path);
  if (!credential.ok()) {
    return absl::Status(credential.status().code(),
                        absl::StrCat("[replication] credential_file: ",
                                     credential.status().message()));
  }
  if (!r.listen.empty()) {
    replication::LeaderOptions options;
    options.listen = r.listen;
    options.certificate_file = config_.tls.certificate;
    options.private_key_file = config_.tls.private_key;
    options.credential = *credential;
    options.heartbeat_ms = r.heartbeat_ms;
    options.max_followers = r.max_followers;
    options.log = [](int priority, std::string_view line) {
      Log(static_cast<LogPriority>(priority), line);
    };
    absl::StatusOr<std::unique_ptr<replication::ReplicationServer>> leader =
        replication::ReplicationServer::Start(std::move(options), &control_->wal());
    if (!leader.ok()) {
      return absl::Status(leader.status().code(),
                          absl::StrCat("[replication] listen: ", leader.status().message()));
    }
    repl_leader_ = *std::move(leader);  // it logs event=replication_listening itself
  }
  if (!r.leader.empty()) {
    replication::FollowerOptions options;
    options.leader_url = r.leader;
    options.ca_file = r.ca_file;
    options.credential = *credential;
    options.max_staleness_ms = r.max_staleness_ms;
    options.log = [](int priority, std::string_view line) {
      Log(static_cast<LogPriority>(priority), line);
    };
    absl::StatusOr<std::unique_ptr<replication::ReplicationClient>> client =
        replication::ReplicationClient::Start(std::move(options), control_.get());
    if (!client.ok()) {
      return absl::Status(client.status().code(),
                          absl::StrCat("[replication] leader: ", client.status().message()));
    }
    repl_client_ = *std::move(client);
    LogEvent(LogPriority::kInfo, "replication_following",
             {{"leader", r.leader}, {"from_lsn", control_->DurableLsn() + 1}});
  }
  Server* raw = this;
  control_->SetReplication(repl_leader_.get(), repl_client_.get(), [raw] {
    raw->promote_requested_.store(true, std::memory_order_release);
    kill(getpid(), SIGUSR2);
  });
  return absl::OkStatus();
}

void Server::PromoteNow() {
  if (control_ == nullptr || !control_->is_follower()) {
    return;
  }
  // The stream stops first, so nothing from the old leader lands after the first local write.
  if (repl_client_ != nullptr) {
    repl_client_->Stop();
  }
  if (absl::Status s = control_->Promote(); !s.ok()) {
    LogEvent(LogPriority::kError, "promote", {{"status", "failed"}, {"error", ToStd(s.message())}});
  }
}

std::string Server::IssuanceJwks() const {
  if (control_ == nullptr || control_->issuance() == nullptr) {
    return "";
  }
  return control_->issuance()->PublishedJwks();
}

void Server::RebuildState() {
  keys_changed_.store(false, std::memory_order_relaxed);
  absl::StatusOr<std::shared_ptr<const ServingState>> state =
      BuildServingState(config_, need_tls_, ticket_keys_, generation_ + 1, IssuanceJwks());
  if (!state.ok()) {
    LogEvent(LogPriority::kError, "keys_published",
             {{"status", "failed"}, {"error", ToStd(state.status().message())}});
    return;
  }
  ++generation_;
  std::vector<std::string> kids;
  for (const auto& key : (*state)->keys->keys()) {
    kids.push_back(key->kid());
  }
  state_->Publish(*std::move(state));
  SendToShards(kShardWake);
  LogEvent(LogPriority::kInfo, "keys_published",
           {{"status", "ok"}, {"generation", generation_}, {"kids", absl::StrJoin(kids, ",")}});
}

std::string Server::StatusLine() const {
  std::vector<std::string> addresses;
  for (const BoundListener& l : bound_) {
    addresses.push_back(absl::StrCat(l.address, l.tls ? " (tls)" : " (plain)"));
  }
  return absl::StrCat("serving on ", absl::StrJoin(addresses, ", "), "; ", shards_.size(),
                      " shards; generation ", generation_);
}

int Server::Run() {
  const sigset_t set = ControlSignals();
  const auto rotation = std::chrono::seconds(std::max(60, config_.tls.ticket_key_rotation_s));
  auto next_rotation = std::chrono::steady_clock::now() + rotation;
  bool failed = false;
  // Start returned only once every shard arrived at the ready latch (the one /readyz reads).
  notifier_.Ready(StatusLine());
  if (const std::chrono::microseconds interval = SystemdNotifier::WatchdogInterval();
      interval.count() > 0) {
    watchdog_ = std::make_unique<Watchdog>(
        &notifier_, std::span<concurrent::LivenessProbe>(liveness_.get(), shards_.size()),
        interval, [this] { SendToShards(kShardWake); });
    watchdog_->Start(std::chrono::steady_clock::now());
    LogEvent(LogPriority::kInfo, "watchdog",
             {{"status", "on"}, {"interval_ms", interval.count() / 1000}});
  }
  while (true) {
    timespec ts{1, 0};
    if (watchdog_ != nullptr) {
      const auto wait = std::min<std::chrono::milliseconds>(
          std::chrono::seconds(1), watchdog_->TimeUntilTick(std::chrono::steady_clock::now()));
      ts = timespec{static_cast<time_t>(wait.count() / 1000),
                    static_cast<long>(wait.count() % 1000) * 1000000};
    }
    siginfo_t info;
    const int sig = sigtimedwait(&set, &info, &ts);
    if (sig == SIGHUP) {
      LogEvent(LogPriority::kInfo, "signal", {{"signal", "SIGHUP"}, {"action", "reload"}});
      notifier_.Reloading("reloading configuration, keys and certificate");
      const absl::Status reloaded = Reload();
      notifier_.Ready(reloaded.ok()
                          ? absl::StrCat("reload ok: ", StatusLine())
                          : absl::StrCat("reload failed, still serving the previous "
                                         "configuration: ",
                                         FirstLine(reloaded.message())));
    } else if (sig == SIGUSR2) {
      if (promote_requested_.exchange(false)) {
        PromoteNow();
      }
      RebuildState();
    } else if (sig == SIGTERM || sig == SIGINT) {
      LogEvent(LogPriority::kInfo, "signal",
               {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"action", "shutdown"},
                {"grace_ms", config_.server.shutdown_grace_ms}});
      notifier_.Stopping(absl::StrCat("stopping: finishing requests in flight (grace ",
                                      config_.server.shutdown_grace_ms, " ms)"));
      break;
    }
    if (ready_->failed()) {
      LogEvent(LogPriority::kError, "shard_failed", {{"action", "shutdown"}});
      notifier_.Stopping("stopping: a shard failed");
      failed = true;
      break;
    }
    if (keys_changed_.load(std::memory_order_acquire)) {
      RebuildState();  // a wake-up signal can be merged with another; the flag is not
    }
    if (need_tls_ && std::chrono::steady_clock::now() >= next_rotation) {
      ticket_keys_->Rotate();
      next_rotation += rotation;
    }
    if (watchdog_ != nullptr) {
      watchdog_->Tick(std::chrono::steady_clock::now());
    }
  }
  StopShards(kShardDrain);
  // Replication before the control plane: the client's thread may wait for the control thread,
  // and the leader's streamers read the log the control plane closes.
  if (repl_client_ != nullptr) {
    repl_client_->Stop();
  }
  if (repl_leader_ != nullptr) {
    repl_leader_->Stop();
  }
  if (control_ != nullptr) {
    control_->Stop();  // after the shards: it answers what they handed over, then closes
  }
  for (const auto& shard : shards_) {
    if (!shard->status().ok()) {
      failed = true;
    }
  }
  LogEvent(failed ? LogPriority::kError : LogPriority::kInfo, "stopped",
           {{"status", failed ? "failure" : "clean"}});
  return failed ? 1 : 0;
}

}  // namespace ringward::server
