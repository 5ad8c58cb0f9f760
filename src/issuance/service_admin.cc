// The admin half of IssuanceService: clients, users (with TOTP enrolment) and signing keys,
// each change a log record acknowledged once durable. Bodies are strict JSON objects (unknown
// members are errors, so a typo never silently does nothing); answers are JSON, errors
// {"error": "..."} like the rest of the admin API.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "issuance/password.h"
#include "issuance/secrets.h"
#include "issuance/service.h"
#include "issuance/totp.h"
#include "openssl/rand.h"
#include "ringward/base/json.h"
#include "ringward/base/os.h"
#include "ringward/base/percent.h"
#include "ringward/base/strings.h"
#include "simdjson.h"

namespace ringward::issuance {
namespace {

constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
constexpr size_t kMaxIdBytes = 128;

HttpAnswer Json(int status, std::string body) {
  HttpAnswer a;
  a.status = status;
  a.headers = std::string(kNoStore);
  a.body = std::move(body);
  if (a.body.empty() || a.body.back() != '\n') {
    a.body.push_back('\n');
  }
  return a;
}

HttpAnswer Error(int status, std::string_view message) {
  std::string body = "{\"error\":";
  json::AppendJsonString(&body, message);
  body.push_back('}');
  return Json(status, std::move(body));
}

HttpAnswer NoContent() {
  HttpAnswer a;
  a.status = 204;
  a.headers = std::string(kNoStore);
  return a;
}

HttpAnswer NotAllowed(std::string_view allow) {
  HttpAnswer a = Error(405, "method not allowed");
  absl::StrAppend(&a.headers, "Allow: ", ToAbsl(allow), "\r\n");
  return a;
}

HttpAnswer WriteFailed(const absl::Status& s) {
  HttpAnswer a = Error(503, absl::StrCat("the write-ahead log did not take the change: ",
                                         s.message()));
  a.headers.append("Retry-After: 1\r\n");
  return a;
}

// Split returns the segments of |path| after |prefix| ("/admin/users/bob/totp" -> bob, totp).
bool PathSegments(std::string_view path, std::string_view prefix, std::vector<std::string>* out) {
  out->clear();
  if (path.substr(0, prefix.size()) != prefix) {
    return false;
  }
  std::string_view rest = path.substr(prefix.size());
  while (!rest.empty()) {
    if (rest.front() != '/') {
      return false;
    }
    rest.remove_prefix(1);
    const size_t slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    std::string decoded;
    if (raw.empty() || !PercentDecode(raw, &decoded)) {
      return false;
    }
    out->push_back(std::move(decoded));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  return true;
}

bool IsClientIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-';
}

bool ValidClientId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdBytes && std::all_of(id.begin(), id.end(), IsClientIdChar);
}

bool ValidUsername(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdBytes) {
    return false;
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == ':') {
      return false;
    }
  }
  return true;
}

bool ValidScopeToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E))) {
      return false;
    }
  }
  return true;
}

