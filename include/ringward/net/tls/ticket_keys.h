// ringward/net/tls/ticket_keys.h: the keys that encrypt TLS session tickets, shared by every shard
// and rotated by their owner.
//
// ringward's servers keep no session cache: a client resumes by presenting a ticket, which is the
// session state encrypted and authenticated under a ticket key (AES-256-CBC plus HMAC-SHA256, the
// construction BoringSSL's ticket key callback prescribes). Because every shard, and every
// TlsContext built with the same TicketKeys, encrypts under the same current key and accepts the
// same previous keys, a client may resume on any shard, and across a certificate reload.
//
// Rotation: Rotate() makes a new immutable TicketKeySet whose current key is fresh and whose
// previous keys are the old current key followed by the old previous keys, truncated to
// |previous_keys|. Tickets made under a key are honoured while that key is current or one of the
// kept previous keys, so with a rotation interval R a ticket stays usable for at least
// R * previous_keys (and at most the ticket lifetime the TlsContext sets). A ticket decrypted with
// a previous key is renewed under the current key.
//
// Thread-safe: Load may run on any shard concurrently with Rotate on the owner's thread; Rotate
// calls may also race each other (each one's key lands, in some order). TicketKeys owns the
// current TicketKeySet through a concurrent::Snapshot; a reader owns the set it loaded. Key
// material is wiped when a set is destroyed.
#ifndef RINGWARD_NET_TLS_TICKET_KEYS_H_
#define RINGWARD_NET_TLS_TICKET_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "concurrent/snapshot.h"

namespace ringward::tls {

// TicketKey is one ticket key: a public 16-byte name that the ticket carries in the clear (so the
// server can find the key again), an AES-256 key and an HMAC-SHA256 key.
struct TicketKey {
  static constexpr size_t kNameSize = 16;
  static constexpr size_t kAesKeySize = 32;
  static constexpr size_t kHmacKeySize = 32;

  std::array<uint8_t, kNameSize> name;
  std::array<uint8_t, kAesKeySize> aes_key;
  std::array<uint8_t, kHmacKeySize> hmac_key;

  // Generate returns a key with a random name and random secrets (BoringSSL's RAND_bytes).
  static TicketKey Generate();
};

// TicketKeySet is one immutable generation of ticket keys: the current key, which encrypts new
// tickets, and the previous keys, which still decrypt.
class TicketKeySet {
 public:
  TicketKeySet(const TicketKey& current, std::vector<TicketKey> previous);
  ~TicketKeySet();  // wipes the key material

  TicketKeySet(const TicketKeySet&) = delete;
  TicketKeySet& operator=(const TicketKeySet&) = delete;

  const TicketKey& current() const { return keys_.front(); }
  size_t previous_count() const { return keys_.size() - 1; }
  // previous returns the i-th previous key, most recent first (i < previous_count()).
  const TicketKey& previous(size_t i) const { return keys_[i + 1]; }

  // Find returns the key whose name is |name| (TicketKey::kNameSize bytes), or nullptr. It sets
  // |*is_current| to whether that key is the current one.
  const TicketKey* Find(const uint8_t* name, bool* is_current) const;

 private:
  std::vector<TicketKey> keys_;  // keys_[0] is current, then previous keys, newest first
};

class TicketKeys {
 public:
  static constexpr size_t kDefaultPreviousKeys = 2;

  // TicketKeys starts with a freshly generated current key and no previous keys. At most
  // |previous_keys| previous keys are kept across rotations.
  explicit TicketKeys(size_t previous_keys = kDefaultPreviousKeys);
  // This form starts from a given key, e.g. one the control plane distributes to every process
  // behind a load balancer.
  TicketKeys(const TicketKey& initial, size_t previous_keys);

  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Rotate makes |next| (or a freshly generated key) the current key and demotes the current key
  // to the most recent previous key, dropping the oldest one beyond |previous_keys|.
  void Rotate();
  void Rotate(const TicketKey& next);

  // Load returns the key set in force now. Callers hold it for one ticket operation only, so that
  // a rotation takes effect at the next handshake.
  std::shared_ptr<const TicketKeySet> Load() const { return keys_.Load(); }

  size_t previous_keys() const { return previous_keys_; }

 private:
  const size_t previous_keys_;
  concurrent::Snapshot<TicketKeySet> keys_;
};

}  // namespace ringward::tls

#endif  // RINGWARD_NET_TLS_TICKET_KEYS_H_
