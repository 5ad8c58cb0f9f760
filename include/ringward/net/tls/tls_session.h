// ringward/net/tls/tls_session.h: TlsSession, the server side of one TLS connection, driven
// entirely through memory: the ring receives and sends ciphertext, the session never touches a
// socket.
//
// How the event loop drives a session (one send in flight per connection):
//
//   on recv completion:   session.FeedCiphertext(buf, n);          // buffer can go back to the ring
//                         loop { r = session.ReadPlaintext(dst, cap); ... } until kWantMore,
//                         kClosed or kError;
//   to answer:            session.WritePlaintext(resp, len)  (may accept less; call again after
//                         sending);
//   after any of these:   if no send is in flight and session.PendingCiphertext() is not empty,
//                         send it;
//   on send completion:   session.ConsumeCiphertext(sent); send the next PendingCiphertext().
//
// The handshake runs inside ReadPlaintext: the server's flights and any alert come out through
// PendingCiphertext. TLS 1.3 session tickets are the exception: BoringSSL holds them until the
// server first writes, so they leave with the first response instead of costing a send of their
// own (and a client that never gets a response gets no ticket). On kError, send what is pending
// (usually the alert that tells the client why) and close. On kClosed the client sent
// close_notify; call Shutdown() to answer with ours, send it, then close.
//
// Copies: FeedCiphertext copies received bytes once into the session's ReceiveBuffer (so the
// ring's provided buffer is returned immediately); BoringSSL decrypts into the caller's buffer.
// Outgoing records are sealed by BoringSSL and copied once into the SendQueue, which the ring
// sends from directly. The session's buffers are allocated when it is created and, with the
// event loop above, never grow (see TlsSessionOptions); BoringSSL manages its own record buffers.
//
// Thread-bound: a TlsSession is created, used and destroyed on one shard. It owns its SSL object
// and both buffers; the TlsContext it was made from may be destroyed first (the SSL keeps the
// SSL_CTX alive). TlsCounters are owned by the shard and must outlive the session.
#ifndef RINGWARD_NET_TLS_TLS_SESSION_H_
#define RINGWARD_NET_TLS_TLS_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "openssl/ssl.h"
#include "ringward/net/tls/ciphertext_buffers.h"
#include "ringward/net/tls/tls_context.h"

namespace ringward::tls {

// TlsCounters are a shard's TLS counters, exported as metrics. Plain integers: only the owning
// shard writes them, and the metrics path reads them by message, not by sharing.
struct TlsCounters {
  uint64_t handshakes_completed = 0;  // full and resumed
  uint64_t handshakes_resumed = 0;    // the subset that resumed a session from a ticket
  uint64_t handshake_failures = 0;    // handshakes that ended in an error (see TlsError)
};

// TlsError says why a session failed. The values are stable metric labels (TlsErrorName).
enum class TlsError : uint8_t {
  kNone = 0,
  kProtocolVersion,        // the client offered only versions below TLS 1.2
  kNoSharedParameters,     // no common cipher suite, group or signature algorithm
  kNoApplicationProtocol,  // the client's ALPN list lacks "http/1.1"
  kNotTls,                 // the client spoke plain HTTP (or a proxy CONNECT) to the TLS port
  kPeerAlert,              // the client aborted with a fatal alert (e.g. it rejected our cert)
  kHandshakeFailure,       // any other handshake failure (malformed or unexpected message, ...)
  kProtocolError,          // after the handshake: bad record MAC, renegotiation attempt, ...
  kInternal,               // a local failure (out of memory)
};

// TlsErrorName returns a short lower_snake_case name for |error|, e.g. "protocol_version".
std::string_view TlsErrorName(TlsError error);

// TlsIoStatus is the outcome of ReadPlaintext and WritePlaintext.
enum class TlsIoStatus : uint8_t {
  kOk,        // |bytes| plaintext bytes were read, or accepted for sending
  kWantMore,  // read: feed more ciphertext first; write: send pending ciphertext first (or the
              // handshake is not finished yet)
  kClosed,    // read: the client sent close_notify; write: Shutdown() was called
  kError,     // the session failed; see error() and status()
};

struct TlsIoResult {
  TlsIoStatus status;
  size_t bytes;
};

struct TlsSessionOptions {
  // receive_capacity holds one maximal TLS record (16 KiB plus overhead) plus one receive
  // buffer's worth of fresh ciphertext, so feeding a recv and reading until kWantMore never
  // grows it.
  size_t receive_capacity = 32 * 1024;
  // send_capacity is the SendQueue's block size. WritePlaintext stops accepting plaintext when
  // the sealed records would not fit in it (minus a reserve for records BoringSSL writes on its
  // own: alerts, KeyUpdate, close_notify), so the block never overflows in steady state. Larger
  // values mean fewer, bigger sends.
  size_t send_capacity = 48 * 1024;
};

class TlsSession {
 public:
  // Create makes a server session from |context|. |counters| may be null (nothing is counted).
  // Errors: Internal when BoringSSL cannot allocate the SSL object.
  static absl::StatusOr<std::unique_ptr<TlsSession>> Create(const TlsContext& context,
                                                            TlsCounters* counters,
                                                            const TlsSessionOptions& options = {});

