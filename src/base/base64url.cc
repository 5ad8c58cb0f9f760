// Strict base64url: a 256-entry table maps each character to its 6-bit value or to an invalid
// marker with the high bit set, so four characters are checked with one OR and one test.
#include "ringward/base/base64url.h"

#include <array>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace ringward {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0x80;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) {
    v = kInvalid;
  }
  for (uint8_t i = 0; i < 64; ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = i;
  }
  return table;
}

constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

#ifdef __AVX2__
// DecodeBlocksAvx2 decodes 32 characters into 24 bytes per step (Muła and Lemire's method, with
// range compares for the URL-safe alphabet) while at least 32 characters remain and the output
// has room for a full 32-byte store. Returns the number of characters consumed; sets |*bad|
// when any consumed character is outside the alphabet.
size_t DecodeBlocksAvx2(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_capacity,
                        bool* bad) {
  const __m256i pack_shuffle = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1,
                                                -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1,
                                                -1, -1);
  const __m256i pack_permute = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, -1, -1);
  __m256i invalid = _mm256_setzero_si256();
  size_t i = 0;
  size_t o = 0;
  while (in_len - i >= 32 && out_capacity - o >= 32) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    // Signed byte compares: characters >= 0x80 are negative and fall in no range.
    const __m256i upper = _mm256_and_si256(_mm256_cmpgt_epi8(c, _mm256_set1_epi8(0x40)),
                                           _mm256_cmpgt_epi8(_mm256_set1_epi8(0x5b), c));
    const __m256i lower = _mm256_and_si256(_mm256_cmpgt_epi8(c, _mm256_set1_epi8(0x60)),
                                           _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7b), c));
    const __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(c, _mm256_set1_epi8(0x2f)),
                                           _mm256_cmpgt_epi8(_mm256_set1_epi8(0x3a), c));
    const __m256i dash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('-'));
    const __m256i underscore = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('_'));
    const __m256i offset = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(upper, _mm256_set1_epi8(-65)),
                        _mm256_and_si256(lower, _mm256_set1_epi8(-71))),
        _mm256_or_si256(_mm256_and_si256(digit, _mm256_set1_epi8(4)),
                        _mm256_or_si256(_mm256_and_si256(dash, _mm256_set1_epi8(17)),
                                        _mm256_and_si256(underscore, _mm256_set1_epi8(-32)))));
    const __m256i valid = _mm256_or_si256(_mm256_or_si256(upper, lower),
                                          _mm256_or_si256(digit, _mm256_or_si256(dash, underscore)));
    invalid = _mm256_or_si256(invalid, _mm256_xor_si256(valid, _mm256_set1_epi8(-1)));
    const __m256i values = _mm256_add_epi8(c, offset);
    // Merge four 6-bit values into 24 bits per 32-bit lane, then gather the 3 bytes of each
    // lane in order and close the gap between the two 128-bit halves.
    const __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
    const __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    const __m256i packed =
        _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, pack_shuffle), pack_permute);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + o), packed);
    i += 32;
    o += 24;
  }
  *bad = !_mm256_testz_si256(invalid, invalid);
  return i;
}
#endif

}  // namespace

bool Base64UrlDecode(std::string_view in, uint8_t* out, size_t out_capacity, size_t* out_len) {
  const std::optional<size_t> decoded = Base64UrlDecodedSize(in.size());
  if (!decoded.has_value() || *decoded > out_capacity) {
    return false;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  uint8_t* o = out;
  uint32_t bad = 0;
  size_t done = 0;
#ifdef __AVX2__
  bool vector_bad = false;
  done = DecodeBlocksAvx2(p, in.size(), out, out_capacity, &vector_bad);
  if (vector_bad) {
    return false;
  }
  p += done;
  o += done / 4 * 3;
#endif
  const size_t full = (in.size() - done) / 4;
  for (size_t i = 0; i < full; ++i, p += 4, o += 3) {
    const uint32_t a = kDecode[p[0]];
    const uint32_t b = kDecode[p[1]];
    const uint32_t c = kDecode[p[2]];
    const uint32_t d = kDecode[p[3]];
    bad |= a | b | c | d;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  switch (in.size() % 4) {
    case 0:
      break;
    case 2: {
      const uint32_t a = kDecode[p[0]];
      const uint32_t b = kDecode[p[1]];
      // The last character carries 2 significant bits; the other 4 must be zero.
      bad |= a | b | ((b & 0x0f) != 0 ? kInvalid : 0);
      o[0] = static_cast<uint8_t>((a << 2) | (b >> 4));
      break;
    }
    case 3: {
      const uint32_t a = kDecode[p[0]];
      const uint32_t b = kDecode[p[1]];
      const uint32_t c = kDecode[p[2]];
      // The last character carries 4 significant bits; the other 2 must be zero.
      bad |= a | b | c | ((c & 0x03) != 0 ? kInvalid : 0);
      const uint32_t v = (a << 10) | (b << 4) | (c >> 2);
      o[0] = static_cast<uint8_t>(v >> 8);
      o[1] = static_cast<uint8_t>(v);
      break;
    }
    default:
      return false;
  }
  if ((bad & kInvalid) != 0) {
    return false;
  }
  *out_len = *decoded;
  return true;
}

size_t Base64UrlEncode(const uint8_t* in, size_t len, char* out) {
  char* o = out;
  size_t i = 0;
  for (; i + 3 <= len; i += 3, o += 4) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = kAlphabet[v & 63];
  }
  if (len - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
  } else if (len - i == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
  }
  return static_cast<size_t>(o - out);
}

std::string Base64UrlEncode(std::string_view in) {
  std::string out(Base64UrlEncodedSize(in.size()), '\0');
  Base64UrlEncode(reinterpret_cast<const uint8_t*>(in.data()), in.size(), out.data());
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  const std::optional<size_t> n = Base64UrlDecodedSize(in.size());
  if (!n.has_value()) {
    return std::nullopt;
  }
  std::string out(*n, '\0');
  size_t written = 0;
  if (!Base64UrlDecode(in, reinterpret_cast<uint8_t*>(out.data()), out.size(), &written)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace ringward
