// Verifier: policy validation, what a verification yields, and the cached path.
#include "ringward/token/verifier.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/token/claims.h"
#include "ringward/token/key.h"
#include "ringward/token/verified_cache.h"
#include "ringward/token/verify_reason.h"
#include "simdjson.h"
#include "testing/token_factory.h"

namespace ringward::token {
namespace {

using test::JsonObject;
using test::Quote;
using test::SignJson;

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://issuer.example";

class VerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Key>> ed = Key::Generate(Algorithm::kEdDSA, "ed1");
    absl::StatusOr<std::unique_ptr<Key>> hs =
        Key::FromHmacSecret("verifier-test-hmac-secret-0123456789abcdef", "hs1");
    ASSERT_TRUE(ed.ok()) << ed.status();
    ASSERT_TRUE(hs.ok()) << hs.status();
    ed1_ = ed->release();
    hs1_ = hs->release();
    auto keys = std::make_shared<KeySet>();
    absl::StatusOr<std::unique_ptr<Key>> ed_public = Key::FromJwk(ed1_->ToJwk(false));
    absl::StatusOr<std::unique_ptr<Key>> hs_copy =
        Key::FromHmacSecret("verifier-test-hmac-secret-0123456789abcdef", "hs1");
    ASSERT_TRUE(ed_public.ok()) << ed_public.status();
    ASSERT_TRUE(hs_copy.ok()) << hs_copy.status();
    ASSERT_TRUE(keys->Add(*std::move(ed_public)).ok());
    ASSERT_TRUE(keys->Add(*std::move(hs_copy)).ok());
    keys_ = new std::shared_ptr<const KeySet>(std::move(keys));
  }

  static void TearDownTestSuite() {
    delete ed1_;
    delete hs1_;
    delete keys_;
    ed1_ = hs1_ = nullptr;
    keys_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(ed1_, nullptr);
    ASSERT_NE(keys_, nullptr);
  }

  static VerifyPolicy BasePolicy() {
    VerifyPolicy p;
    p.issuers = {kIssuer};
    return p;
  }

  static std::unique_ptr<Verifier> Make(VerifyPolicy policy) {
    absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Create(*keys_, std::move(policy));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

  static JsonObject Claims() {
    JsonObject c;
    c.SetString("iss", kIssuer)
        .SetString("sub", "user-1")
        .SetString("aud", "api")
        .SetInt("exp", kNow + 600)
        .SetInt("nbf", kNow - 60)
        .SetInt("iat", kNow - 60)
        .SetString("jti", "jti-1")
        .SetString("client_id", "client-1")
        .SetString("scope", "read write");
    return c;
  }

  static std::string Token(const JsonObject& claims, const Key* key = nullptr) {
    key = key != nullptr ? key : ed1_;
    return SignJson(*key, test::HeaderJson(*key), claims.Str());
  }

  static VerifyReason Check(const Verifier& v, const std::string& token, int64_t now = kNow) {
    VerifyScratch scratch;
    VerifiedToken out;
    return v.Verify(token, now, scratch, &out);
  }

  static Key* ed1_;
  static Key* hs1_;
  static std::shared_ptr<const KeySet>* keys_;
};

Key* VerifierTest::ed1_ = nullptr;
Key* VerifierTest::hs1_ = nullptr;
std::shared_ptr<const KeySet>* VerifierTest::keys_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Policy validation.

void ExpectInvalid(const absl::StatusOr<std::unique_ptr<Verifier>>& v, std::string_view word) {
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(v.status().message()).find(word), std::string::npos) << v.status();
}

TEST_F(VerifierTest, CreateRefusesPolicyWithoutIssuer) {
  VerifyPolicy p = BasePolicy();
  p.issuers.clear();
  ExpectInvalid(Verifier::Create(*keys_, p), "issuer");
}

TEST_F(VerifierTest, CreateRefusesEmptyIssuerString) {
  VerifyPolicy p = BasePolicy();
  p.issuers.push_back("");
  ExpectInvalid(Verifier::Create(*keys_, p), "issuer");
}

TEST_F(VerifierTest, CreateRefusesEmptyOrMissingKeySet) {
  ExpectInvalid(Verifier::Create(std::make_shared<const KeySet>(), BasePolicy()), "key set");
  ExpectInvalid(Verifier::Create(nullptr, BasePolicy()), "key set");
}

