// JWS compact serialization: SplitCompact and ParseJoseHeader on their own.
#include "ringward/token/jws.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringward/token/algorithm.h"
#include "ringward/token/verify_reason.h"
#include "simdjson.h"
#include "testing/token_factory.h"

namespace ringward::token {
namespace {

// ---------------------------------------------------------------------------------------------
// SplitCompact.

TEST(SplitCompactTest, SplitsThreeSegments) {
  CompactParts parts;
  const std::string_view token = "eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl-_";
  ASSERT_EQ(SplitCompact(token, &parts), VerifyReason::kOk);
  EXPECT_EQ(parts.header_b64, "eyJhbGciOiJFZERTQSJ9");
  EXPECT_EQ(parts.payload_b64, "e30");
  EXPECT_EQ(parts.signature_b64, "c2lnbmF0dXJl-_");
  EXPECT_EQ(parts.signing_input, "eyJhbGciOiJFZERTQSJ9.e30");
  // The parts are views into the token, not copies.
  EXPECT_EQ(parts.header_b64.data(), token.data());
  EXPECT_EQ(parts.signature_b64.data() + parts.signature_b64.size(), token.data() + token.size());
}

TEST(SplitCompactTest, AcceptsSingleCharacterSegmentsAndTheWholeAlphabet) {
  CompactParts parts;
  EXPECT_EQ(SplitCompact("a.b.c", &parts), VerifyReason::kOk);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  EXPECT_EQ(SplitCompact(absl::StrCat(alphabet, ".", alphabet, ".", alphabet), &parts),
            VerifyReason::kOk);
  EXPECT_EQ(parts.payload_b64, alphabet);
}

TEST(SplitCompactTest, RefusesAnythingButThreeNonEmptySegments) {
  for (const std::string_view token :
       {"", ".", "..", "...", "abc", "a.b", "a.b.c.d", "a.b.c.d.e", ".b.c", "a..c", "a.b.", "..c",
        "a..", ".b.", "a.b.c.", ".a.b.c", "a.b..c"}) {
    SCOPED_TRACE(token);
    CompactParts parts;
    EXPECT_EQ(SplitCompact(token, &parts), VerifyReason::kMalformed);
  }
}

// Every byte outside the base64url alphabet (and '.') makes the token malformed, wherever it is.
TEST(SplitCompactTest, RefusesEveryByteOutsideTheAlphabet) {
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int refused = 0;
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    if (ch == '.' || alphabet.find(ch) != std::string_view::npos) {
      continue;
    }
    for (int where = 0; where < 3; ++where) {
      std::string token = "abcd.efgh.ijkl";
      token.insert(static_cast<size_t>(where * 5 + 2), 1, ch);
      CompactParts parts;
      EXPECT_EQ(SplitCompact(token, &parts), VerifyReason::kMalformed)
          << "byte " << c << " in segment " << where;
    }
    ++refused;
  }
  EXPECT_EQ(refused, 256 - 64 - 1);
}

// ---------------------------------------------------------------------------------------------
// ParseJoseHeader.

class JoseHeaderTest : public ::testing::Test {
 protected:
  VerifyReason Parse(std::string_view json) {
    const simdjson::padded_string padded(json);
    return ParseJoseHeader(parser_, reinterpret_cast<const uint8_t*>(padded.data()), padded.size(),
                           &header_);
  }

