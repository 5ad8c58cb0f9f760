// Tests for the TLS layer: the self-signed generator, TlsContext's policy, TlsSession driven in
// memory against a real BoringSSL client, session tickets shared across contexts and rotated,
// and the send queue's no-move guarantee.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "openssl/bio.h"
#include "openssl/bn.h"
#include "openssl/ec.h"
#include "openssl/ec_key.h"
#include "openssl/evp.h"
#include "openssl/nid.h"
#include "openssl/pem.h"
#include "openssl/rsa.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "ringward/net/tls/tls.h"

// Counting operator new, to show that a warmed-up session does not allocate. Only counts while
// g_count_allocations is set; BoringSSL allocates with malloc and is not counted.
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<size_t> g_allocations{0};
}  // namespace

// GCC pairs the malloc inside operator new with the free inside operator delete after inlining
// and warns about a mismatch that is exactly the point of a replacement allocator.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    std::abort();
  }
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ringward::tls {
namespace {

using std::chrono::system_clock;

// kNow is the fixed "current time" for certificates and the client's verification, so the tests
// do not depend on the machine's clock.
const system_clock::time_point kNow = system_clock::from_time_t(1767225600);  // 2026-01-01

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "ringward_tls_XXXXXX";
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool WriteText(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

struct CertFiles {
  std::string cert;
  std::string key;
};

CertFiles MakeCert(const TempDir& dir, const std::string& name,
                   CertificateKeyType type = CertificateKeyType::kEcdsaP256) {
  CertFiles files{dir.File(name + ".crt"), dir.File(name + ".key")};
  SelfSignedOptions options;
  options.key_type = type;
  const absl::Status status = WriteSelfSignedCertificate(files.cert, files.key, kNow, options);
  EXPECT_TRUE(status.ok()) << status;
  return files;
}

std::shared_ptr<const TlsContext> MakeContext(const CertFiles& files,
                                              std::shared_ptr<TicketKeys> keys = nullptr) {
  TlsContextOptions options;
  options.certificate_chain_path = files.cert;
  options.private_key_path = files.key;
  options.ticket_keys = std::move(keys);
  absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::Create(options);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

bssl::UniquePtr<X509> ReadCert(const std::string& path) {
  bssl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return nullptr;
  }
  return bssl::UniquePtr<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// ---- The client side: a plain BoringSSL client SSL over memory BIOs. ----

struct ClientOptions {
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
  std::string alpn;  // wire format, e.g. "\x08http/1.1"; empty: no ALPN extension
  const char* cipher_list = nullptr;
  const char* curves = nullptr;
  bool accept_ed25519 = false;
  bool enable_early_data = false;
};

// ClientContext is one client configuration that trusts |trusted_cert|; connections made from
// it can resume each other's sessions.
class ClientContext {
 public:
  ClientContext(const std::string& trusted_cert, const ClientOptions& options = {})
      : ctx_(SSL_CTX_new(TLS_method())), options_(options) {
    SSL_CTX* c = ctx_.get();
    EXPECT_TRUE(SSL_CTX_set_min_proto_version(c, options.min_version));
    EXPECT_TRUE(SSL_CTX_set_max_proto_version(c, options.max_version));
    EXPECT_TRUE(SSL_CTX_load_verify_locations(c, trusted_cert.c_str(), nullptr));
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(c), system_clock::to_time_t(kNow));
    if (options.cipher_list != nullptr) {
      EXPECT_TRUE(SSL_CTX_set_strict_cipher_list(c, options.cipher_list));
    }
    if (options.curves != nullptr) {
      EXPECT_TRUE(SSL_CTX_set1_curves_list(c, options.curves));
    }
    if (options.accept_ed25519) {
      static const uint16_t kPrefs[] = {SSL_SIGN_ED25519, SSL_SIGN_ECDSA_SECP256R1_SHA256};
      EXPECT_TRUE(SSL_CTX_set_verify_algorithm_prefs(c, kPrefs, 2));
    }
    SSL_CTX_set_early_data_enabled(c, options.enable_early_data ? 1 : 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(c, &ClientContext::OnNewSession);
  }

  SSL_CTX* get() const { return ctx_.get(); }
  const ClientOptions& options() const { return options_; }

  // Register points the SSL_CTX's app data at this object, for the new-session callback. Done
  // per connection rather than in the constructor, so the object may be moved before use.
  void Register() { SSL_CTX_set_app_data(ctx_.get(), this); }

  // latest_session is the most recent session (ticket) any connection from this context got.
  bssl::UniquePtr<SSL_SESSION>& latest_session() { return latest_session_; }

 private:
  static int OnNewSession(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<ClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    self->latest_session_.reset(session);  // takes the reference
    return 1;
  }

  bssl::UniquePtr<SSL_CTX> ctx_;
  ClientOptions options_;
  bssl::UniquePtr<SSL_SESSION> latest_session_;
};

// Connection pairs a TlsSession with a client SSL and moves bytes between them the way the ring
// would: every pending ciphertext byte is "sent" and consumed at once.
class Connection {
 public:
  Connection(const TlsContext& server_ctx, ClientContext& client_ctx, TlsCounters* counters,
             const TlsSessionOptions& options = {}, SSL_SESSION* resume = nullptr) {
    client_ctx.Register();
    absl::StatusOr<std::unique_ptr<TlsSession>> session =
        TlsSession::Create(server_ctx, counters, options);
    EXPECT_TRUE(session.ok()) << session.status();
    server_ = std::move(*session);
    client_.reset(SSL_new(client_ctx.get()));
    EXPECT_TRUE(SSL_set1_host(client_.get(), "localhost"));
    const std::string& alpn = client_ctx.options().alpn;
    if (!alpn.empty()) {
      EXPECT_EQ(SSL_set_alpn_protos(client_.get(), reinterpret_cast<const uint8_t*>(alpn.data()),
                                    alpn.size()),
                0);
    }
    if (resume != nullptr) {
      EXPECT_TRUE(SSL_set_session(client_.get(), resume));
    }
    client_in_ = BIO_new(BIO_s_mem());
    client_out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(client_in_, -1);
    BIO_set_mem_eof_return(client_out_, -1);
    SSL_set_bio(client_.get(), client_in_, client_out_);
    SSL_set_connect_state(client_.get());
  }

  TlsSession& server() { return *server_; }
  SSL* client() { return client_.get(); }

  // Handshake moves bytes until nothing moves; true when both sides finished the handshake.
  bool Handshake() {
    PumpUntilQuiet();
    return server_->handshake_done() && SSL_is_init_finished(client_.get()) && !client_failed_;
  }

  // PumpOnce moves client->server bytes, lets the server read, moves server->client bytes and
  // lets the client advance. Returns whether anything moved.
  bool PumpOnce() {
    bool moved = false;
    uint8_t buf[16384];
    while (BIO_pending(client_out_) > 0) {
      const int n = BIO_read(client_out_, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      server_->FeedCiphertext(buf, static_cast<size_t>(n));
      moved = true;
    }
    while (true) {
      const TlsIoResult r = server_->ReadPlaintext(buf, sizeof(buf));
      last_server_read_ = r.status;
      if (r.status != TlsIoStatus::kOk || r.bytes == 0) {
        break;
      }
      server_received_.append(reinterpret_cast<const char*>(buf), r.bytes);
      moved = true;
    }
    moved |= DeliverServerOutput();
    ClientAdvance();
    return moved || BIO_pending(client_out_) > 0;
  }

  void PumpUntilQuiet() {
    for (int i = 0; i < 10000 && PumpOnce(); ++i) {
    }
  }

  // DeliverServerOutput "sends" everything the server has pending to the client.
  bool DeliverServerOutput() {
    bool moved = false;
    while (true) {
      std::span<const uint8_t> out = server_->PendingCiphertext();
      if (out.empty()) {
        break;
      }
      EXPECT_EQ(BIO_write(client_in_, out.data(), static_cast<int>(out.size())),
                static_cast<int>(out.size()));
      server_->ConsumeCiphertext(out.size());
      moved = true;
    }
    return moved;
  }

  void ClientAdvance() {
    if (client_failed_ || client_closed_) {
      return;
    }
    if (!SSL_is_init_finished(client_.get())) {
      const int r = SSL_do_handshake(client_.get());
      if (r <= 0 && SSL_get_error(client_.get(), r) != SSL_ERROR_WANT_READ) {
        client_failed_ = true;
        ERR_clear_error();
        return;
      }
      if (r <= 0) {
        return;
      }
    }
    uint8_t buf[16384];
    while (true) {
      const int r = SSL_read(client_.get(), buf, sizeof(buf));
      if (r > 0) {
        client_received_.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(r));
        continue;
      }
      const int err = SSL_get_error(client_.get(), r);
      if (err == SSL_ERROR_ZERO_RETURN) {
        client_closed_ = true;
      } else if (err != SSL_ERROR_WANT_READ) {
        client_failed_ = true;
        ERR_clear_error();
      }
      return;
    }
  }

  // ClientWrite has the client encrypt |data| (its output is delivered by the next pump).
  void ClientWrite(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const int r = SSL_write(client_.get(), data.data() + done,
                              static_cast<int>(std::min<size_t>(data.size() - done, 1 << 20)));
      ASSERT_GT(r, 0);
      done += static_cast<size_t>(r);
    }
  }

  // ServerWrite offers |data| to the server until it is all accepted, delivering and letting the
  // client read in between, as the event loop would after each send completion.
  void ServerWrite(const std::string& data) {
    size_t done = 0;
    int stalls = 0;
    while (done < data.size()) {
      const TlsIoResult r = server_->WritePlaintext(
          reinterpret_cast<const uint8_t*>(data.data()) + done, data.size() - done);
      ASSERT_NE(r.status, TlsIoStatus::kError) << server_->status();
      ASSERT_NE(r.status, TlsIoStatus::kClosed);
      done += r.bytes;
      if (r.bytes == 0) {
        ASSERT_LT(++stalls, 3) << "WritePlaintext accepts nothing even with an empty send queue";
      } else {
        stalls = 0;
      }
      DeliverServerOutput();
      ClientAdvance();
    }
  }

  const std::string& server_received() const { return server_received_; }
  const std::string& client_received() const { return client_received_; }
  bool client_failed() const { return client_failed_; }
  bool client_closed() const { return client_closed_; }
  TlsIoStatus last_server_read() const { return last_server_read_; }
  BIO* client_out() const { return client_out_; }

 private:
  std::unique_ptr<TlsSession> server_;
  bssl::UniquePtr<SSL> client_;
  BIO* client_in_ = nullptr;   // owned by client_
  BIO* client_out_ = nullptr;  // owned by client_
  std::string server_received_;
  std::string client_received_;
  bool client_failed_ = false;
  bool client_closed_ = false;
  TlsIoStatus last_server_read_ = TlsIoStatus::kWantMore;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

// ExchangeRequestAndResponse runs one small request and response over |conn|. Besides checking
// the data path, the response is what carries TLS 1.3 session tickets: BoringSSL holds them until
// the server first writes.
void ExchangeRequestAndResponse(Connection& conn) {
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const size_t server_before = conn.server_received().size();
  const size_t client_before = conn.client_received().size();
  conn.ClientWrite(request);
  conn.PumpUntilQuiet();
  EXPECT_EQ(conn.server_received().substr(server_before), request);
  conn.ServerWrite(response);
  conn.PumpUntilQuiet();
  EXPECT_EQ(conn.client_received().substr(client_before), response);
}

const std::string kAlpnH2AndHttp11("\x02h2\x08http/1.1", 12);
const std::string kAlpnH2Only("\x02h2", 3);

// Extracts the 16-byte key name that prefixes a ticket made by ringward's ticket callback.
std::string TicketKeyName(const SSL_SESSION* session) {
  const uint8_t* ticket = nullptr;
  size_t len = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &len);
  if (len < TicketKey::kNameSize) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(ticket), TicketKey::kNameSize);
}

std::string KeyName(const TicketKey& key) {
  return std::string(reinterpret_cast<const char*>(key.name.data()), key.name.size());
}

// ---- Self-signed certificate generator ----

TEST(SelfSignedTest, WritesP256CertificateWithSansAndPrivateKeyFile) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");

  struct stat st;
  ASSERT_EQ(stat(files.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  bssl::UniquePtr<X509> cert = ReadCert(files.cert);
  ASSERT_NE(cert, nullptr);
  bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(cert.get()));
  ASSERT_NE(pub, nullptr);
  ASSERT_EQ(EVP_PKEY_id(pub.get()), EVP_PKEY_EC);
  EXPECT_EQ(EC_GROUP_get_curve_name(EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(pub.get()))),
            NID_X9_62_prime256v1);
  EXPECT_EQ(X509_verify(cert.get(), pub.get()), 1) << "not self-signed";
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 9, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert.get(), "example.com", 11, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0) << "a dev certificate must not be a CA";

  // Valid from an hour before |now| until |now| + one year.
  time_t t = system_clock::to_time_t(kNow);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert.get()), &t), 0);
  t = system_clock::to_time_t(kNow - std::chrono::minutes(59));
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert.get()), &t), 0);
  t = system_clock::to_time_t(kNow - std::chrono::minutes(61));
  EXPECT_GT(X509_cmp_time(X509_get0_notBefore(cert.get()), &t), 0);
  t = system_clock::to_time_t(kNow + std::chrono::hours(24 * 364));
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert.get()), &t), 0);
  t = system_clock::to_time_t(kNow + std::chrono::hours(24 * 366));
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(cert.get()), &t), 0);

  // The key file holds the certificate's private key.
  bssl::UniquePtr<BIO> bio(BIO_new_file(files.key.c_str(), "r"));
  ASSERT_NE(bio, nullptr);
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_cmp(key.get(), pub.get()), 1);
}

