#include "issuance/records.h"

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "simdjson.h"

namespace ringward::issuance {
namespace {

using json::AppendJsonString;

// ---------------------------------------------------------------------------------------------
// Writing.

// ObjectWriter appends members to one compact JSON object, in the order they are given.
class ObjectWriter {
 public:
  ObjectWriter() { out_.push_back('{'); }

  ObjectWriter& Str(std::string_view name, std::string_view value) {
    Name(name);
    AppendJsonString(&out_, value);
    return *this;
  }
  ObjectWriter& Int(std::string_view name, int64_t value) {
    Name(name);
    absl::StrAppend(&out_, value);
    return *this;
  }
  ObjectWriter& Bool(std::string_view name, bool value) {
    Name(name);
    out_.append(value ? "true" : "false");
    return *this;
  }
  ObjectWriter& StrArray(std::string_view name, const std::vector<std::string>& values) {
    Name(name);
    out_.push_back('[');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) {
        out_.push_back(',');
      }
      AppendJsonString(&out_, values[i]);
    }
    out_.push_back(']');
    return *this;
  }
  // Raw appends |json|, which must be one JSON value, as the member's value.
  ObjectWriter& Raw(std::string_view name, std::string_view json) {
    Name(name);
    out_.append(json);
    return *this;
  }

  // Finish closes the object and hands it over; the writer is spent.
  std::string Finish() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void Name(std::string_view name) {
    if (out_.size() > 1) {
      out_.push_back(',');
    }
    AppendJsonString(&out_, name);
    out_.push_back(':');
  }

  std::string out_;
};

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.append(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading.
//
// A payload is read in one pass with simdjson On-Demand: each member must be one of the names
// the record type defines, at most once (so no duplicate and no unknown member is ever skipped
// unvalidated), and every member value is read with a typed getter, which validates it. After
// the object only whitespace may follow (json::CheckEnd).

simdjson::ondemand::parser& RecordParser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

// Embedded JSON texts (jwks, public_jwk) are checked after the record's document is done, with
// a parser of their own so that the record's parser state is never disturbed.
simdjson::ondemand::parser& EmbeddedParser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

using Value = simdjson::ondemand::value;
using Names = std::initializer_list<std::string_view>;

absl::Status Malformed(uint16_t type, std::string_view why) {
  return absl::DataLossError(absl::StrCat("issuance record ", IssuanceRecordTypeName(type), " (",
                                          type, ") has a malformed payload: ", ToAbsl(why)));
}

absl::Status WrongType(uint16_t type, std::string_view name, std::string_view expected) {
  return Malformed(type, absl::StrCat("member \"", ToAbsl(name), "\" is not ", ToAbsl(expected)));
}

absl::Status ReadString(uint16_t type, std::string_view name, Value value, std::string* out) {
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return WrongType(type, name, "a string");
  }
  out->assign(s.data(), s.size());
  return absl::OkStatus();
}

absl::Status ReadInt(uint16_t type, std::string_view name, Value value, int64_t* out) {
  if (value.get_int64().get(*out) != simdjson::SUCCESS) {
    return WrongType(type, name, "a 64-bit integer");
  }
  return absl::OkStatus();
}

absl::Status ReadCount(uint16_t type, std::string_view name, Value value, int* out) {
  int64_t v = 0;
  if (absl::Status s = ReadInt(type, name, value, &v); !s.ok()) {
    return s;
  }
  if (v < 0 || v > INT_MAX) {
    return Malformed(type, absl::StrCat("member \"", ToAbsl(name), "\" is out of range: ", v));
  }
  *out = static_cast<int>(v);
  return absl::OkStatus();
}

absl::Status ReadStringArray(uint16_t type, std::string_view name, Value value,
                             std::vector<std::string>* out) {
  simdjson::ondemand::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return WrongType(type, name, "an array of strings");
  }
  out->clear();
  for (auto element : array) {
    std::string_view s;
    if (element.get_string().get(s) != simdjson::SUCCESS) {
      return WrongType(type, name, "an array of strings");
    }
    out->emplace_back(s.data(), s.size());
  }
  return absl::OkStatus();
}

