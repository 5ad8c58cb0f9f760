#include "ringward/token/verified_cache.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>

#include "xxhash.h"

namespace ringward::token {

VerifiedTokenCache::VerifiedTokenCache(size_t capacity, size_t slot_bytes)
    : sets_(std::bit_ceil(std::max<size_t>(capacity, kWays)) / kWays),
      slot_bytes_(std::clamp<size_t>(slot_bytes, sizeof(SlotHeader) + 64, 65535)),
      meta_memory_(sets_ * sizeof(SetMeta)),
      data_memory_(sets_ * kWays * slot_bytes_),
      meta_(static_cast<SetMeta*>(meta_memory_.data())),
      data_(static_cast<char*>(data_memory_.data())) {}

uint64_t VerifiedTokenCache::Hash(std::string_view token) {
  return XXH3_64bits(token.data(), token.size());
}

bool VerifiedTokenCache::Lookup(std::string_view token, uint64_t hash, VerifiedToken* out) {
  if (token.empty()) {
    ++stats_.misses;
    return false;
  }
  // Between requests the kernel's networking evicts most of this from the CPU caches: ask for
  // the second set's tags while the first is probed, and for every line of a matching slot
  // at once, so that the misses overlap instead of following one another.
  __builtin_prefetch(&meta_[SecondSet(hash)]);
  for (const size_t set : {FirstSet(hash), SecondSet(hash)}) {
    SetMeta& meta = meta_[set];
    for (int way = 0; way < kWays; ++way) {
      if (meta.hash[way] != hash || meta.token_len[way] != token.size()) {
        continue;
      }
      const char* slot = Slot(set, way);
      for (size_t line = 0; line < sizeof(SlotHeader) + token.size(); line += 64) {
        __builtin_prefetch(slot + line);
      }
      const char* data = slot + sizeof(SlotHeader);
      // The hash only selects; the whole token must match byte for byte.
      if (std::memcmp(data, token.data(), token.size()) != 0) {
        continue;
      }
      meta.last_used[way] = ++tick_;
      SlotHeader header;
      std::memcpy(&header, slot, sizeof(header));
      const char* p = data + token.size();
      std::string_view* fields[6] = {&out->iss,   &out->sub, &out->client_id,
                                     &out->scope, &out->jti, &out->kid};
      for (int i = 0; i < 6; ++i) {
        *fields[i] = std::string_view(p, header.len[i]);
        p += header.len[i];
      }
      out->exp = header.exp;
      out->nbf = header.nbf;
      out->iat = header.iat;
      out->present = header.present;
      out->from_cache = true;
      out->claims_json = {};
      ++stats_.hits;
      return true;
    }
  }
  ++stats_.misses;
  return false;
}

bool VerifiedTokenCache::Find(std::string_view token, uint64_t hash, size_t* set, int* way) {
  for (const size_t candidate : {FirstSet(hash), SecondSet(hash)}) {
    const SetMeta& meta = meta_[candidate];
    for (int w = 0; w < kWays; ++w) {
      if (meta.hash[w] == hash && meta.token_len[w] == token.size() && !token.empty() &&
          std::memcmp(Slot(candidate, w) + sizeof(SlotHeader), token.data(), token.size()) ==
              0) {
        *set = candidate;
        *way = w;
        return true;
      }
    }
  }
  return false;
}

void VerifiedTokenCache::Insert(std::string_view token, uint64_t hash,
                                const VerifiedToken& verified) {
  const std::string_view fields[6] = {verified.iss,   verified.sub, verified.client_id,
                                      verified.scope, verified.jti, verified.kid};
  size_t need = sizeof(SlotHeader) + token.size();
  for (const std::string_view f : fields) {
    need += f.size();
  }
  if (token.empty() || need > slot_bytes_) {
    ++stats_.too_large;
    return;
  }
  // The same token again replaces its own way; otherwise the first empty way of its two
  // sets, and failing that the least recently used of their eight ways.
  size_t set = 0;
  int victim = -1;
  if (!Find(token, hash, &set, &victim)) {
    uint32_t oldest = UINT32_MAX;
    for (const size_t candidate : {FirstSet(hash), SecondSet(hash)}) {
      const SetMeta& m = meta_[candidate];
      for (int way = 0; way < kWays && oldest != 0; ++way) {
        const uint32_t age = m.token_len[way] == 0 ? 0 : m.last_used[way];
        if (victim < 0 || age < oldest) {
          set = candidate;
          victim = way;
          oldest = age;
        }
      }
    }
    if (meta_[set].token_len[victim] != 0) {
      ++stats_.evictions;
    }
  }
  SetMeta& meta = meta_[set];
  char* slot = Slot(set, victim);
  SlotHeader header;
  header.exp = verified.exp;
  header.nbf = verified.nbf;
  header.iat = verified.iat;
  header.present = verified.present;
  char* p = slot + sizeof(SlotHeader);
  std::memcpy(p, token.data(), token.size());
  p += token.size();
  for (int i = 0; i < 6; ++i) {
    std::memcpy(p, fields[i].data(), fields[i].size());
    p += fields[i].size();
    header.len[i] = static_cast<uint16_t>(fields[i].size());
  }
  std::memcpy(slot, &header, sizeof(header));
  meta.hash[victim] = hash;
  meta.token_len[victim] = static_cast<uint16_t>(token.size());
  meta.last_used[victim] = ++tick_;
  ++stats_.inserts;
}

void VerifiedTokenCache::Erase(std::string_view token, uint64_t hash) {
  size_t set = 0;
  int way = 0;
  if (Find(token, hash, &set, &way)) {
    meta_[set].token_len[way] = 0;
  }
}

void VerifiedTokenCache::Clear() {
  for (size_t i = 0; i < sets_; ++i) {
    for (int way = 0; way < kWays; ++way) {
      meta_[i].token_len[way] = 0;
    }
  }
}

}  // namespace ringward::token
