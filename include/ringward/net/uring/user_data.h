// ringward/net/uring/user_data.h: packing (operation, slot index, generation) into the 64-bit
// user_data that io_uring returns with every completion.
//
// A shard keeps its connections in a table of reusable slots. When a connection closes, its
// slot is reused for the next accepted connection, but completions of operations the old
// connection had in flight (a multishot recv's final CQE, a timeout, a send) may still arrive.
// Each slot therefore carries a generation that is bumped on reuse; a completion whose
// generation differs from the slot's current one belongs to a previous tenant and must be
// dropped (after releasing any provided buffer it carries).
//
// Layout, from the most significant bit:  op (8 bits) | generation (32 bits) | index (24 bits).
// Op value 0 is never used, so a zero user_data (an SQE whose user_data was never set) never
// decodes to a valid operation, and 0xff is reserved because liburing uses an all-ones
// user_data internally for its own timeouts on kernels without IORING_FEAT_EXT_ARG.
//
// Pure value types and constexpr functions: thread-safe, no allocation.
#ifndef RINGWARD_NET_URING_USER_DATA_H_
#define RINGWARD_NET_URING_USER_DATA_H_

#include <cstdint>

namespace ringward::uring {

// Op names what an SQE was for. Values are part of the user_data encoding only (never stored
// outside the process), so they may be renumbered freely, except that 0 and 0xff stay unused.
enum class Op : uint8_t {
  kInvalid = 0,
  kAccept = 1,
  kRecv = 2,
  kSend = 3,
  kClose = 4,
  kTimeout = 5,
  kLinkTimeout = 6,
  kCancel = 7,
  kWake = 8,     // a message from another shard's ring (IORING_OP_MSG_RING)
  kMsgSent = 9,  // the sender-side completion of a MSG_RING
  kNop = 10,
  kUser = 32,  // first value free for the server's own operations (kUser + n)
  kReserved = 0xff,
};

struct UserData {
  static constexpr int kIndexBits = 24;
  static constexpr int kGenerationBits = 32;
  static constexpr uint32_t kMaxIndex = (1u << kIndexBits) - 1;

  Op op = Op::kInvalid;
  uint32_t generation = 0;
  uint32_t index = 0;  // must be <= kMaxIndex; higher bits are dropped by Encode

  constexpr uint64_t Encode() const {
    return (uint64_t{static_cast<uint8_t>(op)} << (kIndexBits + kGenerationBits)) |
           (uint64_t{generation} << kIndexBits) | (uint64_t{index} & kMaxIndex);
  }

  static constexpr UserData Decode(uint64_t raw) {
    UserData d;
    d.op = static_cast<Op>(raw >> (kIndexBits + kGenerationBits));
    d.generation = static_cast<uint32_t>(raw >> kIndexBits);
    d.index = static_cast<uint32_t>(raw & kMaxIndex);
    return d;
  }

  // IsCurrent reports whether this completion belongs to the slot's present tenant, whose
  // generation is |slot_generation|. A false result means a stale completion.
  constexpr bool IsCurrent(uint32_t slot_generation) const { return generation == slot_generation; }

  friend constexpr bool operator==(const UserData&, const UserData&) = default;
};

// EncodeUserData is shorthand for UserData{op, generation, index}.Encode().
constexpr uint64_t EncodeUserData(Op op, uint32_t index, uint32_t generation) {
  return UserData{op, generation, index}.Encode();
}

}  // namespace ringward::uring

#endif  // RINGWARD_NET_URING_USER_DATA_H_