// WalkMembers reads |object|, whose members must be exactly |names|, each once, in any order:
// |read(index, value)| reads the member names[index].
template <typename ReadFn>
absl::Status WalkMembers(uint16_t type, simdjson::ondemand::object object, Names names,
                         ReadFn&& read) {
  uint64_t seen = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return Malformed(type, "not a JSON object");
    }
    size_t index = 0;
    for (const std::string_view n : names) {
      if (n == key) {
        break;
      }
      ++index;
    }
    if (index == names.size()) {
      return Malformed(type, absl::StrCat("unknown member \"", ToAbsl(key), "\""));
    }
    if ((seen & (uint64_t{1} << index)) != 0) {
      return Malformed(type, absl::StrCat("duplicate member \"", ToAbsl(key), "\""));
    }
    seen |= uint64_t{1} << index;
    Value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return Malformed(type, "not JSON");
    }
    if (absl::Status s = read(index, value); !s.ok()) {
      return s;
    }
  }
  size_t index = 0;
  for (const std::string_view n : names) {
    if ((seen & (uint64_t{1} << index)) == 0) {
      return Malformed(type, absl::StrCat("member \"", ToAbsl(n), "\" is missing"));
    }
    ++index;
  }
  return absl::OkStatus();
}

// WalkPayload parses |payload| as one JSON object and walks it with WalkMembers.
template <typename ReadFn>
absl::Status WalkPayload(uint16_t type, std::string_view payload, Names names, ReadFn&& read) {
  const simdjson::padded_string padded(payload);
  simdjson::ondemand::document doc;
  if (RecordParser().iterate(padded).get(doc) != simdjson::SUCCESS) {
    return Malformed(type, "not JSON");
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return Malformed(type, "not a JSON object");
  }
  if (absl::Status s = WalkMembers(type, object, names, read); !s.ok()) {
    return s;
  }
  if (json::CheckEnd(doc) != json::JsonError::kOk) {
    return Malformed(type, "bytes follow the JSON object");
  }
  return absl::OkStatus();
}

absl::Status RequireNonEmpty(uint16_t type, std::string_view name, std::string_view value) {
  if (value.empty()) {
    return Malformed(type, absl::StrCat("member \"", ToAbsl(name), "\" is empty"));
  }
  return absl::OkStatus();
}

// CheckEmbeddedObject accepts "" or the text of one strict JSON object.
absl::Status CheckEmbeddedObject(uint16_t type, std::string_view name, std::string_view text) {
  if (text.empty()) {
    return absl::OkStatus();
  }
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') {
    return Malformed(type, absl::StrCat("member \"", ToAbsl(name), "\" is not a JSON object"));
  }
  if (absl::Status s = json::ValidateStrict(EmbeddedParser(), text); !s.ok()) {
    return Malformed(type, absl::StrCat("member \"", ToAbsl(name),
                                        "\" is not a strict JSON object: ", s.message()));
  }
  return absl::OkStatus();
}

// DecodeName decodes a record whose payload is {"<name>": non-empty string}.
absl::StatusOr<std::string> DecodeName(uint16_t type, std::string_view name,
                                       std::string_view payload) {
  std::string out;
  absl::Status s = WalkPayload(type, payload, {name},
                               [&](size_t, Value v) { return ReadString(type, name, v, &out); });
  if (s.ok()) {
    s = RequireNonEmpty(type, name, out);
  }
  if (!s.ok()) {
    return s;
  }
  return out;
}

}  // namespace

bool IsIssuanceRecordType(uint16_t type) {
  return type >= kRecordClientPut && type <= kRecordBatch;
}

std::string IssuanceRecordTypeName(uint16_t type) {
  switch (type) {
    case kRecordClientPut:
      return "client_put";
    case kRecordClientDelete:
      return "client_delete";
    case kRecordUserPut:
      return "user_put";
    case kRecordUserDelete:
      return "user_delete";
    case kRecordUserAttempts:
      return "user_attempts";
    case kRecordTotpUsed:
      return "totp_used";
    case kRecordRefreshIssue:
      return "refresh_issue";
    case kRecordRefreshUse:
      return "refresh_use";
    case kRecordFamilyRevoke:
      return "family_revoke";
    case kRecordKeyPut:
      return "key_put";
    case kRecordBatch:
      return "batch";
    default:
      return "";
  }
}

bool Client::AllowsGrant(std::string_view grant_type) const {
  return std::find(grant_types.begin(), grant_types.end(), grant_type) != grant_types.end();
}

bool Client::AllowsScope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::string_view KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kNext:
      return "next";
    case KeyState::kActive:
      return "active";
    case KeyState::kRetired:
      return "retired";
    case KeyState::kRemoved:
      return "removed";
  }
  return "next";
}

