// SpscQueue (order, capacity, values moved out and released) and WakeFlag/Doorbell (no wake-up is
// ever lost: a consumer that sleeps only when told to still sees every message).
#include "concurrent/spsc_queue.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "concurrent/wake.h"
#include "gtest/gtest.h"

namespace ringward::concurrent {
namespace {

TEST(SpscQueueTest, FifoUpToCapacityThenFull) {
  SpscQueue<int> q(5);  // rounded up to 8
  EXPECT_EQ(q.capacity(), 8u);
  EXPECT_TRUE(q.ApproxEmpty());
  for (int i = 0; i < 8; ++i) {
    int v = i;
    ASSERT_TRUE(q.TryPush(std::move(v)));
  }
  int extra = 99;
  EXPECT_FALSE(q.TryPush(std::move(extra)));
  EXPECT_EQ(extra, 99);  // a refused value is left as it was
  int out = -1;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(q.TryPop(&out));
    EXPECT_EQ(out, i);
  }
  EXPECT_FALSE(q.TryPop(&out));
  EXPECT_TRUE(q.ApproxEmpty());
}

TEST(SpscQueueTest, MovesOwnershipAndReleasesSlots) {
  SpscQueue<std::unique_ptr<int>> q(2);
  std::weak_ptr<int> watch;
  auto shared = std::make_shared<int>(7);
  watch = shared;
  SpscQueue<std::shared_ptr<int>> sq(2);
  ASSERT_TRUE(sq.TryPush(std::move(shared)));
  std::shared_ptr<int> out;
  ASSERT_TRUE(sq.TryPop(&out));
  out.reset();
  EXPECT_TRUE(watch.expired());  // the slot does not keep a moved-out value alive
  auto p = std::make_unique<int>(3);
  ASSERT_TRUE(q.TryPush(std::move(p)));
  EXPECT_EQ(p, nullptr);
  std::unique_ptr<int> got;
  ASSERT_TRUE(q.TryPop(&got));
  EXPECT_EQ(*got, 3);
}

TEST(SpscQueueTest, TwoThreadsSeeEveryValueInOrder) {
  constexpr uint64_t kCount = 1 << 20;
  SpscQueue<uint64_t> q(64);
  std::thread producer([&q] {
    for (uint64_t i = 0; i < kCount;) {
      uint64_t v = i;
      if (q.TryPush(std::move(v))) {
        ++i;
      }
    }
  });
  uint64_t expected = 0;
  uint64_t v = 0;
  while (expected < kCount) {
    if (q.TryPop(&v)) {
      ASSERT_EQ(v, expected);
      ++expected;
    }
  }
  producer.join();
}

TEST(WakeFlagTest, OnlyTheFirstRaiseWakes) {
  WakeFlag flag;
  EXPECT_TRUE(flag.Raise());
  EXPECT_FALSE(flag.Raise());
  EXPECT_TRUE(flag.raised());
  EXPECT_TRUE(flag.Lower());
  EXPECT_FALSE(flag.Lower());
  EXPECT_TRUE(flag.Raise());
}

TEST(DoorbellTest, NoMessageIsLeftWithTheConsumerAsleep) {
  // The producer pushes and rings; the consumer drains and sleeps (long timeout) only when
  // the doorbell says nothing is pending. A lost wake-up would stall it for the full timeout.
  absl::StatusOr<std::unique_ptr<Doorbell>> bell = Doorbell::Create();
  ASSERT_TRUE(bell.ok());
  constexpr int kMessages = 200000;
  SpscQueue<int> q(1024);
  std::thread producer([&] {
    for (int i = 0; i < kMessages;) {
      int v = i;
      if (q.TryPush(std::move(v))) {
        (*bell)->Ring();
        ++i;
      }
    }
  });
  const auto start = std::chrono::steady_clock::now();
  int received = 0;
  int v = 0;
  while (received < kMessages) {
    (*bell)->Wait(std::chrono::seconds(5));
    while (q.TryPop(&v)) {
      ASSERT_EQ(v, received);
      ++received;
    }
  }
  producer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // Take the last ring (it may have come after the consumer's last Wait); then nothing is
  // pending and a wait times out.
  (*bell)->Wait(std::chrono::milliseconds(0));
  EXPECT_FALSE((*bell)->Wait(std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace ringward::concurrent