  simdjson::ondemand::parser parser_;
  JoseHeader header_;
};

TEST_F(JoseHeaderTest, MapsEachSupportedAlgorithm) {
  const struct {
    const char* name;
    Algorithm alg;
  } kAlgs[] = {{"EdDSA", Algorithm::kEdDSA},
               {"ES256", Algorithm::kES256},
               {"RS256", Algorithm::kRS256},
               {"PS256", Algorithm::kPS256},
               {"HS256", Algorithm::kHS256}};
  for (const auto& a : kAlgs) {
    SCOPED_TRACE(a.name);
    ASSERT_EQ(Parse(absl::StrCat("{\"alg\":\"", a.name, "\"}")), VerifyReason::kOk);
    EXPECT_EQ(header_.alg, a.alg);
    EXPECT_EQ(AlgorithmName(a.alg), a.name);
  }
}

TEST_F(JoseHeaderTest, ExtractsKidAndTyp) {
  ASSERT_EQ(Parse(R"({"alg":"ES256","typ":"at+jwt","kid":"key-2024-01"})"), VerifyReason::kOk);
  EXPECT_EQ(header_.alg, Algorithm::kES256);
  EXPECT_TRUE(header_.has_kid);
  EXPECT_EQ(header_.kid, "key-2024-01");
  EXPECT_TRUE(header_.has_typ);
  EXPECT_EQ(header_.typ, "at+jwt");
}

TEST_F(JoseHeaderTest, AbsentKidAndTypAreReportedAbsent) {
  ASSERT_EQ(Parse(R"({"alg":"EdDSA","kid":"k","typ":"JWT"})"), VerifyReason::kOk);
  ASSERT_EQ(Parse(R"({"alg":"EdDSA"})"), VerifyReason::kOk);  // a reused header is reset
  EXPECT_FALSE(header_.has_kid);
  EXPECT_FALSE(header_.has_typ);
  EXPECT_TRUE(header_.kid.empty());
  EXPECT_TRUE(header_.typ.empty());
}

TEST_F(JoseHeaderTest, EmptyKidIsPresent) {
  ASSERT_EQ(Parse(R"({"alg":"EdDSA","kid":""})"), VerifyReason::kOk);
  EXPECT_TRUE(header_.has_kid);
  EXPECT_TRUE(header_.kid.empty());
}

TEST_F(JoseHeaderTest, UnescapesKidTypAndMemberNames) {
  ASSERT_EQ(
      Parse(
          R"({"\u0061lg":"Ed\u0044SA","k\u0069d":"k\u0069d\/x\u00e9\ud83d\ude00","typ":"at\u002bjwt"})"),
      VerifyReason::kOk);
  EXPECT_EQ(header_.alg, Algorithm::kEdDSA);
  EXPECT_EQ(header_.kid, "kid/x\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(header_.typ, "at+jwt");
}

TEST_F(JoseHeaderTest, KidWithEscapedNulKeepsItsFullLength) {
  ASSERT_EQ(Parse(R"({"alg":"EdDSA","kid":"ed1\u0000x"})"), VerifyReason::kOk);
  EXPECT_EQ(header_.kid, std::string_view("ed1\0x", 5));
}

TEST_F(JoseHeaderTest, WhitespaceAroundTheObjectIsAllowed) {
  EXPECT_EQ(Parse(" \r\n\t{ \"alg\" : \"EdDSA\" , \"kid\" : \"k\" }\r\n "), VerifyReason::kOk);
  EXPECT_EQ(header_.kid, "k");
}

TEST_F(JoseHeaderTest, UnknownMembersAreValidatedAndIgnored) {
  ASSERT_EQ(
      Parse(R"({"alg":"EdDSA","cty":"x","ext":{"jku":"nested is fine","a":[1,2.5,null,true]}})"),
      VerifyReason::kOk);
  EXPECT_EQ(header_.alg, Algorithm::kEdDSA);
}

TEST_F(JoseHeaderTest, RefusesMissingOrUnknownAlgorithms) {
  for (const std::string_view json : {R"({})",
                                      R"({"kid":"k"})",
                                      R"({"alg":"none"})",
                                      R"({"alg":"None"})",
                                      R"({"alg":"NONE"})",
                                      R"({"alg":"nOnE"})",
                                      R"({"alg":""})",
                                      R"({"alg":"HS512"})",
                                      R"({"alg":"HS384"})",
                                      R"({"alg":"RS384"})",
                                      R"({"alg":"RS512"})",
                                      R"({"alg":"ES384"})",
                                      R"({"alg":"ES256K"})",
                                      R"({"alg":"PS512"})",
                                      R"({"alg":"Ed25519"})",
                                      R"({"alg":"eddsa"})",
                                      R"({"alg":"hs256"})",
                                      R"({"alg":" HS256"})",
                                      R"({"alg":"HS256\u0000"})",
                                      R"({"alg":null})",
                                      R"({"alg":1})",
                                      R"({"alg":["HS256"]})",
                                      R"({"alg":{"HS256":true}})",
                                      R"({"alg":true})"}) {
    SCOPED_TRACE(json);
    EXPECT_EQ(Parse(json), VerifyReason::kUnsupportedAlgorithm);
  }
}

TEST_F(JoseHeaderTest, RefusesEveryForbiddenMember) {
  for (const std::string_view member :
       {R"("crit":["exp"])", R"("crit":[])", R"("b64":false)", R"("b64":true)", R"("zip":"DEF")",
        R"("jku":"https://a.example/jwks")", R"("jwk":{"kty":"OKP","crv":"Ed25519","x":"AA"})",
        R"("x5u":"https://a.example/c")", R"("x5c":["AAAA"])", R"("enc":"A128GCM")",
        R"("\u006aku":"https://a.example")", R"("cr\u0069t":["b64"])", R"("jwk":null)"}) {
    SCOPED_TRACE(member);
    EXPECT_EQ(Parse(absl::StrCat("{\"alg\":\"EdDSA\",", std::string(member), "}")),
              VerifyReason::kUnsupportedHeader);
    EXPECT_EQ(Parse(absl::StrCat("{", std::string(member), ",\"alg\":\"EdDSA\"}")),
              VerifyReason::kUnsupportedHeader);
  }
}

TEST_F(JoseHeaderTest, RefusesNonStringKidOrTyp) {
  for (const std::string_view json :
       {R"({"alg":"EdDSA","kid":1})", R"({"alg":"EdDSA","kid":null})",
        R"({"alg":"EdDSA","kid":["a"]})", R"({"alg":"EdDSA","kid":{"a":1}})",
        R"({"alg":"EdDSA","typ":false})", R"({"alg":"EdDSA","typ":["at+jwt"]})"}) {
    SCOPED_TRACE(json);
    EXPECT_EQ(Parse(json), VerifyReason::kUnsupportedHeader);
  }
}

TEST_F(JoseHeaderTest, RefusesDuplicateMembers) {
  for (const std::string_view json :
       {R"({"alg":"EdDSA","alg":"EdDSA"})", R"({"alg":"none","alg":"EdDSA"})",
        R"({"alg":"EdDSA","kid":"a","kid":"b"})", R"({"alg":"EdDSA","typ":"a","typ":"a"})",
        R"({"alg":"EdDSA","x":1,"x":2})", R"({"alg":"EdDSA","kid":"a","k\u0069d":"b"})",
        R"({"alg":"EdDSA","\u0061lg":"EdDSA"})", R"({"alg":"EdDSA","ext":{"a":1,"a":1}})",
        R"({"alg":"EdDSA","ext":[{"a":1,"\u0061":1}]})"}) {
    SCOPED_TRACE(json);
    EXPECT_EQ(Parse(json), VerifyReason::kDuplicateMember);
  }
}

TEST_F(JoseHeaderTest, RefusesWhatIsNotOneJsonObject) {
  for (const std::string_view json : {"",
                                      " ",
                                      "[]",
                                      R"(["EdDSA"])",
                                      R"("EdDSA")",
                                      "1",
                                      "null",
                                      "true",
                                      R"({"alg":"EdDSA"} x)",
                                      R"({"alg":"EdDSA"}{})",
                                      R"({"alg":"EdDSA"}})",
                                      R"({"alg":"EdDSA"},)",
                                      R"({"alg":"EdDSA")",
                                      R"({"alg":"EdDSA",})",
                                      R"({"alg":'EdDSA'})",
                                      R"({alg:"EdDSA"})",
                                      "{\"alg\":\"EdDSA\",\"kid\":\"\xff\"}",
                                      "{\"alg\":\"EdDSA\",\"kid\":\"a\nb\"}",
                                      R"({"alg":"EdDSA","x":01})",
                                      R"({"alg":"EdDSA","x":[1,]})",
                                      R"({"alg":"EdDSA","x":"\ud800"})",
                                      R"({"alg":"EdDSA","x":"\q"})"}) {
    SCOPED_TRACE(json);
    EXPECT_EQ(Parse(json), VerifyReason::kBadJson);
  }
}

TEST_F(JoseHeaderTest, RefusesNestingBeyondTheLimit) {
  std::string deep = "{\"alg\":\"EdDSA\",\"x\":";
  deep += std::string(40, '[');
  deep += std::string(40, ']');
  deep += "}";
  EXPECT_EQ(Parse(deep), VerifyReason::kBadJson);
}

TEST_F(JoseHeaderTest, RefusesTooManyMembers) {
  std::string json = "{\"alg\":\"EdDSA\"";
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&json, ",\"m", i, "\":", i);
  }
  json += "}";
  EXPECT_EQ(Parse(json), VerifyReason::kBadJson);
}

// Reasons have an order: JSON faults first (the whole header is walked), then the algorithm,
// then forbidden members.
TEST_F(JoseHeaderTest, ReasonsFollowTheDocumentedPrecedence) {
  EXPECT_EQ(Parse(R"({"jku":"x","alg":"EdDSA","kid":"a","kid":"b"})"),
            VerifyReason::kDuplicateMember);
  EXPECT_EQ(Parse(R"({"jku":"x","alg":"EdDSA","y":[1,}})"), VerifyReason::kBadJson);
  EXPECT_EQ(Parse(R"({"alg":"none","jku":"x"})"), VerifyReason::kUnsupportedAlgorithm);
  EXPECT_EQ(Parse(R"({"jku":"x","alg":"none"})"), VerifyReason::kUnsupportedAlgorithm);
  EXPECT_EQ(Parse(R"({"jku":"x","alg":"EdDSA"} x)"), VerifyReason::kBadJson);
  EXPECT_EQ(Parse(R"({"alg":"none","x":1,"x":2})"), VerifyReason::kDuplicateMember);
}

}  // namespace
}  // namespace ringward::token
