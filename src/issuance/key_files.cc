#include "issuance/key_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "openssl/mem.h"
#include "ringward/base/fd.h"
#include "ringward/base/strings.h"

namespace ringward::issuance {
namespace {

// A private JWK is well under 4 KiB even for RSA-4096; anything much larger is not a key file.
constexpr off_t kMaxKeyFileSize = 64 * 1024;
constexpr size_t kMaxKidLength = 128;

absl::Status Errno(int error, std::string_view what) {
  return absl::ErrnoToStatus(error, ToAbsl(what));
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Wipes a buffer that held private key material before it is freed.
void Wipe(std::string* s) {
  if (!s->empty()) {
    OPENSSL_cleanse(s->data(), s->size());
  }
  s->clear();
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Errno(errno, absl::StrCat("writing key file ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > kMaxKidLength) {
    return false;
  }
  for (char c : kid) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<KeyFiles> KeyFiles::Open(const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError("the key directory is the empty string");
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(errno, absl::StrCat("creating key directory ", dir));
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return Errno(errno, absl::StrCat("opening key directory ", dir));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Errno(errno, absl::StrCat("stat of key directory ", dir));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key directory ", dir, " is owned by uid ", st.st_uid, ", not by uid ",
                     ::geteuid(), " that runs ringward; chown it to the service user"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key directory ", dir, " has mode ", Octal(st.st_mode),
                     ": group and others must have no access to private keys; run chmod 700 ",
                     dir));
  }
  return KeyFiles(dir);
}

std::string KeyFiles::PathOf(std::string_view kid) const {
  return absl::StrCat(dir_, "/", ToAbsl(kid), ".jwk");
}

absl::Status KeyFiles::SyncDir() const {
  Fd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return Errno(errno, absl::StrCat("opening key directory ", dir_));
  }
  if (::fsync(fd.get()) != 0) {
    return Errno(errno, absl::StrCat("fsync of key directory ", dir_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<token::Key>> KeyFiles::Create(token::Algorithm alg) const {
  if (alg == token::Algorithm::kHS256) {
    return absl::InvalidArgumentError(
        "HS256 cannot be a rotated signing key: a symmetric key has no public JWK to publish");
  }
  absl::StatusOr<std::unique_ptr<token::Key>> key = token::Key::Generate(alg, "");
  if (!key.ok()) {
    return key.status();
  }
  const std::string& kid = (*key)->kid();
  if (!IsValidKid(kid)) {
    return absl::InternalError(absl::StrCat("generated kid ", kid, " is not base64url"));
  }
  const std::string path = PathOf(kid);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    return Errno(errno, absl::StrCat("creating key file ", path));
  }
  // The umask can only take bits away from 0600, but say exactly what is meant.
  absl::Status status;
  if (::fchmod(fd.get(), 0600) != 0) {
    status = Errno(errno, absl::StrCat("chmod of key file ", path));
  }
  if (status.ok()) {
    std::string jwk = (*key)->ToJwk(/*include_private=*/true);
    jwk.push_back('\n');
    status = WriteAll(fd.get(), jwk, path);
    Wipe(&jwk);
  }
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = Errno(errno, absl::StrCat("fsync of key file ", path));
  }
  // close() can report a deferred write error; the file is not known good until it returns 0.
  if (status.ok() && ::close(fd.release()) != 0) {
    status = Errno(errno, absl::StrCat("closing key file ", path));
  }
  if (status.ok()) {
    status = SyncDir();
  }
  if (!status.ok()) {
    fd.reset();
    ::unlink(path.c_str());
    return status;
  }
  return key;
}

absl::StatusOr<std::unique_ptr<token::Key>> KeyFiles::Load(std::string_view kid) const {
  if (!IsValidKid(kid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id \"", ToAbsl(kid), "\" is not 1..128 base64url characters"));
  }
  const std::string path = PathOf(kid);
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key file ", path, " does not exist"));
    }
    return Errno(error, absl::StrCat("opening key file ", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Errno(errno, absl::StrCat("stat of key file ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::DataLossError(absl::StrCat("key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", path, " has mode ", Octal(st.st_mode),
                     ": group and others must not read a private key; run chmod 600 ", path));
  }
  if (st.st_size <= 0 || st.st_size > kMaxKeyFileSize) {
    return absl::DataLossError(
        absl::StrCat("key file ", path, " has implausible size ", st.st_size, " bytes"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const absl::Status s = Errno(errno, absl::StrCat("reading key file ", path));
      Wipe(&text);
      return s;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  absl::StatusOr<std::unique_ptr<token::Key>> key = token::Key::FromJwk(text);
  Wipe(&text);
  if (!key.ok()) {
    return absl::DataLossError(
        absl::StrCat("key file ", path, " is not a valid JWK: ", key.status().message()));
  }
  if (!(*key)->has_private()) {
    return absl::DataLossError(absl::StrCat("key file ", path, " holds no private key"));
  }
  if ((*key)->kid() != kid || (*key)->Thumbprint() != kid) {
    return absl::DataLossError(absl::StrCat("key file ", path, " holds key \"", (*key)->kid(),
                                            "\" with thumbprint ", (*key)->Thumbprint(),
                                            ", not the key its name promises"));
  }
  return key;
}

absl::Status KeyFiles::Remove(std::string_view kid) const {
  if (!IsValidKid(kid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id \"", ToAbsl(kid), "\" is not 1..128 base64url characters"));
  }
  const std::string path = PathOf(kid);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return absl::OkStatus();
    }
    return Errno(errno, absl::StrCat("removing key file ", path));
  }
  return SyncDir();
}

}  // namespace ringward::issuance