TEST_F(VerifierTest, CreateChecksLeewayRange) {
  for (int64_t bad : {int64_t{-1}, int64_t{3601}, int64_t{-86400}, int64_t{1} << 40}) {
    VerifyPolicy p = BasePolicy();
    p.leeway_seconds = bad;
    ExpectInvalid(Verifier::Create(*keys_, p), "leeway");
  }
  for (int64_t good : {int64_t{0}, int64_t{30}, int64_t{3600}}) {
    VerifyPolicy p = BasePolicy();
    p.leeway_seconds = good;
    EXPECT_TRUE(Verifier::Create(*keys_, p).ok()) << good;
  }
}

TEST_F(VerifierTest, CreateChecksSizeCapRange) {
  for (size_t bad : {size_t{0}, size_t{63}, kLargestMaxTokenSize + 1, size_t{1} << 30}) {
    VerifyPolicy p = BasePolicy();
    p.max_token_size = bad;
    ExpectInvalid(Verifier::Create(*keys_, p), "size");
  }
  for (size_t good : {size_t{64}, kDefaultMaxTokenSize, kLargestMaxTokenSize}) {
    VerifyPolicy p = BasePolicy();
    p.max_token_size = good;
    EXPECT_TRUE(Verifier::Create(*keys_, p).ok()) << good;
  }
}

TEST_F(VerifierTest, CreateKeepsPolicyAndKeys) {
  VerifyPolicy p = BasePolicy();
  p.audiences = {"api"};
  p.leeway_seconds = 7;
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->policy().issuers, p.issuers);
  EXPECT_EQ(v->policy().audiences, p.audiences);
  EXPECT_EQ(v->policy().leeway_seconds, 7);
  EXPECT_EQ(&v->keys(), keys_->get());
}

// ---------------------------------------------------------------------------------------------
// Issuers and audiences.

TEST_F(VerifierTest, AcceptsEachOfSeveralIssuersAndNoOther) {
  VerifyPolicy p = BasePolicy();
  p.issuers = {"https://a.example", "https://b.example"};
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("iss", "https://a.example"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("iss", "https://b.example"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims())), VerifyReason::kWrongIssuer);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("iss"))), VerifyReason::kMissingClaim);
}

TEST_F(VerifierTest, AcceptsEachOfSeveralAudiences) {
  VerifyPolicy p = BasePolicy();
  p.audiences = {"api", "billing"};
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "api"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "billing"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "other"))), VerifyReason::kWrongAudience);
}

TEST_F(VerifierTest, AudienceStringAndArrayAreEquivalent) {
  VerifyPolicy p = BasePolicy();
  p.audiences = {"billing"};
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "billing"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().Set("aud", "[\"billing\"]"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().Set("aud", "[\"x\",\"y\",\"billing\"]"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().Set("aud", "[\"x\",\"y\"]"))), VerifyReason::kWrongAudience);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "x"))), VerifyReason::kWrongAudience);
}

TEST_F(VerifierTest, AudienceArrayAtTheCapIsSearchedToTheEnd) {
  VerifyPolicy p = BasePolicy();
  p.audiences = {"api"};
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  std::string aud = "[";
  for (int i = 0; i < kMaxAudiences - 1; ++i) {
    absl::StrAppend(&aud, "\"a", i, "\",");
  }
  aud += "\"api\"]";
  EXPECT_EQ(Check(*v, Token(Claims().Set("aud", aud))), VerifyReason::kOk);
}

TEST_F(VerifierTest, WithoutAudiencePolicyAudIsNeitherRequiredNorMatched) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("aud"))), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().SetString("aud", "anything"))), VerifyReason::kOk);
  // Its type is still checked: a registered claim is never taken on trust.
  EXPECT_EQ(Check(*v, Token(Claims().Set("aud", "1"))), VerifyReason::kBadClaim);
}

// ---------------------------------------------------------------------------------------------
// What a verification yields.

