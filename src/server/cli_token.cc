// The token-level subcommands: keygen, token mint, token verify, token inspect.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "openssl/rand.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "ringward/base/os.h"
#include "ringward/base/strings.h"
#include "ringward/token/jws.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"
#include "ringward/token/verifier.h"
#include "server/cli.h"
#include "simdjson.h"

namespace ringward::cli {

bool ArgParser::Next() {
  if (next_ >= args_.size()) {
    return false;
  }
  current_ = args_[next_++];
  has_inline_value_ = false;
  name_ = current_;
  if (current_.size() > 2 && current_.substr(0, 2) == "--") {
    const size_t eq = current_.find('=');
    if (eq != std::string_view::npos) {
      name_ = current_.substr(0, eq);
      inline_value_ = current_.substr(eq + 1);
      has_inline_value_ = true;
    }
  }
  return true;
}

bool ArgParser::Is(std::string_view name) { return name_ == name; }

bool ArgParser::Value(std::string* out) {
  if (has_inline_value_) {
    *out = std::string(inline_value_);
    return true;
  }
  if (next_ >= args_.size()) {
    std::fprintf(stderr, "ringward: option %.*s needs a value\n", static_cast<int>(name_.size()),
                 name_.data());
    return false;
  }
  *out = std::string(args_[next_++]);
  return true;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ringward: cannot read %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

namespace {

int Usage(std::string_view message) {
  std::fprintf(stderr, "ringward: %.*s (see ringward help)\n", static_cast<int>(message.size()),
               message.data());
  return 2;
}

// ReadTokenArgument returns the token given on the command line, or read from stdin for "-",
// with surrounding whitespace removed.
std::string ReadTokenArgument(std::string_view arg) {
  std::string token;
  if (arg == "-") {
    std::getline(std::cin, token);
  } else {
    token = std::string(arg);
  }
  return std::string(ToStd(absl::StripAsciiWhitespace(token)));
}

absl::StatusOr<token::KeySet> LoadKeys(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("--keys FILE is required");
  }
  return token::KeySet::FromFile(path);
}

}  // namespace

int RunKeygen(const Args& args) {
  ArgParser p(args);
  std::string alg_name = "EdDSA";
  std::string kid;
  while (p.Next()) {
    if (p.Is("--alg")) {
      if (!p.Value(&alg_name)) {
        return 2;
      }
    } else if (p.Is("--kid")) {
      if (!p.Value(&kid)) {
        return 2;
      }
    } else {
      return Usage(absl::StrCat("keygen: unexpected argument \"", std::string(p.current()), "\""));
    }
  }
  const std::optional<token::Algorithm> alg = token::ParseAlgorithm(alg_name);
  if (!alg.has_value()) {
    return Usage(absl::StrCat("keygen: unsupported --alg \"", alg_name,
                              "\"; choose EdDSA, ES256, RS256, PS256 or HS256"));
  }
  absl::StatusOr<std::unique_ptr<token::Key>> key = token::Key::Generate(*alg, kid);
  if (!key.ok()) {
    std::fprintf(stderr, "ringward: keygen: %s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  token::KeySet set;
  (void)set.Add(*std::move(key));
  std::printf("%s\n", set.ToJwks(/*include_private=*/true).c_str());
  return 0;
}

namespace {

// AddMissingClaims appends iat, exp and jti to the claims object text when absent.
absl::StatusOr<std::string> AddMissingClaims(std::string_view claims_json, int64_t now,
                                             int64_t ttl) {
  simdjson::ondemand::parser strict;
  if (absl::Status s = json::ValidateStrict(strict, claims_json); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--claims: ", s.message()));
  }
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  if (dom.parse(claims_json.data(), claims_json.size()).get(root) != simdjson::SUCCESS ||
      !root.is_object()) {
    return absl::InvalidArgumentError("--claims must be a JSON object");
  }
  simdjson::dom::object object = root.get_object().value_unsafe();
  std::string extra;
  auto add = [&](std::string_view name, std::string value) {
    absl::StrAppend(&extra, extra.empty() ? "" : ",", "\"", std::string(name), "\":", value);
  };
  simdjson::dom::element ignored;
  if (object["iat"].get(ignored) != simdjson::SUCCESS) {
    add("iat", absl::StrCat(now));
  }
  if (object["exp"].get(ignored) != simdjson::SUCCESS) {
    add("exp", absl::StrCat(now + ttl));
  }
  if (object["jti"].get(ignored) != simdjson::SUCCESS) {
    uint8_t random[16];
    RAND_bytes(random, sizeof(random));
    add("jti", absl::StrCat("\"",
                            Base64UrlEncode(std::string_view(
                                reinterpret_cast<const char*>(random), sizeof(random))),
                            "\""));
  }
  std::string text(ToStd(absl::StripTrailingAsciiWhitespace(ToAbsl(claims_json))));
  text.pop_back();  // the closing brace, known present: the text is one strict JSON object
  const bool empty_object = object.size() == 0;
  if (!extra.empty()) {
    absl::StrAppend(&text, empty_object ? "" : ",", extra);
  }
  text.push_back('}');
  return text;
}

int RunMint(const Args& args) {
  ArgParser p(args);
  std::string keys_path, claims, kid, ttl_text = "3600", typ = "at+jwt";
  while (p.Next()) {
    bool ok = true;
    if (p.Is("--keys")) {
      ok = p.Value(&keys_path);
    } else if (p.Is("--claims")) {
      ok = p.Value(&claims);
    } else if (p.Is("--kid")) {
      ok = p.Value(&kid);
    } else if (p.Is("--ttl")) {
      ok = p.Value(&ttl_text);
    } else if (p.Is("--typ")) {
      ok = p.Value(&typ);
    } else {
      return Usage(absl::StrCat("token mint: unexpected argument \"", std::string(p.current()), "\""));
    }
    if (!ok) {
      return 2;
    }
  }
  int64_t ttl = 0;
  if (!absl::SimpleAtoi(ttl_text.c_str(), &ttl) || ttl <= 0 || ttl > 10 * 365 * 86400) {
    return Usage("token mint: --ttl must be a positive number of seconds");
  }
  if (claims.empty()) {
    return Usage("token mint: --claims JSON is required");
  }
  absl::StatusOr<token::KeySet> keys = LoadKeys(keys_path);
  if (!keys.ok()) {
    std::fprintf(stderr, "ringward: %s\n", std::string(keys.status().message()).c_str());
    return 1;
  }
  const token::Key* key = nullptr;
  if (!kid.empty()) {
    key = keys->Find(kid);
    if (key == nullptr) {
      std::fprintf(stderr, "ringward: no key with kid \"%s\" in %s\n", kid.c_str(),
                   keys_path.c_str());
      return 1;
    }
  } else {
    for (const auto& k : keys->keys()) {
      if (k->has_private()) {
        if (key != nullptr) {
          std::fprintf(stderr, "ringward: %s holds several private keys; choose one with --kid\n",
                       keys_path.c_str());
          return 1;
        }
        key = k.get();
      }
    }
  }
  if (key == nullptr || !key->has_private()) {
    std::fprintf(stderr, "ringward: %s holds no private key to sign with\n", keys_path.c_str());
    return 1;
  }
  absl::StatusOr<std::string> payload = AddMissingClaims(claims, UnixNow(), ttl);
  if (!payload.ok()) {
    std::fprintf(stderr, "ringward: %s\n", std::string(payload.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::string> jwt = token::SignCompact(*key, *payload, typ);
  if (!jwt.ok()) {
    std::fprintf(stderr, "ringward: %s\n", std::string(jwt.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", jwt->c_str());
  return 0;
}

int RunVerify(const Args& args) {
  ArgParser p(args);
  std::string keys_path, value;
  std::string token_arg;
  bool have_token = false;
  token::VerifyPolicy policy;
  int64_t now = UnixNow();
  while (p.Next()) {
    if (p.Is("--keys")) {
      if (!p.Value(&keys_path)) {
        return 2;
      }
    } else if (p.Is("--issuer")) {
      if (!p.Value(&value)) {
        return 2;
      }
      policy.issuers.push_back(value);
    } else if (p.Is("--audience")) {
      if (!p.Value(&value)) {
        return 2;
      }
      policy.audiences.push_back(value);
    } else if (p.Is("--leeway")) {
      if (!p.Value(&value) || !absl::SimpleAtoi(value, &policy.leeway_seconds)) {
        return Usage("token verify: --leeway takes whole seconds");
      }
    } else if (p.Is("--now")) {
      if (!p.Value(&value) || !absl::SimpleAtoi(value, &now)) {
        return Usage("token verify: --now takes a Unix time in seconds");
      }
    } else if (p.Is("--max-size")) {
      if (!p.Value(&value) || !absl::SimpleAtoi(value, &policy.max_token_size)) {
        return Usage("token verify: --max-size takes a number of bytes");
      }
    } else if (p.Is("--access-token")) {
      policy.access_token_profile = true;
    } else if (!p.IsOption() || p.current() == "-") {
      if (have_token) {
        return Usage("token verify: give exactly one token");
      }
      token_arg = std::string(p.current());
      have_token = true;
    } else {
      return Usage(absl::StrCat("token verify: unknown option \"", std::string(p.current()), "\""));
    }
  }
  if (!have_token) {
    return Usage("token verify: no token given");
  }
  absl::StatusOr<token::KeySet> keys = LoadKeys(keys_path);
  if (!keys.ok()) {
    std::fprintf(stderr, "ringward: %s\n", std::string(keys.status().message()).c_str());
    return 2;
  }
  auto shared = std::make_shared<const token::KeySet>(*std::move(keys));
  absl::StatusOr<std::unique_ptr<token::Verifier>> verifier =
      token::Verifier::Create(shared, policy);
  if (!verifier.ok()) {
    std::fprintf(stderr, "ringward: %s\n", std::string(verifier.status().message()).c_str());
    return 2;
  }
  const std::string jwt = ReadTokenArgument(token_arg);
  token::VerifyScratch scratch;
  token::VerifiedToken verified;
  const token::VerifyReason reason = (*verifier)->Verify(jwt, now, scratch, &verified);
  if (reason != token::VerifyReason::kOk) {
    const std::string_view name = token::VerifyReasonName(reason);
    std::fprintf(stderr, "invalid token: %.*s\n", static_cast<int>(name.size()), name.data());
    return 1;
  }
  std::printf("%.*s\n", static_cast<int>(verified.claims_json.size()), verified.claims_json.data());
  return 0;
}

int RunInspect(const Args& args) {
  if (args.size() != 1) {
    return Usage("token inspect: give exactly one token");
  }
  const std::string jwt = ReadTokenArgument(args[0]);
  token::CompactParts parts;
  if (token::SplitCompact(jwt, &parts) != token::VerifyReason::kOk) {
    std::fprintf(stderr, "ringward: not a JWS compact token (three base64url segments)\n");
    return 1;
  }
  const std::optional<std::string> header = Base64UrlDecode(parts.header_b64);
  const std::optional<std::string> claims = Base64UrlDecode(parts.payload_b64);
  const std::optional<std::string> signature = Base64UrlDecode(parts.signature_b64);
  if (!header || !claims || !signature) {
    std::fprintf(stderr, "ringward: a segment is not canonical base64url\n");
    return 1;
  }
  std::fprintf(stderr, "NOT VERIFIED: decoded only; use `ringward token verify` to check it\n");
  std::printf("{\"verified\":false,\"header\":%s,\"claims\":%s,\"signature_bytes\":%zu}\n",
              header->c_str(), claims->c_str(), signature->size());
  return 0;
}

}  // namespace

int RunToken(const Args& args) {
  if (args.empty()) {
    return Usage("token: expected mint, verify or inspect");
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "mint") {
    return RunMint(rest);
  }
  if (args[0] == "verify") {
    return RunVerify(rest);
  }
  if (args[0] == "inspect") {
    return RunInspect(rest);
  }
  return Usage(absl::StrCat("token: unknown subcommand \"", std::string(args[0]), "\""));
}

}  // namespace ringward::cli