bool ParseKeyState(std::string_view name, KeyState* state) {
  for (const KeyState s :
       {KeyState::kNext, KeyState::kActive, KeyState::kRetired, KeyState::kRemoved}) {
    if (KeyStateName(s) == name) {
      *state = s;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Encoders.

Record ClientPutRecord(const Client& client) {
  return {kRecordClientPut, ObjectWriter()
                                .Str("client_id", client.client_id)
                                .Str("name", client.name)
                                .Str("auth_method", client.auth_method)
                                .Str("secret_hash", client.secret_hash)
                                .StrArray("grant_types", client.grant_types)
                                .StrArray("scopes", client.scopes)
                                .StrArray("audiences", client.audiences)
                                .Int("ttl", client.ttl)
                                .Str("jwks", client.jwks)
                                .Int("created_at", client.created_at)
                                .Finish()};
}

Record ClientDeleteRecord(std::string_view client_id) {
  return {kRecordClientDelete, ObjectWriter().Str("client_id", client_id).Finish()};
}

Record UserPutRecord(const User& user) {
  return {kRecordUserPut, ObjectWriter()
                              .Str("username", user.username)
                              .Str("password_hash", user.password_hash)
                              .StrArray("scopes", user.scopes)
                              .Str("totp_secret", Base64UrlEncode(user.totp_secret))
                              .Int("created_at", user.created_at)
                              .Finish()};
}

Record UserDeleteRecord(std::string_view username) {
  return {kRecordUserDelete, ObjectWriter().Str("username", username).Finish()};
}

Record UserAttemptsRecord(const UserAttempts& attempts) {
  return {kRecordUserAttempts, ObjectWriter()
                                   .Str("username", attempts.username)
                                   .Int("failures", attempts.failures)
                                   .Int("locked_until", attempts.locked_until)
                                   .Int("lockouts", attempts.lockouts)
                                   .Finish()};
}

Record TotpUsedRecord(std::string_view username, int64_t step) {
  return {kRecordTotpUsed, ObjectWriter().Str("username", username).Int("step", step).Finish()};
}

Record RefreshIssueRecord(const RefreshToken& token) {
  return {kRecordRefreshIssue, ObjectWriter()
                                   .Str("hash", token.hash)
                                   .Str("family", token.family)
                                   .Str("client_id", token.client_id)
                                   .Str("sub", token.sub)
                                   .Str("scope", token.scope)
                                   .StrArray("aud", token.aud)
                                   .Int("iat", token.iat)
                                   .Int("exp", token.exp)
                                   .Int("auth_time", token.auth_time)
                                   .Finish()};
}

Record RefreshUseRecord(std::string_view hash) {
  return {kRecordRefreshUse, ObjectWriter().Str("hash", hash).Finish()};
}

Record FamilyRevokeRecord(std::string_view family, int64_t exp) {
  return {kRecordFamilyRevoke, ObjectWriter().Str("family", family).Int("exp", exp).Finish()};
}

Record KeyPutRecord(const KeyEntry& key) {
  return {kRecordKeyPut, ObjectWriter()
                             .Str("kid", key.kid)
                             .Str("alg", key.alg)
                             .Str("state", KeyStateName(key.state))
                             .Int("created_at", key.created_at)
                             .Int("activated_at", key.activated_at)
                             .Int("retired_at", key.retired_at)
                             .Str("public_jwk", key.public_jwk)
                             .Finish()};
}

Record BatchRecord(const std::vector<Record>& records) {
  std::string payload = "{\"records\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) {
      payload.push_back(',');
    }
    payload.append(
        ObjectWriter().Int("type", records[i].type).Raw("payload", records[i].payload).Finish());
  }
  payload.append("]}");
  return {kRecordBatch, std::move(payload)};
}

// ---------------------------------------------------------------------------------------------
// Decoders.

absl::StatusOr<Client> DecodeClient(std::string_view payload) {
  constexpr uint16_t kType = kRecordClientPut;
  Client c;
  const Names names = {"client_id", "name",      "auth_method", "secret_hash", "grant_types",
                       "scopes",    "audiences", "ttl",         "jwks",        "created_at"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    const std::string_view name = names.begin()[i];
    switch (i) {
      case 0:
        return ReadString(kType, name, v, &c.client_id);
      case 1:
        return ReadString(kType, name, v, &c.name);
      case 2:
        return ReadString(kType, name, v, &c.auth_method);
      case 3:
        return ReadString(kType, name, v, &c.secret_hash);
      case 4:
        return ReadStringArray(kType, name, v, &c.grant_types);
      case 5:
        return ReadStringArray(kType, name, v, &c.scopes);
      case 6:
        return ReadStringArray(kType, name, v, &c.audiences);
      case 7:
        return ReadInt(kType, name, v, &c.ttl);
      case 8:
        return ReadString(kType, name, v, &c.jwks);
      default:
        return ReadInt(kType, name, v, &c.created_at);
    }
  });
  if (!s.ok()) {
    return s;
  }
  if (s = RequireNonEmpty(kType, "client_id", c.client_id); !s.ok()) {
    return s;
  }
  if (c.ttl < 0) {
    return Malformed(kType, "member \"ttl\" is negative");
  }
  if (s = CheckEmbeddedObject(kType, "jwks", c.jwks); !s.ok()) {
    return s;
  }
  return c;
}

