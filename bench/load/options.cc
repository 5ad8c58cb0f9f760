#include "load/options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringward::load {
namespace {

constexpr std::string_view kHelp = R"(ringward-load: an io_uring HTTP/1.1 load generator for ringward (and any HTTP server).

usage: ringward-load [options] URL
  URL is http://HOST[:PORT][/PATH] or https://...; HOST is an IPv4 address, [IPv6] or
  localhost (no DNS), and 127.0.0.1 when left out (http://:8080/v1/verify). Talk only to
  servers you run.

Load shape
  -c, --connections N     keep-alive connections in total (default 64)
  -t, --threads N         client threads, one io_uring each (default 1)
  -d, --duration T        issue requests for T (5, 5s, 500ms, 1m; default 10s), then wait up
                          to --timeout for the answers still due, and stop
  -n, --requests N        stop after N requests (the first of --duration and --requests wins;
                          with --requests alone the duration cap is 1 hour)
  -R, --rate R            open loop: R requests/s in total, sent at fixed intended times
                          whether or not earlier answers came back; latency counts from the
                          intended send time, so a stalled server cannot hide its stall
                          (coordinated omission corrected, as in wrk2). Without --rate the
                          loop is closed: each connection sends as soon as it has an answer.
      --pipeline N        requests in flight per connection (default 1: no pipelining)
      --timeout MS        a request unanswered for MS counts as a timeout and its connection
                          is reopened (default 2000)

Workload
  -w, --workload NAME     static   GET the URL, no authentication (compare bare servers)
                          verify   GET /v1/verify with Authorization: Bearer from a token pool
                          bulk     POST /v1/verify, --batch tokens per request, one per line
                          issue    POST /oauth2/token, client_credentials, HTTP Basic
                          revoke   POST --admin-url with {"jti":...,"exp":...} and --admin-token, or
                                   POST /oauth2/revoke (RFC 7009) on the URL's origin
                          mixed    verify=98,issue=1,revoke=1
                          (default static). verify and bulk use the URL's path when it is not
                          "/" (e.g. http://127.0.0.1:18080/verify for the peers).
      --mix NAME=W,...    weighted mix, e.g. --mix verify=98,issue=1,revoke=1
  Token pool (verify, bulk):
      --keys FILE         private JWKS to mint the pool with ringward's token core
                          (EdDSA, ES256, HS256, RS256, PS256), e.g. from `ringward keygen`
      --hmac-secret FILE  or an HS256 secret (raw bytes, >= 32) to mint with
      --kid KID           signing key (default: the first private key in --keys)
      --issuer ISS        iss claim (default https://ringward.local)
      --audience AUD      aud claim (default edge-api)
      --scope S           scope claim (default "read write")
      --ttl S             lifetime of valid tokens in seconds (default 3600)
      --pool N            distinct tokens (default 1000): sets the server's cache hit rate
      --invalid-share F   fraction of the pool with a broken signature (expect 401)
      --expired-share F   fraction of the pool that expired an hour ago (expect 401)
      --tokens FILE       use the tokens in FILE (one per line) instead of minting
      --batch K           tokens per bulk request (default 16)
  Issue and revoke:
      --client-id ID --client-secret S    client credentials for issue (and RFC 7009 revoke)
      --admin-url URL     where revoke requests go (admin listener)
      --admin-token T     bearer token for --admin-url
  -H, --header "N: V"     add a header to every request (repeatable)
      --seed N            seed for the workload's random choices (default 1)
      --cacert FILE       https: verify the server against FILE (default: not verified)

Measurement and output
      --server-pid P[,P]  report the server's CPU time per request (utime+stime of every
                          thread of P, read from /proc before and after the run)
      --json FILE         write every number as JSON
      --svg FILE          write the latency distribution and throughput over time as SVG
  -q, --quiet             no table on stdout
  -h, --help              this text

Exit status: 0 when the run completed (errors are reported, not fatal), 1 when it could not
run (bad key file, no connection ever succeeded), 2 for a usage error.
)";

absl::Status Invalid(std::string_view option, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(option), ": invalid value \"",
                                                 std::string(value), "\"; expected ",
                                                 std::string(expected)));
}

