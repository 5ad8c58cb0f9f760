#include "server/shard.h"

#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"
#include "ringward/net/uring/cpu.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/user_data.h"
#include "server/log.h"

namespace ringward::server {

namespace {

using uring::Op;

constexpr uint32_t kNil = ~uint32_t{0};
constexpr uint32_t kNoConn = uring::UserData::kMaxIndex;
constexpr unsigned kSqEntries = 1024;
constexpr uint16_t kRecvGroup = 0;
constexpr size_t kPoolBlockSize = 16 * 1024;
constexpr size_t kPoolPreallocate = 64;
constexpr size_t kPlaintextChunk = 16 * 1024;
// Output a client has not read yet, beyond which the shard stops answering its pipelined
// requests until a send completes.
constexpr size_t kMaxPendingOutput = 256 * 1024;
// Buffered, unanswered input beyond which the shard stops reading from a connection whose
// output is backed up.
constexpr size_t kPauseInput = 64 * 1024;
// After shutdown(SHUT_WR), how long to wait for the client to close before closing anyway.
constexpr int64_t kLingerMs = 1000;
// After a failed accept (EMFILE, ENFILE, ENOMEM), wait before accepting again.
constexpr int64_t kAcceptRetryMs = 100;
// Upper bound of one wait, so the loop notices a new ServingState even without a wake-up.
constexpr int64_t kMaxWaitMs = 1000;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

constexpr uint8_t kOpShutdown = static_cast<uint8_t>(Op::kUser);

enum class ConnState : uint8_t {
  kFree,
  kOpen,               // reading and answering requests
  kClosingAfterFlush,  // no more requests; sending what is queued
  kShutdown,           // shutdown(SHUT_WR) in flight
  kLingering,          // write side closed; discarding input until EOF or the linger time
  kClosing,            // cancel/close submitted; the slot is freed when nothing is in flight
};

}  // namespace

struct Shard::Conn {
  int fd = -1;
  uint32_t generation = 0;
  uint32_t timer_prev = kNil;
  uint32_t timer_next = kNil;
  int64_t deadline_ms = 0;
  size_t send_len = 0;  // plain: bytes of out in the send in flight
  size_t need = 0;      // total bytes of the request being received, once its head is parsed
  ConnState state = ConnState::kFree;
  TimerKind timer = TimerKind::kNone;
  uint8_t inflight = 0;  // operations in the kernel that name this slot
  bool tls = false;
  bool metrics_enabled = true;
  bool recv_armed = false;
  bool send_inflight = false;
  bool peer_eof = false;
  bool head_done = false;
  bool continue_sent = false;
  bool served = false;   // answered at least one request
  bool blocked = false;  // a response did not fit behind a send in flight; retry after it
  bool recv_paused = false;
  bool starved = false;
  bool close_submitted = false;
  bool tls_shutdown = false;  // close_notify queued
  bool admin = false;         // accepted on an admin listener
  bool awaiting = false;      // a request is with the control plane; its answer comes next
  bool close_after_awaited = false;
  ByteBuffer in;
  ByteBuffer out;
  std::unique_ptr<tls::TlsSession> session;
  std::string awaited;  // an answer that arrived while |out| had no room for it
};

Shard::Shard(int index, int cpu, std::vector<ListenerSpec> listeners, const ShardShared& shared,
             const ShardTuning& tuning)
    : index_(index),
      cpu_(cpu),
      tuning_(tuning),
      listeners_(std::move(listeners)),
      accept_armed_(listeners_.size(), false),
      shared_(shared),
      metrics_(&shared.metrics[static_cast<size_t>(index)]),
      parser_owner_(kNil),
      handlers_(shared.metrics, &shared.metrics[static_cast<size_t>(index)]),
      access_log_(index, static_cast<uint64_t>(AccessLog::NowNs()) ^
                             (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1))),
      pool_(kPoolBlockSize, kPoolPreallocate),
      plaintext_(new uint8_t[kPlaintextChunk]) {
  for (TimerList& t : timers_) {
    t = TimerList{kNil, kNil};
  }
  scratch_.reserve(16 * 1024);
  if (shared.control != nullptr) {
    admin_ = std::make_unique<AdminHandlers>(index, shared.control, shared.metrics, metrics_);
    handlers_.SetControlPlane(shared.control);
    channel_ = &shared.control->channel(index);
    qsbr_ = &shared.control->qsbr();
  }
}

Shard::~Shard() = default;

io_uring_sqe* Shard::Sqe() {
  io_uring_sqe* sqe = ring_->GetSqe();
  if (sqe == nullptr) {
    // The ring cannot submit any more: nothing this shard does can work now. Prepare into a
    // throwaway SQE and let the loop end.
    static thread_local io_uring_sqe dummy;
    if (!fatal_) {
      LogEvent(LogPriority::kError, "shard_failed",
               {{"shard", index_}, {"error", "io_uring submission failed"}});
    }
    fatal_ = true;
    return &dummy;
  }
  return sqe;
}

uint64_t Shard::UserDataFor(uint8_t op, const Conn& c) const {
  const auto index = static_cast<uint32_t>(&c - conns_.get());
  return uring::UserData{static_cast<Op>(op), c.generation, index}.Encode();
}

