#include "ringward/net/tls/tls_session.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "ringward/base/strings.h"

namespace ringward::tls {
namespace {

// kMaxRecordPlaintext is TLS's maximum plaintext per record; WritePlaintext seals at most this
// much per SSL_write so that it knows the size of what it adds to the send queue.
constexpr size_t kMaxRecordPlaintext = 16384;
// kSendReserve is room kept free in the send queue's block for records BoringSSL writes by
// itself after the handshake (alerts, a KeyUpdate answer, close_notify: each well under 64 bytes).
constexpr size_t kSendReserve = 1024;

TlsError Classify(uint32_t packed, int ssl_get_error, bool handshake_done) {
  if (packed == 0) {
    // An empty error queue with a failure means BoringSSL's I/O layer misbehaved, which our
    // in-memory BIO never does; treat it as local.
    return ssl_get_error == SSL_ERROR_SSL ? (handshake_done ? TlsError::kProtocolError
                                                            : TlsError::kHandshakeFailure)
                                          : TlsError::kInternal;
  }
  if (ERR_GET_LIB(packed) == ERR_LIB_SSL) {
    const int reason = ERR_GET_REASON(packed);
    switch (reason) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
        return TlsError::kProtocolVersion;
      case SSL_R_NO_SHARED_CIPHER:
      case SSL_R_NO_SHARED_GROUP:
      case SSL_R_NO_COMMON_SIGNATURE_ALGORITHMS:
        return TlsError::kNoSharedParameters;
      case SSL_R_NO_APPLICATION_PROTOCOL:
        return TlsError::kNoApplicationProtocol;
      case SSL_R_HTTP_REQUEST:
      case SSL_R_HTTPS_PROXY_REQUEST:
        return TlsError::kNotTls;
      default:
        break;
    }
    if (reason >= SSL_AD_REASON_OFFSET) {
      return TlsError::kPeerAlert;
    }
  }
  if (ERR_GET_REASON(packed) == ERR_R_MALLOC_FAILURE) {
    return TlsError::kInternal;
  }
  return handshake_done ? TlsError::kProtocolError : TlsError::kHandshakeFailure;
}

}  // namespace

std::string_view TlsErrorName(TlsError error) {
  switch (error) {
    case TlsError::kNone:
      return "none";
    case TlsError::kProtocolVersion:
      return "protocol_version";
    case TlsError::kNoSharedParameters:
      return "no_shared_parameters";
    case TlsError::kNoApplicationProtocol:
      return "no_application_protocol";
    case TlsError::kNotTls:
      return "not_tls";
    case TlsError::kPeerAlert:
      return "peer_alert";
    case TlsError::kHandshakeFailure:
      return "handshake_failure";
    case TlsError::kProtocolError:
      return "protocol_error";
    case TlsError::kInternal:
      return "internal";
  }
  return "unknown";
}

const BIO_METHOD* TlsSession::BioMethod() {
  // Built once, thread-safely, and shared by every session on every shard; a BIO_METHOD is
  // immutable after setup.
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringward-tls");
    if (m != nullptr) {
      BIO_meth_set_read(m, &TlsSession::BioRead);
      BIO_meth_set_write(m, &TlsSession::BioWrite);
      BIO_meth_set_ctrl(m, &TlsSession::BioCtrl);
    }
    return m;
  }();
  return method;
}

int TlsSession::BioRead(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
  const size_t n =
      session->receive_.Read(reinterpret_cast<uint8_t*>(out), static_cast<size_t>(len));
  if (n == 0) {
    // "Would block": BoringSSL reports SSL_ERROR_WANT_READ and resumes on the next call.
    BIO_set_retry_read(bio);
    return -1;
  }
  return static_cast<int>(n);
}

int TlsSession::BioWrite(BIO* bio, const char* in, int len) {
  BIO_clear_retry_flags(bio);
  auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
  // Always accepts everything, so BoringSSL never holds a half-written record and SSL_write
  // never asks for a retry with the same arguments.
  session->send_.Append(reinterpret_cast<const uint8_t*>(in), static_cast<size_t>(len));
  return len;
}

long TlsSession::BioCtrl(BIO* bio, int cmd, long /*larg*/, void* /*parg*/) {
  auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(session->receive_.size());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(session->send_.size());
    default:
      return 0;
  }
}

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::Create(const TlsContext& context,
                                                               TlsCounters* counters,
                                                               const TlsSessionOptions& options) {
  const BIO_METHOD* method = BioMethod();
  bssl::UniquePtr<SSL> ssl(SSL_new(context.ssl_ctx()));
  if (method == nullptr || ssl == nullptr) {
    ERR_clear_error();
    return absl::InternalError("cannot allocate a TLS session");
  }
  SSL_set_accept_state(ssl.get());
  // Frees the certificate and handshake settings' copies once the handshake is over; a server
  // that never renegotiates never needs them again, and idle keep-alive connections are many.
  SSL_set_shed_handshake_config(ssl.get(), 1);
  bssl::UniquePtr<BIO> bio(BIO_new(method));
  if (bio == nullptr) {
    ERR_clear_error();
    return absl::InternalError("cannot allocate a TLS session");
  }
  std::unique_ptr<TlsSession> session(new TlsSession(std::move(ssl), counters, options));
  BIO_set_data(bio.get(), session.get());
  BIO_set_init(bio.get(), 1);
  // One BIO for both directions; SSL_set_bio takes the single reference.
  BIO* raw = bio.release();
  SSL_set_bio(session->ssl_.get(), raw, raw);
  return session;
}