TEST(SelfSignedTest, Ed25519KeyType) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "ed", CertificateKeyType::kEd25519);
  bssl::UniquePtr<X509> cert = ReadCert(files.cert);
  ASSERT_NE(cert, nullptr);
  bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(cert.get()));
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_id(pub.get()), EVP_PKEY_ED25519);
  EXPECT_EQ(X509_verify(cert.get(), pub.get()), 1);
}

TEST(SelfSignedTest, RejectsNameThatIsNeitherHostNorAddress) {
  TempDir dir;
  SelfSignedOptions options;
  options.subject_alt_names = {"localhost", "evil,DNS:example.com"};
  const absl::Status status =
      WriteSelfSignedCertificate(dir.File("c.crt"), dir.File("c.key"), kNow, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("evil,DNS:example.com"), std::string_view::npos) << status;
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(dir.File("c.key"), ec));
}

// ---- TlsContext: loading and refusing keys ----

TEST(TlsContextTest, GarbageKeyFileIsNamedInError) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");
  const std::string bad = dir.File("garbage.key");
  ASSERT_TRUE(WriteText(bad, "this is not a key\n"));
  TlsContextOptions options;
  options.certificate_chain_path = files.cert;
  options.private_key_path = bad;
  const absl::Status status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(bad), std::string_view::npos) << status;
}

