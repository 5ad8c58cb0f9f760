// Issuance keys: key files on disk, rotation planning, RFC 9068 minting, client authentication
// (secrets and private_key_jwt) and the discovery documents.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "issuance/access_token.h"
#include "issuance/client_auth.h"
#include "issuance/discovery.h"
#include "issuance/form.h"
#include "issuance/key_files.h"
#include "issuance/records.h"
#include "issuance/rotation.h"
#include "issuance/secrets.h"
#include "ringward/base/base64url.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"
#include "ringward/token/key.h"
#include "ringward/token/verifier.h"
#include "simdjson.h"
#include "testing/temp_dir.h"
#include "testing/token_factory.h"

namespace ringward::issuance {
namespace {

using test::JsonObject;
using test::SignJson;
using test::TempDir;

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://issuer.example";
constexpr char kTokenEndpoint[] = "https://issuer.example/oauth2/token";

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Contains(const absl::Status& s, std::string_view needle) {
  return absl::StrContains(s.message(), ToAbsl(needle));
}

// ---------------------------------------------------------------------------------------------
// KeyFiles

TEST(KeyFilesTest, OpenCreatesAMissingDirectoryWithMode0700) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/keys";
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->dir(), dir);
  EXPECT_EQ(ModeOf(dir), 0700u);
}

TEST(KeyFilesTest, OpenRefusesADirectoryOthersCanReach) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/keys";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0750), 0);
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(dir);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(files.status(), "chmod 700")) << files.status();
  ASSERT_EQ(::chmod(dir.c_str(), 0701), 0);
  EXPECT_EQ(KeyFiles::Open(dir).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
  EXPECT_TRUE(KeyFiles::Open(dir).ok());
}

TEST(KeyFilesTest, CreateWritesAPrivateJwkWithMode0600AndLoadReadsItBack) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path() + "/keys");
  ASSERT_TRUE(files.ok()) << files.status();
  for (token::Algorithm alg : {token::Algorithm::kEdDSA, token::Algorithm::kES256}) {
    absl::StatusOr<std::unique_ptr<token::Key>> created = files->Create(alg);
    ASSERT_TRUE(created.ok()) << created.status();
    const token::Key& key = **created;
    EXPECT_EQ(key.alg(), alg);
    EXPECT_EQ(key.kid(), key.Thumbprint());
    const std::string path = files->dir() + "/" + key.kid() + ".jwk";
    EXPECT_EQ(ModeOf(path), 0600u);

    absl::StatusOr<std::unique_ptr<token::Key>> loaded = files->Load(key.kid());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE((*loaded)->has_private());
    EXPECT_EQ((*loaded)->ToJwk(true), key.ToJwk(true));
    // The loaded key signs what the created key verifies.
    std::string sig;
    ASSERT_TRUE((*loaded)->Sign("input", &sig).ok());
    EXPECT_TRUE(key.Verify("input", reinterpret_cast<const uint8_t*>(sig.data()), sig.size()));
  }
}

TEST(KeyFilesTest, CreateRefusesHs256) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->Create(token::Algorithm::kHS256).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyFilesTest, LoadRefusesAFileOthersCanRead) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path() + "/keys");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::unique_ptr<token::Key>> key = files->Create(token::Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string path = files->dir() + "/" + (*key)->kid() + ".jwk";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<std::unique_ptr<token::Key>> loaded = files->Load((*key)->kid());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(loaded.status(), "chmod 600")) << loaded.status();
  EXPECT_TRUE(Contains(loaded.status(), path)) << loaded.status();
}

TEST(KeyFilesTest, KidsThatCouldLeaveTheDirectoryAreRefused) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path() + "/keys");
  ASSERT_TRUE(files.ok()) << files.status();
  // A perfectly good private key one level up, with mode 0600: reachable only by traversal.
  absl::StatusOr<std::unique_ptr<token::Key>> outside =
      token::Key::Generate(token::Algorithm::kEdDSA, "");
  ASSERT_TRUE(outside.ok());
  {
    std::ofstream f(tmp.path() + "/stolen.jwk");
    f << (*outside)->ToJwk(true);
  }
  ASSERT_EQ(::chmod((tmp.path() + "/stolen.jwk").c_str(), 0600), 0);
  for (std::string_view kid : {"../stolen", "..", ".", "", "a/b", "/etc/passwd", "x.y", "a b",
                               "%2e%2e", "a\\b"}) {
    EXPECT_FALSE(IsValidKid(kid)) << kid;
    EXPECT_EQ(files->Load(kid).status().code(), absl::StatusCode::kInvalidArgument) << kid;
    EXPECT_EQ(files->Remove(kid).code(), absl::StatusCode::kInvalidArgument) << kid;
  }
  EXPECT_TRUE(std::ifstream(tmp.path() + "/stolen.jwk").good());
  EXPECT_TRUE(IsValidKid("abc-DEF_123"));
  EXPECT_FALSE(IsValidKid(std::string(129, 'a')));
}