void Shard::ReadClock() {
  // The coarse clocks (one tick, 4 ms at HZ=250) are what timeouts in milliseconds and expiry
  // in seconds need, and they cost a quarter of the precise ones: no TSC read, twice per turn.
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  now_s_ = ts.tv_sec;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  now_ms_ = int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
  date_.Update(now_s_);
  replica_stale_ = shared_.replica != nullptr && shared_.control->is_follower() &&
                   shared_.replica->stale();
}

absl::Status Shard::Setup() {
  // Named for top, perf and core dumps: "rw-shard-3".
  const std::string name = absl::StrCat("rw-shard-", index_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  if (cpu_ >= 0) {
    if (absl::Status s = uring::PinCurrentThreadToCpu(cpu_); !s.ok()) {
      LogEvent(LogPriority::kWarning, "shard_pin",
               {{"shard", index_},
                {"cpu", cpu_},
                {"status", "failed"},
                {"error", ToStd(s.message())}});
    }
  }
  if (shared_.batch_scheduling) {
    if (absl::Status s = uring::UseBatchSchedulingForCurrentThread(); !s.ok()) {
      LogEvent(LogPriority::kWarning, "shard_scheduling",
               {{"shard", index_}, {"status", "failed"}, {"error", ToStd(s.message())}});
    }
  }
  absl::StatusOr<uring::Ring> ring = uring::Ring::Create(kSqEntries);
  if (!ring.ok()) {
    return ring.status();
  }
  ring_ = std::make_unique<uring::Ring>(*std::move(ring));
  absl::StatusOr<uring::BufferRing> buffers =
      uring::BufferRing::Create(*ring_, kRecvGroup, tuning_.recv_buffer_count,
                                 tuning_.recv_buffer_size);
  if (!buffers.ok()) {
    return buffers.status();
  }
  recv_buffers_ = std::make_unique<uring::BufferRing>(*std::move(buffers));

  ReadClock();
  MaybeLoadState();
  max_conns_ = static_cast<uint32_t>(std::max(1, state_->config.server.max_connections_per_shard));
  if (max_conns_ >= kNoConn) {
    max_conns_ = kNoConn - 1;
  }
  conns_ = std::make_unique<Conn[]>(max_conns_);
  free_slots_.reserve(max_conns_);
  for (uint32_t i = max_conns_; i > 0; --i) {
    free_slots_.push_back(i - 1);
  }
  starved_.reserve(2 * static_cast<size_t>(max_conns_));
  for (size_t i = 0; i < listeners_.size(); ++i) {
    ArmAccept(i);
  }
  if (absl::Status s = ring_->Submit(); !s.ok()) {
    return s;
  }
  // Published by ready->Arrive() (release); a shard that fails keeps -1.
  heartbeat_.Init(shared_.liveness == nullptr ? nullptr : &shared_.liveness[index_], index_,
                  now_ms_);
  ring_fd_ = ring_->fd();
  if (channel_ != nullptr) {
    channel_->SetRingFd(ring_fd_);
  }
  return absl::OkStatus();
}

void Shard::Run() {
  status_ = Setup();
  if (!status_.ok()) {
    shared_.ready->Fail();
    Cleanup();
    return;
  }
  shared_.ready->Arrive();
  if (qsbr_ != nullptr) {
    qsbr_->Online(index_);
  }
  Loop();
  if (qsbr_ != nullptr) {
    qsbr_->Offline(index_);  // holds nothing from here on; acknowledgements stop waiting for it
  }
  Cleanup();
}

void Shard::Loop() {
  while (true) {
    const std::chrono::milliseconds wait(WaitTimeoutMs());
    recv_buffers_->Publish();
    // The top of the loop holds no pointer into the revocation set: a quiescent state. About to
    // sleep with nothing ready, the shard goes offline instead, so that it does not hold up an
    // acknowledgement for as long as it sleeps (Online costs an atomic RMW: only then).
    const bool offline =
        qsbr_ != nullptr && wait.count() > 0 && io_uring_cq_ready(ring_->raw()) == 0;
    if (qsbr_ != nullptr) {
      if (offline) {
        qsbr_->Offline(index_);
      } else {
        qsbr_->Quiescent(index_);
      }
    }
    const absl::Status waited = ring_->SubmitAndWait(1, wait);
    if (offline) {
      qsbr_->Online(index_);
    }
    if (!waited.ok()) {
      status_ = waited;
      LogEvent(LogPriority::kError, "shard_failed",
               {{"shard", index_}, {"error", ToStd(waited.message())}});
      shared_.ready->Fail();
      return;
    }
    ReadClock();
    heartbeat_.Beat(now_ms_);
    MaybeLoadState();
    if (!all_ready_) {
      all_ready_ = shared_.ready->AllArrived();
    }
    recycled_this_turn_ = 0;
    ring_->ForEachCompletion([this](const io_uring_cqe& cqe) { OnCompletion(cqe); });
    if (channel_ != nullptr && channel_->HasResponses()) {
      TakeControlResponses();
    }
    ExpireTimers();
    RearmStarved();
    if (accept_retry_at_ms_ != 0 && now_ms_ >= accept_retry_at_ms_ && !draining_) {
      accept_retry_at_ms_ = 0;
      for (size_t i = 0; i < listeners_.size(); ++i) {
        if (!accept_armed_[i]) {
          ArmAccept(i);
        }
      }
    }
    MirrorCounters();
    access_log_.Flush();
    if (fatal_) {
      status_ = absl::InternalError("io_uring submission failed");
      shared_.ready->Fail();
      return;
    }
    if (draining_) {
      if (open_ == 0 && accepts_active_ == 0) {
        return;
      }
      if (now_ms_ >= drain_deadline_ms_) {
        LogEvent(LogPriority::kNotice, "shutdown_grace_over",
                 {{"shard", index_}, {"closing_connections", open_}});
        return;
      }
    }
  }
}

void Shard::Cleanup() {
  if (channel_ != nullptr) {
    channel_->SetRingFd(-1);
  }
  if (ring_ != nullptr) {
    // Queued closes must run before the ring goes; a connection whose close never reached the
    // kernel is closed here. Closing an fd the ring already closed could close a descriptor
    // another thread has just been given, hence close_submitted.
    (void)ring_->Submit();
  }
  if (conns_ != nullptr) {
    for (uint32_t i = 0; i < max_conns_; ++i) {
      Conn& c = conns_[i];
      if (c.state != ConnState::kFree && !c.close_submitted && c.fd >= 0) {
        ::close(c.fd);
      }
    }
  }
  // The buffer ring refers to the ring, and in-flight sends to connection memory: tear down in
  // that order, all on this thread.
  recv_buffers_.reset();
  ring_.reset();
  if (conns_ != nullptr) {
    for (uint32_t i = 0; i < max_conns_; ++i) {
      conns_[i].session.reset();
      pool_.Release(&conns_[i].in);
      pool_.Release(&conns_[i].out);
    }
  }
  for (ListenerSpec& l : listeners_) {
    l.owned.reset();
  }
}

void Shard::MaybeLoadState() {
  const uint64_t version = shared_.state->version();
  if (version == state_version_) {
    return;
  }
  state_version_ = version;
  std::shared_ptr<const ServingState> next = shared_.state->Load();
  if (next != nullptr && next != state_) {
    ApplyState(std::move(next));
  }
}

void Shard::ApplyState(std::shared_ptr<const ServingState> state) {
  state_ = std::move(state);
  handlers_.SetState(state_);
  parser_ = http::RequestParser(state_->limits);
  parser_owner_ = kNil;
  header_timeout_ms_ = std::max(1, state_->config.server.header_timeout_ms);
  idle_timeout_ms_ = std::max(1, state_->config.server.idle_timeout_ms);
  max_input_ = state_->limits.max_head_bytes + state_->limits.max_body_bytes + 4 * kPauseInput;
  access_log_.SetSampleRate(state_->config.server.access_log_sample);
}

int64_t Shard::WaitTimeoutMs() const {
  int64_t deadline = now_ms_ + kMaxWaitMs;
  for (const TimerList& t : timers_) {
    if (t.head != kNil) {
      deadline = std::min(deadline, conns_[t.head].deadline_ms);
    }
  }
  if (draining_) {
    deadline = std::min(deadline, drain_deadline_ms_);
  }
  if (accept_retry_at_ms_ != 0) {
    deadline = std::min(deadline, accept_retry_at_ms_);
  }
  return std::max<int64_t>(0, deadline - now_ms_);
}

void Shard::MirrorCounters() {
  if (tls_counters_.handshakes_completed != tls_mirrored_.handshakes_completed ||
      tls_counters_.handshakes_resumed != tls_mirrored_.handshakes_resumed ||
      tls_counters_.handshake_failures != tls_mirrored_.handshake_failures) {
    tls_mirrored_ = tls_counters_;
    metrics_->tls_handshakes.Set(tls_counters_.handshakes_completed);
    metrics_->tls_resumed.Set(tls_counters_.handshakes_resumed);
    metrics_->tls_failures.Set(tls_counters_.handshake_failures);
  }
}

// ---------------------------------------------------------------------------------------------
// Completions

void Shard::OnCompletion(const io_uring_cqe& cqe) {
  const uring::UserData ud = uring::UserData::Decode(cqe.user_data);
  switch (ud.op) {
    case Op::kAccept:
      if (ud.index < listeners_.size()) {
        OnAccept(ud.index, cqe);
      } else if (cqe.res >= 0) {
        ::close(cqe.res);
      }
      return;
    case Op::kRecv:
      OnRecv(cqe);
      return;
    case Op::kSend:
      OnSend(cqe);
      return;
    case Op::kClose:
    case Op::kCancel:
      OnOpDone(cqe);
      return;
    case Op::kWake:
      OnWake(cqe.res);
      return;
    default:
      break;
  }
  if (static_cast<uint8_t>(ud.op) == kOpShutdown) {
    OnShutdown(cqe);
    return;
  }
  // A completion this shard never asked for: release a buffer it may carry.
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    RecycleBuffer(uring::BufferIdOf(cqe));
  }
}

