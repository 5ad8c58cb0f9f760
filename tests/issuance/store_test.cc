// Issuance records (records.h) and IssuanceStore (store.h): the exact payloads, round trips of
// every record type, strict decoding and its refusals, batch atomicity, idempotent replay over
// an overlapping snapshot, expiry and the version counters.
#include "issuance/store.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "issuance/records.h"
#include "ringward/base/json.h"
#include "simdjson.h"

namespace ringward::issuance {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'700'000'000;

Client SampleClient() {
  Client c;
  c.client_id = "svc-\"billing\"";
  c.name = "Billing \\ service\n\x01 caf\xc3\xa9";
  c.auth_method = "client_secret_post";
  c.secret_hash = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg";
  c.grant_types = {"client_credentials", "refresh_token"};
  c.scopes = {"read", "write"};
  c.audiences = {"https://api.example"};
  c.ttl = 600;
  c.jwks = R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]})";
  c.created_at = kNow - 100;
  return c;
}

User SampleUser() {
  User u;
  u.username = "alice";
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  u.scopes = {"profile", "email"};
  u.totp_secret = std::string("\x00\xff\x10\x7f raw bytes!\x01\x02\x03\x04\x05\x06\x07", 20);
  u.created_at = kNow - 50;
  return u;
}

RefreshToken SampleRefresh(std::string hash, std::string family, int64_t exp) {
  RefreshToken t;
  t.hash = std::move(hash);
  t.family = std::move(family);
  t.client_id = "app";
  t.sub = "alice";
  t.scope = "read write";
  t.aud = {"https://api.example", "urn:b"};
  t.iat = kNow - 10;
  t.exp = exp;
  t.auth_time = kNow - 20;
  return t;
}

KeyEntry SampleKey(std::string kid, KeyState state, int64_t created_at) {
  KeyEntry k;
  k.kid = std::move(kid);
  k.alg = "EdDSA";
  k.state = state;
  k.created_at = created_at;
  k.activated_at = state == KeyState::kNext ? 0 : created_at + 10;
  k.retired_at = state == KeyState::kRetired ? created_at + 20 : 0;
  k.public_jwk =
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
  return k;
}

bool IsStrictJson(std::string_view text) {
  simdjson::ondemand::parser parser;
  return json::ValidateStrict(parser, text).ok();
}

void ExpectDataLoss(uint16_t type, std::string_view payload, std::string_view why) {
  IssuanceStore store;
  const absl::Status s = store.Apply(type, payload);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << payload << " -> " << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(why))) << payload;
}

// ---------------------------------------------------------------------------------------------
// Types, names and exact bytes.

TEST(IssuanceRecordsTest, TypesAndNames) {
  EXPECT_FALSE(IsIssuanceRecordType(1));
  EXPECT_FALSE(IsIssuanceRecordType(31));
  EXPECT_TRUE(IsIssuanceRecordType(32));
  EXPECT_TRUE(IsIssuanceRecordType(42));
  EXPECT_FALSE(IsIssuanceRecordType(43));
  EXPECT_EQ(IssuanceRecordTypeName(kRecordClientPut), "client_put");
  EXPECT_EQ(IssuanceRecordTypeName(kRecordTotpUsed), "totp_used");
  EXPECT_EQ(IssuanceRecordTypeName(kRecordFamilyRevoke), "family_revoke");
  EXPECT_EQ(IssuanceRecordTypeName(kRecordBatch), "batch");
  EXPECT_EQ(IssuanceRecordTypeName(3), "");
  for (KeyState s : {KeyState::kNext, KeyState::kActive, KeyState::kRetired, KeyState::kRemoved}) {
    KeyState parsed = KeyState::kNext;
    ASSERT_TRUE(ParseKeyState(KeyStateName(s), &parsed));
    EXPECT_EQ(parsed, s);
  }
  KeyState unused;
  EXPECT_FALSE(ParseKeyState("Active", &unused));
  EXPECT_FALSE(ParseKeyState("", &unused));
}

