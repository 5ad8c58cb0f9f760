#include "load/worker.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringward/net/uring/prep.h"
#include "ringward/net/uring/user_data.h"

namespace ringward::load {
namespace {

using uring::Op;

constexpr Op kOpConnect = static_cast<Op>(static_cast<int>(Op::kUser) + 1);
constexpr Op kOpStop = static_cast<Op>(static_cast<int>(Op::kUser) + 2);
constexpr uint16_t kBufferGroup = 1;
constexpr uint32_t kBufferSize = 16 * 1024;  // a whole TLS record fits
constexpr int64_t kBackOffNs = 100'000'000;
constexpr int64_t kCheckIntervalNs = 10'000'000;
// kMaxBacklog bounds the open loop's queue of requests waiting for a connection (64 MiB).
constexpr size_t kMaxBacklog = size_t{1} << 22;

uint32_t BufferCount(int connections) {
  const uint64_t want = std::bit_ceil(static_cast<uint64_t>(std::max(connections, 1)) * 2);
  return static_cast<uint32_t>(std::clamp<uint64_t>(want, 64, 2048));
}

}  // namespace

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Worker::DueQueue::Push(Due d) {
  if (count_ == items_.size()) {
    std::vector<Due> bigger(std::max<size_t>(items_.size() * 2, 1024));
    for (size_t i = 0; i < count_; ++i) {
      bigger[i] = items_[(head_ + i) % items_.size()];
    }
    items_ = std::move(bigger);
    head_ = 0;
  }
  items_[(head_ + count_) % items_.size()] = d;
  ++count_;
}

Worker::Due Worker::DueQueue::Pop() {
  const Due d = items_[head_];
  head_ = (head_ + 1) % items_.size();
  --count_;
  return d;
}

Worker::Worker(const Workload& workload, const TlsClientContext* tls, WorkerPlan plan)
    : workload_(workload), tls_ctx_(tls), plan_(plan) {
  cursor_ = workload_.NewCursor(plan_.thread, plan_.threads, plan_.seed);
  for (const RequestTemplate& t : workload_.templates()) {
    targets_of_.push_back(t.target);
    TemplateStats ts;
    ts.name = t.name;
    stats_.templates.push_back(std::move(ts));
  }
  available_.resize(workload_.targets().size());
  backlog_.resize(workload_.targets().size());
}

Worker::~Worker() {
  // The kernel may still read send buffers and write provided buffers until the ring is gone,
  // so the ring goes first, then the sockets.
  buffers_.reset();
  ring_.reset();
  for (Conn& c : conns_) {
    if (c.fd >= 0) {
      ::close(c.fd);
    }
  }
}

int64_t Worker::Now() const { return now_ns_; }

bool Worker::Issuing() const {
  return running_ && !stopping_ && now_ns_ < end_ns_ &&
         (plan_.max_requests == 0 || issued_ < plan_.max_requests);
}

absl::Status Worker::Setup() {
  const unsigned sq = static_cast<unsigned>(
      std::clamp<uint64_t>(std::bit_ceil(static_cast<uint64_t>(plan_.connections) * 2), 64, 4096));
  absl::StatusOr<uring::Ring> ring = uring::Ring::Create(sq);
  if (!ring.ok()) {
    return ring.status();
  }
  ring_.emplace(*std::move(ring));
  absl::StatusOr<uring::BufferRing> buffers =
      uring::BufferRing::Create(*ring_, kBufferGroup, BufferCount(plan_.connections), kBufferSize);
  if (!buffers.ok()) {
    return buffers.status();
  }
  buffers_.emplace(*std::move(buffers));
  read_scratch_.resize(kBufferSize);

  // Connections go to targets in proportion to the weight of the templates each target serves.
  const int targets = static_cast<int>(workload_.targets().size());
  std::vector<int> per_target(static_cast<size_t>(targets), 0);
  const uint64_t total = workload_.TargetWeight(-1);
  int assigned = 0;
  for (int t = 1; t < targets; ++t) {
    const uint64_t w = workload_.TargetWeight(t);
    int n = static_cast<int>((static_cast<uint64_t>(plan_.connections) * w + total / 2) / total);
    // Every target with work gets a connection, and target 0 keeps at least one when it has
    // work (with --workload revoke and --admin-url it has none: every request goes to the admin
    // listener, and one sent to the public URL would only count a 404).
    const int keep0 = workload_.TargetWeight(0) > 0 ? 1 : 0;
    const int most = std::max(plan_.connections - keep0 - assigned, 0);
    n = std::clamp(n, std::min(w > 0 ? 1 : 0, most), most);
    per_target[static_cast<size_t>(t)] = n;
    assigned += n;
  }
  per_target[0] = plan_.connections - assigned;
  conns_.resize(static_cast<size_t>(plan_.connections));
  size_t next = 0;
  for (int t = 0; t < targets; ++t) {
    for (int i = 0; i < per_target[static_cast<size_t>(t)]; ++i) {
      Conn& c = conns_[next++];
      c.target = t;
      c.fifo.resize(static_cast<size_t>(plan_.pipeline));
      c.queued.reserve(4096);
      c.sending.reserve(4096);
    }
  }
  if (plan_.stop_fd >= 0) {
    io_uring_sqe* sqe = ring_->GetSqe();
    io_uring_prep_poll_add(sqe, plan_.stop_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, uring::EncodeUserData(kOpStop, 0, 0));
  }
  return absl::OkStatus();
}

absl::Status Worker::Connect(int64_t deadline_ns) {
  if (absl::Status s = Setup(); !s.ok()) {
    return s;
  }
  now_ns_ = MonotonicNs();
  for (size_t i = 0; i < conns_.size(); ++i) {
    StartConnect(static_cast<int>(i));
  }
  next_check_ns_ = now_ns_ + kCheckIntervalNs;
  while (!stopping_) {
    now_ns_ = MonotonicNs();
    if (now_ns_ >= deadline_ns) {
      break;
    }
    bool settled = true;
    for (const Conn& c : conns_) {
      if (c.state != State::kReady && !c.back_off) {
        settled = false;
        break;
      }
    }
    if (settled) {
      break;
    }
    if (now_ns_ >= next_check_ns_) {
      CheckTimers();
      next_check_ns_ = now_ns_ + kCheckIntervalNs;
    }
    Turn(std::min(deadline_ns, next_check_ns_));
  }
  return absl::OkStatus();
}

int Worker::ready_connections() const {
  int n = 0;
  for (const Conn& c : conns_) {
    n += c.state == State::kReady ? 1 : 0;
  }
  return n;
}

void Worker::Run(int64_t t0_ns) {
  const bool open = plan_.rate > 0;
  if (open) {
    // The default 50 µs timer slack would make every wake-up for the next intended time late.
    prctl(PR_SET_TIMERSLACK, 1000UL);
  }
  t0_ns_ = t0_ns;
  end_ns_ = t0_ns + plan_.duration_ns;
  const double interval_ns = open ? 1e9 / plan_.rate : 0;
  const int64_t phase_ns =
      open ? static_cast<int64_t>(interval_ns * plan_.thread / std::max(plan_.threads, 1)) : 0;
  next_due_ns_ = t0_ns + phase_ns;
  stats_.seconds.reserve(static_cast<size_t>(plan_.duration_ns / 1'000'000'000 + 4));
  while ((now_ns_ = MonotonicNs()) < t0_ns && !stopping_) {
    Turn(t0_ns);
  }
  running_ = true;
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].state == State::kReady) {
      OnReady(static_cast<int>(i));
    }
  }
  int64_t drain_deadline = 0;
  while (true) {
    now_ns_ = MonotonicNs();
    if (open) {
      while (!stopping_ && next_due_ns_ <= now_ns_ && next_due_ns_ < end_ns_ &&
             (plan_.max_requests == 0 || issued_ < plan_.max_requests)) {
        const int t = workload_.Pick(-1, cursor_.rng);
        ++stats_.scheduled;
        ++issued_;
        Dispatch(targets_of_[static_cast<size_t>(t)], Due{next_due_ns_, static_cast<uint16_t>(t)});
        next_due_ns_ = t0_ns + phase_ns + static_cast<int64_t>(static_cast<double>(issued_) * interval_ns);
      }
    }
    if (!stopping_ &&
        (now_ns_ >= end_ns_ || (open && next_due_ns_ >= end_ns_) ||
         (plan_.max_requests != 0 && issued_ >= plan_.max_requests))) {
      stopping_ = true;
    }
    if (stopping_ && drain_deadline == 0) {
      stats_.window_ns = std::min(now_ns_, end_ns_) - t0_ns;
      if (open) {
        // The schedule's own length: one interval per request that came due.
        stats_.window_ns = std::min(
            plan_.duration_ns, static_cast<int64_t>(static_cast<double>(issued_) * interval_ns));
      }
      drain_deadline = std::max(now_ns_, end_ns_) + plan_.timeout_ns;
    }
    if (stopping_) {
      bool idle = true;
      for (const DueQueue& q : backlog_) {
        idle = idle && q.empty();
      }
      for (const Conn& c : conns_) {
        idle = idle && c.fifo_count == 0;
      }
      if (idle || now_ns_ >= drain_deadline) {
        break;
      }
    }
    if (now_ns_ >= next_check_ns_) {
      CheckTimers();
      next_check_ns_ = now_ns_ + kCheckIntervalNs;
    }
    int64_t wake = next_check_ns_;
    if (!stopping_) {
      wake = std::min(wake, open ? next_due_ns_ : end_ns_);
    } else {
      wake = std::min(wake, drain_deadline);
    }
    Turn(wake);
  }
  for (const Conn& c : conns_) {
    stats_.errors.unfinished += c.fifo_count;
  }
  for (const DueQueue& q : backlog_) {
    stats_.errors.unfinished += q.size();
  }
  running_ = false;
}

