// server/watchdog.h: the systemd watchdog, pinged only while every shard's event loop turns.
//
// Watchdog is the control thread's half. Every half watchdog interval it looks at the shards'
// LivenessProbes (concurrent/liveness_probe.h): when every shard has echoed the latest probe it
// sends WATCHDOG=1, posts the next probe number and wakes the shards so that idle ones turn
// their loop once; when a shard has not echoed, it sends nothing, logs which shard is stuck
// (once per stall) and keeps waiting for that same probe. systemd kills a service that missed
// its pings for a whole WatchdogSec= (SIGABRT, core dump, Restart=on-failure).
//
// ShardHeartbeat is the shard's half: Beat() at the top of every loop turn echoes the latest
// probe number. It also carries the test hook that stalls one shard:
//   RINGWARD_TEST_HOOKS=1 RINGWARD_TEST_STALL_SHARD=<index>:<seconds>[:<after seconds>]
// makes shard <index> sleep <seconds> inside one loop turn, the first one that starts at least
// <after seconds> (default 1) after the shard began serving. Without RINGWARD_TEST_HOOKS=1 the
// variable is ignored, so an environment left over from a test never stalls production.
//
// Threads: a Watchdog belongs to the control thread; each ShardHeartbeat to its shard. The
// probes are owned by the Server and outlive both.
#ifndef RINGWARD_SERVER_WATCHDOG_H_
#define RINGWARD_SERVER_WATCHDOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "concurrent/liveness_probe.h"
#include "server/systemd_notify.h"

namespace ringward::server {

// StallHook is the parsed RINGWARD_TEST_STALL_SHARD.
struct StallHook {
  int shard = -1;  // < 0: no stall
  int64_t stall_ms = 0;
  int64_t after_ms = 1000;
};

// StallHookFromEnvironment reads the hook; a malformed value is logged and ignored.
StallHook StallHookFromEnvironment();

class ShardHeartbeat {
 public:
  // Init: |probe| is this shard's probe, or null when there is no watchdog. |now_ms| is the
  // shard's CLOCK_MONOTONIC milliseconds when it starts serving.
  void Init(concurrent::LivenessProbe* probe, int shard, int64_t now_ms);

  // Beat is called at the top of every loop turn: it honours the stall hook first (a stalled
  // turn must not echo), then echoes the latest probe number if it changed.
  void Beat(int64_t now_ms) {
    if (stall_at_ms_ >= 0 && now_ms >= stall_at_ms_) {
      Stall();
    }
    if (probe_ != nullptr) {
      const uint64_t n = probe_->posted();
      if (n != echoed_) {
        probe_->Echo(n);
        echoed_ = n;
      }
    }
  }

 private:
  void Stall();

  concurrent::LivenessProbe* probe_ = nullptr;
  uint64_t echoed_ = 0;
  int shard_ = 0;
  int64_t stall_at_ms_ = -1;
  int64_t stall_ms_ = 0;
};

class Watchdog {
 public:
  // |interval| is systemd's (WatchdogSec=); pings go out every |interval| / 2. |wake_shards|
  // makes every shard turn its loop (a MSG_RING each); it runs on the control thread.
  Watchdog(SystemdNotifier* notifier, std::span<concurrent::LivenessProbe> probes,
           std::chrono::microseconds interval, std::function<void()> wake_shards);

  // Start posts the first probe; the first ping follows one period later, once every shard
  // has echoed it.
  void Start(std::chrono::steady_clock::time_point now);

  // TimeUntilTick is how long the control loop may sleep before calling Tick.
  std::chrono::milliseconds TimeUntilTick(std::chrono::steady_clock::time_point now) const;

  // Tick pings systemd and posts the next probe when every shard answered, when a period has
  // passed; otherwise does nothing.
  void Tick(std::chrono::steady_clock::time_point now);

  uint64_t pings() const { return pings_; }

 private:
  void PostAndWake();

  SystemdNotifier* notifier_;
  std::span<concurrent::LivenessProbe> probes_;
  std::chrono::microseconds period_;
  std::function<void()> wake_shards_;
  std::chrono::steady_clock::time_point next_tick_;
  uint64_t probe_ = 0;
  uint64_t pings_ = 0;
  bool stalled_ = false;  // a stall has been logged and not yet its end
  std::chrono::steady_clock::time_point stalled_since_;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_WATCHDOG_H_
