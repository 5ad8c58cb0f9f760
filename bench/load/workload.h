// bench/load/workload.h: what ringward-load sends: the targets, the weighted request templates
// (verify, bulk, static, issue, revoke) and the token pool behind verify and bulk.
//
// A Workload is built once, before any worker starts, from the Options: it reads the key file
// and mints the pool with ringward's own token core (or reads --tokens), and pre-formats every
// fixed part of every request, so that building a request on the hot path is a few appends
// into the connection's send buffer. Tokens minted to fail (broken signature, expired) carry
// the outcome the server should give them, so the report can count wrong answers.
//
// Thread-safe after Create: workers share one const Workload; everything that changes per
// request (pool position, sequence numbers, random choices) lives in each worker's
// WorkloadCursor.
#ifndef RINGWARD_BENCH_LOAD_WORKLOAD_H_
#define RINGWARD_BENCH_LOAD_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "load/options.h"

namespace ringward::load {

// Expect is what a correct server answers to one request.
enum class Expect : uint8_t {
  kSuccess,   // any 2xx
  kValid,     // a verify of a good token: 2xx
  kRejected,  // a verify of a bad (broken or expired) token: 401
  kUnknown,   // a verify of a token from --tokens: 2xx and 401 are both plausible
};

// IsExpected reports whether |status| is the right answer for |expect|.
inline bool IsExpected(Expect expect, int status) {
  switch (expect) {
    case Expect::kRejected:
      return status == 401;
    case Expect::kUnknown:
      return (status >= 200 && status < 300) || status == 401;
    case Expect::kSuccess:
    case Expect::kValid:
      break;
  }
  return status >= 200 && status < 300;
}

enum class TemplateKind : uint8_t { kStatic, kVerify, kBulk, kIssue, kRevokeAdmin, kRevokeOAuth };

struct RequestTemplate {
  std::string name;  // as in --mix: "verify", "bulk", "static", "issue", "revoke"
  TemplateKind kind = TemplateKind::kStatic;
  uint32_t weight = 1;
  int target = 0;  // index into Workload::targets()
};

// SplitMix64 is a small, fast, seeded generator for the workload's random choices.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// WorkloadCursor is one worker's position in the workload.
struct WorkloadCursor {
  uint64_t token_index = 0;  // next pool token (advances by one per token used)
  uint64_t sequence = 0;     // numbers the revocations this worker sends
  int thread = 0;
  SplitMix64 rng{1};
};

struct PoolStats {
  uint32_t valid = 0;
  uint32_t invalid = 0;  // broken signature
  uint32_t expired = 0;
  uint32_t from_file = 0;
};

class Workload {
 public:
  // Create resolves the templates and targets and builds the token pool (minting takes about
  // 50 µs per EdDSA token, longer for RSA). Errors name the option or file at fault.
  static absl::StatusOr<Workload> Create(const Options& options);

  const std::vector<RequestTemplate>& templates() const { return templates_; }
  const std::vector<Url>& targets() const { return targets_; }
  const PoolStats& pool_stats() const { return pool_stats_; }
  size_t pool_size() const { return tokens_.size(); }
  const std::string& pool_token(size_t i) const { return tokens_[i]; }
  Expect pool_expect(size_t i) const { return expects_[i]; }

  // TargetWeight is the sum of the weights of the templates sent to |target|.
  uint64_t TargetWeight(int target) const;

  // Pick chooses a template by weight among those sent to |target| (-1: among all).
  int Pick(int target, SplitMix64& rng) const;

  // NewCursor returns worker |thread|'s cursor, starting it at its own place in the pool so
  // threads do not walk the pool in lockstep.
  WorkloadCursor NewCursor(int thread, int threads, uint64_t seed) const;

  // Build appends the bytes of one request from template |t| to |*out| and returns what a
  // correct server answers.
  Expect Build(int t, WorkloadCursor& cursor, std::string* out) const;

 private:
  Workload() = default;

  std::vector<RequestTemplate> templates_;
  std::vector<Url> targets_;
  std::vector<std::string> tokens_;
  std::vector<Expect> expects_;
  PoolStats pool_stats_;
  int batch_ = 1;
  uint64_t seed_ = 1;
  // Pre-formatted request parts, per template kind.
  std::string static_request_;
  std::string verify_prefix_;  // "GET ... Bearer "
  std::string verify_suffix_;  // "\r\n<extra headers>\r\n"
  std::string bulk_head_prefix_;  // up to "Content-Length: "
  std::string bulk_head_suffix_;  // "\r\n<extra headers>\r\n"
  std::string issue_request_;
  std::string revoke_head_prefix_;  // up to "Content-Length: "
  std::string revoke_head_suffix_;
  std::string revoke_body_prefix_;  // {"jti":"  or  token=
  std::string revoke_body_suffix_;  // "}       or  &token_type_hint=access_token
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_WORKLOAD_H_