void Worker::Turn(int64_t wait_until_ns) {
  FlushSends();
  buffers_->Publish();
  const int64_t wait = wait_until_ns - MonotonicNs();
  if (wait > 0) {
    (void)ring_->SubmitAndWait(1, std::chrono::nanoseconds(wait));
  } else {
    (void)ring_->Submit();
  }
  ring_->ForEachCompletion([this](const io_uring_cqe& cqe) {
    HandleCompletion(cqe.user_data, cqe.res, cqe.flags);
  });
}

void Worker::HandleCompletion(uint64_t user_data, int res, uint32_t flags) {
  now_ns_ = MonotonicNs();
  const uring::UserData d = uring::UserData::Decode(user_data);
  if (d.op == kOpStop) {
    stopping_ = true;
    return;
  }
  if (d.op != kOpConnect && d.op != Op::kRecv && d.op != Op::kSend) {
    return;  // cancel completions and the like carry nothing to act on
  }
  if (d.index >= conns_.size() || d.generation != conns_[d.index].generation) {
    // Cannot happen (a slot's socket is reused only after all its operations finished), but a
    // stray buffer must still go back to the kernel.
    if ((flags & IORING_CQE_F_BUFFER) != 0) {
      buffers_->Recycle(static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT));
    }
    return;
  }
  const int index = static_cast<int>(d.index);
  if (d.op == kOpConnect) {
    OnConnected(index, res);
  } else if (d.op == Op::kRecv) {
    OnRecv(index, res, flags);
  } else {
    OnSend(index, res);
  }
}