TEST_F(VerifierTest, ReturnsRegisteredClaimsAndTheSelectedKid) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  VerifyScratch scratch;
  VerifiedToken out;
  out.from_cache = true;  // must be cleared
  ASSERT_EQ(v->Verify(Token(Claims()), kNow, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.iss, kIssuer);
  EXPECT_EQ(out.sub, "user-1");
  EXPECT_EQ(out.client_id, "client-1");
  EXPECT_EQ(out.scope, "read write");
  EXPECT_EQ(out.jti, "jti-1");
  EXPECT_EQ(out.kid, "ed1");
  EXPECT_EQ(out.exp, kNow + 600);
  EXPECT_EQ(out.nbf, kNow - 60);
  EXPECT_EQ(out.iat, kNow - 60);
  EXPECT_EQ(out.present, kClaimIss | kClaimSub | kClaimAud | kClaimExp | kClaimNbf | kClaimIat |
                             kClaimJti | kClaimClientId | kClaimScope);
  EXPECT_FALSE(out.from_cache);

  ASSERT_EQ(v->Verify(Token(Claims(), hs1_), kNow, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.kid, "hs1");
}

TEST_F(VerifierTest, PresentMaskOmitsAbsentClaims) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  VerifyScratch scratch;
  VerifiedToken out;
  JsonObject minimal;
  minimal.SetString("iss", kIssuer).SetInt("exp", kNow + 60);
  ASSERT_EQ(v->Verify(Token(minimal), kNow, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.present, kClaimIss | kClaimExp);
  EXPECT_TRUE(out.sub.empty());
  EXPECT_TRUE(out.client_id.empty());
}

TEST_F(VerifierTest, ReturnsTheDecodedClaimsJson) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string claims = Claims().Set("ext", "{\"roles\": [\"a\", \"b\"]}").Str() + " \n";
  VerifyScratch scratch;
  VerifiedToken out;
  ASSERT_EQ(v->Verify(SignJson(*ed1_, test::HeaderJson(*ed1_), claims), kNow, scratch, &out),
            VerifyReason::kOk);
  EXPECT_EQ(out.claims_json, claims);
}

TEST_F(VerifierTest, UnescapesStringClaims) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  JsonObject c = Claims();
  c.Set("iss", "\"https:\\/\\/issuer\\u002eexample\"")  // escaped spelling of the issuer
      .Set("sub", "\"a\\\"b\\\\c\\u00e9\\n\\ud83d\\ude00\"")
      .Set("client_id", "\"caf\xc3\xa9\"")
      .Set("scope", "\"read\\twrite\"")
      .Set("jti", "\"\\u0041\\u0000\\u0042\"");
  VerifyScratch scratch;
  VerifiedToken out;
  ASSERT_EQ(v->Verify(Token(c), kNow, scratch, &out), VerifyReason::kOk);
  EXPECT_EQ(out.iss, kIssuer);
  EXPECT_EQ(out.sub, "a\"b\\c\xc3\xa9\n\xf0\x9f\x98\x80");
  EXPECT_EQ(out.client_id, "caf\xc3\xa9");
  EXPECT_EQ(out.scope, "read\twrite");
  EXPECT_EQ(out.jti, std::string_view("A\0B", 3));
}

TEST_F(VerifierTest, ScratchIsReusableAcrossTokens) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  VerifyScratch scratch;
  const std::string a = Token(Claims().SetString("sub", "alice"));
  const std::string b = Token(Claims().SetString("sub", "bob").SetString("scope", "x"), hs1_);
  const std::string bad = Token(Claims().Set("exp", "1.5"));
  for (int round = 0; round < 3; ++round) {
    VerifiedToken out;
    ASSERT_EQ(v->Verify(a, kNow, scratch, &out), VerifyReason::kOk);
    EXPECT_EQ(out.sub, "alice");
    EXPECT_EQ(out.kid, "ed1");
    EXPECT_EQ(v->Verify(bad, kNow, scratch, &out), VerifyReason::kBadClaim);
    ASSERT_EQ(v->Verify(b, kNow, scratch, &out), VerifyReason::kOk);
    EXPECT_EQ(out.sub, "bob");
    EXPECT_EQ(out.scope, "x");
    EXPECT_EQ(out.kid, "hs1");
  }
}

TEST_F(VerifierTest, LeewayZeroMeansExactTimes) {
  VerifyPolicy p = BasePolicy();
  p.leeway_seconds = 0;
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  const std::string token =
      Token(Claims().SetInt("exp", kNow + 100).SetInt("nbf", kNow).SetInt("iat", kNow));
  EXPECT_EQ(Check(*v, token, kNow - 1), VerifyReason::kNotYetValid);
  EXPECT_EQ(Check(*v, token, kNow), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, token, kNow + 99), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, token, kNow + 100), VerifyReason::kExpired);
}