TEST(TlsContextTest, MissingFilesAreNamedInError) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");
  TlsContextOptions options;
  options.certificate_chain_path = files.cert;
  options.private_key_path = dir.File("missing.key");
  absl::Status status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(dir.File("missing.key")), std::string_view::npos) << status;

  options.certificate_chain_path = dir.File("missing.crt");
  options.private_key_path = files.key;
  status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(dir.File("missing.crt")), std::string_view::npos) << status;
}

std::string PemOfKey(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  EXPECT_TRUE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr));
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

TEST(TlsContextTest, RsaKeyIsRefusedNamingTheFile) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");
  bssl::UniquePtr<RSA> rsa(RSA_new());
  bssl::UniquePtr<BIGNUM> e(BN_new());
  ASSERT_TRUE(BN_set_word(e.get(), RSA_F4));
  ASSERT_TRUE(RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  ASSERT_TRUE(EVP_PKEY_assign_RSA(key.get(), rsa.release()));
  const std::string path = dir.File("rsa.key");
  ASSERT_TRUE(WriteText(path, PemOfKey(key.get())));

  TlsContextOptions options;
  options.certificate_chain_path = files.cert;
  options.private_key_path = path;
  const absl::Status status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(path), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("RSA"), std::string_view::npos) << status;
}

