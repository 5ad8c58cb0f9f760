// ringward/base/huge_pages.h: HugePageMemory, a zeroed anonymous mapping advised to use
// transparent huge pages.
//
// Tables that the request path probes at random (the verified-token cache, the revocation
// filter) cost a TLB miss per probe on 4 KiB pages once they outgrow the TLB's reach; with
// MADV_HUGEPAGE one 2 MiB entry covers 512 times as much. The advice works where THP is
// "madvise" or "always" (Debian's default is madvise) and is harmless where it is off. Every page
// is faulted in when the mapping is made (MADV_POPULATE_WRITE), not on the request path.
#ifndef RINGWARD_BASE_HUGE_PAGES_H_
#define RINGWARD_BASE_HUGE_PAGES_H_

#include <cstddef>

namespace ringward::base {

class HugePageMemory {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageMemory() = default;
  // Maps |bytes| (rounded up to whole huge pages when at least one, else to 4 KiB pages),
  // zeroed and resident. Like operator new, running out of memory is fatal (the process aborts
  // with a message); |bytes| 0 maps nothing.
  explicit HugePageMemory(size_t bytes);
  HugePageMemory(HugePageMemory&& other) noexcept;
  HugePageMemory& operator=(HugePageMemory&& other) noexcept;
  HugePageMemory(const HugePageMemory&) = delete;
  HugePageMemory& operator=(const HugePageMemory&) = delete;
  ~HugePageMemory();

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ringward::base

#endif  // RINGWARD_BASE_HUGE_PAGES_H_