TEST_F(VerifierTest, ExpAndIssAreAlwaysRequired) {
  VerifyPolicy p = BasePolicy();
  p.required_claims = 0;
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("exp"))), VerifyReason::kMissingClaim);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("iss"))), VerifyReason::kMissingClaim);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("sub").Remove("jti"))), VerifyReason::kOk);
}

TEST_F(VerifierTest, RequiredClaimsPolicyIsEnforced) {
  VerifyPolicy p = BasePolicy();
  p.required_claims = kClaimExp | kClaimSub | kClaimJti | kClaimScope;
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Check(*v, Token(Claims())), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("sub"))), VerifyReason::kMissingClaim);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("jti"))), VerifyReason::kMissingClaim);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("scope"))), VerifyReason::kMissingClaim);
  EXPECT_EQ(Check(*v, Token(Claims().Remove("client_id"))), VerifyReason::kOk);
}

TEST_F(VerifierTest, UnknownClaimsWithNestedValuesAreAccepted) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  JsonObject c = Claims();
  c.Set("ext", "{\"a\":[1,{\"b\":null,\"c\":[true,false]}],\"d\":{\"e\":{\"f\":\"g\"}}}")
      .Set("roles", "[\"admin\",\"user\"]")
      .Set("ratio", "-1.5e3")
      .Set("flag", "false")
      .Set("nothing", "null")
      .Set("empty_object", "{}")
      .Set("empty_array", "[]")
      .Set("jku", "\"claims may use header member names\"");
  EXPECT_EQ(Check(*v, Token(c)), VerifyReason::kOk);
}

// RFC 8259 §6 lets a parser limit the range of numbers, but an integer beyond 64 bits is still
// valid JSON: a claim ringward does not read must not make a valid token "bad JSON".
TEST_F(VerifierTest, UnknownClaimWithIntegerBeyond64BitsIsAccepted) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  for (const char* big :
       {"123456789012345678901234567890", "-123456789012345678901234567890", "18446744073709551616",
        "-9223372036854775809", "[99999999999999999999999,{\"n\":-99999999999999999999999}]"}) {
    SCOPED_TRACE(big);
    EXPECT_EQ(Check(*v, Token(Claims().Set("account", big))), VerifyReason::kOk);
  }
  // Beyond 64 bits the number's grammar is still checked.
  for (const char* bad : {"0123456789012345678901234567890", "+123456789012345678901234567890",
                          "123456789012345678901234567890-", "--123456789012345678901234567890",
                          "123456789012345678901234567890.", "-"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Check(*v, Token(Claims().Set("account", bad))), VerifyReason::kBadJson);
  }
}

TEST_F(VerifierTest, UnknownHeaderMembersAreAccepted) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  JsonObject h;
  h.SetString("alg", "EdDSA")
      .SetString("kid", "ed1")
      .SetString("typ", "at+jwt")
      .Set("x-trace", "{\"jku\":\"nested names are not header members\",\"n\":[1,2]}")
      .SetString("cty", "json");
  EXPECT_EQ(Check(*v, SignJson(*ed1_, h.Str(), Claims().Str())), VerifyReason::kOk);
}

TEST_F(VerifierTest, LargeButValidTokensAreAccepted) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string large = Token(Claims().SetString("pad", std::string(5800, 'p')));
  ASSERT_GT(large.size(), 7800u);
  ASSERT_LE(large.size(), kDefaultMaxTokenSize);
  EXPECT_EQ(Check(*v, large), VerifyReason::kOk);

  VerifyPolicy p = BasePolicy();
  p.max_token_size = kLargestMaxTokenSize;
  std::unique_ptr<Verifier> big = Make(p);
  ASSERT_NE(big, nullptr);
  std::string roles = "[";
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&roles, i == 0 ? "" : ",", "\"role-", i, "-", std::string(400, 'r'), "\"");
  }
  roles += "]";
  const std::string huge = Token(Claims().Set("roles", roles));
  ASSERT_GT(huge.size(), 50000u);
  ASSERT_LE(huge.size(), kLargestMaxTokenSize);
  EXPECT_EQ(Check(*big, huge), VerifyReason::kOk);
  EXPECT_EQ(Check(*v, huge), VerifyReason::kTooLarge);
}

