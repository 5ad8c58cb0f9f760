#include "issuance/rotation.h"

#include "absl/strings/str_cat.h"

namespace ringward::issuance {

RotationPlan PlanRotation(const std::vector<const KeyEntry*>& keys, int64_t now,
                          const RotationPolicy& policy, bool forced) {
  RotationPlan plan;
  const KeyEntry* active = nullptr;
  const KeyEntry* next = nullptr;
  for (const KeyEntry* k : keys) {
    switch (k->state) {
      case KeyState::kActive:
        if (active == nullptr || k->activated_at > active->activated_at) {
          active = k;
        }
        break;
      case KeyState::kNext:
        if (next == nullptr || k->created_at < next->created_at) {
          next = k;
        }
        break;
      case KeyState::kRetired:
        if (k->retired_at + policy.retire_after_s <= now) {
          plan.remove_kids.push_back(k->kid);
        }
        break;
      case KeyState::kRemoved:
        break;
    }
  }

  if (next == nullptr) {
    // Publish a successor as early as possible: its lead time then runs while the active key
    // is still signing, and a later rotation need not wait for it.
    plan.create_next = true;
    if (forced && active != nullptr) {
      plan.wait_reason = absl::StrCat(
          "no next key was published; one is created now and may sign from ",
          now + policy.publish_lead_s, " (publish_lead_s)");
    }
    return plan;
  }

  const int64_t may_sign_from = next->created_at + policy.publish_lead_s;
  const bool next_ready = may_sign_from <= now;
  const bool due = active == nullptr || forced ||
                   (policy.rotation_interval_s > 0 &&
                    active->activated_at + policy.rotation_interval_s <= now);
  if (!due) {
    return plan;
  }
  if (!next_ready) {
    if (forced) {
      plan.wait_reason = absl::StrCat("next key ", next->kid, " was published at ",
                                      next->created_at, "; it may sign from ", may_sign_from,
                                      " (publish_lead_s)");
    }
    return plan;
  }
  plan.promote_kid = next->kid;
  if (active != nullptr) {
    plan.retire_kid = active->kid;
  }
  plan.create_next = true;
  return plan;
}

bool BootstrapNeeded(const std::vector<const KeyEntry*>& keys) {
  for (const KeyEntry* k : keys) {
    if (k->state != KeyState::kRemoved) {
      return false;
    }
  }
  return true;
}

std::string PublishedJwks(const std::vector<const KeyEntry*>& keys) {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (KeyState state : {KeyState::kActive, KeyState::kNext, KeyState::kRetired}) {
    for (const KeyEntry* k : keys) {
      if (k->state != state || k->public_jwk.empty()) {
        continue;
      }
      if (!first) {
        out.push_back(',');
      }
      out.append(k->public_jwk);
      first = false;
    }
  }
  out.append("]}");
  return out;
}

}  // namespace ringward::issuance