  ~TlsSession();
  // Not movable: BoringSSL's BIO points at the session.
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // FeedCiphertext queues |n| bytes received from the socket. It copies them, so the caller's
  // buffer may be reused at once. Ignored after the session failed.
  void FeedCiphertext(const uint8_t* data, size_t n);

  // ReadPlaintext advances the handshake if it is not finished and then decrypts up to |cap|
  // bytes of application data into |buf|. Call it until it returns something other than kOk:
  // one record may take several calls when |cap| is small.
  TlsIoResult ReadPlaintext(uint8_t* buf, size_t cap);

  // WritePlaintext seals as much of |data| as fits in the send queue and returns how much it
  // accepted (kOk with bytes <= n; kWantMore with 0 when the queue is full or the handshake is
  // not finished). The caller keeps the rest and offers it again after a send completes.
  TlsIoResult WritePlaintext(const uint8_t* data, size_t n);

  // PendingCiphertext returns outgoing ciphertext to send, the oldest first. It may be only part
  // of what is pending (pending_ciphertext_size() has the total); the span stays valid and
  // unchanged until ConsumeCiphertext passes it, whatever else the session does meanwhile, so
  // the ring may send straight from it. The session must outlive any send still reading it:
  // when closing a connection, reap (or cancel and reap) its send before destroying the session.
  std::span<const uint8_t> PendingCiphertext() const { return send_.Front(); }
  // ConsumeCiphertext drops |n| bytes (n <= PendingCiphertext().size()) once they were sent.
  void ConsumeCiphertext(size_t n) { send_.Consume(n); }
  size_t pending_ciphertext_size() const { return send_.size(); }

  // Shutdown queues a close_notify alert (after any queued data) and stops further writes.
  // Reads still work until the client's close_notify arrives. No-op before the handshake is
  // finished (there is nothing to close cleanly) and after a failure (the alert was sent).
  void Shutdown();

  bool handshake_done() const { return handshake_done_; }
  // resumed reports whether the handshake resumed a session from a ticket.
  bool resumed() const { return handshake_done_ && SSL_session_reused(ssl_.get()); }
  // alpn returns the negotiated protocol ("http/1.1") or empty when the client sent no ALPN.
  std::string_view alpn() const;
  // version returns the negotiated protocol version (TLS1_3_VERSION or TLS1_2_VERSION).
  uint16_t version() const { return SSL_version(ssl_.get()); }
  bool peer_closed() const { return peer_closed_; }
  bool failed() const { return error_ != TlsError::kNone; }
  TlsError error() const { return error_; }
  // status describes the failure, with BoringSSL's reason, e.g. "TLS handshake failed
  // (protocol_version): SSL routines:UNSUPPORTED_PROTOCOL"; OK when the session has not failed.
  absl::Status status() const;

  // ssl is the underlying BoringSSL object, for inspection (cipher, curve) and tests. Do not
  // read or write through it.
  SSL* ssl() const { return ssl_.get(); }

 private:
  TlsSession(bssl::UniquePtr<SSL> ssl, TlsCounters* counters, const TlsSessionOptions& options);

  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long larg, void* parg);
  static const BIO_METHOD* BioMethod();

  void CheckHandshakeDone();
  // Fail records the failure from |ssl_error| (SSL_get_error) and BoringSSL's error queue.
  void Fail(int ssl_error);

  bssl::UniquePtr<SSL> ssl_;
  TlsCounters* counters_;
  ReceiveBuffer receive_;
  SendQueue send_;
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool shutdown_sent_ = false;
  TlsError error_ = TlsError::kNone;
  uint32_t ssl_error_code_ = 0;  // BoringSSL's packed error, for status()
  int ssl_get_error_ = 0;        // SSL_get_error's result, when the queue was empty
};

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_TLS_SESSION_H_