TEST_F(VerifierTest, ScratchSmallerThanTheTokenRefusesIt) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string token = Token(Claims().SetString("pad", std::string(1000, 'p')));
  VerifyScratch small(512);
  VerifyScratch enough(2048);
  VerifiedToken out;
  EXPECT_EQ(v->Verify(token, kNow, small, &out), VerifyReason::kTooLarge);
  EXPECT_EQ(v->Verify(token, kNow, enough, &out), VerifyReason::kOk);
}

TEST_F(VerifierTest, SignatureIsCheckedBeforeAnyClaim) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  // Claims that would fail every claim rule, and are not even JSON, behind a bad signature.
  absl::StatusOr<std::unique_ptr<Key>> impostor = Key::Generate(Algorithm::kEdDSA, "ed1");
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  const std::vector<std::string> bad_claims = {
      "{\"exp\":1.5,\"iss\":\"evil\"}", "not json", Claims().SetInt("exp", 1).Str(),
      Claims().Add("exp", "1").Str(), Claims().SetString("aud", "x").Str() + "}"};
  for (const std::string& claims : bad_claims) {
    SCOPED_TRACE(claims);
    // A well-formed Ed25519 signature, by a key that is not the trusted ed1.
    const std::string forged = SignJson(**impostor, test::HeaderJson(*ed1_), claims);
    EXPECT_EQ(Check(*v, forged), VerifyReason::kBadSignature);
  }
}

TEST_F(VerifierTest, ReasonNamesAreStableAndDistinct) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kVerifyReasonCount; ++i) {
    const std::string_view name = VerifyReasonName(static_cast<VerifyReason>(i));
    EXPECT_NE(name, "unknown") << i;
    for (std::string_view other : names) {
      EXPECT_NE(name, other);
    }
    names.push_back(name);
  }
  EXPECT_EQ(VerifyReasonName(VerifyReason::kOk), "ok");
  EXPECT_EQ(VerifyReasonName(VerifyReason::kBadSignature), "bad_signature");
}

// ---------------------------------------------------------------------------------------------
// The cached path.

void ExpectSameFields(const VerifiedToken& a, const VerifiedToken& b) {
  EXPECT_EQ(a.iss, b.iss);
  EXPECT_EQ(a.sub, b.sub);
  EXPECT_EQ(a.client_id, b.client_id);
  EXPECT_EQ(a.scope, b.scope);
  EXPECT_EQ(a.jti, b.jti);
  EXPECT_EQ(a.kid, b.kid);
  EXPECT_EQ(a.exp, b.exp);
  EXPECT_EQ(a.nbf, b.nbf);
  EXPECT_EQ(a.iat, b.iat);
  EXPECT_EQ(a.present, b.present);
}

// Owned copies of a VerifiedToken's views, which die with the next Verify call.
struct Fields {
  std::string iss, sub, client_id, scope, jti, kid;
  int64_t exp, nbf, iat;
  uint32_t present;

  explicit Fields(const VerifiedToken& t)
      : iss(t.iss),
        sub(t.sub),
        client_id(t.client_id),
        scope(t.scope),
        jti(t.jti),
        kid(t.kid),
        exp(t.exp),
        nbf(t.nbf),
        iat(t.iat),
        present(t.present) {}
  VerifiedToken View() const {
    VerifiedToken t;
    t.iss = iss;
    t.sub = sub;
    t.client_id = client_id;
    t.scope = scope;
    t.jti = jti;
    t.kid = kid;
    t.exp = exp;
    t.nbf = nbf;
    t.iat = iat;
    t.present = present;
    return t;
  }
};

