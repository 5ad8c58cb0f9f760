// server/buffer_pool.h: ByteBuffer and BufferPool, a shard's per-connection byte buffers.
//
// A connection holds an input buffer only while it has an incomplete request (or requests it
// cannot answer yet), and an output buffer only while it has response bytes not yet sent, so an
// idle keep-alive connection holds none. Buffers are fixed-size blocks recycled through a free
// list: in steady state taking and returning one is a pointer pop and push, with no allocation.
// A buffer that must be bigger than a block (a large POST body, a bulk or /metrics response)
// comes from the heap and is freed when released; those routes are not the hot path.
//
// Thread-bound: one pool per shard; a ByteBuffer belongs to one connection of that shard.
#ifndef RINGWARD_SERVER_BUFFER_POOL_H_
#define RINGWARD_SERVER_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace ringward::server {

// ByteBuffer is a window [begin, end) of live bytes in |data| (capacity |cap|).
struct ByteBuffer {
  char* data = nullptr;
  size_t cap = 0;
  size_t begin = 0;
  size_t end = 0;

  size_t size() const { return end - begin; }
  bool empty() const { return end == begin; }
  const char* head() const { return data + begin; }
  size_t tail_room() const { return cap - end; }
};

class BufferPool {
 public:
  // |block_size| is the size of pooled blocks; |preallocate| blocks are made up front.
  BufferPool(size_t block_size, size_t preallocate);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  size_t block_size() const { return block_size_; }

  // Acquire gives |*buf| (which must hold no memory) a buffer of at least |min_size| bytes.
  void Acquire(ByteBuffer* buf, size_t min_size);

  // Release returns |*buf|'s memory (if any) and empties it.
  void Release(ByteBuffer* buf);

  // Reserve makes room for |extra| more bytes after |buf->end|, moving the live bytes to the
  // front of the buffer or into a bigger one as needed. Live bytes keep their contents.
  void Reserve(ByteBuffer* buf, size_t extra);

  // Append copies |n| bytes to the end of |*buf|, reserving room first.
  void Append(ByteBuffer* buf, const char* data, size_t n) {
    if (buf->tail_room() < n) {
      Reserve(buf, n);
    }
    std::memcpy(buf->data + buf->end, data, n);
    buf->end += n;
  }

  // Consume drops |n| live bytes from the front; an emptied buffer is released.
  void Consume(ByteBuffer* buf, size_t n) {
    buf->begin += n;
    if (buf->begin == buf->end) {
      Release(buf);
    }
  }

  size_t blocks_allocated() const { return blocks_.size(); }

 private:
  char* NewBlock();

  size_t block_size_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<char*> free_;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_BUFFER_POOL_H_