TEST(KeyFilesTest, LoadReportsMissingAndDamagedFilesWithThePath) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path() + "/keys");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::unique_ptr<token::Key>> missing = files->Load("nosuchkid");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status(), files->dir() + "/nosuchkid.jwk")) << missing.status();

  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = files->dir() + "/" + name + ".jwk";
    std::ofstream(path) << text;
    EXPECT_EQ(::chmod(path.c_str(), 0600), 0);
  };
  write("garbage", "{not json");
  absl::StatusOr<std::unique_ptr<token::Key>> garbage = files->Load("garbage");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(garbage.status(), "garbage.jwk")) << garbage.status();

  // A public key where a private one should be.
  absl::StatusOr<std::unique_ptr<token::Key>> key =
      token::Key::Generate(token::Algorithm::kEdDSA, "");
  ASSERT_TRUE(key.ok());
  write((*key)->kid(), (*key)->ToJwk(false));
  EXPECT_EQ(files->Load((*key)->kid()).status().code(), absl::StatusCode::kDataLoss);

  // A private key filed under another key's name.
  absl::StatusOr<std::unique_ptr<token::Key>> other =
      token::Key::Generate(token::Algorithm::kEdDSA, "");
  ASSERT_TRUE(other.ok());
  write("someoneelse", (*other)->ToJwk(true));
  EXPECT_EQ(files->Load("someoneelse").status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeyFilesTest, RemoveDeletesTheFileAndToleratesAMissingOne) {
  TempDir tmp;
  absl::StatusOr<KeyFiles> files = KeyFiles::Open(tmp.path() + "/keys");
  ASSERT_TRUE(files.ok()) << files.status();
  absl::StatusOr<std::unique_ptr<token::Key>> key = files->Create(token::Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_TRUE(files->Load((*key)->kid()).ok());
  EXPECT_TRUE(files->Remove((*key)->kid()).ok());
  EXPECT_EQ(files->Load((*key)->kid()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(files->Remove((*key)->kid()).ok());
}

// ---------------------------------------------------------------------------------------------
// Rotation

KeyEntry Entry(std::string kid, KeyState state, int64_t created, int64_t activated = 0,
               int64_t retired = 0) {
  KeyEntry e;
  e.kid = std::move(kid);
  e.alg = "EdDSA";
  e.state = state;
  e.created_at = created;
  e.activated_at = activated;
  e.retired_at = retired;
  e.public_jwk = absl::StrCat("{\"kid\":\"", e.kid, "\"}");
  return e;
}

std::vector<const KeyEntry*> Ptrs(const std::vector<KeyEntry>& entries) {
  std::vector<const KeyEntry*> out;
  for (const KeyEntry& e : entries) {
    out.push_back(&e);
  }
  return out;
}

RotationPolicy Policy() {
  RotationPolicy p;
  p.rotation_interval_s = 86400;
  p.publish_lead_s = 600;
  p.retire_after_s = 700;
  return p;
}

TEST(RotationTest, BootstrapCreatesTheFirstKey) {
  const std::vector<KeyEntry> none;
  EXPECT_TRUE(BootstrapNeeded(Ptrs(none)));
  RotationPlan plan = PlanRotation(Ptrs(none), kNow, Policy(), false);
  EXPECT_TRUE(plan.create_next);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(plan.retire_kid.empty());
  EXPECT_TRUE(plan.wait_reason.empty());

  const std::vector<KeyEntry> all_removed = {Entry("old", KeyState::kRemoved, 1, 2, 3)};
  EXPECT_TRUE(BootstrapNeeded(Ptrs(all_removed)));
  EXPECT_TRUE(PlanRotation(Ptrs(all_removed), kNow, Policy(), false).create_next);

  const std::vector<KeyEntry> one_next = {Entry("n", KeyState::kNext, kNow)};
  EXPECT_FALSE(BootstrapNeeded(Ptrs(one_next)));
  const std::vector<KeyEntry> one_retired = {Entry("r", KeyState::kRetired, 1, 2, kNow)};
  EXPECT_FALSE(BootstrapNeeded(Ptrs(one_retired)));
}

TEST(RotationTest, AnActiveKeyAloneGetsASuccessorPublished) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, kNow - 10, kNow - 10)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_TRUE(plan.create_next);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(plan.retire_kid.empty());
}

TEST(RotationTest, NothingHappensBeforeTheIntervalHasPassed) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 86399),
                                      Entry("n", KeyState::kNext, kNow - 86399)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_FALSE(plan.create_next);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(plan.retire_kid.empty());
  EXPECT_TRUE(plan.remove_kids.empty());

  RotationPolicy on_demand = Policy();
  on_demand.rotation_interval_s = 0;
  const std::vector<KeyEntry> old = {Entry("a", KeyState::kActive, 0, 1),
                                     Entry("n", KeyState::kNext, 1)};
  EXPECT_TRUE(PlanRotation(Ptrs(old), kNow, on_demand, false).promote_kid.empty());
}

