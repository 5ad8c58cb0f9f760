// CRC32C: SSE4.2 crc32 instruction, with a table fallback for CPUs (or -march values) without it.
#include "revocation/wal_crc32c.h"

#include <nmmintrin.h>

#include <array>
#include <cstring>

namespace ringward::revocation {
namespace internal {
namespace {

// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
constexpr uint32_t kPolynomial = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  for (size_t i = 0; i < size; ++i) {
    c = kTable[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  }
  return ~c;
}

// The target attribute lets this function use the instruction even when the project is built
// without -msse4.2; it is only called after CpuHasSse42() said yes.
__attribute__((target("sse4.2"))) uint32_t Crc32cExtendSse42(uint32_t crc, const char* data,
                                                             size_t size) {
  const char* p = data;
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // unaligned load; little-endian as the CRC expects
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
    ++p;
    --size;
  }
  return ~c32;
}

bool CpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

}  // namespace internal

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size) {
  if (internal::CpuHasSse42()) {
    return internal::Crc32cExtendSse42(crc, data, size);
  }
  return internal::Crc32cExtendPortable(crc, data, size);
}

}  // namespace ringward::revocation
