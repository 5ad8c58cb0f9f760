// issuance/trusted_issuer.cc: see trusted_issuer.h.
#include "issuance/trusted_issuer.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "issuance/jwks_fetcher.h"
#include "ringward/base/strings.h"
#include "ringward/token/algorithm.h"

namespace ringward::issuance {
namespace {

// LogValue quotes |value| for a logfmt line ('"' and '\' escaped, control characters blanked).
std::string LogValue(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else {
      out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    }
  }
  out.push_back('"');
  return out;
}

// CheckFetchedKeys refuses what a JWKS served over the network must not hold: a symmetric key
// (anyone who can read the set could sign with it) or a private key (the provider leaked it).
absl::Status CheckFetchedKeys(const token::KeySet& keys) {
  for (const std::unique_ptr<token::Key>& key : keys.keys()) {
    if (key->alg() == token::Algorithm::kHS256) {
      return absl::InvalidArgumentError(
          absl::StrCat("the JWKS holds a symmetric (oct) key, kid ", key->kid(),
                       ": a published key set must hold public keys only"));
    }
    if (key->has_private()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the JWKS holds the private part of kid ", key->kid(), ": refused (it is public)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

TrustedIssuer::TrustedIssuer(TrustedIssuerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<TrustedIssuer>> TrustedIssuer::Create(
    TrustedIssuerOptions options) {
  std::unique_ptr<TrustedIssuer> issuer(new TrustedIssuer(std::move(options)));
  const config::TrustedIssuerConfig& t = issuer->options_.config;
  token::KeySet keys;
  if (!issuer->remote()) {
    absl::StatusOr<token::KeySet> read = token::KeySet::FromFile(t.jwks);
    if (!read.ok()) {
      return read.status();
    }
    keys = *std::move(read);
  } else if (!issuer->options_.fetch) {
    const std::string ca_file = t.ca_file.empty() ? config::kSystemCaBundle : t.ca_file;
    const int cancel_fd = issuer->options_.cancel_fd;
    issuer->options_.fetch = [ca_file, cancel_fd](const std::string& url) {
      JwksFetchOptions fetch;
      fetch.ca_file = ca_file;
      fetch.cancel_fd = cancel_fd;
      return FetchJwks(url, fetch);
    };
  }
  absl::StatusOr<std::shared_ptr<const token::Verifier>> verifier =
      issuer->MakeVerifier(std::move(keys));
  if (!verifier.ok()) {
    return verifier.status();
  }
  issuer->verifier_ = *std::move(verifier);
  return issuer;
}

absl::StatusOr<std::shared_ptr<const token::Verifier>> TrustedIssuer::MakeVerifier(
    token::KeySet keys) const {
  token::VerifyPolicy policy;
  policy.issuers = {options_.config.issuer};
  policy.audiences = options_.config.audiences;
  policy.leeway_seconds = options_.leeway_s;
  policy.access_token_profile = false;
  // A remote issuer's set is empty until its first fetch: every token is then unknown_key.
  policy.allow_no_keys = remote();
  absl::StatusOr<std::unique_ptr<token::Verifier>> verifier = token::Verifier::Create(
      std::make_shared<const token::KeySet>(std::move(keys)), std::move(policy));
  if (!verifier.ok()) {
    return verifier.status();
  }
  return std::shared_ptr<const token::Verifier>(*std::move(verifier));
}

std::shared_ptr<const token::Verifier> TrustedIssuer::verifier() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verifier_;
}

int64_t TrustedIssuer::NowMs() const {
  if (options_.now_ms) {
    return options_.now_ms();
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TrustedIssuer::Log(int priority, std::string_view line) const {
  if (options_.log) {
    options_.log(priority, line);
  }
}

bool TrustedIssuer::ScheduleRefresh() {
  if (!remote()) {
    return false;
  }
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_ || running_ || (fetched_once_ && now < next_due_ms_)) {
    return false;
  }
  queued_ = true;
  return true;
}

void TrustedIssuer::RunScheduledRefresh() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queued_ || running_) {
      return;  // an unknown-kid refresh took it over
    }
    queued_ = false;
    running_ = true;
  }
  Fetch();
}

bool TrustedIssuer::RefreshForUnknownKid() {
  if (!remote()) {
    return false;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (running_) {
    // Single-flight: the fetch under way is the one this token needs too.
    const uint64_t done = fetches_done_;
    fetched_.wait(lock, [&] { return fetches_done_ != done; });
    return true;
  }
  const int64_t now = NowMs();
  if (fetched_once_ && now - last_fetch_end_ms_ < options_.config.jwks_min_refresh_s * 1000) {
    return false;  // the negative cache: fetched too recently to fetch again
  }
  queued_ = false;  // a queued scheduled fetch is this one now
  running_ = true;
  lock.unlock();
  Fetch();
  return true;
}

void TrustedIssuer::Fetch() {
  const config::TrustedIssuerConfig& t = options_.config;
  absl::StatusOr<std::string> body = options_.fetch(t.jwks_url);
  absl::Status status = body.status();
  std::shared_ptr<const token::Verifier> verifier;
  std::string kids;
  if (status.ok()) {
    absl::StatusOr<token::KeySet> keys = token::KeySet::FromJwks(*body);
    if (!keys.ok()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("GET ", t.jwks_url, ": the body is not a usable JWKS: ",
                       keys.status().message()));
    } else if (absl::Status checked = CheckFetchedKeys(*keys); !checked.ok()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("GET ", t.jwks_url, ": ", checked.message()));
    } else {
      for (const std::unique_ptr<token::Key>& key : keys->keys()) {
        absl::StrAppend(&kids, kids.empty() ? "" : ",", key->kid());
      }
      absl::StatusOr<std::shared_ptr<const token::Verifier>> made =
          MakeVerifier(*std::move(keys));
      if (made.ok()) {
        verifier = *std::move(made);
      } else {
        status = made.status();
      }
    }
  }
  const bool cancelled = absl::IsCancelled(status);
  if (status.ok()) {
    fetches_ok_.fetch_add(1, std::memory_order_relaxed);
  } else if (!cancelled) {
    fetches_failed_.fetch_add(1, std::memory_order_relaxed);
  }
  std::string line;
  int priority = 6;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = NowMs();
    running_ = false;
    ++fetches_done_;
    fetched_once_ = true;
    last_fetch_end_ms_ = now;
    if (status.ok()) {
      verifier_ = std::move(verifier);
      next_due_ms_ = now + t.jwks_refresh_s * 1000;
      if (kids != kids_ || !last_error_.empty()) {
        line = absl::StrCat("event=trusted_jwks_fetch issuer=", LogValue(t.issuer),
                            " url=", LogValue(t.jwks_url), " result=ok kids=", LogValue(kids));
      }
      kids_ = std::move(kids);
      last_error_.clear();
    } else if (!cancelled) {
      // A failed fetch keeps the keys there were; the next try comes sooner than a refresh.
      next_due_ms_ = now + t.jwks_min_refresh_s * 1000;
      const std::string message(status.message());
      if (message != last_error_) {
        priority = 4;
        line = absl::StrCat("event=trusted_jwks_fetch issuer=", LogValue(t.issuer), " url=",
                            LogValue(t.jwks_url), " result=error keys_kept=",
                            kids_.empty() ? "none" : LogValue(kids_), " error=",
                            LogValue(message));
      }
      last_error_ = message;
    }
  }
  fetched_.notify_all();
  if (!line.empty()) {
    Log(priority, line);
  }
}

}  // namespace ringward::issuance
