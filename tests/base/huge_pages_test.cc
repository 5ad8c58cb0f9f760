// HugePageMemory: zeroed, rounded to whole pages (huge ones from 2 MiB on), owned once.
#include "ringward/base/huge_pages.h"

#include <cstdint>
#include <cstring>
#include <utility>

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
