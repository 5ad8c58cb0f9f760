// bench/load/options.h: ringward-load's command line: Options, the parser, the URL parser and
// the --help text.
//
// Parsing never touches the network or the file system; ParseOptions only checks that values
// are well-formed and consistent, and errors name the option and the accepted forms.
//
// Pure functions and plain values: thread-safe.
#ifndef RINGWARD_BENCH_LOAD_OPTIONS_H_
#define RINGWARD_BENCH_LOAD_OPTIONS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringward::load {

// Url is a parsed http:// or https:// URL with a numeric (or "localhost") host.
struct Url {
  bool tls = false;
  std::string host;         // as written, without brackets: "127.0.0.1", "::1", "localhost"
  uint16_t port = 0;
  std::string path = "/";   // path and query, always starting with '/'
  std::string host_header;  // the Host header value: host[:port], brackets kept for IPv6
  sockaddr_storage addr{};  // resolved without DNS ("localhost" is 127.0.0.1)
  socklen_t addr_len = 0;

  std::string Origin() const;  // scheme://host[:port]
};

// ParseUrl accepts http://HOST[:PORT][/PATH] and https://...; HOST is an IPv4 address, an IPv6
// address in brackets, or "localhost"; an empty HOST is 127.0.0.1. A URL without a scheme is
// taken as http://.
absl::StatusOr<Url> ParseUrl(std::string_view text);

// MixEntry is one weighted workload in --mix.
struct MixEntry {
  std::string name;  // verify, bulk, static, issue, revoke
  uint32_t weight = 0;
};

// ParseMix parses "verify=98,issue=1,revoke=1" (or one bare name, weight 1). Names must be known
// and weights positive integers.
absl::StatusOr<std::vector<MixEntry>> ParseMix(std::string_view text);

struct Options {
  Url url;
  std::string url_text;

  // Load shape.
  int connections = 64;
  int threads = 1;
  int pipeline = 1;
  double duration_s = 10;    // issuing stops after this long
  bool duration_given = false;
  uint64_t requests = 0;     // 0: bounded by duration only
  double rate = 0;           // requests/s in total; 0: closed loop
  int timeout_ms = 2000;

  // Workload.
  std::string workload = "static";  // as given to --workload (or "mix" for --mix)
  std::vector<MixEntry> mix;        // resolved: one entry for a single workload
  std::string keys_path;
  std::string hmac_secret_path;
  std::string kid;
  std::string issuer = "https://ringward.local";
  std::string audience = "edge-api";
  std::string scope = "read write";
  uint32_t pool = 1000;
  double invalid_share = 0;
  double expired_share = 0;
  int64_t ttl_s = 3600;
  std::string tokens_path;
  int batch = 16;
  std::string client_id;
  std::string client_secret;
  std::string admin_url_text;
  Url admin_url;
  bool has_admin_url = false;
  std::string admin_token;
  std::vector<std::string> headers;  // extra "Name: value" lines
  uint64_t seed = 1;
  bool insecure = true;  // TLS: certificates are not verified unless --cacert is given
  std::string cacert_path;

  // Measurement and output.
  std::vector<int> server_pids;
  std::string json_path;
  std::string svg_path;
  bool quiet = false;

  bool help = false;

  bool open_loop() const { return rate > 0; }
};

// ParseOptions parses argv[1..argc). On --help it returns Options with help set.
absl::StatusOr<Options> ParseOptions(int argc, const char* const* argv);

// HelpText is the --help output.
std::string_view HelpText();

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_OPTIONS_H_
