#include "ringward/net/tls/self_signed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "net/tls/tls_internal.h"
#include "openssl/asn1.h"
#include "openssl/bio.h"
#include "openssl/bn.h"
#include "openssl/ec.h"
#include "openssl/ec_key.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/mem.h"
#include "openssl/nid.h"
#include "openssl/obj.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "ringward/base/strings.h"

namespace ringward::tls {
namespace {

bool IsIpAddress(const std::string& s) {
  uint8_t buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// IsDnsName accepts host names made of LDH labels, with an optional leading "*." wildcard.
bool IsDnsName(std::string_view s) {
  if (s.substr(0, 2) == "*.") {
    s.remove_prefix(2);
  }
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-';
    if (!ok || ++label > 63) {
      return false;
    }
  }
  return label != 0;
}

absl::Status Internal(std::string_view step) {
  return absl::InternalError(
      absl::StrCat("self-signed certificate: ", ToAbsl(step), " failed: ", internal::ConsumeSslErrors()));
}

bssl::UniquePtr<EVP_PKEY> GenerateKey(CertificateKeyType type) {
  if (type == CertificateKeyType::kEd25519) {
    bssl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (ctx == nullptr || !EVP_PKEY_keygen_init(ctx.get()) || !EVP_PKEY_keygen(ctx.get(), &raw)) {
      return nullptr;
    }
    return bssl::UniquePtr<EVP_PKEY>(raw);
  }
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (ec == nullptr || key == nullptr || !EC_KEY_generate_key(ec.get()) ||
      !EVP_PKEY_assign_EC_KEY(key.get(), ec.release())) {
    return nullptr;
  }
  return key;
}

absl::StatusOr<bssl::UniquePtr<GENERAL_NAMES>> MakeSubjectAltNames(
    const std::vector<std::string>& names) {
  bssl::UniquePtr<GENERAL_NAMES> sans(sk_GENERAL_NAME_new_null());
  if (sans == nullptr) {
    return Internal("allocating subjectAltName");
  }
  for (const std::string& name : names) {
    bssl::UniquePtr<GENERAL_NAME> gn(GENERAL_NAME_new());
    if (gn == nullptr) {
      return Internal("allocating subjectAltName");
    }
    if (IsIpAddress(name)) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
      if (ip == nullptr) {
        return Internal(absl::StrCat("encoding IP address ", name));
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
    } else if (IsDnsName(name)) {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || !ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size()))) {
        ASN1_IA5STRING_free(dns);
        return Internal("encoding DNS name");
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_DNS, dns);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "self-signed certificate: subject alternative name \"", name,
          "\" is neither an IP address nor a DNS name (letters, digits, '-' and '.')"));
    }
    if (!bssl::PushToStack(sans.get(), std::move(gn))) {
      return Internal("building subjectAltName");
    }
  }
  return sans;
}

