// issuance/records.h: the issuance state's value types (clients, users, lock-out counters,
// refresh tokens, signing-key entries) and the write-ahead-log records that carry every change
// to them: encoders, strict decoders, and the public JSON views used by the admin API and
// `wal dump`.
//
// Record types 32..42 (issuance_spec.md, "Log records"); the payload is one compact JSON object
// whose members come in a fixed order. The log's checksum covers the payload, so a payload that
// does not decode was written wrong rather than damaged on disk: every decoder answers DataLoss
// for it (malformed JSON, a missing, duplicate or unknown member, a wrong type, trailing bytes).
//
// All functions are pure. The decoders use a thread-local simdjson parser, so they are
// thread-safe but not reentrant from within simdjson. Value types own their strings.
#ifndef RINGWARD_ISSUANCE_RECORDS_H_
#define RINGWARD_ISSUANCE_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace ringward::issuance {

// IssuanceRecordType numbers the log records of issuance. Types 1..15 are revocations; 32..63
// are reserved for issuance, of which these are assigned. A new payload layout is a new type.
enum IssuanceRecordType : uint16_t {
  kRecordClientPut = 32,
  kRecordClientDelete = 33,
  kRecordUserPut = 34,
  kRecordUserDelete = 35,
  kRecordUserAttempts = 36,
  kRecordTotpUsed = 37,
  kRecordRefreshIssue = 38,
  kRecordRefreshUse = 39,
  kRecordFamilyRevoke = 40,
  kRecordKeyPut = 41,
  kRecordBatch = 42,
};

// IsIssuanceRecordType reports whether |type| is one of the assigned types above (32..42).
bool IsIssuanceRecordType(uint16_t type);

// IssuanceRecordTypeName returns "client_put", "client_delete", ... "batch", or "" for a type
// that is not an issuance record type.
std::string IssuanceRecordTypeName(uint16_t type);

// Client is a registered application (RFC 6749 §2; member names from RFC 7591).
struct Client {
  std::string client_id;
  std::string name;
  std::string auth_method = "client_secret_basic";
  std::string secret_hash;  // base64url SHA-256 of the secret; "" for private_key_jwt
  std::vector<std::string> grant_types;
  std::vector<std::string> scopes;     // scope tokens the client may be granted
  std::vector<std::string> audiences;  // the token's aud; empty: the server's default audience
  int64_t ttl = 0;                     // access-token lifetime in seconds; 0: server default
  std::string jwks;                    // JWKS JSON object text (private_key_jwt); "" otherwise
  int64_t created_at = 0;

  // AllowsGrant reports whether |grant_type| is among grant_types.
  bool AllowsGrant(std::string_view grant_type) const;
  // AllowsScope reports whether the single scope token |scope| is among scopes.
  bool AllowsScope(std::string_view scope) const;

  bool operator==(const Client&) const = default;
};

// User is a resource owner for the password grant; the token's sub is the username.
struct User {
  std::string username;
  std::string password_hash;  // argon2id encoded string
  std::vector<std::string> scopes;
  std::string totp_secret;  // raw bytes in memory, base64url in the record; "" when no TOTP
  int64_t created_at = 0;

  bool operator==(const User&) const = default;
};

// UserAttempts is the durable lock-out state of one username.
struct UserAttempts {
  std::string username;
  int failures = 0;
  int64_t locked_until = 0;
  int lockouts = 0;

  bool operator==(const UserAttempts&) const = default;
};

// RefreshToken is one issued refresh token, known by the hash of its value.
struct RefreshToken {
  std::string hash;    // base64url SHA-256 of the token
  std::string family;  // shared by every token rotated from the same grant
  std::string client_id;
  std::string sub;
  std::string scope;  // space-separated
  std::vector<std::string> aud;
  int64_t iat = 0;
  int64_t exp = 0;
  int64_t auth_time = 0;  // 0: none
  bool used = false;      // rotated: presenting it again revokes the family

  bool operator==(const RefreshToken&) const = default;
};

// KeyState is a signing key's place in rotation: next (published, not signing) -> active
// (signing) -> retired (published, not signing) -> removed.
enum class KeyState : uint8_t { kNext, kActive, kRetired, kRemoved };

// KeyStateName returns "next", "active", "retired" or "removed".
std::string_view KeyStateName(KeyState state);

// ParseKeyState sets |*state| from its name and returns true, or returns false for any other
// string.
bool ParseKeyState(std::string_view name, KeyState* state);

