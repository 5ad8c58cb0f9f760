// net/tls/tls_internal.h: helpers shared by the TLS layer's .cc files (not part of the public
// API): turning BoringSSL's thread-local error queue into text, and reading small PEM files.
//
// Thread-bound in the sense that BoringSSL's error queue is per thread; the functions keep no
// state of their own.
#ifndef RINGWARD_NET_TLS_TLS_INTERNAL_H_
#define RINGWARD_NET_TLS_TLS_INTERNAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringward::tls::internal {

// ConsumeSslErrors describes the oldest error on this thread's BoringSSL error queue (the one
// that names the root cause), e.g. "PEM routines:NO_START_LINE", and clears the queue so that
// stale errors cannot leak into the next operation's diagnosis. Returns "no BoringSSL error"
// when the queue is empty.
std::string ConsumeSslErrors();

// ReadSmallFile returns the contents of |path| (at most 1 MiB: certificates and keys are small,
// and a bigger file is a wrong path). |what| names the file's role in error messages, e.g.
// "private key file". Errors: NotFound / PermissionDenied / ... from errno, InvalidArgument when
// the file is too large.
absl::StatusOr<std::string> ReadSmallFile(std::string_view what, const std::string& path);

}  // namespace ringward::tls::internal

#endif  // RINGWARD_NET_TLS_TLS_INTERNAL_H_