absl::StatusOr<bssl::UniquePtr<X509>> MakeCertificate(EVP_PKEY* key,
                                                      std::chrono::system_clock::time_point now,
                                                      const SelfSignedOptions& options) {
  absl::StatusOr<bssl::UniquePtr<GENERAL_NAMES>> sans =
      MakeSubjectAltNames(options.subject_alt_names);
  if (!sans.ok()) {
    return sans.status();
  }
  bssl::UniquePtr<X509> cert(X509_new());
  if (cert == nullptr || !X509_set_version(cert.get(), X509_VERSION_3)) {
    return Internal("X509_new");
  }

  // A random positive 127-bit serial, so two dev certificates never share issuer and serial.
  uint8_t serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  bssl::UniquePtr<BIGNUM> serial_bn(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  bssl::UniquePtr<ASN1_INTEGER> serial(
      serial_bn ? BN_to_ASN1_INTEGER(serial_bn.get(), nullptr) : nullptr);
  if (serial == nullptr || !X509_set_serialNumber(cert.get(), serial.get())) {
    return Internal("setting the serial number");
  }

  const time_t issued = std::chrono::system_clock::to_time_t(now);
  const time_t not_before = issued - 60 * 60;
  const time_t not_after = issued + static_cast<time_t>(options.validity.count());
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after)) {
    return Internal("setting the validity period");
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>("ringward development"), -1,
                                  -1, 0) ||
      !X509_NAME_add_entry_by_txt(
          subject, "CN", MBSTRING_UTF8,
          reinterpret_cast<const uint8_t*>(options.common_name.c_str()), -1, -1, 0) ||
      !X509_set_issuer_name(cert.get(), subject) || !X509_set_pubkey(cert.get(), key)) {
    return Internal(absl::StrCat("setting the names (common name \"", options.common_name, "\")"));
  }

  // A leaf, good for TLS server authentication only. There is deliberately no keyUsage
  // extension: the certificate is its own trust anchor, and BoringSSL (like OpenSSL 1.1) only
  // recognises a certificate as self-issued if its keyUsage, when present, includes
  // keyCertSign, which RFC 5280 §4.2.1.3 forbids on a CA:FALSE certificate. Without keyUsage
  // every verifier accepts it (extendedKeyUsage still limits it to serverAuth).
  bssl::UniquePtr<BASIC_CONSTRAINTS> basic(BASIC_CONSTRAINTS_new());
  bssl::UniquePtr<EXTENDED_KEY_USAGE> ext_usage(sk_ASN1_OBJECT_new_null());
  if (basic == nullptr || ext_usage == nullptr ||
      !sk_ASN1_OBJECT_push(ext_usage.get(), OBJ_nid2obj(NID_server_auth))) {
    return Internal("building extensions");
  }
  basic->ca = 0;
  if (!X509_add1_ext_i2d(cert.get(), NID_basic_constraints, basic.get(), 1, X509V3_ADD_DEFAULT) ||
      !X509_add1_ext_i2d(cert.get(), NID_ext_key_usage, ext_usage.get(), 0, X509V3_ADD_DEFAULT) ||
      (sk_GENERAL_NAME_num(sans->get()) > 0 &&
       !X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans->get(), 0,
                          X509V3_ADD_DEFAULT))) {
    return Internal("adding extensions");
  }

  // Ed25519 signs the message itself, so it takes no digest.
  const EVP_MD* digest = EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (!X509_sign(cert.get(), key, digest)) {
    return Internal("signing");
  }
  return cert;
}

std::string BioContents(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// WriteFileAtomically writes |contents| to a temporary file created with |mode| (so a key is
// never readable by others, not even briefly), syncs it and renames it over |path|.
absl::Status WriteFileAtomically(std::string_view what, const std::string& path,
                                 const std::string& contents, mode_t mode) {
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());  // a leftover from an interrupted run
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", ToAbsl(what), " ", tmp));
  }
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::ErrnoToStatus(err, absl::StrCat("cannot write ", ToAbsl(what), " ", tmp));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot sync ", ToAbsl(what), " ", tmp));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                        std::chrono::system_clock::time_point now,
                                        const SelfSignedOptions& options) {
  if (!IsDnsName(options.common_name) && !IsIpAddress(options.common_name)) {
    return absl::InvalidArgumentError(absl::StrCat("self-signed certificate: common name \"",
                                                   options.common_name,
                                                   "\" is neither a DNS name nor an IP address"));
  }
  if (options.subject_alt_names.empty()) {
    // Clients match the host name against subjectAltName only (RFC 6125); without one the
    // certificate would verify for nothing.
    return absl::InvalidArgumentError(
        "self-signed certificate: at least one subject alternative name is required");
  }
  if (options.validity.count() <= 0) {
    return absl::InvalidArgumentError("self-signed certificate: validity must be positive");
  }

  ERR_clear_error();
  bssl::UniquePtr<EVP_PKEY> key = GenerateKey(options.key_type);
  if (key == nullptr) {
    return Internal("key generation");
  }
  absl::StatusOr<bssl::UniquePtr<X509>> cert = MakeCertificate(key.get(), now, options);
  if (!cert.ok()) {
    return cert.status();
  }

  bssl::UniquePtr<BIO> key_pem(BIO_new(BIO_s_mem()));
  bssl::UniquePtr<BIO> cert_pem(BIO_new(BIO_s_mem()));
  if (key_pem == nullptr || cert_pem == nullptr ||
      !PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr) ||
      !PEM_write_bio_X509(cert_pem.get(), cert->get())) {
    return Internal("PEM encoding");
  }

  std::string key_text = BioContents(key_pem.get());
  absl::Status status = WriteFileAtomically("private key file", key_path, key_text, 0600);
  OPENSSL_cleanse(key_text.data(), key_text.size());
  if (!status.ok()) {
    return status;
  }
  ERR_clear_error();
  return WriteFileAtomically("certificate file", cert_path, BioContents(cert_pem.get()), 0644);
}

}  // namespace ringward::tls
