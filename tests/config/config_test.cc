// Tests for ringward/config/config.h: parsing, every kind of error (with its exact file, line and
// key), the example file, RenderEffectiveConfig and PrepareDevEnvironment.
#include "ringward/config/config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "openssl/bio.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "ringward/token/algorithm.h"
#include "ringward/token/key.h"

namespace ringward::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace fs = std::filesystem;

using ::ringward::test::TempDir;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// kValid is the smallest valid file (with keys.json, cert.pem and key.pem beside it). Tests
// append to it, so the line of an appended key is known: line 7 is the first appended line.
constexpr char kValid[] =
    "[tls]\n"                                    // 1
    "certificate = \"cert.pem\"\n"               // 2
    "private_key = \"key.pem\"\n"                // 3
    "[tokens]\n"                                 // 4
    "keys = \"keys.json\"\n"                     // 5
    "issuers = [\"https://issuer.example\"]\n";  // 6

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(Path("keys.json"), "{\"keys\":[]}");
    WriteFile(Path("cert.pem"), "not parsed by the config loader");
    WriteFile(Path("key.pem"), "not parsed by the config loader");
    WriteFile(Path("admin-token"), "not parsed by the config loader");
  }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  const std::string& file() const { return file_; }

  absl::StatusOr<Config> Parse(const std::string& text) { return ParseConfig(text, file_); }

  // Error parses |text|, expects InvalidArgument and returns the message.
  std::string Error(const std::string& text) {
    absl::StatusOr<Config> config = Parse(text);
    EXPECT_FALSE(config.ok()) << "parsed:\n" << text;
    if (config.ok()) {
      return "";
    }
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(config.status().message());
  }

  // At is the expected start of a message about |line| of the test file.
  std::string At(int line) const { return file_ + ":" + std::to_string(line) + ": "; }

  TempDir dir_;
  std::string file_ = dir_.path() + "/ringward.toml";
};

TEST(ConfigDefaultsTest, StructDefaultsAreTheDocumentedOnes) {
  Config config;
  EXPECT_EQ(config.server.listen, std::vector<std::string>{"127.0.0.1:8443"});
  EXPECT_EQ(config.server.max_head_bytes, 8192u);
  EXPECT_TRUE(config.server.pin_shards);
  EXPECT_EQ(config.server.shard_scheduling, "batch");
  EXPECT_EQ(config.tokens.leeway_s, 30);
}

TEST_F(ConfigTest, MinimalFileGetsDefaultsAndResolvedPaths) {
  absl::StatusOr<Config> config = Parse(kValid);
  ASSERT_TRUE(config.ok()) << config.status();
  const Config defaults;
  EXPECT_EQ(config->path, file());
  EXPECT_EQ(config->data_dir, "");
  EXPECT_EQ(config->server.listen, defaults.server.listen);
  EXPECT_TRUE(config->server.plain_listen.empty());
  EXPECT_EQ(config->server.shards, 0);
  EXPECT_EQ(config->server.idle_timeout_ms, 60000);
  EXPECT_EQ(config->server.max_body_bytes, size_t{1} << 20);
  EXPECT_EQ(config->tls.certificate, Path("cert.pem"));
  EXPECT_EQ(config->tls.private_key, Path("key.pem"));
  EXPECT_EQ(config->tls.ticket_key_rotation_s, 3600);
  EXPECT_EQ(config->tokens.keys, Path("keys.json"));
  EXPECT_EQ(config->tokens.issuers, std::vector<std::string>{"https://issuer.example"});
  EXPECT_TRUE(config->tokens.audiences.empty());
  EXPECT_TRUE(config->tokens.access_token_profile);
  EXPECT_TRUE(config->tokens.claim_headers.empty());
}

constexpr char kEveryKey[] = R"(data_dir = "state"
[server]
listen = ["0.0.0.0:443", "[::]:443"]
plain_listen = ["127.0.0.1:8080", "unix:run/ringward.sock"]
shards = 4
pin_shards = false
shard_scheduling = "normal"
max_connections_per_shard = 1000
header_timeout_ms = 2000
idle_timeout_ms = 30000
shutdown_grace_ms = 0
max_head_bytes = 16384
max_body_bytes = 2097152
metrics_on_public = false
access_log_sample = 0.25
[tls]
certificate = "cert.pem"
private_key = "key.pem"
ticket_key_rotation_s = 600
[admin]
listen = ["127.0.0.1:8444", "unix:run/admin.sock"]
token_file = "admin-token"
[revocation]
expected_revocations = 5000
segment_bytes = 65536
compaction_interval_s = 0
compaction_segments = 3
expire_interval_s = 5
bulk_max = 50
[tokens]
keys = "keys.json"
issuers = ["https://a.example", "https://b.example"]
audiences = ["edge-api"]
leeway_s = 0
access_token_profile = false
max_token_bytes = 4096
cache_entries = 0
bulk_max_tokens = 100
[tokens.claim_headers]
email = "X-Auth-Email"
"https://example.com/roles" = "Remote-Groups"
)";

TEST_F(ConfigTest, ReadsEveryKey) {
  absl::StatusOr<Config> config = Parse(kEveryKey);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, Path("state"));
  const ServerConfig& s = config->server;
  EXPECT_EQ(s.listen, (std::vector<std::string>{"0.0.0.0:443", "[::]:443"}));
  EXPECT_EQ(s.plain_listen,
            (std::vector<std::string>{"127.0.0.1:8080", "unix:" + Path("run/ringward.sock")}));
  EXPECT_EQ(s.shards, 4);
  EXPECT_FALSE(s.pin_shards);
  EXPECT_EQ(s.shard_scheduling, "normal");
  EXPECT_EQ(s.max_connections_per_shard, 1000);
  EXPECT_EQ(s.header_timeout_ms, 2000);
  EXPECT_EQ(s.idle_timeout_ms, 30000);
  EXPECT_EQ(s.shutdown_grace_ms, 0);
  EXPECT_EQ(s.max_head_bytes, 16384u);
  EXPECT_EQ(s.max_body_bytes, 2097152u);
  EXPECT_FALSE(s.metrics_on_public);
  EXPECT_EQ(s.access_log_sample, 0.25);
  EXPECT_EQ(config->tls.ticket_key_rotation_s, 600);
  const TokensConfig& t = config->tokens;
  EXPECT_EQ(t.issuers, (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_EQ(t.audiences, std::vector<std::string>{"edge-api"});
  EXPECT_EQ(t.leeway_s, 0);
  EXPECT_FALSE(t.access_token_profile);
  EXPECT_EQ(t.max_token_bytes, 4096u);
  EXPECT_EQ(t.cache_entries, 0u);
  EXPECT_EQ(t.bulk_max_tokens, 100u);
  EXPECT_EQ(t.claim_headers,
            (std::vector<std::pair<std::string, std::string>>{
                {"email", "X-Auth-Email"}, {"https://example.com/roles", "Remote-Groups"}}));
  EXPECT_EQ(config->admin.listen,
            (std::vector<std::string>{"127.0.0.1:8444", "unix:" + Path("run/admin.sock")}));
  EXPECT_EQ(config->admin.token_file, Path("admin-token"));
  const RevocationConfig& r = config->revocation;
  EXPECT_EQ(r.expected_revocations, 5000u);
  EXPECT_EQ(r.segment_bytes, 65536u);
  EXPECT_EQ(r.compaction_interval_s, 0);
  EXPECT_EQ(r.compaction_segments, 3);
  EXPECT_EQ(r.expire_interval_s, 5);
  EXPECT_EQ(r.bulk_max, 50u);
}

TEST_F(ConfigTest, AdminListenerNeedsTheDataDirectory) {
  EXPECT_EQ(Error(std::string(kValid) + "[admin]\nlisten = [\"127.0.0.1:8444\"]\n"),
            At(8) + "[admin] listen needs data_dir: revocations made through the admin API "
                    "are kept in a write-ahead log in <data_dir>/wal; set data_dir = "
                    "\"/var/lib/ringward\" at the top level (before any [section])");
}

TEST_F(ConfigTest, AdminListenerNeedsAnAddressOfItsOwn) {
  const std::string text = "data_dir = \"state\"\n[server]\nplain_listen = [\"127.0.0.1:8080\"]\n" +
                           std::string(kValid) +
                           "[admin]\nlisten = [\"127.0.0.1:8080\"]\n";
  EXPECT_THAT(Error(text), HasSubstr("[admin] listen[0]: \"127.0.0.1:8080\" is also a [server] "
                                     "listener"));
  EXPECT_THAT(Error(std::string(kValid) + "[admin]\nlisten = [\"localhost:8444\"]\n"),
              HasSubstr("[admin] listen[0]: bad address \"localhost:8444\""));
}

TEST_F(ConfigTest, AdminTokenFileMustBeReadable) {
  EXPECT_EQ(Error(std::string(kValid) + "[admin]\ntoken_file = \"nope\"\n"),
            At(8) + "[admin] token_file: cannot read \"" + Path("nope") +
                "\": No such file or directory");
}

TEST_F(ConfigTest, RevocationSettingsAreRangeChecked) {
  EXPECT_EQ(Error(std::string(kValid) + "[revocation]\nsegment_bytes = 100\n"),
            At(8) + "[revocation] segment_bytes: must be between 4096 and 1073741824, got 100");
  EXPECT_EQ(Error(std::string(kValid) + "[revocation]\nexpire_interval_s = 0\n"),
            At(8) + "[revocation] expire_interval_s: must be between 1 and 86400, got 0");
  EXPECT_THAT(Error(std::string(kValid) + "[revocation]\nbulk = 5\n"),
              HasSubstr("unknown key \"bulk\" in [revocation]"));
}

TEST_F(ConfigTest, ClaimHeadersMayBeAnInlineTable) {
  absl::StatusOr<Config> config =
      Parse(std::string(kValid) + "claim_headers = { tenant = \"X-Tenant\" }\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tokens.claim_headers,
            (std::vector<std::pair<std::string, std::string>>{{"tenant", "X-Tenant"}}));
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigFilesDirectory) {
  fs::create_directory(Path("etc"));
  WriteFile(Path("etc/ringward.toml"),
            "data_dir = \"../state/\"\n"
            "[server]\nplain_listen = [\"unix:./sock\"]\n"
            "[tls]\ncertificate = \"../cert.pem\"\nprivate_key = \"" +
                Path("key.pem") +
                "\"\n"
                "[tokens]\nkeys = \"../keys.json\"\nissuers = [\"i\"]\n");
  absl::StatusOr<Config> config = LoadConfig(Path("etc/ringward.toml"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->path, Path("etc/ringward.toml"));
  EXPECT_EQ(config->data_dir, Path("state"));
  EXPECT_EQ(config->server.plain_listen, std::vector<std::string>{"unix:" + Path("etc/sock")});
  EXPECT_EQ(config->tls.certificate, Path("cert.pem"));
  EXPECT_EQ(config->tls.private_key, Path("key.pem"));
  EXPECT_EQ(config->tokens.keys, Path("keys.json"));
}

TEST_F(ConfigTest, LoadConfigOfAMissingFileIsNotFound) {
  absl::StatusOr<Config> config = LoadConfig(Path("absent.toml"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(),
            "cannot read config file \"" + Path("absent.toml") + "\": No such file or directory");
}

TEST_F(ConfigTest, LoadConfigReportsErrorsWithTheGivenPath) {
  WriteFile(file(), std::string(kValid) + "[server]\nshards = \"four\"\n");
  absl::StatusOr<Config> config = LoadConfig(file());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            At(8) + "[server] shards: expected an integer, got a string");
}

// --- Errors: each names the file, the line and the key. ---

TEST_F(ConfigTest, SyntaxErrorHasLineColumnAndTomlDescription) {
  const std::string message = Error("[server\nshards = 1\n");
  EXPECT_THAT(message, StartsWith(file() + ":1:8: "));
  EXPECT_THAT(message, HasSubstr("expected ']'"));
}

TEST_F(ConfigTest, DuplicateKeyIsASyntaxError) {
  const std::string message = Error(std::string(kValid) + "leeway_s = 1\nleeway_s = 2\n");
  EXPECT_THAT(message, StartsWith(file() + ":8:"));
  EXPECT_THAT(message, HasSubstr("leeway_s"));
}

TEST_F(ConfigTest, UnknownTopLevelKeySuggestsTheNearestKey) {
  EXPECT_EQ(Error("data_dri = \"x\"\n" + std::string(kValid)),
            At(1) + "unknown key \"data_dri\" at the top level (did you mean \"data_dir\"?)");
}

TEST_F(ConfigTest, UnknownKeyInASectionSuggestsTheNearestKey) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nlistn = [\"127.0.0.1:8443\"]\n"),
            At(8) + "unknown key \"listn\" in [server] (did you mean \"listen\"?)");
}