Shard::Conn* Shard::Find(uint64_t user_data) {
  const uring::UserData ud = uring::UserData::Decode(user_data);
  if (ud.index >= max_conns_) {
    return nullptr;
  }
  Conn& c = conns_[ud.index];
  if (c.state == ConnState::kFree || !ud.IsCurrent(c.generation)) {
    return nullptr;
  }
  return &c;
}

void Shard::ArmAccept(size_t listener) {
  uring::PrepMultishotAccept(Sqe(), listeners_[listener].fd,
                             uring::EncodeUserData(Op::kAccept, static_cast<uint32_t>(listener), 0));
  accept_armed_[listener] = true;
  ++accepts_active_;
}

void Shard::OnAccept(size_t listener, const io_uring_cqe& cqe) {
  if (!uring::HasMore(cqe)) {
    accept_armed_[listener] = false;
    --accepts_active_;
    if (draining_) {
      listeners_[listener].owned.reset();
    }
  }
  if (cqe.res < 0) {
    if (cqe.res != -ECANCELED && !draining_) {
      // Out of descriptors or memory: say so at most once a second, and back off when the
      // multishot accept ended.
      if (now_ms_ - last_accept_warning_ms_ >= 1000) {
        last_accept_warning_ms_ = now_ms_;
        LogEvent(LogPriority::kWarning, "accept_failed",
                 {{"shard", index_}, {"error", std::strerror(-cqe.res)}});
      }
      if (!accept_armed_[listener]) {
        accept_retry_at_ms_ = now_ms_ + kAcceptRetryMs;
      }
    }
    return;
  }
  if (!accept_armed_[listener] && !draining_) {
    ArmAccept(listener);
  }
  const int fd = cqe.res;
  if (draining_ || free_slots_.empty()) {
    if (!draining_) {
      metrics_->rejected.Inc();
    }
    uring::PrepClose(Sqe(), fd, uring::EncodeUserData(Op::kClose, kNoConn, 0));
    return;
  }
  const uint32_t index = free_slots_.back();
  free_slots_.pop_back();
  Conn& c = conns_[index];
  const uint32_t generation = c.generation;
  c = Conn{};
  c.generation = generation;
  c.fd = fd;
  c.state = ConnState::kOpen;
  c.tls = listeners_[listener].tls;
  c.admin = listeners_[listener].admin && admin_ != nullptr;
  c.metrics_enabled =
      state_->config.server.metrics_on_public || listeners_[listener].is_unix || c.admin;
  ++open_;
  metrics_->open_connections.Inc();
  metrics_->accepted.Inc();
  if (c.tls) {
    if (state_->tls == nullptr) {
      Abort(c);
      return;
    }
    absl::StatusOr<std::unique_ptr<tls::TlsSession>> session =
        tls::TlsSession::Create(*state_->tls, &tls_counters_);
    if (!session.ok()) {
      LogEvent(LogPriority::kError, "tls_session_failed",
               {{"shard", index_}, {"error", ToStd(session.status().message())}});
      Abort(c);
      return;
    }
    c.session = *std::move(session);
  }
  ArmRecv(c, /*poll_first=*/false);
  TimerLink(c, TimerKind::kHeader);
}

