// HugePageMemory: zeroed, rounded to whole pages (huge ones from 2 MiB on), owned once.
#include "ringward/base/huge_pages.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ringward::base {
namespace {

TEST(HugePageMemoryTest, SmallSizesRoundToPagesAndAreZeroed) {
  HugePageMemory m(100);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(m.size(), 4096u);
  const auto* bytes = static_cast<const uint8_t*>(m.data());
  for (size_t i = 0; i < m.size(); ++i) {
    ASSERT_EQ(bytes[i], 0) << i;
  }
  std::memset(m.data(), 0xab, m.size());  // writable
}

TEST(HugePageMemoryTest, LargeSizesRoundToHugePages) {
  HugePageMemory m(HugePageMemory::kHugePage + 1);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(m.size(), 2 * HugePageMemory::kHugePage);
  auto* bytes = static_cast<uint8_t*>(m.data());
  EXPECT_EQ(bytes[m.size() - 1], 0);
  bytes[m.size() - 1] = 1;
}

// Resident pages: the request path that probes these tables must not take first-touch faults.
size_t ResidentPages(const HugePageMemory& m) {
  const size_t pages = m.size() / 4096;
  std::vector<unsigned char> in_core(pages);
  EXPECT_EQ(mincore(m.data(), m.size(), in_core.data()), 0);
  size_t resident = 0;
  for (unsigned char c : in_core) {
    resident += c & 1;
  }
  return resident;
}

TEST(HugePageMemoryTest, EveryPageIsResidentBeforeFirstUse) {
  HugePageMemory small(3 * 4096);
  EXPECT_EQ(ResidentPages(small), 3u);
  HugePageMemory large(2 * HugePageMemory::kHugePage);
  EXPECT_EQ(ResidentPages(large), large.size() / 4096);
  rusage before{};
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &before), 0);
  auto* bytes = static_cast<volatile uint8_t*>(large.data());
  for (size_t i = 0; i < large.size(); i += 4096) {
    bytes[i] = 1;
  }
  rusage after{};
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &after), 0);
  EXPECT_EQ(after.ru_minflt - before.ru_minflt, 0) << "writes to a populated table faulted";
}

TEST(HugePageMemoryTest, ZeroBytesMapNothing) {
  HugePageMemory m(0);
  EXPECT_EQ(m.data(), nullptr);
  EXPECT_EQ(m.size(), 0u);
}

TEST(HugePageMemoryTest, MovesHandOverTheMapping) {
  HugePageMemory a(8192);
  void* const p = a.data();
  HugePageMemory b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state
  HugePageMemory c(4096);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 8192u);
}

}  // namespace
}  // namespace ringward::base
