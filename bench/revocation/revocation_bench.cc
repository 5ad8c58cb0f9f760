// Benchmarks for the revocation check on the verify path: the raw primitives (XXH3 of a jti, a
// split-block Bloom probe) beside the full RevocationSet::IsRevoked, insertion and expiry
// rates, and the memory ten million revocations take.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "concurrent/qsbr.h"
#include "revocation/set/bloom.h"
#include "ringward/revocation/revocation_set.h"
#include "ringward/token/claims.h"
#include "ringward/token/verifier.h"
#include "xxhash.h"

namespace ringward::revocation {
namespace {

constexpr int kQueries = 1 << 16;  // distinct lookups cycled through, to defeat the branch and
                                   // line caches a single repeated key would enjoy

// RandomJti returns 22 base64url characters: 16 random bytes, as ringward's issuer makes them.
std::string RandomJti(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string jti(22, 'A');
  for (char& c : jti) {
    c = kAlphabet[rng() & 63];
  }
  return jti;
}

std::vector<std::string> RandomJtis(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out(n);
  for (std::string& s : out) {
    s = RandomJti(rng);
  }
  return out;
}

token::VerifiedToken TypicalToken(std::string_view jti) {
  token::VerifiedToken t;
  t.iss = "https://auth.example.com";
  t.sub = "user-1234567";
  t.client_id = "mobile-app";
  t.scope = "read write";
  t.jti = jti;
  t.kid = "ed25519-2024-06";
  t.iat = 1'700'000'000;
  t.exp = t.iat + 900;
  t.nbf = t.iat;
  t.present = token::kClaimIss | token::kClaimSub | token::kClaimExp | token::kClaimIat |
              token::kClaimJti | token::kClaimClientId | token::kClaimScope | token::kClaimAud;
  return t;
}

// Principals says which other kinds of revocation a loaded set also holds.
enum class Principals { kNone, kSubjects, kAllKinds };

// Loaded holds a set with |jtis| jti revocations (ids from seed 1) and optionally principals.
struct Loaded {
  concurrent::QsbrDomain domain{1};
  std::unique_ptr<RevocationSet> set;
  std::vector<std::string> revoked;
};

std::unique_ptr<Loaded> Load(size_t jtis, Principals principals) {
  auto loaded = std::make_unique<Loaded>();
  RevocationSetOptions options;
  options.expected_revocations = jtis;
  options.false_positive_rate = 0.01;
  options.hash_seed = 42;
  loaded->set = std::move(*RevocationSet::Create(options, &loaded->domain));
  loaded->revoked = RandomJtis(jtis, 1);
  for (const std::string& jti : loaded->revoked) {
    (void)loaded->set->AddJti(jti, 2'000'000'000);
  }
  if (principals != Principals::kNone) {
    for (int i = 0; i < 1000; ++i) {
      (void)loaded->set->AddSubjectBefore("user-" + std::to_string(i), 1'600'000'000);
    }
  }
  if (principals == Principals::kAllKinds) {
    for (int i = 0; i < 100; ++i) {
      (void)loaded->set->AddClientBefore("client-" + std::to_string(i), 1'600'000'000);
    }
    (void)loaded->set->AddKid("retired-key");
  }
  return loaded;
}

Loaded& OneMillion() {
  static Loaded* loaded = Load(1'000'000, Principals::kNone).release();
  return *loaded;
}

Loaded& OneMillionWithSubjects() {
  static Loaded* loaded = Load(1'000'000, Principals::kSubjects).release();
  return *loaded;
}

Loaded& OneMillionWithAllKinds() {
  static Loaded* loaded = Load(1'000'000, Principals::kAllKinds).release();
  return *loaded;
}

const std::vector<std::string>& NegativeJtis() {
  static const auto* jtis = new std::vector<std::string>(RandomJtis(kQueries, 2));
  return *jtis;
}

// --- Raw primitives ---

void BM_Hash_Xxh3Jti(benchmark::State& state) {
  const std::vector<std::string>& jtis = NegativeJtis();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& jti = jtis[i++ & (kQueries - 1)];
    benchmark::DoNotOptimize(XXH3_64bits_withSeed(jti.data(), jti.size(), 42));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Hash_Xxh3Jti);

// Filter lookup alone, hashes precomputed: the per-lookup cost of the AVX2 probe.
void BM_Bloom_Lookup(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  SplitBlockBloomFilter filter(keys, 0.01);
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < keys; ++i) {
    filter.Insert(rng());
  }
  std::vector<uint64_t> queries(kQueries);
  for (uint64_t& q : queries) {
    q = rng();
  }
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    hits += filter.MayContain(queries[i++ & (kQueries - 1)]) ? 1 : 0;
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
  state.counters["filter_bytes"] = static_cast<double>(filter.bytes());
  state.counters["bits_per_key"] = static_cast<double>(filter.bytes()) * 8 / keys;
}
BENCHMARK(BM_Bloom_Lookup)->Arg(1'000'000)->Arg(10'000'000);

// The same, but each lookup's query depends on the previous answer, so lookups cannot overlap:
// the latency of one probe (a cache miss included) rather than the throughput of many.
void BM_Bloom_LookupLatency(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  SplitBlockBloomFilter filter(keys, 0.01);
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < keys; ++i) {
    filter.Insert(rng());
  }
  std::vector<uint64_t> queries(kQueries);
  for (uint64_t& q : queries) {
    q = rng();
  }
  size_t i = 0;
  for (auto _ : state) {
    const bool hit = filter.MayContain(queries[i & (kQueries - 1)]);
    i += 1 + (hit ? 1 : 0);
  }
  benchmark::DoNotOptimize(i);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bloom_LookupLatency)->Arg(1'000'000)->Arg(10'000'000);

void BM_Bloom_Insert(benchmark::State& state) {
  SplitBlockBloomFilter filter(1'000'000, 0.01);
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    filter.Insert(rng());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bloom_Insert);

// --- The full check ---

// Packed lays |strings| (all of length |width|) end to end, so that cycling through them costs
// what reading a fresh token's claim costs, not a pointer chase through std::string objects.
std::string Packed(const std::vector<std::string>& strings, size_t width) {
  std::string out;
  out.reserve(strings.size() * width);
  for (const std::string& s : strings) {
    out.append(s, 0, width);
    out.resize(out.size() + width - std::min(width, s.size()), '_');
  }
  return out;
}

// RunIsRevoked checks one token (hot in cache, as on the verify path right after parsing)
// whose jti and sub change every iteration, so the filter blocks probed are spread at random.
void RunIsRevoked(benchmark::State& state, const RevocationSet& set,
                  const std::vector<std::string>& jtis, bool expect) {
  constexpr size_t kJtiWidth = 22;
  constexpr size_t kSubWidth = 12;
  std::vector<std::string> subjects(kQueries);  // "user-1000000"...: none revoked
  for (size_t i = 0; i < kQueries; ++i) {
    subjects[i] = "user-" + std::to_string(1'000'000 + i);
  }
  const std::string packed_jtis = Packed(jtis, kJtiWidth);
  const std::string packed_subjects = Packed(subjects, kSubWidth);
  const size_t count = std::min<size_t>(jtis.size(), kQueries);
  token::VerifiedToken t = TypicalToken("");
  size_t i = 0;
  uint64_t wrong = 0;
  for (auto _ : state) {
    const size_t q = i++ % count;
    t.jti = std::string_view(packed_jtis).substr(q * kJtiWidth, kJtiWidth);
    t.sub = std::string_view(packed_subjects).substr(q * kSubWidth, kSubWidth);
    wrong += set.IsRevoked(t) != expect ? 1 : 0;
  }
  if (wrong != 0) {
    state.SkipWithError("IsRevoked gave a wrong answer");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RevocationSet_IsRevokedEmpty(benchmark::State& state) {
  concurrent::QsbrDomain domain(1);
  RevocationSetOptions options;
  options.hash_seed = 42;
  auto set = std::move(*RevocationSet::Create(options, &domain));
  RunIsRevoked(state, *set, NegativeJtis(), false);
}
BENCHMARK(BM_RevocationSet_IsRevokedEmpty);

// A valid token against 1M jti revocations: hash + one filter probe, nothing else.
void BM_RevocationSet_IsRevokedNegative1M(benchmark::State& state) {
  RunIsRevoked(state, *OneMillion().set, NegativeJtis(), false);
}
BENCHMARK(BM_RevocationSet_IsRevokedNegative1M);

// A revoked token: filter hit, acquire fence, exact-table probe and byte compare.
void BM_RevocationSet_IsRevokedPositive1M(benchmark::State& state) {
  std::vector<std::string> sample(OneMillion().revoked.begin(),
                                  OneMillion().revoked.begin() + kQueries);
  std::shuffle(sample.begin(), sample.end(), std::mt19937_64(5));
  RunIsRevoked(state, *OneMillion().set, sample, true);
}
BENCHMARK(BM_RevocationSet_IsRevokedPositive1M);

// A valid token when 1000 "log out everywhere" revocations also exist: one more hash and a
// probe of the small principal filter, which stays in cache.
void BM_RevocationSet_IsRevokedNegative1MWithSubjects(benchmark::State& state) {
  RunIsRevoked(state, *OneMillionWithSubjects().set, NegativeJtis(), false);
}
BENCHMARK(BM_RevocationSet_IsRevokedNegative1MWithSubjects);

// The same with subject, client and kid revocations all present: four hashes, four probes.
void BM_RevocationSet_IsRevokedNegative1MWithAllKinds(benchmark::State& state) {
  RunIsRevoked(state, *OneMillionWithAllKinds().set, NegativeJtis(), false);
}
BENCHMARK(BM_RevocationSet_IsRevokedNegative1MWithAllKinds);

// --- Writer side ---

// Insertion rate, including table growth and filter-growth rebuilds (the set starts sized for
// 1M and receives 2M).
void BM_RevocationSet_AddJti(benchmark::State& state) {
  const std::vector<std::string> jtis = RandomJtis(2'000'000, 6);
  for (auto _ : state) {
    concurrent::QsbrDomain domain(1);
    RevocationSetOptions options;
    options.expected_revocations = 1'000'000;
    options.hash_seed = 42;
    auto set = std::move(*RevocationSet::Create(options, &domain));
    for (const std::string& jti : jtis) {
      (void)set->AddJti(jti, 2'000'000'000);
    }
    state.PauseTiming();
    set.reset();  // not part of the insertion rate
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * jtis.size());
}
BENCHMARK(BM_RevocationSet_AddJti)->Unit(benchmark::kMillisecond)->Iterations(2);

// Expire's full sweep over 1M entries, none due: the periodic cost on the control plane.
void BM_RevocationSet_ExpireSweep1M(benchmark::State& state) {
  RevocationSet& set = *OneMillion().set;
  for (auto _ : state) {
    benchmark::DoNotOptimize(set.Expire(1'000'000'000));
  }
  state.SetItemsProcessed(state.iterations() * 1'000'000);
}
BENCHMARK(BM_RevocationSet_ExpireSweep1M)->Unit(benchmark::kMillisecond);

// Rebuild (compaction) of 1M live entries into a new generation.
void BM_RevocationSet_Rebuild1M(benchmark::State& state) {
  RevocationSet& set = *OneMillion().set;
  for (auto _ : state) {
    (void)set.Rebuild();
    OneMillion().domain.Reclaim();
  }
  state.SetItemsProcessed(state.iterations() * 1'000'000);
}
BENCHMARK(BM_RevocationSet_Rebuild1M)->Unit(benchmark::kMillisecond);

size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  unsigned long size = 0;
  unsigned long resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// Memory for ten million jti revocations (22-character ids), sized for ten million.
void BM_RevocationSet_Memory10M(benchmark::State& state) {
  constexpr size_t kCount = 10'000'000;
  for (auto _ : state) {
    std::mt19937_64 rng(7);
    concurrent::QsbrDomain domain(1);
    RevocationSetOptions options;
    options.expected_revocations = kCount;
    options.hash_seed = 42;
    const size_t rss_before = ResidentBytes();
    auto set = std::move(*RevocationSet::Create(options, &domain));
    std::string jti;
    for (size_t i = 0; i < kCount; ++i) {
      jti = RandomJti(rng);
      (void)set->AddJti(jti, 2'000'000'000);
    }
    domain.Reclaim();
    const size_t rss_after = ResidentBytes();
    const RevocationStats stats = set->Stats();
    state.counters["revocations"] = static_cast<double>(stats.live_total);
    state.counters["total_bytes"] = static_cast<double>(stats.total_bytes);
    state.counters["bytes_per_revocation"] =
        static_cast<double>(stats.total_bytes) / static_cast<double>(stats.live_total);
    state.counters["filter_bytes"] = static_cast<double>(stats.filter_bytes);
    state.counters["table_bytes"] = static_cast<double>(stats.table_bytes);
    state.counters["arena_used_bytes"] = static_cast<double>(stats.arena_used_bytes);
    state.counters["rss_delta_bytes"] = static_cast<double>(rss_after - rss_before);
    state.counters["generation"] = static_cast<double>(stats.generation);
  }
  state.SetItemsProcessed(state.iterations() * kCount);
}
BENCHMARK(BM_RevocationSet_Memory10M)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace ringward::revocation

BENCHMARK_MAIN();