void Shard::ArmRecv(Conn& c, bool poll_first) {
  uring::PrepMultishotRecv(Sqe(), c.fd, kRecvGroup, UserDataFor(static_cast<uint8_t>(Op::kRecv), c),
                           poll_first);
  c.recv_armed = true;
  ++c.inflight;
}

void Shard::RecycleBuffer(uint16_t bid) {
  recv_buffers_->Recycle(bid);
  ++recycled_this_turn_;
}

void Shard::OnRecv(const io_uring_cqe& cqe) {
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  Conn* found = Find(cqe.user_data);
  if (found == nullptr) {
    if (has_buffer) {
      RecycleBuffer(uring::BufferIdOf(cqe));
    }
    return;
  }
  Conn& c = *found;
  const bool more = uring::HasMore(cqe);
  if (!more) {
    c.recv_armed = false;
    --c.inflight;
  }
  if (cqe.res > 0 && has_buffer) {
    const uint16_t bid = uring::BufferIdOf(cqe);
    OnData(c, recv_buffers_->Buffer(bid), static_cast<size_t>(cqe.res));
    RecycleBuffer(bid);
  } else if (has_buffer) {
    RecycleBuffer(uring::BufferIdOf(cqe));
  }
  if (cqe.res == 0) {
    c.peer_eof = true;
    switch (c.state) {
      case ConnState::kOpen:
        if (IsIdle(c)) {
          Abort(c);
        } else if (!c.blocked && !c.awaiting) {
          // The client finished sending; answer what it asked and close. (When blocked, the
          // requests still buffered are answered first: see OnSend.)
          CloseAfterFlush(c);
          Flush(c);
        }
        break;
      case ConnState::kLingering:
        Abort(c);
        break;
      default:
        break;
    }
  } else if (cqe.res == -ENOBUFS) {
    metrics_->recv_starved.Inc();
    if (c.state != ConnState::kClosing && !c.starved && starved_.size() < starved_.capacity()) {
      c.starved = true;
      starved_.push_back((uint64_t{c.generation} << 32) | static_cast<uint32_t>(&c - conns_.get()));
    } else if (c.state != ConnState::kClosing && !c.starved) {
      Abort(c);
    }
  } else if (cqe.res < 0 && cqe.res != -ECANCELED) {
    Abort(c);
  }
  if (!more && !c.recv_armed && cqe.res > 0 && !c.recv_paused && !c.peer_eof &&
      (c.state == ConnState::kOpen || c.state == ConnState::kLingering ||
       c.state == ConnState::kClosingAfterFlush || c.state == ConnState::kShutdown)) {
    ArmRecv(c, /*poll_first=*/false);
  }
  MaybeResumeReading(c);
  MaybeRelease(c);
}

void Shard::MaybeResumeReading(Conn& c) {
  // The recv cancelled by Feed must have ended (recv_armed false) before a new one is armed
  // under the same user_data.
  if (c.recv_paused && !c.blocked && !c.awaiting && !c.recv_armed && !c.peer_eof &&
      c.state == ConnState::kOpen && c.in.size() <= kPauseInput) {
    c.recv_paused = false;
    ArmRecv(c, /*poll_first=*/true);
  }
}