absl::StatusOr<std::string> DecodeClientDelete(std::string_view payload) {
  return DecodeName(kRecordClientDelete, "client_id", payload);
}

absl::StatusOr<User> DecodeUser(std::string_view payload) {
  constexpr uint16_t kType = kRecordUserPut;
  User u;
  std::string totp_b64;
  const Names names = {"username", "password_hash", "scopes", "totp_secret", "created_at"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    const std::string_view name = names.begin()[i];
    switch (i) {
      case 0:
        return ReadString(kType, name, v, &u.username);
      case 1:
        return ReadString(kType, name, v, &u.password_hash);
      case 2:
        return ReadStringArray(kType, name, v, &u.scopes);
      case 3:
        return ReadString(kType, name, v, &totp_b64);
      default:
        return ReadInt(kType, name, v, &u.created_at);
    }
  });
  if (!s.ok()) {
    return s;
  }
  if (s = RequireNonEmpty(kType, "username", u.username); !s.ok()) {
    return s;
  }
  std::optional<std::string> totp = Base64UrlDecode(totp_b64);
  if (!totp.has_value()) {
    return Malformed(kType, "member \"totp_secret\" is not canonical base64url");
  }
  u.totp_secret = std::move(*totp);
  return u;
}

absl::StatusOr<std::string> DecodeUserDelete(std::string_view payload) {
  return DecodeName(kRecordUserDelete, "username", payload);
}

absl::StatusOr<UserAttempts> DecodeUserAttempts(std::string_view payload) {
  constexpr uint16_t kType = kRecordUserAttempts;
  UserAttempts a;
  const Names names = {"username", "failures", "locked_until", "lockouts"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    const std::string_view name = names.begin()[i];
    switch (i) {
      case 0:
        return ReadString(kType, name, v, &a.username);
      case 1:
        return ReadCount(kType, name, v, &a.failures);
      case 2:
        return ReadInt(kType, name, v, &a.locked_until);
      default:
        return ReadCount(kType, name, v, &a.lockouts);
    }
  });
  if (s.ok()) {
    s = RequireNonEmpty(kType, "username", a.username);
  }
  if (!s.ok()) {
    return s;
  }
  return a;
}

absl::StatusOr<TotpUsed> DecodeTotpUsed(std::string_view payload) {
  constexpr uint16_t kType = kRecordTotpUsed;
  TotpUsed t;
  const Names names = {"username", "step"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    if (i == 0) {
      return ReadString(kType, "username", v, &t.username);
    }
    return ReadInt(kType, "step", v, &t.step);
  });
  if (s.ok()) {
    s = RequireNonEmpty(kType, "username", t.username);
  }
  if (s.ok() && t.step < 0) {
    s = Malformed(kType, "member \"step\" is negative");
  }
  if (!s.ok()) {
    return s;
  }
  return t;
}