TEST(IssuanceRecordsTest, PayloadBytesArePinned) {
  EXPECT_EQ(ClientDeleteRecord("c1"), (Record{33, R"({"client_id":"c1"})"}));
  EXPECT_EQ(
      UserAttemptsRecord({"bob", 3, kNow, 1}),
      (Record{36, R"({"username":"bob","failures":3,"locked_until":1700000000,"lockouts":1})"}));
  EXPECT_EQ(TotpUsedRecord("bob", 56666666), (Record{37, R"({"username":"bob","step":56666666})"}));
  EXPECT_EQ(FamilyRevokeRecord("f", -5), (Record{40, R"({"family":"f","exp":-5})"}));
  EXPECT_EQ(RefreshUseRecord("h"), (Record{39, R"({"hash":"h"})"}));
  EXPECT_EQ(UserDeleteRecord("a\"b"), (Record{35, R"({"username":"a\"b"})"}));

  User u;
  u.username = "u";
  u.password_hash = "p";
  u.totp_secret = "\xfb\xff";
  EXPECT_EQ(
      UserPutRecord(u).payload,
      R"({"username":"u","password_hash":"p","scopes":[],"totp_secret":"-_8","created_at":0})");

  Client c;
  c.client_id = "c";
  c.grant_types = {"client_credentials"};
  EXPECT_EQ(ClientPutRecord(c).payload,
            R"({"client_id":"c","name":"","auth_method":"client_secret_basic","secret_hash":"",)"
            R"("grant_types":["client_credentials"],"scopes":[],"audiences":[],"ttl":0,"jwks":"",)"
            R"("created_at":0})");

  KeyEntry k;
  k.kid = "k";
  k.alg = "ES256";
  k.state = KeyState::kRetired;
  k.created_at = 1;
  k.activated_at = 2;
  k.retired_at = 3;
  k.public_jwk = R"({"kty":"EC"})";
  EXPECT_EQ(KeyPutRecord(k).payload,
            R"({"kid":"k","alg":"ES256","state":"retired","created_at":1,"activated_at":2,)"
            R"("retired_at":3,"public_jwk":"{\"kty\":\"EC\"}"})");

  RefreshToken t;
  t.hash = "h";
  t.family = "f";
  t.aud = {"a"};
  t.used = true;  // not part of the record
  EXPECT_EQ(RefreshIssueRecord(t).payload,
            R"({"hash":"h","family":"f","client_id":"","sub":"","scope":"","aud":["a"],"iat":0,)"
            R"("exp":0,"auth_time":0})");

  EXPECT_EQ(BatchRecord({ClientDeleteRecord("x"), RefreshUseRecord("y")}),
            (Record{42, R"({"records":[{"type":33,"payload":{"client_id":"x"}},)"
                        R"({"type":39,"payload":{"hash":"y"}}]})"}));
}

// ---------------------------------------------------------------------------------------------
// Round trips.

TEST(IssuanceRecordsTest, EveryRecordTypeRoundTrips) {
  const Client client = SampleClient();
  const Record cr = ClientPutRecord(client);
  EXPECT_EQ(cr.type, kRecordClientPut);
  EXPECT_TRUE(IsStrictJson(cr.payload)) << cr.payload;
  absl::StatusOr<Client> c = DecodeClient(cr.payload);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, client);

  absl::StatusOr<std::string> cd = DecodeClientDelete(ClientDeleteRecord("svc/\u00e9").payload);
  ASSERT_TRUE(cd.ok()) << cd.status();
  EXPECT_EQ(*cd, "svc/\u00e9");

  const User user = SampleUser();
  const Record ur = UserPutRecord(user);
  EXPECT_THAT(ur.payload, Not(HasSubstr("raw bytes")));  // base64url in the record
  absl::StatusOr<User> u = DecodeUser(ur.payload);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, user);
  EXPECT_EQ(u->totp_secret.size(), 20u);

  absl::StatusOr<std::string> ud = DecodeUserDelete(UserDeleteRecord("alice").payload);
  ASSERT_TRUE(ud.ok());
  EXPECT_EQ(*ud, "alice");

  const UserAttempts attempts{"alice", 4, kNow + 300, 2};
  absl::StatusOr<UserAttempts> a = DecodeUserAttempts(UserAttemptsRecord(attempts).payload);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, attempts);

  absl::StatusOr<TotpUsed> tu = DecodeTotpUsed(TotpUsedRecord("alice", 56666667).payload);
  ASSERT_TRUE(tu.ok());
  EXPECT_EQ(tu->username, "alice");
  EXPECT_EQ(tu->step, 56666667);

  const RefreshToken token = SampleRefresh("hash-1", "fam-1", kNow + 3600);
  absl::StatusOr<RefreshToken> rt = DecodeRefreshIssue(RefreshIssueRecord(token).payload);
  ASSERT_TRUE(rt.ok()) << rt.status();
  EXPECT_EQ(*rt, token);

  absl::StatusOr<std::string> use = DecodeRefreshUse(RefreshUseRecord("hash-1").payload);
  ASSERT_TRUE(use.ok());
  EXPECT_EQ(*use, "hash-1");

  absl::StatusOr<FamilyRevoke> fr =
      DecodeFamilyRevoke(FamilyRevokeRecord("fam-1", INT64_MIN).payload);
  ASSERT_TRUE(fr.ok()) << fr.status();
  EXPECT_EQ(fr->family, "fam-1");
  EXPECT_EQ(fr->exp, INT64_MIN);

  for (KeyState state :
       {KeyState::kNext, KeyState::kActive, KeyState::kRetired, KeyState::kRemoved}) {
    const KeyEntry key = SampleKey("kid-1", state, kNow);
    absl::StatusOr<KeyEntry> k = DecodeKeyEntry(KeyPutRecord(key).payload);
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_EQ(*k, key);
  }

  const std::vector<Record> elements = {cr, ur, RefreshUseRecord("hash-1")};
  const Record batch = BatchRecord(elements);
  EXPECT_TRUE(IsStrictJson(batch.payload));
  absl::StatusOr<std::vector<Record>> decoded = DecodeBatch(batch.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, elements);
  EXPECT_TRUE(DecodeBatch(BatchRecord({}).payload).ok());
}

