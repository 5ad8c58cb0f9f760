#include "server/log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace ringward::server {

void Log(LogPriority priority, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 16);
  line.push_back('<');
  line.push_back(static_cast<char>('0' + static_cast<int>(priority)));
  line.append(">ringward: ");
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    line.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // nowhere left to report it
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace ringward::server
