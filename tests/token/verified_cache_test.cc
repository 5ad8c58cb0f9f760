// VerifiedTokenCache: lookups confirmed byte for byte, LRU within a set, fixed memory.
#include "ringward/token/verified_cache.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/token/claims.h"
#include "ringward/token/verifier.h"
#include "xxhash.h"

namespace ringward::token {
namespace {

// Entry owns the strings a VerifiedToken points at.
struct Entry {
  std::string iss = "https://issuer.example";
  std::string sub = "user-1";
  std::string client_id = "client-1";
  std::string scope = "read write";
  std::string jti = "jti-1";
  std::string kid = "ed1";
  int64_t exp = 1700000600;
  int64_t nbf = 1699999940;
  int64_t iat = 1699999941;
  uint32_t present = kClaimIss | kClaimSub | kClaimExp | kClaimNbf | kClaimIat | kClaimJti |
                     kClaimClientId | kClaimScope;

  VerifiedToken View() const {
    VerifiedToken t;
    t.iss = iss;
    t.sub = sub;
    t.client_id = client_id;
    t.scope = scope;
    t.jti = jti;
    t.kid = kid;
    t.exp = exp;
    t.nbf = nbf;
    t.iat = iat;
    t.present = present;
    t.claims_json = "{\"not\":\"stored\"}";
    return t;
  }
};

// TokenText is a distinct token-shaped string per |i| (all of one length).
std::string TokenText(int i) { return absl::StrCat("header.payload-", 1000 + i, ".signature"); }

void Put(VerifiedTokenCache& cache, const std::string& token, uint64_t hash, int64_t exp = 100) {
  Entry e;
  e.sub = absl::StrCat("sub-of-", token);
  e.exp = exp;
  cache.Insert(token, hash, e.View());
}

bool Has(VerifiedTokenCache& cache, const std::string& token, uint64_t hash) {
  VerifiedToken out;
  return cache.Lookup(token, hash, &out);
}

TEST(VerifiedCacheTest, CapacityIsAPowerOfTwoOfAtLeastOneSet) {
  EXPECT_EQ(VerifiedTokenCache(0).capacity(), 4u);
  EXPECT_EQ(VerifiedTokenCache(1).capacity(), 4u);
  EXPECT_EQ(VerifiedTokenCache(4).capacity(), 4u);
  EXPECT_EQ(VerifiedTokenCache(5).capacity(), 8u);
  EXPECT_EQ(VerifiedTokenCache(100).capacity(), 128u);
  EXPECT_EQ(VerifiedTokenCache(1024).capacity(), 1024u);
  EXPECT_EQ(VerifiedTokenCache(4).slot_bytes(), VerifiedTokenCache::kDefaultSlotBytes);
  EXPECT_EQ(VerifiedTokenCache(4, 100000).slot_bytes(), 65535u);
  EXPECT_EQ(VerifiedTokenCache(4, 4096).slot_bytes(), 4096u);
}

TEST(VerifiedCacheTest, HashIsXxh3OfTheTokenBytes) {
  const std::string token = TokenText(1);
  EXPECT_EQ(VerifiedTokenCache::Hash(token), XXH3_64bits(token.data(), token.size()));
  std::string other = token;
  other.back() = 'X';
  EXPECT_NE(VerifiedTokenCache::Hash(token), VerifiedTokenCache::Hash(other));
}

TEST(VerifiedCacheTest, EmptyCacheMissesEvenTheEmptyToken) {
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  EXPECT_FALSE(cache.Lookup(TokenText(0), VerifiedTokenCache::Hash(TokenText(0)), &out));
  // Fresh ways have hash 0 and length 0; an empty token with hash 0 must not match them.
  EXPECT_FALSE(cache.Lookup("", 0, &out));
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST(VerifiedCacheTest, InsertThenLookupReturnsCopiesOfTheFields) {
  VerifiedTokenCache cache(16);
  std::string token = TokenText(7);
  const uint64_t hash = VerifiedTokenCache::Hash(token);
  {
    Entry e;
    e.sub = "alice";
    e.kid = "kid-\xc3\xa9";
    e.jti = std::string("j\0ti", 4);
    cache.Insert(token, hash, e.View());
    // The caller's strings die here; the cache must hold its own copies.
    e.iss.assign(e.iss.size(), '#');
    e.sub.assign(e.sub.size(), '#');
  }
  const std::string original = token;
  VerifiedToken out;
  ASSERT_TRUE(cache.Lookup(original, hash, &out));
  const Entry want;
  EXPECT_EQ(out.iss, want.iss);
  EXPECT_EQ(out.sub, "alice");
  EXPECT_EQ(out.client_id, want.client_id);
  EXPECT_EQ(out.scope, want.scope);
  EXPECT_EQ(out.jti, std::string_view("j\0ti", 4));
  EXPECT_EQ(out.kid, "kid-\xc3\xa9");
  EXPECT_EQ(out.exp, want.exp);
  EXPECT_EQ(out.nbf, want.nbf);
  EXPECT_EQ(out.iat, want.iat);
  EXPECT_EQ(out.present, want.present);
  EXPECT_TRUE(out.from_cache);
  EXPECT_TRUE(out.claims_json.empty());
  EXPECT_EQ(cache.stats().inserts, 1u);
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(VerifiedCacheTest, EmptyFieldsRoundTrip) {
  VerifiedTokenCache cache(4);
  VerifiedToken t;
  t.exp = 5;
  t.present = kClaimExp;
  const std::string token = TokenText(1);
  cache.Insert(token, 9, t);
  VerifiedToken out;
  out.sub = "stale";
  ASSERT_TRUE(cache.Lookup(token, 9, &out));
  EXPECT_TRUE(out.sub.empty());
  EXPECT_TRUE(out.iss.empty());
  EXPECT_EQ(out.exp, 5);
}

TEST(VerifiedCacheTest, LookupNeedsTheMatchingHash) {
  VerifiedTokenCache cache(4);  // one set: every hash selects it, so only the filter differs
  const std::string token = TokenText(1);
  const uint64_t hash = VerifiedTokenCache::Hash(token);
  Put(cache, token, hash);
  EXPECT_TRUE(Has(cache, token, hash));
  EXPECT_FALSE(Has(cache, token, hash ^ (uint64_t{1} << 40)));
}

// A hash collision is forced by passing the same hash for different tokens: only the
// byte-for-byte comparison stands between a forged token and a hit.
TEST(VerifiedCacheTest, SameHashDifferentTokenIsNeverAHit) {
  VerifiedTokenCache cache(16);
  const std::string token = TokenText(1);
  const uint64_t hash = 0x0123456789abcdefULL;
  Put(cache, token, hash);

  std::string last_byte = token;
  last_byte.back() = static_cast<char>(last_byte.back() ^ 1);
  std::string first_byte = token;
  first_byte.front() = static_cast<char>(first_byte.front() ^ 1);
  std::string middle = token;
  middle[middle.size() / 2] = static_cast<char>(middle[middle.size() / 2] ^ 0x20);
  for (const std::string& forged :
       {last_byte, first_byte, middle, token.substr(0, token.size() - 1), token + "e",
        std::string(token.size(), 'A'), std::string()}) {
    SCOPED_TRACE(forged);
    EXPECT_FALSE(Has(cache, forged, hash));
  }
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_TRUE(Has(cache, token, hash));
}

TEST(VerifiedCacheTest, TokensSharingAHashAreKeptApart) {
  VerifiedTokenCache cache(16);
  const std::string a = TokenText(1);
  const std::string b = TokenText(2);
  ASSERT_EQ(a.size(), b.size());
  Put(cache, a, 42, 111);
  Put(cache, b, 42, 222);
  VerifiedToken out;
  ASSERT_TRUE(cache.Lookup(a, 42, &out));
  EXPECT_EQ(out.exp, 111);
  EXPECT_EQ(out.sub, "sub-of-" + a);
  ASSERT_TRUE(cache.Lookup(b, 42, &out));
  EXPECT_EQ(out.exp, 222);
  EXPECT_EQ(out.sub, "sub-of-" + b);
}

TEST(VerifiedCacheTest, EvictsTheLeastRecentlyUsedWayOfTheSet) {
  VerifiedTokenCache cache(4);  // exactly one 4-way set
  for (int i = 0; i < 4; ++i) {
    Put(cache, TokenText(i), 1000 + i);
  }
  EXPECT_EQ(cache.stats().evictions, 0u);
  ASSERT_TRUE(Has(cache, TokenText(0), 1000));  // 0 is now the most recently used

  Put(cache, TokenText(4), 1004);  // evicts 1, the least recently used
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_FALSE(Has(cache, TokenText(1), 1001));
  EXPECT_TRUE(Has(cache, TokenText(0), 1000));
  EXPECT_TRUE(Has(cache, TokenText(2), 1002));
  EXPECT_TRUE(Has(cache, TokenText(3), 1003));
  EXPECT_TRUE(Has(cache, TokenText(4), 1004));

  // Order of use is now 0, 2, 3, 4 (oldest first); touch 0 and 2, and 3 goes next.
  ASSERT_TRUE(Has(cache, TokenText(0), 1000));
  ASSERT_TRUE(Has(cache, TokenText(2), 1002));
  Put(cache, TokenText(5), 1005);
  EXPECT_EQ(cache.stats().evictions, 2u);
  EXPECT_FALSE(Has(cache, TokenText(3), 1003));
  EXPECT_TRUE(Has(cache, TokenText(4), 1004));
  EXPECT_TRUE(Has(cache, TokenText(5), 1005));
}

// Each token has two candidate sets: the low bits of its hash pick one and the low bits of the
// hash's upper half the other, so a fifth token for a full set lands in its second set.
TEST(VerifiedCacheTest, ASecondSetAbsorbsAFullFirstSet) {
  VerifiedTokenCache cache(64);  // 16 sets
  ASSERT_EQ(cache.capacity(), 64u);
  constexpr uint64_t kSecondSetFive = uint64_t{5} << 32;
  for (int i = 0; i < 5; ++i) {
    Put(cache, TokenText(i), 3 + 16 * static_cast<uint64_t>(i) + kSecondSetFive);
  }
  EXPECT_EQ(cache.stats().evictions, 0u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Has(cache, TokenText(i), 3 + 16 * static_cast<uint64_t>(i) + kSecondSetFive))
        << i;
  }
}

TEST(VerifiedCacheTest, EvictionStaysWithinTheTwoCandidateSets) {
  VerifiedTokenCache cache(64);  // 16 sets
  Put(cache, TokenText(100), 4);  // set 4 (both choices), and the oldest entry in the cache
  constexpr uint64_t kSecondSetFive = uint64_t{5} << 32;
  // Nine tokens whose candidates are sets 3 and 5: eight ways, so exactly one eviction, and it
  // takes the least recently used of them (token 0), never the older token in set 4.
  for (int i = 0; i < 9; ++i) {
    Put(cache, TokenText(i), 3 + 16 * static_cast<uint64_t>(i) + kSecondSetFive);
  }
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_TRUE(Has(cache, TokenText(100), 4));
  EXPECT_FALSE(Has(cache, TokenText(0), 3 + kSecondSetFive));
  for (int i = 1; i < 9; ++i) {
    EXPECT_TRUE(Has(cache, TokenText(i), 3 + 16 * static_cast<uint64_t>(i) + kSecondSetFive))
        << i;
  }
}

// A slot holds the token, its six strings and some bookkeeping, all within slot_bytes().
TEST(VerifiedCacheTest, TokensThatDoNotFitASlotAreNotCached) {
  VerifiedTokenCache cache(4, 256);
  ASSERT_EQ(cache.slot_bytes(), 256u);
  Entry e;
  const size_t fields = e.iss.size() + e.sub.size() + e.client_id.size() + e.scope.size() +
                        e.jti.size() + e.kid.size();

  // Token plus strings of exactly slot_bytes() leave no room for bookkeeping: never cached.
  const std::string whole_slot(256 - fields, 'u');
  cache.Insert(whole_slot, 1, e.View());
  EXPECT_EQ(cache.stats().too_large, 1u);
  EXPECT_EQ(cache.stats().inserts, 0u);
  EXPECT_FALSE(Has(cache, whole_slot, 1));

  // The strings count as well as the token: this token fits only without them.
  const std::string half(128, 'h');
  Entry big = e;
  big.scope = std::string(200, 's');
  cache.Insert(half, 2, big.View());
  EXPECT_EQ(cache.stats().too_large, 2u);
  EXPECT_FALSE(Has(cache, half, 2));
  cache.Insert(half, 2, e.View());
  EXPECT_TRUE(Has(cache, half, 2));

  // The cut-off is sharp: find the largest token that fits, and one byte more does not.
  size_t largest = 0;
  for (size_t n = 1; n <= 256; ++n) {
    VerifiedTokenCache probe(4, 256);
    probe.Insert(std::string(n, 'p'), 3, e.View());
    if (probe.stats().inserts == 1) {
      ASSERT_EQ(largest, n - 1) << "sizes that fit must be contiguous";
      largest = n;
    }
  }
  // Bookkeeping is a fixed header, far smaller than a typical token.
  EXPECT_GE(largest + fields, 256u - 64u);
  EXPECT_LT(largest + fields, 256u);
  {
    VerifiedTokenCache probe(4, 256);
    probe.Insert(std::string(largest, 'p'), 3, e.View());
    EXPECT_TRUE(Has(probe, std::string(largest, 'p'), 3));
    probe.Insert(std::string(largest + 1, 'q'), 4, e.View());
    EXPECT_FALSE(Has(probe, std::string(largest + 1, 'q'), 4));
    EXPECT_EQ(probe.stats().too_large, 1u);
  }
}

TEST(VerifiedCacheTest, DefaultSlotFitsATypicalAccessToken) {
  VerifiedTokenCache cache(4);
  Entry e;
  const std::string token(700, 't');
  cache.Insert(token, 1, e.View());
  EXPECT_TRUE(Has(cache, token, 1));
}

TEST(VerifiedCacheTest, ClearEmptiesEveryWay) {
  VerifiedTokenCache cache(8);
  for (int i = 0; i < 8; ++i) {
    Put(cache, TokenText(i), static_cast<uint64_t>(i));
  }
  cache.Clear();
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(Has(cache, TokenText(i), static_cast<uint64_t>(i))) << i;
  }
  Put(cache, TokenText(1), 1);
  EXPECT_TRUE(Has(cache, TokenText(1), 1));
  EXPECT_EQ(cache.stats().evictions, 0u);  // cleared ways are free, not evicted
}

TEST(VerifiedCacheTest, EraseDropsOnlyThatToken) {
  VerifiedTokenCache cache(16);
  const std::string a = TokenText(1);
  const std::string b = TokenText(2);
  Put(cache, a, 77);
  Put(cache, b, 77);
  cache.Erase(TokenText(3), 77);  // same hash, different bytes: nothing happens
  cache.Erase(a, 78);             // right bytes, wrong hash: nothing happens
  EXPECT_TRUE(Has(cache, a, 77));
  EXPECT_TRUE(Has(cache, b, 77));
  cache.Erase(a, 77);
  EXPECT_FALSE(Has(cache, a, 77));
  EXPECT_TRUE(Has(cache, b, 77));
  cache.Erase(a, 77);  // erasing twice is harmless
  EXPECT_TRUE(Has(cache, b, 77));
}

TEST(VerifiedCacheTest, ErasedWayIsReusedBeforeAnyEviction) {
  VerifiedTokenCache cache(4);
  for (int i = 0; i < 4; ++i) {
    Put(cache, TokenText(i), static_cast<uint64_t>(i));
  }
  cache.Erase(TokenText(2), 2);
  Put(cache, TokenText(9), 9);
  EXPECT_EQ(cache.stats().evictions, 0u);
  for (int i : {0, 1, 3, 9}) {
    EXPECT_TRUE(Has(cache, TokenText(i), static_cast<uint64_t>(i))) << i;
  }
}

// Insert documents that it stores the given fields; a token inserted again (e.g. after a
// refresh of its claims) must then be found with the new fields, not a stale older copy, and
// must not take a second way.
TEST(VerifiedCacheTest, InsertingACachedTokenAgainReplacesIt) {
  VerifiedTokenCache cache(4);
  const std::string token = TokenText(1);
  Put(cache, token, 5, 100);
  Put(cache, token, 5, 200);
  VerifiedToken out;
  ASSERT_TRUE(cache.Lookup(token, 5, &out));
  EXPECT_EQ(out.exp, 200);
  // Three other tokens fill the set without evicting anything if |token| holds one way.
  for (int i = 2; i <= 4; ++i) {
    Put(cache, TokenText(i), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(cache.stats().evictions, 0u);
}

TEST(VerifiedCacheTest, StatsCountEveryOutcome) {
  VerifiedTokenCache cache(4, 256);
  Put(cache, TokenText(0), 0);
  Put(cache, TokenText(1), 1);
  EXPECT_TRUE(Has(cache, TokenText(0), 0));
  EXPECT_TRUE(Has(cache, TokenText(0), 0));
  EXPECT_FALSE(Has(cache, TokenText(5), 5));
  for (int i = 2; i < 6; ++i) {
    Put(cache, TokenText(i), static_cast<uint64_t>(i));
  }
  cache.Insert(std::string(300, 'x'), 9, VerifiedToken{});
  const VerifiedCacheStats& s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.inserts, 6u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.too_large, 1u);
}

}  // namespace
}  // namespace ringward::token