TEST(IssuanceRecordsTest, DecodeRecordDispatchesAndFlattensBatches) {
  absl::StatusOr<std::vector<DecodedRecord>> one =
      DecodeRecord(kRecordTotpUsed, TotpUsedRecord("bob", 7).payload);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].type, kRecordTotpUsed);
  EXPECT_EQ(std::get<TotpUsed>((*one)[0].value).step, 7);

  const Record batch = BatchRecord({ClientPutRecord(SampleClient()), ClientDeleteRecord("gone"),
                                    KeyPutRecord(SampleKey("k", KeyState::kActive, kNow))});
  absl::StatusOr<std::vector<DecodedRecord>> many = DecodeRecord(kRecordBatch, batch.payload);
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_EQ(std::get<Client>((*many)[0].value), SampleClient());
  EXPECT_EQ((*many)[1].type, kRecordClientDelete);
  EXPECT_EQ(std::get<std::string>((*many)[1].value), "gone");
  EXPECT_EQ(std::get<KeyEntry>((*many)[2].value).kid, "k");

  EXPECT_EQ(DecodeRecord(2, "{}").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IssuanceRecordsTest, BatchElementsMayCarryWhitespace) {
  IssuanceStore store;
  const std::string payload =
      "{ \"records\" : [ { \"payload\" : { \"client_id\" : \"a\" } , \"type\" : 33 } ,\n"
      "{\"type\":37,\"payload\":{\"username\":\"u\",\"step\":9}\n}\t] }\n";
  ASSERT_TRUE(store.Apply(kRecordBatch, payload).ok()) << store.Apply(kRecordBatch, payload);
  EXPECT_EQ(store.TotpLastStep("u"), 9);
}

// ---------------------------------------------------------------------------------------------
// Strict decoding.

TEST(IssuanceRecordsTest, MalformedPayloadsAreDataLoss) {
  // Each refusal below would be accepted by a lenient reader.
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":"a","client_id":"b"})", "duplicate");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":"a","extra":1})", "unknown member");
  ExpectDataLoss(kRecordClientDelete, R"({})", "missing");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":7})", "not a string");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":""})", "empty");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":"a"}x)", "");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":"a"} {})", "follow");
  ExpectDataLoss(kRecordClientDelete, R"(["client_id","a"])", "not a JSON object");
  ExpectDataLoss(kRecordClientDelete, R"("a")", "");
  ExpectDataLoss(kRecordClientDelete, R"({"client_id":"a")", "");
  ExpectDataLoss(kRecordClientDelete, "", "");
  ExpectDataLoss(kRecordClientDelete, "{\"client_id\":\"\xff\"}", "");

  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":"5"})", "integer");
  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":5.0})", "integer");
  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":18446744073709551615})", "integer");
  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":true})", "integer");
  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":-1})", "negative");
  ExpectDataLoss(kRecordTotpUsed, R"({"username":"u","step":1,"username":"v"})", "duplicate");

  ExpectDataLoss(kRecordUserAttempts,
                 R"({"username":"u","failures":-1,"locked_until":0,"lockouts":0})", "range");
  ExpectDataLoss(kRecordUserAttempts,
                 R"({"username":"u","failures":1,"locked_until":0,"lockouts":4294967296})",
                 "range");

  User user = SampleUser();
  std::string good_user = UserPutRecord(user).payload;
  ASSERT_TRUE(DecodeUser(good_user).ok());
  std::string padded_totp = good_user;
  padded_totp.replace(padded_totp.find("\"totp_secret\":\"") + 15, 0, "=");
  ExpectDataLoss(kRecordUserPut, padded_totp, "base64url");
  std::string bad_scopes = good_user;
  bad_scopes.replace(bad_scopes.find("[\"profile\""), 1, "[1,");
  ExpectDataLoss(kRecordUserPut, bad_scopes, "array of strings");
  std::string scopes_object = good_user;
  scopes_object.replace(scopes_object.find("[\"profile\",\"email\"]"), 19, "{}");
  ExpectDataLoss(kRecordUserPut, scopes_object, "array of strings");

  Client client = SampleClient();
  client.jwks = "[1]";
  ExpectDataLoss(kRecordClientPut, ClientPutRecord(client).payload, "jwks");
  client.jwks = R"({"keys":[],"keys":[]})";
  ExpectDataLoss(kRecordClientPut, ClientPutRecord(client).payload, "duplicate");
  client.jwks = R"({"keys":[]} x)";
  ExpectDataLoss(kRecordClientPut, ClientPutRecord(client).payload, "jwks");
  client.jwks = "";
  client.ttl = -1;
  ExpectDataLoss(kRecordClientPut, ClientPutRecord(client).payload, "ttl");

  std::string bad_state = KeyPutRecord(SampleKey("k", KeyState::kActive, kNow)).payload;
  bad_state.replace(bad_state.find("\"active\""), 8, "\"enabled\"");
  ExpectDataLoss(kRecordKeyPut, bad_state, "key state");
  KeyEntry no_jwk = SampleKey("k", KeyState::kNext, kNow);
  no_jwk.public_jwk = "not json";
  ExpectDataLoss(kRecordKeyPut, KeyPutRecord(no_jwk).payload, "public_jwk");

  ExpectDataLoss(kRecordRefreshIssue,
                 R"({"hash":"h","family":"","client_id":"c","sub":"s","scope":"","aud":[],)"
                 R"("iat":0,"exp":0,"auth_time":0})",
                 "family");
}

