#include "server/log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "openssl/sha.h"

namespace ringward::server {

namespace {

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

void StartLine(LogPriority priority, std::string* line) {
  line->push_back('<');
  line->push_back(static_cast<char>('0' + static_cast<int>(priority)));
  line->append(">ringward: ");
}

void WriteLine(std::string* line) {
  line->push_back('\n');
  const char* p = line->data();
  size_t left = line->size();
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

}  // namespace

void AppendLogValue(std::string* out, std::string_view value) {
  bool bare = !value.empty();
  for (const char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || IsControl(c)) {
      bare = false;
      break;
    }
  }
  if (bare) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else {
      out->push_back(IsControl(c) ? ' ' : c);
    }
  }
  out->push_back('"');
}

void LogEvent(LogPriority priority, std::string_view event,
              std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(64 + event.size());
  StartLine(priority, &line);
  line.append("event=");
  AppendLogValue(&line, event);
  for (const LogField& f : fields) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    AppendLogValue(&line, f.value);
  }
  WriteLine(&line);
}

void Log(LogPriority priority, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 24);
  StartLine(priority, &line);
  if (message.substr(0, 6) == "event=") {
    for (const char c : message) {
      line.push_back(IsControl(c) ? ' ' : c);
    }
  } else {
    line.append("msg=");
    AppendLogValue(&line, message.empty() ? std::string_view("-") : message);
  }
  WriteLine(&line);
}

std::array<char, 8> TokenFingerprint(std::string_view token) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(token.data()), token.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 8> out;
  for (size_t i = 0; i < 4; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace ringward::server