TEST(RotationTest, ScheduledRotationPromotesAPublishedNextKey) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 86400),
                                      Entry("n", KeyState::kNext, kNow - 600)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_EQ(plan.promote_kid, "n");
  EXPECT_EQ(plan.retire_kid, "a");
  EXPECT_TRUE(plan.create_next);
  EXPECT_TRUE(plan.wait_reason.empty());
}

TEST(RotationTest, ScheduledRotationWaitsForTheLeadTime) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 90000),
                                      Entry("n", KeyState::kNext, kNow - 599)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(plan.retire_kid.empty());
  EXPECT_FALSE(plan.create_next);
}

TEST(RotationTest, ForcedRotationTooEarlySaysWhenItMaySign) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 100),
                                      Entry("n", KeyState::kNext, kNow - 100)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), true);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(plan.retire_kid.empty());
  EXPECT_FALSE(plan.create_next);
  EXPECT_EQ(plan.wait_reason,
            absl::StrCat("next key n was published at ", kNow - 100, "; it may sign from ",
                         kNow + 500, " (publish_lead_s)"));
}

TEST(RotationTest, ForcedRotationPromotesOnceTheLeadHasPassed) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 100),
                                      Entry("n", KeyState::kNext, kNow - 600)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), true);
  EXPECT_EQ(plan.promote_kid, "n");
  EXPECT_EQ(plan.retire_kid, "a");
  EXPECT_TRUE(plan.create_next);
  EXPECT_TRUE(plan.wait_reason.empty());
}

TEST(RotationTest, ForcedRotationWithoutANextKeyCreatesOneAndWaits) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 100)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), true);
  EXPECT_TRUE(plan.create_next);
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_TRUE(absl::StrContains(plan.wait_reason, absl::StrCat(kNow + 600))) << plan.wait_reason;
}

TEST(RotationTest, WithoutAnActiveKeyAReadyNextKeyIsPromoted) {
  const std::vector<KeyEntry> keys = {Entry("r", KeyState::kRetired, 0, 10, kNow - 10),
                                      Entry("n", KeyState::kNext, kNow - 600)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_EQ(plan.promote_kid, "n");
  EXPECT_TRUE(plan.retire_kid.empty());
  EXPECT_TRUE(plan.create_next);
}

TEST(RotationTest, RetiredKeysAreRemovedOnceTheirTokensHaveExpired) {
  const std::vector<KeyEntry> keys = {Entry("a", KeyState::kActive, 0, kNow - 10),
                                      Entry("n", KeyState::kNext, kNow - 10),
                                      Entry("r1", KeyState::kRetired, 0, 1, kNow - 700),
                                      Entry("r2", KeyState::kRetired, 0, 1, kNow - 699),
                                      Entry("gone", KeyState::kRemoved, 0, 1, 2)};
  RotationPlan plan = PlanRotation(Ptrs(keys), kNow, Policy(), false);
  EXPECT_EQ(plan.remove_kids, std::vector<std::string>{"r1"});
  EXPECT_TRUE(plan.promote_kid.empty());
  EXPECT_FALSE(plan.create_next);
}

TEST(RotationTest, PublishedJwksListsActiveFirstAndLeavesRemovedKeysOut) {
  const std::vector<KeyEntry> keys = {Entry("r", KeyState::kRetired, 0, 1, 2),
                                      Entry("n", KeyState::kNext, 5),
                                      Entry("gone", KeyState::kRemoved, 0, 1, 2),
                                      Entry("a", KeyState::kActive, 0, 3)};
  const std::string jwks = PublishedJwks(Ptrs(keys));
  EXPECT_EQ(jwks, "{\"keys\":[{\"kid\":\"a\"},{\"kid\":\"n\"},{\"kid\":\"r\"}]}");
  EXPECT_EQ(PublishedJwks({}), "{\"keys\":[]}");

  // With real keys the result is a JWKS the token core accepts.
  std::vector<KeyEntry> real;
  for (KeyState state : {KeyState::kActive, KeyState::kNext}) {
    absl::StatusOr<std::unique_ptr<token::Key>> k =
        token::Key::Generate(token::Algorithm::kEdDSA, "");
    ASSERT_TRUE(k.ok());
    KeyEntry e = Entry((*k)->kid(), state, 1, 1);
    e.public_jwk = (*k)->ToJwk(false);
    real.push_back(e);
  }
  absl::StatusOr<token::KeySet> set = token::KeySet::FromJwks(PublishedJwks(Ptrs(real)));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->keys().size(), 2u);
  EXPECT_NE(set->Find(real[0].kid), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Access tokens

class AccessTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<token::Key>> key =
        token::Key::Generate(token::Algorithm::kEdDSA, "");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    auto set = std::make_shared<token::KeySet>();
    absl::StatusOr<std::unique_ptr<token::Key>> pub = token::Key::FromJwk(key_->ToJwk(false));
    ASSERT_TRUE(pub.ok()) << pub.status();
    ASSERT_TRUE(set->Add(*std::move(pub)).ok());
    token::VerifyPolicy policy;
    policy.issuers = {kIssuer};
    policy.audiences = {"api", "other"};
    policy.access_token_profile = true;
    absl::StatusOr<std::unique_ptr<token::Verifier>> v =
        token::Verifier::Create(std::move(set), policy);
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = *std::move(v);
  }

  static AccessTokenClaims Claims() {
    AccessTokenClaims c;
    c.issuer = kIssuer;
    c.subject = "alice";
    c.client_id = "app-1";
    c.scope = "read write";
    c.audiences = {"api"};
    c.issued_at = kNow;
    c.lifetime_s = 300;
    c.auth_time = kNow - 5;
    return c;
  }

  std::unique_ptr<token::Key> key_;
  std::unique_ptr<token::Verifier> verifier_;
  token::VerifyScratch scratch_;
};