TEST(TlsContextTest, P384KeyIsRefusedNamingTheCurve) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_secp384r1));
  ASSERT_TRUE(EC_KEY_generate_key(ec.get()));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  ASSERT_TRUE(EVP_PKEY_assign_EC_KEY(key.get(), ec.release()));
  const std::string path = dir.File("p384.key");
  ASSERT_TRUE(WriteText(path, PemOfKey(key.get())));

  TlsContextOptions options;
  options.certificate_chain_path = files.cert;
  options.private_key_path = path;
  const absl::Status status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(path), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("secp384r1"), std::string_view::npos) << status;
}

TEST(TlsContextTest, KeyNotMatchingCertificateNamesBothFiles) {
  TempDir dir;
  const CertFiles a = MakeCert(dir, "a");
  const CertFiles b = MakeCert(dir, "b");
  TlsContextOptions options;
  options.certificate_chain_path = a.cert;
  options.private_key_path = b.key;
  const absl::Status status = TlsContext::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(a.cert), std::string_view::npos) << status;
  EXPECT_NE(status.message().find(b.key), std::string_view::npos) << status;
}

// ---- Handshakes ----

class TlsSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = MakeCert(dir_, "dev");
    context_ = MakeContext(files_);
    ASSERT_NE(context_, nullptr);
  }

  TempDir dir_;
  CertFiles files_;
  std::shared_ptr<const TlsContext> context_;
  TlsCounters counters_;
};

TEST_F(TlsSessionTest, Tls13HandshakeNegotiatesHttp11AndX25519) {
  ClientContext client(files_.cert, {.alpn = kAlpnH2AndHttp11});
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();

  EXPECT_EQ(conn.server().version(), TLS1_3_VERSION);
  EXPECT_EQ(SSL_version(conn.client()), TLS1_3_VERSION);
  EXPECT_EQ(conn.server().alpn(), "http/1.1");
  const uint8_t* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(conn.client(), &alpn, &alpn_len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");
  EXPECT_EQ(SSL_get_curve_id(conn.client()), SSL_CURVE_X25519);
  // The client verified the generated certificate for "localhost" against the file itself.
  EXPECT_EQ(SSL_get_verify_result(conn.client()), X509_V_OK);
  EXPECT_FALSE(conn.server().resumed());
  EXPECT_EQ(counters_.handshakes_completed, 1u);
  EXPECT_EQ(counters_.handshakes_resumed, 0u);
  EXPECT_EQ(counters_.handshake_failures, 0u);
}

TEST_F(TlsSessionTest, Tls12HandshakeUsesEcdheWithAead) {
  ClientContext client(files_.cert, {.max_version = TLS1_2_VERSION, .alpn = kAlpnH2AndHttp11});
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();

  EXPECT_EQ(conn.server().version(), TLS1_2_VERSION);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(conn.server().ssl());
  ASSERT_NE(cipher, nullptr);
  EXPECT_TRUE(SSL_CIPHER_is_aead(cipher)) << SSL_CIPHER_get_name(cipher);
  EXPECT_EQ(SSL_CIPHER_get_kx_nid(cipher), NID_kx_ecdhe) << SSL_CIPHER_get_name(cipher);
  EXPECT_EQ(conn.server().alpn(), "http/1.1");
  EXPECT_EQ(SSL_get_curve_id(conn.client()), SSL_CURVE_X25519);
  EXPECT_EQ(counters_.handshakes_completed, 1u);
}

TEST_F(TlsSessionTest, P256IsUsedWhenTheClientLacksX25519AndP384AloneIsRefused) {
  {
    ClientContext client(files_.cert, {.curves = "P-384:P-256"});
    Connection conn(*context_, client, &counters_);
    ASSERT_TRUE(conn.Handshake()) << conn.server().status();
    EXPECT_EQ(SSL_get_curve_id(conn.client()), SSL_CURVE_SECP256R1);
  }
  {
    ClientContext client(files_.cert, {.curves = "P-384"});
    Connection conn(*context_, client, &counters_);
    EXPECT_FALSE(conn.Handshake());
    EXPECT_EQ(conn.server().error(), TlsError::kNoSharedParameters) << conn.server().status();
  }
}

TEST_F(TlsSessionTest, ClientWithoutAlpnIsAcceptedAsHttp11) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  EXPECT_EQ(conn.server().alpn(), "");
}

TEST_F(TlsSessionTest, ClientOfferingOnlyH2IsRefused) {
  ClientContext client(files_.cert, {.alpn = kAlpnH2Only});
  Connection conn(*context_, client, &counters_);
  EXPECT_FALSE(conn.Handshake());
  EXPECT_TRUE(conn.server().failed());
  EXPECT_EQ(conn.server().error(), TlsError::kNoApplicationProtocol) << conn.server().status();
  EXPECT_TRUE(conn.client_failed()) << "the client should have received the fatal alert";
  EXPECT_EQ(counters_.handshake_failures, 1u);
  EXPECT_EQ(counters_.handshakes_completed, 0u);
}

