// bench/load/tls_client.h: the client side of TLS for ringward-load's https:// targets, with
// BoringSSL over memory BIOs (the ring moves ciphertext; SSL objects never touch a socket).
//
// Deliberately minimal: TLS 1.2 and 1.3, ALPN http/1.1, SNI for names, no session resumption
// (each connection does a full handshake once and then stays open). Certificates are not
// verified unless a CA file is given, as with wrk and curl -k: the tool measures servers the
// tester runs, often with self-signed certificates.
//
// Thread-bound: a TlsClientContext is created before the workers start and then only read
// (SSL_CTX is safe for concurrent SSL_new); each TlsClientConnection belongs to one
// connection of one worker. Both own their BoringSSL objects.
#ifndef RINGWARD_BENCH_LOAD_TLS_CLIENT_H_
#define RINGWARD_BENCH_LOAD_TLS_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "openssl/ssl.h"

namespace ringward::load {

class TlsClientContext {
 public:
  // Create makes a client SSL_CTX. With a non-empty |cacert_path| the server's chain must
  // verify against it (and match the host name); otherwise nothing is verified.
  static absl::StatusOr<TlsClientContext> Create(const std::string& cacert_path);

  SSL_CTX* get() const { return ctx_.get(); }
  bool verifies() const { return verifies_; }

 private:
  bssl::UniquePtr<SSL_CTX> ctx_;
  bool verifies_ = false;
};

class TlsClientConnection {
 public:
  enum class ReadResult { kData, kNone, kClosed, kError };

  // Start begins a handshake with |host| (SNI is sent for names, not for IP addresses). The
  // ClientHello is then waiting in TakeCiphertext.
  absl::Status Start(const TlsClientContext& ctx, const std::string& host);

  // Reset drops the session (before reconnecting).
  void Reset() { ssl_.reset(); }

  // PushCiphertext hands received bytes to the session and advances the handshake.
  absl::Status PushCiphertext(const uint8_t* data, size_t len);

  bool handshake_done() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_.get()); }

  // ReadPlaintext decrypts into |buf| (up to |cap| bytes); *n is set for kData.
  ReadResult ReadPlaintext(char* buf, size_t cap, size_t* n);

  // WritePlaintext encrypts |data|; the records wait in TakeCiphertext.
  absl::Status WritePlaintext(std::string_view data);

  // TakeCiphertext appends the bytes waiting to be sent to |*out| and forgets them.
  void TakeCiphertext(std::string* out);

 private:
  bssl::UniquePtr<SSL> ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_TLS_CLIENT_H_
