// src/net/uring/internal.h: helpers shared by the uring sources; not part of the public API.
//
// Pure functions, thread-safe.
#ifndef RINGWARD_SRC_NET_URING_INTERNAL_H_
#define RINGWARD_SRC_NET_URING_INTERNAL_H_

#include <string>

namespace ringward::uring::internal {

// SetupFlagNames spells IORING_SETUP_* bits as "SINGLE_ISSUER|DEFER_TASKRUN|...", for messages.
std::string SetupFlagNames(unsigned flags);

}  // namespace ringward::uring::internal

#endif  // RINGWARD_SRC_NET_URING_INTERNAL_H_