// Body is a strict JSON object body and the members the endpoint knows.
class Body {
 public:
  absl::Status Parse(std::string_view text, std::initializer_list<std::string_view> known) {
    simdjson::ondemand::parser strict;
    if (absl::Status s = json::ValidateStrict(strict, text); !s.ok()) {
      return s;
    }
    if (dom_.parse(text.data(), text.size()).get(root_) != simdjson::SUCCESS ||
        root_.get_object().get(object_) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("the body must be one JSON object");
    }
    for (auto field : object_) {
      const std::string_view key = field.key;
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown member \"", ToAbsl(key), "\" (known: ",
                         absl::StrJoin(known, ", ", [](std::string* out, std::string_view k) {
                           out->append(k);
                         }),
                         ")"));
      }
    }
    return absl::OkStatus();
  }

  bool Has(std::string_view key) {
    simdjson::dom::element e;
    return object_[key].get(e) == simdjson::SUCCESS;
  }

  absl::Status String(std::string_view key, std::string* out) {
    simdjson::dom::element e;
    if (object_[key].get(e) != simdjson::SUCCESS) {
      return absl::OkStatus();
    }
    std::string_view v;
    if (e.get_string().get(v) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(key), " must be a string"));
    }
    out->assign(v);
    return absl::OkStatus();
  }

  absl::Status Strings(std::string_view key, std::vector<std::string>* out) {
    simdjson::dom::element e;
    if (object_[key].get(e) != simdjson::SUCCESS) {
      return absl::OkStatus();
    }
    simdjson::dom::array array;
    if (e.get_array().get(array) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(key), " must be an array of strings"));
    }
    out->clear();
    for (simdjson::dom::element item : array) {
      std::string_view v;
      if (item.get_string().get(v) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat(ToAbsl(key), " must be an array of strings"));
      }
      if (std::find(out->begin(), out->end(), v) == out->end()) {
        out->emplace_back(v);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int64_t* out) {
    simdjson::dom::element e;
    if (object_[key].get(e) != simdjson::SUCCESS) {
      return absl::OkStatus();
    }
    if (e.get_int64().get(*out) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(key), " must be an integer"));
    }
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool* out) {
    simdjson::dom::element e;
    if (object_[key].get(e) != simdjson::SUCCESS) {
      return absl::OkStatus();
    }
    if (e.get_bool().get(*out) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(key), " must be true or false"));
    }
    return absl::OkStatus();
  }

  // Raw returns a member's JSON text (minified), or "" when absent.
  std::string Raw(std::string_view key) {
    simdjson::dom::element e;
    if (object_[key].get(e) != simdjson::SUCCESS) {
      return "";
    }
    return simdjson::minify(e);
  }

 private:
  simdjson::dom::parser dom_;
  simdjson::dom::element root_;
  simdjson::dom::object object_;
};

std::vector<std::string> SplitScopeString(std::string_view scope) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= scope.size()) {
    const size_t space = scope.find(' ', start);
    const std::string_view item =
        scope.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) {
      out.emplace_back(item);
    }
    if (space == std::string_view::npos) {
      break;
    }
    start = space + 1;
  }
  return out;
}

absl::Status CheckScopes(const std::vector<std::string>& scopes) {
  for (const std::string& s : scopes) {
    if (!ValidScopeToken(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scope \"", s, "\" is not a valid scope token (RFC 6749 §3.3)"));
    }
  }
  return absl::OkStatus();
}

constexpr std::string_view kGrantTypes[] = {"client_credentials", "password", "refresh_token",
                                             "urn:ietf:params:oauth:grant-type:token-exchange"};
constexpr std::string_view kAuthMethods[] = {"client_secret_basic", "client_secret_post",
                                              "private_key_jwt"};

// ReadClient applies the members of |body| to |*client| (create or PATCH).
absl::Status ReadClient(Body& body, Client* client) {
  if (absl::Status s = body.String("name", &client->name); !s.ok()) {
    return s;
  }
  if (client->name.size() > 256) {
    return absl::InvalidArgumentError("name is longer than 256 bytes");
  }
  if (absl::Status s = body.Strings("grant_types", &client->grant_types); !s.ok()) {
    return s;
  }
  for (const std::string& g : client->grant_types) {
    if (std::find(std::begin(kGrantTypes), std::end(kGrantTypes), g) == std::end(kGrantTypes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "grant type \"", g,
          "\" is not supported (client_credentials, password, refresh_token, "
          "urn:ietf:params:oauth:grant-type:token-exchange)"));
    }
  }
  if (body.Has("scope")) {
    std::string scope;
    if (absl::Status s = body.String("scope", &scope); !s.ok()) {
      return s;
    }
    client->scopes = SplitScopeString(scope);
    if (absl::Status s = CheckScopes(client->scopes); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = body.Strings("audiences", &client->audiences); !s.ok()) {
    return s;
  }
  if (absl::Status s = body.String("token_endpoint_auth_method", &client->auth_method); !s.ok()) {
    return s;
  }
  if (std::find(std::begin(kAuthMethods), std::end(kAuthMethods), client->auth_method) ==
      std::end(kAuthMethods)) {
    return absl::InvalidArgumentError(
        "token_endpoint_auth_method must be client_secret_basic, client_secret_post or "
        "private_key_jwt");
  }
  if (absl::Status s = body.Int("access_token_ttl_s", &client->ttl); !s.ok()) {
    return s;
  }
  if (client->ttl != 0 && (client->ttl < 60 || client->ttl > 86400)) {
    return absl::InvalidArgumentError("access_token_ttl_s must be 0 (the default) or 60..86400");
  }
  if (body.Has("jwks")) {
    const std::string raw = body.Raw("jwks");
    absl::StatusOr<token::KeySet> keys = token::KeySet::FromJwks(raw);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("jwks: ", keys.status().message()));
    }
    client->jwks = keys->ToJwks(/*include_private=*/false);
  }
  if (client->auth_method == "private_key_jwt" && client->jwks.empty()) {
    return absl::InvalidArgumentError("private_key_jwt needs the client's public keys as jwks");
  }
  return absl::OkStatus();
}