TEST_F(VerifierTest, CachedPathGivesTheSameResultsAsTheFullPath) {
  VerifyPolicy p = BasePolicy();
  p.audiences = {"api"};
  std::unique_ptr<Verifier> v = Make(p);
  ASSERT_NE(v, nullptr);
  const std::vector<std::string> tokens = {
      Token(Claims()),
      Token(Claims().SetString("sub", "other").Remove("scope"), hs1_),
      Token(Claims().SetString("jti", "j\\\"2").Remove("nbf")),
      Token(Claims().SetString("aud", "nope")),
      Token(Claims().SetInt("exp", kNow - 3600)),
      Token(Claims().Set("exp", "\"soon\"")),
      Token(Claims()) + "x",
      "not.a.token",
      test::WithSignature(Token(Claims()), std::string(64, '\0')),
  };
  VerifyScratch scratch;
  VerifiedTokenCache cache(64);
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& token : tokens) {
      SCOPED_TRACE(absl::StrCat("pass ", pass, ": ", token));
      VerifiedToken full;
      const VerifyReason want = v->Verify(token, kNow, scratch, &full);
      const Fields expected(full);
      VerifiedToken cached;
      ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &cached), want);
      if (want == VerifyReason::kOk) {
        ExpectSameFields(cached, expected.View());
        EXPECT_EQ(cached.from_cache, pass == 1);
        if (pass == 1) {
          EXPECT_TRUE(cached.claims_json.empty());
        }
      }
    }
  }
  EXPECT_EQ(cache.stats().inserts, 3u);
  EXPECT_EQ(cache.stats().hits, 3u);
}

TEST_F(VerifierTest, CacheHitRechecksExpiryAndEvictsExpiredTokens) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());  // leeway 30
  ASSERT_NE(v, nullptr);
  const int64_t exp = kNow + 100;
  const std::string token = Token(Claims().SetInt("exp", exp));
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_FALSE(out.from_cache);
  ASSERT_EQ(v->Verify(token, exp + 29, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_TRUE(out.from_cache);
  EXPECT_EQ(v->Verify(token, exp + 30, scratch, cache, &out), VerifyReason::kExpired);
  EXPECT_EQ(cache.stats().hits, 2u);

  // Evicted: the cache no longer holds it ...
  VerifiedToken probe;
  EXPECT_FALSE(cache.Lookup(token, VerifiedTokenCache::Hash(token), &probe));
  // ... so a verifier whose clock is behind verifies it in full again.
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_FALSE(out.from_cache);
  EXPECT_EQ(cache.stats().inserts, 2u);
}

TEST_F(VerifierTest, CacheHitRechecksNotBefore) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());  // leeway 30
  ASSERT_NE(v, nullptr);
  const std::string token = Token(Claims().SetInt("nbf", kNow + 10).SetInt("iat", kNow));
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_EQ(v->Verify(token, kNow - 21, scratch, cache, &out), VerifyReason::kNotYetValid);
  EXPECT_TRUE(out.from_cache);
  // Not yet valid is not evicted: the token becomes valid again.
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_TRUE(out.from_cache);
}

TEST_F(VerifierTest, TokenDifferingInOneByteFromACachedOneIsVerifiedInFull) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string token = Token(Claims());
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);

  const test::Segments s = test::Split(token);
  std::vector<std::string> variants;
  {
    test::Segments t = s;  // a signature character in the middle (no unused bits there)
    t.signature[10] = t.signature[10] == 'A' ? 'B' : 'A';
    variants.push_back(t.Join());
  }
  {
    test::Segments t = s;  // a payload character
    t.payload[20] = t.payload[20] == 'A' ? 'B' : 'A';
    variants.push_back(t.Join());
  }
  {
    test::Segments t = s;  // a header character
    t.header[3] = t.header[3] == 'A' ? 'B' : 'A';
    variants.push_back(t.Join());
  }
  for (const std::string& forged : variants) {
    SCOPED_TRACE(forged);
    const uint64_t misses = cache.stats().misses;
    const VerifyReason r = v->Verify(forged, kNow, scratch, cache, &out);
    EXPECT_NE(r, VerifyReason::kOk);
    EXPECT_EQ(cache.stats().misses, misses + 1);
  }
  // The signature and payload forgeries are caught by the signature check itself.
  EXPECT_EQ(v->Verify(variants[0], kNow, scratch, cache, &out), VerifyReason::kBadSignature);
  EXPECT_EQ(v->Verify(variants[1], kNow, scratch, cache, &out), VerifyReason::kBadSignature);
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().inserts, 1u);
  // The original is still a hit.
  ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
  EXPECT_TRUE(out.from_cache);
}

TEST_F(VerifierTest, FailedVerificationsAreNeverCached) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string token = Token(Claims().SetString("iss", "https://evil.example"));
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kWrongIssuer);
  }
  EXPECT_EQ(cache.stats().inserts, 0u);
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().misses, 3u);
}

