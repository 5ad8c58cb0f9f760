// ringward/token/verified_cache.h: the per-shard cache of tokens that verified.
//
// Tokens that clients present again and again are verified once: XXH3 of the token selects two
// 4-way sets (from its low and its high half; two choices keep sets from overflowing long
// before the cache is full), the 64-bit hash filters the ways, and a byte-for-byte comparison
// of the whole token confirms the hit, so a hash collision can never let a different (forged)
// token in. Memory is fixed at construction (capacity x slot size, on transparent huge pages);
// the least recently used of the eight candidate ways is evicted.
// A hit returns the claims the verifier needs to re-check time (exp, nbf) and revocation, and
// the strings the server puts in response headers.
//
// Thread-bound: one cache per shard, no locks, no allocation after construction.
#ifndef RINGWARD_TOKEN_VERIFIED_CACHE_H_
#define RINGWARD_TOKEN_VERIFIED_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ringward/base/huge_pages.h"
#include "ringward/token/verifier.h"

namespace ringward::token {

struct VerifiedCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;
  uint64_t too_large = 0;  // tokens (with their claims) that do not fit a slot
};

class VerifiedTokenCache {
 public:
  // kDefaultSlotBytes fits a typical access token (300-700 bytes) with its claim strings.
  static constexpr size_t kDefaultSlotBytes = 1024;
  static constexpr int kWays = 4;

  // |capacity| is rounded up to a power of two of at least kWays entries.
  explicit VerifiedTokenCache(size_t capacity, size_t slot_bytes = kDefaultSlotBytes);
  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // Hash is the key function (XXH3-64 of the token bytes).
  static uint64_t Hash(std::string_view token);

  // Lookup returns true and fills |*out| (views into the slot, valid until the next Insert or
  // Clear) when |token| is cached; |hash| must be Hash(token).
  bool Lookup(std::string_view token, uint64_t hash, VerifiedToken* out);

  // Insert stores |token| with the fields of |verified|, evicting the set's least recently used
  // way. Tokens that do not fit a slot are not cached.
  void Insert(std::string_view token, uint64_t hash, const VerifiedToken& verified);

  // Erase drops |token| if cached (e.g. once it is seen expired).
  void Erase(std::string_view token, uint64_t hash);

  // Clear empties the cache (keys or policy changed).
  void Clear();

  size_t capacity() const { return sets_ * kWays; }
  size_t slot_bytes() const { return slot_bytes_; }
  const VerifiedCacheStats& stats() const { return stats_; }

 private:
  // One set's tags fill one cache line, so a probe touches a single line before it goes to
  // the slot it matched; a slot starts with its SlotHeader, followed by the token bytes and
  // the six strings.
  struct alignas(64) SetMeta {
    uint64_t hash[kWays];
    uint32_t last_used[kWays];
    uint16_t token_len[kWays];  // 0 marks an empty way
  };
  struct SlotHeader {
    int64_t exp;
    int64_t nbf;
    int64_t iat;
    uint32_t present;
    uint16_t len[6];  // iss, sub, client_id, scope, jti, kid
  };

  size_t FirstSet(uint64_t hash) const { return hash & (sets_ - 1); }
  size_t SecondSet(uint64_t hash) const { return (hash >> 32) & (sets_ - 1); }
  // Find locates |token| and reports its set and way.
  bool Find(std::string_view token, uint64_t hash, size_t* set, int* way);

  char* Slot(size_t set, int way) {
    return data_ + (set * kWays + static_cast<size_t>(way)) * slot_bytes_;
  }

  size_t sets_;
  size_t slot_bytes_;
  uint32_t tick_ = 0;
  // Both tables are probed at random: on huge pages (from 2 MiB on), so that a probe does not
  // also miss the TLB.
  base::HugePageMemory meta_memory_;
  base::HugePageMemory data_memory_;
  SetMeta* meta_;
  char* data_;
  VerifiedCacheStats stats_;
};

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_VERIFIED_CACHE_H_