TEST_F(TlsSessionTest, Tls11ClientIsRefusedWithProtocolVersionError) {
  ClientContext client(files_.cert, {.min_version = TLS1_VERSION, .max_version = TLS1_1_VERSION});
  Connection conn(*context_, client, &counters_);
  EXPECT_FALSE(conn.Handshake());
  EXPECT_EQ(conn.server().error(), TlsError::kProtocolVersion) << conn.server().status();
  EXPECT_EQ(conn.server().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(conn.server().status().message().find("protocol_version"), std::string_view::npos)
      << conn.server().status();
  EXPECT_TRUE(conn.client_failed());
  EXPECT_FALSE(conn.server().handshake_done());
  EXPECT_EQ(counters_.handshake_failures, 1u);
  EXPECT_EQ(counters_.handshakes_completed, 0u);
  // A failed session stays failed and harmless.
  const uint8_t junk[] = {1, 2, 3};
  conn.server().FeedCiphertext(junk, sizeof(junk));
  uint8_t buf[16];
  EXPECT_EQ(conn.server().ReadPlaintext(buf, sizeof(buf)).status, TlsIoStatus::kError);
  EXPECT_EQ(conn.server().WritePlaintext(junk, sizeof(junk)).status, TlsIoStatus::kError);
}

TEST_F(TlsSessionTest, Tls12ClientWithoutAeadSuitesIsRefused) {
  ClientContext client(files_.cert, {.max_version = TLS1_2_VERSION,
                                     .cipher_list = "ECDHE-ECDSA-AES128-SHA"});
  Connection conn(*context_, client, &counters_);
  EXPECT_FALSE(conn.Handshake());
  EXPECT_EQ(conn.server().error(), TlsError::kNoSharedParameters) << conn.server().status();
}

TEST_F(TlsSessionTest, PlainHttpIsReportedAsNotTls) {
  absl::StatusOr<std::unique_ptr<TlsSession>> session =
      TlsSession::Create(*context_, &counters_);
  ASSERT_TRUE(session.ok());
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (*session)->FeedCiphertext(reinterpret_cast<const uint8_t*>(request.data()), request.size());
  uint8_t buf[64];
  EXPECT_EQ((*session)->ReadPlaintext(buf, sizeof(buf)).status, TlsIoStatus::kError);
  EXPECT_EQ((*session)->error(), TlsError::kNotTls) << (*session)->status();
  EXPECT_EQ(counters_.handshake_failures, 1u);
}

TEST_F(TlsSessionTest, HandshakeArrivingOneByteAtATime) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  // Start the client and feed the ClientHello to the server a byte at a time.
  conn.ClientAdvance();
  std::string hello(BIO_pending(conn.client_out()), '\0');
  ASSERT_GT(hello.size(), 0u);
  ASSERT_EQ(BIO_read(conn.client_out(), hello.data(), static_cast<int>(hello.size())),
            static_cast<int>(hello.size()));
  uint8_t buf[64];
  for (size_t i = 0; i < hello.size(); ++i) {
    conn.server().FeedCiphertext(reinterpret_cast<const uint8_t*>(&hello[i]), 1);
    const TlsIoResult r = conn.server().ReadPlaintext(buf, sizeof(buf));
    ASSERT_EQ(r.status, TlsIoStatus::kWantMore) << conn.server().status();
    if (i + 1 < hello.size()) {
      ASSERT_EQ(conn.server().pending_ciphertext_size(), 0u) << "answered a partial hello";
    }
  }
  EXPECT_GT(conn.server().pending_ciphertext_size(), 0u);
  EXPECT_TRUE(conn.Handshake()) << conn.server().status();
}

TEST_F(TlsSessionTest, Ed25519CertificateWorksWithTls13AndTls12) {
  const CertFiles ed = MakeCert(dir_, "ed", CertificateKeyType::kEd25519);
  std::shared_ptr<const TlsContext> context = MakeContext(ed);
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(context->key_type(), CertificateKeyType::kEd25519);
  for (uint16_t version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    ClientContext client(ed.cert, {.max_version = version, .accept_ed25519 = true});
    Connection conn(*context, client, &counters_);
    ASSERT_TRUE(conn.Handshake()) << conn.server().status();
    EXPECT_EQ(conn.server().version(), version);
    EXPECT_EQ(SSL_get_peer_signature_algorithm(conn.client()), SSL_SIGN_ED25519);
    EXPECT_EQ(SSL_get_verify_result(conn.client()), X509_V_OK);
  }
}

// ---- Application data ----

TEST_F(TlsSessionTest, ApplicationDataRoundTripIncludingOneMebibyte) {
  for (uint16_t version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    ClientContext client(files_.cert, {.max_version = version});
    Connection conn(*context_, client, &counters_);
    ASSERT_TRUE(conn.Handshake()) << conn.server().status();

    ExchangeRequestAndResponse(conn);

    const std::string up = RandomBytes(1 << 20, 1);
    const std::string down = RandomBytes(1 << 20, 2);
    const size_t server_before = conn.server_received().size();
    const size_t client_before = conn.client_received().size();
    conn.ClientWrite(up);
    conn.PumpUntilQuiet();
    ASSERT_EQ(conn.server_received().size() - server_before, up.size());
    EXPECT_TRUE(conn.server_received().compare(server_before, up.size(), up) == 0);
    conn.ServerWrite(down);
    conn.PumpUntilQuiet();
    ASSERT_EQ(conn.client_received().size() - client_before, down.size());
    EXPECT_TRUE(conn.client_received().compare(client_before, down.size(), down) == 0);
    EXPECT_FALSE(conn.server().failed()) << conn.server().status();
  }
}

