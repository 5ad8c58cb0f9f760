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
  // Pin each shard to its own CPU. Off when the cores are shared with other busy processes (a
  // proxy or a load generator on the same machine): the kernel may then move a shard whose core
  // is busy, for some more throughput at about the same CPU per request.
  bool pin_shards = true;
  // How the kernel schedules shard threads: "batch" (SCHED_BATCH: a woken shard does not preempt
  // the task running on its CPU, so work arriving meanwhile is answered in one loop turn) or
  // "normal" (SCHED_OTHER: a woken shard preempts at once, for the lowest latency on a core
  // shared with busy processes).
  std::string shard_scheduling = "batch";
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
  // JWKS file (public or private keys). Optional when [issuance] is enabled: "" then means only
  // the keys issuance makes and rotates itself.
  std::string keys;
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

// kSystemCaBundle is Debian's bundle of the system's trusted certificate authorities: what a
// trusted issuer's jwks_url is verified against unless it names its own ca_file.
inline constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

// TrustedIssuerConfig: an external identity provider whose tokens POST /oauth2/token exchanges
// (RFC 8693 token exchange).
struct TrustedIssuerConfig {
  std::string issuer;  // required, compared byte for byte with "iss"
  // Where its public keys are: exactly one of a JWKS file (read at start) and a URL (fetched at
  // start, every jwks_refresh_s, and when a token names a kid the set does not hold).
  std::string jwks;      // a readable JWKS file
  std::string jwks_url;  // https:// (http:// only for a loopback host), no query or fragment
  // With jwks_url: the PEM bundle the provider's certificate must chain to. LoadConfig turns ""
  // into kSystemCaBundle; it must be "" with jwks.
  std::string ca_file;
  int64_t jwks_refresh_s = 300;     // 30..86400: how often jwks_url is fetched again
  // The negative cache: a token with an unknown kid refetches jwks_url at once, but never
  // sooner than this many seconds after the last fetch (1..jwks_refresh_s).
  int64_t jwks_min_refresh_s = 30;
  // The external token's aud must contain one of these ([]: not checked).
  std::vector<std::string> audiences;
  // The ringward token's sub is subject_prefix + the external sub. LoadConfig turns "" into
  // issuer + "|"; a prefix always holds a ':' so that it can never name a local user.
  std::string subject_prefix;
  std::vector<std::string> scopes;  // scopes a token from this issuer may be exchanged for
};

// IssuanceConfig: ringward as an OAuth 2.0 authorization server (POST /oauth2/token, clients,
// users, signing keys it rotates itself). All its state lives in the log in <data_dir>/wal and
// its private keys in <data_dir>/keys.
//
// When enabled, LoadConfig fills in the defaults that depend on other keys: issuer ("" becomes
// [tokens] issuers[0]), base_url ("" becomes the issuer) and audiences ([] becomes [tokens]
// audiences), so readers never see them empty.
struct IssuanceConfig {
  bool enabled = false;                   // needs data_dir
  std::string issuer;                     // "": [tokens] issuers[0]; https:// (http:// on loopback)
  std::string base_url;                   // where the endpoints are, for discovery ("": issuer)
  std::vector<std::string> audiences;     // default aud for clients that have none
  std::string signing_alg = "EdDSA";      // EdDSA | ES256 | RS256 | PS256
  int64_t access_token_ttl_s = 600;       // 60..86400
  int64_t refresh_token_ttl_s = 2592000;  // 0 (no refresh tokens) or 300..31536000
  int64_t rotation_interval_s = 7776000;  // 0: only on demand; else 3600..315360000
  int64_t publish_lead_s = 600;           // 0..604800: a next key is in the JWKS this long first
  uint32_t argon2_memory_kib = 19456;     // 64..4194304, at least 8 * argon2_parallelism
  uint32_t argon2_iterations = 2;         // 1..64
  uint32_t argon2_parallelism = 1;        // 1..16
  int password_workers = 2;               // 1..64 threads hashing passwords (never on a shard)
  int max_failures = 5;                   // 1..1000 failed logins before a user is locked out
  int64_t lockout_s = 300;                // 1..86400 first lock-out; doubles each time
  int64_t max_lockout_s = 86400;          // lockout_s..2592000
  int ip_max_failures = 50;               // 1..1000000 failed logins per client IP per window
  int64_t ip_window_s = 300;              // 1..86400
  std::vector<TrustedIssuerConfig> trusted_issuers;  // TOML: [[issuance.trusted_issuers]]
};

