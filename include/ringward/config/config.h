// ringward/config/config.h: the server's configuration, loaded from one TOML file.
//
// A Config is a plain value: loaded and validated once (at start and on SIGHUP), then frozen and
// handed to shards as an immutable snapshot. Every key has a default; the example file
// ringward.toml documents each. Errors name the file, the line and the key, and say the fix.
//
// Thread-compatible: a const Config may be read from any thread. The functions below share no
// state and may run on any thread, but they do blocking file I/O: never call them on a shard.
#ifndef RINGWARD_CONFIG_CONFIG_H_
#define RINGWARD_CONFIG_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ringward::config {

struct ServerConfig {
  // TLS listeners ("127.0.0.1:8443", "[::1]:8443").
  std::vector<std::string> listen = {"127.0.0.1:8443"};
  // Optional plain-HTTP listeners, for loopback or a unix socket ("unix:/run/ringward.sock"):
  // the sidecar case, or behind a TLS-terminating proxy.
  std::vector<std::string> plain_listen;
  int shards = 0;  // 0: one per CPU the process may run on
  int max_connections_per_shard = 16384;
  int header_timeout_ms = 10000;  // a request head must arrive within this
  int idle_timeout_ms = 60000;    // keep-alive connections idle longer are closed
  int shutdown_grace_ms = 5000;   // SIGTERM: in-flight requests may finish within this
  size_t max_head_bytes = 8192;
  size_t max_body_bytes = 1 << 20;
  bool metrics_on_public = true;  // GET /metrics on the public listeners
  // Share of requests written to the access log (0: none, 1: every one); see access_log.h.
  double access_log_sample = 0.0;
};

struct TlsConfig {
  std::string certificate;  // PEM chain (ECDSA P-256 or Ed25519 key)
  std::string private_key;  // PEM
  int ticket_key_rotation_s = 3600;
};

struct TokensConfig {
  std::string keys;  // JWKS file (public or private keys)
  std::vector<std::string> issuers;
  std::vector<std::string> audiences;
  int leeway_s = 30;
  bool access_token_profile = true;  // RFC 9068: typ at+jwt and its required claims
  size_t max_token_bytes = 8192;
  size_t cache_entries = 16384;  // verified-token cache per shard; 0 turns it off
  size_t bulk_max_tokens = 10000;  // POST /v1/verify
  // Extra claims copied into response headers on GET /v1/verify: claim name -> header name.
  std::vector<std::pair<std::string, std::string>> claim_headers;
};

// AdminConfig: the admin listener (revocations, log status, metrics), plain HTTP with a bearer
// admin token. Keep it on loopback or a unix socket.
struct AdminConfig {
  // "127.0.0.1:8444", "[::1]:8444" or "unix:/run/ringward/admin.sock"; empty: no admin API.
  std::vector<std::string> listen;
  // The file holding the admin bearer token. $CREDENTIALS_DIRECTORY/admin-token (systemd
  // LoadCredential=) is used instead when it exists.
  std::string token_file;
};

// RevocationConfig: the revocation write-ahead log in <data_dir>/wal and the in-memory set.
struct RevocationConfig {
  uint64_t expected_revocations = 1000000;  // sizes the jti Bloom filter (it grows past this)
  uint64_t segment_bytes = 64ull << 20;     // a log segment is rolled over past this size
  int compaction_interval_s = 3600;  // snapshot the live revocations this often (0: only by count)
  int compaction_segments = 8;       // ... or as soon as the log has this many segments (0: never)
  int expire_interval_s = 60;        // sweep expired jti revocations this often
  size_t bulk_max = 10000;           // revocations in one POST /admin/revocations
};

struct Config {
  std::string path;      // the file it came from ("" for built-in defaults)
  std::string data_dir;  // state: the revocation log (<data_dir>/wal); --dev keys and certificate
  ServerConfig server;
  TlsConfig tls;
  TokensConfig tokens;
  AdminConfig admin;
  RevocationConfig revocation;
};

// LoadConfig reads and validates the TOML file at |path|. Relative file paths inside it are
// resolved against the file's directory, and the result holds absolute paths (Config::path too),
// so a later reload does not depend on the working directory. Unknown keys and wrong types are
// errors that name the file, line and key.
//
// Errors: NotFound / PermissionDenied (naming the file) when |path| cannot be read;
// InvalidArgument for everything wrong inside it, one problem per line of the message, in file
// order, each "<path>:<line>: <what and where>" ("<path>:<line>:<column>: ..." for TOML syntax);
// files the config names (keys, certificate, private_key) must be readable.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// ParseConfig validates TOML |text| as if read from |path| (for tests and `config check`),
// exactly as LoadConfig does, including the checks of the files the config names.
absl::StatusOr<Config> ParseConfig(std::string_view text, const std::string& path);

// PrepareDevEnvironment makes |dir| (mode 0700) on first use with an Ed25519 signing key
// (keys.json, 0600), a self-signed P-256 certificate for localhost/127.0.0.1/::1 (cert.pem,
// key.pem 0600), a random admin token (admin-token, 0600) and a ringward.toml pointing at them
// (listen 127.0.0.1:8443, plain HTTP on 127.0.0.1:8080, admin API on 127.0.0.1:8444, issuer
// https://ringward.local, audience edge-api, data_dir the directory itself), and returns the
// loaded config. Later calls reuse what is there.
absl::StatusOr<Config> PrepareDevEnvironment(const std::string& dir);

// RenderEffectiveConfig prints |config| as a TOML file that ParseConfig accepts and that yields
// the same Config: every key in the example file's order, defaults included, paths resolved.
// Secrets are redacted (there are no inline secrets yet: keys and certificates are files, and
// file paths are printed). For `ringward config check --print`.
std::string RenderEffectiveConfig(const Config& config);

}  // namespace ringward::config

#endif  // RINGWARD_CONFIG_CONFIG_H_