TEST_F(AccessTokenTest, MintedTokenVerifiesUnderTheRfc9068ProfileWithEveryClaim) {
  absl::StatusOr<MintedToken> minted = MintAccessToken(*key_, Claims());
  ASSERT_TRUE(minted.ok()) << minted.status();
  EXPECT_EQ(minted->expires_at, kNow + 300);
  EXPECT_EQ(minted->jti.size(), 22u);  // 128 bits, base64url
  EXPECT_TRUE(Base64UrlDecode(minted->jti).has_value());

  token::VerifiedToken out;
  ASSERT_EQ(verifier_->Verify(minted->token, kNow + 1, scratch_, &out), token::VerifyReason::kOk);
  EXPECT_EQ(out.iss, kIssuer);
  EXPECT_EQ(out.sub, "alice");
  EXPECT_EQ(out.client_id, "app-1");
  EXPECT_EQ(out.scope, "read write");
  EXPECT_EQ(out.jti, minted->jti);
  EXPECT_EQ(out.kid, key_->kid());
  EXPECT_EQ(out.iat, kNow);
  EXPECT_EQ(out.exp, kNow + 300);
  // Order and shape of the claims, auth_time included.
  EXPECT_EQ(out.claims_json,
            absl::StrCat("{\"iss\":\"https://issuer.example\",\"sub\":\"alice\",\"aud\":\"api\","
                         "\"exp\":",
                         kNow + 300, ",\"iat\":", kNow, ",\"jti\":\"", minted->jti,
                         "\",\"client_id\":\"app-1\",\"scope\":\"read write\",\"auth_time\":",
                         kNow - 5, "}"));
  const std::string header =
      Base64UrlDecode(test::Split(minted->token).header).value_or("");
  EXPECT_EQ(header, absl::StrCat("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"",
                                 key_->kid(), "\"}"));

  EXPECT_EQ(verifier_->Verify(minted->token, kNow + 300 + 30, scratch_, &out),
            token::VerifyReason::kExpired);
}

TEST_F(AccessTokenTest, SeveralAudiencesAreAnArrayAndEmptyOptionalsAreLeftOut) {
  AccessTokenClaims c = Claims();
  c.audiences = {"other", "api"};
  c.scope.clear();
  c.auth_time = 0;
  c.subject = "quote\"and\\slash";
  absl::StatusOr<MintedToken> minted = MintAccessToken(*key_, c);
  ASSERT_TRUE(minted.ok()) << minted.status();
  token::VerifiedToken out;
  ASSERT_EQ(verifier_->Verify(minted->token, kNow, scratch_, &out), token::VerifyReason::kOk);
  EXPECT_EQ(out.sub, "quote\"and\\slash");
  EXPECT_TRUE(absl::StrContains(ToAbsl(out.claims_json), "\"aud\":[\"other\",\"api\"]"))
      << out.claims_json;
  EXPECT_FALSE(absl::StrContains(ToAbsl(out.claims_json), "scope"));
  EXPECT_FALSE(absl::StrContains(ToAbsl(out.claims_json), "auth_time"));
  EXPECT_EQ(out.present & token::kClaimScope, 0u);
}

