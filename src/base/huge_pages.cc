#include "ringward/base/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "ringward/base/os.h"

namespace ringward::base {
namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older C libraries do not name it
#endif

// Populate faults in every page of [p, p + length) now, so that the request path that probes
// the table never takes the first-touch fault: with huge pages that is a 2 MiB allocation and
// clear, hundreds of microseconds in a virtual machine whose host backs the memory on demand.
void Populate(void* p, size_t length) {
  if (madvise(p, length, MADV_POPULATE_WRITE) == 0) {
    return;
  }
  const int err = errno;
  if (err == ENOMEM) {
    std::fprintf(stderr, "ringward: cannot populate %zu bytes: %s\n", length,
                 ErrnoText(err).c_str());
    std::abort();
  }
  // EINVAL before Linux 5.14: touch one byte per 4 KiB page (the mapping is zeroed already).
  auto* bytes = static_cast<volatile char*>(p);
  for (size_t i = 0; i < length; i += 4096) {
    bytes[i] = 0;
  }
}

}  // namespace

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
  Populate(p, length);
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