void Worker::StartConnect(int index) {
  Conn& c = conns_[static_cast<size_t>(index)];
  const Url& url = workload_.targets()[static_cast<size_t>(c.target)];
  const int fd = ::socket(url.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++stats_.errors.connect;
    last_error_ = absl::StrCat("socket: ", std::strerror(errno));
    c.back_off = true;
    c.retry_at_ns = now_ns_ + kBackOffNs;
    return;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c.fd = fd;
  ++c.generation;
  c.state = State::kConnecting;
  c.state_since_ns = now_ns_;
  c.connect_busy = true;
  c.parser.Reset();
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&url.addr), url.addr_len);
  io_uring_sqe_set_data64(sqe, uring::EncodeUserData(kOpConnect, static_cast<uint32_t>(index),
                                                     c.generation));
}

void Worker::OnConnected(int index, int res) {
  Conn& c = conns_[static_cast<size_t>(index)];
  c.connect_busy = false;
  if (c.state != State::kConnecting) {
    MaybeFinishClose(index);
    return;
  }
  if (res < 0) {
    ++stats_.errors.connect;
    const Url& url = workload_.targets()[static_cast<size_t>(c.target)];
    last_error_ = absl::StrCat("connect to ", url.Origin(), ": ", std::strerror(-res));
    Close(index, nullptr, /*back_off=*/true);
    return;
  }
  ++stats_.connects;
  c.back_off = false;
  ArmRecv(index, false);
  const Url& url = workload_.targets()[static_cast<size_t>(c.target)];
  if (url.tls) {
    if (c.tls == nullptr) {
      c.tls = std::make_unique<TlsClientConnection>();
    }
    if (absl::Status s = c.tls->Start(*tls_ctx_, url.host); !s.ok()) {
      ++stats_.errors.tls;
      last_error_ = std::string(s.message());
      Close(index, nullptr, true);
      return;
    }
    c.tls->TakeCiphertext(&c.queued);
    MarkSend(index);
    c.state = State::kHandshake;
    c.state_since_ns = now_ns_;
    return;
  }
  c.state = State::kReady;
  c.state_since_ns = now_ns_;
  OnReady(index);
}