bool ParseUint(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 19) {
    return false;
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) {
    return false;
  }
  *out = v;
  return true;
}

bool ParseDouble(std::string_view text, double* out) {
  if (text.empty() || text.size() > 64) {
    return false;
  }
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) {
    return false;
  }
  *out = v;
  return true;
}

// ParseDuration accepts a number of seconds with an optional unit: ms, s, m.
bool ParseDuration(std::string_view text, double* seconds) {
  double scale = 1;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 0.001;
    text.remove_suffix(2);
  } else if (!text.empty() && text.back() == 's') {
    text.remove_suffix(1);
  } else if (!text.empty() && text.back() == 'm') {
    scale = 60;
    text.remove_suffix(1);
  }
  double v = 0;
  if (!ParseDouble(text, &v) || v <= 0) {
    return false;
  }
  *seconds = v * scale;
  return true;
}

bool KnownWorkload(std::string_view name) {
  return name == "verify" || name == "bulk" || name == "static" || name == "issue" ||
         name == "revoke";
}

}  // namespace

std::string_view HelpText() { return kHelp; }

std::string Url::Origin() const {
  std::string host_text = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
  return absl::StrCat(tls ? "https://" : "http://", host_text, ":", port);
}

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  Url url;
  std::string_view rest = text;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
    url.tls = true;
  } else if (rest.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", std::string(text), "\": only http:// and https:// are supported"));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    url.path = std::string(rest.substr(slash));
  }
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("URL \"", std::string(text), "\": missing ']' after the IPv6 address"));
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("URL \"", std::string(text), "\": expected :PORT after ']'"));
      }
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (host.empty()) {
    host = "127.0.0.1";  // "http://:8080/v1/verify": loopback unless told otherwise
  }
  uint64_t port = url.tls ? 443 : 80;
  if (!port_text.empty() && (!ParseUint(port_text, 65535, &port) || port == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", std::string(text), "\": invalid port \"", std::string(port_text),
                     "\""));
  }
  url.port = static_cast<uint16_t>(port);
  url.host = std::string(host);
  const std::string numeric = host == "localhost" ? "127.0.0.1" : url.host;
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, numeric.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(url.port);
    std::memcpy(&url.addr, &v4, sizeof(v4));
    url.addr_len = sizeof(v4);
  } else if (inet_pton(AF_INET6, numeric.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(url.port);
    std::memcpy(&url.addr, &v6, sizeof(v6));
    url.addr_len = sizeof(v6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "URL \"", std::string(text), "\": host \"", url.host,
        "\" is not an IP address (ringward-load does no DNS; use 127.0.0.1, [::1] or localhost)"));
  }
  const bool default_port = url.port == (url.tls ? 443 : 80);
  const std::string host_text =
      url.host.find(':') != std::string::npos ? absl::StrCat("[", url.host, "]") : url.host;
  url.host_header = default_port ? host_text : absl::StrCat(host_text, ":", url.port);
  return url;
}

absl::StatusOr<std::vector<MixEntry>> ParseMix(std::string_view text) {
  std::vector<MixEntry> mix;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    MixEntry entry;
    entry.name = std::string(item.substr(0, eq));
    uint64_t weight = 1;
    if (eq != std::string_view::npos &&
        (!ParseUint(item.substr(eq + 1), 1'000'000, &weight) || weight == 0)) {
      return Invalid("--mix", text, "NAME=WEIGHT,... with positive integer weights");
    }
    if (!KnownWorkload(entry.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: unknown workload \"", entry.name,
                       "\"; choose from verify, bulk, static, issue, revoke"));
    }
    for (const MixEntry& e : mix) {
      if (e.name == entry.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("--mix: workload \"", entry.name, "\" appears twice"));
      }
    }
    entry.weight = static_cast<uint32_t>(weight);
    mix.push_back(std::move(entry));
  }
  if (mix.empty()) {
    return Invalid("--mix", text, "NAME=WEIGHT,...");
  }
  return mix;
}

