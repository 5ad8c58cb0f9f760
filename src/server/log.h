// server/log.h: one line per event on stderr, with the syslog priority prefix journald reads
// ("<6>ringward: listening on 127.0.0.1:8443 shards=2").
//
// Never log a token, a key or any other secret: log what happened and why, with the reason
// names from the enums (VerifyReasonName, ParseStatusName, TlsErrorName).
//
// Thread-safe: each line is written with one write(2), so lines from different shards never
// interleave (stderr is unbuffered and lines are far below PIPE_BUF). Not for the request path.
#ifndef RINGWARD_SERVER_LOG_H_
#define RINGWARD_SERVER_LOG_H_

#include <string_view>

namespace ringward::server {

// Priorities from syslog(3).
enum class LogPriority : int {
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
};

// Log writes "<P>ringward: |message|\n" to stderr. Newlines and other control characters in
// |message| are replaced by spaces, so one call is always one line.
void Log(LogPriority priority, std::string_view message);

inline void LogInfo(std::string_view message) { Log(LogPriority::kInfo, message); }
inline void LogNotice(std::string_view message) { Log(LogPriority::kNotice, message); }
inline void LogWarning(std::string_view message) { Log(LogPriority::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogPriority::kError, message); }

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_LOG_H_
