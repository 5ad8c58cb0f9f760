#include "server/buffer_pool.h"

#include <string>

#include "gtest/gtest.h"

namespace ringward::server {
namespace {

TEST(BufferPoolTest, BlocksAreReusedWithoutAllocating) {
  BufferPool pool(1024, 2);
  ByteBuffer a, b, c;
  pool.Acquire(&a, 10);
  pool.Acquire(&b, 1024);
  EXPECT_EQ(pool.blocks_allocated(), 2u);
  pool.Release(&a);
  pool.Acquire(&c, 100);
  EXPECT_EQ(pool.blocks_allocated(), 2u);
  EXPECT_EQ(a.data, nullptr);
  pool.Release(&b);
  pool.Release(&c);
}

TEST(BufferPoolTest, AppendCompactsThenGrowsKeepingBytes) {
  BufferPool pool(8, 0);
  ByteBuffer buf;
  pool.Append(&buf, "abcdef", 6);
  pool.Consume(&buf, 4);  // "ef" left at offset 4
  pool.Append(&buf, "ghij", 4);
  EXPECT_EQ(std::string(buf.head(), buf.size()), "efghij");
  EXPECT_EQ(buf.cap, 8u);  // compacted, not grown
  pool.Append(&buf, "klmnop", 6);
  EXPECT_EQ(std::string(buf.head(), buf.size()), "efghijklmnop");
  EXPECT_GE(buf.cap, 12u);
  pool.Consume(&buf, buf.size());
  EXPECT_EQ(buf.data, nullptr);  // emptied buffers go back
}

}  // namespace
}  // namespace ringward::server