// WithSecret puts "client_secret" first into a client's JSON object.
std::string WithSecret(const std::string& client_json, const std::string& secret) {
  std::string out = "{\"client_secret\":";
  json::AppendJsonString(&out, secret);
  if (client_json.size() > 2) {
    out.push_back(',');
  }
  out.append(client_json, 1, std::string::npos);
  return out;
}

}  // namespace

HttpAnswer IssuanceService::AdminClients(const HttpCall& call) {
  std::vector<std::string> segments;
  if (!PathSegments(call.path, "/admin/clients", &segments) || segments.size() > 1) {
    return Error(404, "not found");
  }
  const int64_t now = UnixNow();
  if (segments.empty()) {
    if (call.method == "GET" || call.method == "HEAD") {
      std::lock_guard<std::mutex> lock(mu_);
      std::string body = "{\"clients\":[";
      bool first = true;
      for (const Client* c : store_.Clients()) {
        if (!first) {
          body.push_back(',');
        }
        first = false;
        body.append(ClientJson(*c));
      }
      body.append("]}");
      return Json(200, std::move(body));
    }
    if (call.method != "POST") {
      return NotAllowed("GET, HEAD, POST");
    }
    Body body;
    if (absl::Status s = body.Parse(call.body, {"client_id", "name", "grant_types", "scope",
                                                "audiences", "token_endpoint_auth_method",
                                                "access_token_ttl_s", "jwks"});
        !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    Client client;
    client.grant_types = {"client_credentials"};
    if (absl::Status s = body.String("client_id", &client.client_id); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (client.client_id.empty()) {
      client.client_id = RandomToken(12);
    }
    if (!ValidClientId(client.client_id)) {
      return Error(400, "client_id must be 1..128 characters of A-Z a-z 0-9 . _ ~ -");
    }
    if (absl::Status s = ReadClient(body, &client); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    client.created_at = now;
    std::string secret;
    if (client.auth_method != "private_key_jwt") {
      secret = RandomToken(32);
      client.secret_hash = Sha256B64(secret);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (store_.FindClient(client.client_id) != nullptr) {
      return Error(409, absl::StrCat("client ", client.client_id, " already exists"));
    }
    const std::string view = ClientJson(client);
    if (absl::Status s = Write(lock, {ClientPutRecord(client)}); !s.ok()) {
      return WriteFailed(s);
    }
    HttpAnswer a = Json(201, secret.empty() ? view : WithSecret(view, secret));
    absl::StrAppend(&a.headers, "Location: /admin/clients/", client.client_id, "\r\n");
    return a;
  }
  const std::string& id = segments[0];
  std::unique_lock<std::mutex> lock(mu_);
  const Client* existing = store_.FindClient(id);
  if (existing == nullptr) {
    return Error(404, absl::StrCat("no client ", id));
  }
  if (call.method == "GET" || call.method == "HEAD") {
    return Json(200, ClientJson(*existing));
  }
  if (call.method == "DELETE") {
    if (absl::Status s = Write(lock, {ClientDeleteRecord(id)}); !s.ok()) {
      return WriteFailed(s);
    }
    return NoContent();
  }
  if (call.method != "PATCH") {
    return NotAllowed("GET, HEAD, PATCH, DELETE");
  }
  Body body;
  if (absl::Status s = body.Parse(call.body, {"name", "grant_types", "scope", "audiences",
                                              "token_endpoint_auth_method", "access_token_ttl_s",
                                              "jwks", "rotate_secret"});
      !s.ok()) {
    return Error(400, ToStd(s.message()));
  }
  Client client = *existing;
  if (absl::Status s = ReadClient(body, &client); !s.ok()) {
    return Error(400, ToStd(s.message()));
  }
  bool rotate = false;
  if (absl::Status s = body.Bool("rotate_secret", &rotate); !s.ok()) {
    return Error(400, ToStd(s.message()));
  }
  std::string secret;
  if (client.auth_method == "private_key_jwt") {
    client.secret_hash.clear();
  } else if (rotate || client.secret_hash.empty()) {
    secret = RandomToken(32);
    client.secret_hash = Sha256B64(secret);
  }
  const std::string view = ClientJson(client);
  if (absl::Status s = Write(lock, {ClientPutRecord(client)}); !s.ok()) {
    return WriteFailed(s);
  }
  return Json(200, secret.empty() ? view : WithSecret(view, secret));
}

HttpAnswer IssuanceService::AdminUsers(const HttpCall& call) {
  std::vector<std::string> segments;
  if (!PathSegments(call.path, "/admin/users", &segments) || segments.size() > 2) {
    return Error(404, "not found");
  }
  const int64_t now = UnixNow();
  Argon2Params params;
  params.memory_kib = options_.config.argon2_memory_kib;
  params.iterations = options_.config.argon2_iterations;
  params.parallelism = options_.config.argon2_parallelism;
  if (segments.empty()) {
    if (call.method == "GET" || call.method == "HEAD") {
      std::lock_guard<std::mutex> lock(mu_);
      std::string body = "{\"users\":[";
      bool first = true;
      for (const User* u : store_.Users()) {
        if (!first) {
          body.push_back(',');
        }
        first = false;
        const UserAttempts attempts = store_.Attempts(u->username);
        body.append(UserJson(*u, &attempts));
      }
      body.append("]}");
      return Json(200, std::move(body));
    }
    if (call.method != "POST") {
      return NotAllowed("GET, HEAD, POST");
    }
    Body body;
    if (absl::Status s = body.Parse(call.body, {"username", "password", "scope"}); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    User user;
    std::string password;
    std::string scope;
    if (absl::Status s = body.String("username", &user.username); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (absl::Status s = body.String("password", &password); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (absl::Status s = body.String("scope", &scope); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (!ValidUsername(user.username)) {
      return Error(400, "username must be 1..128 printable ASCII characters without spaces or ':'");
    }
    user.scopes = SplitScopeString(scope);
    if (absl::Status s = CheckScopes(user.scopes); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    absl::StatusOr<std::string> hash = HashPassword(password, params);
    if (!hash.ok()) {
      return Error(400, ToStd(hash.status().message()));
    }
    user.password_hash = *std::move(hash);
    user.created_at = now;
    std::unique_lock<std::mutex> lock(mu_);
    if (store_.FindUser(user.username) != nullptr) {
      return Error(409, absl::StrCat("user ", user.username, " already exists"));
    }
    const std::string view = UserJson(user, nullptr);
    if (absl::Status s = Write(lock, {UserPutRecord(user)}); !s.ok()) {
      return WriteFailed(s);
    }
    HttpAnswer a = Json(201, view);
    absl::StrAppend(&a.headers, "Location: /admin/users/", user.username, "\r\n");
    return a;
  }
  const std::string& name = segments[0];
  const std::string action = segments.size() == 2 ? segments[1] : "";
  // The password is hashed before taking the lock: argon2id takes tens of milliseconds.
  std::string new_hash;
  if (action == "password") {
    if (call.method != "PUT") {
      return NotAllowed("PUT");
    }
    Body body;
    std::string password;
    if (absl::Status s = body.Parse(call.body, {"password"}); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (absl::Status s = body.String("password", &password); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    absl::StatusOr<std::string> hash = HashPassword(password, params);
    if (!hash.ok()) {
      return Error(400, ToStd(hash.status().message()));
    }
    new_hash = *std::move(hash);
  }
  std::unique_lock<std::mutex> lock(mu_);
  const User* existing = store_.FindUser(name);
  if (existing == nullptr) {
    return Error(404, absl::StrCat("no user ", name));
  }
  User user = *existing;
  if (action.empty()) {
    if (call.method == "GET" || call.method == "HEAD") {
      const UserAttempts attempts = store_.Attempts(name);
      return Json(200, UserJson(user, &attempts));
    }
    if (call.method == "DELETE") {
      if (absl::Status s = Write(lock, {UserDeleteRecord(name)}); !s.ok()) {
        return WriteFailed(s);
      }
      return NoContent();
    }
    if (call.method != "PATCH") {
      return NotAllowed("GET, HEAD, PATCH, DELETE");
    }
    Body body;
    std::string scope;
    if (absl::Status s = body.Parse(call.body, {"scope"}); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    if (absl::Status s = body.String("scope", &scope); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    user.scopes = SplitScopeString(scope);
    if (absl::Status s = CheckScopes(user.scopes); !s.ok()) {
      return Error(400, ToStd(s.message()));
    }
    const UserAttempts attempts = store_.Attempts(name);
    const std::string view = UserJson(user, &attempts);
    if (absl::Status s = Write(lock, {UserPutRecord(user)}); !s.ok()) {
      return WriteFailed(s);
    }
    return Json(200, view);
  }
  if (action == "password") {
    user.password_hash = std::move(new_hash);
    // A new password also lifts a lock-out: the operator has dealt with the account.
    if (absl::Status s = Write(lock, {UserPutRecord(user), UserAttemptsRecord({name, 0, 0, 0})});
        !s.ok()) {
      return WriteFailed(s);
    }
    return NoContent();
  }
  if (action == "unlock") {
    if (call.method != "POST") {
      return NotAllowed("POST");
    }
    if (absl::Status s = Write(lock, {UserAttemptsRecord({name, 0, 0, 0})}); !s.ok()) {
      return WriteFailed(s);
    }
    return NoContent();
  }
  if (action == "totp") {
    if (call.method == "DELETE") {
      user.totp_secret.clear();
      if (absl::Status s = Write(lock, {UserPutRecord(user)}); !s.ok()) {
        return WriteFailed(s);
      }
      return NoContent();
    }
    if (call.method != "POST") {
      return NotAllowed("POST, DELETE");
    }
    // RFC 4226 §4: a shared secret of at least 128 bits; 160 bits is what SHA-1 wants.
    std::string key(20, '\0');
    RAND_bytes(reinterpret_cast<uint8_t*>(key.data()), key.size());
    user.totp_secret = key;
    const std::string uri = OtpauthUri(options_.config.issuer, name, key);
    if (absl::Status s = Write(lock, {UserPutRecord(user)}); !s.ok()) {
      return WriteFailed(s);
    }
    std::string body = "{\"username\":";
    json::AppendJsonString(&body, name);
    body.append(",\"otpauth_uri\":");
    json::AppendJsonString(&body, uri);
    body.append(",\"secret\":");
    json::AppendJsonString(&body, Base32Encode(key));
    body.append(",\"algorithm\":\"SHA1\",\"digits\":6,\"period\":30}");
    return Json(200, std::move(body));
  }
  return Error(404, "not found");
}

HttpAnswer IssuanceService::AdminKeys(const HttpCall& call) {
  std::vector<std::string> segments;
  if (!PathSegments(call.path, "/admin/keys", &segments) || segments.size() > 1 ||
      (segments.size() == 1 && segments[0] != "rotate")) {
    return Error(404, "not found");
  }
  const int64_t now = UnixNow();
  auto list = [this]() {
    std::string body = "{\"keys\":[";
    bool first = true;
    for (const KeyEntry* k : store_.Keys()) {
      if (k->state == KeyState::kRemoved) {
        continue;
      }
      if (!first) {
        body.push_back(',');
      }
      first = false;
      body.append(KeyJson(*k));
    }
    body.append("]}");
    return body;
  };
  std::unique_lock<std::mutex> lock(mu_);
  if (segments.empty()) {
    if (call.method != "GET" && call.method != "HEAD") {
      return NotAllowed("GET, HEAD");
    }
    return Json(200, list());
  }
  if (call.method != "POST") {
    return NotAllowed("POST");
  }
  std::string active_before;
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state == KeyState::kActive) {
      active_before = k->kid;
    }
  }
  std::string reason;
  if (absl::Status s = EnsureKeys(lock, now, /*forced=*/true, &reason); !s.ok()) {
    return WriteFailed(s);
  }
  std::string active_after;
  for (const KeyEntry* k : store_.Keys()) {
    if (k->state == KeyState::kActive) {
      active_after = k->kid;
    }
  }
  if (active_after == active_before && !reason.empty()) {
    return Error(409, reason);
  }
  return Json(200, list());
}

}  // namespace ringward::issuance
