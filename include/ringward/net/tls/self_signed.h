// ringward/net/tls/self_signed.h: a self-signed server certificate generator, for
// `ringward serve --dev` and for tests.
//
// The certificate is a v3 end-entity certificate (CA:FALSE, extendedKeyUsage serverAuth) whose
// subjectAltName lists the given DNS names and IP addresses; clients verify it by trusting the
// certificate file itself (curl --cacert cert.pem). The key is written as unencrypted PKCS#8 PEM
// with mode 0600; both files are written to a temporary name and renamed into place, so a reader
// never sees half a file.
//
// Thread-safe (no shared state); does blocking file I/O, so never call it on a shard.
#ifndef RINGWARD_NET_TLS_SELF_SIGNED_H_
#define RINGWARD_NET_TLS_SELF_SIGNED_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ringward/net/tls/tls_context.h"

namespace ringward::tls {

struct SelfSignedOptions {
  std::string common_name = "localhost";
  // subject_alt_names: each entry that parses as an IPv4 or IPv6 address becomes an IP SAN, any
  // other a DNS SAN (letters, digits, '-', '.', and a leading "*." wildcard label).
  std::vector<std::string> subject_alt_names = {"localhost", "127.0.0.1", "::1"};
  CertificateKeyType key_type = CertificateKeyType::kEcdsaP256;
  // The certificate is valid from one hour before |now| (tolerating small clock skew between
  // client and server) until |now| + validity.
  std::chrono::seconds validity = std::chrono::hours(24 * 365);
};

// WriteSelfSignedCertificate generates a fresh key and a certificate for it, signed by itself,
// and writes them to |cert_path| (mode 0644) and |key_path| (mode 0600). |now| is the issue time.
// Errors: InvalidArgument for a bad name (naming it), errno-based codes naming the file for I/O
// failures, Internal if BoringSSL fails.
absl::Status WriteSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                        std::chrono::system_clock::time_point now,
                                        const SelfSignedOptions& options = {});

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_SELF_SIGNED_H_
