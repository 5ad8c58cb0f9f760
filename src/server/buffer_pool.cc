#include "server/buffer_pool.h"

#include <algorithm>

namespace ringward::server {

BufferPool::BufferPool(size_t block_size, size_t preallocate) : block_size_(block_size) {
  blocks_.reserve(preallocate);
  free_.reserve(preallocate);
  for (size_t i = 0; i < preallocate; ++i) {
    free_.push_back(NewBlock());
  }
}

char* BufferPool::NewBlock() {
  blocks_.push_back(std::make_unique<char[]>(block_size_));
  return blocks_.back().get();
}

void BufferPool::Acquire(ByteBuffer* buf, size_t min_size) {
  if (min_size <= block_size_) {
    if (free_.empty()) {
      buf->data = NewBlock();
    } else {
      buf->data = free_.back();
      free_.pop_back();
    }
    buf->cap = block_size_;
  } else {
    buf->data = new char[min_size];
    buf->cap = min_size;
  }
  buf->begin = 0;
  buf->end = 0;
}

void BufferPool::Release(ByteBuffer* buf) {
  if (buf->data != nullptr) {
    if (buf->cap == block_size_) {
      free_.push_back(buf->data);
    } else {
      delete[] buf->data;
    }
  }
  *buf = ByteBuffer{};
}

void BufferPool::Reserve(ByteBuffer* buf, size_t extra) {
  if (buf->data == nullptr) {
    Acquire(buf, extra);
    return;
  }
  if (buf->tail_room() >= extra) {
    return;
  }
  const size_t live = buf->size();
  if (live + extra <= buf->cap) {
    std::memmove(buf->data, buf->data + buf->begin, live);
    buf->begin = 0;
    buf->end = live;
    return;
  }
  ByteBuffer bigger;
  Acquire(&bigger, std::max(live + extra, 2 * buf->cap));
  std::memcpy(bigger.data, buf->data + buf->begin, live);
  bigger.end = live;
  Release(buf);
  *buf = bigger;
}

}  // namespace ringward::server
