// server/systemd_notify.h: SystemdNotifier, the sd_notify(3) messages of a Type=notify service:
// READY=1 once every shard serves, RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 when
// the drain starts, WATCHDOG=1 pings, and STATUS= lines that `systemctl status` shows.
//
// Everything is a no-op when $NOTIFY_SOCKET is unset (not started by systemd, or by a Type=
// that does not listen), so `ringward serve` behaves the same from a shell. A message that
// cannot be sent is reported once in the log and otherwise ignored: systemd's own timeouts
// (TimeoutStartSec=, WatchdogSec=) are what act on a notification that never arrives.
//
// Thread-compatible: the Server's control thread owns the one notifier and is the only sender
// (NotifyAccess=main accepts messages from any thread of the main process, but one sender keeps
// their order the order of events). The environment is read once, in the constructor.
#ifndef RINGWARD_SERVER_SYSTEMD_NOTIFY_H_
#define RINGWARD_SERVER_SYSTEMD_NOTIFY_H_

#include <chrono>
#include <string>
#include <string_view>

namespace ringward::server {

class SystemdNotifier {
 public:
  SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // enabled reports whether $NOTIFY_SOCKET was set when the notifier was made.
  bool enabled() const { return enabled_; }

  // Ready sends READY=1 with STATUS=|status|.
  void Ready(std::string_view status);
  // Reloading sends RELOADING=1, MONOTONIC_USEC=<CLOCK_MONOTONIC now> (what systemd 253+ uses
  // to tell this reload from an earlier one) and STATUS=|status|. Follow with Ready.
  void Reloading(std::string_view status);
  // Stopping sends STOPPING=1 with STATUS=|status|.
  void Stopping(std::string_view status);
  // Status sends STATUS=|status| alone.
  void Status(std::string_view status);
  // WatchdogPing sends WATCHDOG=1.
  void WatchdogPing();

  // WatchdogInterval is the interval systemd expects pings within (WatchdogSec=, passed as
  // $WATCHDOG_USEC and meant for this process when $WATCHDOG_PID is unset or names it), or
  // zero when the watchdog is off. Ping at half of it.
  static std::chrono::microseconds WatchdogInterval();

 private:
  void Send(std::string message);

  bool enabled_ = false;
  bool reported_failure_ = false;
};

// ServiceStatusText makes |text| fit for one STATUS= line: control characters become spaces
// and it is cut to a length `systemctl status` shows in full.
std::string ServiceStatusText(std::string_view text);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_SYSTEMD_NOTIFY_H_