TEST_F(VerifierTest, TokenTooLargeForASlotIsVerifiedButNotCached) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  const std::string token = Token(Claims().SetString("pad", std::string(1200, 'p')));
  ASSERT_GT(token.size(), VerifiedTokenCache::kDefaultSlotBytes);
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(v->Verify(token, kNow, scratch, cache, &out), VerifyReason::kOk);
    EXPECT_FALSE(out.from_cache);
    EXPECT_EQ(out.sub, "user-1");
  }
  EXPECT_EQ(cache.stats().too_large, 2u);
  EXPECT_EQ(cache.stats().inserts, 0u);
}

TEST_F(VerifierTest, CachedPathAppliesTheSizeCapFirst) {
  std::unique_ptr<Verifier> v = Make(BasePolicy());
  ASSERT_NE(v, nullptr);
  VerifyScratch scratch;
  VerifiedTokenCache cache(16);
  VerifiedToken out;
  EXPECT_EQ(v->Verify(std::string(kDefaultMaxTokenSize + 1, 'A'), kNow, scratch, cache, &out),
            VerifyReason::kTooLarge);
  EXPECT_EQ(cache.stats().misses, 0u);
}

// ---------------------------------------------------------------------------------------------
// ParseClaims, directly: the values the Verifier does not hand back.

// ClaimsParser keeps each input alive, padded, while the Claims views into it are read: the
// views may point into the input (strings without escapes) or into the parser.
class ClaimsParser {
 public:
  VerifyReason Parse(std::string_view json, Claims* claims) {
    input_ = simdjson::padded_string(json);
    return ParseClaims(parser_, reinterpret_cast<const uint8_t*>(input_.data()), input_.size(),
                       claims);
  }

 private:
  simdjson::ondemand::parser parser_;
  simdjson::padded_string input_;
};

TEST(ParseClaimsTest, ReadsAudienceStringAndArray) {
  ClaimsParser parser;
  Claims claims;
  ASSERT_EQ(parser.Parse(R"({"aud":"one"})", &claims), VerifyReason::kOk);
  ASSERT_EQ(claims.aud_count, 1);
  EXPECT_EQ(claims.aud[0], "one");
  EXPECT_TRUE(claims.has(kClaimAud));

  ASSERT_EQ(parser.Parse(R"({"aud":["a","b\u0063","d"]})", &claims), VerifyReason::kOk);
  ASSERT_EQ(claims.aud_count, 3);
  EXPECT_EQ(claims.aud[0], "a");
  EXPECT_EQ(claims.aud[1], "bc");
  EXPECT_EQ(claims.aud[2], "d");
}

// Strings are read in place when they have no escape and unescaped otherwise; the scan for
// the closing quote works in 32-byte blocks. Every length across several blocks, with and
// without an escape at the start, middle or end, must give the same unescaped value.
TEST(ParseClaimsTest, StringsOfEveryLengthAndEscapePosition) {
  ClaimsParser parser;
  Claims claims;
  for (size_t len = 0; len <= 100; ++len) {
    std::string plain;
    for (size_t i = 0; i < len; ++i) {
      plain.push_back(static_cast<char>('a' + i % 26));
    }
    for (int where = -1; where < 3; ++where) {
      std::string want = plain;
      std::string raw = plain;
      if (where >= 0 && len > 0) {
        const size_t at = where == 0 ? 0 : where == 1 ? len / 2 : len - 1;
        want[at] = '"';
        raw.replace(at, 1, "\\\"");
      }
      SCOPED_TRACE(absl::StrCat("len ", len, " escape ", where));
      const std::string json =
          absl::StrCat("{\"sub\":\"", raw, "\",\"x\":\"", raw, "\",\"scope\":\"", raw, "\"}");
      ASSERT_EQ(parser.Parse(json, &claims), VerifyReason::kOk);
      EXPECT_EQ(claims.sub, want);
      EXPECT_EQ(claims.scope, want);
      // The same text at the very end of the input, right against the padding.
      ASSERT_EQ(parser.Parse(absl::StrCat("{\"jti\":\"", raw, "\"}"), &claims), VerifyReason::kOk);
      EXPECT_EQ(claims.jti, want);
    }
  }
}

