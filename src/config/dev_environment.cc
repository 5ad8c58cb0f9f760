// dev_environment.cc: PrepareDevEnvironment, the zero-setup environment of `ringward serve --dev`.
//
// Each file is made only when it is missing, and is written to a temporary name and then linked
// into place, so a reader never sees half a file and two processes starting at once agree on one
// key set (the second link fails with EEXIST and its key is thrown away). Nothing here logs: the
// files hold private keys.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "openssl/rand.h"
#include "ringward/base/base64url.h"
#include "ringward/base/fd.h"
#include "ringward/config/config.h"
#include "ringward/net/tls/self_signed.h"
#include "ringward/token/algorithm.h"
#include "ringward/token/key.h"

namespace ringward::config {
namespace {

constexpr char kDevKid[] = "dev-ed25519";

constexpr char kDevConfig[] =
    R"(# ringward development configuration, written by `ringward serve --dev`.
# Paths are relative to this file. Edit freely: later --dev runs keep this file as it is.
data_dir = "."

[server]
listen = ["127.0.0.1:8443"]
plain_listen = ["127.0.0.1:8080"]

[tls]
certificate = "cert.pem"
private_key = "key.pem"

[tokens]
keys = "keys.json"
issuers = ["https://ringward.local"]
audiences = ["edge-api"]

[admin]
listen = ["127.0.0.1:8444"]
token_file = "admin-token"

[issuance]
enabled = true
base_url = "https://127.0.0.1:8443"
)";

absl::Status ErrnoStatus(int err, std::string_view what, const std::string& path) {
  std::string message = absl::StrCat(std::string(what), " \"", path, "\": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// MakeDirectory creates |dir| with |mode| unless it is already a directory.
absl::Status MakeDirectory(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) {
    return absl::OkStatus();
  }
  const int err = errno;
  struct stat st;
  if (err == EEXIST && ::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use \"", dir, "\" as the --dev directory: it is not a directory"));
  }
  return ErrnoStatus(err, "cannot create directory", dir);
}

// MakeDirectories creates the missing parents of |dir| (with the usual mode, like mkdir -p) and
// |dir| itself with mode 0700: it will hold private keys.
absl::Status MakeDirectories(const std::string& dir) {
  for (size_t slash = dir.find('/', 1); slash != std::string::npos;
       slash = dir.find('/', slash + 1)) {
    absl::Status status = MakeDirectory(dir.substr(0, slash), 0755);
    if (!status.ok()) {
      return status;
    }
  }
  return MakeDirectory(dir, 0700);
}

// WriteNewFile writes |contents| to |path| (mode 0600) unless |path| already exists, via a
// temporary file that is fsync'ed and then hard-linked into place.
absl::Status WriteNewFile(const std::string& path, std::string_view contents) {
  std::string temp = path + ".tmp.XXXXXX";
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));  // mkostemp creates the file with mode 0600
  if (!fd) {
    return ErrnoStatus(errno, "cannot create", temp);
  }
  absl::Status status;
  size_t done = 0;
  while (done < contents.size() && status.ok()) {
    const ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno != EINTR) {
      status = ErrnoStatus(errno, "cannot write", temp);
    } else if (n > 0) {
      done += static_cast<size_t>(n);
    }
  }
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = ErrnoStatus(errno, "cannot write", temp);
  }
  fd.reset();
  // link() rather than rename(): when another process made |path| meanwhile, keep its file.
  if (status.ok() && ::link(temp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    status = ErrnoStatus(errno, "cannot create", path);
  }
  ::unlink(temp.c_str());
  return status;
}

absl::Status EnsureKeys(const std::string& path) {
  if (Exists(path)) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<token::Key>> key =
      token::Key::Generate(token::Algorithm::kEdDSA, kDevKid);
  if (!key.ok()) {
    return key.status();
  }
  token::KeySet keys;
  absl::Status status = keys.Add(*std::move(key));
  if (!status.ok()) {
    return status;
  }
  return WriteNewFile(path, keys.ToJwks(/*include_private=*/true));
}

// EnsureAdminToken writes a random admin bearer token (32 bytes, base64url) unless one exists.
absl::Status EnsureAdminToken(const std::string& path) {
  if (Exists(path)) {
    return absl::OkStatus();
  }
  uint8_t random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("cannot make an admin token: the random generator failed");
  }
  std::string token = Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  token.push_back('\n');
  return WriteNewFile(path, token);
}

absl::Status EnsureCertificate(const std::string& cert_path, const std::string& key_path) {
  // The two belong together: when either is missing, make a fresh pair.
  if (Exists(cert_path) && Exists(key_path)) {
    return absl::OkStatus();
  }
  tls::SelfSignedOptions options;
  options.common_name = "localhost";
  options.subject_alt_names = {"localhost", "127.0.0.1", "::1"};
  options.key_type = tls::CertificateKeyType::kEcdsaP256;
  return tls::WriteSelfSignedCertificate(cert_path, key_path, std::chrono::system_clock::now(),
                                         options);
}

}  // namespace

absl::StatusOr<Config> PrepareDevEnvironment(const std::string& dir_in) {
  if (dir_in.empty()) {
    return absl::InvalidArgumentError("the --dev directory must not be empty");
  }
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  absl::Status status = MakeDirectories(dir);
  if (status.ok()) {
    status = EnsureKeys(dir + "/keys.json");
  }
  if (status.ok()) {
    status = EnsureCertificate(dir + "/cert.pem", dir + "/key.pem");
  }
  if (status.ok()) {
    status = EnsureAdminToken(dir + "/admin-token");
  }
  const std::string config_path = dir + "/ringward.toml";
  if (status.ok() && !Exists(config_path)) {
    status = WriteNewFile(config_path, kDevConfig);
  }
  if (!status.ok()) {
    return status;
  }
  return LoadConfig(config_path);
}

}  // namespace ringward::config
