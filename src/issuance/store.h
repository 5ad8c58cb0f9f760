// issuance/store.h: IssuanceStore, the in-memory issuance state (clients, users, lock-out
// counters, TOTP replay steps, refresh tokens, revoked refresh-token families, signing keys),
// rebuilt by applying the issuance records of the write-ahead log (records.h) in order.
//
// Apply has idempotent "set" semantics, because a compaction snapshot (LiveRecords) may overlap
// the log records replayed after it: re-applying any suffix of the applied sequence leaves the
// state unchanged, and a snapshot followed by an overlapping tail gives the same state as the
// full log (less what Expire dropped).
//
// Thread-compatible: the owner serialises every call (the control plane holds its lock). The
// store owns all entries; a pointer it returns stays valid until that entry is erased (a
// delete record, a key_put to "removed", Expire) or the store is destroyed. A put on an
// existing entry replaces the contents in place.
#ifndef RINGWARD_ISSUANCE_STORE_H_
#define RINGWARD_ISSUANCE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "issuance/records.h"

namespace ringward::issuance {

class IssuanceStore {
 public:
  IssuanceStore() = default;

  // Apply applies one log record of any issuance type. A batch is atomic: every element is
  // decoded before any is applied, so a bad element changes nothing. Returns InvalidArgument
  // for a type that is not an issuance record type (the caller passes those over or routes
  // them elsewhere) and DataLoss for a malformed payload; the state is unchanged on error.
  //
  // Effects: client_put / user_put / key_put create or replace the entry (user_put keeps the
  // user's attempts and TOTP step); client_delete erases the client (its refresh tokens stay
  // and fail the client lookup); user_delete erases the user, its attempts and its TOTP step;
  // user_attempts sets the counters (all zero erases them); totp_used keeps the larger step;
  // refresh_issue inserts or replaces the token as unused; refresh_use marks a known token used
  // (an unknown hash, e.g. already expired, is ignored); family_revoke keeps the later exp;
  // key_put with state "removed" erases the key, so a removed key is gone alike from a store
  // that saw it and from one rebuilt from a snapshot.
  absl::Status Apply(uint16_t type, std::string_view payload);

  // Clients.
  const Client* FindClient(std::string_view client_id) const;
  std::vector<const Client*> Clients() const;  // sorted by client_id

  // Users.
  const User* FindUser(std::string_view username) const;
  std::vector<const User*> Users() const;  // sorted by username
  // Attempts returns the lock-out counters of |username|, all zero (with the username set)
  // when there are none.
  UserAttempts Attempts(std::string_view username) const;
  // TotpLastStep returns the last accepted TOTP time step of |username|, or -1 for none.
  int64_t TotpLastStep(std::string_view username) const;

  // Refresh tokens.
  const RefreshToken* FindRefresh(std::string_view hash) const;
  // FamilyRevoked reports whether |family| has been revoked and not yet expired away.
  bool FamilyRevoked(std::string_view family) const;

  // Signing keys; a removed key is not kept (see Apply).
  const KeyEntry* FindKey(std::string_view kid) const;
  std::vector<const KeyEntry*> Keys() const;  // sorted by created_at, then kid

  // Versions count the changes to one part of the state, so that an owner can tell when to
  // rebuild what it derives from it (a shard's snapshot, a JWKS document). A record that
  // leaves the part as it was (a put of equal contents, a delete of nothing) does not count.
  uint64_t clients_version() const { return clients_version_; }
  uint64_t keys_version() const { return keys_version_; }
  // users_version counts changes to users, their attempts and their TOTP steps.
  uint64_t users_version() const { return users_version_; }

  // LiveRecords returns the state as records for a compaction snapshot: every client, user,
  // non-zero attempts, TOTP step and key; every refresh token with exp > |now| (refresh_issue,
  // then refresh_use when it was used); every revoked family with exp > |now|. Applying them to
  // an empty store gives a store whose state equals this one less what Expire(|now|) would
  // drop. The order is deterministic.
  std::vector<Record> LiveRecords(int64_t now) const;

  // Expire drops refresh tokens and revoked families with exp <= |now| (they can no longer be
  // presented: the token has expired) and returns how many it dropped.
  size_t Expire(int64_t now);

  size_t refresh_count() const { return refresh_.size(); }
  size_t revoked_family_count() const { return families_.size(); }

  // StateEquals reports whether |other| holds the same state (versions aside).
  bool StateEquals(const IssuanceStore& other) const;

 private:
  void ApplyDecoded(DecodedRecord& record);

  // Ordered maps where a sorted listing is wanted; hash maps for the parts that grow with
  // traffic. The refresh map is node-based so that FindRefresh pointers survive inserts.
  std::map<std::string, Client, std::less<>> clients_;
  std::map<std::string, User, std::less<>> users_;
  std::map<std::string, UserAttempts, std::less<>> attempts_;
  std::map<std::string, int64_t, std::less<>> totp_steps_;
  std::map<std::string, KeyEntry, std::less<>> keys_;
  absl::node_hash_map<std::string, RefreshToken> refresh_;
  absl::flat_hash_map<std::string, int64_t> families_;  // family -> exp

  uint64_t clients_version_ = 0;
  uint64_t keys_version_ = 0;
  uint64_t users_version_ = 0;
};

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_STORE_H_