void Worker::ArmRecv(int index, bool poll_first) {
  Conn& c = conns_[static_cast<size_t>(index)];
  io_uring_sqe* sqe = ring_->GetSqe();
  uring::PrepMultishotRecv(sqe, c.fd, kBufferGroup,
                           uring::EncodeUserData(Op::kRecv, static_cast<uint32_t>(index),
                                                 c.generation),
                           poll_first);
  c.recv_armed = true;
}

void Worker::OnRecv(int index, int res, uint32_t flags) {
  Conn& c = conns_[static_cast<size_t>(index)];
  const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
  const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  if ((flags & IORING_CQE_F_MORE) == 0) {
    c.recv_armed = false;
  }
  if (c.state == State::kClosing || c.state == State::kDown) {
    if (has_buffer) {
      buffers_->Recycle(bid);
    }
    MaybeFinishClose(index);
    return;
  }
  if (res == -ENOBUFS) {
    if (!c.recv_armed) {
      ArmRecv(index, /*poll_first=*/true);
    }
    return;
  }
  if (res < 0) {
    if (has_buffer) {
      buffers_->Recycle(bid);
    }
    last_error_ = absl::StrCat("recv: ", std::strerror(-res));
    Close(index, &stats_.errors.read, false);
    return;
  }
  if (res == 0) {
    Response r;
    const ResponseParser::Result pr = c.parser.Eof(&r);
    if (pr == ResponseParser::Result::kComplete) {
      OnResponse(index, r);
    }
    Close(index, &stats_.errors.closed, false);
    return;
  }
  stats_.bytes_in += static_cast<uint64_t>(res);
  const char* data = reinterpret_cast<const char*>(buffers_->Buffer(bid));
  if (c.tls != nullptr) {
    const absl::Status s =
        c.tls->PushCiphertext(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(res));
    buffers_->Recycle(bid);
    if (!s.ok()) {
      ++stats_.errors.tls;
      last_error_ = std::string(s.message());
      Close(index, &stats_.errors.closed, true);
      return;
    }
    if (c.state == State::kHandshake && c.tls->handshake_done()) {
      c.state = State::kReady;
      c.state_since_ns = now_ns_;
      OnReady(index);
    }
    while (c.state == State::kReady) {
      size_t n = 0;
      const TlsClientConnection::ReadResult rr =
          c.tls->ReadPlaintext(read_scratch_.data(), read_scratch_.size(), &n);
      if (rr == TlsClientConnection::ReadResult::kData) {
        Consume(index, read_scratch_.data(), n);
      } else if (rr == TlsClientConnection::ReadResult::kNone) {
        break;
      } else {
        if (rr == TlsClientConnection::ReadResult::kError) {
          ++stats_.errors.tls;
        }
        Close(index, &stats_.errors.closed, false);
        return;
      }
    }
    if (c.state == State::kReady || c.state == State::kHandshake) {
      c.tls->TakeCiphertext(&c.queued);
      if (!c.queued.empty()) {
        MarkSend(index);
      }
    }
  } else {
    Consume(index, data, static_cast<size_t>(res));
    buffers_->Recycle(bid);
  }
  if ((c.state == State::kReady || c.state == State::kHandshake) && !c.recv_armed) {
    ArmRecv(index, false);
  }
}