TEST_F(ConfigTest, UnknownKeyFarFromAnyKnownKeyHasNoSuggestion) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nfrobnicate = 1\n"),
            At(8) + "unknown key \"frobnicate\" in [server]");
}

TEST_F(ConfigTest, UnknownSectionSuggestsTheNearestSection) {
  EXPECT_EQ(Error(std::string(kValid) + "[servr]\nshards = 1\n"),
            At(7) + "unknown section [servr] (did you mean [server]?)");
}

TEST_F(ConfigTest, UnknownSubSection) {
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_header]\nemail = \"X-Email\"\n"),
            At(7) + "unknown section [tokens.claim_header] (did you mean [tokens.claim_headers]?)");
}

TEST_F(ConfigTest, KeyInTheWrongSectionSaysWhereItBelongs) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nleeway_s = 5\n"),
            At(8) + "unknown key \"leeway_s\" in [server] (it belongs in [tokens])");
  EXPECT_EQ(Error("certificate = \"cert.pem\"\n" + std::string(kValid)),
            At(1) + "unknown key \"certificate\" at the top level (it belongs in [tls])");
}

TEST_F(ConfigTest, WrongTypeStringForInteger) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nshards = \"4\"\n"),
            At(8) + "[server] shards: expected an integer, got a string");
}

TEST_F(ConfigTest, WrongTypeFloatForInteger) {
  EXPECT_EQ(Error(std::string(kValid) + "leeway_s = 1.5\n"),
            At(7) + "[tokens] leeway_s: expected an integer, got a float");
}

TEST_F(ConfigTest, WrongTypeIntegerForArray) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nlisten = 8443\n"),
            At(8) + "[server] listen: expected an array of strings, got an integer");
}

TEST_F(ConfigTest, WrongTypeInsideAnArrayNamesTheElementAndItsLine) {
  EXPECT_EQ(Error(std::string(kValid) + "audiences = [\n  \"a\",\n  42,\n]\n"),
            At(9) + "[tokens] audiences[1]: expected a string, got an integer");
}

TEST_F(ConfigTest, WrongTypeStringForBoolean) {
  EXPECT_EQ(Error(std::string(kValid) + "access_token_profile = \"yes\"\n"),
            At(7) +
                "[tokens] access_token_profile: expected a boolean (true or false), got a "
                "string");
}

TEST_F(ConfigTest, WrongTypeForASection) {
  EXPECT_EQ(Error("server = 1\n" + std::string(kValid)),
            At(1) + "server: expected a table ([server]), got an integer");
}

TEST_F(ConfigTest, OutOfRangeValuesNameTheRange) {
  struct Case {
    const char* section_and_key;
    const char* expected;
  };
  const Case cases[] = {
      {"[server]\nshards = 2000", "[server] shards: must be between 0 and 1024, got 2000"},
      {"[server]\nshards = -1", "[server] shards: must be between 0 and 1024, got -1"},
      {"[server]\nmax_head_bytes = 512",
       "[server] max_head_bytes: must be between 1024 and 65536, got 512"},
      {"[server]\nmax_head_bytes = 65537",
       "[server] max_head_bytes: must be between 1024 and 65536, got 65537"},
      {"[server]\nmax_body_bytes = 67108865",
       "[server] max_body_bytes: must be between 0 and 67108864, got 67108865"},
      {"[server]\nmax_connections_per_shard = 0",
       "[server] max_connections_per_shard: must be between 1 and 1048576, got 0"},
      {"[server]\nshutdown_grace_ms = -1",
       "[server] shutdown_grace_ms: must be at least 0, got -1"},
      {"[server]\nidle_timeout_ms = 3000000000",
       "[server] idle_timeout_ms: must be greater than 0, got 3000000000"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.section_and_key);
    EXPECT_EQ(Error(std::string(kValid) + c.section_and_key + "\n"), At(8) + c.expected);
  }
  // Keys of [tokens], appended right after kValid (line 7).
  const Case token_cases[] = {
      {"leeway_s = 3601", "[tokens] leeway_s: must be between 0 and 3600, got 3601"},
      {"leeway_s = -1", "[tokens] leeway_s: must be between 0 and 3600, got -1"},
      {"max_token_bytes = 63", "[tokens] max_token_bytes: must be between 64 and 65536, got 63"},
      {"max_token_bytes = 65537",
       "[tokens] max_token_bytes: must be between 64 and 65536, got 65537"},
      {"cache_entries = -1", "[tokens] cache_entries: must be between 0 and 16777216, got -1"},
      {"bulk_max_tokens = 0", "[tokens] bulk_max_tokens: must be between 1 and 1000000, got 0"},
  };
  for (const Case& c : token_cases) {
    SCOPED_TRACE(c.section_and_key);
    EXPECT_EQ(Error(std::string(kValid) + c.section_and_key + "\n"), At(7) + c.expected);
  }
}

TEST_F(ConfigTest, ShardSchedulingIsBatchOrNormal) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nshard_scheduling = \"fifo\"\n"),
            At(8) + "[server] shard_scheduling: must be \"batch\" (SCHED_BATCH) or \"normal\" "
                    "(SCHED_OTHER), got \"fifo\"");
}

TEST_F(ConfigTest, NegativeTimeout) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nheader_timeout_ms = -5\n"),
            At(8) + "[server] header_timeout_ms: must be greater than 0, got -5");
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nidle_timeout_ms = 0\n"),
            At(8) + "[server] idle_timeout_ms: must be greater than 0, got 0");
}

TEST_F(ConfigTest, TicketKeyRotationOutOfRange) {
  const std::string text =
      "[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "ticket_key_rotation_s = 0\n"
      "[tokens]\nkeys = \"keys.json\"\nissuers = [\"i\"]\n";
  EXPECT_EQ(Error(text),
            At(4) + "[tls] ticket_key_rotation_s: must be between 1 and 604800, got 0");
}