void Shard::RearmStarved() {
  uint32_t budget = recycled_this_turn_ + 1;
  while (budget > 0 && starved_head_ < starved_.size()) {
    const uint64_t entry = starved_[starved_head_++];
    const auto index = static_cast<uint32_t>(entry);
    const auto generation = static_cast<uint32_t>(entry >> 32);
    Conn& c = conns_[index];
    if (c.generation != generation || !c.starved) {
      continue;
    }
    c.starved = false;
    if (c.state == ConnState::kClosing || c.state == ConnState::kFree || c.recv_armed ||
        c.recv_paused) {
      continue;
    }
    // POLL_FIRST: take a buffer only once data is there, so an idle connection does not fail
    // again at once while the group is still short.
    ArmRecv(c, /*poll_first=*/true);
    --budget;
  }
  if (starved_head_ == starved_.size()) {
    starved_.clear();
    starved_head_ = 0;
  }
}

void Shard::OnData(Conn& c, const uint8_t* data, size_t n) {
  if (c.state != ConnState::kOpen) {
    return;  // closing: input is discarded
  }
  if (c.tls) {
    c.session->FeedCiphertext(data, n);
    DrainTls(c);
  } else {
    Feed(c, reinterpret_cast<const char*>(data), n);
  }
  if (c.state == ConnState::kOpen || c.state == ConnState::kClosingAfterFlush) {
    Flush(c);
    UpdateTimer(c);
  }
}

void Shard::DrainTls(Conn& c) {
  while (c.state == ConnState::kOpen) {
    const tls::TlsIoResult r = c.session->ReadPlaintext(plaintext_.get(), kPlaintextChunk);
    if (r.status == tls::TlsIoStatus::kOk) {
      if (r.bytes > 0) {
        Feed(c, reinterpret_cast<const char*>(plaintext_.get()), r.bytes);
      }
      continue;
    }
    if (r.status == tls::TlsIoStatus::kWantMore) {
      break;
    }
    if (r.status == tls::TlsIoStatus::kClosed) {
      c.peer_eof = true;  // close_notify: nothing more will come
      if (c.blocked) {
        break;  // answer the buffered requests first (OnSend closes afterwards)
      }
    }
    // kClosed or kError: send what is pending (our close_notify, or the alert that says why the
    // handshake failed) and close.
    CloseAfterFlush(c);
    break;
  }
}

void Shard::Feed(Conn& c, const char* data, size_t n) {
  if (c.in.empty() && !c.blocked && !c.awaiting) {
    const size_t used = ProcessRequests(c, data, n);
    if (c.state != ConnState::kOpen || used == n) {
      return;
    }
    data += used;
    n -= used;
  }
  if (c.in.size() + n > max_input_) {
    Abort(c);
    return;
  }
  if (c.in.data == nullptr) {
    pool_.Acquire(&c.in, std::max(n, c.need));
  } else if (c.need > c.in.size() && c.in.cap - c.in.begin < c.need) {
    pool_.Reserve(&c.in, c.need - c.in.size());
  }
  pool_.Append(&c.in, data, n);
  if (c.blocked || c.awaiting) {
    if (c.in.size() > kPauseInput && c.recv_armed && !c.recv_paused) {
      // The client sends faster than it reads: stop reading until its output drains.
      uring::PrepCancel(Sqe(), UserDataFor(static_cast<uint8_t>(Op::kRecv), c), 0,
                        UserDataFor(static_cast<uint8_t>(Op::kCancel), c));
      ++c.inflight;
      c.recv_paused = true;
    }
    return;
  }
  ProcessInput(c);
}

void Shard::ProcessInput(Conn& c) {
  if (c.in.empty()) {
    return;
  }
  const size_t used = ProcessRequests(c, c.in.head(), c.in.size());
  if (c.state != ConnState::kOpen) {
    pool_.Release(&c.in);
    return;
  }
  pool_.Consume(&c.in, used);
}

