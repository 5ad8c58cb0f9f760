// issuance/trusted_issuer.h: TrustedIssuer, one external identity provider of the token
// exchange (RFC 8693) with the verifier of its tokens; for a provider whose JWKS is at a URL,
// also the refetching of that JWKS: on a schedule (every jwks_refresh_s, or jwks_min_refresh_s
// after a failure) and when a token names a kid the set does not hold, with single-flight and a
// negative cache (DESIGN.md, "refetches remote JWKS on an unknown kid").
//
// Thread-safe. Workers call verifier() while a fetch on another thread swaps in a new one: a
// Verifier is immutable and shared, replaced under a small mutex, so a caller keeps the one it
// loaded (and every view into its keys) for as long as it holds the shared_ptr. A fetched set
// that does not parse, or holds symmetric or private keys, is refused and the previous keys
// stay.
//
// Refreshes, per issuer (state under mu_):
//   - ScheduleRefresh (the control thread) finds a fetch due and marks it queued; its caller
//     then has RunScheduledRefresh run on a worker (never on the control thread: it blocks).
//   - RefreshForUnknownKid (a worker, for a token whose kid is unknown): waits for a fetch that
//     is running instead of starting another (single-flight); takes over a queued one rather
//     than wait for it (it may sit in the worker queue behind the caller); and fetches only
//     when the last fetch ended at least jwks_min_refresh_s ago (the negative cache), so a
//     stream of tokens with made-up kids costs one fetch per interval at most.
// Fetches run on the calling thread, at most one at a time per issuer.
#ifndef RINGWARD_ISSUANCE_TRUSTED_ISSUER_H_
#define RINGWARD_ISSUANCE_TRUSTED_ISSUER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ringward/config/config.h"
#include "ringward/token/verifier.h"

namespace ringward::issuance {

struct TrustedIssuerOptions {
  config::TrustedIssuerConfig config;  // as LoadConfig checked it (ca_file resolved)
  int64_t leeway_s = 30;
  // fetch GETs a URL and returns the body. Empty: FetchJwks verified against config.ca_file
  // (with cancel_fd). Tests put a fake here.
  std::function<absl::StatusOr<std::string>(const std::string& url)> fetch;
  int cancel_fd = -1;  // for the default fetch: see JwksFetchOptions; not owned
  // now_ms is a monotonic clock in milliseconds (steady_clock when empty).
  std::function<int64_t()> now_ms;
  // log receives one logfmt line ("event=trusted_jwks_fetch ...") with a syslog priority
  // (6 info, 4 warning): a fetch that changed the key set, and a failure unless it repeats
  // the previous one. Called on the fetching thread.
  std::function<void(int priority, std::string_view line)> log;
};

class TrustedIssuer {
 public:
  // Create reads a jwks file at once (its error fails the start); a jwks_url issuer starts
  // with no keys, every token refused as unknown_key until the first fetch succeeds.
  static absl::StatusOr<std::unique_ptr<TrustedIssuer>> Create(TrustedIssuerOptions options);
  TrustedIssuer(const TrustedIssuer&) = delete;
  TrustedIssuer& operator=(const TrustedIssuer&) = delete;

  const config::TrustedIssuerConfig& config() const { return options_.config; }
  // remote: the keys come from jwks_url.
  bool remote() const { return !options_.config.jwks_url.empty(); }
  std::shared_ptr<const token::Verifier> verifier() const;

  // ScheduleRefresh returns true (and marks a fetch queued) when this is a remote issuer, no
  // fetch is queued or running, and one is due: the caller must then make RunScheduledRefresh
  // run on a worker. Due at once after Create.
  bool ScheduleRefresh();
  // RunScheduledRefresh fetches, unless RefreshForUnknownKid took the queued fetch over.
  void RunScheduledRefresh();
  // RefreshForUnknownKid is for a token this issuer refused as unknown_key: returns true when
  // a fetch ran (by this caller or one it waited for), so that the token is worth verifying
  // again; false when the negative cache refused (or the issuer is not remote).
  bool RefreshForUnknownKid();

  uint64_t fetches_ok() const { return fetches_ok_.load(std::memory_order_relaxed); }
  uint64_t fetches_failed() const { return fetches_failed_.load(std::memory_order_relaxed); }

 private:
  explicit TrustedIssuer(TrustedIssuerOptions options);
  absl::StatusOr<std::shared_ptr<const token::Verifier>> MakeVerifier(token::KeySet keys) const;
  // Fetch runs one fetch (running_ is set by the caller) and publishes its outcome.
  void Fetch();
  int64_t NowMs() const;
  void Log(int priority, std::string_view line) const;

  TrustedIssuerOptions options_;
  std::atomic<uint64_t> fetches_ok_{0};
  std::atomic<uint64_t> fetches_failed_{0};

  mutable std::mutex mu_;  // everything below
  std::condition_variable fetched_;  // signalled when a fetch ends
  std::shared_ptr<const token::Verifier> verifier_;
  bool queued_ = false;
  bool running_ = false;
  uint64_t fetches_done_ = 0;
  int64_t last_fetch_end_ms_ = 0;
  bool fetched_once_ = false;
  int64_t next_due_ms_ = 0;  // for ScheduleRefresh; 0 with !fetched_once_: at once
  std::string last_error_;   // the previous failure's message, logged once
  std::string kids_;         // the current set's kids, comma-separated, for the log
};

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_TRUSTED_ISSUER_H_