void Worker::FailHead(int index, uint64_t* counter) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.fifo_count > 0) {
    c.fifo_head = (c.fifo_head + 1) % c.fifo.size();
    --c.fifo_count;
    ++*counter;
    RecordSecondErrors(1);
  }
}

void Worker::Consume(int index, const char* data, size_t len) {
  Conn& c = conns_[static_cast<size_t>(index)];
  const char* p = data;
  const char* end = data + len;
  while (p < end && c.state == State::kReady) {
    Response r;
    const ResponseParser::Result pr = c.parser.Parse(&p, end, &r);
    if (pr == ResponseParser::Result::kNeedMore) {
      break;
    }
    if (pr == ResponseParser::Result::kError) {
      last_error_ = absl::StrCat("malformed response: ", std::string(c.parser.error()));
      if (c.fifo_count == 0) {
        ++stats_.errors.parse;
      }
      FailHead(index, &stats_.errors.parse);
      Close(index, &stats_.errors.closed, false);
      return;
    }
    OnResponse(index, r);
  }
}

void Worker::OnResponse(int index, const Response& r) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.fifo_count == 0) {
    ++stats_.errors.parse;  // an answer nobody asked for
    last_error_ = "response without a request";
    Close(index, &stats_.errors.closed, false);
    return;
  }
  const InFlight f = c.fifo[c.fifo_head];
  c.fifo_head = (c.fifo_head + 1) % c.fifo.size();
  --c.fifo_count;
  const int64_t now = now_ns_;
  const int64_t latency = now - f.intended_ns;
  ++stats_.completed;
  stats_.latency.Record(latency);
  if (plan_.rate > 0) {
    stats_.service.Record(now - f.sent_ns);
  }
  TemplateStats& ts = stats_.templates[f.tmpl];
  ++ts.completed;
  ts.latency.Record(latency);
  if (r.status >= 0 && r.status < Stats::kMaxStatus) {
    ++stats_.status[static_cast<size_t>(r.status)];
  } else {
    ++stats_.status_other;
  }
  const int64_t rel = now - t0_ns_;
  SecondBucket& second = stats_.SecondAt(rel);
  ++second.completed;
  second.max_latency_ns = std::max(second.max_latency_ns, static_cast<uint64_t>(std::max<int64_t>(latency, 0)));
  stats_.last_completion_ns = std::max(stats_.last_completion_ns, rel);
  if (IsExpected(f.expect, r.status)) {
    ++stats_.ok;
  } else {
    ++stats_.errors.status;
    ++ts.unexpected;
    ++second.unexpected;
    ++second.errors;
  }
  const bool accepted = r.status >= 200 && r.status < 300;
  const bool rejected = r.status == 401;
  VerifyCounts& v = stats_.verify;
  switch (f.expect) {
    case Expect::kValid:
      (accepted ? v.valid_accepted : rejected ? v.valid_rejected : v.other)++;
      break;
    case Expect::kRejected:
      (rejected ? v.bad_rejected : accepted ? v.bad_accepted : v.other)++;
      break;
    case Expect::kUnknown:
      (accepted ? v.unknown_accepted : rejected ? v.unknown_rejected : v.other)++;
      break;
    case Expect::kSuccess:
      break;
  }
  if (!r.keep_alive) {
    Close(index, &stats_.errors.closed, false);
    return;
  }
  IssueMore(index);
}

void Worker::OnReady(int index) {
  if (running_) {
    IssueMore(index);
  }
}