TEST_F(ConfigTest, BadListenAddresses) {
  struct Case {
    const char* address;
    const char* problem;
  };
  const Case cases[] = {
      {"localhost:8443",
       "\"localhost\" is not a numeric IPv4 address (host names are not resolved; use "
       "\"0.0.0.0\" or \"[::]\" for every address)"},
      {"127.0.0.1", "missing \":port\""},
      {"::1:8443", "an IPv6 address must be in brackets, e.g. \"[::1]:8443\""},
      {"[::1]:70000", "port \"70000\" is not a number from 0 to 65535"},
      {"127.0.0.1:", "port \"\" is not a number from 0 to 65535"},
      {"127.0.0.1:84a3", "port \"84a3\" is not a number from 0 to 65535"},
      {"1.2.3:80",
       "\"1.2.3\" is not a numeric IPv4 address (host names are not resolved; use "
       "\"0.0.0.0\" or \"[::]\" for every address)"},
      {"[::1]8443", "missing \":port\" after the address"},
      {"[::1:8443", "missing ']' after the IPv6 address"},
      {"[fe80::zz]:1", "\"fe80::zz\" is not a numeric IPv6 address"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.address);
    EXPECT_EQ(Error(std::string(kValid) + "[server]\nlisten = [\"127.0.0.1:1\", \"" + c.address +
                    "\"]\n"),
              At(8) + "[server] listen[1]: bad address \"" + c.address + "\": " + c.problem +
                  " (expected e.g. \"127.0.0.1:8443\" or \"[::1]:8443\")");
  }
}

TEST_F(ConfigTest, UnixSocketsAreForPlainListenersOnly) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nlisten = [\"unix:/run/r.sock\"]\n"),
            At(8) +
                "[server] listen[0]: bad address \"unix:/run/r.sock\": unix sockets are for "
                "plain_listen only (TLS listeners take \"<IP>:<port>\")");
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nplain_listen = [\"unix:\"]\n"),
            At(8) +
                "[server] plain_listen[0]: bad address \"unix:\": a socket path must follow "
                "\"unix:\", e.g. \"unix:/run/ringward/ringward.sock\"");
  const std::string long_path = "/" + std::string(120, 'a');
  EXPECT_THAT(
      Error(std::string(kValid) + "[server]\nplain_listen = [\"unix:" + long_path + "\"]\n"),
      StartsWith(At(8) + "[server] plain_listen[0]: bad address"));
  absl::StatusOr<Config> ok =
      Parse(std::string(kValid) + "[server]\nplain_listen = [\"unix:/run/r.sock\", \"[::1]:0\"]\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->server.plain_listen, (std::vector<std::string>{"unix:/run/r.sock", "[::1]:0"}));
}

TEST_F(ConfigTest, DuplicateListenerIsAnError) {
  EXPECT_EQ(Error(std::string(kValid) +
                  "[server]\nlisten = [\"127.0.0.1:8443\"]\nplain_listen = [\"127.0.0.1:8443\"]\n"),
            At(9) + "[server] plain_listen[0]: \"127.0.0.1:8443\" is already in listen[0]");
  // Port 0 means "any free port": several listeners may ask for it.
  EXPECT_TRUE(Parse(std::string(kValid) +
                    "[server]\nlisten = [\"127.0.0.1:0\"]\nplain_listen = [\"127.0.0.1:0\"]\n")
                  .ok());
}

TEST_F(ConfigTest, NoListenerAtAllIsAnError) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\nlisten = []\n"),
            At(8) +
                "[server] listen and plain_listen are both empty: ringward would not accept "
                "any connection; set listen = [\"127.0.0.1:8443\"] (or a plain_listen)");
}

TEST_F(ConfigTest, MissingIssuer) {
  const std::string no_issuers =
      "[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[tokens]\nkeys = \"keys.json\"\n";
  EXPECT_EQ(Error(no_issuers),
            At(4) +
                "[tokens] issuers: at least one issuer is required, e.g. issuers = "
                "[\"https://auth.example.com\"]");
  EXPECT_EQ(Error(no_issuers + "issuers = []\n"),
            At(6) +
                "[tokens] issuers: at least one issuer is required, e.g. issuers = "
                "[\"https://auth.example.com\"]");
  EXPECT_EQ(Error(no_issuers + "issuers = [\"\"]\n"),
            At(6) + "[tokens] issuers[0]: must not be empty");
}

TEST_F(ConfigTest, MissingKeysKey) {
  EXPECT_EQ(Error("[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
                  "[tokens]\nissuers = [\"i\"]\n"),
            At(4) +
                "[tokens] keys is required: the JWKS file with the signing and verification "
                "keys, e.g. keys = \"keys.json\" (`ringward keygen` makes one), unless "
                "[issuance] enabled = true, which makes its own");
}

TEST_F(ConfigTest, NoTokensSectionAtAllIsReportedForTheWholeFile) {
  const std::string message =
      Error("[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n");
  EXPECT_EQ(message,
            file() +
                ": [tokens] keys is required: the JWKS file with the signing and "
                "verification keys, e.g. keys = \"keys.json\" (`ringward keygen` makes one), "
                "unless [issuance] enabled = true, which makes its own\n" +
                file() +
                ": [tokens] issuers: at least one issuer is required, e.g. issuers = "
                "[\"https://auth.example.com\"]");
}

TEST_F(ConfigTest, MissingKeysFile) {
  EXPECT_EQ(Error("[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
                  "[tokens]\nkeys = \"nope/keys.json\"\nissuers = [\"i\"]\n"),
            At(5) + "[tokens] keys: cannot read \"" + Path("nope/keys.json") +
                "\": No such file or directory");
}

TEST_F(ConfigTest, NonexistentCertificate) {
  EXPECT_EQ(Error("[tls]\ncertificate = \"missing.pem\"\nprivate_key = \"key.pem\"\n"
                  "[tokens]\nkeys = \"keys.json\"\nissuers = [\"i\"]\n"),
            At(2) + "[tls] certificate: cannot read \"" + Path("missing.pem") +
                "\": No such file or directory");
}

TEST_F(ConfigTest, PrivateKeyThatIsADirectory) {
  fs::create_directory(Path("keydir"));
  EXPECT_EQ(Error("[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"keydir\"\n"
                  "[tokens]\nkeys = \"keys.json\"\nissuers = [\"i\"]\n"),
            At(3) + "[tls] private_key: cannot read \"" + Path("keydir") +
                "\": it is a directory, not a file");
}

TEST_F(ConfigTest, CertificateRequiredOnlyWithTlsListeners) {
  const std::string tokens = "[tokens]\nkeys = \"keys.json\"\nissuers = [\"i\"]\n";
  EXPECT_EQ(Error("[tls]\nprivate_key = \"key.pem\"\n" + tokens),
            At(1) +
                "[tls] certificate is required when [server] listen is not empty: the PEM "
                "certificate chain, e.g. certificate = \"cert.pem\"");
  EXPECT_EQ(Error("[tls]\ncertificate = \"cert.pem\"\n" + tokens),
            At(1) +
                "[tls] private_key is required when [server] listen is not empty: the PEM "
                "private key, e.g. private_key = \"key.pem\"");
  // A plain-HTTP-only sidecar needs no certificate.
  absl::StatusOr<Config> plain =
      Parse("[server]\nlisten = []\nplain_listen = [\"127.0.0.1:0\"]\n" + tokens);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->server.listen.empty());
  EXPECT_EQ(plain->tls.certificate, "");
}

TEST_F(ConfigTest, BadClaimHeaderName) {
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_headers]\nemail = \"X Email\"\n"),
            At(8) +
                "[tokens.claim_headers] \"email\": \"X Email\" is not a valid header name "
                "(letters, digits and !#$%&'*+-.^_`|~ only, e.g. \"X-Auth-Email\")");
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_headers]\nemail = \"\"\n"),
            At(8) + "[tokens.claim_headers] \"email\": the header name is empty");
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_headers]\nemail = 7\n"),
            At(8) +
                "[tokens.claim_headers] \"email\": expected a string (a header name), got an "
                "integer");
}

TEST_F(ConfigTest, ClaimHeadersCannotTakeOverReservedHeaders) {
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_headers]\nroles = \"content-length\"\n"),
            At(8) +
                "[tokens.claim_headers] \"roles\": \"content-length\" is reserved for HTTP "
                "itself; use a name of your own such as \"X-Auth-Email\"");
  EXPECT_EQ(Error(std::string(kValid) + "[tokens.claim_headers]\nroles = \"x-auth-SUBJECT\"\n"),
            At(8) +
                "[tokens.claim_headers] \"roles\": \"x-auth-SUBJECT\" is already used for the "
                "\"sub\" claim");
  EXPECT_EQ(
      Error(std::string(kValid) + "[tokens.claim_headers]\nemail = \"X-Who\"\nname = \"x-who\"\n"),
      At(9) +
          "[tokens.claim_headers] \"name\": header \"x-who\" is already used for claim "
          "\"email\"");
}

TEST_F(ConfigTest, ClaimsThatAlreadyHaveAHeaderAreRejected) {
  for (const char* claim : {"sub", "client_id", "scope"}) {
    SCOPED_TRACE(claim);
    const std::string message =
        Error(std::string(kValid) + "[tokens.claim_headers]\n" + claim + " = \"X-Other\"\n");
    EXPECT_THAT(message, StartsWith(At(8) + "[tokens.claim_headers] \"" + claim +
                                    "\": already sent as X-Auth-"));
  }
}