size_t Shard::ProcessRequests(Conn& c, const char* data, size_t n) {
  const auto index = static_cast<uint32_t>(&c - conns_.get());
  size_t pos = 0;
  while (pos < n && c.state == ConnState::kOpen && !c.blocked && !c.awaiting) {
    if (parser_owner_ != index) {
      parser_.Reset();
      parser_owner_ = index;
    }
    const http::ParseResult r = parser_.Parse(std::string_view(data + pos, n - pos), &request_);
    if (r.status == http::ParseStatus::kIncomplete) {
      c.head_done = r.head_size != 0;
      c.need = r.total_size;
      if (c.head_done && request_.expect_continue && !c.continue_sent) {
        if (AppendOut(c, kContinue)) {
          c.continue_sent = true;
        }
      }
      break;
    }
    parser_owner_ = kNil;
    if (r.status == http::ParseStatus::kComplete) {
      const bool close = !request_.keep_alive || draining_;
      HandlerContext ctx;
      ctx.now = now_s_;
      ctx.connection = close ? ConnectionHeader::kClose
                             : (request_.version == http::Version::kHttp10
                                    ? ConnectionHeader::kKeepAlive
                                    : ConnectionHeader::kNone);
      ctx.ready = Ready(&ctx.not_ready_reason);
      ctx.verify_refused = replica_stale_ && shared_.replica_fail_closed;
      ctx.stale_open = replica_stale_ && !shared_.replica_fail_closed;
      ctx.metrics_enabled = c.metrics_enabled;
      scratch_.clear();
      RouteMatch issuance_route;
      if (!c.admin && admin_ != nullptr && shared_.control->issuance() != nullptr) {
        issuance_route = MatchIssuanceRoute(request_.path, request_.method);
      }
      if (c.admin || issuance_route.route != Route::kNotFound) {
        // Answered by the control plane's side (admin API, issuance): possibly later.
        const AdminHandlers::Result result =
            c.admin ? admin_->Handle(request_, ctx, date_, index, c.generation, &scratch_)
                    : admin_->HandlePublic(issuance_route, request_, ctx, date_, index,
                                           c.generation, c.fd, &scratch_);
        if (result.deferred) {
          // The answer comes back through the channel (Deliver); nothing more is answered on
          // this connection until then, so responses stay in request order.
          pos += r.consumed;
          c.awaiting = true;
          c.served = true;
          c.head_done = false;
          c.need = 0;
          c.continue_sent = false;
          break;
        }
        if (!AppendOut(c, scratch_)) {
          c.blocked = true;
          break;
        }
        admin_->Commit(result.outcome);
        pos += r.consumed;
        c.served = true;
        c.head_done = false;
        c.need = 0;
        c.continue_sent = false;
        if (close) {
          CloseAfterFlush(c);
          return n;
        }
        continue;
      }
      const bool sampled = access_log_.ShouldSample();
      const int64_t started_ns = sampled ? AccessLog::NowNs() : 0;
      const Outcome outcome = handlers_.Handle(request_, ctx, date_, &scratch_);
      if (!AppendOut(c, scratch_)) {
        // Answered again once the send in flight completes; nothing was counted.
        handlers_.Discard();
        c.blocked = true;
        break;
      }
      handlers_.Commit(outcome);
      if (sampled) {
        access_log_.Record(request_, outcome.status, AccessLog::NowNs() - started_ns);
      }
      pos += r.consumed;
      c.served = true;
      c.head_done = false;
      c.need = 0;
      c.continue_sent = false;
      if (close) {
        CloseAfterFlush(c);
        return n;
      }
      continue;
    }
    // A request the parser refuses: answer it, then close. Nothing after it is read, since its
    // framing is unknown (that is how request smuggling works).
    scratch_.clear();
    const Outcome outcome = handlers_.HandleParseError(r.status, date_, &scratch_);
    if (!AppendOut(c, scratch_)) {
      c.blocked = true;
      break;
    }
    handlers_.Commit(outcome);
    metrics_->parse_errors[static_cast<size_t>(r.status)].Inc();
    CloseAfterFlush(c);
    return n;
  }
  return pos;
}

bool Shard::AppendOut(Conn& c, std::string_view bytes) {
  const size_t n = bytes.size();
  if (c.out.data == nullptr) {
    pool_.Acquire(&c.out, n);
  }
  if (c.out.tail_room() < n) {
    // Plain connections send straight from |out|: bytes in flight must not move.
    if (!c.out.empty() && (c.out.size() + n > kMaxPendingOutput || (!c.tls && c.send_inflight))) {
      return false;
    }
    pool_.Reserve(&c.out, n);
  }
  std::memcpy(c.out.data + c.out.end, bytes.data(), n);
  c.out.end += n;
  return true;
}

void Shard::Flush(Conn& c) {
  if (c.state != ConnState::kOpen && c.state != ConnState::kClosingAfterFlush) {
    return;
  }
  if (c.tls) {
    while (!c.out.empty()) {
      const tls::TlsIoResult r =
          c.session->WritePlaintext(reinterpret_cast<const uint8_t*>(c.out.head()), c.out.size());
      if (r.status == tls::TlsIoStatus::kOk && r.bytes > 0) {
        pool_.Consume(&c.out, r.bytes);
        continue;
      }
      if (r.status == tls::TlsIoStatus::kError || r.status == tls::TlsIoStatus::kClosed) {
        pool_.Release(&c.out);  // the session cannot carry it any more
        if (c.state == ConnState::kOpen) {
          c.state = ConnState::kClosingAfterFlush;
          pool_.Release(&c.in);
        }
      }
      break;
    }
    if (c.state == ConnState::kClosingAfterFlush && c.out.empty() && !c.tls_shutdown) {
      // close_notify goes after the last response (a no-op before the handshake finished).
      c.session->Shutdown();
      c.tls_shutdown = true;
    }
    if (!c.send_inflight) {
      const std::span<const uint8_t> pending = c.session->PendingCiphertext();
      if (!pending.empty()) {
        uring::PrepSend(Sqe(), c.fd, pending.data(), pending.size(),
                        UserDataFor(static_cast<uint8_t>(Op::kSend), c));
        c.send_len = pending.size();
        c.send_inflight = true;
        ++c.inflight;
      }
    }
  } else if (!c.send_inflight && !c.out.empty()) {
    uring::PrepSend(Sqe(), c.fd, c.out.head(), c.out.size(),
                    UserDataFor(static_cast<uint8_t>(Op::kSend), c));
    c.send_len = c.out.size();
    c.send_inflight = true;
    ++c.inflight;
  }
  if (c.state == ConnState::kClosingAfterFlush && !c.send_inflight && c.out.empty()) {
    StartShutdown(c);
  }
}