absl::StatusOr<RefreshToken> DecodeRefreshIssue(std::string_view payload) {
  constexpr uint16_t kType = kRecordRefreshIssue;
  RefreshToken t;
  const Names names = {"hash", "family", "client_id", "sub",      "scope",
                       "aud",  "iat",    "exp",       "auth_time"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    const std::string_view name = names.begin()[i];
    switch (i) {
      case 0:
        return ReadString(kType, name, v, &t.hash);
      case 1:
        return ReadString(kType, name, v, &t.family);
      case 2:
        return ReadString(kType, name, v, &t.client_id);
      case 3:
        return ReadString(kType, name, v, &t.sub);
      case 4:
        return ReadString(kType, name, v, &t.scope);
      case 5:
        return ReadStringArray(kType, name, v, &t.aud);
      case 6:
        return ReadInt(kType, name, v, &t.iat);
      case 7:
        return ReadInt(kType, name, v, &t.exp);
      default:
        return ReadInt(kType, name, v, &t.auth_time);
    }
  });
  if (s.ok()) {
    s = RequireNonEmpty(kType, "hash", t.hash);
  }
  if (s.ok()) {
    s = RequireNonEmpty(kType, "family", t.family);
  }
  if (!s.ok()) {
    return s;
  }
  return t;
}

absl::StatusOr<std::string> DecodeRefreshUse(std::string_view payload) {
  return DecodeName(kRecordRefreshUse, "hash", payload);
}

absl::StatusOr<FamilyRevoke> DecodeFamilyRevoke(std::string_view payload) {
  constexpr uint16_t kType = kRecordFamilyRevoke;
  FamilyRevoke f;
  const Names names = {"family", "exp"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    if (i == 0) {
      return ReadString(kType, "family", v, &f.family);
    }
    return ReadInt(kType, "exp", v, &f.exp);
  });
  if (s.ok()) {
    s = RequireNonEmpty(kType, "family", f.family);
  }
  if (!s.ok()) {
    return s;
  }
  return f;
}

absl::StatusOr<KeyEntry> DecodeKeyEntry(std::string_view payload) {
  constexpr uint16_t kType = kRecordKeyPut;
  KeyEntry k;
  std::string state;
  const Names names = {"kid",          "alg",        "state",     "created_at",
                       "activated_at", "retired_at", "public_jwk"};
  absl::Status s = WalkPayload(kType, payload, names, [&](size_t i, Value v) -> absl::Status {
    const std::string_view name = names.begin()[i];
    switch (i) {
      case 0:
        return ReadString(kType, name, v, &k.kid);
      case 1:
        return ReadString(kType, name, v, &k.alg);
      case 2:
        return ReadString(kType, name, v, &state);
      case 3:
        return ReadInt(kType, name, v, &k.created_at);
      case 4:
        return ReadInt(kType, name, v, &k.activated_at);
      case 5:
        return ReadInt(kType, name, v, &k.retired_at);
      default:
        return ReadString(kType, name, v, &k.public_jwk);
    }
  });
  if (!s.ok()) {
    return s;
  }
  if (s = RequireNonEmpty(kType, "kid", k.kid); !s.ok()) {
    return s;
  }
  if (!ParseKeyState(state, &k.state)) {
    return Malformed(kType, absl::StrCat("unknown key state \"", state, "\""));
  }
  if (s = CheckEmbeddedObject(kType, "public_jwk", k.public_jwk); !s.ok()) {
    return s;
  }
  return k;
}

