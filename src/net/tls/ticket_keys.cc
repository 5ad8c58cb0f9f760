#include "ringward/net/tls/ticket_keys.h"

#include <cstring>
#include <utility>

#include "openssl/mem.h"
#include "openssl/rand.h"

namespace ringward::tls {

TicketKey TicketKey::Generate() {
  TicketKey key;
  RAND_bytes(key.name.data(), key.name.size());
  RAND_bytes(key.aes_key.data(), key.aes_key.size());
  RAND_bytes(key.hmac_key.data(), key.hmac_key.size());
  return key;
}

TicketKeySet::TicketKeySet(const TicketKey& current, std::vector<TicketKey> previous) {
  keys_.reserve(previous.size() + 1);
  keys_.push_back(current);
  for (const TicketKey& key : previous) {
    keys_.push_back(key);
  }
  OPENSSL_cleanse(previous.data(), previous.size() * sizeof(TicketKey));
}

TicketKeySet::~TicketKeySet() { OPENSSL_cleanse(keys_.data(), keys_.size() * sizeof(TicketKey)); }

const TicketKey* TicketKeySet::Find(const uint8_t* name, bool* is_current) const {
  // Key names are public (they travel in the clear in every ticket), so a plain comparison is
  // fine here; the secrets are only ever handed to the cipher and the MAC.
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(keys_[i].name.data(), name, TicketKey::kNameSize) == 0) {
      *is_current = (i == 0);
      return &keys_[i];
    }
  }
  return nullptr;
}

TicketKeys::TicketKeys(size_t previous_keys) : TicketKeys(TicketKey::Generate(), previous_keys) {}

TicketKeys::TicketKeys(const TicketKey& initial, size_t previous_keys)
    : previous_keys_(previous_keys),
      keys_(std::make_shared<const TicketKeySet>(initial, std::vector<TicketKey>())) {}

void TicketKeys::Rotate() {
  TicketKey next = TicketKey::Generate();
  Rotate(next);
  OPENSSL_cleanse(&next, sizeof(next));
}

void TicketKeys::Rotate(const TicketKey& next) {
  std::shared_ptr<const TicketKeySet> old = keys_.Load();
  while (true) {
    std::vector<TicketKey> previous;
    previous.reserve(previous_keys_);
    if (previous_keys_ > 0) {
      previous.push_back(old->current());
      for (size_t i = 0; i < old->previous_count() && previous.size() < previous_keys_; ++i) {
        previous.push_back(old->previous(i));
      }
    }
    auto fresh = std::make_shared<const TicketKeySet>(next, std::move(previous));
    // A concurrent Rotate may have published in between; derive again from its set so that
    // neither rotation's key is lost.
    if (keys_.CompareExchange(&old, std::move(fresh))) {
      return;
    }
  }
}

}  // namespace ringward::tls
