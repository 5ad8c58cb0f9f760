#include "server/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace ringward::server {

namespace {

constexpr size_t kMaxStatusBytes = 200;

}  // namespace

std::string ServiceStatusText(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxStatusBytes));
  for (const char c : text.substr(0, kMaxStatusBytes)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  return out;
}

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
}

void SystemdNotifier::Send(std::string message) {
  if (!enabled_) {
    return;
  }
  // unset_environment = 0: the socket is used again for every later message.
  const int r = sd_notify(0, message.c_str());
  if (r < 0 && !reported_failure_) {
    reported_failure_ = true;
    LogEvent(LogPriority::kWarning, "notify", {{"status", "failed"}, {"error", std::strerror(-r)}});
  }
}

void SystemdNotifier::Ready(std::string_view status) {
  Send(absl::StrCat("READY=1\nSTATUS=", ServiceStatusText(status)));
}

void SystemdNotifier::Reloading(std::string_view status) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec =
      static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  Send(absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec, "\nSTATUS=", ServiceStatusText(status)));
}

void SystemdNotifier::Stopping(std::string_view status) {
  Send(absl::StrCat("STOPPING=1\nSTATUS=", ServiceStatusText(status)));
}

void SystemdNotifier::Status(std::string_view status) {
  Send(absl::StrCat("STATUS=", ServiceStatusText(status)));
}

void SystemdNotifier::WatchdogPing() { Send("WATCHDOG=1"); }

std::chrono::microseconds SystemdNotifier::WatchdogInterval() {
  uint64_t usec = 0;
  // > 0: enabled for this process (WATCHDOG_PID unset or ours); unset_environment = 0 so that
  // a later call (a test, a reload) reads the same answer.
  if (sd_watchdog_enabled(0, &usec) <= 0) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(static_cast<int64_t>(usec));
}

}  // namespace ringward::server