TlsSession::TlsSession(bssl::UniquePtr<SSL> ssl, TlsCounters* counters,
                       const TlsSessionOptions& options)
    : ssl_(std::move(ssl)),
      counters_(counters),
      receive_(options.receive_capacity),
      send_(options.send_capacity) {}

TlsSession::~TlsSession() {
  // Free the SSL (and its BIO, which points at this session) while the buffers still exist.
  ssl_.reset();
}

void TlsSession::FeedCiphertext(const uint8_t* data, size_t n) {
  if (failed()) {
    return;
  }
  receive_.Append(data, n);
}

void TlsSession::CheckHandshakeDone() {
  if (handshake_done_ || SSL_in_init(ssl_.get())) {
    return;
  }
  handshake_done_ = true;
  if (counters_ != nullptr) {
    ++counters_->handshakes_completed;
    if (SSL_session_reused(ssl_.get())) {
      ++counters_->handshakes_resumed;
    }
  }
}

void TlsSession::Fail(int ssl_error) {
  // The oldest queued error names the root cause; clear the rest so they cannot be blamed on the
  // next connection this thread serves (the queue is per thread, not per SSL).
  const uint32_t packed = ERR_get_error();
  ERR_clear_error();
  ssl_error_code_ = packed;
  ssl_get_error_ = ssl_error;
  error_ = Classify(packed, ssl_error, handshake_done_);
  if (!handshake_done_ && counters_ != nullptr) {
    ++counters_->handshake_failures;
  }
}

TlsIoResult TlsSession::ReadPlaintext(uint8_t* buf, size_t cap) {
  if (failed()) {
    return {TlsIoStatus::kError, 0};
  }
  if (peer_closed_) {
    return {TlsIoStatus::kClosed, 0};
  }
  if (cap == 0) {
    return {TlsIoStatus::kOk, 0};
  }
  const int len = static_cast<int>(std::min<size_t>(cap, INT_MAX));
  const int r = SSL_read(ssl_.get(), buf, len);
  CheckHandshakeDone();
  if (r > 0) {
    return {TlsIoStatus::kOk, static_cast<size_t>(r)};
  }
  const int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ) {
    return {TlsIoStatus::kWantMore, 0};
  }
  if (err == SSL_ERROR_ZERO_RETURN) {
    peer_closed_ = true;
    return {TlsIoStatus::kClosed, 0};
  }
  Fail(err);
  return {TlsIoStatus::kError, 0};
}

TlsIoResult TlsSession::WritePlaintext(const uint8_t* data, size_t n) {
  if (failed()) {
    return {TlsIoStatus::kError, 0};
  }
  if (shutdown_sent_) {
    return {TlsIoStatus::kClosed, 0};
  }
  if (!handshake_done_) {
    return {TlsIoStatus::kWantMore, 0};
  }
  const size_t overhead = SSL_max_seal_overhead(ssl_.get());
  size_t accepted = 0;
  while (accepted < n) {
    size_t chunk = std::min(n - accepted, kMaxRecordPlaintext);
    if (send_.size() != 0) {
      // Something may be in flight: add only what fits behind it in the current block.
      const size_t room = send_.AppendableWithoutNewBlock();
      if (room <= overhead + kSendReserve) {
        break;
      }
      chunk = std::min(chunk, room - overhead - kSendReserve);
    }
    const int r = SSL_write(ssl_.get(), data + accepted, static_cast<int>(chunk));
    if (r <= 0) {
      const int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ) {
        break;
      }
      Fail(err);
      return {TlsIoStatus::kError, accepted};
    }
    accepted += static_cast<size_t>(r);
  }
  if (accepted == 0) {
    return {TlsIoStatus::kWantMore, 0};
  }
  return {TlsIoStatus::kOk, accepted};
}

void TlsSession::Shutdown() {
  if (failed() || shutdown_sent_) {
    return;
  }
  shutdown_sent_ = true;
  if (!handshake_done_) {
    return;
  }
  if (SSL_shutdown(ssl_.get()) < 0) {
    Fail(SSL_get_error(ssl_.get(), -1));
  }
}

std::string_view TlsSession::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  if (data == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(data), len};
}

absl::Status TlsSession::status() const {
  if (!failed()) {
    return absl::OkStatus();
  }
  std::string reason;
  if (ssl_error_code_ != 0) {
    const char* lib = ERR_lib_error_string(ssl_error_code_);
    const char* text = ERR_reason_error_string(ssl_error_code_);
    reason = absl::StrCat(lib != nullptr ? lib : "unknown library", ":",
                          text != nullptr ? text : "?");
  } else {
    reason = absl::StrCat("SSL_get_error ", ssl_get_error_);
  }
  const std::string message =
      absl::StrCat(handshake_done_ ? "TLS connection failed (" : "TLS handshake failed (",
                   ToAbsl(TlsErrorName(error_)), "): ", reason);
  if (error_ == TlsError::kInternal) {
    return absl::InternalError(message);
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace ringward::tls
