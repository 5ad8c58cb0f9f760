#include "load/workload.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"
#include "ringward/token/key.h"
#include "ringward/token/signer.h"

namespace ringward::load {
namespace {

// JsonString quotes |s| as a JSON string.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// FormEncode applies application/x-www-form-urlencoded escaping (RFC 6749 §2.3.1 asks for it
// on client ids and secrets before HTTP Basic).
std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '*') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(std::string(option), ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void AppendNumber(std::string* out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

size_t DecimalLength(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

std::string ExtraHeaders(const Options& o) {
  std::string out;
  for (const std::string& h : o.headers) {
    absl::StrAppend(&out, h, "\r\n");
  }
  return out;
}

// ApiPath is the path for verify and bulk: the URL's own path when it names one.
std::string ApiPath(const Url& url) { return url.path == "/" ? "/v1/verify" : url.path; }

absl::Status MintPool(const Options& o, std::vector<std::string>* tokens,
                      std::vector<Expect>* expects, PoolStats* stats) {
  std::unique_ptr<token::Key> owned;
  token::KeySet set;
  const token::Key* key = nullptr;
  if (!o.hmac_secret_path.empty()) {
    absl::StatusOr<std::string> secret = ReadWholeFile(o.hmac_secret_path, "--hmac-secret");
    if (!secret.ok()) {
      return secret.status();
    }
    absl::StatusOr<std::unique_ptr<token::Key>> k = token::Key::FromHmacSecret(*secret, o.kid);
    if (!k.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--hmac-secret ", o.hmac_secret_path, ": ", k.status().message()));
    }
    owned = *std::move(k);
    key = owned.get();
  } else {
    absl::StatusOr<token::KeySet> keys = token::KeySet::FromFile(o.keys_path);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--keys: ", keys.status().message()));
    }
    set = *std::move(keys);
    for (const std::unique_ptr<token::Key>& k : set.keys()) {
      if (k->has_private() && (o.kid.empty() || k->kid() == o.kid)) {
        key = k.get();
        break;
      }
    }
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--keys ", o.keys_path, ": no private key",
          o.kid.empty() ? "" : absl::StrCat(" with kid \"", o.kid, "\""),
          " to sign with (make one with `ringward keygen --alg EdDSA --kid k1 > keys.json`)"));
    }
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const uint32_t n = o.pool;
  const uint32_t n_invalid = static_cast<uint32_t>(o.invalid_share * n + 0.5);
  const uint32_t n_expired = std::min(n - n_invalid, static_cast<uint32_t>(o.expired_share * n + 0.5));
  tokens->reserve(n);
  expects->reserve(n);
  const std::string fixed = absl::StrCat(
      "\"iss\":", JsonString(o.issuer), ",\"aud\":", JsonString(o.audience),
      ",\"client_id\":\"ringward-load\",\"scope\":", JsonString(o.scope));
  for (uint32_t i = 0; i < n; ++i) {
    const bool invalid = i < n_invalid;
    const bool expired = !invalid && i < n_invalid + n_expired;
    const int64_t iat = expired ? now - 2 * 3600 : now;
    const int64_t exp = expired ? now - 3600 : now + o.ttl_s;
    const std::string claims =
        absl::StrCat("{", fixed, ",\"sub\":\"load-user-", i, "\",\"iat\":", iat, ",\"exp\":", exp,
                     ",\"jti\":\"load-", o.seed, "-", i, "\"}");
    absl::StatusOr<std::string> jwt = token::SignCompact(*key, claims, "at+jwt");
    if (!jwt.ok()) {
      return absl::InternalError(absl::StrCat("minting the token pool: ", jwt.status().message()));
    }
    std::string t = *std::move(jwt);
    if (invalid) {
      // Change the signature's first character: it carries six whole bits, so the token stays
      // canonical base64url and only the signature check can refuse it.
      const size_t sig = t.rfind('.') + 1;
      t[sig] = t[sig] == 'A' ? 'B' : 'A';
      ++stats->invalid;
    } else if (expired) {
      ++stats->expired;
    } else {
      ++stats->valid;
    }
    tokens->push_back(std::move(t));
    expects->push_back(invalid || expired ? Expect::kRejected : Expect::kValid);
  }
  // Spread the bad tokens through the pool (seeded, so runs are repeatable).
  SplitMix64 rng{o.seed};
  for (uint32_t i = n; i > 1; --i) {
    const uint32_t j = static_cast<uint32_t>(rng.Next() % i);
    std::swap((*tokens)[i - 1], (*tokens)[j]);
    std::swap((*expects)[i - 1], (*expects)[j]);
  }
  return absl::OkStatus();
}

absl::Status ReadPool(const Options& o, std::vector<std::string>* tokens,
                      std::vector<Expect>* expects, PoolStats* stats) {
  absl::StatusOr<std::string> text = ReadWholeFile(o.tokens_path, "--tokens");
  if (!text.ok()) {
    return text.status();
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    if (line.find_first_of(" \t\r") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tokens ", o.tokens_path, ": a line holds something other than a token"));
    }
    tokens->emplace_back(line);
    expects->push_back(Expect::kUnknown);
    ++stats->from_file;
  }
  if (tokens->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens ", o.tokens_path, ": no tokens"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Workload> Workload::Create(const Options& o) {
  Workload w;
  w.seed_ = o.seed;
  w.batch_ = o.batch;
  w.targets_.push_back(o.url);
  bool needs_pool = false;
  for (const MixEntry& m : o.mix) {
    RequestTemplate t;
    t.name = m.name;
    t.weight = m.weight;
    if (m.name == "static") {
      t.kind = TemplateKind::kStatic;
    } else if (m.name == "verify") {
      t.kind = TemplateKind::kVerify;
      needs_pool = true;
    } else if (m.name == "bulk") {
      t.kind = TemplateKind::kBulk;
      needs_pool = true;
    } else if (m.name == "issue") {
      t.kind = TemplateKind::kIssue;
      if (o.client_id.empty()) {
        return absl::InvalidArgumentError("the issue workload needs --client-id and --client-secret");
      }
    } else {
      t.kind = o.has_admin_url ? TemplateKind::kRevokeAdmin : TemplateKind::kRevokeOAuth;
      if (o.has_admin_url) {
        t.target = 1;
        if (w.targets_.size() == 1) {
          w.targets_.push_back(o.admin_url);
        }
      }
    }
    w.templates_.push_back(std::move(t));
  }
  if (needs_pool) {
    absl::Status s;
    if (!o.tokens_path.empty()) {
      s = ReadPool(o, &w.tokens_, &w.expects_, &w.pool_stats_);
    } else if (!o.keys_path.empty() || !o.hmac_secret_path.empty()) {
      s = MintPool(o, &w.tokens_, &w.expects_, &w.pool_stats_);
    } else {
      s = absl::InvalidArgumentError(
          "verify and bulk need tokens: --keys FILE (a private JWKS), --hmac-secret FILE or "
          "--tokens FILE");
    }
    if (!s.ok()) {
      return s;
    }
  }

  const Url& url = o.url;
  const std::string extra = ExtraHeaders(o);
  const std::string host = absl::StrCat("Host: ", url.host_header, "\r\n");
  w.static_request_ = absl::StrCat("GET ", url.path, " HTTP/1.1\r\n", host, extra, "\r\n");
  w.verify_prefix_ = absl::StrCat("GET ", ApiPath(url), " HTTP/1.1\r\n", host,
                                  "Authorization: Bearer ");
  w.verify_suffix_ = absl::StrCat("\r\n", extra, "\r\n");
  w.bulk_head_prefix_ = absl::StrCat("POST ", ApiPath(url), " HTTP/1.1\r\n", host,
                                     "Content-Type: text/plain\r\nContent-Length: ");
  w.bulk_head_suffix_ = absl::StrCat("\r\n", extra, "\r\n");
  const std::string basic =
      o.client_id.empty()
          ? std::string()
          : absl::StrCat("Authorization: Basic ",
                         absl::Base64Escape(absl::StrCat(FormEncode(o.client_id), ":",
                                                         FormEncode(o.client_secret))),
                         "\r\n");
  std::string issue_body = "grant_type=client_credentials";
  if (!o.scope.empty()) {
    absl::StrAppend(&issue_body, "&scope=", FormEncode(o.scope));
  }
  w.issue_request_ = absl::StrCat(
      "POST /oauth2/token HTTP/1.1\r\n", host, basic,
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ", issue_body.size(),
      "\r\n", extra, "\r\n", issue_body);
  if (o.has_admin_url) {
    const Url& admin = o.admin_url;
    w.revoke_head_prefix_ = absl::StrCat(
        "POST ", admin.path, " HTTP/1.1\r\nHost: ", admin.host_header, "\r\n",
        o.admin_token.empty() ? std::string()
                              : absl::StrCat("Authorization: Bearer ", o.admin_token, "\r\n"),
        "Content-Type: application/json\r\nContent-Length: ");
    // The admin API keeps a jti revocation until the token's exp has passed; these jtis name
    // no real token, so they get the lifetime minted tokens would have.
    const int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() +
                        o.ttl_s;
    w.revoke_body_prefix_ = "{\"jti\":\"";
    w.revoke_body_suffix_ = absl::StrCat("\",\"exp\":", exp, "}");
  } else {
    w.revoke_head_prefix_ = absl::StrCat(
        "POST /oauth2/revoke HTTP/1.1\r\n", host, basic,
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ");
    w.revoke_body_prefix_ = "token=";
    w.revoke_body_suffix_ = "&token_type_hint=access_token";
  }
  w.revoke_head_suffix_ = absl::StrCat("\r\n", extra, "\r\n");
  return w;
}

uint64_t Workload::TargetWeight(int target) const {
  uint64_t sum = 0;
  for (const RequestTemplate& t : templates_) {
    if (target < 0 || t.target == target) {
      sum += t.weight;
    }
  }
  return sum;
}

int Workload::Pick(int target, SplitMix64& rng) const {
  if (templates_.size() == 1) {
    return 0;
  }
  const uint64_t total = TargetWeight(target);
  uint64_t r = rng.Next() % total;
  for (size_t i = 0; i < templates_.size(); ++i) {
    const RequestTemplate& t = templates_[i];
    if (target >= 0 && t.target != target) {
      continue;
    }
    if (r < t.weight) {
      return static_cast<int>(i);
    }
    r -= t.weight;
  }
  return 0;
}

WorkloadCursor Workload::NewCursor(int thread, int threads, uint64_t seed) const {
  WorkloadCursor c;
  c.thread = thread;
  c.rng = SplitMix64{seed * 0x100000001b3ull + static_cast<uint64_t>(thread)};
  if (!tokens_.empty()) {
    c.token_index = tokens_.size() * static_cast<uint64_t>(thread) / static_cast<uint64_t>(threads);
  }
  return c;
}

Expect Workload::Build(int t, WorkloadCursor& cursor, std::string* out) const {
  switch (templates_[static_cast<size_t>(t)].kind) {
    case TemplateKind::kStatic:
      out->append(static_request_);
      return Expect::kSuccess;
    case TemplateKind::kVerify: {
      const size_t i = cursor.token_index++ % tokens_.size();
      out->append(verify_prefix_);
      out->append(tokens_[i]);
      out->append(verify_suffix_);
      return expects_[i];
    }
    case TemplateKind::kBulk: {
      uint64_t body = 0;
      for (int k = 0; k < batch_; ++k) {
        body += tokens_[(cursor.token_index + static_cast<uint64_t>(k)) % tokens_.size()].size() + 1;
      }
      out->append(bulk_head_prefix_);
      AppendNumber(out, body);
      out->append(bulk_head_suffix_);
      for (int k = 0; k < batch_; ++k) {
        out->append(tokens_[cursor.token_index++ % tokens_.size()]);
        out->push_back('\n');
      }
      return Expect::kSuccess;
    }
    case TemplateKind::kIssue:
      out->append(issue_request_);
      return Expect::kSuccess;
    case TemplateKind::kRevokeAdmin:
    case TemplateKind::kRevokeOAuth: {
      // A fresh identifier per revocation: revoking pool tokens would change what verify
      // requests should get, and RFC 7009 answers 200 for tokens it does not know.
      const uint64_t seq = cursor.sequence++;
      static constexpr std::string_view kTag = "ringward-load-";
      const uint64_t body = revoke_body_prefix_.size() + kTag.size() + DecimalLength(seed_) + 1 +
                            DecimalLength(static_cast<uint64_t>(cursor.thread)) + 1 +
                            DecimalLength(seq) + revoke_body_suffix_.size();
      out->append(revoke_head_prefix_);
      AppendNumber(out, body);
      out->append(revoke_head_suffix_);
      out->append(revoke_body_prefix_);
      out->append(kTag);
      AppendNumber(out, seed_);
      out->push_back('-');
      AppendNumber(out, static_cast<uint64_t>(cursor.thread));
      out->push_back('-');
      AppendNumber(out, seq);
      out->append(revoke_body_suffix_);
      return Expect::kSuccess;
    }
  }
  return Expect::kSuccess;
}

}  // namespace ringward::load
