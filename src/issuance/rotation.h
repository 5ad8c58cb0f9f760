// issuance/rotation.h: planning signing-key rotation with publish-before-use.
//
// A key goes next (published in the JWKS, not signing) -> active (signing) -> retired (still
// published, so tokens it signed keep verifying) -> removed. A key may only start signing once
// it has been published for publish_lead_s, so that every verifier that caches the JWKS for up
// to that long has seen it; a retired key stays published until every token it signed has
// expired. Planning is a pure function of the key list, the time and the policy: the caller
// (the control plane) carries the plan out and records each step in the log.
//
// Pure functions; thread-safe. The KeyEntry pointers are borrowed for the call.
#ifndef RINGWARD_ISSUANCE_ROTATION_H_
#define RINGWARD_ISSUANCE_ROTATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "issuance/records.h"

namespace ringward::issuance {

struct RotationPolicy {
  // Seconds a key signs before it is replaced; 0: rotate only on demand.
  int64_t rotation_interval_s = 7776000;
  // Seconds a next key must have been published before it may sign (at least the JWKS cache
  // lifetime that verifiers are told, Cache-Control max-age).
  int64_t publish_lead_s = 600;
  // Seconds a retired key stays published: the longest access-token lifetime plus the
  // verifiers' leeway. It is removed once retired_at + retire_after_s has passed.
  int64_t retire_after_s = 0;
};

struct RotationPlan {
  // Generate a new key and publish it as next.
  bool create_next = false;
  // next -> active (empty: none).
  std::string promote_kid;
  // active -> retired (empty: none); only ever set together with promote_kid.
  std::string retire_kid;
  // retired -> removed.
  std::vector<std::string> remove_kids;
  // Why a forced rotation cannot happen yet (empty when it can, or when none was asked for).
  std::string wait_reason;
};

// PlanRotation says what to do at |now|:
//  - no active and no next key: create_next (see BootstrapNeeded for activating it at once);
//  - no active key but a next key published for >= publish_lead_s: promote it;
//  - scheduled (rotation_interval_s > 0 and active.activated_at + interval <= now) or |forced|:
//    promote the next key and retire the active one, when the next key has been published for
//    >= publish_lead_s; otherwise, when |forced|, wait_reason says from when it may sign;
//  - after a promotion, or whenever no next key exists: create_next;
//  - retired keys with retired_at + retire_after_s <= now: remove_kids.
// When several keys share a state (which the caller never makes), the active key activated last
// and the next key published first are the ones considered.
RotationPlan PlanRotation(const std::vector<const KeyEntry*>& keys, int64_t now,
                          const RotationPolicy& policy, bool forced);

// BootstrapNeeded reports whether every key (if any) is removed: then the first key may be
// active at once, since no verifier can have cached a JWKS that lacks it while trusting another
// key of ours.
bool BootstrapNeeded(const std::vector<const KeyEntry*>& keys);

// PublishedJwks returns {"keys":[...]} with the public JWKs of the active, next and retired
// keys, in that order (active first, so naive clients that take the first key pick the signing
// one). public_jwk strings are copied verbatim: they were produced by Key::ToJwk(false).
std::string PublishedJwks(const std::vector<const KeyEntry*>& keys);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_ROTATION_H_