TEST_F(AccessTokenTest, EveryTokenGetsItsOwnJti) {
  absl::StatusOr<MintedToken> a = MintAccessToken(*key_, Claims());
  absl::StatusOr<MintedToken> b = MintAccessToken(*key_, Claims());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->jti, b->jti);
  EXPECT_NE(a->token, b->token);
}

TEST_F(AccessTokenTest, MissingRequiredClaimsAndPublicKeysAreRefused) {
  for (auto mutate : std::vector<void (*)(AccessTokenClaims&)>{
           [](AccessTokenClaims& c) { c.issuer.clear(); },
           [](AccessTokenClaims& c) { c.subject.clear(); },
           [](AccessTokenClaims& c) { c.client_id.clear(); },
           [](AccessTokenClaims& c) { c.audiences.clear(); },
           [](AccessTokenClaims& c) { c.audiences = {"api", ""}; },
           [](AccessTokenClaims& c) { c.lifetime_s = 0; },
           [](AccessTokenClaims& c) { c.issued_at = -1; },
           [](AccessTokenClaims& c) { c.audiences.assign(17, "api"); },
       }) {
    AccessTokenClaims c = Claims();
    mutate(c);
    EXPECT_EQ(MintAccessToken(*key_, c).status().code(), absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<std::unique_ptr<token::Key>> pub = token::Key::FromJwk(key_->ToJwk(false));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(MintAccessToken(**pub, Claims()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---------------------------------------------------------------------------------------------
// Client authentication

Form ParseForm(std::string_view body) {
  absl::StatusOr<Form> form = Form::Parse(body);
  EXPECT_TRUE(form.ok()) << form.status();
  return form.ok() ? *std::move(form) : Form();
}

std::string Basic(std::string_view id, std::string_view secret) {
  return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(ToAbsl(id), ":", ToAbsl(secret))));
}

// An unsigned-looking but well-formed assertion with the given sub, for extraction tests
// (extraction never verifies).
std::string AssertionWithSub(std::string_view sub) {
  return absl::StrCat(test::B64("{\"alg\":\"EdDSA\"}"), ".",
                      test::B64(absl::StrCat("{\"sub\":", test::Quote(sub), "}")), ".",
                      test::B64("sig"));
}

constexpr char kAssertionType[] =
    "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

TEST(ExtractClientAuthTest, BasicCredentials) {
  absl::StatusOr<PresentedClient> p =
      ExtractClientAuth(Basic("app-1", "s3cret"), ParseForm("grant_type=client_credentials"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->method, ClientAuthMethod::kSecretBasic);
  EXPECT_EQ(p->client_id, "app-1");
  EXPECT_EQ(p->secret, "s3cret");

  // A client_id in the body must agree with the header.
  EXPECT_TRUE(ExtractClientAuth(Basic("app-1", "s"), ParseForm("client_id=app-1")).ok());
  EXPECT_EQ(ExtractClientAuth(Basic("app-1", "s"), ParseForm("client_id=app-2")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractClientAuth("Bearer abc", ParseForm("")).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(ExtractClientAuthTest, SecretInTheBody) {
  absl::StatusOr<PresentedClient> p =
      ExtractClientAuth("", ParseForm("client_id=app-1&client_secret=s3cret"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->method, ClientAuthMethod::kSecretPost);
  EXPECT_EQ(p->client_id, "app-1");
  EXPECT_EQ(p->secret, "s3cret");
  EXPECT_EQ(ExtractClientAuth("", ParseForm("client_secret=s3cret")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExtractClientAuthTest, MoreThanOneMethodIsRefused) {
  const std::string assertion = absl::StrCat("&", kAssertionType,
                                             "&client_assertion=", AssertionWithSub("app-1"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Basic("app-1", "s"), "client_id=app-1&client_secret=s"},
      {Basic("app-1", "s"), absl::StrCat("client_id=app-1", assertion)},
      {"", absl::StrCat("client_id=app-1&client_secret=s", assertion)},
  };
  for (const auto& [header, body] : cases) {
    absl::StatusOr<PresentedClient> p = ExtractClientAuth(header, ParseForm(body));
    ASSERT_FALSE(p.ok()) << body;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(p.status(), "more than one client authentication method"))
        << p.status();
  }
}

TEST(ExtractClientAuthTest, ClientIdAloneOrNothing) {
  absl::StatusOr<PresentedClient> p = ExtractClientAuth("", ParseForm("client_id=pub"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->method, ClientAuthMethod::kNone);
  EXPECT_EQ(p->client_id, "pub");
  p = ExtractClientAuth("", ParseForm("grant_type=password"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->method, ClientAuthMethod::kNone);
  EXPECT_TRUE(p->client_id.empty());
}

TEST(ExtractClientAuthTest, AssertionNamesTheClientThroughItsSubject) {
  const std::string jwt = AssertionWithSub("app-1");
  absl::StatusOr<PresentedClient> p =
      ExtractClientAuth("", ParseForm(absl::StrCat(kAssertionType, "&client_assertion=", jwt)));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->method, ClientAuthMethod::kPrivateKeyJwt);
  EXPECT_EQ(p->client_id, "app-1");
  EXPECT_EQ(p->assertion, jwt);

  EXPECT_TRUE(ExtractClientAuth("", ParseForm(absl::StrCat("client_id=app-1&", kAssertionType,
                                                           "&client_assertion=", jwt)))
                  .ok());
  EXPECT_EQ(ExtractClientAuth("", ParseForm(absl::StrCat("client_id=app-2&", kAssertionType,
                                                         "&client_assertion=", jwt)))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Half of the pair.
  EXPECT_EQ(ExtractClientAuth("", ParseForm(absl::StrCat("client_assertion=", jwt)))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractClientAuth("", ParseForm(kAssertionType)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Another assertion type, or something that is not a JWT with a sub.
  EXPECT_EQ(ExtractClientAuth("", ParseForm(absl::StrCat("client_assertion_type=saml&"
                                                         "client_assertion=",
                                                         jwt)))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ExtractClientAuth("", ParseForm(absl::StrCat(kAssertionType,
                                                         "&client_assertion=not-a-jwt")))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  const std::string no_sub = absl::StrCat(test::B64("{\"alg\":\"EdDSA\"}"), ".",
                                          test::B64("{\"iss\":\"x\"}"), ".", test::B64("s"));
  EXPECT_EQ(ExtractClientAuth("", ParseForm(absl::StrCat(kAssertionType,
                                                         "&client_assertion=", no_sub)))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

Client SecretClient(std::string_view method) {
  Client c;
  c.client_id = "app-1";
  c.auth_method = std::string(method);
  c.secret_hash = Sha256B64("s3cret");
  return c;
}

TEST(CheckClientSecretTest, SecretMustMatchAndComeTheRegisteredWay) {
  PresentedClient basic;
  basic.method = ClientAuthMethod::kSecretBasic;
  basic.client_id = "app-1";
  basic.secret = "s3cret";
  PresentedClient post = basic;
  post.method = ClientAuthMethod::kSecretPost;

  EXPECT_TRUE(CheckClientSecret(SecretClient("client_secret_basic"), basic));
  EXPECT_FALSE(CheckClientSecret(SecretClient("client_secret_basic"), post));
  EXPECT_TRUE(CheckClientSecret(SecretClient("client_secret_post"), post));
  EXPECT_FALSE(CheckClientSecret(SecretClient("client_secret_post"), basic));
  EXPECT_FALSE(CheckClientSecret(SecretClient("private_key_jwt"), basic));

  PresentedClient wrong = basic;
  wrong.secret = "s3creT";
  EXPECT_FALSE(CheckClientSecret(SecretClient("client_secret_basic"), wrong));
  PresentedClient other_id = basic;
  other_id.client_id = "app-2";
  EXPECT_FALSE(CheckClientSecret(SecretClient("client_secret_basic"), other_id));
  PresentedClient none = basic;
  none.method = ClientAuthMethod::kNone;
  EXPECT_FALSE(CheckClientSecret(SecretClient("client_secret_basic"), none));
}

class ClientAssertionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<token::Key>> key =
        token::Key::Generate(token::Algorithm::kEdDSA, "client-key-1");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    client_.client_id = "app-1";
    client_.auth_method = "private_key_jwt";
    client_.jwks = absl::StrCat("{\"keys\":[", key_->ToJwk(false), "]}");
  }

  static JsonObject GoodClaims() {
    JsonObject c;
    c.SetString("iss", "app-1")
        .SetString("sub", "app-1")
        .SetString("aud", kTokenEndpoint)
        .SetInt("exp", kNow + 60)
        .SetInt("iat", kNow)
        .SetString("jti", "jti-123");
    return c;
  }

  std::string Sign(const JsonObject& claims) const {
    return SignJson(*key_, test::HeaderJson(*key_, ""), claims.Str());
  }

  absl::StatusOr<AssertionInfo> Verify(std::string_view assertion, int64_t now = kNow) const {
    return VerifyClientAssertion(client_, assertion, audiences_, now, 30);
  }

  std::unique_ptr<token::Key> key_;
  Client client_;
  std::vector<std::string> audiences_ = {kTokenEndpoint, kIssuer};
};

TEST_F(ClientAssertionTest, AValidAssertionYieldsItsJtiAndExp) {
  absl::StatusOr<AssertionInfo> info = Verify(Sign(GoodClaims()));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->jti, "jti-123");
  EXPECT_EQ(info->exp, kNow + 60);

  // The issuer works as the audience too, also inside an array.
  JsonObject c = GoodClaims();
  c.Set("aud", absl::StrCat("[\"elsewhere\",", test::Quote(kIssuer), "]"));
  EXPECT_TRUE(Verify(Sign(c)).ok());
}

TEST_F(ClientAssertionTest, EachBrokenRuleIsRefused) {
  struct Case {
    const char* name;
    JsonObject claims;
    int64_t now;
  };
  std::vector<Case> cases;
  cases.push_back({"wrong aud", GoodClaims().SetString("aud", "https://other/token"), kNow});
  cases.push_back({"expired", GoodClaims(), kNow + 60 + 30});
  cases.push_back({"no jti", GoodClaims().Remove("jti"), kNow});
  cases.push_back({"empty jti", GoodClaims().SetString("jti", ""), kNow});
  cases.push_back({"no exp", GoodClaims().Remove("exp"), kNow});
  cases.push_back({"no aud", GoodClaims().Remove("aud"), kNow});
  cases.push_back({"sub != iss", GoodClaims().SetString("sub", "app-2"), kNow});
  cases.push_back({"iss != client", GoodClaims().SetString("iss", "app-2"), kNow});
  cases.push_back({"too long-lived", GoodClaims().SetInt("exp", kNow + 3601), kNow});
  cases.push_back({"not yet valid", GoodClaims().SetInt("nbf", kNow + 100), kNow});
  for (const Case& c : cases) {
    absl::StatusOr<AssertionInfo> info = Verify(Sign(c.claims), c.now);
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_EQ(info.status().code(), absl::StatusCode::kUnauthenticated) << c.name;
  }
  EXPECT_TRUE(Contains(Verify(Sign(GoodClaims().SetString("aud", "x"))).status(),
                       "wrong_audience"));
  EXPECT_TRUE(Contains(Verify(Sign(GoodClaims()), kNow + 90).status(), "expired"));
  // exactly one hour ahead is still fine.
  EXPECT_TRUE(Verify(Sign(GoodClaims().SetInt("exp", kNow + 3600))).ok());
}

TEST_F(ClientAssertionTest, OnlyTheClientsOwnKeysAreTrusted) {
  absl::StatusOr<std::unique_ptr<token::Key>> stranger =
      token::Key::Generate(token::Algorithm::kEdDSA, "client-key-1");  // same kid, other key
  ASSERT_TRUE(stranger.ok());
  const std::string forged =
      SignJson(**stranger, test::HeaderJson(**stranger, ""), GoodClaims().Str());
  absl::StatusOr<AssertionInfo> info = Verify(forged);
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(info.status(), "bad_signature")) << info.status();

  // A client registered for secrets cannot use an assertion, even a valid one.
  Client secret_client = client_;
  secret_client.auth_method = "client_secret_basic";
  EXPECT_EQ(VerifyClientAssertion(secret_client, Sign(GoodClaims()), audiences_, kNow, 30)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  // No accepted audience would skip the audience check: refused outright.
  EXPECT_EQ(VerifyClientAssertion(client_, Sign(GoodClaims()), {}, kNow, 30).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A broken registered JWKS, and a symmetric key in it.
  Client broken = client_;
  broken.jwks = "{\"keys\":";
  EXPECT_EQ(VerifyClientAssertion(broken, Sign(GoodClaims()), audiences_, kNow, 30)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::unique_ptr<token::Key>> hmac =
      token::Key::FromHmacSecret("0123456789abcdef0123456789abcdef", "h1");
  ASSERT_TRUE(hmac.ok());
  Client symmetric = client_;
  symmetric.jwks = absl::StrCat("{\"keys\":[", (*hmac)->ToJwk(true), "]}");
  EXPECT_EQ(VerifyClientAssertion(symmetric, SignJson(**hmac, test::HeaderJson(**hmac, ""),
                                                      GoodClaims().Str()),
                                  audiences_, kNow, 30)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientAssertionTest, ExtractedAssertionVerifiesEndToEnd) {
  const std::string jwt = Sign(GoodClaims());
  absl::StatusOr<PresentedClient> p =
      ExtractClientAuth("", ParseForm(absl::StrCat(kAssertionType, "&client_assertion=", jwt)));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->client_id, client_.client_id);
  EXPECT_TRUE(Verify(p->assertion).ok());
}

// ---------------------------------------------------------------------------------------------
// Discovery

DiscoveryInfo Info() {
  DiscoveryInfo info;
  info.issuer = "https://issuer.example/\"quoted\"";
  info.base_url = "https://127.0.0.1:8443";
  info.grant_types = {"client_credentials", "refresh_token"};
  info.scopes = {"read", "write"};
  return info;
}

std::vector<std::string> Strings(simdjson::dom::element doc, const char* name) {
  std::vector<std::string> out;
  simdjson::dom::array arr;
  EXPECT_EQ(doc[name].get_array().get(arr), simdjson::SUCCESS) << name;
  for (simdjson::dom::element e : arr) {
    std::string_view s;
    EXPECT_EQ(e.get_string().get(s), simdjson::SUCCESS);
    out.emplace_back(s);
  }
  return out;
}

std::string String(simdjson::dom::element doc, const char* name) {
  std::string_view s;
  EXPECT_EQ(doc[name].get_string().get(s), simdjson::SUCCESS) << name;
  return std::string(s);
}

TEST(DiscoveryTest, AuthorizationServerMetadataDescribesWhatIsServed) {
  const std::string text = AuthorizationServerMetadata(Info());
  simdjson::ondemand::parser strict;
  ASSERT_TRUE(json::ValidateStrict(strict, text).ok()) << text;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  EXPECT_EQ(String(doc, "issuer"), Info().issuer);
  EXPECT_EQ(String(doc, "token_endpoint"), "https://127.0.0.1:8443/oauth2/token");
  EXPECT_EQ(String(doc, "jwks_uri"), "https://127.0.0.1:8443/.well-known/jwks.json");
  EXPECT_EQ(String(doc, "revocation_endpoint"), "https://127.0.0.1:8443/oauth2/revoke");
  EXPECT_EQ(String(doc, "introspection_endpoint"), "https://127.0.0.1:8443/oauth2/introspect");
  EXPECT_EQ(Strings(doc, "grant_types_supported"), Info().grant_types);
  EXPECT_EQ(Strings(doc, "scopes_supported"), Info().scopes);
  EXPECT_TRUE(Strings(doc, "response_types_supported").empty());
  const std::vector<std::string> methods = {"client_secret_basic", "client_secret_post",
                                            "private_key_jwt"};
  EXPECT_EQ(Strings(doc, "token_endpoint_auth_methods_supported"), methods);
  EXPECT_EQ(Strings(doc, "revocation_endpoint_auth_methods_supported"), methods);
  EXPECT_EQ(Strings(doc, "introspection_endpoint_auth_methods_supported"), methods);
  EXPECT_EQ(Strings(doc, "token_endpoint_auth_signing_alg_values_supported"),
            (std::vector<std::string>{"EdDSA", "ES256", "RS256", "PS256"}));
  EXPECT_EQ(doc["authorization_endpoint"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(doc["subject_types_supported"].error(), simdjson::NO_SUCH_FIELD);

  DiscoveryInfo no_scopes = Info();
  no_scopes.scopes.clear();
  no_scopes.base_url += "/";
  ASSERT_EQ(parser.parse(AuthorizationServerMetadata(no_scopes)).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["scopes_supported"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(String(doc, "token_endpoint"), "https://127.0.0.1:8443/oauth2/token");
}

TEST(DiscoveryTest, OpenIdConfigurationAddsTheOpenIdMembers) {
  DiscoveryInfo info = Info();
  info.signing_alg = "ES256";
  const std::string text = OpenIdConfiguration(info);
  simdjson::ondemand::parser strict;
  ASSERT_TRUE(json::ValidateStrict(strict, text).ok()) << text;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  EXPECT_EQ(String(doc, "issuer"), info.issuer);
  EXPECT_EQ(String(doc, "token_endpoint"), "https://127.0.0.1:8443/oauth2/token");
  EXPECT_EQ(Strings(doc, "id_token_signing_alg_values_supported"),
            std::vector<std::string>{"ES256"});
  EXPECT_EQ(Strings(doc, "subject_types_supported"), std::vector<std::string>{"public"});
  const std::vector<std::string> claims = Strings(doc, "claims_supported");
  for (const char* c : {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"}) {
    EXPECT_NE(std::find(claims.begin(), claims.end(), c), claims.end()) << c;
  }
  EXPECT_EQ(doc["authorization_endpoint"].error(), simdjson::NO_SUCH_FIELD);
}

}  // namespace
}  // namespace ringward::issuance