void Shard::OnSend(const io_uring_cqe& cqe) {
  Conn* found = Find(cqe.user_data);
  if (found == nullptr) {
    return;
  }
  Conn& c = *found;
  c.send_inflight = false;
  --c.inflight;
  if (c.state == ConnState::kClosing) {
    MaybeRelease(c);
    return;
  }
  if (cqe.res <= 0) {
    Abort(c);  // EPIPE, ECONNRESET, ...: the client is gone
    MaybeRelease(c);
    return;
  }
  const auto sent = static_cast<size_t>(cqe.res);
  if (c.tls) {
    c.session->ConsumeCiphertext(std::min(sent, c.send_len));
  } else {
    pool_.Consume(&c.out, std::min(sent, c.send_len));
  }
  if (c.awaiting && !c.awaited.empty() && c.state == ConnState::kOpen) {
    AppendAwaited(c);
  }
  if (c.blocked && c.state == ConnState::kOpen) {
    c.blocked = false;
    ProcessInput(c);
  }
  if (c.peer_eof && !c.blocked && !c.awaiting && c.state == ConnState::kOpen) {
    CloseAfterFlush(c);  // the client half-closed while its requests waited: all answered now
  }
  MaybeResumeReading(c);
  Flush(c);
  UpdateTimer(c);
  if (draining_ && IsIdle(c)) {
    Abort(c);  // its last response is out; nothing else will come during a drain
  }
  MaybeRelease(c);
}

void Shard::CloseAfterFlush(Conn& c) {
  if (c.state != ConnState::kOpen) {
    return;
  }
  c.state = ConnState::kClosingAfterFlush;
  c.blocked = false;
  // |in| is released by the caller that may still be reading from it (ProcessInput), or by
  // StartShutdown. Flush queues the TLS close_notify once every response is in the session.
}

void Shard::StartShutdown(Conn& c) {
  pool_.Release(&c.in);
  if (c.peer_eof) {
    Abort(c);  // the client already closed its side: nothing to wait for
    return;
  }
  c.state = ConnState::kShutdown;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_shutdown(sqe, c.fd, SHUT_WR);
  io_uring_sqe_set_data64(sqe, UserDataFor(kOpShutdown, c));
  ++c.inflight;
  TimerLink(c, TimerKind::kLinger);
}

void Shard::OnShutdown(const io_uring_cqe& cqe) {
  Conn* found = Find(cqe.user_data);
  if (found == nullptr) {
    return;
  }
  Conn& c = *found;
  --c.inflight;
  if (c.state != ConnState::kShutdown) {
    MaybeRelease(c);
    return;
  }
  if (cqe.res < 0 || c.peer_eof) {
    Abort(c);
  } else {
    c.state = ConnState::kLingering;
    if (!c.recv_armed && !c.starved) {
      c.recv_paused = false;
      ArmRecv(c, /*poll_first=*/true);
    }
  }
  MaybeRelease(c);
}

void Shard::Abort(Conn& c) {
  if (c.state == ConnState::kClosing || c.state == ConnState::kFree) {
    return;
  }
  c.state = ConnState::kClosing;
  TimerUnlink(c);
  c.starved = false;
  if (c.recv_armed || c.send_inflight) {
    // Cancel before close: an armed recv or a send waiting for buffer space would otherwise
    // keep the socket alive. Both SQEs are issued in order in the same submission.
    uring::PrepCancelFd(Sqe(), c.fd, UserDataFor(static_cast<uint8_t>(Op::kCancel), c));
    ++c.inflight;
  }
  uring::PrepClose(Sqe(), c.fd, UserDataFor(static_cast<uint8_t>(Op::kClose), c));
  c.close_submitted = true;
  ++c.inflight;
}

void Shard::OnOpDone(const io_uring_cqe& cqe) {
  Conn* found = Find(cqe.user_data);
  if (found == nullptr) {
    return;  // a listener cancel or the close of a refused connection
  }
  --found->inflight;
  MaybeResumeReading(*found);
  MaybeRelease(*found);
}

void Shard::MaybeRelease(Conn& c) {
  if (c.state == ConnState::kClosing && c.inflight == 0) {
    Release(c);
  }
}

void Shard::Release(Conn& c) {
  c.session.reset();
  std::string().swap(c.awaited);
  pool_.Release(&c.in);
  pool_.Release(&c.out);
  c.state = ConnState::kFree;
  c.fd = -1;
  ++c.generation;
  free_slots_.push_back(static_cast<uint32_t>(&c - conns_.get()));
  --open_;
  metrics_->open_connections.Dec();
}

bool Shard::IsIdle(const Conn& c) const {
  return c.state == ConnState::kOpen && c.in.empty() && c.out.empty() && !c.send_inflight &&
         !c.head_done && !c.awaiting && (!c.tls || c.session->pending_ciphertext_size() == 0);
}

// ---------------------------------------------------------------------------------------------
// Timers

void Shard::UpdateTimer(Conn& c) {
  if (c.state == ConnState::kOpen) {
    const bool awaiting_head = !c.served || (!c.in.empty() && !c.head_done);
    if (awaiting_head && c.out.empty() && !c.send_inflight) {
      if (c.timer != TimerKind::kHeader) {
        TimerLink(c, TimerKind::kHeader);
      }
      return;
    }
    TimerLink(c, TimerKind::kIdle);
  } else if (c.state == ConnState::kClosingAfterFlush) {
    TimerLink(c, TimerKind::kIdle);
  }
}