// KeyEntry is what the log knows about a signing key; the private key lives in a file.
struct KeyEntry {
  std::string kid;
  std::string alg;
  KeyState state = KeyState::kNext;
  int64_t created_at = 0;
  int64_t activated_at = 0;
  int64_t retired_at = 0;
  std::string public_jwk;  // JWK JSON object text

  bool operator==(const KeyEntry&) const = default;
};

// TotpUsed is the payload of totp_used: the last accepted TOTP time step of a user.
struct TotpUsed {
  std::string username;
  int64_t step = 0;
};

// FamilyRevoke is the payload of family_revoke; |exp| is when the family's last token expires.
struct FamilyRevoke {
  std::string family;
  int64_t exp = 0;
};

// Record is one log record of issuance: its type and its payload, the JSON object text.
struct Record {
  uint16_t type = 0;
  std::string payload;

  bool operator==(const Record&) const = default;
};

// Encoders. Each returns the record for one change; the payload is compact JSON with members in
// the order of issuance_spec.md.
Record ClientPutRecord(const Client& client);
Record ClientDeleteRecord(std::string_view client_id);
Record UserPutRecord(const User& user);
Record UserDeleteRecord(std::string_view username);
Record UserAttemptsRecord(const UserAttempts& attempts);
Record TotpUsedRecord(std::string_view username, int64_t step);
Record RefreshIssueRecord(const RefreshToken& token);  // token.used is not part of the record
Record RefreshUseRecord(std::string_view hash);
Record FamilyRevokeRecord(std::string_view family, int64_t exp);
Record KeyPutRecord(const KeyEntry& key);
// BatchRecord wraps |records| so that they are applied atomically, in order. Every element must
// be an issuance record other than a batch (the decoder refuses anything else, so a batch that
// breaks this rule would stop replay).
Record BatchRecord(const std::vector<Record>& records);

// Decoders, one per record type. DataLoss for a malformed payload (see the top of this file).
// Beyond JSON types they check what would make the state unusable: identifiers (client_id,
// username, hash, family, kid) are non-empty, counters are non-negative, the key state is
// known, totp_secret is canonical base64url, and jwks / public_jwk are strict JSON objects
// (the public views embed them as JSON).
absl::StatusOr<Client> DecodeClient(std::string_view payload);
absl::StatusOr<std::string> DecodeClientDelete(std::string_view payload);  // the client_id
absl::StatusOr<User> DecodeUser(std::string_view payload);
absl::StatusOr<std::string> DecodeUserDelete(std::string_view payload);  // the username
absl::StatusOr<UserAttempts> DecodeUserAttempts(std::string_view payload);
absl::StatusOr<TotpUsed> DecodeTotpUsed(std::string_view payload);
absl::StatusOr<RefreshToken> DecodeRefreshIssue(std::string_view payload);  // used = false
absl::StatusOr<std::string> DecodeRefreshUse(std::string_view payload);     // the hash
absl::StatusOr<FamilyRevoke> DecodeFamilyRevoke(std::string_view payload);
absl::StatusOr<KeyEntry> DecodeKeyEntry(std::string_view payload);
// DecodeBatch returns the batch's elements, undecoded; each has a type in 32..41 and an object
// payload (decode it with DecodeRecord).
absl::StatusOr<std::vector<Record>> DecodeBatch(std::string_view payload);

// DecodedRecord is one decoded non-batch issuance record. The std::string alternatives are
// told apart by |type|.
struct DecodedRecord {
  uint16_t type = 0;
  std::variant<std::string, Client, User, UserAttempts, TotpUsed, RefreshToken, FamilyRevoke,
               KeyEntry>
      value;
};

// DecodeRecord decodes one record of any issuance type; a batch decodes to its elements in
// order, a single record to one element. InvalidArgument when |type| is not an issuance record
// type, DataLoss when the payload (or any element of a batch) is malformed.
absl::StatusOr<std::vector<DecodedRecord>> DecodeRecord(uint16_t type, std::string_view payload);

// Public JSON views for the admin API and `wal dump`. None includes a secret, a secret's hash,
// a password hash or a TOTP secret.
//
// ClientJson: {"client_id","name","token_endpoint_auth_method","grant_types","scope" (space
// separated),"audiences","access_token_ttl_s","created_at"} and "jwks" (as a JSON object) when
// the client has one.
std::string ClientJson(const Client& client);
// UserJson: {"username","scope","totp" (bool),"created_at","failures","locked_until"};
// |attempts| may be null (no failures).
std::string UserJson(const User& user, const UserAttempts* attempts);
// KeyJson: {"kid","alg","state","created_at","activated_at","retired_at"}.
std::string KeyJson(const KeyEntry& key);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_RECORDS_H_
