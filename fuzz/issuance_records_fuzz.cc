// libFuzzer target for the issuance log records (issuance/records.h) and the store that applies
// them (issuance/store.h).
//
// Input layout: byte 0 picks the record type (32 + byte0 % 11) and the mode (byte0 / 11). In
// literal mode (byte0 < 132) the rest is the payload as-is. In generated mode the rest drives a
// generator that builds a record of that type from typed values (interesting strings and
// integers, valid and invalid embedded JSON and TOTP secrets; a batch gets 0..4 elements) and
// writes its payload either canonically or in a variant: members reordered, whitespace between
// tokens, a key spelled with a \u escape (all read as the canonical payload), or a duplicate,
// unknown or missing member, a value of the wrong type, bytes after the object (all refused),
// optionally followed by a few arbitrary byte edits. Generated mode gets the fuzzer past JSON
// syntax and member names at once, and knows what the decoder must answer.
//
// For every payload it checks that
//  - DecodeRecord never crashes, and refuses only with DataLoss; Apply agrees with it, and a
//    refused record leaves a store (empty or not) unchanged, a batch included; the same payload
//    under a non-issuance type is InvalidArgument from both;
//  - a generated payload decodes exactly as its generator says (the values it was built from,
//    or a refusal), and its canonical spelling is byte for byte what the Record builders write;
//  - every decoded element re-encoded with its Record builder decodes to the same value and
//    re-encodes to the same bytes; a batch re-encoded with BatchRecord decodes to the same
//    elements; applying the re-encoding to a fresh store gives an equal state (StateEquals);
//  - applied one element at a time, each element has the effect store.h describes (the entry
//    it names, the version of the part it touches moving exactly when that part changed, no
//    other part moving), and the result equals applying the whole record;
//  - applying the record twice gives the state of applying it once (idempotent replay);
//  - LiveRecords (at two cut-offs) applied to a fresh store gives the state less what Expire
//    drops, the fresh store's LiveRecords are the same records, and the snapshot followed by the
//    original record again gives the original state (snapshot plus overlapping tail);
//  - the store's listings agree with its lookups and are sorted, and the public JSON views are
//    well-formed JSON.
// A violated invariant prints the record and calls abort() so libFuzzer records the input.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "issuance/records.h"
#include "issuance/store.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "simdjson.h"

namespace {

using ringward::issuance::BatchRecord;
using ringward::issuance::Client;
using ringward::issuance::ClientDeleteRecord;
using ringward::issuance::ClientJson;
using ringward::issuance::ClientPutRecord;
using ringward::issuance::DecodedRecord;
using ringward::issuance::DecodeRecord;
using ringward::issuance::FamilyRevoke;
using ringward::issuance::FamilyRevokeRecord;
using ringward::issuance::IssuanceStore;
using ringward::issuance::KeyEntry;
using ringward::issuance::KeyJson;
using ringward::issuance::KeyPutRecord;
using ringward::issuance::KeyState;
using ringward::issuance::KeyStateName;
using ringward::issuance::Record;
using ringward::issuance::RefreshIssueRecord;
using ringward::issuance::RefreshToken;
using ringward::issuance::RefreshUseRecord;
using ringward::issuance::TotpUsed;
using ringward::issuance::TotpUsedRecord;
using ringward::issuance::User;
using ringward::issuance::UserAttempts;
using ringward::issuance::UserAttemptsRecord;
using ringward::issuance::UserDeleteRecord;
using ringward::issuance::UserJson;
using ringward::issuance::UserPutRecord;
namespace rt = ringward::issuance;

// The record under test, printed when a check fails (the saved input may be a generator program
// rather than the payload itself).
uint16_t g_type = 0;
std::string_view g_payload;

void PrintRecord() {
  std::fprintf(stderr, "record type %u, payload (%zu bytes): ", g_type, g_payload.size());
  for (const char c : g_payload) {
    std::fprintf(stderr, "%02x", static_cast<uint8_t>(c));
  }
  std::fprintf(stderr, "\npayload text: %.*s\n", static_cast<int>(g_payload.size()),
               g_payload.data());
}

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      PrintRecord();                                                                \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// ByteSource hands out the input's bytes in order, and zeros once they run out.
class ByteSource {
 public:
  explicit ByteSource(std::string_view bytes) : bytes_(bytes) {}
  uint8_t U8() { return pos_ < bytes_.size() ? static_cast<uint8_t>(bytes_[pos_++]) : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= uint64_t{U8()} << (8 * i);
    }
    return v;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Comparing, encoding and checking decoded records.

bool SameDecoded(const DecodedRecord& a, const DecodedRecord& b) {
  if (a.type != b.type || a.value.index() != b.value.index()) {
    return false;
  }
  if (const auto* x = std::get_if<TotpUsed>(&a.value)) {
    const auto& y = std::get<TotpUsed>(b.value);
    return x->username == y.username && x->step == y.step;
  }
  if (const auto* x = std::get_if<FamilyRevoke>(&a.value)) {
    const auto& y = std::get<FamilyRevoke>(b.value);
    return x->family == y.family && x->exp == y.exp;
  }
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, TotpUsed> || std::is_same_v<T, FamilyRevoke>) {
          return false;  // handled above
        } else {
          return x == std::get<T>(b.value);
        }
      },
      a.value);
}