absl::StatusOr<std::vector<Record>> DecodeBatch(std::string_view payload) {
  constexpr uint16_t kType = kRecordBatch;
  std::vector<Record> records;
  absl::Status s = WalkPayload(kType, payload, {"records"}, [&](size_t, Value v) -> absl::Status {
    simdjson::ondemand::array array;
    if (v.get_array().get(array) != simdjson::SUCCESS) {
      return WrongType(kType, "records", "an array");
    }
    for (auto element : array) {
      const size_t index = records.size();
      simdjson::ondemand::object object;
      if (element.get_object().get(object) != simdjson::SUCCESS) {
        return Malformed(kType, absl::StrCat("records[", index, "] is not an object"));
      }
      Record r;
      absl::Status e = WalkMembers(
          kType, object, {"type", "payload"}, [&](size_t i, Value member) -> absl::Status {
            if (i == 0) {
              int64_t t = 0;
              if (absl::Status st = ReadInt(kType, "type", member, &t); !st.ok()) {
                return st;
              }
              // A batch holds single issuance records; nesting would make "atomic" ambiguous.
              if (t < kRecordClientPut || t >= kRecordBatch) {
                return Malformed(kType, absl::StrCat("records[", index, "] has type ", t,
                                                     ", which a batch may not hold"));
              }
              r.type = static_cast<uint16_t>(t);
              return absl::OkStatus();
            }
            simdjson::ondemand::object inner;
            std::string_view raw;
            if (member.get_object().get(inner) != simdjson::SUCCESS ||
                inner.raw_json().get(raw) != simdjson::SUCCESS) {
              return WrongType(kType, "payload", "an object");
            }
            // raw_json() ends at the next token, so it may carry whitespace; the element's own
            // decoder accepts that.
            r.payload.assign(raw.data(), raw.size());
            return absl::OkStatus();
          });
      if (!e.ok()) {
        return e;
      }
      records.push_back(std::move(r));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) {
    return s;
  }
  return records;
}

namespace {

template <typename T>
absl::Status DecodeInto(absl::StatusOr<T> decoded, uint16_t type, std::vector<DecodedRecord>* out) {
  if (!decoded.ok()) {
    return decoded.status();
  }
  out->push_back(DecodedRecord{type, std::move(*decoded)});
  return absl::OkStatus();
}

absl::Status DecodeSingle(uint16_t type, std::string_view payload,
                          std::vector<DecodedRecord>* out) {
  switch (type) {
    case kRecordClientPut:
      return DecodeInto(DecodeClient(payload), type, out);
    case kRecordClientDelete:
      return DecodeInto(DecodeClientDelete(payload), type, out);
    case kRecordUserPut:
      return DecodeInto(DecodeUser(payload), type, out);
    case kRecordUserDelete:
      return DecodeInto(DecodeUserDelete(payload), type, out);
    case kRecordUserAttempts:
      return DecodeInto(DecodeUserAttempts(payload), type, out);
    case kRecordTotpUsed:
      return DecodeInto(DecodeTotpUsed(payload), type, out);
    case kRecordRefreshIssue:
      return DecodeInto(DecodeRefreshIssue(payload), type, out);
    case kRecordRefreshUse:
      return DecodeInto(DecodeRefreshUse(payload), type, out);
    case kRecordFamilyRevoke:
      return DecodeInto(DecodeFamilyRevoke(payload), type, out);
    case kRecordKeyPut:
      return DecodeInto(DecodeKeyEntry(payload), type, out);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("record type ", type, " is not a single issuance record"));
  }
}

}  // namespace

absl::StatusOr<std::vector<DecodedRecord>> DecodeRecord(uint16_t type, std::string_view payload) {
  if (!IsIssuanceRecordType(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("record type ", type, " is not an issuance record type"));
  }
  std::vector<DecodedRecord> out;
  if (type != kRecordBatch) {
    if (absl::Status s = DecodeSingle(type, payload, &out); !s.ok()) {
      return s;
    }
    return out;
  }
  // The batch's document is finished before its elements are parsed: they reuse its parser.
  absl::StatusOr<std::vector<Record>> elements = DecodeBatch(payload);
  if (!elements.ok()) {
    return elements.status();
  }
  out.reserve(elements->size());
  for (size_t i = 0; i < elements->size(); ++i) {
    const Record& r = (*elements)[i];
    if (absl::Status s = DecodeSingle(r.type, r.payload, &out); !s.ok()) {
      return absl::DataLossError(absl::StrCat("batch records[", i, "]: ", s.message()));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public views.

std::string ClientJson(const Client& client) {
  ObjectWriter w;
  w.Str("client_id", client.client_id)
      .Str("name", client.name)
      .Str("token_endpoint_auth_method", client.auth_method)
      .StrArray("grant_types", client.grant_types)
      .Str("scope", JoinScopes(client.scopes))
      .StrArray("audiences", client.audiences)
      .Int("access_token_ttl_s", client.ttl)
      .Int("created_at", client.created_at);
  if (!client.jwks.empty()) {
    // Decoding checked that it is one strict JSON object.
    w.Raw("jwks", client.jwks);
  }
  return w.Finish();
}

std::string UserJson(const User& user, const UserAttempts* attempts) {
  return ObjectWriter()
      .Str("username", user.username)
      .Str("scope", JoinScopes(user.scopes))
      .Bool("totp", !user.totp_secret.empty())
      .Int("created_at", user.created_at)
      .Int("failures", attempts != nullptr ? attempts->failures : 0)
      .Int("locked_until", attempts != nullptr ? attempts->locked_until : 0)
      .Finish();
}

std::string KeyJson(const KeyEntry& key) {
  return ObjectWriter()
      .Str("kid", key.kid)
      .Str("alg", key.alg)
      .Str("state", KeyStateName(key.state))
      .Int("created_at", key.created_at)
      .Int("activated_at", key.activated_at)
      .Int("retired_at", key.retired_at)
      .Finish();
}

}  // namespace ringward::issuance