TEST_F(TlsSessionTest, TinyBuffersStillCarryEverything) {
  // Buffers far smaller than a record force the receive buffer to grow and the send queue to
  // spill into extra blocks; the bytes must still arrive whole and in order.
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_,
                  {.receive_capacity = 16, .send_capacity = 64});
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  const std::string up = RandomBytes(300000, 3);
  const std::string down = RandomBytes(300000, 4);
  conn.ClientWrite(up);
  conn.PumpUntilQuiet();
  EXPECT_TRUE(conn.server_received() == up);
  conn.ServerWrite(down);
  conn.PumpUntilQuiet();
  EXPECT_TRUE(conn.client_received() == down);
}

TEST_F(TlsSessionTest, WritePlaintextStopsWhenTheSendQueueIsFull) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_, {.send_capacity = 48 * 1024});
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  const std::string data = RandomBytes(1 << 20, 5);
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  // Nothing is "sent": the queue fills up to its block and then refuses more.
  const TlsIoResult first = conn.server().WritePlaintext(bytes, data.size());
  ASSERT_EQ(first.status, TlsIoStatus::kOk);
  EXPECT_GT(first.bytes, 16384u);
  EXPECT_LT(first.bytes, 48u * 1024);
  const std::span<const uint8_t> pending = conn.server().PendingCiphertext();
  EXPECT_EQ(pending.size(), conn.server().pending_ciphertext_size()) << "spilled a block";
  const TlsIoResult second =
      conn.server().WritePlaintext(bytes + first.bytes, data.size() - first.bytes);
  EXPECT_EQ(second.status, TlsIoStatus::kWantMore);
  EXPECT_EQ(second.bytes, 0u);
  // After the send completes there is room again.
  conn.server().ConsumeCiphertext(pending.size());
  EXPECT_EQ(conn.server().WritePlaintext(bytes + first.bytes, data.size() - first.bytes).status,
            TlsIoStatus::kOk);
}

TEST_F(TlsSessionTest, CorruptRecordIsAProtocolErrorNotAHandshakeFailure) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  conn.ClientWrite("hello");
  std::string record(BIO_pending(conn.client_out()), '\0');
  ASSERT_GT(record.size(), 5u);
  ASSERT_EQ(BIO_read(conn.client_out(), record.data(), static_cast<int>(record.size())),
            static_cast<int>(record.size()));
  record.back() ^= 0x01;  // breaks the AEAD tag
  conn.server().FeedCiphertext(reinterpret_cast<const uint8_t*>(record.data()), record.size());
  uint8_t buf[64];
  EXPECT_EQ(conn.server().ReadPlaintext(buf, sizeof(buf)).status, TlsIoStatus::kError);
  EXPECT_EQ(conn.server().error(), TlsError::kProtocolError) << conn.server().status();
  EXPECT_GT(conn.server().pending_ciphertext_size(), 0u) << "no bad_record_mac alert queued";
  EXPECT_EQ(counters_.handshake_failures, 0u);
  EXPECT_EQ(counters_.handshakes_completed, 1u);
}

// ---- close_notify ----

TEST_F(TlsSessionTest, ClientCloseNotifyIsReportedAndAnswered) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  conn.ClientWrite("last request");
  EXPECT_EQ(SSL_shutdown(conn.client()), 0);  // sent ours, not yet received theirs
  conn.PumpUntilQuiet();
  EXPECT_EQ(conn.server_received(), "last request");
  EXPECT_EQ(conn.last_server_read(), TlsIoStatus::kClosed);
  EXPECT_TRUE(conn.server().peer_closed());
  EXPECT_FALSE(conn.server().failed());

  conn.server().Shutdown();
  EXPECT_GT(conn.server().pending_ciphertext_size(), 0u);
  conn.DeliverServerOutput();
  EXPECT_EQ(SSL_shutdown(conn.client()), 1) << "the client did not receive our close_notify";
}

TEST_F(TlsSessionTest, ServerShutdownSendsCloseNotifyAfterQueuedData) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  const std::string response = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(conn.server()
                .WritePlaintext(reinterpret_cast<const uint8_t*>(response.data()),
                                response.size())
                .bytes,
            response.size());
  conn.server().Shutdown();
  const uint8_t more[] = {'x'};
  EXPECT_EQ(conn.server().WritePlaintext(more, 1).status, TlsIoStatus::kClosed);
  conn.PumpUntilQuiet();
  EXPECT_EQ(conn.client_received(), response);
  EXPECT_TRUE(conn.client_closed());
  EXPECT_FALSE(conn.client_failed());
}

// ---- Session lifetime ----

TEST_F(TlsSessionTest, SessionOutlivesItsContext) {
  ClientContext client(files_.cert);
  client.Register();
  std::shared_ptr<const TlsContext> context = MakeContext(files_);
  Connection conn(*context, client, &counters_);
  context.reset();  // the SSL keeps the SSL_CTX, and the ticket keys with it
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  ExchangeRequestAndResponse(conn);
  EXPECT_NE(client.latest_session(), nullptr) << "no ticket was issued";
}

// ---- Resumption with shared, rotating ticket keys ----

class ResumptionTest : public ::testing::TestWithParam<uint16_t> {
 protected:
  void SetUp() override { files_ = MakeCert(dir_, "dev"); }