TEST(IssuanceRecordsTest, MalformedBatchesAreDataLoss) {
  const std::string good = ClientDeleteRecord("a").payload;
  ExpectDataLoss(kRecordBatch, R"({"records":{}})", "array");
  ExpectDataLoss(kRecordBatch, R"({"records":[1]})", "not an object");
  ExpectDataLoss(kRecordBatch, R"({"records":[],"records":[]})", "duplicate");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":33}]})", "missing");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":33,"payload":"{}"}]})", "an object");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":33,"payload":{"client_id":"a"},"x":0}]})",
                 "unknown");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":33,"type":33,"payload":{"client_id":"a"}}]})",
                 "duplicate");
  // Nested batches and other subsystems' records may not ride in a batch.
  ExpectDataLoss(kRecordBatch, BatchRecord({BatchRecord({})}).payload, "may not hold");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":1,"payload":{}}]})", "may not hold");
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":43,"payload":{}}]})", "may not hold");
  // An element's payload is held to its own type's rules.
  ExpectDataLoss(kRecordBatch, R"({"records":[{"type":33,"payload":{"client_id":1}}]})",
                 "records[0]");
  ExpectDataLoss(kRecordBatch,
                 R"({"records":[{"type":33,"payload":{"client_id":"a","client_id":"b"}}]})",
                 "duplicate");
  ExpectDataLoss(kRecordBatch, absl::StrCat(BatchRecord({}).payload, "]"), "");
}