absl::StatusOr<Options> ParseOptions(int argc, const char* const* argv) {
  Options o;
  std::string mix_text;
  std::vector<std::string_view> positional;
  bool workload_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::string_view inline_value;
    bool has_inline = false;
    if (arg.substr(0, 2) == "--") {
      const size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
        has_inline = true;
      }
    }
    std::string_view value;
    auto take = [&]() -> bool {
      if (has_inline) {
        value = inline_value;
        return true;
      }
      if (i + 1 >= argc) {
        return false;
      }
      value = argv[++i];
      return true;
    };
    auto need = [&]() -> absl::Status {
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), " needs a value"));
    };
    auto is = [&](std::string_view long_name, std::string_view short_name = {}) {
      return name == long_name || (!short_name.empty() && name == short_name);
    };
    uint64_t u = 0;
    double d = 0;
    if (is("--help", "-h")) {
      o.help = true;
      return o;
    } else if (is("--quiet", "-q")) {
      o.quiet = true;
      continue;
    } else if (arg.size() > 1 && arg[0] == '-') {
      if (!take()) {
        return need();
      }
    } else {
      positional.push_back(arg);
      continue;
    }
    if (is("--connections", "-c")) {
      if (!ParseUint(value, 1'000'000, &u) || u == 0) {
        return Invalid(name, value, "a positive number of connections");
      }
      o.connections = static_cast<int>(u);
    } else if (is("--threads", "-t")) {
      if (!ParseUint(value, 1024, &u) || u == 0) {
        return Invalid(name, value, "a number of threads in [1, 1024]");
      }
      o.threads = static_cast<int>(u);
    } else if (is("--duration", "-d")) {
      if (!ParseDuration(value, &o.duration_s)) {
        return Invalid(name, value, "a positive duration such as 5, 5s, 500ms or 1m");
      }
      o.duration_given = true;
    } else if (is("--requests", "-n")) {
      if (!ParseUint(value, uint64_t{1} << 50, &o.requests) || o.requests == 0) {
        return Invalid(name, value, "a positive number of requests");
      }
    } else if (is("--rate", "-R")) {
      if (!ParseDouble(value, &o.rate) || o.rate <= 0 || o.rate > 1e8) {
        return Invalid(name, value, "a rate in requests/s, > 0");
      }
    } else if (is("--pipeline")) {
      if (!ParseUint(value, 1024, &u) || u == 0) {
        return Invalid(name, value, "a depth in [1, 1024]");
      }
      o.pipeline = static_cast<int>(u);
    } else if (is("--timeout")) {
      if (!ParseUint(value, 3'600'000, &u) || u == 0) {
        return Invalid(name, value, "milliseconds, > 0");
      }
      o.timeout_ms = static_cast<int>(u);
    } else if (is("--workload", "-w")) {
      o.workload = std::string(value);
      workload_given = true;
    } else if (is("--mix")) {
      mix_text = std::string(value);
    } else if (is("--keys")) {
      o.keys_path = std::string(value);
    } else if (is("--hmac-secret")) {
      o.hmac_secret_path = std::string(value);
    } else if (is("--kid")) {
      o.kid = std::string(value);
    } else if (is("--issuer")) {
      o.issuer = std::string(value);
    } else if (is("--audience")) {
      o.audience = std::string(value);
    } else if (is("--scope")) {
      o.scope = std::string(value);
    } else if (is("--ttl")) {
      if (!ParseUint(value, uint64_t{1} << 40, &u) || u == 0) {
        return Invalid(name, value, "seconds, > 0");
      }
      o.ttl_s = static_cast<int64_t>(u);
    } else if (is("--pool")) {
      if (!ParseUint(value, 10'000'000, &u) || u == 0) {
        return Invalid(name, value, "a pool size in [1, 10000000]");
      }
      o.pool = static_cast<uint32_t>(u);
    } else if (is("--invalid-share") || is("--expired-share")) {
      if (!ParseDouble(value, &d) || d < 0 || d > 1) {
        return Invalid(name, value, "a fraction in [0, 1]");
      }
      (is("--invalid-share") ? o.invalid_share : o.expired_share) = d;
    } else if (is("--tokens")) {
      o.tokens_path = std::string(value);
    } else if (is("--batch")) {
      if (!ParseUint(value, 100'000, &u) || u == 0) {
        return Invalid(name, value, "tokens per request in [1, 100000]");
      }
      o.batch = static_cast<int>(u);
    } else if (is("--client-id")) {
      o.client_id = std::string(value);
    } else if (is("--client-secret")) {
      o.client_secret = std::string(value);
    } else if (is("--admin-url")) {
      o.admin_url_text = std::string(value);
    } else if (is("--admin-token")) {
      o.admin_token = std::string(value);
    } else if (is("--header", "-H")) {
      const size_t colon = value.find(':');
      if (colon == std::string_view::npos || colon == 0 ||
          value.find_first_of("\r\n") != std::string_view::npos) {
        return Invalid(name, value, "\"Name: value\" on one line");
      }
      o.headers.emplace_back(value);
    } else if (is("--seed")) {
      if (!ParseUint(value, ~uint64_t{0} >> 1, &o.seed)) {
        return Invalid(name, value, "a non-negative integer");
      }
    } else if (is("--cacert")) {
      o.cacert_path = std::string(value);
      o.insecure = false;
    } else if (is("--server-pid")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        if (!ParseUint(rest.substr(0, comma), 1u << 30, &u) || u == 0) {
          return Invalid(name, value, "PID[,PID...]");
        }
        o.server_pids.push_back(static_cast<int>(u));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (is("--json")) {
      o.json_path = std::string(value);
    } else if (is("--svg")) {
      o.svg_path = std::string(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", std::string(name), " (see --help)"));
    }
  }
  if (positional.size() != 1) {
    return absl::InvalidArgumentError(positional.empty() ? "a target URL is required"
                                                          : "exactly one URL, please");
  }
  o.url_text = std::string(positional[0]);
  absl::StatusOr<Url> url = ParseUrl(o.url_text);
  if (!url.ok()) {
    return url.status();
  }
  o.url = *std::move(url);
  if (!o.admin_url_text.empty()) {
    absl::StatusOr<Url> admin = ParseUrl(o.admin_url_text);
    if (!admin.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--admin-url: ", admin.status().message()));
    }
    o.admin_url = *std::move(admin);
    o.has_admin_url = true;
  }
  if (!mix_text.empty()) {
    if (workload_given) {
      return absl::InvalidArgumentError("give either --workload or --mix, not both");
    }
    absl::StatusOr<std::vector<MixEntry>> mix = ParseMix(mix_text);
    if (!mix.ok()) {
      return mix.status();
    }
    o.mix = *std::move(mix);
    o.workload = "mix";
  } else if (o.workload == "mixed") {
    o.mix = {{"verify", 98}, {"issue", 1}, {"revoke", 1}};
  } else if (KnownWorkload(o.workload)) {
    o.mix = {{o.workload, 1}};
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--workload: unknown \"", o.workload,
                     "\"; choose verify, bulk, static, issue, revoke or mixed"));
  }
  if (o.requests > 0 && !o.duration_given) {
    o.duration_s = 3600;
  }
  if (o.invalid_share + o.expired_share > 1) {
    return absl::InvalidArgumentError("--invalid-share plus --expired-share must not exceed 1");
  }
  if (!o.keys_path.empty() + !o.hmac_secret_path.empty() + !o.tokens_path.empty() > 1) {
    return absl::InvalidArgumentError("give only one of --keys, --hmac-secret and --tokens");
  }
  bool revoke = false;
  for (const MixEntry& m : o.mix) {
    revoke = revoke || m.name == "revoke";
  }
  if (revoke && o.has_admin_url && o.mix.size() > 1 && o.connections < 2 * o.threads) {
    return absl::InvalidArgumentError(
        "with --admin-url every thread needs a connection to each address: give --connections "
        "at least twice --threads");
  }
  if (o.connections < o.threads) {
    return absl::InvalidArgumentError(
        "--connections must be at least --threads (each thread needs a connection)");
  }
  return o;
}

}  // namespace ringward::load
