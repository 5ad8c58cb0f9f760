#include "ringward/token/verified_cache.h"

#include <bit>
#include <cstring>

#include "xxhash.h"

namespace ringward::token {

VerifiedTokenCache::VerifiedTokenCache(size_t capacity, size_t slot_bytes)
    : sets_(std::bit_ceil(std::max<size_t>(capacity, kWays)) / kWays),
      slot_bytes_(std::min<size_t>(slot_bytes, 65535)),
      meta_(new Meta[sets_ * kWays]()),
      data_(new char[sets_ * kWays * slot_bytes_]) {}

uint64_t VerifiedTokenCache::Hash(std::string_view token) {
  return XXH3_64bits(token.data(), token.size());
}

bool VerifiedTokenCache::Lookup(std::string_view token, uint64_t hash, VerifiedToken* out) {
  const size_t base = (hash & (sets_ - 1)) * kWays;
  for (int way = 0; way < kWays; ++way) {
    Meta& m = meta_[base + way];
    if (m.hash != hash || m.token_len != token.size() || m.token_len == 0) {
      continue;
    }
    const char* data = SlotData(base + way);
    // The hash only selects; the whole token must match byte for byte.
    if (std::memcmp(data, token.data(), token.size()) != 0) {
      continue;
    }
    m.last_used = ++tick_;
    const char* p = data + m.token_len;
    std::string_view* fields[6] = {&out->iss,   &out->sub, &out->client_id,
                                   &out->scope, &out->jti, &out->kid};
    for (int i = 0; i < 6; ++i) {
      *fields[i] = std::string_view(p, m.len[i]);
      p += m.len[i];
    }
    out->exp = m.exp;
    out->nbf = m.nbf;
    out->iat = m.iat;
    out->present = m.present;
    out->from_cache = true;
    out->claims_json = {};
    ++stats_.hits;
    return true;
  }
  ++stats_.misses;
  return false;
}

void VerifiedTokenCache::Insert(std::string_view token, uint64_t hash,
                                const VerifiedToken& verified) {
  const std::string_view fields[6] = {verified.iss,   verified.sub, verified.client_id,
                                      verified.scope, verified.jti, verified.kid};
  size_t need = token.size();
  for (const std::string_view f : fields) {
    need += f.size();
  }
  if (token.empty() || need > slot_bytes_) {
    ++stats_.too_large;
    return;
  }
  const size_t base = (hash & (sets_ - 1)) * kWays;
  // Prefer an empty way (or this very token, if it raced in); otherwise the least recently used.
  int victim = 0;
  for (int way = 0; way < kWays; ++way) {
    const Meta& m = meta_[base + way];
    if (m.token_len == 0) {
      victim = way;
      break;
    }
    if (m.last_used < meta_[base + victim].last_used) {
      victim = way;
    }
  }
  Meta& m = meta_[base + victim];
  if (m.token_len != 0) {
    ++stats_.evictions;
  }
  char* p = SlotData(base + victim);
  std::memcpy(p, token.data(), token.size());
  p += token.size();
  for (int i = 0; i < 6; ++i) {
    std::memcpy(p, fields[i].data(), fields[i].size());
    p += fields[i].size();
    m.len[i] = static_cast<uint16_t>(fields[i].size());
  }
  m.hash = hash;
  m.token_len = static_cast<uint16_t>(token.size());
  m.exp = verified.exp;
  m.nbf = verified.nbf;
  m.iat = verified.iat;
  m.present = verified.present;
  m.last_used = ++tick_;
  ++stats_.inserts;
}

void VerifiedTokenCache::Erase(std::string_view token, uint64_t hash) {
  const size_t base = (hash & (sets_ - 1)) * kWays;
  for (int way = 0; way < kWays; ++way) {
    Meta& m = meta_[base + way];
    if (m.hash == hash && m.token_len == token.size() && m.token_len != 0 &&
        std::memcmp(SlotData(base + way), token.data(), token.size()) == 0) {
      m.token_len = 0;
      return;
    }
  }
}

void VerifiedTokenCache::Clear() {
  for (size_t i = 0; i < sets_ * kWays; ++i) {
    meta_[i].token_len = 0;
  }
}

}  // namespace ringward::token
