// ringward/base/fd.h: Fd, a move-only owner of one file descriptor.
//
// An Fd closes its descriptor when destroyed or reset, so sockets, listeners and files cannot
// leak on an error path. It is header-only because every subsystem needs it and it has no
// dependencies beyond libc.
//
// Thread-compatible: an Fd is owned by one thread (a shard, or the thread that set it up and
// hands it over by moving it). The descriptor number itself may be used from anywhere while the
// Fd is alive; release() hands ownership to the caller.
#ifndef RINGWARD_BASE_FD_H_
#define RINGWARD_BASE_FD_H_

#include <unistd.h>

#include <utility>

namespace ringward {

class Fd {
 public:
  Fd() = default;
  // Fd takes ownership of |fd|; a negative value means "no descriptor".
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // release returns the descriptor and gives up ownership; the caller must close it.
  int release() { return std::exchange(fd_, -1); }

  // reset closes the owned descriptor (if any) and takes ownership of |fd|. close() is not
  // retried on EINTR: on Linux the descriptor is released even when close reports EINTR, and a
  // retry could close a descriptor another thread has just been given.
  void reset(int fd = -1) {
    if (fd_ >= 0 && fd_ != fd) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace ringward

#endif  // RINGWARD_BASE_FD_H_