  // Connect makes one connection from |client| to |context| and returns whether it resumed.
  bool Connect(const TlsContext& context, ClientContext& client, SSL_SESSION* resume) {
    Connection conn(context, client, &counters_, {}, resume);
    EXPECT_TRUE(conn.Handshake()) << conn.server().status();
    EXPECT_EQ(conn.server().version(), GetParam());
    ExchangeRequestAndResponse(conn);
    return conn.server().resumed() && SSL_session_reused(conn.client());
  }

  TempDir dir_;
  CertFiles files_;
  TlsCounters counters_;
};

TEST_P(ResumptionTest, SecondConnectionResumesFromTicket) {
  std::shared_ptr<const TlsContext> context = MakeContext(files_);
  ClientContext client(files_.cert, {.max_version = GetParam()});
  EXPECT_FALSE(Connect(*context, client, nullptr));
  bssl::UniquePtr<SSL_SESSION> ticket = std::move(client.latest_session());
  ASSERT_NE(ticket, nullptr);
  EXPECT_TRUE(Connect(*context, client, ticket.get()));
  EXPECT_EQ(counters_.handshakes_completed, 2u);
  EXPECT_EQ(counters_.handshakes_resumed, 1u);
}

TEST_P(ResumptionTest, ContextsSharingTicketKeysResumeEachOthersSessions) {
  auto shared = std::make_shared<TicketKeys>();
  std::shared_ptr<const TlsContext> shard0 = MakeContext(files_, shared);
  std::shared_ptr<const TlsContext> shard1 = MakeContext(files_, shared);
  std::shared_ptr<const TlsContext> stranger = MakeContext(files_, std::make_shared<TicketKeys>());
  ClientContext client(files_.cert, {.max_version = GetParam()});

  EXPECT_FALSE(Connect(*shard0, client, nullptr));
  bssl::UniquePtr<SSL_SESSION> ticket = std::move(client.latest_session());
  ASSERT_NE(ticket, nullptr);
  EXPECT_TRUE(Connect(*shard1, client, ticket.get())) << "shard 1 could not open shard 0's ticket";
  EXPECT_FALSE(Connect(*stranger, client, ticket.get()))
      << "a context with other ticket keys must not resume";
}

TEST_P(ResumptionTest, OldTicketResumesAfterRotationWhileItsKeyIsKept) {
  auto keys = std::make_shared<TicketKeys>(/*previous_keys=*/1);
  std::shared_ptr<const TlsContext> context = MakeContext(files_, keys);
  ClientContext client(files_.cert, {.max_version = GetParam()});
  const std::string first_key = KeyName(keys->Load()->current());

  EXPECT_FALSE(Connect(*context, client, nullptr));
  bssl::UniquePtr<SSL_SESSION> ticket = std::move(client.latest_session());
  ASSERT_NE(ticket, nullptr);
  EXPECT_EQ(TicketKeyName(ticket.get()), first_key);

  keys->Rotate();
  const std::string second_key = KeyName(keys->Load()->current());
  ASSERT_NE(second_key, first_key);
  EXPECT_TRUE(Connect(*context, client, ticket.get()));
  // The resumed connection got a fresh ticket under the new current key.
  ASSERT_NE(client.latest_session(), nullptr);
  EXPECT_EQ(TicketKeyName(client.latest_session().get()), second_key);
}

TEST_P(ResumptionTest, TicketFromDroppedKeyFallsBackToFullHandshake) {
  auto keys = std::make_shared<TicketKeys>(/*previous_keys=*/1);
  std::shared_ptr<const TlsContext> context = MakeContext(files_, keys);
  ClientContext client(files_.cert, {.max_version = GetParam()});
  EXPECT_FALSE(Connect(*context, client, nullptr));
  bssl::UniquePtr<SSL_SESSION> ticket = std::move(client.latest_session());
  ASSERT_NE(ticket, nullptr);
  keys->Rotate();
  keys->Rotate();  // the ticket's key is now beyond the one kept previous key
  EXPECT_FALSE(Connect(*context, client, ticket.get()));
  EXPECT_EQ(counters_.handshakes_completed, 2u);
  EXPECT_EQ(counters_.handshakes_resumed, 0u);
  EXPECT_EQ(counters_.handshake_failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, ResumptionTest,
                         ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const ::testing::TestParamInfo<uint16_t>& info) {
                           return info.param == TLS1_3_VERSION ? std::string("Tls13")
                                                               : std::string("Tls12");
                         });

TEST(NoEarlyDataTest, TicketsDoNotAllowZeroRtt) {
  TempDir dir;
  const CertFiles files = MakeCert(dir, "dev");
  std::shared_ptr<const TlsContext> context = MakeContext(files);
  ClientContext client(files.cert, {.enable_early_data = true});
  TlsCounters counters;
  {
    Connection conn(*context, client, &counters);
    ASSERT_TRUE(conn.Handshake());
    ExchangeRequestAndResponse(conn);
  }
  ASSERT_NE(client.latest_session(), nullptr);
  EXPECT_EQ(SSL_SESSION_early_data_capable(client.latest_session().get()), 0);
  bssl::UniquePtr<SSL_SESSION> ticket = std::move(client.latest_session());
  Connection conn(*context, client, &counters, {}, ticket.get());
  ASSERT_TRUE(conn.Handshake());
  EXPECT_TRUE(conn.server().resumed());
  EXPECT_EQ(SSL_early_data_accepted(conn.client()), 0);
}

// ---- TicketKeys ----