// ReplicationConfig: streaming the write-ahead log from a leader to followers (issue 6).
struct ReplicationConfig {
  // Leader side: where followers connect, TLS with the [tls] certificate ("127.0.0.1:8445");
  // "": no replication listener.
  std::string listen;
  // The replication bearer secret, shared by the leader and its followers (one line, 16..4096
  // characters, mode 0600). $CREDENTIALS_DIRECTORY/replication-credential is used instead when
  // it exists. Required with listen or leader.
  std::string credential_file;
  int heartbeat_ms = 200;  // 20..10000: the leader's heartbeat when its log is idle
  int max_followers = 16;  // 1..1024
  // Follower side: the leader's replication URL ("https://10.0.0.1:8445"); set, this node is a
  // follower: it verifies, introspects and serves the JWKS, and refuses writes.
  std::string leader;
  std::string ca_file;              // PEM the leader's certificate must verify against
  int64_t max_staleness_ms = 5000;  // 100..86400000: past this without a word from the leader...
  std::string fail_mode = "closed";  // ... "closed": verify answers 503; "open": keep serving
};

struct Config {
  std::string path;      // the file it came from ("" for built-in defaults)
  std::string data_dir;  // state: the revocation log (<data_dir>/wal); --dev keys and certificate
  ServerConfig server;
  TlsConfig tls;
  TokensConfig tokens;
  AdminConfig admin;
  RevocationConfig revocation;
  IssuanceConfig issuance;
  ReplicationConfig replication;
};

// LoadConfig reads and validates the TOML file at |path|. Relative file paths inside it are
// resolved against the file's directory, and the result holds absolute paths (Config::path too),
// so a later reload does not depend on the working directory. Unknown keys and wrong types are
// errors that name the file, line and key.
//
// Errors: NotFound / PermissionDenied (naming the file) when |path| cannot be read;
// InvalidArgument for everything wrong inside it, one problem per line of the message, in file
// order, each "<path>:<line>: <what and where>" ("<path>:<line>:<column>: ..." for TOML syntax);
// files the config names (keys, certificate, private_key, trusted issuers' jwks) must be
// readable.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// ParseConfig validates TOML |text| as if read from |path| (for tests and `config check`),
// exactly as LoadConfig does, including the checks of the files the config names.
absl::StatusOr<Config> ParseConfig(std::string_view text, const std::string& path);

// PrepareDevEnvironment makes |dir| (mode 0700) on first use with an Ed25519 signing key
// (keys.json, 0600), a self-signed P-256 certificate for localhost/127.0.0.1/::1 (cert.pem,
// key.pem 0600), a random admin token (admin-token, 0600) and a ringward.toml pointing at them
// (listen 127.0.0.1:8443, plain HTTP on 127.0.0.1:8080, admin API on 127.0.0.1:8444, issuer
// https://ringward.local, audience edge-api, data_dir the directory itself, [issuance] enabled
// with base_url https://127.0.0.1:8443), and returns the loaded config. Later calls reuse what
// is there, the config file included.
absl::StatusOr<Config> PrepareDevEnvironment(const std::string& dir);

// RenderEffectiveConfig prints |config| as a TOML file that ParseConfig accepts and that yields
// the same Config: every key in the example file's order, defaults included, paths resolved.
// Secrets are redacted (there are no inline secrets yet: keys and certificates are files, and
// file paths are printed). For `ringward config check --print`.
std::string RenderEffectiveConfig(const Config& config);

}  // namespace ringward::config

#endif  // RINGWARD_CONFIG_CONFIG_H_