bool SameDecodedList(const std::vector<DecodedRecord>& a, const std::vector<DecodedRecord>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameDecoded(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

// Encode writes |d| again with the Record builder for its type.
Record Encode(const DecodedRecord& d) {
  switch (d.type) {
    case rt::kRecordClientPut:
      return ClientPutRecord(std::get<Client>(d.value));
    case rt::kRecordClientDelete:
      return ClientDeleteRecord(std::get<std::string>(d.value));
    case rt::kRecordUserPut:
      return UserPutRecord(std::get<User>(d.value));
    case rt::kRecordUserDelete:
      return UserDeleteRecord(std::get<std::string>(d.value));
    case rt::kRecordUserAttempts:
      return UserAttemptsRecord(std::get<UserAttempts>(d.value));
    case rt::kRecordTotpUsed: {
      const TotpUsed& t = std::get<TotpUsed>(d.value);
      return TotpUsedRecord(t.username, t.step);
    }
    case rt::kRecordRefreshIssue:
      return RefreshIssueRecord(std::get<RefreshToken>(d.value));
    case rt::kRecordRefreshUse:
      return RefreshUseRecord(std::get<std::string>(d.value));
    case rt::kRecordFamilyRevoke: {
      const FamilyRevoke& f = std::get<FamilyRevoke>(d.value);
      return FamilyRevokeRecord(f.family, f.exp);
    }
    case rt::kRecordKeyPut:
      return KeyPutRecord(std::get<KeyEntry>(d.value));
    default:
      FUZZ_CHECK(false && "DecodeRecord returned a type it does not define");
      return {};
  }
}

bool IsWellFormedJson(const std::string& text) {
  // The DOM parser, not json::ValidateStrict: a view embeds a jwks that is itself at the strict
  // depth limit, and the views are read by clients, not by ringward's strict walker.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(text).get(root) == simdjson::SUCCESS;
}

// CheckListings checks that a store's listings agree with its lookups and are sorted.
void CheckListings(const IssuanceStore& store) {
  const std::vector<const Client*> clients = store.Clients();
  for (size_t i = 0; i < clients.size(); ++i) {
    FUZZ_CHECK(store.FindClient(clients[i]->client_id) == clients[i]);
    FUZZ_CHECK(i == 0 || clients[i - 1]->client_id < clients[i]->client_id);
    FUZZ_CHECK(IsWellFormedJson(ClientJson(*clients[i])));
  }
  const std::vector<const User*> users = store.Users();
  for (size_t i = 0; i < users.size(); ++i) {
    FUZZ_CHECK(store.FindUser(users[i]->username) == users[i]);
    FUZZ_CHECK(i == 0 || users[i - 1]->username < users[i]->username);
    const UserAttempts attempts = store.Attempts(users[i]->username);
    FUZZ_CHECK(attempts.username == users[i]->username);
    FUZZ_CHECK(attempts.failures >= 0 && attempts.lockouts >= 0);
    FUZZ_CHECK(IsWellFormedJson(UserJson(*users[i], &attempts)));
    FUZZ_CHECK(IsWellFormedJson(UserJson(*users[i], nullptr)));
  }
  const std::vector<const KeyEntry*> keys = store.Keys();
  for (size_t i = 0; i < keys.size(); ++i) {
    FUZZ_CHECK(store.FindKey(keys[i]->kid) == keys[i]);
    FUZZ_CHECK(keys[i]->state != KeyState::kRemoved);
    if (i > 0) {
      const KeyEntry& a = *keys[i - 1];
      const KeyEntry& b = *keys[i];
      FUZZ_CHECK(a.created_at < b.created_at || (a.created_at == b.created_at && a.kid < b.kid));
    }
    FUZZ_CHECK(IsWellFormedJson(KeyJson(*keys[i])));
  }
}

// BaseStore is a non-empty state that records are also applied on top of, so that a refused
// record is seen not to disturb existing entries and a good one is replayed over real state.
const IssuanceStore& BaseStore() {
  static const IssuanceStore* const store = [] {
    auto* s = new IssuanceStore;
    Client c;
    c.client_id = "a";
    c.grant_types = {"client_credentials"};
    c.scopes = {"read"};
    c.created_at = 5;
    User u;
    u.username = "alice";
    u.password_hash = "$argon2id$x";
    u.totp_secret = "12345";
    RefreshToken t;
    t.hash = "h";
    t.family = "f";
    t.client_id = "a";
    t.sub = "alice";
    t.exp = 100;
    KeyEntry k;
    k.kid = "k1";
    k.alg = "EdDSA";
    k.state = KeyState::kActive;
    k.public_jwk = "{}";
    UserAttempts at;
    at.username = "alice";
    at.failures = 2;
    const std::vector<Record> records = {ClientPutRecord(c),          UserPutRecord(u),
                                         UserAttemptsRecord(at),      TotpUsedRecord("alice", 7),
                                         RefreshIssueRecord(t),       RefreshUseRecord("h"),
                                         FamilyRevokeRecord("g", 50), KeyPutRecord(k)};
    for (const Record& r : records) {
      if (!s->Apply(r.type, r.payload).ok()) {
        std::abort();
      }
    }
    return s;
  }();
  return *store;
}

// CheckEffect checks that applying the single record |d| took |before| to |after| as store.h
// says: the entry it names now holds what the record says, the version of the part it touches
// moved exactly when that part changed, and no other part's version or count moved.
void CheckEffect(const IssuanceStore& before, const IssuanceStore& after, const DecodedRecord& d) {
  bool clients_changed = false;
  bool users_changed = false;
  bool keys_changed = false;
  size_t refresh_count = before.refresh_count();
  size_t family_count = before.revoked_family_count();
  switch (d.type) {
    case rt::kRecordClientPut: {
      const Client& c = std::get<Client>(d.value);
      const Client* was = before.FindClient(c.client_id);
      const Client* now = after.FindClient(c.client_id);
      FUZZ_CHECK(now != nullptr && *now == c);
      clients_changed = was == nullptr || !(*was == c);
      break;
    }
    case rt::kRecordClientDelete: {
      const std::string& id = std::get<std::string>(d.value);
      FUZZ_CHECK(after.FindClient(id) == nullptr);
      clients_changed = before.FindClient(id) != nullptr;
      break;
    }
    case rt::kRecordUserPut: {
      const User& u = std::get<User>(d.value);
      const User* was = before.FindUser(u.username);
      const User* now = after.FindUser(u.username);
      FUZZ_CHECK(now != nullptr && *now == u);
      // A put keeps the user's lock-out counters and TOTP step.
      FUZZ_CHECK(after.Attempts(u.username) == before.Attempts(u.username));
      FUZZ_CHECK(after.TotpLastStep(u.username) == before.TotpLastStep(u.username));
      users_changed = was == nullptr || !(*was == u);
      break;
    }
    case rt::kRecordUserDelete: {
      const std::string& name = std::get<std::string>(d.value);
      UserAttempts none;
      none.username = name;
      FUZZ_CHECK(after.FindUser(name) == nullptr);
      FUZZ_CHECK(after.Attempts(name) == none);
      FUZZ_CHECK(after.TotpLastStep(name) == -1);
      users_changed = before.FindUser(name) != nullptr || !(before.Attempts(name) == none) ||
                      before.TotpLastStep(name) != -1;
      break;
    }
    case rt::kRecordUserAttempts: {
      const UserAttempts& a = std::get<UserAttempts>(d.value);
      FUZZ_CHECK(after.Attempts(a.username) == a);
      users_changed = !(before.Attempts(a.username) == a);
      break;
    }
    case rt::kRecordTotpUsed: {
      const TotpUsed& t = std::get<TotpUsed>(d.value);
      const int64_t was = before.TotpLastStep(t.username);
      // The larger step wins, so a replayed older record cannot reopen a used code.
      FUZZ_CHECK(after.TotpLastStep(t.username) == std::max(was, t.step));
      users_changed = was == -1 || t.step > was;
      break;
    }
    case rt::kRecordRefreshIssue: {
      RefreshToken t = std::get<RefreshToken>(d.value);
      t.used = false;
      const RefreshToken* now = after.FindRefresh(t.hash);
      FUZZ_CHECK(now != nullptr && *now == t);
      refresh_count += before.FindRefresh(t.hash) == nullptr ? 1 : 0;
      break;
    }
    case rt::kRecordRefreshUse: {
      const std::string& hash = std::get<std::string>(d.value);
      const RefreshToken* was = before.FindRefresh(hash);
      const RefreshToken* now = after.FindRefresh(hash);
      if (was == nullptr) {
        FUZZ_CHECK(now == nullptr);
      } else {
        RefreshToken used = *was;
        used.used = true;
        FUZZ_CHECK(now != nullptr && *now == used);
      }
      break;
    }
    case rt::kRecordFamilyRevoke: {
      const FamilyRevoke& f = std::get<FamilyRevoke>(d.value);
      FUZZ_CHECK(after.FamilyRevoked(f.family));
      family_count += before.FamilyRevoked(f.family) ? 0 : 1;
      break;
    }
    case rt::kRecordKeyPut: {
      const KeyEntry& k = std::get<KeyEntry>(d.value);
      const KeyEntry* was = before.FindKey(k.kid);
      const KeyEntry* now = after.FindKey(k.kid);
      if (k.state == KeyState::kRemoved) {
        FUZZ_CHECK(now == nullptr);
        keys_changed = was != nullptr;
      } else {
        FUZZ_CHECK(now != nullptr && *now == k);
        keys_changed = was == nullptr || !(*was == k);
      }
      break;
    }
    default:
      FUZZ_CHECK(false && "DecodeRecord returned a type it does not define");
  }
  FUZZ_CHECK(after.clients_version() == before.clients_version() + (clients_changed ? 1 : 0));
  FUZZ_CHECK(after.users_version() == before.users_version() + (users_changed ? 1 : 0));
  FUZZ_CHECK(after.keys_version() == before.keys_version() + (keys_changed ? 1 : 0));
  FUZZ_CHECK(after.refresh_count() == refresh_count);
  FUZZ_CHECK(after.revoked_family_count() == family_count);
}

// CheckSnapshot checks LiveRecords(now) of |store| against Expire(now).
void CheckSnapshot(const IssuanceStore& store, int64_t now, uint16_t type,
                   std::string_view payload) {
  const std::vector<Record> live = store.LiveRecords(now);
  IssuanceStore rebuilt;
  for (const Record& r : live) {
    FUZZ_CHECK(r.type != rt::kRecordBatch && rt::IsIssuanceRecordType(r.type));
    FUZZ_CHECK(rebuilt.Apply(r.type, r.payload).ok());
  }
  IssuanceStore expired = store;
  expired.Expire(now);
  FUZZ_CHECK(rebuilt.StateEquals(expired));
  FUZZ_CHECK(rebuilt.LiveRecords(now) == live);
  // A snapshot followed by an overlapping tail (here, the record itself) gives the full state.
  FUZZ_CHECK(rebuilt.Apply(type, payload).ok());
  if (expired.StateEquals(store)) {
    FUZZ_CHECK(rebuilt.StateEquals(store));
  }
}

// CheckPayload runs every check that needs no knowledge of what |payload| should decode to, and
// returns what DecodeRecord gave.
absl::StatusOr<std::vector<DecodedRecord>> CheckPayload(uint16_t type, std::string_view payload) {
  g_type = type;
  g_payload = payload;
  absl::StatusOr<std::vector<DecodedRecord>> decoded = DecodeRecord(type, payload);

  IssuanceStore empty;
  IssuanceStore a;
  IssuanceStore on_base = BaseStore();
  const absl::Status applied = a.Apply(type, payload);
  const absl::Status applied_on_base = on_base.Apply(type, payload);
  // The same payload under a type that is not issuance's is InvalidArgument and changes nothing.
  static constexpr uint16_t kOtherTypes[] = {0, 1, 15, 31, 43, 63, 0xFF01};
  const uint16_t other = kOtherTypes[payload.size() % std::size(kOtherTypes)];
  FUZZ_CHECK(DecodeRecord(other, payload).status().code() == absl::StatusCode::kInvalidArgument);
  IssuanceStore untouched = BaseStore();
  FUZZ_CHECK(untouched.Apply(other, payload).code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(untouched.StateEquals(BaseStore()));

  FUZZ_CHECK(applied.code() == decoded.status().code());
  FUZZ_CHECK(applied_on_base.code() == decoded.status().code());
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kDataLoss);
    FUZZ_CHECK(a.StateEquals(empty));
    FUZZ_CHECK(on_base.StateEquals(BaseStore()));
    return decoded;
  }
  FUZZ_CHECK(type == rt::kRecordBatch || decoded->size() == 1);

  // Every element round-trips through its builder, to a fixed point.
  std::vector<Record> encoded;
  for (const DecodedRecord& d : *decoded) {
    FUZZ_CHECK(d.type != rt::kRecordBatch && rt::IsIssuanceRecordType(d.type));
    FUZZ_CHECK(type == rt::kRecordBatch || d.type == type);
    Record r = Encode(d);
    FUZZ_CHECK(r.type == d.type);
    absl::StatusOr<std::vector<DecodedRecord>> again = DecodeRecord(r.type, r.payload);
    FUZZ_CHECK(again.ok() && again->size() == 1);
    FUZZ_CHECK(SameDecoded((*again)[0], d));
    FUZZ_CHECK(Encode((*again)[0]) == r);
    encoded.push_back(std::move(r));
  }
  Record whole = type == rt::kRecordBatch ? BatchRecord(encoded) : encoded[0];
  if (type == rt::kRecordBatch) {
    absl::StatusOr<std::vector<DecodedRecord>> again = DecodeRecord(whole.type, whole.payload);
    FUZZ_CHECK(again.ok() && SameDecodedList(*again, *decoded));
  }

  // The re-encoding applies to the same state, on an empty store and on the base store.
  IssuanceStore b;
  FUZZ_CHECK(b.Apply(whole.type, whole.payload).ok());
  FUZZ_CHECK(b.StateEquals(a));
  IssuanceStore b_on_base = BaseStore();
  FUZZ_CHECK(b_on_base.Apply(whole.type, whole.payload).ok());
  FUZZ_CHECK(b_on_base.StateEquals(on_base));
  // Element by element is the same as the whole (applying cannot fail part-way), and each
  // element has the effect store.h gives it, on an empty store and on the base store.
  IssuanceStore piecewise;
  IssuanceStore piecewise_on_base = BaseStore();
  for (size_t i = 0; i < encoded.size(); ++i) {
    const Record& r = encoded[i];
    IssuanceStore before = piecewise;
    FUZZ_CHECK(piecewise.Apply(r.type, r.payload).ok());
    CheckEffect(before, piecewise, (*decoded)[i]);
    before = piecewise_on_base;
    FUZZ_CHECK(piecewise_on_base.Apply(r.type, r.payload).ok());
    CheckEffect(before, piecewise_on_base, (*decoded)[i]);
  }
  FUZZ_CHECK(piecewise.StateEquals(a));
  FUZZ_CHECK(piecewise_on_base.StateEquals(on_base));

  // Replaying the record over itself changes nothing.
  IssuanceStore twice = a;
  FUZZ_CHECK(twice.Apply(type, payload).ok());
  FUZZ_CHECK(twice.StateEquals(a));
  IssuanceStore twice_on_base = on_base;
  FUZZ_CHECK(twice_on_base.Apply(type, payload).ok());
  FUZZ_CHECK(twice_on_base.StateEquals(on_base));

  CheckListings(a);
  CheckListings(on_base);
  CheckSnapshot(a, INT64_MIN, type, payload);
  CheckSnapshot(a, 60, type, payload);
  CheckSnapshot(on_base, 60, type, payload);
  return decoded;
}

// ---------------------------------------------------------------------------------------------
// The generator.

// Kind is what a member holds, which decides its JSON type and what the decoder checks.
enum class Kind : uint8_t {
  kString,       // any string
  kId,           // a non-empty string
  kInt,          // any int64
  kNonNegative,  // an int64 >= 0
  kCount,        // an int64 in 0..INT_MAX
  kArray,        // an array of strings
  kEmbedded,     // a string holding "" or a strict JSON object
  kTotp,         // a string holding canonical base64url
  kState,        // a string naming a key state
};

struct Member {
  std::string name;
  Kind kind;
  std::string json;  // the value as canonical JSON text
};

// Generated is one generated single record: its members in the specification's order, whether
// the decoder must accept it, and then what it must decode to.
struct Generated {
  uint16_t type = 0;
  std::vector<Member> members;
  bool valid = true;
  DecodedRecord expected;
};

const std::string kStrings[] = {
    "",
    "a",
    "alice",
    "svc-\"billing\"",
    "back\\slash",
    std::string("nul\0byte", 8),
    "ctl\x01\x1f\x7f",
    "caf\xc3\xa9",
    "\xf0\x9f\x98\x80",
    "\xe2\x80\xa8",
    "client_id",
    "  spaced  ",
    "a/b",
    "</script>",
};

class Generator {
 public:
  explicit Generator(ByteSource* src) : src_(src) {}

  std::string Str(Generated* g, std::string_view name, Kind kind) {
    const uint8_t pick = src_->U8();
    std::string s;
    if (pick < 160) {
      s = kStrings[pick % std::size(kStrings)];
    } else {
      // ASCII from the input: always valid UTF-8, so the builders can write it.
      const size_t n = pick % 17;
      for (size_t i = 0; i < n; ++i) {
        s.push_back(static_cast<char>(src_->U8() & 0x7f));
      }
    }
    if (kind == Kind::kId && s.empty()) {
      g->valid = false;
    }
    g->members.push_back(Member{std::string(name), kind, ringward::json::JsonQuote(s)});
    return s;
  }

  int64_t Int(Generated* g, std::string_view name, Kind kind) {
    static constexpr int64_t kInts[] = {
        0,          1,           -1, INT64_MIN, INT64_MAX, INT_MAX, int64_t{INT_MAX} + 1,
        1700000000, -1700000000, 60, 61};
    const uint8_t pick = src_->U8();
    const int64_t v =
        pick < 200 ? kInts[pick % std::size(kInts)] : static_cast<int64_t>(src_->U64());
    if ((kind == Kind::kNonNegative || kind == Kind::kCount) && v < 0) {
      g->valid = false;
    }
    if (kind == Kind::kCount && v > INT_MAX) {
      g->valid = false;
    }
    g->members.push_back(Member{std::string(name), kind, std::to_string(v)});
    return v;
  }

  int Count(Generated* g, std::string_view name) {
    const int64_t v = Int(g, name, Kind::kCount);
    return v >= 0 && v <= INT_MAX ? static_cast<int>(v) : 0;
  }

  std::vector<std::string> Array(Generated* g, std::string_view name) {
    std::vector<std::string> out;
    const size_t n = src_->U8() % 4;
    std::string json = "[";
    for (size_t i = 0; i < n; ++i) {
      const uint8_t pick = src_->U8();
      out.push_back(kStrings[pick % std::size(kStrings)]);
      if (i > 0) {
        json.push_back(',');
      }
      ringward::json::AppendJsonString(&json, out.back());
    }
    json.push_back(']');
    g->members.push_back(Member{std::string(name), Kind::kArray, std::move(json)});
    return out;
  }

  std::string Embedded(Generated* g, std::string_view name) {
    struct Text {
      const char* text;
      bool valid;
    };
    static const Text kTexts[] = {
        {"", true},
        {"{}", true},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"abc\"}]}", true},
        {"{\"a\":{\"b\":[1,2.5,null,true,\"\\u00e9\"]}}", true},
        {"[]", false},
        {"{", false},
        {"{\"a\":1,\"a\":2}", false},
        {"{\"a\":{\"b\":1,\"b\":1}}", false},
        {"x", false},
        {"{} {}", false},
        {"\"{}\"", false},
        {"null", false},
        {"{\"a\":01}", false},
    };
    const uint8_t pick = src_->U8();
    std::string text;
    bool valid = true;
    if (pick < 240) {
      const Text& t = kTexts[pick % std::size(kTexts)];
      text = t.text;
      valid = t.valid;
    } else {
      // Nesting: shallow is fine, far beyond json::kMaxDepth is refused.
      const bool deep = pick % 2 == 1;
      const int depth = deep ? ringward::json::kMaxDepth + 8 : 4;
      for (int i = 0; i < depth; ++i) {
        text += "{\"a\":";
      }
      text += "0";
      text.append(depth, '}');
      valid = !deep;
    }
    if (!valid) {
      g->valid = false;
    }
    g->members.push_back(
        Member{std::string(name), Kind::kEmbedded, ringward::json::JsonQuote(text)});
    return text;
  }

  // Totp returns the raw secret; the member holds its base64url, or a non-canonical spelling.
  std::string Totp(Generated* g, std::string_view name) {
    static const char* const kBad[] = {"A", "AB", "AAB", "A=", "AA==", "a+/b", "AA A", "AAAAA"};
    const uint8_t pick = src_->U8();
    std::string raw;
    std::string text;
    if (pick < 224) {
      const size_t n = pick % 24;
      for (size_t i = 0; i < n; ++i) {
        raw.push_back(static_cast<char>(src_->U8()));
      }
      text = ringward::Base64UrlEncode(raw);
    } else {
      text = kBad[pick % std::size(kBad)];
      g->valid = false;
    }
    g->members.push_back(Member{std::string(name), Kind::kTotp, ringward::json::JsonQuote(text)});
    return raw;
  }

  KeyState State(Generated* g, std::string_view name) {
    static const char* const kBad[] = {"", "Active", "deleted", "next ", "removed\n"};
    const uint8_t pick = src_->U8();
    KeyState state = static_cast<KeyState>(pick % 4);
    std::string text(KeyStateName(state));
    if (pick >= 232) {
      text = kBad[pick % std::size(kBad)];
      g->valid = false;
    }
    g->members.push_back(Member{std::string(name), Kind::kState, ringward::json::JsonQuote(text)});
    return state;
  }

  Generated Single(uint16_t type) {
    Generated g;
    g.type = type;
    switch (type) {
      case rt::kRecordClientPut: {
        Client c;
        c.client_id = Str(&g, "client_id", Kind::kId);
        c.name = Str(&g, "name", Kind::kString);
        c.auth_method = Str(&g, "auth_method", Kind::kString);
        c.secret_hash = Str(&g, "secret_hash", Kind::kString);
        c.grant_types = Array(&g, "grant_types");
        c.scopes = Array(&g, "scopes");
        c.audiences = Array(&g, "audiences");
        c.ttl = Int(&g, "ttl", Kind::kNonNegative);
        c.jwks = Embedded(&g, "jwks");
        c.created_at = Int(&g, "created_at", Kind::kInt);
        g.expected.value = std::move(c);
        break;
      }
      case rt::kRecordClientDelete:
        g.expected.value = Str(&g, "client_id", Kind::kId);
        break;
      case rt::kRecordUserPut: {
        User u;
        u.username = Str(&g, "username", Kind::kId);
        u.password_hash = Str(&g, "password_hash", Kind::kString);
        u.scopes = Array(&g, "scopes");
        u.totp_secret = Totp(&g, "totp_secret");
        u.created_at = Int(&g, "created_at", Kind::kInt);
        g.expected.value = std::move(u);
        break;
      }
      case rt::kRecordUserDelete:
        g.expected.value = Str(&g, "username", Kind::kId);
        break;
      case rt::kRecordUserAttempts: {
        UserAttempts a;
        a.username = Str(&g, "username", Kind::kId);
        a.failures = Count(&g, "failures");
        a.locked_until = Int(&g, "locked_until", Kind::kInt);
        a.lockouts = Count(&g, "lockouts");
        g.expected.value = std::move(a);
        break;
      }
      case rt::kRecordTotpUsed: {
        TotpUsed t;
        t.username = Str(&g, "username", Kind::kId);
        t.step = Int(&g, "step", Kind::kNonNegative);
        g.expected.value = std::move(t);
        break;
      }
      case rt::kRecordRefreshIssue: {
        RefreshToken t;
        t.hash = Str(&g, "hash", Kind::kId);
        t.family = Str(&g, "family", Kind::kId);
        t.client_id = Str(&g, "client_id", Kind::kString);
        t.sub = Str(&g, "sub", Kind::kString);
        t.scope = Str(&g, "scope", Kind::kString);
        t.aud = Array(&g, "aud");
        t.iat = Int(&g, "iat", Kind::kInt);
        t.exp = Int(&g, "exp", Kind::kInt);
        t.auth_time = Int(&g, "auth_time", Kind::kInt);
        g.expected.value = std::move(t);
        break;
      }
      case rt::kRecordRefreshUse:
        g.expected.value = Str(&g, "hash", Kind::kId);
        break;
      case rt::kRecordFamilyRevoke: {
        FamilyRevoke f;
        f.family = Str(&g, "family", Kind::kId);
        f.exp = Int(&g, "exp", Kind::kInt);
        g.expected.value = std::move(f);
        break;
      }
      default: {
        KeyEntry k;
        k.kid = Str(&g, "kid", Kind::kId);
        k.alg = Str(&g, "alg", Kind::kString);
        k.state = State(&g, "state");
        k.created_at = Int(&g, "created_at", Kind::kInt);
        k.activated_at = Int(&g, "activated_at", Kind::kInt);
        k.retired_at = Int(&g, "retired_at", Kind::kInt);
        k.public_jwk = Embedded(&g, "public_jwk");
        g.expected.value = std::move(k);
        break;
      }
    }
    g.expected.type = type;
    return g;
  }

  // What a payload variant must decode as.
  enum class Expect { kAsCanonical, kRefused, kUnknown };

  // Render writes |g|'s payload, canonically or in a variant the source picks, and says what it
  // must decode as.
  std::string Render(const Generated& g, Expect* expect) {
    std::vector<Member> members = g.members;
    *expect = Expect::kAsCanonical;
    const uint8_t variant = src_->U8() % 12;
    const size_t at = members.empty() ? 0 : src_->U8() % members.size();
    bool spaced = false;
    std::string trailing;
    switch (variant) {
      case 3:  // reordered: members may come in any order
        for (size_t i = members.size(); i > 1; --i) {
          std::swap(members[i - 1], members[src_->U8() % i]);
        }
        break;
      case 4:  // whitespace between every token
        spaced = true;
        break;
      case 5: {  // one key character as a \u escape
        std::string& name = members[at].name;
        const size_t j = src_->U8() % name.size();
        const unsigned c = static_cast<uint8_t>(name[j]);
        char escape[8];
        if (src_->U8() % 2 == 0) {
          std::snprintf(escape, sizeof(escape), "\\u%04x", c);
        } else {
          std::snprintf(escape, sizeof(escape), "\\u%04X", c);
        }
        name.replace(j, 1, escape);
        break;
      }
      case 6:  // a duplicate member
        members.insert(members.begin() + src_->U8() % (members.size() + 1), members[at]);
        *expect = Expect::kRefused;
        break;
      case 7: {  // an unknown member
        // Names are written as-is between quotes: the last ones are broken escapes.
        static const char* const kNames[] = {"extra", "Client_id", "type",    "",
                                             "used",  "\\uZZZZ",   "\\ud800", "\\q"};
        std::string name = kNames[src_->U8() % std::size(kNames)];
        if (src_->U8() % 2 == 0) {
          name = members[at].name + "x";
        }
        members.insert(members.begin() + src_->U8() % (members.size() + 1),
                       Member{name, Kind::kInt, "0"});
        *expect = Expect::kRefused;
        break;
      }
      case 8:  // a missing member
        members.erase(members.begin() + at);
        *expect = Expect::kRefused;
        break;
      case 9: {  // a value of the wrong type
        static const char* const kForString[] = {"0", "null", "[]", "{}", "true", "[\"a\"]"};
        static const char* const kForInt[] = {
            "\"0\"", "null", "1.5", "true", "9223372036854775808", "-9223372036854775809",
            "1e2",   "[]",   "{}",  "0.0",  "18446744073709551616"};
        static const char* const kForArray[] = {"\"x\"",  "null", "{}",        "[1]",
                                                "[null]", "[[]]", "[\"a\",2]", "0"};
        const uint8_t pick = src_->U8();
        switch (members[at].kind) {
          case Kind::kInt:
          case Kind::kNonNegative:
          case Kind::kCount:
            members[at].json = kForInt[pick % std::size(kForInt)];
            break;
          case Kind::kArray:
            members[at].json = kForArray[pick % std::size(kForArray)];
            break;
          default:
            members[at].json = kForString[pick % std::size(kForString)];
            break;
        }
        *expect = Expect::kRefused;
        break;
      }
      case 10: {  // bytes after the object
        static const char* const kTrailing[] = {"x", "{}", "0", ",", "]", "\"\"", " }", " null"};
        trailing = kTrailing[src_->U8() % std::size(kTrailing)];
        *expect = Expect::kRefused;
        break;
      }
      default:  // canonical
        break;
    }
    static const char* const kSpace[] = {" ", "\t", "\n", "\r\n", "  "};
    auto ws = [&](std::string* out) {
      if (spaced) {
        out->append(kSpace[src_->U8() % std::size(kSpace)]);
      }
    };
    std::string out;
    ws(&out);
    out.push_back('{');
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0) {
        ws(&out);
        out.push_back(',');
      }
      ws(&out);
      out.push_back('"');
      out.append(members[i].name);  // names are plain ASCII (or an escape spelled above)
      out.push_back('"');
      ws(&out);
      out.push_back(':');
      ws(&out);
      out.append(members[i].json);
    }
    ws(&out);
    out.push_back('}');
    ws(&out);
    out.append(trailing);
    return out;
  }

  // Edit applies a few arbitrary byte edits, after which nothing is known about |text|.
  bool Edit(std::string* text) {
    const uint8_t edits = src_->U8();
    if (edits < 200) {
      return false;
    }
    for (int i = 0; i < 1 + edits % 3; ++i) {
      const size_t at = src_->U16() % (text->size() + 1);
      const uint8_t op = src_->U8();
      const char byte = static_cast<char>(src_->U8());
      if (op % 3 == 0 || at == text->size()) {
        text->insert(at, 1, byte);
      } else if (op % 3 == 1) {
        text->erase(at, 1);
      } else {
        (*text)[at] = byte;
      }
    }
    return true;
  }

 private:
  ByteSource* src_;
};