TEST_F(ConfigTest, EveryProblemIsReportedInFileOrder) {
  const std::string message = Error(std::string(kValid) +
                                    "[server]\n"                // 7
                                    "shards = \"x\"\n"          // 8
                                    "listn = []\n"              // 9
                                    "header_timeout_ms = -1\n"  // 10
  );
  EXPECT_EQ(message, At(8) + "[server] shards: expected an integer, got a string\n" + At(9) +
                         "unknown key \"listn\" in [server] (did you mean \"listen\"?)\n" + At(10) +
                         "[server] header_timeout_ms: must be greater than 0, got -1");
}

// --- The example file and RenderEffectiveConfig. ---

// SourceRoot finds the source tree from this file's compiled-in name, which meson gives
// relative to the build directory (the test binary lives in <build>/tests/).
std::string SourceRoot() {
  if (const char* root = getenv("RINGWARD_SOURCE_ROOT")) {
    return root;
  }
  const fs::path self(__FILE__);  // <root>/tests/config/config_test.cc
  std::vector<fs::path> candidates;
  if (self.is_absolute()) {
    candidates.push_back(self);
  } else {
    std::error_code ec;
    candidates.push_back(fs::current_path(ec) / self);
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    candidates.push_back(exe.parent_path().parent_path() / self);
  }
  for (const fs::path& c : candidates) {
    std::error_code ec;
    if (fs::exists(c, ec)) {
      return c.parent_path().parent_path().parent_path().lexically_normal().string();
    }
  }
  return "";
}

TEST_F(ConfigTest, ExampleFileDocumentsEveryKeyWithItsDefault) {
  const std::string root = SourceRoot();
  ASSERT_NE(root, "") << "set RINGWARD_SOURCE_ROOT to the source tree";
  const std::string example = ReadFile(root + "/config/ringward.toml");
  ASSERT_NE(example, "") << root << "/config/ringward.toml";
  WriteFile(file(), example);

  absl::StatusOr<Config> loaded = LoadConfig(file());
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  // The example must show the defaults: apart from the required keys (which have none), it
  // loads to exactly the built-in Config.
  Config expected;
  expected.path = file();
  expected.tls.certificate = Path("cert.pem");
  expected.tls.private_key = Path("key.pem");
  expected.tokens.keys = Path("keys.json");
  expected.tokens.issuers = {"https://auth.example.com"};
  EXPECT_EQ(RenderEffectiveConfig(*loaded), RenderEffectiveConfig(expected));

  // Every key appears in it, each preceded by its one-line comment.
  std::istringstream rendered(RenderEffectiveConfig(expected));
  std::string line;
  int keys = 0;
  while (std::getline(rendered, line)) {
    const size_t eq = line.find(" = ");
    if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) {
      continue;
    }
    const std::string key = line.substr(0, eq);
    ++keys;
    const size_t at = example.find("\n" + key + " = ");
    ASSERT_NE(at, std::string::npos) << "the example does not show " << key;
    const size_t comment = example.rfind('\n', at - 1);
    ASSERT_NE(comment, std::string::npos);
    EXPECT_EQ(example[comment + 1], '#') << "no comment above " << key;
  }
  EXPECT_EQ(keys, 61);
}

TEST_F(ConfigTest, RenderedConfigParsesBackToTheSameConfig) {
  absl::StatusOr<Config> config = Parse(std::string(kEveryKey) + "\"quote\\\"d\" = \"X-Q\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string rendered = RenderEffectiveConfig(*config);
  EXPECT_THAT(rendered, HasSubstr("\nshards = 4\n"));
  EXPECT_THAT(rendered, HasSubstr("\nkeys = \"" + Path("keys.json") + "\"\n"));
  EXPECT_THAT(rendered, HasSubstr("\"https://example.com/roles\" = \"Remote-Groups\""));
  // Parsed from another directory: the paths are absolute, so nothing moves.
  TempDir elsewhere;
  absl::StatusOr<Config> again = ParseConfig(rendered, elsewhere.path() + "/copy.toml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << rendered;
  again->path = config->path;
  EXPECT_EQ(RenderEffectiveConfig(*again), rendered);
  EXPECT_EQ(again->tokens.claim_headers, config->tokens.claim_headers);
  EXPECT_EQ(again->server.plain_listen, config->server.plain_listen);
}

TEST(RenderEffectiveConfigTest, DefaultsSayWhereTheyCameFrom) {
  const std::string rendered = RenderEffectiveConfig(Config{});
  EXPECT_THAT(rendered, StartsWith("# Effective ringward configuration (built-in defaults)."));
  EXPECT_THAT(rendered, HasSubstr("\n[server]\nlisten = [\"127.0.0.1:8443\"]\n"));
  EXPECT_THAT(rendered, HasSubstr("\nclaim_headers = {}\n"));
}

// --- PrepareDevEnvironment. ---

bool CertificateCovers(const std::string& pem, const std::string& host, const std::string& ip,
                       const std::string& ip6) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return false;
  }
  return X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr) == 1 &&
         X509_check_ip_asc(cert.get(), ip.c_str(), 0) == 1 &&
         X509_check_ip_asc(cert.get(), ip6.c_str(), 0) == 1;
}

TEST(PrepareDevEnvironmentTest, CreatesAWorkingEnvironment) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/state/dev";
  absl::StatusOr<Config> config = PrepareDevEnvironment(dir);
  ASSERT_TRUE(config.ok()) << config.status();

  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/keys.json"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/key.pem"), 0600u);
  EXPECT_EQ(config->path, dir + "/ringward.toml");
  EXPECT_EQ(config->data_dir, dir);
  EXPECT_EQ(config->server.listen, std::vector<std::string>{"127.0.0.1:8443"});
  EXPECT_EQ(config->server.plain_listen, std::vector<std::string>{"127.0.0.1:8080"});
  EXPECT_EQ(config->tokens.issuers, std::vector<std::string>{"https://ringward.local"});
  EXPECT_EQ(config->tokens.audiences, std::vector<std::string>{"edge-api"});
  EXPECT_EQ(config->tokens.keys, dir + "/keys.json");
  EXPECT_EQ(config->tls.certificate, dir + "/cert.pem");
  EXPECT_EQ(config->tls.private_key, dir + "/key.pem");
  EXPECT_EQ(config->admin.listen, std::vector<std::string>{"127.0.0.1:8444"});
  EXPECT_EQ(config->admin.token_file, dir + "/admin-token");
  EXPECT_EQ(ModeOf(dir + "/admin-token"), 0600u);
  EXPECT_TRUE(config->issuance.enabled);
  EXPECT_EQ(config->issuance.issuer, "https://ringward.local");
  EXPECT_EQ(config->issuance.base_url, "https://127.0.0.1:8443");
  EXPECT_EQ(config->issuance.audiences, std::vector<std::string>{"edge-api"});
  EXPECT_GE(ReadFile(dir + "/admin-token").size(), 40u);
  // The config refers to its files relatively, so the directory can be moved.
  EXPECT_THAT(ReadFile(dir + "/ringward.toml"), HasSubstr("keys = \"keys.json\""));

  absl::StatusOr<token::KeySet> keys = token::KeySet::FromFile(config->tokens.keys);
  ASSERT_TRUE(keys.ok()) << keys.status();
  const token::Key* key = keys->Find("dev-ed25519");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->alg(), token::Algorithm::kEdDSA);
  EXPECT_TRUE(key->has_private());

  EXPECT_TRUE(
      CertificateCovers(ReadFile(config->tls.certificate), "localhost", "127.0.0.1", "::1"));
  EXPECT_THAT(ReadFile(config->tls.private_key), HasSubstr("-----BEGIN PRIVATE KEY-----"));
  // No temporary files are left behind.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 5);
}

TEST(PrepareDevEnvironmentTest, SecondCallReusesTheFiles) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/dev";
  ASSERT_TRUE(PrepareDevEnvironment(dir).ok());
  const std::string keys = ReadFile(dir + "/keys.json");
  const std::string cert = ReadFile(dir + "/cert.pem");
  struct stat before;
  ASSERT_EQ(stat((dir + "/keys.json").c_str(), &before), 0);

  absl::StatusOr<Config> again = PrepareDevEnvironment(dir + "/");
  ASSERT_TRUE(again.ok()) << again.status();
  struct stat after;
  ASSERT_EQ(stat((dir + "/keys.json").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(ReadFile(dir + "/keys.json"), keys);
  EXPECT_EQ(ReadFile(dir + "/cert.pem"), cert);
}

TEST(PrepareDevEnvironmentTest, KeepsAnEditedConfigAndRemakesAMissingCertificate) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/dev";
  ASSERT_TRUE(PrepareDevEnvironment(dir).ok());
  std::string toml = ReadFile(dir + "/ringward.toml");
  toml.replace(toml.find("127.0.0.1:8080"), 14, "127.0.0.1:9090");
  WriteFile(dir + "/ringward.toml", toml);
  const std::string old_cert = ReadFile(dir + "/cert.pem");
  ASSERT_EQ(unlink((dir + "/key.pem").c_str()), 0);

  absl::StatusOr<Config> config = PrepareDevEnvironment(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.plain_listen, std::vector<std::string>{"127.0.0.1:9090"});
  EXPECT_NE(ReadFile(dir + "/cert.pem"), old_cert);
  EXPECT_EQ(ModeOf(dir + "/key.pem"), 0600u);
}

TEST(PrepareDevEnvironmentTest, RefusesAFileWhereTheDirectoryShouldBe) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/dev";
  WriteFile(dir, "x");
  absl::StatusOr<Config> config = PrepareDevEnvironment(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(dir));
}

