// ringward/net/tls/ciphertext_buffers.h: the two byte FIFOs a TlsSession keeps between the ring
// and BoringSSL. They are public only because TlsSession holds them by value; nothing else needs
// them.
//
//  - ReceiveBuffer holds ciphertext received from the socket until BoringSSL reads it. Nobody
//    outside the session points into it, so it compacts freely.
//  - SendQueue holds ciphertext BoringSSL produced until the ring has sent it. The ring sends
//    straight out of it, possibly while more ciphertext is appended (a pipelined response, a
//    TLS 1.3 KeyUpdate, tickets). So bytes never move once appended: when the last block is full,
//    appending starts a new block instead of reallocating, and a block is reset to offset zero
//    only when the queue is empty (nothing can be in flight). In steady state one block of the
//    configured capacity serves the whole connection and nothing is allocated.
//
// Thread-bound: owned by one TlsSession on one shard.
#ifndef RINGWARD_NET_TLS_CIPHERTEXT_BUFFERS_H_
#define RINGWARD_NET_TLS_CIPHERTEXT_BUFFERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ringward::tls {

class ReceiveBuffer {
 public:
  explicit ReceiveBuffer(size_t capacity);

  ReceiveBuffer(const ReceiveBuffer&) = delete;
  ReceiveBuffer& operator=(const ReceiveBuffer&) = delete;

  // Append copies |n| bytes in, compacting first and growing only if they still do not fit.
  void Append(const uint8_t* data, size_t n);
  // Read moves up to |n| bytes to |out| and returns how many it moved.
  size_t Read(uint8_t* out, size_t n);

  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

class SendQueue {
 public:
  explicit SendQueue(size_t block_capacity);

  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Append copies |n| bytes to the back. Never moves queued bytes.
  void Append(const uint8_t* data, size_t n);

  // Front returns the oldest queued bytes that are contiguous (the unsent part of the first
  // block); empty when nothing is queued. The span stays valid, with the same contents, until
  // Consume passes its end; later Appends do not disturb it.
  std::span<const uint8_t> Front() const;

  // Consume drops the first |n| queued bytes (n <= Front().size()).
  void Consume(size_t n);

  // AppendableWithoutNewBlock returns how many bytes the next Append can take without starting
  // a new block.
  size_t AppendableWithoutNewBlock() const;

  size_t size() const { return size_; }
  size_t block_count() const { return blocks_.size(); }

 private:
  struct Block {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0;
    size_t begin = 0;
    size_t end = 0;
  };

  static Block NewBlock(size_t capacity);

  const size_t block_capacity_;
  std::vector<Block> blocks_;  // FIFO, oldest first; never empty
  size_t size_ = 0;
};

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_CIPHERTEXT_BUFFERS_H_