TEST(IssuanceStoreTest, NonIssuanceTypesAreInvalidArgument) {
  IssuanceStore store;
  EXPECT_EQ(store.Apply(1, "\x01\x02").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Apply(43, "{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Apply(31, "{}").code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Store semantics.

void MustApply(IssuanceStore* store, const Record& r) {
  const absl::Status s = store->Apply(r.type, r.payload);
  ASSERT_TRUE(s.ok()) << IssuanceRecordTypeName(r.type) << " " << r.payload << ": " << s;
}

TEST(IssuanceStoreTest, ClientsArePutReplacedAndDeleted) {
  IssuanceStore store;
  EXPECT_EQ(store.FindClient("svc-\"billing\""), nullptr);
  Client c = SampleClient();
  MustApply(&store, ClientPutRecord(c));
  Client b;
  b.client_id = "a-first";
  MustApply(&store, ClientPutRecord(b));
  ASSERT_NE(store.FindClient(c.client_id), nullptr);
  EXPECT_EQ(*store.FindClient(c.client_id), c);
  std::vector<std::string> ids;
  for (const Client* x : store.Clients()) {
    ids.push_back(x->client_id);
  }
  EXPECT_THAT(ids, ElementsAre("a-first", c.client_id));

  c.scopes = {"only"};
  MustApply(&store, ClientPutRecord(c));
  EXPECT_THAT(store.FindClient(c.client_id)->scopes, ElementsAre("only"));

  MustApply(&store, RefreshIssueRecord(SampleRefresh("h", "f", kNow + 10)));
  MustApply(&store, ClientDeleteRecord(c.client_id));
  EXPECT_EQ(store.FindClient(c.client_id), nullptr);
  EXPECT_NE(store.FindClient("a-first"), nullptr);
  EXPECT_NE(store.FindRefresh("h"), nullptr);  // refresh tokens outlive their client
}

TEST(IssuanceStoreTest, UsersAttemptsAndTotp) {
  IssuanceStore store;
  EXPECT_EQ(store.TotpLastStep("alice"), -1);
  const UserAttempts none = store.Attempts("alice");
  EXPECT_EQ(none, (UserAttempts{"alice", 0, 0, 0}));

  User user = SampleUser();
  MustApply(&store, UserPutRecord(user));
  MustApply(&store, UserAttemptsRecord({"alice", 2, 0, 0}));
  MustApply(&store, TotpUsedRecord("alice", 100));
  MustApply(&store, TotpUsedRecord("alice", 99));  // an older step never lowers it
  EXPECT_EQ(store.TotpLastStep("alice"), 100);
  MustApply(&store, UserAttemptsRecord({"alice", 0, kNow + 300, 1}));
  EXPECT_EQ(store.Attempts("alice"), (UserAttempts{"alice", 0, kNow + 300, 1}));

  // A put replaces the user but keeps the counters and the step.
  user.scopes = {};
  user.totp_secret.clear();
  MustApply(&store, UserPutRecord(user));
  EXPECT_EQ(*store.FindUser("alice"), user);
  EXPECT_EQ(store.Attempts("alice").lockouts, 1);
  EXPECT_EQ(store.TotpLastStep("alice"), 100);

  User bob;
  bob.username = "bob";
  MustApply(&store, UserPutRecord(bob));
  std::vector<std::string> names;
  for (const User* u : store.Users()) {
    names.push_back(u->username);
  }
  EXPECT_THAT(names, ElementsAre("alice", "bob"));

  // Deleting a user forgets its counters and step: a new user of that name starts clean.
  MustApply(&store, UserDeleteRecord("alice"));
  EXPECT_EQ(store.FindUser("alice"), nullptr);
  EXPECT_EQ(store.Attempts("alice"), (UserAttempts{"alice", 0, 0, 0}));
  EXPECT_EQ(store.TotpLastStep("alice"), -1);
  EXPECT_NE(store.FindUser("bob"), nullptr);
}

TEST(IssuanceStoreTest, ZeroAttemptsAreNotKept) {
  IssuanceStore store;
  MustApply(&store, UserAttemptsRecord({"ghost", 3, 0, 0}));
  EXPECT_EQ(store.LiveRecords(kNow).size(), 1u);
  MustApply(&store, UserAttemptsRecord({"ghost", 0, 0, 0}));
  EXPECT_TRUE(store.LiveRecords(kNow).empty());
  EXPECT_TRUE(store.StateEquals(IssuanceStore()));
}

TEST(IssuanceStoreTest, RefreshTokensAndFamilies) {
  IssuanceStore store;
  const RefreshToken t = SampleRefresh("h1", "fam", kNow + 100);
  MustApply(&store, RefreshIssueRecord(t));
  ASSERT_NE(store.FindRefresh("h1"), nullptr);
  EXPECT_EQ(*store.FindRefresh("h1"), t);
  EXPECT_FALSE(store.FindRefresh("h1")->used);
  const RefreshToken* before = store.FindRefresh("h1");
  for (int i = 0; i < 100; ++i) {
    MustApply(&store, RefreshIssueRecord(SampleRefresh(absl::StrCat("other", i), "g", kNow + 1)));
  }
  EXPECT_EQ(store.FindRefresh("h1"), before);  // pointers survive inserts
  MustApply(&store, RefreshUseRecord("h1"));
  EXPECT_TRUE(store.FindRefresh("h1")->used);
  MustApply(&store, RefreshUseRecord("unknown"));  // e.g. expired already: ignored
  EXPECT_EQ(store.FindRefresh("unknown"), nullptr);
  EXPECT_EQ(store.refresh_count(), 101u);

  EXPECT_FALSE(store.FamilyRevoked("fam"));
  MustApply(&store, FamilyRevokeRecord("fam", kNow + 100));
  MustApply(&store, FamilyRevokeRecord("fam", kNow + 5));  // keeps the later exp
  EXPECT_TRUE(store.FamilyRevoked("fam"));
  EXPECT_FALSE(store.FamilyRevoked("g"));
  EXPECT_EQ(store.Expire(kNow + 99), 100u);  // the "other" tokens
  EXPECT_TRUE(store.FamilyRevoked("fam"));
  EXPECT_NE(store.FindRefresh("h1"), nullptr);
}

TEST(IssuanceStoreTest, KeysAreSortedAndRemovedKeysAreForgotten) {
  IssuanceStore store;
  MustApply(&store, KeyPutRecord(SampleKey("zz", KeyState::kRetired, 100)));
  MustApply(&store, KeyPutRecord(SampleKey("bb", KeyState::kActive, 200)));
  MustApply(&store, KeyPutRecord(SampleKey("aa", KeyState::kNext, 200)));
  std::vector<std::string> kids;
  for (const KeyEntry* k : store.Keys()) {
    kids.push_back(k->kid);
  }
  EXPECT_THAT(kids, ElementsAre("zz", "aa", "bb"));

  MustApply(&store, KeyPutRecord(SampleKey("aa", KeyState::kActive, 200)));
  EXPECT_EQ(store.FindKey("aa")->state, KeyState::kActive);
  MustApply(&store, KeyPutRecord(SampleKey("zz", KeyState::kRemoved, 100)));
  EXPECT_EQ(store.FindKey("zz"), nullptr);
  EXPECT_EQ(store.Keys().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Batches.

TEST(IssuanceStoreTest, BatchIsAppliedInOrder) {
  IssuanceStore store;
  RefreshToken next = SampleRefresh("h2", "fam", kNow + 100);
  MustApply(&store, RefreshIssueRecord(SampleRefresh("h1", "fam", kNow + 100)));
  // A rotation: the old token is used and its successor issued, durable together.
  MustApply(&store, BatchRecord({RefreshUseRecord("h1"), RefreshIssueRecord(next),
                                 ClientDeleteRecord("c"), ClientPutRecord(SampleClient()),
                                 ClientDeleteRecord(SampleClient().client_id)}));
  EXPECT_TRUE(store.FindRefresh("h1")->used);
  EXPECT_EQ(*store.FindRefresh("h2"), next);
  EXPECT_EQ(store.FindClient(SampleClient().client_id), nullptr);  // the later delete wins
}

TEST(IssuanceStoreTest, BatchWithOneBadElementChangesNothing) {
  IssuanceStore store;
  MustApply(&store, ClientPutRecord(SampleClient()));
  MustApply(&store, RefreshIssueRecord(SampleRefresh("h1", "fam", kNow + 100)));
  IssuanceStore reference;
  MustApply(&reference, ClientPutRecord(SampleClient()));
  MustApply(&reference, RefreshIssueRecord(SampleRefresh("h1", "fam", kNow + 100)));
  const uint64_t clients_version = store.clients_version();
  const uint64_t users_version = store.users_version();
  const uint64_t keys_version = store.keys_version();

  Record bad_last =
      BatchRecord({ClientDeleteRecord(SampleClient().client_id), UserPutRecord(SampleUser()),
                   RefreshUseRecord("h1"), KeyPutRecord(SampleKey("k", KeyState::kActive, kNow)),
                   Record{kRecordTotpUsed, R"({"username":"x","step":"1"})"}});
  EXPECT_EQ(store.Apply(bad_last.type, bad_last.payload).code(), absl::StatusCode::kDataLoss);
  Record bad_first = BatchRecord({Record{kRecordClientDelete, R"({"client_id":""})"},
                                  ClientDeleteRecord(SampleClient().client_id)});
  EXPECT_EQ(store.Apply(bad_first.type, bad_first.payload).code(), absl::StatusCode::kDataLoss);

  EXPECT_TRUE(store.StateEquals(reference));
  EXPECT_NE(store.FindClient(SampleClient().client_id), nullptr);
  EXPECT_EQ(store.FindUser("alice"), nullptr);
  EXPECT_FALSE(store.FindRefresh("h1")->used);
  EXPECT_EQ(store.clients_version(), clients_version);
  EXPECT_EQ(store.users_version(), users_version);
  EXPECT_EQ(store.keys_version(), keys_version);
}

// ---------------------------------------------------------------------------------------------
// Replay: idempotence, snapshots, expiry.

// A history touching every record type, with replacements and deletes that make the order
// matter.
std::vector<Record> History() {
  std::vector<Record> h;
  Client c = SampleClient();
  h.push_back(ClientPutRecord(c));
  Client d;
  d.client_id = "deleted-later";
  h.push_back(ClientPutRecord(d));
  User alice = SampleUser();
  h.push_back(UserPutRecord(alice));
  User bob;
  bob.username = "bob";
  bob.password_hash = "$argon2id$x";
  h.push_back(UserPutRecord(bob));
  h.push_back(UserAttemptsRecord({"alice", 1, 0, 0}));
  h.push_back(TotpUsedRecord("alice", 500));
  h.push_back(TotpUsedRecord("bob", 900));
  h.push_back(KeyPutRecord(SampleKey("k1", KeyState::kActive, kNow - 1000)));
  h.push_back(KeyPutRecord(SampleKey("k2", KeyState::kNext, kNow - 500)));
  h.push_back(RefreshIssueRecord(SampleRefresh("r1", "famA", kNow + 1000)));
  h.push_back(RefreshIssueRecord(SampleRefresh("old", "famB", kNow - 1)));  // expires first
  h.push_back(BatchRecord(
      {RefreshUseRecord("r1"), RefreshIssueRecord(SampleRefresh("r2", "famA", kNow + 2000))}));
  h.push_back(UserAttemptsRecord({"alice", 5, kNow + 300, 1}));
  h.push_back(UserDeleteRecord("bob"));
  h.push_back(TotpUsedRecord("bob", 30));  // after the delete: a fresh step
  h.push_back(ClientDeleteRecord("deleted-later"));
  h.push_back(BatchRecord({KeyPutRecord(SampleKey("k1", KeyState::kRetired, kNow - 1000)),
                           KeyPutRecord(SampleKey("k2", KeyState::kActive, kNow - 500))}));
  h.push_back(FamilyRevokeRecord("famA", kNow + 2000));
  h.push_back(FamilyRevokeRecord("famOld", kNow - 10));
  h.push_back(TotpUsedRecord("alice", 501));
  c.name = "renamed";
  h.push_back(ClientPutRecord(c));
  h.push_back(RefreshUseRecord("r2"));
  h.push_back(KeyPutRecord(SampleKey("k0", KeyState::kRetired, kNow - 5000)));
  h.push_back(KeyPutRecord(SampleKey("k0", KeyState::kRemoved, kNow - 5000)));
  h.push_back(UserAttemptsRecord({"alice", 0, 0, 0}));
  h.push_back(UserAttemptsRecord({"carol", 2, 0, 0}));
  return h;
}

void ApplyAll(IssuanceStore* store, const std::vector<Record>& records, size_t from = 0,
              size_t to = SIZE_MAX) {
  for (size_t i = from; i < records.size() && i < to; ++i) {
    MustApply(store, records[i]);
  }
}

TEST(IssuanceStoreTest, ReplayingTwiceEqualsOnce) {
  const std::vector<Record> history = History();
  IssuanceStore once;
  ApplyAll(&once, history);
  IssuanceStore twice;
  ApplyAll(&twice, history);
  ApplyAll(&twice, history);
  EXPECT_TRUE(twice.StateEquals(once));

  // And the end state is the one the history describes.
  EXPECT_EQ(once.FindClient("svc-\"billing\"")->name, "renamed");
  EXPECT_EQ(once.FindClient("deleted-later"), nullptr);
  EXPECT_EQ(once.FindUser("bob"), nullptr);
  EXPECT_EQ(once.TotpLastStep("bob"), 30);
  EXPECT_EQ(once.TotpLastStep("alice"), 501);
  EXPECT_EQ(once.Attempts("alice"), (UserAttempts{"alice", 0, 0, 0}));
  EXPECT_EQ(once.Attempts("carol").failures, 2);
  EXPECT_TRUE(once.FindRefresh("r1")->used);
  EXPECT_TRUE(once.FindRefresh("r2")->used);
  EXPECT_TRUE(once.FamilyRevoked("famA"));
  EXPECT_EQ(once.FindKey("k0"), nullptr);
  EXPECT_EQ(once.FindKey("k1")->state, KeyState::kRetired);
  EXPECT_EQ(once.FindKey("k2")->state, KeyState::kActive);
  EXPECT_FALSE(once.StateEquals(IssuanceStore()));
}

TEST(IssuanceStoreTest, SnapshotThenOverlappingTailGivesTheSameState) {
  const std::vector<Record> history = History();
  IssuanceStore full;
  ApplyAll(&full, history);
  // Snapshot after |m| records, then replay the log from |k| <= m (an overlap of m - k records,
  // which compaction can produce), at a time before anything expires.
  for (size_t m = 0; m <= history.size(); ++m) {
    IssuanceStore prefix;
    ApplyAll(&prefix, history, 0, m);
    const std::vector<Record> snapshot = prefix.LiveRecords(kNow - 100'000);
    for (size_t k = 0; k <= m; ++k) {
      IssuanceStore rebuilt;
      ApplyAll(&rebuilt, snapshot);
      ApplyAll(&rebuilt, history, k);
      EXPECT_TRUE(rebuilt.StateEquals(full)) << "snapshot after " << m << ", tail from " << k;
    }
  }
}

TEST(IssuanceStoreTest, SnapshotLeavesOutWhatExpired) {
  const std::vector<Record> history = History();
  IssuanceStore store;
  ApplyAll(&store, history);
  const std::vector<Record> snapshot = store.LiveRecords(kNow);
  EXPECT_EQ(snapshot, store.LiveRecords(kNow));  // deterministic
  IssuanceStore rebuilt;
  ApplyAll(&rebuilt, snapshot);
  EXPECT_FALSE(rebuilt.StateEquals(store));  // "old" and "famOld" are gone
  EXPECT_EQ(rebuilt.FindRefresh("old"), nullptr);
  EXPECT_FALSE(rebuilt.FamilyRevoked("famOld"));
  EXPECT_TRUE(rebuilt.FindRefresh("r2")->used);

  EXPECT_EQ(store.Expire(kNow), 2u);  // "old" and "famOld"
  EXPECT_TRUE(rebuilt.StateEquals(store));
  EXPECT_EQ(store.Expire(kNow), 0u);
  EXPECT_EQ(store.refresh_count(), 2u);
  EXPECT_EQ(store.revoked_family_count(), 1u);
  // Everything expires in time.
  EXPECT_EQ(store.Expire(kNow + 2000), 3u);
  EXPECT_EQ(store.refresh_count(), 0u);
  EXPECT_FALSE(store.FamilyRevoked("famA"));
}

// ---------------------------------------------------------------------------------------------
// Versions.

TEST(IssuanceStoreTest, VersionsCountChangesToTheirPart) {
  IssuanceStore store;
  EXPECT_EQ(store.clients_version(), 0u);
  MustApply(&store, ClientPutRecord(SampleClient()));
  EXPECT_EQ(store.clients_version(), 1u);
  MustApply(&store, ClientPutRecord(SampleClient()));  // unchanged
  EXPECT_EQ(store.clients_version(), 1u);
  Client c = SampleClient();
  c.ttl = 60;
  MustApply(&store, ClientPutRecord(c));
  EXPECT_EQ(store.clients_version(), 2u);
  MustApply(&store, ClientDeleteRecord("nobody"));
  EXPECT_EQ(store.clients_version(), 2u);
  MustApply(&store, ClientDeleteRecord(c.client_id));
  EXPECT_EQ(store.clients_version(), 3u);
  EXPECT_EQ(store.users_version(), 0u);
  EXPECT_EQ(store.keys_version(), 0u);

  MustApply(&store, UserPutRecord(SampleUser()));
  EXPECT_EQ(store.users_version(), 1u);
  MustApply(&store, UserAttemptsRecord({"alice", 1, 0, 0}));
  EXPECT_EQ(store.users_version(), 2u);
  MustApply(&store, TotpUsedRecord("alice", 10));
  EXPECT_EQ(store.users_version(), 3u);
  MustApply(&store, TotpUsedRecord("alice", 9));
  EXPECT_EQ(store.users_version(), 3u);
  MustApply(&store, UserDeleteRecord("alice"));
  EXPECT_EQ(store.users_version(), 4u);

  MustApply(&store, KeyPutRecord(SampleKey("k", KeyState::kNext, kNow)));
  EXPECT_EQ(store.keys_version(), 1u);
  MustApply(&store, KeyPutRecord(SampleKey("k", KeyState::kActive, kNow)));
  EXPECT_EQ(store.keys_version(), 2u);
  MustApply(&store, KeyPutRecord(SampleKey("k", KeyState::kRemoved, kNow)));
  EXPECT_EQ(store.keys_version(), 3u);
  MustApply(&store, KeyPutRecord(SampleKey("k", KeyState::kRemoved, kNow)));
  EXPECT_EQ(store.keys_version(), 3u);

  // Refresh traffic touches none of them.
  MustApply(&store, RefreshIssueRecord(SampleRefresh("h", "f", kNow + 1)));
  MustApply(&store, RefreshUseRecord("h"));
  MustApply(&store, FamilyRevokeRecord("f", kNow + 1));
  EXPECT_EQ(store.clients_version(), 3u);
  EXPECT_EQ(store.users_version(), 4u);
  EXPECT_EQ(store.keys_version(), 3u);
}

// ---------------------------------------------------------------------------------------------
// Public views and helpers.

TEST(IssuanceRecordsTest, ClientJsonIsThePublicView) {
  Client c = SampleClient();
  const std::string json = ClientJson(c);
  EXPECT_TRUE(IsStrictJson(json)) << json;
  EXPECT_THAT(json, Not(HasSubstr(c.secret_hash)));
  EXPECT_THAT(json, Not(HasSubstr("\"secret")));  // no "secret" or "secret_hash" member
  EXPECT_EQ(
      json,
      absl::StrCat(
          R"({"client_id":"svc-\"billing\"","name":"Billing \\ service\n\u0001 caf)", "\xc3\xa9",
          R"(","token_endpoint_auth_method":"client_secret_post",)"
          R"("grant_types":["client_credentials","refresh_token"],"scope":"read write",)"
          R"("audiences":["https://api.example"],"access_token_ttl_s":600,)"
          R"("created_at":1699999900,"jwks":{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]}})"));
  c.jwks.clear();
  EXPECT_THAT(ClientJson(c), Not(HasSubstr("jwks")));
  EXPECT_TRUE(IsStrictJson(ClientJson(c)));
}

TEST(IssuanceRecordsTest, UserAndKeyJsonHideSecrets) {
  const User u = SampleUser();
  const UserAttempts a{"alice", 3, kNow + 60, 1};
  EXPECT_EQ(UserJson(u, &a),
            R"({"username":"alice","scope":"profile email","totp":true,"created_at":1699999950,)"
            R"("failures":3,"locked_until":1700000060})");
  User plain = u;
  plain.totp_secret.clear();
  plain.scopes.clear();
  EXPECT_EQ(UserJson(plain, nullptr),
            R"({"username":"alice","scope":"","totp":false,"created_at":1699999950,)"
            R"("failures":0,"locked_until":0})");

  const KeyEntry k = SampleKey("kid", KeyState::kRetired, 5);
  EXPECT_EQ(KeyJson(k),
            R"({"kid":"kid","alg":"EdDSA","state":"retired","created_at":5,"activated_at":15,)"
            R"("retired_at":25})");
}

TEST(IssuanceRecordsTest, ClientAllowsGrantAndScope) {
  const Client c = SampleClient();
  EXPECT_TRUE(c.AllowsGrant("client_credentials"));
  EXPECT_FALSE(c.AllowsGrant("password"));
  EXPECT_FALSE(c.AllowsGrant("client_credential"));
  EXPECT_TRUE(c.AllowsScope("write"));
  EXPECT_FALSE(c.AllowsScope("read write"));
  EXPECT_FALSE(c.AllowsScope(""));
}

}  // namespace
}  // namespace ringward::issuance
