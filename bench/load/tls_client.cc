#include "load/tls_client.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "openssl/err.h"

namespace ringward::load {
namespace {

std::string SslErrorText() {
  const uint32_t e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) {
    return "unknown TLS error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<TlsClientContext> TlsClientContext::Create(const std::string& cacert_path) {
  TlsClientContext c;
  c.ctx_.reset(SSL_CTX_new(TLS_method()));
  if (c.ctx_ == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_CTX_new: ", SslErrorText()));
  }
  SSL_CTX* ctx = c.ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const uint8_t kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn)) != 0) {
    return absl::InternalError("SSL_CTX_set_alpn_protos failed");
  }
  if (!cacert_path.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, cacert_path.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cacert ", cacert_path, ": ", SslErrorText()));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    c.verifies_ = true;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return c;
}

absl::Status TlsClientConnection::Start(const TlsClientContext& ctx, const std::string& host) {
  ssl_.reset(SSL_new(ctx.get()));
  if (ssl_ == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_new: ", SslErrorText()));
  }
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (rbio_ == nullptr || wbio_ == nullptr) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    ssl_.reset();
    return absl::ResourceExhaustedError("BIO_new failed");
  }
  // An empty read BIO means "no more data yet", not end of stream.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_.get(), rbio_, wbio_);
  SSL_set_connect_state(ssl_.get());
  if (!IsIpLiteral(host)) {
    SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
    if (ctx.verifies()) {
      SSL_set1_host(ssl_.get(), host.c_str());
    }
  }
  return PushCiphertext(nullptr, 0);
}

absl::Status TlsClientConnection::PushCiphertext(const uint8_t* data, size_t len) {
  if (len > 0 && BIO_write(rbio_, data, static_cast<int>(len)) != static_cast<int>(len)) {
    return absl::ResourceExhaustedError("BIO_write failed");
  }
  if (!SSL_is_init_finished(ssl_.get())) {
    const int r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      const int e = SSL_get_error(ssl_.get(), r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        return absl::UnavailableError(absl::StrCat("TLS handshake: ", SslErrorText()));
      }
    }
  }
  return absl::OkStatus();
}

TlsClientConnection::ReadResult TlsClientConnection::ReadPlaintext(char* buf, size_t cap,
                                                                   size_t* n) {
  const int r = SSL_read(ssl_.get(), buf, static_cast<int>(cap));
  if (r > 0) {
    *n = static_cast<size_t>(r);
    return ReadResult::kData;
  }
  const int e = SSL_get_error(ssl_.get(), r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    return ReadResult::kNone;
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    return ReadResult::kClosed;
  }
  ERR_clear_error();
  return ReadResult::kError;
}

absl::Status TlsClientConnection::WritePlaintext(std::string_view data) {
  if (data.empty()) {
    return absl::OkStatus();
  }
  // Memory BIOs grow as needed, so a write is never partial.
  const int r = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
  if (r != static_cast<int>(data.size())) {
    return absl::UnavailableError(absl::StrCat("SSL_write: ", SslErrorText()));
  }
  return absl::OkStatus();
}

void TlsClientConnection::TakeCiphertext(std::string* out) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (BIO_mem_contents(wbio_, &data, &len) && len > 0) {
    out->append(reinterpret_cast<const char*>(data), len);
    BIO_reset(wbio_);
  }
}

}  // namespace ringward::load