void Worker::IssueMore(int index) {
  Conn& c = conns_[static_cast<size_t>(index)];
  const size_t depth = static_cast<size_t>(plan_.pipeline);
  if (plan_.rate <= 0) {
    while (c.state == State::kReady && c.fifo_count < depth && Issuing()) {
      ++issued_;
      SendRequest(index, workload_.Pick(c.target, cursor_.rng), now_ns_);
    }
    return;
  }
  DueQueue& backlog = backlog_[static_cast<size_t>(c.target)];
  while (c.state == State::kReady && c.fifo_count < depth && !backlog.empty()) {
    const Due d = backlog.Pop();
    SendRequest(index, d.tmpl, d.intended_ns);
  }
  if (c.state == State::kReady && c.fifo_count < depth && !c.available) {
    c.available = true;
    available_[static_cast<size_t>(c.target)].push_back(index);
  }
}

int Worker::TakeAvailable(int target) {
  std::vector<int>& stack = available_[static_cast<size_t>(target)];
  while (!stack.empty()) {
    const int index = stack.back();
    stack.pop_back();
    Conn& c = conns_[static_cast<size_t>(index)];
    if (!c.available) {
      continue;  // a stale entry: the connection closed since it was listed
    }
    c.available = false;
    if (c.state == State::kReady && c.fifo_count < static_cast<size_t>(plan_.pipeline)) {
      return index;
    }
  }
  return -1;
}

void Worker::Dispatch(int target, Due due) {
  const int index = TakeAvailable(target);
  if (index < 0) {
    DueQueue& backlog = backlog_[static_cast<size_t>(target)];
    if (backlog.size() >= kMaxBacklog) {
      ++stats_.errors.unfinished;  // the server is long gone; bound the client's memory
      RecordSecondErrors(1);
      return;
    }
    backlog.Push(due);
    return;
  }
  SendRequest(index, due.tmpl, due.intended_ns);
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.state == State::kReady && c.fifo_count < static_cast<size_t>(plan_.pipeline)) {
    c.available = true;
    available_[static_cast<size_t>(target)].push_back(index);
  }
}

void Worker::SendRequest(int index, int tmpl, int64_t intended_ns) {
  Conn& c = conns_[static_cast<size_t>(index)];
  Expect expect;
  if (c.tls != nullptr) {
    plain_scratch_.clear();
    expect = workload_.Build(tmpl, cursor_, &plain_scratch_);
    if (absl::Status s = c.tls->WritePlaintext(plain_scratch_); !s.ok()) {
      ++stats_.errors.tls;
      last_error_ = std::string(s.message());
      Close(index, &stats_.errors.closed, true);
      return;
    }
    c.tls->TakeCiphertext(&c.queued);
  } else {
    expect = workload_.Build(tmpl, cursor_, &c.queued);
  }
  const size_t slot = (c.fifo_head + c.fifo_count) % c.fifo.size();
  c.fifo[slot] = InFlight{intended_ns, now_ns_, static_cast<uint16_t>(tmpl), expect};
  ++c.fifo_count;
  ++stats_.sent;
  ++stats_.templates[static_cast<size_t>(tmpl)].sent;
  if (now_ns_ < end_ns_) {
    ++stats_.sent_in_window;
  }
  if (plan_.rate > 0) {
    stats_.send_lag.Record(now_ns_ - intended_ns);
  }
  MarkSend(index);
}

void Worker::MarkSend(int index) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (!c.send_marked) {
    c.send_marked = true;
    to_send_.push_back(index);
  }
}

void Worker::FlushSends() {
  for (int index : to_send_) {
    conns_[static_cast<size_t>(index)].send_marked = false;
    StartSend(index);
  }
  to_send_.clear();
}

void Worker::StartSend(int index) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.send_busy || c.queued.empty() || c.state == State::kClosing || c.state == State::kDown) {
    return;
  }
  std::swap(c.sending, c.queued);
  c.queued.clear();
  c.sent = 0;
  io_uring_sqe* sqe = ring_->GetSqe();
  uring::PrepSend(sqe, c.fd, c.sending.data(), c.sending.size(),
                  uring::EncodeUserData(Op::kSend, static_cast<uint32_t>(index), c.generation));
  c.send_busy = true;
}