// GeneratedCase is a generated payload and what DecodeRecord must answer for it.
struct GeneratedCase {
  std::string payload;
  bool known = true;  // false after arbitrary edits
  bool valid = true;
  std::vector<DecodedRecord> expected;
};

GeneratedCase GenerateSingle(Generator* gen, uint16_t type) {
  GeneratedCase out;
  const Generated g = gen->Single(type);
  Generator::Expect expect;
  out.payload = gen->Render(g, &expect);
  if (g.valid) {
    // The builder writes exactly the specification's canonical spelling.
    std::string canonical = "{";
    for (size_t i = 0; i < g.members.size(); ++i) {
      if (i > 0) {
        canonical.push_back(',');
      }
      canonical += "\"" + g.members[i].name + "\":" + g.members[i].json;
    }
    canonical.push_back('}');
    FUZZ_CHECK(Encode(g.expected).payload == canonical);
  }
  out.valid = expect == Generator::Expect::kAsCanonical && g.valid;
  out.known = true;
  if (out.valid) {
    out.expected.push_back(g.expected);
  }
  return out;
}

GeneratedCase Generate(ByteSource* src, uint16_t type) {
  Generator gen(src);
  GeneratedCase out;
  if (type != rt::kRecordBatch) {
    out = GenerateSingle(&gen, type);
  } else {
    std::vector<Record> elements;
    const size_t n = src->U8() % 5;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t pick = src->U8();
      if (pick >= 248) {
        // An element a batch may not hold: a batch, or a type outside 32..41.
        static const uint16_t kBadTypes[] = {rt::kRecordBatch, 31, 43, 0, 1, 63, 65535};
        elements.push_back(Record{kBadTypes[pick % std::size(kBadTypes)], "{\"records\":[]}"});
        out.valid = false;
        continue;
      }
      GeneratedCase element =
          GenerateSingle(&gen, static_cast<uint16_t>(rt::kRecordClientPut + pick % 10));
      // Bytes after an element's object break the batch's own JSON: refused all the same.
      out.valid = out.valid && element.valid;
      for (DecodedRecord& d : element.expected) {
        out.expected.push_back(std::move(d));
      }
      elements.push_back(Record{static_cast<uint16_t>(rt::kRecordClientPut + pick % 10),
                                std::move(element.payload)});
    }
    out.payload = BatchRecord(elements).payload;
  }
  if (gen.Edit(&out.payload)) {
    out.known = false;
  }
  if (!out.valid) {
    out.expected.clear();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const uint16_t type = static_cast<uint16_t>(rt::kRecordClientPut + data[0] % 11);
  const bool generated = data[0] / 11 >= 12;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  if (!generated) {
    // An exact-size heap copy, so ASan sees any read past the payload.
    std::unique_ptr<char[]> copy(new char[rest.empty() ? 1 : rest.size()]);
    if (!rest.empty()) {
      std::memcpy(copy.get(), rest.data(), rest.size());
    }
    static_cast<void>(CheckPayload(type, std::string_view(copy.get(), rest.size())));
    return 0;
  }

  ByteSource src(rest);
  const GeneratedCase c = Generate(&src, type);
  absl::StatusOr<std::vector<DecodedRecord>> decoded = CheckPayload(type, c.payload);
  if (c.known) {
    if (c.valid) {
      FUZZ_CHECK(decoded.ok());
      FUZZ_CHECK(SameDecodedList(*decoded, c.expected));
    } else {
      FUZZ_CHECK(!decoded.ok());
    }
  }
  return 0;
}
