// issuance/key_files.h: KeyFiles, the private signing keys on disk, one file per key.
//
// Each key is <dir>/<kid>.jwk: its private JWK, mode 0600, in a directory of mode 0700, where
// kid is the key's RFC 7638 thumbprint. The write-ahead log holds only public JWKs and states,
// so a key file must be durable (file and directory fsynced) before the log record naming it
// is written: Create returns only once it is. Files and the directory are refused when group or
// others can reach them, as ssh refuses a readable identity file: a signing key another account
// could read is already compromised.
//
// Blocking file I/O: never call from a shard. A KeyFiles is a directory name and nothing more;
// it is immutable and may be used from any thread. Callers own the Keys it returns.
#ifndef RINGWARD_ISSUANCE_KEY_FILES_H_
#define RINGWARD_ISSUANCE_KEY_FILES_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/token/algorithm.h"
#include "ringward/token/key.h"

namespace ringward::issuance {

// IsValidKid reports whether |kid| may name a key file: 1..128 base64url characters, so that it
// can never climb out of the key directory or name a hidden file.
bool IsValidKid(std::string_view kid);

class KeyFiles {
 public:
  // Open uses |dir| as the key directory, creating it with mode 0700 when it is missing (its
  // parent must exist). FailedPrecondition, naming the chmod or chown that fixes it, when the
  // directory is reachable by group or others or is owned by another user.
  static absl::StatusOr<KeyFiles> Open(const std::string& dir);

  // Create generates a fresh private key for |alg| whose kid is its RFC 7638 thumbprint, writes
  // it to <dir>/<kid>.jwk (created exclusively, mode 0600, written and fsynced, then the
  // directory fsynced) and returns it. HS256 is refused (InvalidArgument): a symmetric key has
  // no public form to publish in the JWKS. On failure no file is left behind.
  absl::StatusOr<std::unique_ptr<token::Key>> Create(token::Algorithm alg) const;

  // Load reads the private key |kid|. InvalidArgument for a kid that is not base64url;
  // NotFound when there is no such file; FailedPrecondition when group or others may read it;
  // DataLoss when it is not a private JWK whose kid and thumbprint are |kid|. Errors name the
  // path.
  absl::StatusOr<std::unique_ptr<token::Key>> Load(std::string_view kid) const;

  // Remove deletes the key file |kid| and fsyncs the directory; OK when it does not exist.
  absl::Status Remove(std::string_view kid) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit KeyFiles(std::string dir) : dir_(std::move(dir)) {}

  std::string PathOf(std::string_view kid) const;
  absl::Status SyncDir() const;

  std::string dir_;
};

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_KEY_FILES_H_
