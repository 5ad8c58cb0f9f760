// ringward/net/tls/tls_context.h: TlsContext, the server-side TLS configuration (certificate,
// key, protocol policy, ticket keys) that every connection's TlsSession is made from.
//
// Policy, fixed rather than configurable because it is the product's security posture:
//  - TLS 1.3 and TLS 1.2 only. Older clients are refused with a protocol_version alert.
//  - Key exchange groups X25519 first, then P-256.
//  - TLS 1.2 cipher suites: ECDHE with an AEAD only (AES-128-GCM and ChaCha20-Poly1305 at equal
//    preference, so a client without AES hardware may pick ChaCha20, then AES-256-GCM). TLS 1.3
//    suites are all AEAD and not configurable in BoringSSL.
//  - Certificate keys: ECDSA P-256 or Ed25519 only. Anything else (RSA, P-384, ...) is refused
//    when the context is built, with an error naming the key file. Note that browsers do not
//    accept Ed25519 certificates; P-256 is the default for a reason.
//  - ALPN: the server speaks HTTP/1.1 only. A client that offers ALPN must include "http/1.1",
//    which is then selected; a client offering only other protocols (e.g. just "h2") is refused
//    with a no_application_protocol alert (RFC 7301 §3.2) rather than silently downgraded, since
//    it would then send HTTP/2 frames to an HTTP/1.1 parser. A client that sends no ALPN at all
//    (curl --no-alpn, openssl s_client, most load generators) is accepted as HTTP/1.1.
//  - No renegotiation: BoringSSL servers never renegotiate; a ClientHello after the handshake is
//    a fatal no_renegotiation error. tls_context.cc refuses to compile against anything but
//    BoringSSL for that reason.
//  - No 0-RTT: early data is never enabled, so tickets are not early-data capable and no request
//    can be replayed.
//  - Resumption by stateless session tickets only; the server-side session cache is off, so any
//    shard (any TlsContext sharing the TicketKeys) resumes any other's sessions.
//
// Thread-safe once built: Create returns a shared_ptr<const TlsContext> that all shards share;
// making sessions from it concurrently is safe. The context owns its SSL_CTX and shares
// ownership of its TicketKeys; each SSL made from the context holds its own reference to the
// SSL_CTX (and through it to the TicketKeys), so a session may outlive the TlsContext object.
#ifndef RINGWARD_NET_TLS_TLS_CONTEXT_H_
#define RINGWARD_NET_TLS_TLS_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "openssl/ssl.h"
#include "ringward/net/tls/ticket_keys.h"

namespace ringward::tls {

// kAlpnHttp11 is the one application protocol ringward's TLS listener negotiates.
inline constexpr char kAlpnHttp11[] = "http/1.1";

// CertificateKeyType is the kind of key the context's certificate carries.
enum class CertificateKeyType : uint8_t {
  kEcdsaP256,
  kEd25519,
};

struct TlsContextOptions {
  // PEM files: the certificate chain (leaf first, then intermediates) and the leaf's private key
  // (PKCS#8, "EC PRIVATE KEY" or Ed25519 "PRIVATE KEY"; unencrypted).
  std::string certificate_chain_path;
  std::string private_key_path;
  // ticket_keys is shared by every context that should resume the others' sessions. When null,
  // the context makes a private set that nobody rotates (fine for tests and one-shot tools).
  std::shared_ptr<TicketKeys> ticket_keys;
  // ticket_lifetime_seconds bounds how long a ticket may be used to resume (both TLS 1.2 and 1.3).
  // Keep TicketKeys' previous_keys * rotation interval at least this long, or tickets will stop
  // resuming before their lifetime ends.
  uint32_t ticket_lifetime_seconds = 2 * 60 * 60;
};

class TlsContext {
 public:
  // Create loads the certificate chain and key and configures the policy above. Errors name the
  // file at fault: NotFound or PermissionDenied when a file cannot be opened, InvalidArgument when
  // it holds no usable PEM, an unsupported key type, or a key that does not match the
  // certificate.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> Create(const TlsContextOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // ssl_ctx is the configured BoringSSL context. It is logically const: callers may SSL_new()
  // from it (which only takes a reference) but must not change its configuration.
  SSL_CTX* ssl_ctx() const { return ssl_ctx_.get(); }

  CertificateKeyType key_type() const { return key_type_; }
  const std::shared_ptr<TicketKeys>& ticket_keys() const { return ticket_keys_; }

 private:
  TlsContext(bssl::UniquePtr<SSL_CTX> ssl_ctx, CertificateKeyType key_type,
             std::shared_ptr<TicketKeys> ticket_keys);

  bssl::UniquePtr<SSL_CTX> ssl_ctx_;
  CertificateKeyType key_type_;
  std::shared_ptr<TicketKeys> ticket_keys_;
};

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_TLS_CONTEXT_H_
