#include "ringward/net/tls/tls_context.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "net/tls/tls_internal.h"
#include "openssl/bio.h"
#include "openssl/ec.h"
#include "openssl/ec_key.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/nid.h"
#include "openssl/obj.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"

// The "no renegotiation" policy is BoringSSL's, not ours: a BoringSSL server answers any
// ClientHello after the handshake with a fatal no_renegotiation alert and has no API to start
// one. OpenSSL servers renegotiate by default, so building against it would silently weaken the
// policy documented in tls_context.h.
#if !defined(OPENSSL_IS_BORINGSSL)
#error "ringward's TLS layer requires BoringSSL (its servers never renegotiate)"
#endif

namespace ringward::tls {
namespace {

// kCipherList is the TLS 1.2 policy: ECDHE key exchange, AEAD ciphers, ECDSA authentication
// (which BoringSSL also uses for Ed25519 certificates). The bracketed group is of equal server
// preference, so the client's order decides between AES-GCM and ChaCha20 there.
constexpr char kCipherList[] =
    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]:"
    "ECDHE-ECDSA-AES256-GCM-SHA384";
constexpr char kGroups[] = "X25519:P-256";
constexpr char kSessionIdContext[] = "ringward";

// TicketKeysHolder is what the SSL_CTX's ex_data slot owns, so the ticket callback can reach the
// keys for as long as the SSL_CTX lives (an SSL may outlive the TlsContext that made it).
struct TicketKeysHolder {
  std::shared_ptr<TicketKeys> keys;
};

void FreeTicketKeysHolder(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*index*/,
                          long /*argl*/, void* /*argp*/) {
  delete static_cast<TicketKeysHolder*>(ptr);
}

int TicketKeysIndex() {
  // Function-local statics are initialised once, thread-safely.
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeTicketKeysHolder);
  return index;
}

// TicketKeyCallback implements SSL_CTX_set_tlsext_ticket_key_cb. Encrypt mode: name the current
// key, pick a fresh IV, key the cipher and MAC; returns 1, or -1 on failure. Decrypt mode: find
// the key the ticket names; returns 1 for the current key, 2 for a previous key (BoringSSL then
// issues a fresh ticket under the current key), 0 when the key is unknown (the ticket is ignored
// and a full handshake follows), -1 on failure.
int TicketKeyCallback(SSL* ssl, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher_ctx,
                      HMAC_CTX* hmac_ctx, int encrypt) {
  const auto* holder = static_cast<const TicketKeysHolder*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), TicketKeysIndex()));
  if (holder == nullptr) {
    return encrypt ? -1 : 0;
  }
  // The cipher and MAC contexts copy what they need from the key, so the set may be released
  // as soon as this returns.
  const std::shared_ptr<const TicketKeySet> set = holder->keys->Load();
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  if (encrypt) {
    const TicketKey& key = set->current();
    if (!RAND_bytes(iv, EVP_CIPHER_iv_length(cipher))) {
      return -1;
    }
    std::memcpy(key_name, key.name.data(), TicketKey::kNameSize);
    if (!EVP_EncryptInit_ex(cipher_ctx, cipher, nullptr, key.aes_key.data(), iv) ||
        !HMAC_Init_ex(hmac_ctx, key.hmac_key.data(), key.hmac_key.size(), EVP_sha256(),
                      nullptr)) {
      return -1;
    }
    return 1;
  }
  bool is_current = false;
  const TicketKey* key = set->Find(key_name, &is_current);
  if (key == nullptr) {
    return 0;
  }
  if (!HMAC_Init_ex(hmac_ctx, key->hmac_key.data(), key->hmac_key.size(), EVP_sha256(),
                    nullptr) ||
      !EVP_DecryptInit_ex(cipher_ctx, cipher, nullptr, key->aes_key.data(), iv)) {
    return -1;
  }
  return is_current ? 1 : 2;
}

// SelectAlpn picks "http/1.1" from the client's list (BoringSSL has already checked the list's
// syntax) or refuses the handshake; see tls_context.h for why.
int SelectAlpn(SSL* /*ssl*/, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
               unsigned in_len, void* /*arg*/) {
  constexpr size_t kLen = sizeof(kAlpnHttp11) - 1;
  size_t i = 0;
  while (i < in_len) {
    const size_t len = in[i];
    if (i + 1 + len > in_len) {
      break;
    }
    if (len == kLen && std::memcmp(in + i + 1, kAlpnHttp11, kLen) == 0) {
      *out = in + i + 1;
      *out_len = static_cast<uint8_t>(kLen);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int RefusePassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  // A daemon has no terminal to ask for a passphrase; encrypted keys fail with a clear error.
  return 0;
}

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> LoadPrivateKey(const std::string& path,
                                                         CertificateKeyType* type) {
  absl::StatusOr<std::string> pem = internal::ReadSmallFile("private key file", path);
  if (!pem.ok()) {
    return pem.status();
  }
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), pem->size()));
  bssl::UniquePtr<EVP_PKEY> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassword, nullptr) : nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key file ", path, " holds no unencrypted PEM private key (",
                     internal::ConsumeSslErrors(), ")"));
  }
  const int id = EVP_PKEY_id(key.get());
  if (id == EVP_PKEY_ED25519) {
    *type = CertificateKeyType::kEd25519;
    return key;
  }
  if (id == EVP_PKEY_EC) {
    const EC_GROUP* group = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(key.get()));
    const int curve = group != nullptr ? EC_GROUP_get_curve_name(group) : NID_undef;
    if (curve == NID_X9_62_prime256v1) {
      *type = CertificateKeyType::kEcdsaP256;
      return key;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "private key file ", path, " holds an EC key on curve ",
        curve != NID_undef ? OBJ_nid2sn(curve) : "(unnamed)",
        "; ringward accepts only ECDSA P-256 or Ed25519 certificate keys (make one with "
        "`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)"));
  }
  const char* kind = id == EVP_PKEY_RSA ? "an RSA key" : "a key of an unsupported type";
  return absl::InvalidArgumentError(absl::StrCat(
      "private key file ", path, " holds ", kind,
      "; ringward accepts only ECDSA P-256 or Ed25519 certificate keys (make one with "
      "`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)"));
}