// --- [server] access_log_sample and ${CREDENTIALS_DIRECTORY}. ---

TEST_F(ConfigTest, AccessLogSampleIsOffByDefaultAndTakesAFraction) {
  absl::StatusOr<Config> config = Parse(kValid);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.access_log_sample, 0.0);
  for (const auto& [text, value] :
       {std::pair{"0.01", 0.01}, std::pair{"1.0", 1.0}, std::pair{"1", 1.0}, std::pair{"0", 0.0}}) {
    SCOPED_TRACE(text);
    config = Parse(std::string(kValid) + "[server]\naccess_log_sample = " + text + "\n");
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->server.access_log_sample, value);
  }
}

TEST_F(ConfigTest, AccessLogSampleOutsideZeroToOneIsAnError) {
  EXPECT_EQ(Error(std::string(kValid) + "[server]\naccess_log_sample = 1.5\n"),
            At(8) + "[server] access_log_sample: must be between 0.0 and 1.0, got 1.5");
  EXPECT_EQ(Error(std::string(kValid) + "[server]\naccess_log_sample = -0.1\n"),
            At(8) + "[server] access_log_sample: must be between 0.0 and 1.0, got -0.1");
  EXPECT_EQ(Error(std::string(kValid) + "[server]\naccess_log_sample = \"all\"\n"),
            At(8) + "[server] access_log_sample: expected a number from 0.0 to 1.0, got a string");
}

TEST_F(ConfigTest, AccessLogSampleRendersAsAFloatAndParsesBack) {
  absl::StatusOr<Config> config = Parse(std::string(kValid) + "[server]\naccess_log_sample = 0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string rendered = RenderEffectiveConfig(*config);
  EXPECT_THAT(rendered, HasSubstr("\naccess_log_sample = 0.0\n"));
  config->server.access_log_sample = 0.125;
  absl::StatusOr<Config> again = ParseConfig(RenderEffectiveConfig(*config), file());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->server.access_log_sample, 0.125);
}

