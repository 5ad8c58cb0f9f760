// ringward/base/os.h: two small helpers over the C++ and C libraries that threads off the shards
// use for timeouts, times and error messages: the monotonic clock in milliseconds, the wall
// clock in seconds, and errno as text.
//
// Thread-safe (strerror_r, not strerror).
#ifndef RINGWARD_BASE_OS_H_
#define RINGWARD_BASE_OS_H_

#include <string.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace ringward {

// SteadyNowMs is CLOCK_MONOTONIC in milliseconds (for deadlines; never for token times).
inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// UnixNow is the wall clock in whole seconds: the "now" that token and revocation times are
// compared with (read once and passed in, never inside the logic).
inline int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ErrnoText is strerror(err), thread-safely.
inline std::string ErrnoText(int err) {
  char buf[128];
  return std::string(strerror_r(err, buf, sizeof(buf)));  // GNU strerror_r: returns the text
}

}  // namespace ringward

#endif  // RINGWARD_BASE_OS_H_