// LoadCertificateChain installs the leaf and any intermediates from |path| into |ctx|.
absl::Status LoadCertificateChain(const std::string& path, SSL_CTX* ctx) {
  absl::StatusOr<std::string> pem = internal::ReadSmallFile("certificate chain file", path);
  if (!pem.ok()) {
    return pem.status();
  }
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), pem->size()));
  if (bio == nullptr) {
    return absl::ResourceExhaustedError("out of memory reading " + path);
  }
  int count = 0;
  while (true) {
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) {
      const uint32_t err = ERR_peek_last_error();
      if (count > 0 && ERR_GET_LIB(err) == ERR_LIB_PEM &&
          ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // the normal end of the file
        break;
      }
      if (count == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("certificate chain file ", path, " holds no PEM certificate (",
                         internal::ConsumeSslErrors(), ")"));
      }
      return absl::InvalidArgumentError(absl::StrCat("certificate chain file ", path,
                                                     ": certificate #", count + 1,
                                                     " is malformed (",
                                                     internal::ConsumeSslErrors(), ")"));
    }
    const int ok = count == 0 ? SSL_CTX_use_certificate(ctx, cert.get())
                              : SSL_CTX_add1_chain_cert(ctx, cert.get());
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("certificate chain file ", path,
                                                     ": certificate #", count + 1,
                                                     " was refused (",
                                                     internal::ConsumeSslErrors(), ")"));
    }
    ++count;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::Create(
    const TlsContextOptions& options) {
  ERR_clear_error();
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr) {
    return absl::InternalError("SSL_CTX_new failed: " + internal::ConsumeSslErrors());
  }

  // The key first: an unsupported key type is the likelier mistake, and its message is clearer
  // than "key does not match certificate".
  CertificateKeyType key_type = CertificateKeyType::kEcdsaP256;
  absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> key =
      LoadPrivateKey(options.private_key_path, &key_type);
  if (!key.ok()) {
    return key.status();
  }
  if (absl::Status s = LoadCertificateChain(options.certificate_chain_path, ctx.get()); !s.ok()) {
    return s;
  }
  if (!SSL_CTX_use_PrivateKey(ctx.get(), key->get()) || !SSL_CTX_check_private_key(ctx.get())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the private key in ", options.private_key_path,
        " does not match the certificate in ", options.certificate_chain_path, " (",
        internal::ConsumeSslErrors(), ")"));
  }

  std::shared_ptr<TicketKeys> ticket_keys = options.ticket_keys;
  if (ticket_keys == nullptr) {
    ticket_keys = std::make_shared<TicketKeys>();
  }

  SSL_CTX* c = ctx.get();
  bool ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) &&
            SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) &&
            SSL_CTX_set1_curves_list(c, kGroups) &&
            SSL_CTX_set_strict_cipher_list(c, kCipherList) &&
            SSL_CTX_set_session_id_context(c, reinterpret_cast<const uint8_t*>(kSessionIdContext),
                                           sizeof(kSessionIdContext) - 1) &&
            SSL_CTX_set_tlsext_ticket_key_cb(c, TicketKeyCallback);
  if (!ok) {
    return absl::InternalError("configuring the TLS policy failed: " +
                               internal::ConsumeSslErrors());
  }
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  SSL_CTX_set_early_data_enabled(c, 0);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_timeout(c, options.ticket_lifetime_seconds);
  SSL_CTX_set_session_psk_dhe_timeout(c, options.ticket_lifetime_seconds);

  auto* holder = new TicketKeysHolder{ticket_keys};
  if (!SSL_CTX_set_ex_data(c, TicketKeysIndex(), holder)) {
    delete holder;
    return absl::InternalError("SSL_CTX_set_ex_data failed: " + internal::ConsumeSslErrors());
  }

  ERR_clear_error();  // parsers may leave notes from formats they tried and rejected
  return std::shared_ptr<const TlsContext>(
      new TlsContext(std::move(ctx), key_type, std::move(ticket_keys)));
}

TlsContext::TlsContext(bssl::UniquePtr<SSL_CTX> ssl_ctx, CertificateKeyType key_type,
                       std::shared_ptr<TicketKeys> ticket_keys)
    : ssl_ctx_(std::move(ssl_ctx)), key_type_(key_type), ticket_keys_(std::move(ticket_keys)) {}

TlsContext::~TlsContext() = default;

}  // namespace ringward::tls