// Sets CREDENTIALS_DIRECTORY for one test and restores it after.
class ScopedCredentialsDirectory {
 public:
  explicit ScopedCredentialsDirectory(const char* value) {
    const char* old = getenv("CREDENTIALS_DIRECTORY");
    had_ = old != nullptr;
    if (had_) {
      old_ = old;
    }
    if (value == nullptr) {
      unsetenv("CREDENTIALS_DIRECTORY");
    } else {
      setenv("CREDENTIALS_DIRECTORY", value, 1);
    }
  }
  ~ScopedCredentialsDirectory() {
    if (had_) {
      setenv("CREDENTIALS_DIRECTORY", old_.c_str(), 1);
    } else {
      unsetenv("CREDENTIALS_DIRECTORY");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST_F(ConfigTest, CredentialsDirectoryIsExpandedInFilePaths) {
  TempDir credentials;
  WriteFile(credentials.path() + "/keys.json", "{\"keys\":[]}");
  WriteFile(credentials.path() + "/tls_cert.pem", "x");
  WriteFile(credentials.path() + "/tls_key.pem", "x");
  ScopedCredentialsDirectory env(credentials.path().c_str());
  absl::StatusOr<Config> config = Parse(
      "[tls]\n"
      "certificate = \"${CREDENTIALS_DIRECTORY}/tls_cert.pem\"\n"
      "private_key = \"$CREDENTIALS_DIRECTORY/tls_key.pem\"\n"
      "[tokens]\n"
      "keys = \"${CREDENTIALS_DIRECTORY}/keys.json\"\n"
      "issuers = [\"https://issuer.example\"]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls.certificate, credentials.path() + "/tls_cert.pem");
  EXPECT_EQ(config->tls.private_key, credentials.path() + "/tls_key.pem");
  EXPECT_EQ(config->tokens.keys, credentials.path() + "/keys.json");
}

TEST_F(ConfigTest, CredentialsDirectoryUnsetIsAnErrorNamingTheKey) {
  ScopedCredentialsDirectory env(nullptr);
  const std::string message = Error(
      "[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[tokens]\nkeys = \"${CREDENTIALS_DIRECTORY}/keys.json\"\n"
      "issuers = [\"https://issuer.example\"]\n");
  EXPECT_THAT(message, StartsWith(At(5) + "[tokens] keys: \"${CREDENTIALS_DIRECTORY}/keys.json\" "
                                          "uses $CREDENTIALS_DIRECTORY, which is not set"));
}

TEST_F(ConfigTest, OtherDollarSignsAreLeftAlone) {
  WriteFile(Path("$HOME.json"), "{\"keys\":[]}");
  WriteFile(Path("$CREDENTIALS_DIRECTORY_X"), "{\"keys\":[]}");
  ScopedCredentialsDirectory env("/nonexistent");
  for (const char* name : {"$HOME.json", "$CREDENTIALS_DIRECTORY_X"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<Config> config = Parse(
        std::string("[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
                    "[tokens]\nkeys = \"") + name + "\"\nissuers = [\"i\"]\n");
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->tokens.keys, Path(name));
  }
}

// --- [issuance]. ---

// kIssuing is kValid with a data directory, so that [issuance] may be enabled: line 8 is the
// first appended line.
constexpr char kIssuing[] =
    "data_dir = \"state\"\n"                     // 1
    "[tls]\n"                                    // 2
    "certificate = \"cert.pem\"\n"               // 3
    "private_key = \"key.pem\"\n"                // 4
    "[tokens]\n"                                 // 5
    "keys = \"keys.json\"\n"                     // 6
    "issuers = [\"https://issuer.example\"]\n";  // 7

TEST(ConfigDefaultsTest, IssuanceDefaultsAreTheDocumentedOnes) {
  const IssuanceConfig is;
  EXPECT_FALSE(is.enabled);
  EXPECT_EQ(is.issuer, "");
  EXPECT_EQ(is.base_url, "");
  EXPECT_TRUE(is.audiences.empty());
  EXPECT_EQ(is.signing_alg, "EdDSA");
  EXPECT_EQ(is.access_token_ttl_s, 600);
  EXPECT_EQ(is.refresh_token_ttl_s, 2592000);
  EXPECT_EQ(is.rotation_interval_s, 7776000);
  EXPECT_EQ(is.publish_lead_s, 600);
  EXPECT_EQ(is.argon2_memory_kib, 19456u);
  EXPECT_EQ(is.argon2_iterations, 2u);
  EXPECT_EQ(is.argon2_parallelism, 1u);
  EXPECT_EQ(is.password_workers, 2);
  EXPECT_EQ(is.max_failures, 5);
  EXPECT_EQ(is.lockout_s, 300);
  EXPECT_EQ(is.max_lockout_s, 86400);
  EXPECT_EQ(is.ip_max_failures, 50);
  EXPECT_EQ(is.ip_window_s, 300);
  EXPECT_TRUE(is.trusted_issuers.empty());
}

TEST_F(ConfigTest, IssuanceIsOffByDefaultAndLeavesItsDefaultsAlone) {
  absl::StatusOr<Config> config = Parse(kValid);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->issuance.enabled);
  // Disabled, nothing is filled in from [tokens].
  EXPECT_EQ(config->issuance.issuer, "");
  EXPECT_EQ(config->issuance.base_url, "");
  EXPECT_TRUE(config->issuance.audiences.empty());
  EXPECT_EQ(RenderEffectiveConfig(*config).find("[[issuance.trusted_issuers]]"),
            std::string::npos);
}

constexpr char kEveryIssuanceKey[] = R"(
[issuance]
enabled = true
issuer = "https://b.example"
base_url = "https://auth.example:8443/"
audiences = ["api-1", "api-2"]
signing_alg = "PS256"
access_token_ttl_s = 60
refresh_token_ttl_s = 0
rotation_interval_s = 3600
publish_lead_s = 0
argon2_memory_kib = 65536
argon2_iterations = 3
argon2_parallelism = 4
password_workers = 8
max_failures = 10
lockout_s = 60
max_lockout_s = 60
ip_max_failures = 1000000
ip_window_s = 86400

[[issuance.trusted_issuers]]
issuer = "https://accounts.example"
jwks = "accounts.json"
audiences = ["ringward"]
scopes = ["read", "write:orders"]

[[issuance.trusted_issuers]]
issuer = "kubernetes/serviceaccount"
jwks = "k8s.json"
subject_prefix = "k8s:"

[[issuance.trusted_issuers]]
issuer = "https://social.example"
jwks_url = "https://social.example/.well-known/jwks.json"
ca_file = "social-ca.pem"
jwks_refresh_s = 86400
jwks_min_refresh_s = 1
)";

TEST_F(ConfigTest, ReadsEveryIssuanceKeyAndTrustedIssuerTables) {
  WriteFile(Path("accounts.json"), "{\"keys\":[]}");
  WriteFile(Path("k8s.json"), "{\"keys\":[]}");
  WriteFile(Path("social-ca.pem"), "not parsed by the config loader");
  absl::StatusOr<Config> config = Parse(std::string(kEveryKey) + kEveryIssuanceKey);
  ASSERT_TRUE(config.ok()) << config.status();
  const IssuanceConfig& is = config->issuance;
  EXPECT_TRUE(is.enabled);
  EXPECT_EQ(is.issuer, "https://b.example");
  EXPECT_EQ(is.base_url, "https://auth.example:8443");  // the lone trailing '/' is dropped
  EXPECT_EQ(is.audiences, (std::vector<std::string>{"api-1", "api-2"}));
  EXPECT_EQ(is.signing_alg, "PS256");
  EXPECT_EQ(is.access_token_ttl_s, 60);
  EXPECT_EQ(is.refresh_token_ttl_s, 0);
  EXPECT_EQ(is.rotation_interval_s, 3600);
  EXPECT_EQ(is.publish_lead_s, 0);
  EXPECT_EQ(is.argon2_memory_kib, 65536u);
  EXPECT_EQ(is.argon2_iterations, 3u);
  EXPECT_EQ(is.argon2_parallelism, 4u);
  EXPECT_EQ(is.password_workers, 8);
  EXPECT_EQ(is.max_failures, 10);
  EXPECT_EQ(is.lockout_s, 60);
  EXPECT_EQ(is.max_lockout_s, 60);
  EXPECT_EQ(is.ip_max_failures, 1000000);
  EXPECT_EQ(is.ip_window_s, 86400);
  ASSERT_EQ(is.trusted_issuers.size(), 3u);
  const TrustedIssuerConfig& a = is.trusted_issuers[0];
  EXPECT_EQ(a.issuer, "https://accounts.example");
  EXPECT_EQ(a.jwks, Path("accounts.json"));
  EXPECT_EQ(a.jwks_url, "");
  EXPECT_EQ(a.ca_file, "");  // only a jwks_url gets the system bundle
  EXPECT_EQ(a.jwks_refresh_s, 300);
  EXPECT_EQ(a.jwks_min_refresh_s, 30);
  EXPECT_EQ(a.audiences, std::vector<std::string>{"ringward"});
  EXPECT_EQ(a.subject_prefix, "https://accounts.example|");
  EXPECT_EQ(a.scopes, (std::vector<std::string>{"read", "write:orders"}));
  const TrustedIssuerConfig& k = is.trusted_issuers[1];
  EXPECT_EQ(k.issuer, "kubernetes/serviceaccount");
  EXPECT_EQ(k.jwks, Path("k8s.json"));
  EXPECT_TRUE(k.audiences.empty());
  EXPECT_EQ(k.subject_prefix, "k8s:");
  EXPECT_TRUE(k.scopes.empty());
  const TrustedIssuerConfig& s = is.trusted_issuers[2];
  EXPECT_EQ(s.jwks, "");
  EXPECT_EQ(s.jwks_url, "https://social.example/.well-known/jwks.json");
  EXPECT_EQ(s.ca_file, Path("social-ca.pem"));
  EXPECT_EQ(s.jwks_refresh_s, 86400);
  EXPECT_EQ(s.jwks_min_refresh_s, 1);
}

TEST_F(ConfigTest, IssuanceRendersAndParsesBackToTheSameConfig) {
  WriteFile(Path("accounts.json"), "{\"keys\":[]}");
  WriteFile(Path("k8s.json"), "{\"keys\":[]}");
  WriteFile(Path("social-ca.pem"), "not parsed by the config loader");
  absl::StatusOr<Config> config = Parse(std::string(kEveryKey) + kEveryIssuanceKey);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string rendered = RenderEffectiveConfig(*config);
  EXPECT_THAT(rendered, HasSubstr("\n[issuance]\nenabled = true\n"));
  EXPECT_THAT(rendered, HasSubstr("\nsigning_alg = \"PS256\"\n"));
  EXPECT_THAT(rendered, HasSubstr("\n[[issuance.trusted_issuers]]\nissuer = "
                                  "\"https://accounts.example\"\njwks = \"" +
                                  Path("accounts.json") + "\"\n"));
  TempDir elsewhere;
  absl::StatusOr<Config> again = ParseConfig(rendered, elsewhere.path() + "/copy.toml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << rendered;
  again->path = config->path;
  EXPECT_EQ(RenderEffectiveConfig(*again), rendered);
  ASSERT_EQ(again->issuance.trusted_issuers.size(), 3u);
  EXPECT_THAT(rendered, HasSubstr("\njwks = \"\"\njwks_url = \"https://social.example/.well-known/"
                                  "jwks.json\"\nca_file = \"" +
                                  Path("social-ca.pem") +
                                  "\"\njwks_refresh_s = 86400\njwks_min_refresh_s = 1\n"));
  EXPECT_EQ(again->issuance.trusted_issuers[2].ca_file, Path("social-ca.pem"));
  EXPECT_EQ(again->issuance.trusted_issuers[1].subject_prefix, "k8s:");
  EXPECT_EQ(again->issuance.trusted_issuers[0].scopes,
            (std::vector<std::string>{"read", "write:orders"}));
}

TEST_F(ConfigTest, EnabledIssuanceTakesItsDefaultsFromTokens) {
  absl::StatusOr<Config> config =
      Parse(std::string(kIssuing) + "audiences = [\"edge\"]\n[issuance]\nenabled = true\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->issuance.issuer, "https://issuer.example");
  EXPECT_EQ(config->issuance.base_url, "https://issuer.example");
  EXPECT_EQ(config->issuance.audiences, std::vector<std::string>{"edge"});
  // The effective config shows them, and reads back the same.
  const std::string rendered = RenderEffectiveConfig(*config);
  EXPECT_THAT(rendered, HasSubstr("\nissuer = \"https://issuer.example\"\nbase_url = "
                                  "\"https://issuer.example\"\naudiences = [\"edge\"]\n"));
  absl::StatusOr<Config> again = ParseConfig(rendered, file());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RenderEffectiveConfig(*again), rendered);
}

TEST_F(ConfigTest, EnabledIssuanceNeedsTheDataDirectory) {
  EXPECT_EQ(Error(std::string(kValid) + "[issuance]\nenabled = true\naudiences = [\"a\"]\n"),
            At(8) + "[issuance] enabled needs data_dir: clients, users, refresh tokens and "
                    "signing keys are kept in the write-ahead log in <data_dir>/wal and the "
                    "private keys in <data_dir>/keys; set data_dir = \"/var/lib/ringward\" at the "
                    "top level (before any [section])");
  // Disabled, it needs nothing.
  EXPECT_TRUE(Parse(std::string(kValid) + "[issuance]\nenabled = false\n").ok());
}

TEST_F(ConfigTest, EnabledIssuanceNeedsAnAudience) {
  EXPECT_EQ(Error(std::string(kIssuing) + "[issuance]\nenabled = true\n"),
            At(8) + "[issuance] audiences: an issued token needs an audience, and neither "
                    "[issuance] audiences nor [tokens] audiences names one; set audiences = "
                    "[\"api.example.com\"]");
}

TEST_F(ConfigTest, EnabledIssuanceMakesTheTokensKeysOptional) {
  const std::string no_keys =
      "data_dir = \"state\"\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[tokens]\nissuers = [\"https://issuer.example\"]\n";
  absl::StatusOr<Config> config =
      Parse(no_keys + "[issuance]\nenabled = true\naudiences = [\"a\"]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tokens.keys, "");
  EXPECT_THAT(Error(no_keys), HasSubstr("[tokens] keys is required"));
}

TEST_F(ConfigTest, IssuanceIssuerMustBeAnHttpsUrl) {
  const std::string enabled = std::string(kIssuing) + "[issuance]\nenabled = true\n" +
                              "audiences = [\"a\"]\n";  // 8, 9, 10; line 11 is appended
  // An issuer of its own (not in [tokens] issuers) is fine: the server verifies it too.
  absl::StatusOr<Config> own = Parse(enabled + "issuer = \"https://other.example/\"\n");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->issuance.issuer, "https://other.example/");
  EXPECT_EQ(own->issuance.base_url, "https://other.example");
  EXPECT_EQ(Error(enabled + "issuer = \"http://auth.example\"\n"),
            At(11) + "[issuance] issuer: \"http://auth.example\" must use https:// (http:// is "
                     "allowed only for loopback hosts: localhost, 127.0.0.1, [::1])");
  EXPECT_EQ(Error(enabled + "issuer = \"auth.example\"\n"),
            At(11) + "[issuance] issuer: \"auth.example\" is not an https:// URL, e.g. "
                     "\"https://auth.example.com\"");
  EXPECT_EQ(Error(enabled + "issuer = \"https://auth.example/?x=1\"\n"),
            At(11) + "[issuance] issuer: \"https://auth.example/?x=1\" must not have a query or "
                     "a fragment");
  EXPECT_EQ(Error(enabled + "issuer = \"https://u@auth.example\"\n"),
            At(11) + "[issuance] issuer: \"https://u@auth.example\" must not hold a user name or "
                     "password");
  EXPECT_EQ(Error(enabled + "issuer = \"https://auth.example:99999\"\n"),
            At(11) + "[issuance] issuer: \"https://auth.example:99999\": port \"99999\" is not a "
                     "number from 1 to 65535");
  // The default comes from [tokens] issuers[0], and is checked the same way.
  const std::string plain_issuer =
      "data_dir = \"state\"\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[tokens]\nkeys = \"keys.json\"\nissuers = [\"urn:me\"]\n[issuance]\nenabled = true\n"
      "audiences = [\"a\"]\n";
  EXPECT_EQ(Error(plain_issuer),
            At(8) + "[issuance] issuer is not set, so it is [tokens] issuers[0]: \"urn:me\" is not "
                    "an https:// URL, e.g. \"https://auth.example.com\"; set issuer = "
                    "\"https://auth.example.com\" here and in [tokens] issuers");
  // An issuer with a path is fine, but then base_url has to say where the endpoints are.
  const std::string with_path =
      "data_dir = \"state\"\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[tokens]\nkeys = \"keys.json\"\nissuers = [\"https://auth.example/realms/a\"]\n"
      "[issuance]\nenabled = true\naudiences = [\"a\"]\n";
  EXPECT_EQ(Error(with_path),
            At(8) + "[issuance] base_url is not set, so it is the issuer: "
                    "\"https://auth.example/realms/a\" must not have a path: the endpoints are at "
                    "fixed paths under it (e.g. \"https://auth.example.com\"); set base_url = "
                    "\"https://auth.example.com\", where the endpoints are");
  absl::StatusOr<Config> config = Parse(with_path + "base_url = \"https://auth.example\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->issuance.issuer, "https://auth.example/realms/a");
}

TEST_F(ConfigTest, LoopbackIssuersMayUsePlainHttp) {
  for (const char* url : {"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"}) {
    SCOPED_TRACE(url);
    const std::string text = "data_dir = \"state\"\n[tls]\ncertificate = \"cert.pem\"\n"
                             "private_key = \"key.pem\"\n[tokens]\nkeys = \"keys.json\"\n"
                             "issuers = [\"" + std::string(url) + "\"]\n[issuance]\n"
                             "enabled = true\naudiences = [\"a\"]\n";
    absl::StatusOr<Config> config = Parse(text);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->issuance.issuer, url);
    EXPECT_EQ(config->issuance.base_url, url);
  }
  EXPECT_EQ(Error(std::string(kValid) + "[issuance]\nbase_url = \"http://10.0.0.1:8080\"\n"),
            At(8) + "[issuance] base_url: \"http://10.0.0.1:8080\" must use https:// (http:// is "
                    "allowed only for loopback hosts: localhost, 127.0.0.1, [::1])");
  EXPECT_EQ(Error(std::string(kValid) + "[issuance]\nbase_url = \"https://a.example/oauth\"\n"),
            At(8) + "[issuance] base_url: \"https://a.example/oauth\" must not have a path: the "
                    "endpoints are at fixed paths under it (e.g. \"https://auth.example.com\")");
}

TEST_F(ConfigTest, IssuanceSettingsAreRangeChecked) {
  struct Case {
    const char* line;
    const char* message;
  };
  const Case cases[] = {
      {"signing_alg = \"HS256\"",
       "[issuance] signing_alg: must be EdDSA, ES256, RS256 or PS256 (an asymmetric algorithm: "
       "its public keys are published in the JWKS), got \"HS256\""},
      {"access_token_ttl_s = 59",
       "[issuance] access_token_ttl_s: must be between 60 and 86400, got 59"},
      {"access_token_ttl_s = 86401",
       "[issuance] access_token_ttl_s: must be between 60 and 86400, got 86401"},
      {"refresh_token_ttl_s = 299",
       "[issuance] refresh_token_ttl_s: must be 0 (no refresh tokens) or between 300 and "
       "31536000, got 299"},
      {"refresh_token_ttl_s = 31536001",
       "[issuance] refresh_token_ttl_s: must be 0 (no refresh tokens) or between 300 and "
       "31536000, got 31536001"},
      {"refresh_token_ttl_s = -1",
       "[issuance] refresh_token_ttl_s: must be 0 (no refresh tokens) or between 300 and "
       "31536000, got -1"},
      {"rotation_interval_s = 3599",
       "[issuance] rotation_interval_s: must be 0 (rotate only on demand) or between 3600 and "
       "315360000, got 3599"},
      {"rotation_interval_s = 315360001",
       "[issuance] rotation_interval_s: must be 0 (rotate only on demand) or between 3600 and "
       "315360000, got 315360001"},
      {"publish_lead_s = -1", "[issuance] publish_lead_s: must be between 0 and 604800, got -1"},
      {"publish_lead_s = 604801",
       "[issuance] publish_lead_s: must be between 0 and 604800, got 604801"},
      {"argon2_memory_kib = 63",
       "[issuance] argon2_memory_kib: must be between 64 and 4194304, got 63"},
      {"argon2_memory_kib = 4194305",
       "[issuance] argon2_memory_kib: must be between 64 and 4194304, got 4194305"},
      {"argon2_iterations = 0", "[issuance] argon2_iterations: must be between 1 and 64, got 0"},
      {"argon2_iterations = 65", "[issuance] argon2_iterations: must be between 1 and 64, got 65"},
      {"argon2_parallelism = 0", "[issuance] argon2_parallelism: must be between 1 and 16, got 0"},
      {"argon2_parallelism = 17",
       "[issuance] argon2_parallelism: must be between 1 and 16, got 17"},
      {"password_workers = 0", "[issuance] password_workers: must be between 1 and 64, got 0"},
      {"password_workers = 65", "[issuance] password_workers: must be between 1 and 64, got 65"},
      {"max_failures = 0", "[issuance] max_failures: must be between 1 and 1000, got 0"},
      {"max_failures = 1001", "[issuance] max_failures: must be between 1 and 1000, got 1001"},
      {"lockout_s = 0", "[issuance] lockout_s: must be between 1 and 86400, got 0"},
      {"lockout_s = 86401", "[issuance] lockout_s: must be between 1 and 86400, got 86401"},
      {"max_lockout_s = 299", "[issuance] max_lockout_s: must be at least lockout_s (300), got 299"},
      {"max_lockout_s = 2592001",
       "[issuance] max_lockout_s: must be between 1 and 2592000, got 2592001"},
      {"ip_max_failures = 0", "[issuance] ip_max_failures: must be between 1 and 1000000, got 0"},
      {"ip_max_failures = 1000001",
       "[issuance] ip_max_failures: must be between 1 and 1000000, got 1000001"},
      {"ip_window_s = 0", "[issuance] ip_window_s: must be between 1 and 86400, got 0"},
      {"ip_window_s = 86401", "[issuance] ip_window_s: must be between 1 and 86400, got 86401"},
      {"enabled = 1", "[issuance] enabled: expected a boolean (true or false), got an integer"},
      {"audiences = [\"\"]", "[issuance] audiences[0]: must not be empty"},
      {"trusted_issuers = {}",
       "[issuance] trusted_issuers: expected an array of tables ([[issuance.trusted_issuers]] "
       "sections), got a table"},
      {"trusted_issuers = [\"https://a.example\"]",
       "[issuance.trusted_issuers[0]]: expected a table (an [[issuance.trusted_issuers]] "
       "section), got a string"},
      {"enable = true", "unknown key \"enable\" in [issuance] (did you mean \"enabled\"?)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(Error(std::string(kValid) + "[issuance]\n" + c.line + "\n"), At(8) + c.message);
  }
  // The bounds themselves are accepted.
  absl::StatusOr<Config> config = Parse(std::string(kValid) +
                                        "[issuance]\nrefresh_token_ttl_s = 300\n"
                                        "rotation_interval_s = 0\nlockout_s = 86400\n"
                                        "max_lockout_s = 2592000\nargon2_memory_kib = 64\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->issuance.refresh_token_ttl_s, 300);
  EXPECT_EQ(config->issuance.rotation_interval_s, 0);
  EXPECT_EQ(config->issuance.max_lockout_s, 2592000);
}

TEST_F(ConfigTest, ArgonMemoryCoversEveryLane) {
  EXPECT_EQ(Error(std::string(kValid) +
                  "[issuance]\nargon2_memory_kib = 100\nargon2_parallelism = 16\n"),
            At(8) + "[issuance] argon2_memory_kib: Argon2 needs at least 8 KiB per lane, so at "
                    "least 128 with argon2_parallelism = 16, got 100");
}

TEST_F(ConfigTest, TrustedIssuerTablesAreChecked) {
  WriteFile(Path("ext.json"), "{\"keys\":[]}");
  const std::string start = std::string(kValid) + "[[issuance.trusted_issuers]]\n";  // line 7
  EXPECT_EQ(Error(start + "jwks = \"ext.json\"\n"),
            At(7) + "[issuance.trusted_issuers[0]] issuer is required: the \"iss\" of the "
                    "provider's tokens, e.g. issuer = \"https://accounts.example.com\"");
  EXPECT_EQ(Error(start + "issuer = \"https://ext.example\"\n"),
            At(7) + "[issuance.trusted_issuers[0]] jwks or jwks_url is required: where the "
                    "provider's public keys are, a JWKS file (jwks = \"accounts-jwks.json\") or a "
                    "URL (jwks_url = \"https://accounts.example.com/.well-known/jwks.json\")");
  EXPECT_EQ(Error(start + "issuer = \"https://ext.example\"\njwks = \"nope.json\"\n"),
            At(9) + "[issuance.trusted_issuers[0]] jwks: cannot read \"" + Path("nope.json") +
                "\": No such file or directory");
  EXPECT_EQ(Error(start + "issuer = \"https://ext.example\"\njwks = \"ext.json\"\n"
                          "subject_prefix = \"ext-\"\n"),
            At(10) + "[issuance.trusted_issuers[0]] subject_prefix: \"ext-\" must contain a ':' "
                     "(which usernames cannot), so that an exchanged subject is never taken for a "
                     "local user; e.g. \"corp:\"");
  EXPECT_EQ(Error(start + "issuer = \"ext\"\njwks = \"ext.json\"\n"),
            At(8) + "[issuance.trusted_issuers[0]] subject_prefix is not set, so it is \"ext|\", "
                    "which has no ':' (usernames cannot hold one, so it keeps an exchanged "
                    "subject from being taken for a local user); set subject_prefix = \"corp:\"");
  EXPECT_EQ(Error(start + "issuer = \"https://ext.example\"\njwks = \"ext.json\"\n"
                          "scopes = [\"a b\"]\n"),
            At(10) + "[issuance.trusted_issuers[0]] scopes[0]: \"a b\" is not a scope (printable "
                     "ASCII without spaces, '\"' or '\\', e.g. \"read:orders\")");
  EXPECT_EQ(Error(start + "issuer = \"https://ext.example\"\njwks = \"ext.json\"\n"
                          "audience = [\"x\"]\n"),
            At(10) + "unknown key \"audience\" in [issuance.trusted_issuers[0]] (did you mean "
                     "\"audiences\"?)");
  const std::string one = "issuer = \"https://ext.example\"\njwks = \"ext.json\"\n";
  EXPECT_EQ(Error(start + one + "[[issuance.trusted_issuers]]\n" + one),  // lines 10..12
            At(11) + "[issuance.trusted_issuers[1]] issuer: \"https://ext.example\" is already "
                     "trusted_issuers[0]; give each provider one table");
}

TEST_F(ConfigTest, TrustedIssuersMayBeInlineTables) {
  WriteFile(Path("ext.json"), "{\"keys\":[]}");
  absl::StatusOr<Config> config =
      Parse(std::string(kValid) +
            "[issuance]\ntrusted_issuers = [{ issuer = \"https://ext.example\", jwks = "
            "\"ext.json\", scopes = [\"read\"] }]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->issuance.trusted_issuers.size(), 1u);
  EXPECT_EQ(config->issuance.trusted_issuers[0].jwks, Path("ext.json"));
  EXPECT_EQ(config->issuance.trusted_issuers[0].scopes, std::vector<std::string>{"read"});
}

TEST_F(ConfigTest, TrustedIssuerJwksUrlIsChecked) {
  WriteFile(Path("ext.json"), "{\"keys\":[]}");
  WriteFile(Path("idp-ca.pem"), "not parsed by the config loader");
  const std::string start = std::string(kValid) + "[[issuance.trusted_issuers]]\n"  // line 7
                                                  "issuer = \"https://ext.example\"\n";  // 8
  // Exactly one of jwks and jwks_url.
  EXPECT_EQ(Error(start + "jwks = \"ext.json\"\njwks_url = \"https://ext.example/jwks\"\n"),
            At(10) + "[issuance.trusted_issuers[0]] jwks_url: set either jwks (a file) or "
                     "jwks_url, not both");
  // https only; http only on loopback; no query.
  EXPECT_EQ(Error(start + "jwks_url = \"http://ext.example/jwks\"\n"),
            At(9) + "[issuance.trusted_issuers[0]] jwks_url: \"http://ext.example/jwks\" must use "
                    "https:// (http:// is allowed only for loopback hosts: localhost, 127.0.0.1, "
                    "[::1])");
  EXPECT_EQ(Error(start + "jwks_url = \"https://ext.example/jwks?v=1\"\n"),
            At(9) + "[issuance.trusted_issuers[0]] jwks_url: \"https://ext.example/jwks?v=1\" must "
                    "not have a query or a fragment");
  EXPECT_EQ(Error(start + "jwks_url = \"ext.example/jwks\"\n"),
            At(9) + "[issuance.trusted_issuers[0]] jwks_url: \"ext.example/jwks\" is not an "
                    "https:// URL, e.g. \"https://auth.example.com\"");
  // ca_file: readable, and only with jwks_url.
  EXPECT_EQ(Error(start + "jwks_url = \"https://ext.example/jwks\"\nca_file = \"nope.pem\"\n"),
            At(10) + "[issuance.trusted_issuers[0]] ca_file: cannot read \"" + Path("nope.pem") +
                "\": No such file or directory");
  EXPECT_EQ(Error(start + "jwks = \"ext.json\"\nca_file = \"idp-ca.pem\"\n"),
            At(10) + "[issuance.trusted_issuers[0]] ca_file applies only to jwks_url (the JWKS "
                     "file is read as it is); remove it");
  // The intervals.
  EXPECT_EQ(Error(start + "jwks_url = \"https://ext.example/jwks\"\njwks_refresh_s = 29\n"),
            At(10) + "[issuance.trusted_issuers[0]] jwks_refresh_s: must be between 30 and 86400, "
                     "got 29");
  EXPECT_EQ(Error(start + "jwks_url = \"https://ext.example/jwks\"\njwks_min_refresh_s = 0\n"),
            At(10) + "[issuance.trusted_issuers[0]] jwks_min_refresh_s: must be between 1 and "
                     "86400, got 0");
  EXPECT_EQ(Error(start + "jwks_url = \"https://ext.example/jwks\"\njwks_refresh_s = 60\n"
                          "jwks_min_refresh_s = 61\n"),
            At(11) + "[issuance.trusted_issuers[0]] jwks_min_refresh_s: must be at most "
                     "jwks_refresh_s (60), got 61");

  // A loopback http:// URL is fine (a sidecar); the CA file defaults to the system bundle,
  // which must then be there.
  const std::string text =
      start + "jwks_url = \"http://127.0.0.1:8080/jwks\"\n" + "[[issuance.trusted_issuers]]\n"
              "issuer = \"https://idp.example\"\njwks_url = \"https://idp.example/jwks\"\n"
              "ca_file = \"idp-ca.pem\"\n";
  if (access(kSystemCaBundle, R_OK) != 0) {
    EXPECT_EQ(Error(text),
              At(9) + "[issuance.trusted_issuers[0]] ca_file: cannot read \"" +
                  std::string(kSystemCaBundle) +
                  "\" (the system's CA bundle, used when ca_file is not set): No such file or "
                  "directory; set ca_file to the PEM bundle the provider's certificate chains to");
    return;
  }
  absl::StatusOr<Config> config = Parse(text);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->issuance.trusted_issuers.size(), 2u);
  const TrustedIssuerConfig& local = config->issuance.trusted_issuers[0];
  EXPECT_EQ(local.jwks_url, "http://127.0.0.1:8080/jwks");
  EXPECT_EQ(local.ca_file, kSystemCaBundle);
  EXPECT_EQ(local.jwks_refresh_s, 300);
  EXPECT_EQ(local.jwks_min_refresh_s, 30);
  EXPECT_EQ(config->issuance.trusted_issuers[1].ca_file, Path("idp-ca.pem"));
}

// --- [replication]. ---

TEST_F(ConfigTest, ReplicationFollowerNeedsItsCredentialAndCa) {
  WriteFile(Path("repl-secret"), "0123456789abcdef0123");
  WriteFile(Path("leader-ca.pem"), "not parsed by the config loader");
  absl::StatusOr<Config> config =
      Parse(std::string(kIssuing) +
            "[replication]\n"
            "leader = \"https://127.0.0.1:8445\"\n"
            "credential_file = \"repl-secret\"\n"
            "ca_file = \"leader-ca.pem\"\n"
            "max_staleness_ms = 750\n"
            "fail_mode = \"open\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replication.leader, "https://127.0.0.1:8445");
  EXPECT_EQ(config->replication.credential_file, Path("repl-secret"));
  EXPECT_EQ(config->replication.ca_file, Path("leader-ca.pem"));
  EXPECT_EQ(config->replication.max_staleness_ms, 750);
  EXPECT_EQ(config->replication.fail_mode, "open");
  // It renders and parses back the same.
  absl::StatusOr<Config> again = ParseConfig(RenderEffectiveConfig(*config), file());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RenderEffectiveConfig(*again), RenderEffectiveConfig(*config));

  absl::StatusOr<Config> no_ca = Parse(std::string(kIssuing) +
                                       "[replication]\n"
                                       "leader = \"https://127.0.0.1:8445\"\n"
                                       "credential_file = \"repl-secret\"\n");
  ASSERT_FALSE(no_ca.ok());
  EXPECT_THAT(std::string(no_ca.status().message()), HasSubstr("needs ca_file"));

  absl::StatusOr<Config> no_secret = Parse(std::string(kIssuing) +
                                           "[replication]\n"
                                           "listen = \"127.0.0.1:8445\"\n");
  ASSERT_FALSE(no_secret.ok());
  EXPECT_THAT(std::string(no_secret.status().message()), HasSubstr("needs credential_file"));
}

TEST_F(ConfigTest, ReplicationRefusesBadLeaderUrlsAndFailModes) {
  for (const char* bad : {"http://127.0.0.1:8445", "https://127.0.0.1", "https://h:1/path",
                          "https://user@h:1"}) {
    absl::StatusOr<Config> config = Parse(std::string(kIssuing) + "[replication]\nleader = \"" +
                                          bad + "\"\n");
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(":9: [replication] leader"))
        << bad;
  }
  absl::StatusOr<Config> mode =
      Parse(std::string(kIssuing) + "[replication]\nfail_mode = \"sometimes\"\n");
  ASSERT_FALSE(mode.ok());
  EXPECT_THAT(std::string(mode.status().message()), HasSubstr("fail_mode"));
  absl::StatusOr<Config> data = Parse(std::string(kValid) + "[replication]\nlisten = \"127.0.0.1:1\"\n");
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("needs data_dir"));
}

}  // namespace
}  // namespace ringward::config
