// ringward/token/verifier.h: verifying JWS-signed JWTs under a policy, at line rate.
//
// A Verifier is immutable and thread-safe: shards share one through a snapshot and each passes
// its own VerifyScratch (thread-bound buffers and simdjson parser) and, optionally, its own
// VerifiedTokenCache. Time is a parameter, never read inside. The order of checks is fixed:
// size, shape, header (alg, forbidden members), key selection by kid, algorithm binding (the
// key's algorithm must equal the header's), signature, and only then the claims — untrusted
// claims JSON is never parsed before its signature is known good.
//
// Verify allocates nothing: every buffer lives in the scratch, sized at construction.
#ifndef RINGWARD_TOKEN_VERIFIER_H_
#define RINGWARD_TOKEN_VERIFIER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ringward/token/claims.h"
#include "ringward/token/jws.h"
#include "ringward/token/key.h"
#include "ringward/token/verify_reason.h"
#include "simdjson.h"

namespace ringward::token {

class VerifiedTokenCache;

// kDefaultMaxTokenSize is the token size cap unless configured otherwise.
inline constexpr size_t kDefaultMaxTokenSize = 8192;
// kLargestMaxTokenSize bounds what a configuration may ask for.
inline constexpr size_t kLargestMaxTokenSize = 65536;

struct VerifyPolicy {
  // Trusted issuers, compared byte for byte with "iss". At least one is required: a verifier
  // that accepts any issuer accepts tokens minted for someone else.
  std::vector<std::string> issuers;
  // Accepted audiences; a token passes when one of its "aud" values is among them. Empty means
  // the audience is not checked (and "aud" is then not required unless the profile says so).
  std::vector<std::string> audiences;
  // Clock skew tolerated on exp, nbf and iat.
  int64_t leeway_seconds = 30;
  // RFC 9068 access-token profile: typ at+jwt (or application/at+jwt), and iss, exp, aud, sub,
  // client_id, iat, jti all required.
  bool access_token_profile = false;
  // allow_no_keys lets Create accept an empty key set (every token is then refused as
  // unknown_key): a replication follower whose keys arrive from its leader's log.
  bool allow_no_keys = false;
  // Further required claims (ClaimBit mask); exp is always required.
  uint32_t required_claims = kClaimExp;
  size_t max_token_size = kDefaultMaxTokenSize;
};

// VerifiedToken is what a successful verification yields. Views point into the scratch (after a
// full verification) or into the cache slot (after a cache hit); both stay valid until the next
// Verify call with the same scratch and cache.
struct VerifiedToken {
  std::string_view iss;
  std::string_view sub;
  std::string_view client_id;
  std::string_view scope;
  std::string_view jti;
  std::string_view kid;  // the selected key's id
  int64_t exp = 0;
  int64_t nbf = 0;
  int64_t iat = 0;
  uint32_t present = 0;  // ClaimBit mask
  bool from_cache = false;
  // The decoded claims JSON (full verifications only; empty after a cache hit).
  std::string_view claims_json;
};

// VerifyScratch holds one thread's reusable buffers. Thread-bound; create one per shard.
class VerifyScratch {
 public:
  explicit VerifyScratch(size_t max_token_size = kLargestMaxTokenSize);
  VerifyScratch(const VerifyScratch&) = delete;
  VerifyScratch& operator=(const VerifyScratch&) = delete;

 private:
  friend class Verifier;

  // HeaderMemo remembers the last header segment that parsed cleanly, with copies of its kid
  // and typ: an issuer's tokens share one header, so most verifications skip decoding and
  // parsing it. The memo is a pure function of the segment's bytes.
  struct HeaderMemo {
    static constexpr size_t kMaxSegment = 512;
    static constexpr size_t kMaxField = 256;
    char segment[kMaxSegment];
    size_t segment_len = 0;  // 0: empty memo
    JoseHeader header;
    char kid[kMaxField];
    char typ[kMaxField];
  };

  simdjson::ondemand::parser parser_;
  HeaderMemo memo_;
  std::unique_ptr<uint8_t[]> header_;
  std::unique_ptr<uint8_t[]> payload_;
  uint8_t signature_[kMaxSignatureSize];
  size_t capacity_;
  Claims claims_;
};

class Verifier {
 public:
  // Create checks the policy (at least one issuer, a sane leeway and size cap, a non-empty key
  // set) and returns InvalidArgument naming what is wrong.
  static absl::StatusOr<std::unique_ptr<Verifier>> Create(std::shared_ptr<const KeySet> keys,
                                                          VerifyPolicy policy);

  // Verify checks |token| at time |now| (seconds since the epoch). On kOk fills |*out|.
  VerifyReason Verify(std::string_view token, int64_t now, VerifyScratch& scratch,
                      VerifiedToken* out) const;

  // Verify through |cache|: a hit (same bytes, verified before by this Verifier) skips the
  // signature and claims work but re-checks exp and nbf against |now|; a miss verifies fully
  // and caches the result on success. The cache must only ever be used with one Verifier.
  VerifyReason Verify(std::string_view token, int64_t now, VerifyScratch& scratch,
                      VerifiedTokenCache& cache, VerifiedToken* out) const;

  const VerifyPolicy& policy() const { return policy_; }
  const KeySet& keys() const { return *keys_; }

 private:
  Verifier(std::shared_ptr<const KeySet> keys, VerifyPolicy policy);
  VerifyReason CheckTimes(int64_t exp, int64_t nbf, int64_t iat, uint32_t present,
                          int64_t now) const;
  VerifyReason CheckClaims(const Claims& claims, int64_t now) const;
  VerifyReason VerifyFast(std::string_view token, int64_t now, VerifyScratch& scratch,
                          VerifiedToken* out) const;
  VerifyReason ParseHeader(std::string_view header_b64, VerifyScratch& scratch,
                           JoseHeader* header) const;

  std::shared_ptr<const KeySet> keys_;
  VerifyPolicy policy_;
  uint32_t required_;
};

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_VERIFIER_H_
