// server/claim_headers.h: the configured extra response headers of GET /v1/verify
// ([tokens] claim_headers: claim name -> header name), and a per-shard cache of them.
//
// The values come from the token's claims JSON, which only a full verification produces (the
// verified-token cache keeps the registered claims, not the JSON). So:
//   - on a full verification, ClaimHeaderRenderer renders the header lines from the claims;
//   - the rendered lines are kept in a ClaimHeaderCache keyed like the verified-token cache
//     (XXH3 of the token, confirmed by comparing the whole token), so a cache hit reuses them;
//   - on a verified-cache hit whose lines are not in this cache (evicted, too large to keep),
//     the handler verifies the token fully once more to get the claims JSON.
// A value is rendered when the claim is a string, a number, a boolean, or an array of strings
// (joined with ","); other types are left out. A value that IsSafeHeaderValue refuses (CR, LF,
// other control characters, leading or trailing space) is left out and counted.
//
// Thread-bound: both classes belong to one shard; nothing allocates after warm-up.
#ifndef RINGWARD_SERVER_CLAIM_HEADERS_H_
#define RINGWARD_SERVER_CLAIM_HEADERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "server/serving_state.h"
#include "simdjson.h"

namespace ringward::server {

class ClaimHeaderRenderer {
 public:
  ClaimHeaderRenderer() = default;
  ClaimHeaderRenderer(const ClaimHeaderRenderer&) = delete;
  ClaimHeaderRenderer& operator=(const ClaimHeaderRenderer&) = delete;

  // Render appends "Name: value\r\n" to |*out| for each of |headers| whose claim is present in
  // |claims_json| with a renderable, safe value, in the order of |headers|. Returns the number
  // of headers left out because their value was unsafe. |claims_json| must be a JSON object
  // (the verifier has checked it).
  size_t Render(std::string_view claims_json, std::span<const ClaimHeader> headers,
                std::string* out);

 private:
  std::string padded_;
  std::string joined_;
  simdjson::ondemand::parser parser_;
};

class ClaimHeaderCache {
 public:
  // |capacity| entries (rounded up to a power of two), each holding a token and its rendered
  // lines in |slot_bytes|; larger pairs are not cached.
  explicit ClaimHeaderCache(size_t capacity, size_t slot_bytes = 2048);
  ClaimHeaderCache(const ClaimHeaderCache&) = delete;
  ClaimHeaderCache& operator=(const ClaimHeaderCache&) = delete;

  // Lookup returns true and sets |*lines| (valid until the next Insert or Clear) when |token|
  // is cached; |hash| is token::VerifiedTokenCache::Hash(token).
  bool Lookup(std::string_view token, uint64_t hash, std::string_view* lines) const;
  void Insert(std::string_view token, uint64_t hash, std::string_view lines);
  void Clear();

 private:
  struct Meta {
    uint64_t hash = 0;
    uint32_t token_len = 0;  // 0: empty
    uint32_t lines_len = 0;
  };
  size_t mask_;
  size_t slot_bytes_;
  std::unique_ptr<Meta[]> meta_;
  std::unique_ptr<char[]> data_;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_CLAIM_HEADERS_H_
