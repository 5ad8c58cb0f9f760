// server/log.h: one line per event on stderr, with the syslog priority prefix journald reads
// and key=value fields (logfmt) that a log pipeline can parse without a pattern per message:
//
//   <6>ringward: event=listening address=127.0.0.1:8443 tls=yes shards=2
//   <6>ringward: event=reload status=ok generation=3 kids=key-1,key-2
//   <3>ringward: event=config_error error="/etc/ringward/ringward.toml:4: [server] shards: ..."
//
// LogEvent writes such a line. Log (free text) is kept for messages that have no event name
// yet; it writes the text as one field, msg="...", so that every line still parses as logfmt.
// Values with a space, '"', '=' or nothing at all are quoted, with '"' and '\' escaped.
//
// Never log a token, a key or any other secret: log what happened and why, with the reason
// names from the enums (VerifyReasonName, ParseStatusName, TlsErrorName). A token is named by
// TokenFingerprint, the first 8 hex digits of its SHA-256 (enough to match log lines of one
// client, useless for replaying it).
//
// Thread-safe: each line is written with one write(2), so lines from different shards never
// interleave (stderr is unbuffered and lines are far below PIPE_BUF). Not for the request path
// (see server/access_log.h for the one line per request that is).
#ifndef RINGWARD_SERVER_LOG_H_
#define RINGWARD_SERVER_LOG_H_

#include <array>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ringward::server {

// Priorities from syslog(3).
enum class LogPriority : int {
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
};

// LogField is one key=value pair of an event line. Keys are fixed identifiers chosen in code;
// values are anything (quoted as needed). Integers print in decimal, bools as yes/no.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v ? "yes" : "no") {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  LogField(std::string_view k, T v) : key(k), value(std::to_string(v)) {}

  std::string_view key;
  std::string value;
};

// LogEvent writes "<P>ringward: event=|event| k1=v1 k2=v2 ...\n" to stderr.
void LogEvent(LogPriority priority, std::string_view event,
              std::initializer_list<LogField> fields = {});

// Log writes "<P>ringward: msg=\"|message|\"\n" to stderr; a |message| that already starts
// with "event=" is taken as preformatted fields and written as it is. Newlines and other
// control characters are replaced by spaces, so one call is always one line.
void Log(LogPriority priority, std::string_view message);

// AppendLogValue appends |value| to |*out| as one logfmt value: bare when it is a non-empty
// run of characters other than space, '"' and '=', otherwise quoted. Control characters become
// spaces. For writers that build their own lines (the access log).
void AppendLogValue(std::string* out, std::string_view value);

// TokenFingerprint returns the first 8 hex digits of the SHA-256 of |token|: the only way a
// token may appear in a log line.
std::array<char, 8> TokenFingerprint(std::string_view token);

inline void LogInfo(std::string_view message) { Log(LogPriority::kInfo, message); }
inline void LogNotice(std::string_view message) { Log(LogPriority::kNotice, message); }
inline void LogWarning(std::string_view message) { Log(LogPriority::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogPriority::kError, message); }

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_LOG_H_
