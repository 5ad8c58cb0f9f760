#include "server/watchdog.h"

#include <time.h>

#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ringward/base/strings.h"
#include "server/log.h"

namespace ringward::server {

namespace {

bool ParseSeconds(absl::string_view text, int64_t* ms) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || seconds < 0 || seconds > 3600) {
    return false;
  }
  *ms = static_cast<int64_t>(seconds * 1000);
  return true;
}

}  // namespace

StallHook StallHookFromEnvironment() {
  StallHook hook;
  const char* enabled = std::getenv("RINGWARD_TEST_HOOKS");
  const char* value = std::getenv("RINGWARD_TEST_STALL_SHARD");
  if (enabled == nullptr || std::string_view(enabled) != "1" || value == nullptr ||
      *value == '\0') {
    return hook;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(value, ':');
  int shard = -1;
  StallHook parsed;
  if ((parts.size() == 2 || parts.size() == 3) && absl::SimpleAtoi(parts[0], &shard) &&
      shard >= 0 && ParseSeconds(parts[1], &parsed.stall_ms) &&
      (parts.size() == 2 || ParseSeconds(parts[2], &parsed.after_ms))) {
    parsed.shard = shard;
    LogEvent(LogPriority::kWarning, "test_hook",
             {{"hook", "stall_shard"},
              {"shard", shard},
              {"stall_ms", parsed.stall_ms},
              {"after_ms", parsed.after_ms}});
    return parsed;
  }
  LogEvent(LogPriority::kWarning, "test_hook",
           {{"hook", "stall_shard"},
            {"status", "ignored"},
            {"value", value},
            {"expected", "<index>:<seconds>[:<after seconds>]"}});
  return hook;
}

void ShardHeartbeat::Init(concurrent::LivenessProbe* probe, int shard, int64_t now_ms) {
  probe_ = probe;
  shard_ = shard;
  static const StallHook hook = StallHookFromEnvironment();
  if (hook.shard == shard) {
    stall_at_ms_ = now_ms + hook.after_ms;
    stall_ms_ = hook.stall_ms;
  }
}

void ShardHeartbeat::Stall() {
  stall_at_ms_ = -1;  // once
  LogEvent(LogPriority::kWarning, "test_hook",
           {{"hook", "stall_shard"},
            {"shard", shard_},
            {"status", "stalling"},
            {"stall_ms", stall_ms_}});
  timespec ts{static_cast<time_t>(stall_ms_ / 1000), static_cast<long>(stall_ms_ % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
  LogEvent(LogPriority::kWarning, "test_hook",
           {{"hook", "stall_shard"}, {"shard", shard_}, {"status", "resumed"}});
}

Watchdog::Watchdog(SystemdNotifier* notifier, std::span<concurrent::LivenessProbe> probes,
                   std::chrono::microseconds interval, std::function<void()> wake_shards)
    : notifier_(notifier),
      probes_(probes),
      period_(std::max(std::chrono::microseconds(1000), interval / 2)),
      wake_shards_(std::move(wake_shards)) {}

void Watchdog::PostAndWake() {
  ++probe_;
  for (concurrent::LivenessProbe& p : probes_) {
    p.Post(probe_);
  }
  wake_shards_();
}

void Watchdog::Start(std::chrono::steady_clock::time_point now) {
  PostAndWake();
  next_tick_ = now + period_;
}

std::chrono::milliseconds Watchdog::TimeUntilTick(std::chrono::steady_clock::time_point now) const {
  if (now >= next_tick_) {
    return std::chrono::milliseconds(0);
  }
  // Rounded up, so that the loop does not wake a fraction of a millisecond early and spin.
  return std::chrono::ceil<std::chrono::milliseconds>(next_tick_ - now);
}

void Watchdog::Tick(std::chrono::steady_clock::time_point now) {
  if (now < next_tick_) {
    return;
  }
  next_tick_ = now + period_;
  std::vector<size_t> behind;
  for (size_t i = 0; i < probes_.size(); ++i) {
    if (probes_[i].echoed() != probe_) {
      behind.push_back(i);
    }
  }
  if (!behind.empty()) {
    if (!stalled_) {
      stalled_ = true;
      stalled_since_ = now;
      LogEvent(LogPriority::kWarning, "watchdog",
               {{"status", "stalled"}, {"shards", absl::StrJoin(behind, ",")}, {"probe", probe_}});
    }
    // Nothing is sent to systemd. Waking again costs little and covers a shard that read the
    // probe number just before it changed.
    wake_shards_();
    return;
  }
  notifier_->WatchdogPing();
  ++pings_;
  if (stalled_) {
    stalled_ = false;
    LogEvent(
        LogPriority::kNotice, "watchdog",
        {{"status", "resumed"},
         {"stalled_ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(now - stalled_since_).count()}});
  }
  PostAndWake();
}

}  // namespace ringward::server