TEST(ParseClaimsTest, RegisteredNamesAreRecognizedInEscapedSpelling) {
  ClaimsParser parser;
  Claims claims;
  ASSERT_EQ(parser.Parse(R"({"\u0073ub":"s","e\u0078p":5,"client\u005fid":"c"})", &claims),
            VerifyReason::kOk);
  EXPECT_EQ(claims.present, kClaimSub | kClaimExp | kClaimClientId);
  EXPECT_EQ(claims.sub, "s");
  EXPECT_EQ(claims.exp, 5);
  EXPECT_EQ(claims.client_id, "c");
  // Names that merely resemble registered ones are not them.
  ASSERT_EQ(parser.Parse(R"({"Sub":"s","exp ":5,"scopes":"x","client_i":"c","is":"i"})", &claims),
            VerifyReason::kOk);
  EXPECT_EQ(claims.present, 0u);
}

TEST(ParseClaimsTest, NumericDatesWithAndWithoutWhitespace) {
  ClaimsParser parser;
  Claims claims;
  ASSERT_EQ(parser.Parse("{\"exp\" :\t1700000600 \r\n,\"nbf\":0,\"iat\":\n9}", &claims),
            VerifyReason::kOk);
  EXPECT_EQ(claims.exp, 1700000600);
  EXPECT_EQ(claims.nbf, 0);
  EXPECT_EQ(claims.iat, 9);
  // Twelve digits is the longest NumericDate; thirteen is beyond year 9999.
  ASSERT_EQ(parser.Parse(R"({"exp":100000000000})", &claims), VerifyReason::kOk);
  EXPECT_EQ(claims.exp, 100000000000);
  EXPECT_EQ(parser.Parse(R"({"exp":1000000000000})", &claims), VerifyReason::kBadClaim);
  EXPECT_EQ(parser.Parse(R"({"exp":0000000000001})", &claims), VerifyReason::kBadJson);
  EXPECT_EQ(parser.Parse(R"({"exp":1700000600,})", &claims), VerifyReason::kBadJson);
  EXPECT_EQ(parser.Parse(R"({"exp":17000006001.})", &claims), VerifyReason::kBadJson);
  EXPECT_EQ(parser.Parse(R"({"exp":1700000600e0})", &claims), VerifyReason::kBadClaim);
}

TEST(ParseClaimsTest, ReusedClaimsAreReset) {
  ClaimsParser parser;
  Claims claims;
  ASSERT_EQ(parser.Parse(R"({"aud":["a","b"],"sub":"s","exp":5})", &claims), VerifyReason::kOk);
  ASSERT_EQ(parser.Parse(R"({"iss":"i"})", &claims), VerifyReason::kOk);
  EXPECT_EQ(claims.present, kClaimIss);
  EXPECT_EQ(claims.aud_count, 0);
}

TEST(ParseClaimsTest, ReportsDuplicateBeforeABadClaimEarlierInTheObject) {
  ClaimsParser parser;
  Claims claims;
  EXPECT_EQ(parser.Parse(R"({"exp":1.5,"sub":"a","sub":"b"})", &claims),
            VerifyReason::kDuplicateMember);
  EXPECT_EQ(parser.Parse(R"({"exp":1.5,"x":[1,}})", &claims), VerifyReason::kBadJson);
  EXPECT_EQ(parser.Parse(R"({"exp":1.5,"sub":"a"} x)", &claims), VerifyReason::kBadJson);
  EXPECT_EQ(parser.Parse(R"({"exp":1.5,"sub":"a"})", &claims), VerifyReason::kBadClaim);
}

TEST(ParseClaimsTest, NumericDateLimits) {
  ClaimsParser parser;
  Claims claims;
  ASSERT_EQ(parser.Parse(R"({"exp":0,"nbf":253402300799,"iat":1})", &claims), VerifyReason::kOk);
  EXPECT_EQ(claims.exp, 0);
  EXPECT_EQ(claims.nbf, kMaxNumericDate);
  EXPECT_EQ(claims.iat, 1);
  EXPECT_EQ(parser.Parse(R"({"nbf":253402300800})", &claims), VerifyReason::kBadClaim);
  EXPECT_EQ(parser.Parse(R"({"iat":-0})", &claims), VerifyReason::kBadClaim);
  EXPECT_EQ(parser.Parse(R"({"exp": 5 })", &claims), VerifyReason::kOk);
  EXPECT_EQ(claims.exp, 5);
}

}  // namespace
}  // namespace ringward::token