void Shard::TimerLink(Conn& c, TimerKind kind) {
  TimerUnlink(c);
  int64_t duration = kLingerMs;
  if (kind == TimerKind::kHeader) {
    duration = header_timeout_ms_;
  } else if (kind == TimerKind::kIdle) {
    duration = idle_timeout_ms_;
  }
  const auto index = static_cast<uint32_t>(&c - conns_.get());
  TimerList& list = timers_[static_cast<size_t>(kind)];
  c.timer = kind;
  c.deadline_ms = now_ms_ + duration;
  c.timer_prev = list.tail;
  c.timer_next = kNil;
  if (list.tail != kNil) {
    conns_[list.tail].timer_next = index;
  } else {
    list.head = index;
  }
  list.tail = index;
}

void Shard::TimerUnlink(Conn& c) {
  if (c.timer == TimerKind::kNone) {
    return;
  }
  TimerList& list = timers_[static_cast<size_t>(c.timer)];
  if (c.timer_prev != kNil) {
    conns_[c.timer_prev].timer_next = c.timer_next;
  } else {
    list.head = c.timer_next;
  }
  if (c.timer_next != kNil) {
    conns_[c.timer_next].timer_prev = c.timer_prev;
  } else {
    list.tail = c.timer_prev;
  }
  c.timer = TimerKind::kNone;
  c.timer_prev = kNil;
  c.timer_next = kNil;
}

void Shard::ExpireTimers() {
  for (size_t k = 1; k < 4; ++k) {
    TimerList& list = timers_[k];
    while (list.head != kNil && conns_[list.head].deadline_ms <= now_ms_) {
      Conn& c = conns_[list.head];
      TimerUnlink(c);
      if (k == static_cast<size_t>(TimerKind::kHeader)) {
        metrics_->header_timeouts.Inc();
      } else if (k == static_cast<size_t>(TimerKind::kIdle)) {
        metrics_->idle_timeouts.Inc();
      }
      Abort(c);
      MaybeRelease(c);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Control

void Shard::OnWake(int32_t command) {
  if (command == kShardDrain) {
    BeginDrain();
  } else if (command == kShardResponses) {
    // Taken after this batch of completions (Loop), together with any that arrive meanwhile.
  } else {
    MaybeLoadState();
  }
}

bool Shard::Ready(std::string_view* reason) const {
  if (shared_.control != nullptr && !shared_.control->healthy()) {
    *reason = "the revocation log has failed (see the logs and GET /admin/wal); restart ringward";
    return false;
  }
  if (replica_stale_ && shared_.replica_fail_closed) {
    *reason = "replication is stale: no word from the leader for longer than max_staleness_ms "
              "(fail_mode closed)";
    return false;
  }
  return all_ready_ && !draining_;
}

// ---------------------------------------------------------------------------------------------
// Control-plane answers

void Shard::TakeControlResponses() {
  channel_->TakeResponses([this](ControlResponse& response) { Deliver(response); });
}

void Shard::Deliver(ControlResponse& response) {
  if (response.conn_index >= max_conns_) {
    return;
  }
  Conn& c = conns_[response.conn_index];
  // The connection may have closed (and its slot been reused) while the control plane worked:
  // the revocation stands, the answer has nobody to go to.
  if (c.state == ConnState::kFree || c.generation != response.conn_generation || !c.awaiting) {
    return;
  }
  scratch_.clear();
  const Outcome outcome = admin_->Render(response, date_, &scratch_);
  admin_->Commit(outcome);
  if (c.state != ConnState::kOpen) {
    c.awaiting = false;  // closing: the answer is dropped with the connection
    return;
  }
  c.awaited.assign(scratch_);
  c.close_after_awaited = response.connection == ConnectionHeader::kClose;
  if (!AppendAwaited(c)) {
    UpdateTimer(c);
    return;  // retried when the send in flight completes (OnSend)
  }
  Flush(c);
  UpdateTimer(c);
}

bool Shard::AppendAwaited(Conn& c) {
  if (!AppendOut(c, c.awaited)) {
    return false;
  }
  std::string().swap(c.awaited);
  c.awaiting = false;
  if (c.close_after_awaited) {
    CloseAfterFlush(c);  // the request said Connection: close; nothing after it is read
    return true;
  }
  // The requests that arrived meanwhile are answered now, in order.
  ProcessInput(c);
  if (c.peer_eof && !c.blocked && !c.awaiting && c.state == ConnState::kOpen) {
    CloseAfterFlush(c);  // the client half-closed while waiting: all answered now
  }
  MaybeResumeReading(c);
  return true;
}

void Shard::BeginDrain() {
  if (draining_) {
    return;
  }
  draining_ = true;
  drain_deadline_ms_ = now_ms_ + std::max(0, state_->config.server.shutdown_grace_ms);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (accept_armed_[i]) {
      uring::PrepCancel(Sqe(), uring::EncodeUserData(Op::kAccept, static_cast<uint32_t>(i), 0), 0,
                        uring::EncodeUserData(Op::kCancel, kNoConn, 0));
    } else {
      listeners_[i].owned.reset();
    }
  }
  for (uint32_t i = 0; i < max_conns_; ++i) {
    Conn& c = conns_[i];
    if (c.state == ConnState::kOpen && IsIdle(c)) {
      Abort(c);
      MaybeRelease(c);
    }
  }
}

}  // namespace ringward::server
