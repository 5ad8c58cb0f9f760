#include "issuance/store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringward/base/strings.h"

namespace ringward::issuance {

absl::Status IssuanceStore::Apply(uint16_t type, std::string_view payload) {
  if (!IsIssuanceRecordType(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("record type ", type, " is not an issuance record type"));
  }
  // Decoding cannot touch the state and applying cannot fail, so a batch is all or nothing.
  absl::StatusOr<std::vector<DecodedRecord>> decoded = DecodeRecord(type, payload);
  if (!decoded.ok()) {
    return decoded.status();
  }
  for (DecodedRecord& record : *decoded) {
    ApplyDecoded(record);
  }
  return absl::OkStatus();
}

void IssuanceStore::ApplyDecoded(DecodedRecord& record) {
  switch (record.type) {
    case kRecordClientPut: {
      Client& client = std::get<Client>(record.value);
      auto [it, inserted] = clients_.try_emplace(client.client_id);
      if (inserted || !(it->second == client)) {
        it->second = std::move(client);
        ++clients_version_;
      }
      break;
    }
    case kRecordClientDelete: {
      if (clients_.erase(std::get<std::string>(record.value)) > 0) {
        ++clients_version_;
      }
      break;
    }
    case kRecordUserPut: {
      User& user = std::get<User>(record.value);
      auto [it, inserted] = users_.try_emplace(user.username);
      if (inserted || !(it->second == user)) {
        it->second = std::move(user);
        ++users_version_;
      }
      break;
    }
    case kRecordUserDelete: {
      const std::string& username = std::get<std::string>(record.value);
      size_t erased = users_.erase(username);
      erased += attempts_.erase(username);
      erased += totp_steps_.erase(username);
      if (erased > 0) {
        ++users_version_;
      }
      break;
    }
    case kRecordUserAttempts: {
      UserAttempts& attempts = std::get<UserAttempts>(record.value);
      // All-zero counters are the default; not storing them keeps the map to users with a
      // recent failure and keeps a snapshot's "non-zero attempts" lossless.
      if (attempts.failures == 0 && attempts.locked_until == 0 && attempts.lockouts == 0) {
        if (attempts_.erase(attempts.username) > 0) {
          ++users_version_;
        }
        break;
      }
      auto [it, inserted] = attempts_.try_emplace(attempts.username);
      if (inserted || !(it->second == attempts)) {
        it->second = std::move(attempts);
        ++users_version_;
      }
      break;
    }
    case kRecordTotpUsed: {
      TotpUsed& used = std::get<TotpUsed>(record.value);
      auto [it, inserted] = totp_steps_.try_emplace(std::move(used.username), used.step);
      if (inserted) {
        ++users_version_;
      } else if (used.step > it->second) {
        it->second = used.step;
        ++users_version_;
      }
      break;
    }
    case kRecordRefreshIssue: {
      RefreshToken& token = std::get<RefreshToken>(record.value);
      refresh_.insert_or_assign(token.hash, std::move(token));
      break;
    }
    case kRecordRefreshUse: {
      auto it = refresh_.find(ToAbsl(std::get<std::string>(record.value)));
      if (it != refresh_.end()) {
        it->second.used = true;
      }
      break;
    }
    case kRecordFamilyRevoke: {
      FamilyRevoke& revoke = std::get<FamilyRevoke>(record.value);
      auto [it, inserted] = families_.try_emplace(std::move(revoke.family), revoke.exp);
      if (!inserted) {
        it->second = std::max(it->second, revoke.exp);
      }
      break;
    }
    case kRecordKeyPut: {
      KeyEntry& key = std::get<KeyEntry>(record.value);
      if (key.state == KeyState::kRemoved) {
        if (keys_.erase(key.kid) > 0) {
          ++keys_version_;
        }
        break;
      }
      auto [it, inserted] = keys_.try_emplace(key.kid);
      if (inserted || !(it->second == key)) {
        it->second = std::move(key);
        ++keys_version_;
      }
      break;
    }
    default:
      // DecodeRecord yields only the types above.
      break;
  }
}

const Client* IssuanceStore::FindClient(std::string_view client_id) const {
  auto it = clients_.find(client_id);
  return it == clients_.end() ? nullptr : &it->second;
}

std::vector<const Client*> IssuanceStore::Clients() const {
  std::vector<const Client*> out;
  out.reserve(clients_.size());
  for (const auto& [id, client] : clients_) {
    out.push_back(&client);
  }
  return out;
}

const User* IssuanceStore::FindUser(std::string_view username) const {
  auto it = users_.find(username);
  return it == users_.end() ? nullptr : &it->second;
}

std::vector<const User*> IssuanceStore::Users() const {
  std::vector<const User*> out;
  out.reserve(users_.size());
  for (const auto& [name, user] : users_) {
    out.push_back(&user);
  }
  return out;
}

UserAttempts IssuanceStore::Attempts(std::string_view username) const {
  auto it = attempts_.find(username);
  if (it != attempts_.end()) {
    return it->second;
  }
  UserAttempts none;
  none.username.assign(username.data(), username.size());
  return none;
}

int64_t IssuanceStore::TotpLastStep(std::string_view username) const {
  auto it = totp_steps_.find(username);
  return it == totp_steps_.end() ? -1 : it->second;
}

const RefreshToken* IssuanceStore::FindRefresh(std::string_view hash) const {
  auto it = refresh_.find(ToAbsl(hash));
  return it == refresh_.end() ? nullptr : &it->second;
}

bool IssuanceStore::FamilyRevoked(std::string_view family) const {
  return families_.contains(ToAbsl(family));
}

const KeyEntry* IssuanceStore::FindKey(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<const KeyEntry*> IssuanceStore::Keys() const {
  std::vector<const KeyEntry*> out;
  out.reserve(keys_.size());
  for (const auto& [kid, key] : keys_) {
    out.push_back(&key);
  }
  // keys_ is ordered by kid and the sort is stable, so equal created_at stays in kid order.
  std::stable_sort(out.begin(), out.end(), [](const KeyEntry* a, const KeyEntry* b) {
    return a->created_at < b->created_at;
  });
  return out;
}

std::vector<Record> IssuanceStore::LiveRecords(int64_t now) const {
  std::vector<Record> out;
  for (const auto& [id, client] : clients_) {
    out.push_back(ClientPutRecord(client));
  }
  for (const auto& [name, user] : users_) {
    out.push_back(UserPutRecord(user));
  }
  for (const auto& [name, attempts] : attempts_) {
    out.push_back(UserAttemptsRecord(attempts));
  }
  for (const auto& [name, step] : totp_steps_) {
    out.push_back(TotpUsedRecord(name, step));
  }
  for (const KeyEntry* key : Keys()) {
    out.push_back(KeyPutRecord(*key));
  }
  // Hash-map order differs from run to run; sorting makes two snapshots of one state equal
  // byte for byte, which replicas and tests can compare.
  std::vector<const RefreshToken*> tokens;
  for (const auto& [hash, token] : refresh_) {
    if (token.exp > now) {
      tokens.push_back(&token);
    }
  }
  std::sort(tokens.begin(), tokens.end(),
            [](const RefreshToken* a, const RefreshToken* b) { return a->hash < b->hash; });
  for (const RefreshToken* token : tokens) {
    out.push_back(RefreshIssueRecord(*token));
    if (token->used) {
      out.push_back(RefreshUseRecord(token->hash));
    }
  }
  std::vector<std::pair<std::string_view, int64_t>> families;
  for (const auto& [family, exp] : families_) {
    if (exp > now) {
      families.emplace_back(family, exp);
    }
  }
  std::sort(families.begin(), families.end());
  for (const auto& [family, exp] : families) {
    out.push_back(FamilyRevokeRecord(family, exp));
  }
  return out;
}

size_t IssuanceStore::Expire(int64_t now) {
  size_t dropped =
      absl::erase_if(refresh_, [now](const auto& entry) { return entry.second.exp <= now; });
  dropped += absl::erase_if(families_, [now](const auto& entry) { return entry.second <= now; });
  return dropped;
}

bool IssuanceStore::StateEquals(const IssuanceStore& other) const {
  return clients_ == other.clients_ && users_ == other.users_ && attempts_ == other.attempts_ &&
         totp_steps_ == other.totp_steps_ && keys_ == other.keys_ && refresh_ == other.refresh_ &&
         families_ == other.families_;
}

}  // namespace ringward::issuance
