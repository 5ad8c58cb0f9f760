#include "net/tls/tls_internal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "openssl/err.h"
#include "ringward/base/strings.h"

namespace ringward::tls::internal {

std::string ConsumeSslErrors() {
  const uint32_t packed = ERR_get_error();
  ERR_clear_error();
  if (packed == 0) {
    return "no BoringSSL error";
  }
  const char* lib = ERR_lib_error_string(packed);
  const char* reason = ERR_reason_error_string(packed);
  return absl::StrCat(lib != nullptr ? lib : "unknown library", ":",
                      reason != nullptr ? reason : absl::StrCat("reason ", ERR_GET_REASON(packed)));
}

absl::StatusOr<std::string> ReadSmallFile(std::string_view what, const std::string& path) {
  constexpr size_t kMaxSize = 1 << 20;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", ToAbsl(what), " ", path));
  }
  std::string contents;
  char chunk[4096];
  while (true) {
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", ToAbsl(what), " ", path));
    }
    if (n == 0) {
      break;
    }
    if (contents.size() + static_cast<size_t>(n) > kMaxSize) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(what), " ", path, " is larger than 1 MiB; is it really a PEM file?"));
    }
    contents.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return contents;
}

}  // namespace ringward::tls::internal
