#include "ringward/base/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "ringward/base/os.h"

namespace ringward::base {

HugePageMemory::HugePageMemory(size_t bytes) {
  constexpr size_t kPage = 4096;
  const size_t unit = bytes >= kHugePage ? kHugePage : kPage;
  const size_t length = (bytes + unit - 1) / unit * unit;
  if (length == 0) {
    return;
  }
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    std::fprintf(stderr, "ringward: cannot map %zu bytes: %s\n", length,
                 ErrnoText(err).c_str());
    std::abort();
  }
  if (unit == kHugePage) {
    (void)madvise(p, length, MADV_HUGEPAGE);  // advice only: 4 KiB pages work too
  }
  data_ = p;
  size_ = length;
}

HugePageMemory::HugePageMemory(HugePageMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HugePageMemory& HugePageMemory::operator=(HugePageMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) {
      munmap(data_, size_);
    }
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

HugePageMemory::~HugePageMemory() {
  if (data_ != nullptr) {
    munmap(data_, size_);
  }
}

}  // namespace ringward::base
