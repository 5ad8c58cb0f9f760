#include "ringward/token/claims.h"

#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "ringward/base/json.h"
#include "token/json_document.h"

namespace ringward::token {
namespace {


// The fast paths below read scalars straight from the raw JSON token, which simdjson has
// already checked for string structure, UTF-8 and unescaped control characters in stage 1.
// They handle the common shapes (strings without escapes, plain decimal integers) and leave
// everything else to the general path, so their only effect is speed.

// ScanPlainString finds the closing quote of a JSON string whose content starts at |p|, and
// reports false if an escape sequence comes first. The string is complete (stage 1 checked it)
// and lies in a buffer with simdjson::SIMDJSON_PADDING readable bytes after the document, so
// reading whole 32-byte blocks up to the closing quote never leaves the buffer.
inline bool ScanPlainString(const char* p, const char** close) {
#ifdef __AVX2__
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  for (;; p += 32) {
    const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const uint32_t quotes =
        static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(block, quote)));
    const uint32_t escapes =
        static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(block, backslash)));
    if ((quotes | escapes) != 0) {
      // An escape before the first quote means the slow path; otherwise that quote closes it.
      if (escapes != 0 && (escapes & (quotes - 1)) != 0) {
        return false;
      }
      if (quotes == 0) {
        return false;
      }
      *close = p + __builtin_ctz(quotes);
      return true;
    }
  }
#else
  for (;; ++p) {
    const char c = *p;
    if (c == '"') {
      *close = p;
      return true;
    }
    if (c == '\\') {
      return false;
    }
  }
#endif
}

// RawString returns the content of a string token that has no escape sequence.
inline bool RawString(std::string_view token, std::string_view* out) {
  if (token.empty() || token.front() != '"') {
    return false;
  }
  // The token is a complete JSON string (stage 1 checked), so the scan ends inside it.
  const char* close = nullptr;
  if (!ScanPlainString(token.data() + 1, &close)) {
    return false;
  }
  *out = std::string_view(token.data() + 1, static_cast<size_t>(close - token.data() - 1));
  return true;
}

// RawInteger parses a token made of 1 to 12 decimal digits without a leading zero (optionally
// followed by JSON whitespace, which raw tokens carry).
inline bool RawInteger(std::string_view token, int64_t* out) {
  int64_t v = 0;
  size_t i = 0;
  for (; i < token.size() && i < 13; ++i) {
    const unsigned d = static_cast<unsigned char>(token[i]) - '0';
    if (d > 9) {
      break;
    }
    v = v * 10 + d;
  }
  if (i == 0 || i > 12 || (i > 1 && token[0] == '0')) {
    return false;
  }
  for (size_t j = i; j < token.size(); ++j) {
    const char c = token[j];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      return false;
    }
  }
  *out = v;
  return true;
}

// ReadNumericDate accepts a JSON integer in [0, kMaxNumericDate] and nothing else.
VerifyReason ReadNumericDate(simdjson::ondemand::value& value, int64_t* out) {
  if (RawInteger(value.raw_json_token(), out)) {
    return *out <= kMaxNumericDate ? VerifyReason::kOk : VerifyReason::kBadClaim;
  }
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  if (type != simdjson::ondemand::json_type::number) {
    // The value must still be valid JSON before it is called the wrong type.
    const json::JsonError e = json::CheckValue(value, 2);
    return e == json::JsonError::kOk ? VerifyReason::kBadClaim : FromJsonError(e);
  }
  // "-0" is an integer zero to simdjson, but a sign has no place in a NumericDate.
  const std::string_view raw = value.raw_json_token();
  const bool negative = !raw.empty() && raw.front() == '-';
  simdjson::ondemand::number number;
  if (value.get_number().get(number) != simdjson::SUCCESS) {
    // A valid number simdjson cannot represent (beyond 64 bits) is valid JSON but no date.
    return json::IsJsonNumberToken(raw) ? VerifyReason::kBadClaim : VerifyReason::kBadJson;
  }
  if (number.get_number_type() != simdjson::ondemand::number_type::signed_integer &&
      number.get_number_type() != simdjson::ondemand::number_type::unsigned_integer) {
    return VerifyReason::kBadClaim;
  }
  if (!number.is_int64()) {
    return VerifyReason::kBadClaim;
  }
  const int64_t v = number.get_int64();
  if (negative || v < 0 || v > kMaxNumericDate) {
    return VerifyReason::kBadClaim;
  }
  *out = v;
  return VerifyReason::kOk;
}

VerifyReason ReadString(simdjson::ondemand::value& value, std::string_view* out) {
  if (RawString(value.raw_json_token(), out)) {
    return VerifyReason::kOk;
  }
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  if (type != simdjson::ondemand::json_type::string) {
    const json::JsonError e = json::CheckValue(value, 2);
    return e == json::JsonError::kOk ? VerifyReason::kBadClaim : FromJsonError(e);
  }
  if (value.get_string().get(*out) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  return VerifyReason::kOk;
}

VerifyReason ReadAudience(simdjson::ondemand::value& value, Claims* claims) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  if (type == simdjson::ondemand::json_type::string) {
    claims->aud_count = 1;
    return ReadString(value, &claims->aud[0]);
  }

  if (type != simdjson::ondemand::json_type::array) {
    const json::JsonError e = json::CheckValue(value, 2);
    return e == json::JsonError::kOk ? VerifyReason::kBadClaim : FromJsonError(e);
  }
  simdjson::ondemand::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  VerifyReason result = VerifyReason::kOk;
  claims->aud_count = 0;
  for (auto element : array) {
    simdjson::ondemand::value item;
    if (element.get(item) != simdjson::SUCCESS) {
      return VerifyReason::kBadJson;
    }
    std::string_view s;
    const VerifyReason r = ReadString(item, &s);
    if (r == VerifyReason::kBadJson || r == VerifyReason::kDuplicateMember) {
      return r;
    }
    // Keep walking after a bad element so that malformed JSON later on still wins.
    if (r != VerifyReason::kOk || claims->aud_count == kMaxAudiences) {
      result = VerifyReason::kBadClaim;
      continue;
    }
    claims->aud[claims->aud_count++] = s;
  }
  return result;
}

