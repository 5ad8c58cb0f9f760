#include "ringward/net/tls/ciphertext_buffers.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ringward::tls {

ReceiveBuffer::ReceiveBuffer(size_t capacity)
    : data_(new uint8_t[capacity]), capacity_(capacity) {}

void ReceiveBuffer::Append(const uint8_t* data, size_t n) {
  if (n == 0) {
    return;
  }
  if (capacity_ - end_ < n) {
    const size_t held = size();
    if (begin_ != 0) {
      std::memmove(data_.get(), data_.get() + begin_, held);
      begin_ = 0;
      end_ = held;
    }
    if (capacity_ - end_ < n) {
      // The caller fed more than it read; grow geometrically so this stays rare.
      const size_t capacity = std::max(capacity_ * 2, held + n);
      std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);
      std::memcpy(bigger.get(), data_.get(), held);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
  }
  std::memcpy(data_.get() + end_, data, n);
  end_ += n;
}

size_t ReceiveBuffer::Read(uint8_t* out, size_t n) {
  const size_t take = std::min(n, size());
  std::memcpy(out, data_.get() + begin_, take);
  begin_ += take;
  if (begin_ == end_) {
    begin_ = 0;
    end_ = 0;
  }
  return take;
}

SendQueue::Block SendQueue::NewBlock(size_t capacity) {
  Block block;
  block.data.reset(new uint8_t[capacity]);
  block.capacity = capacity;
  return block;
}

SendQueue::SendQueue(size_t block_capacity) : block_capacity_(block_capacity) {
  blocks_.reserve(4);
  blocks_.push_back(NewBlock(block_capacity));
}

void SendQueue::Append(const uint8_t* data, size_t n) {
  if (n == 0) {
    return;
  }
  if (size_ == 0) {
    // Nothing is queued, so nothing can be in flight: start over at offset zero in one block of
    // at least the configured size.
    if (blocks_.size() > 1) {
      blocks_.erase(blocks_.begin() + 1, blocks_.end());
    }
    Block& only = blocks_.front();
    only.begin = 0;
    only.end = 0;
    if (only.capacity < block_capacity_) {
      only = NewBlock(block_capacity_);
    }
  }
  size_ += n;
  Block* last = &blocks_.back();
  const size_t fits = std::min(n, last->capacity - last->end);
  std::memcpy(last->data.get() + last->end, data, fits);
  last->end += fits;
  if (fits == n) {
    return;
  }
  // Bytes already queued may be in flight, so they stay where they are; the rest starts a new
  // block. std::vector may move the Block records, never the bytes they point to.
  blocks_.push_back(NewBlock(std::max(n - fits, block_capacity_)));
  last = &blocks_.back();
  std::memcpy(last->data.get(), data + fits, n - fits);
  last->end = n - fits;
}

std::span<const uint8_t> SendQueue::Front() const {
  const Block& first = blocks_.front();
  return {first.data.get() + first.begin, first.end - first.begin};
}

void SendQueue::Consume(size_t n) {
  Block& first = blocks_.front();
  n = std::min(n, first.end - first.begin);
  first.begin += n;
  size_ -= n;
  if (first.begin == first.end && blocks_.size() > 1) {
    blocks_.erase(blocks_.begin());
  }
}

size_t SendQueue::AppendableWithoutNewBlock() const {
  if (size_ == 0) {
    return std::max(blocks_.front().capacity, block_capacity_);
  }
  const Block& last = blocks_.back();
  return last.capacity - last.end;
}

}  // namespace ringward::tls
