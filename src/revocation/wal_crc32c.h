// revocation/wal_crc32c.h: CRC32C (Castagnoli, iSCSI polynomial 0x1EDC6F41), the checksum of
// every write-ahead-log record.
//
// Debian bookworm packages no C++ CRC32C library (abseil 20220623 predates absl/crc, zlib's
// crc32 uses the other polynomial, BoringSSL has none), so it is implemented here: the SSE4.2
// crc32 instruction when the CPU has it, chosen once at start-up, and a byte-at-a-time table
// otherwise. Both are checked against the RFC 3720 vectors in tests/revocation/wal_test.cc.
//
// Thread-safe: pure functions.
#ifndef RINGWARD_REVOCATION_WAL_CRC32C_H_
#define RINGWARD_REVOCATION_WAL_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringward::revocation {

// Crc32cExtend returns the CRC32C of the bytes summarised by |crc| followed by |data|. Start
// from 0: Crc32cExtend(Crc32cExtend(0, a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

namespace internal {
// The two implementations, exposed so that tests cover both whatever the CPU.
uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size);
uint32_t Crc32cExtendSse42(uint32_t crc, const char* data, size_t size);
bool CpuHasSse42();
}  // namespace internal

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_WAL_CRC32C_H_
