// The issuance subcommands: `ringward client`, `ringward user` and `ringward keys` manage the
// clients, users and signing keys of [issuance] through the admin API (cli_admin_client.h).
//
// Each command is one request: a 2xx answer is printed on stdout as it came (JSON) and exits 0;
// any other status exits 1 with the server's {"error": ...} message on stderr; a usage error
// exits 2 before anything is sent. Passwords come from a file or stdin, never from the command
// line (where every user of the machine could read them in /proc).
#include <termios.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <map>
#include <chrono>
#include <string>
#include <thread>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "openssl/mem.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "server/cli.h"
#include "server/cli_admin_client.h"
#include "simdjson.h"

namespace ringward::cli {
namespace {

constexpr std::string_view kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
// Past this, a non-JSON error body is cut: it is a message for a terminal.
constexpr size_t kMaxShownErrorBytes = 1000;

// Option declares one option of a subcommand; every option takes a value.
struct Option {
  std::string_view name;  // "--scope"
  bool repeatable = false;
};

// Parsed is a subcommand's command line: the admin options, the positional arguments and the
// values of its own options (a repeatable option keeps every value, in order).
struct Parsed {
  AdminOptions admin;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>, std::less<>> values;

  bool Has(std::string_view name) const { return values.count(name) > 0; }
  std::string Get(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? std::string() : it->second.front();
  }
  std::vector<std::string> GetAll(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>() : it->second;
  }
};

// ParseArgs reads |args| against |options| and exactly |positionals| positional arguments
// (named in |positional_names| for the message). Returns 0, or the exit code of a usage error
// (already reported).
int ParseArgs(std::string_view command, const Args& args, std::initializer_list<Option> options,
              size_t positionals, std::string_view positional_names, Parsed* out) {
  ArgParser p(args);
  while (p.Next()) {
    bool ok = true;
    if (out->admin.Take(p, &ok)) {
      if (!ok) {
        return 2;
      }
      continue;
    }
    if (!p.IsOption()) {
      out->positional.emplace_back(p.current());
      continue;
    }
    const Option* match = nullptr;
    for (const Option& option : options) {
      if (p.Is(option.name)) {
        match = &option;
      }
    }
    if (match == nullptr) {
      return Usage(command, absl::StrCat("unknown option \"", std::string(p.current()), "\""));
    }
    std::string value;
    if (!p.Value(&value)) {
      return 2;
    }
    std::vector<std::string>& values = out->values[std::string(match->name)];
    if (!values.empty() && !match->repeatable) {
      return Usage(command, absl::StrCat(std::string(match->name), " is given twice"));
    }
    values.push_back(std::move(value));
  }
  if (out->positional.size() != positionals) {
    return Usage(command,
                 positionals == 0
                     ? absl::StrCat("unexpected argument \"", out->positional.front(), "\"")
                     : absl::StrCat("expected ", std::string(positional_names)));
  }
  return 0;
}

// ServerError is what to show of a failed answer: the "error" (and "error_description") of a
// JSON body, else the body itself, cut short.
std::string ServerError(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      root.get_object().get(object) == simdjson::SUCCESS) {
    std::string_view error;
    std::string_view description;
    if (object["error"].get_string().get(error) == simdjson::SUCCESS) {
      std::string out(error);
      if (object["error_description"].get_string().get(description) == simdjson::SUCCESS &&
          !description.empty()) {
        absl::StrAppend(&out, ": ", ToAbsl(description));
      }
      return out;
    }
  }
  std::string text = body.substr(0, kMaxShownErrorBytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text.empty() ? std::string("(no message)") : text;
}

// HasStringMember reports whether |body| is a JSON object with the string member |name|.
bool HasStringMember(const std::string& body, std::string_view name) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object object;
  std::string_view value;
  return parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
         root.get_object().get(object) == simdjson::SUCCESS &&
         object[name].get_string().get(value) == simdjson::SUCCESS;
}

// CallAdmin sends |method| |path| (with |body| when not null) to the admin listener and reports
// the answer: its body on stdout and 0 for a 2xx status, the server's error and 1 otherwise.
// |*answer| receives the answer when not null.
int CallAdmin(std::string_view command, AdminOptions options, std::string_view method,
              const std::string& path, const std::string* body, HttpAnswer* answer = nullptr,
              bool quiet = false) {
  options.Resolve();
  AdminEndpoint endpoint;
  std::string error;
  if (!ParseAdminUrl(options.admin, &endpoint, &error)) {
    return Usage(command, absl::StrCat("--admin ", options.admin, ": ", error));
  }
  std::string token;
  if (!ReadAdminToken(options.token_file, &token)) {
    return 1;
  }
  std::string request = AdminRequest(method, endpoint, path, token, body);
  HttpAnswer local;
  HttpAnswer& got = answer != nullptr ? *answer : local;
  const bool exchanged = Exchange(endpoint, request, &got, &error);
  // The request holds the admin token and maybe a password.
  OPENSSL_cleanse(request.data(), request.size());
  OPENSSL_cleanse(token.data(), token.size());
  if (!exchanged) {
    const bool unreachable = error.rfind("cannot connect", 0) == 0;
    return Fail(absl::StrCat(std::string(command), ": ", error, " at ", options.admin,
                             unreachable ? absl::StrCat(" (is `ringward serve` running with an "
                                                        "[admin] listener? --admin or $",
                                                        kAdminUrlEnv, " says where it is)")
                                         : std::string()));
  }
  if (got.status < 200 || got.status > 299) {
    return Fail(absl::StrCat(std::string(command), " failed: HTTP ", got.status, ": ",
                             ServerError(got.body)));
  }
  if (quiet) {
    return 0;
  }
  std::fwrite(got.body.data(), 1, got.body.size(), stdout);
  if (!got.body.empty() && got.body.back() != '\n') {
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return 0;
}

// AppendStringArray appends |values| as a JSON array of strings.
void AppendStringArray(std::string* out, const std::vector<std::string>& values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    json::AppendJsonString(out, values[i]);
  }
  out->push_back(']');
}

// NormalizeScope turns "a  b " into "a b": the scope parameter is space-delimited (RFC 6749
// §3.3), and a shell quote makes stray spaces easy.
std::string NormalizeScope(std::string_view scope) {
  std::string out;
  size_t i = 0;
  while (i < scope.size()) {
    while (i < scope.size() && (scope[i] == ' ' || scope[i] == '\t')) {
      ++i;
    }
    size_t end = i;
    while (end < scope.size() && scope[end] != ' ' && scope[end] != '\t') {
      ++end;
    }
    if (end > i) {
      if (!out.empty()) {
        out.push_back(' ');
      }
      out.append(scope.substr(i, end - i));
    }
    i = end;
  }
  return out;
}

// EchoOff turns off the terminal's echo on stdin for its lifetime (for a typed password).
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~EchoOff() {
    if (active_) {
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
      std::fputc('\n', stderr);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// ReadLineFromStdin reads one line (without its line end); false at end of input.
bool ReadLineFromStdin(std::string* line) {
  if (!std::getline(std::cin, *line)) {
    return false;
  }
  if (!line->empty() && line->back() == '\r') {
    line->pop_back();
  }
  return true;
}

// ReadPassword reads a password from |file|, or from stdin when |file| is empty: one line, its
// line end removed. On a terminal it asks twice, without echo. Returns 0 or the exit code of
// the problem (reported).
int ReadPassword(std::string_view command, const std::string& file, const std::string& user,
                 std::string* password) {
  if (!file.empty()) {
    std::string text;
    if (!ReadFile(file, &text)) {
      return 1;
    }
    if (!text.empty() && text.back() == '\n') {
      text.pop_back();
      if (!text.empty() && text.back() == '\r') {
        text.pop_back();
      }
    }
    const bool one_line = text.find('\n') == std::string::npos;
    *password = std::move(text);
    if (!one_line) {
      return Fail(absl::StrCat(std::string(command), ": ", file,
                               " holds more than one line; the password is the whole first and "
                               "only line"));
    }
  } else if (::isatty(STDIN_FILENO) == 1) {
    std::string again;
    {
      std::fprintf(stderr, "Password for %s: ", user.c_str());
      std::fflush(stderr);
      EchoOff quiet;
      if (!ReadLineFromStdin(password)) {
        return Fail(absl::StrCat(std::string(command), ": no password given"));
      }
    }
    {
      std::fprintf(stderr, "Again: ");
      std::fflush(stderr);
      EchoOff quiet;
      ReadLineFromStdin(&again);
    }
    const bool same = again == *password;
    OPENSSL_cleanse(again.data(), again.size());
    if (!same) {
      return Fail(absl::StrCat(std::string(command), ": the two passwords differ"));
    }
  } else if (!ReadLineFromStdin(password)) {
    return Fail(absl::StrCat(std::string(command),
                             ": no password on stdin (give it as one line there, or use "
                             "--password-file FILE)"));
  }
  if (password->empty()) {
    return Fail(absl::StrCat(std::string(command), ": the password is empty"));
  }
  return 0;
}

// --- ringward client ---

int ClientCreate(const Args& args) {
  constexpr std::string_view kCommand = "client create";
  Parsed a;
  if (int code = ParseArgs(kCommand, args,
                           {{"--id"},
                            {"--name"},
                            {"--grant", true},
                            {"--scope"},
                            {"--audience", true},
                            {"--auth-method"},
                            {"--jwks"},
                            {"--ttl"}},
                           0, "", &a);
      code != 0) {
    return code;
  }
  std::vector<std::string> grants = a.GetAll("--grant");
  if (grants.empty()) {
    grants.push_back("client_credentials");
  }
  for (std::string& grant : grants) {
    if (grant == "token-exchange") {
      grant = std::string(kTokenExchangeGrant);
    }
  }
  std::string auth_method = a.Get("--auth-method");
  if (a.Has("--jwks") && auth_method.empty()) {
    auth_method = "private_key_jwt";
  }
  if (!auth_method.empty() && auth_method != "client_secret_basic" &&
      auth_method != "client_secret_post" && auth_method != "private_key_jwt") {
    return Usage(kCommand,
                 "--auth-method takes client_secret_basic, client_secret_post or private_key_jwt");
  }
  if (auth_method == "private_key_jwt" && !a.Has("--jwks")) {
    return Usage(kCommand,
                 "--auth-method private_key_jwt needs --jwks FILE (the client's public "
                 "keys)");
  }
  if (a.Has("--jwks") && auth_method != "private_key_jwt") {
    return Usage(kCommand, "--jwks goes with --auth-method private_key_jwt");
  }
  std::string jwks;
  if (a.Has("--jwks")) {
    const std::string file = a.Get("--jwks");
    if (!ReadFile(file, &jwks)) {
      return 1;
    }
    const size_t begin = jwks.find_first_not_of(" \t\r\n");
    const size_t end = jwks.find_last_not_of(" \t\r\n");
    jwks = begin == std::string::npos ? std::string() : jwks.substr(begin, end - begin + 1);
    simdjson::ondemand::parser parser;
    if (jwks.empty() || jwks.front() != '{' || !json::ValidateStrict(parser, jwks).ok()) {
      return Fail(absl::StrCat(std::string(kCommand), ": ", file,
                               " is not a JSON object (a JWKS: {\"keys\":[...]})"));
    }
  }
  int64_t ttl = 0;
  if (a.Has("--ttl") && (!absl::SimpleAtoi(a.Get("--ttl"), &ttl) || ttl <= 0)) {
    return Usage(kCommand, "--ttl takes the access token lifetime in seconds (> 0)");
  }

  std::string body = "{";
  if (a.Has("--id")) {
    body.append("\"client_id\":");
    json::AppendJsonString(&body, a.Get("--id"));
    body.push_back(',');
  }
  if (a.Has("--name")) {
    body.append("\"name\":");
    json::AppendJsonString(&body, a.Get("--name"));
    body.push_back(',');
  }
  body.append("\"grant_types\":");
  AppendStringArray(&body, grants);
  body.append(",\"scope\":");
  json::AppendJsonString(&body, NormalizeScope(a.Get("--scope")));
  body.append(",\"audiences\":");
  AppendStringArray(&body, a.GetAll("--audience"));
  if (!auth_method.empty()) {
    body.append(",\"token_endpoint_auth_method\":");
    json::AppendJsonString(&body, auth_method);
  }
  if (!jwks.empty()) {
    absl::StrAppend(&body, ",\"jwks\":", jwks);
  }
  if (ttl > 0) {
    absl::StrAppend(&body, ",\"access_token_ttl_s\":", ttl);
  }
  body.push_back('}');

  HttpAnswer answer;
  const int code = CallAdmin(kCommand, a.admin, "POST", "/admin/clients", &body, &answer);
  if (code == 0 && HasStringMember(answer.body, "client_secret")) {
    std::fprintf(stderr,
                 "ringward: the client_secret above is shown only once: store it now "
                 "(`ringward client rotate-secret ID` makes a new one)\n");
  }
  return code;
}

// ClientById runs the commands that take one client id: show, delete, rotate-secret.
int ClientById(std::string_view verb, const Args& args) {
  const std::string command = absl::StrCat("client ", std::string(verb));
  Parsed a;
  if (int code = ParseArgs(command, args, {}, 1, "one client id", &a); code != 0) {
    return code;
  }
  const std::string path = absl::StrCat("/admin/clients/", PercentEncodeSegment(a.positional[0]));
  if (verb == "show") {
    return CallAdmin(command, a.admin, "GET", path, nullptr);
  }
  if (verb == "delete") {
    return CallAdmin(command, a.admin, "DELETE", path, nullptr);
  }
  const std::string body = "{\"rotate_secret\":true}";
  HttpAnswer answer;
  const int code = CallAdmin(command, a.admin, "PATCH", path, &body, &answer);
  if (code == 0 && HasStringMember(answer.body, "client_secret")) {
    std::fprintf(stderr,
                 "ringward: the new client_secret above is shown only once: store it now (the "
                 "old one no longer works)\n");
  }
  return code;
}

// --- ringward user ---

int UserWithPassword(std::string_view verb, const Args& args) {
  const bool create = verb == "create";
  const std::string command = absl::StrCat("user ", std::string(verb));
  Parsed a;
  int code =
      create ? ParseArgs(command, args, {{"--scope"}, {"--password-file"}}, 1, "one user name", &a)
             : ParseArgs(command, args, {{"--password-file"}}, 1, "one user name", &a);
  if (code != 0) {
    return code;
  }
  const std::string& user = a.positional[0];
  std::string password;
  code = ReadPassword(command, a.Get("--password-file"), user, &password);
  if (code != 0) {
    OPENSSL_cleanse(password.data(), password.size());
    return code;
  }
  std::string body;
  std::string path;
  if (create) {
    body = "{\"username\":";
    json::AppendJsonString(&body, user);
    body.append(",\"password\":");
    json::AppendJsonString(&body, password);
    body.append(",\"scope\":");
    json::AppendJsonString(&body, NormalizeScope(a.Get("--scope")));
    body.push_back('}');
    path = "/admin/users";
  } else {
    body = "{\"password\":";
    json::AppendJsonString(&body, password);
    body.push_back('}');
    path = absl::StrCat("/admin/users/", PercentEncodeSegment(user), "/password");
  }
  OPENSSL_cleanse(password.data(), password.size());
  code = CallAdmin(command, a.admin, create ? "POST" : "PUT", path, &body);
  OPENSSL_cleanse(body.data(), body.size());
  return code;
}

}  // namespace

int RunClient(const Args& args) {
  constexpr std::string_view kCommand = "client";
  constexpr std::string_view kVerbs =
      "use `ringward client create|list|show ID|delete ID|rotate-secret ID`";
  if (args.empty()) {
    return Usage(kCommand, kVerbs);
  }
  const std::string_view verb = args[0];
  const Args rest(args.begin() + 1, args.end());
  if (verb == "create") {
    return ClientCreate(rest);
  }
  if (verb == "list") {
    Parsed a;
    if (int code = ParseArgs("client list", rest, {}, 0, "", &a); code != 0) {
      return code;
    }
    return CallAdmin("client list", a.admin, "GET", "/admin/clients", nullptr);
  }
  if (verb == "show" || verb == "delete" || verb == "rotate-secret") {
    return ClientById(verb, rest);
  }
  return Usage(kCommand,
               absl::StrCat("unknown command \"", std::string(verb), "\"; ", std::string(kVerbs)));
}

int RunUser(const Args& args) {
  constexpr std::string_view kCommand = "user";
  constexpr std::string_view kVerbs =
      "use `ringward user create NAME|set-password NAME|delete NAME|list|totp NAME|unlock NAME`";
  if (args.empty()) {
    return Usage(kCommand, kVerbs);
  }
  const std::string_view verb = args[0];
  const Args rest(args.begin() + 1, args.end());
  if (verb == "create" || verb == "set-password") {
    return UserWithPassword(verb, rest);
  }
  const std::string command = absl::StrCat("user ", std::string(verb));
  Parsed a;
  if (verb == "list") {
    if (int code = ParseArgs(command, rest, {}, 0, "", &a); code != 0) {
      return code;
    }
    return CallAdmin(command, a.admin, "GET", "/admin/users", nullptr);
  }
  if (verb == "delete" || verb == "totp" || verb == "unlock") {
    if (int code = ParseArgs(command, rest, {}, 1, "one user name", &a); code != 0) {
      return code;
    }
    std::string path = absl::StrCat("/admin/users/", PercentEncodeSegment(a.positional[0]));
    if (verb == "delete") {
      return CallAdmin(command, a.admin, "DELETE", path, nullptr);
    }
    absl::StrAppend(&path, "/", std::string(verb));
    return CallAdmin(command, a.admin, "POST", path, nullptr);
  }
  return Usage(kCommand,
               absl::StrCat("unknown command \"", std::string(verb), "\"; ", std::string(kVerbs)));
}

int RunKeys(const Args& args) {
  constexpr std::string_view kCommand = "keys";
  constexpr std::string_view kVerbs = "use `ringward keys list|rotate`";
  if (args.empty()) {
    return Usage(kCommand, kVerbs);
  }
  const std::string_view verb = args[0];
  const Args rest(args.begin() + 1, args.end());
  if (verb != "list" && verb != "rotate") {
    return Usage(kCommand, absl::StrCat("unknown command \"", std::string(verb), "\"; ",
                                        std::string(kVerbs)));
  }
  const std::string command = absl::StrCat("keys ", std::string(verb));
  Parsed a;
  if (int code = ParseArgs(command, rest, {}, 0, "", &a); code != 0) {
    return code;
  }
  if (verb == "list") {
    return CallAdmin(command, a.admin, "GET", "/admin/keys", nullptr);
  }
  return CallAdmin(command, a.admin, "POST", "/admin/keys/rotate", nullptr);
}

}  // namespace ringward::cli

namespace ringward::cli {

int RunPromote(const Args& args) {
  constexpr std::string_view kCommand = "promote";
  Parsed a;
  if (int code = ParseArgs(std::string(kCommand), args, {}, 0, "", &a); code != 0) {
    return code;
  }
  HttpAnswer answer;
  if (int code = CallAdmin(kCommand, a.admin, "POST", "/admin/promote", nullptr, &answer);
      code != 0) {
    return code;
  }
  // The server stops its replication stream on its main thread; wait until it says "leader".
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpAnswer status;
    if (CallAdmin(kCommand, a.admin, "GET", "/admin/replication", nullptr, &status,
                  /*quiet=*/true) == 0 &&
        status.body.find("\"role\":\"leader\"") != std::string::npos) {
      std::fputs("promoted: this node is now the leader\n", stdout);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Fail("promote: the node did not report role \"leader\" within 10 s; see its log and "
              "GET /admin/replication");
}

}  // namespace ringward::cli