void Worker::OnSend(int index, int res) {
  Conn& c = conns_[static_cast<size_t>(index)];
  c.send_busy = false;
  if (c.state == State::kClosing || c.state == State::kDown) {
    MaybeFinishClose(index);
    return;
  }
  if (res < 0) {
    last_error_ = absl::StrCat("send: ", std::strerror(-res));
    Close(index, &stats_.errors.read, false);
    return;
  }
  stats_.bytes_out += static_cast<uint64_t>(res);
  c.sent += static_cast<size_t>(res);
  if (c.sent < c.sending.size()) {
    io_uring_sqe* sqe = ring_->GetSqe();
    uring::PrepSend(sqe, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent,
                    uring::EncodeUserData(Op::kSend, static_cast<uint32_t>(index), c.generation));
    c.send_busy = true;
    return;
  }
  c.sending.clear();
  c.sent = 0;
  if (!c.queued.empty()) {
    MarkSend(index);
  }
}

void Worker::RecordSecondErrors(uint64_t n) {
  if (running_ && n > 0) {
    stats_.SecondAt(now_ns_ - t0_ns_).errors += n;
  }
}

void Worker::Close(int index, uint64_t* lost, bool back_off) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.state == State::kDown || c.state == State::kClosing) {
    return;
  }
  if (lost != nullptr) {
    *lost += c.fifo_count;
  }
  RecordSecondErrors(c.fifo_count);
  c.fifo_count = 0;
  c.fifo_head = 0;
  c.available = false;
  c.back_off = back_off;
  c.state = State::kClosing;
  c.state_since_ns = now_ns_;
  c.queued.clear();
  c.parser.Reset();
  // shutdown ends the armed recv (it completes with 0) and fails a pending send; the cancels
  // cover a connect still in progress and a recv the shutdown did not wake.
  ::shutdown(c.fd, SHUT_RDWR);
  if (c.recv_armed) {
    uring::PrepCancel(ring_->GetSqe(),
                      uring::EncodeUserData(Op::kRecv, static_cast<uint32_t>(index), c.generation),
                      0, uring::EncodeUserData(Op::kCancel, 0, 0));
  }
  if (c.connect_busy) {
    uring::PrepCancel(ring_->GetSqe(),
                      uring::EncodeUserData(kOpConnect, static_cast<uint32_t>(index), c.generation),
                      0, uring::EncodeUserData(Op::kCancel, 0, 0));
  }
  MaybeFinishClose(index);
}

void Worker::MaybeFinishClose(int index) {
  Conn& c = conns_[static_cast<size_t>(index)];
  if (c.state != State::kClosing || c.recv_armed || c.send_busy || c.connect_busy) {
    return;
  }
  ::close(c.fd);
  c.fd = -1;
  c.sending.clear();
  c.sent = 0;
  if (c.tls != nullptr) {
    c.tls->Reset();
  }
  c.state = State::kDown;
  c.retry_at_ns = now_ns_ + (c.back_off ? kBackOffNs : 0);
  if (!c.back_off && !stopping_) {
    StartConnect(index);
  }
}

void Worker::CheckTimers() {
  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    const int index = static_cast<int>(i);
    switch (c.state) {
      case State::kDown:
        if (!stopping_ && now_ns_ >= c.retry_at_ns) {
          StartConnect(index);
        }
        break;
      case State::kConnecting:
      case State::kHandshake:
        if (now_ns_ - c.state_since_ns > plan_.timeout_ns) {
          ++stats_.errors.connect;
          last_error_ = "connect or TLS handshake timed out";
          Close(index, nullptr, true);
        }
        break;
      case State::kReady:
        if (c.fifo_count > 0 && now_ns_ - c.fifo[c.fifo_head].sent_ns > plan_.timeout_ns) {
          FailHead(index, &stats_.errors.timeout);
          Close(index, &stats_.errors.closed, false);
        }
        break;
      case State::kClosing:
        break;
    }
  }
}

}  // namespace ringward::load