TEST(TicketKeysTest, RotationDemotesCurrentAndBoundsPreviousKeys) {
  TicketKeys keys(/*previous_keys=*/2);
  std::vector<std::string> names = {KeyName(keys.Load()->current())};
  for (int i = 0; i < 4; ++i) {
    keys.Rotate();
    names.push_back(KeyName(keys.Load()->current()));
  }
  const std::shared_ptr<const TicketKeySet> set = keys.Load();
  EXPECT_EQ(set->previous_count(), 2u);
  EXPECT_EQ(KeyName(set->current()), names[4]);
  EXPECT_EQ(KeyName(set->previous(0)), names[3]);
  EXPECT_EQ(KeyName(set->previous(1)), names[2]);
  bool is_current = true;
  EXPECT_NE(set->Find(set->previous(1).name.data(), &is_current), nullptr);
  EXPECT_FALSE(is_current);
  TicketKey dropped;
  std::memcpy(dropped.name.data(), names[1].data(), TicketKey::kNameSize);
  EXPECT_EQ(set->Find(dropped.name.data(), &is_current), nullptr);
}

TEST(TicketKeysTest, ReadersKeepTheSetTheyLoaded) {
  TicketKeys keys;
  const std::shared_ptr<const TicketKeySet> before = keys.Load();
  const std::string name = KeyName(before->current());
  keys.Rotate();
  EXPECT_EQ(KeyName(before->current()), name);
  EXPECT_NE(KeyName(keys.Load()->current()), name);
}

TEST(TicketKeysTest, ConcurrentRotationsLoseNoKey) {
  constexpr int kPerThread = 200;
  TicketKeys keys(/*previous_keys=*/2 * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&keys] {
      for (int i = 0; i < kPerThread; ++i) {
        keys.Rotate();
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(keys.Load()->previous_count(), 2u * kPerThread);
}

// ---- SendQueue ----

TEST(SendQueueTest, QueuedBytesNeverMoveWhileAppending) {
  SendQueue queue(64);
  const std::string first = RandomBytes(50, 6);
  queue.Append(reinterpret_cast<const uint8_t*>(first.data()), first.size());
  const std::span<const uint8_t> in_flight = queue.Front();
  ASSERT_EQ(in_flight.size(), first.size());
  // Appending far more than the block holds must not move or overwrite the in-flight bytes.
  const std::string second = RandomBytes(1000, 7);
  queue.Append(reinterpret_cast<const uint8_t*>(second.data()), second.size());
  EXPECT_EQ(queue.Front().data(), in_flight.data());
  EXPECT_EQ(std::memcmp(in_flight.data(), first.data(), first.size()), 0);
  EXPECT_EQ(queue.size(), first.size() + second.size());
  EXPECT_GT(queue.block_count(), 1u);

  std::string drained;
  while (queue.size() > 0) {
    const std::span<const uint8_t> front = queue.Front();
    ASSERT_FALSE(front.empty());
    const size_t take = std::min<size_t>(front.size(), 7);  // partial sends
    drained.append(reinterpret_cast<const char*>(front.data()), take);
    queue.Consume(take);
  }
  EXPECT_EQ(drained, first + second);
  EXPECT_EQ(queue.block_count(), 1u);
}

// ---- Steady state ----

TEST_F(TlsSessionTest, WarmSessionDoesNotAllocate) {
  ClientContext client(files_.cert);
  Connection conn(*context_, client, &counters_);
  ASSERT_TRUE(conn.Handshake()) << conn.server().status();
  const std::string request = RandomBytes(2000, 8);
  const std::string response = RandomBytes(100000, 9);  // more than one send block
  // Encrypt a few requests on the client beforehand, so only server work is measured.
  std::vector<std::string> records;
  for (int i = 0; i < 4; ++i) {
    conn.ClientWrite(request);
    std::string rec(BIO_pending(conn.client_out()), '\0');
    ASSERT_EQ(BIO_read(conn.client_out(), rec.data(), static_cast<int>(rec.size())),
              static_cast<int>(rec.size()));
    records.push_back(std::move(rec));
  }
  std::vector<uint8_t> plain(64 * 1024);
  auto serve_one = [&](const std::string& rec) {
    conn.server().FeedCiphertext(reinterpret_cast<const uint8_t*>(rec.data()), rec.size());
    size_t got = 0;
    while (true) {
      const TlsIoResult r = conn.server().ReadPlaintext(plain.data(), plain.size());
      if (r.status != TlsIoStatus::kOk) {
        break;
      }
      got += r.bytes;
    }
    size_t sent = 0;
    while (sent < response.size()) {
      const TlsIoResult w = conn.server().WritePlaintext(
          reinterpret_cast<const uint8_t*>(response.data()) + sent, response.size() - sent);
      sent += w.bytes;
      while (!conn.server().PendingCiphertext().empty()) {
        conn.server().ConsumeCiphertext(conn.server().PendingCiphertext().size());
      }
    }
    return got;
  };
  EXPECT_EQ(serve_one(records[0]), request.size());  // warm-up
  g_allocations = 0;
  g_count_allocations = true;
  size_t got = 0;
  for (size_t i = 1; i < records.size(); ++i) {
    got += serve_one(records[i]);
  }
  g_count_allocations = false;
  EXPECT_EQ(got, 3 * request.size());
  EXPECT_EQ(g_allocations.load(), 0u);
}

}  // namespace
}  // namespace ringward::tls