// KeyName reads a member name: straight from the input when it has no escape sequence (names
// are then compared as written, which equals their unescaped form), else unescaped.
inline bool KeyName(simdjson::ondemand::field& field, std::string_view* name) {
  const simdjson::ondemand::raw_json_string raw = field.key();
  // The key is a complete JSON string (stage 1 checked), so the scan ends inside it.
  const char* close = nullptr;
  if (ScanPlainString(raw.raw(), &close)) {
    *name = std::string_view(raw.raw(), static_cast<size_t>(close - raw.raw()));
    return true;
  }
  return field.unescaped_key().get(*name) == simdjson::SUCCESS;
}

// RegisteredClaimBit maps the names ringward reads to their ClaimBit, everything else to 0.
inline uint32_t RegisteredClaimBit(std::string_view name) {
  const char* p = name.data();
  switch (name.size()) {
    case 3:
      if (std::memcmp(p, "iss", 3) == 0) {
        return kClaimIss;
      }
      if (std::memcmp(p, "sub", 3) == 0) {
        return kClaimSub;
      }
      if (std::memcmp(p, "aud", 3) == 0) {
        return kClaimAud;
      }
      if (std::memcmp(p, "exp", 3) == 0) {
        return kClaimExp;
      }
      if (std::memcmp(p, "nbf", 3) == 0) {
        return kClaimNbf;
      }
      if (std::memcmp(p, "iat", 3) == 0) {
        return kClaimIat;
      }
      if (std::memcmp(p, "jti", 3) == 0) {
        return kClaimJti;
      }
      return 0;
    case 5:
      return std::memcmp(p, "scope", 5) == 0 ? uint32_t{kClaimScope} : 0u;
    case 9:
      return std::memcmp(p, "client_id", 9) == 0 ? uint32_t{kClaimClientId} : 0u;
    default:
      return 0;
  }
}

}  // namespace

VerifyReason ParseClaims(simdjson::ondemand::parser& parser, const uint8_t* json, size_t len,
                         Claims* claims) {
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (VerifyReason r = OpenObject(parser, json, len, &doc, &object); r != VerifyReason::kOk) {
    return r;
  }
  claims->present = 0;
  claims->aud_count = 0;
  // Registered names are tracked by bit; only other names go through the tracker's list.
  uint32_t seen_registered = 0;
  json::DuplicateTracker seen_other;
  // A claim of the wrong type is remembered, but the walk goes on: malformed JSON or a
  // duplicate name later in the object is the more fundamental fault and is reported first.
  VerifyReason claim_fault = VerifyReason::kOk;
  // Fields and values are used in place, by reference: copying simdjson's small iterator
  // structs out of their result wrappers costs a store-forwarding stall per member, which was
  // most of the parse time.
  for (auto field_result : object) {
    if (field_result.error() != simdjson::SUCCESS) {
      return VerifyReason::kBadJson;
    }
    simdjson::ondemand::field& field = field_result.value_unsafe();
    std::string_view name;
    if (!KeyName(field, &name)) {
      return VerifyReason::kBadJson;
    }
    const uint32_t bit = RegisteredClaimBit(name);
    if (bit != 0) {
      if ((seen_registered & bit) != 0) {
        return VerifyReason::kDuplicateMember;
      }
      seen_registered |= bit;
    } else if (json::JsonError e = seen_other.Add(name); e != json::JsonError::kOk) {
      return FromJsonError(e);
    }
    simdjson::ondemand::value& value = field.value();
    VerifyReason r = VerifyReason::kOk;
    switch (bit) {
      case kClaimIss:
        r = ReadString(value, &claims->iss);
        break;
      case kClaimSub:
        r = ReadString(value, &claims->sub);
        break;
      case kClaimAud:
        r = ReadAudience(value, claims);
        break;
      case kClaimExp:
        r = ReadNumericDate(value, &claims->exp);
        break;
      case kClaimNbf:
        r = ReadNumericDate(value, &claims->nbf);
        break;
      case kClaimIat:
        r = ReadNumericDate(value, &claims->iat);
        break;
      case kClaimJti:
        r = ReadString(value, &claims->jti);
        break;
      case kClaimClientId:
        r = ReadString(value, &claims->client_id);
        break;
      case kClaimScope:
        r = ReadString(value, &claims->scope);
        break;
      default:
        r = FromJsonError(json::CheckValue(value, 2));
        break;
    }
    if (r == VerifyReason::kBadJson || r == VerifyReason::kDuplicateMember) {
      return r;
    }
    if (r != VerifyReason::kOk) {
      claim_fault = r;
      continue;
    }
    claims->present |= bit;
  }
  if (json::CheckEnd(doc) != json::JsonError::kOk) {
    return VerifyReason::kBadJson;
  }
  return claim_fault;
}

}  // namespace ringward::token
