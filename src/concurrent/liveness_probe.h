// concurrent/liveness_probe.h: LivenessProbe, a numbered "are you alive?" from the control
// thread to one shard, and the shard's echo of it.
//
// The systemd watchdog must be pinged only while every shard's event loop is turning. A shard
// with nothing to do blocks in io_uring_enter, so "it has not reported for a while" cannot tell
// idle from stuck. Instead the control thread posts probe number n to every shard and wakes
// them (a MSG_RING on their rings); each shard echoes the number it finds at the top of its next
// loop turn. When every shard has echoed n, every loop has turned since n was posted: the
// control thread pings systemd and posts n + 1. A shard stuck inside one turn never echoes, so
// the pings stop and systemd's watchdog fires.
//
// Thread-safety: Post and echoed from the control thread only; posted and Echo from the owning
// shard only. One writer per field, so plain stores suffice (no read-modify-write). The two
// fields sit on separate cache lines: the shard reads |posted_| on every loop turn, and the
// control thread's polling of |echoed_| must not keep pulling that line away from it.
//
// Memory ordering: Post is a release store and posted an acquire load; Echo is a release store
// and echoed an acquire load. The probe carries no other data, so what matters is only that an
// echo of n is evidence of a loop turn that began after n was posted: the shard can read n only
// after the control thread stored it (coherence of the one variable), and it stores the echo
// after that read in its own program order; the release/acquire pairs make that chain a
// happens-before relation the control thread can rely on, not just an outcome of x86's strong
// ordering. A shard that reads a stale number (the wake-up raced the store) echoes the older
// one and catches up on its next turn; that delays one ping, it never forges one.
#ifndef RINGWARD_CONCURRENT_LIVENESS_PROBE_H_
#define RINGWARD_CONCURRENT_LIVENESS_PROBE_H_

#include <atomic>
#include <cstdint>

namespace ringward::concurrent {

class LivenessProbe {
 public:
  LivenessProbe() = default;
  LivenessProbe(const LivenessProbe&) = delete;
  LivenessProbe& operator=(const LivenessProbe&) = delete;

  // Post publishes probe number |n| (increasing, starting at 1). Control thread.
  void Post(uint64_t n) { posted_.store(n, std::memory_order_release); }
  // echoed is the last number the shard echoed (0: none yet). Control thread.
  uint64_t echoed() const { return echoed_.load(std::memory_order_acquire); }

  // posted is the latest probe number (0: none yet). Owning shard, once per loop turn.
  uint64_t posted() const { return posted_.load(std::memory_order_acquire); }
  // Echo answers probe |n|. Owning shard, only when |n| differs from its last echo.
  void Echo(uint64_t n) { echoed_.store(n, std::memory_order_release); }

 private:
  alignas(64) std::atomic<uint64_t> posted_{0};
  alignas(64) std::atomic<uint64_t> echoed_{0};
};

}  // namespace ringward::concurrent

#endif  // RINGWARD_CONCURRENT_LIVENESS_PROBE_H_
