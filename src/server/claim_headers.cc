#include "server/claim_headers.h"

#include <cstring>

#include "server/response.h"

namespace ringward::server {

namespace {

size_t RoundUpPow2(size_t n) {
  size_t p = 1;
  while (p < n) {
    p <<= 1;
  }
  return p;
}

std::string_view TrimJsonToken(std::string_view raw) {
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                          raw.back() == '\t')) {
    raw.remove_suffix(1);
  }
  return raw;
}

}  // namespace

size_t ClaimHeaderRenderer::Render(std::string_view claims_json,
                                   std::span<const ClaimHeader> headers, std::string* out) {
  if (headers.empty()) {
    return 0;
  }
  padded_.assign(claims_json);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');
  size_t omitted = 0;
  simdjson::ondemand::document doc;
  if (parser_.iterate(padded_.data(), claims_json.size(), padded_.size()).get(doc) !=
      simdjson::SUCCESS) {
    return 0;
  }
  for (const ClaimHeader& header : headers) {
    doc.rewind();
    simdjson::ondemand::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) {
      return omitted;
    }
    simdjson::ondemand::value value;
    if (object.find_field_unordered(header.claim).get(value) != simdjson::SUCCESS) {
      continue;
    }
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) {
      continue;
    }
    std::string_view text;
    bool have = false;
    switch (type) {
      case simdjson::ondemand::json_type::string:
        have = value.get_string().get(text) == simdjson::SUCCESS;
        break;
      case simdjson::ondemand::json_type::number:
      case simdjson::ondemand::json_type::boolean:
        text = TrimJsonToken(value.raw_json_token());
        have = true;
        break;
      case simdjson::ondemand::json_type::array: {
        simdjson::ondemand::array array;
        if (value.get_array().get(array) != simdjson::SUCCESS) {
          break;
        }
        joined_.clear();
        have = true;
        bool first = true;
        for (auto element : array) {
          std::string_view s;
          if (element.get_string().get(s) != simdjson::SUCCESS) {
            have = false;
            break;
          }
          if (!first) {
            joined_.push_back(',');
          }
          first = false;
          joined_.append(s);
        }
        text = joined_;
        break;
      }
      default:
        break;
    }
    if (!have) {
      continue;
    }
    if (!IsSafeHeaderValue(text)) {
      ++omitted;
      continue;
    }
    out->append(header.name_colon_space);
    out->append(text);
    out->append("\r\n");
  }
  return omitted;
}

ClaimHeaderCache::ClaimHeaderCache(size_t capacity, size_t slot_bytes)
    : mask_(RoundUpPow2(capacity < 1 ? 1 : capacity) - 1),
      slot_bytes_(slot_bytes),
      meta_(new Meta[mask_ + 1]),
      data_(new char[(mask_ + 1) * slot_bytes]) {}

bool ClaimHeaderCache::Lookup(std::string_view token, uint64_t hash,
                              std::string_view* lines) const {
  const size_t i = hash & mask_;
  const Meta& m = meta_[i];
  if (m.token_len == 0 || m.hash != hash || m.token_len != token.size()) {
    return false;
  }
  const char* slot = data_.get() + i * slot_bytes_;
  if (std::memcmp(slot, token.data(), token.size()) != 0) {
    return false;
  }
  *lines = std::string_view(slot + m.token_len, m.lines_len);
  return true;
}

void ClaimHeaderCache::Insert(std::string_view token, uint64_t hash, std::string_view lines) {
  if (token.empty() || token.size() + lines.size() > slot_bytes_) {
    return;
  }
  const size_t i = hash & mask_;
  char* slot = data_.get() + i * slot_bytes_;
  std::memcpy(slot, token.data(), token.size());
  std::memcpy(slot + token.size(), lines.data(), lines.size());
  meta_[i] = Meta{hash, static_cast<uint32_t>(token.size()), static_cast<uint32_t>(lines.size())};
}

void ClaimHeaderCache::Clear() {
  for (size_t i = 0; i <= mask_; ++i) {
    meta_[i] = Meta{};
  }
}

}  // namespace ringward::server
