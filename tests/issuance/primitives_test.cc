// Tests for the issuance primitives: form parsing, secrets and Basic credentials, argon2id
// passwords, and HOTP/TOTP against the RFC vectors.
#include <argon2.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "issuance/form.h"
#include "issuance/password.h"
#include "issuance/secrets.h"
#include "issuance/totp.h"
#include "ringward/base/base64url.h"

namespace ringward::issuance {
namespace {

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// ---------------------------------------------------------------------------------------------
// Form

TEST(FormTest, DecodesPlusAndPercentEscapes) {
  absl::StatusOr<Form> form =
      Form::Parse("grant_type=password&username=al%20ice&password=a+b%2Bc%3d&scope=x%C3%A9");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->Get("grant_type"), "password");
  EXPECT_EQ(form->Get("username"), "al ice");
  EXPECT_EQ(form->Get("password"), "a b+c=");
  EXPECT_EQ(form->Get("scope"), "x\xC3\xA9");
  ASSERT_EQ(form->fields().size(), 4u);
  EXPECT_EQ(form->fields()[1].name, "username");
}

TEST(FormTest, DecodesNames) {
  absl::StatusOr<Form> form = Form::Parse("client%5Fid=a&my+name=b");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->Get("client_id"), "a");
  EXPECT_EQ(form->Get("my name"), "b");
}

TEST(FormTest, SkipsEmptyPairsAndKeepsNamesWithoutEquals) {
  absl::StatusOr<Form> form = Form::Parse("&a=1&&b=2&flag&empty=&");
  ASSERT_TRUE(form.ok()) << form.status();
  ASSERT_EQ(form->fields().size(), 4u);
  EXPECT_EQ(form->Get("a"), "1");
  EXPECT_EQ(form->Get("b"), "2");
  EXPECT_TRUE(form->Has("flag"));
  ASSERT_NE(form->Find("flag"), nullptr);
  EXPECT_EQ(*form->Find("flag"), "");
  EXPECT_TRUE(form->Has("empty"));
  EXPECT_FALSE(form->Has("missing"));
  EXPECT_EQ(form->Find("missing"), nullptr);
  EXPECT_EQ(form->Get("missing"), "");
}

TEST(FormTest, EmptyBodyIsAnEmptyForm) {
  absl::StatusOr<Form> form = Form::Parse("");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_TRUE(form->fields().empty());
}

TEST(FormTest, SplitsAtTheFirstEquals) {
  absl::StatusOr<Form> form = Form::Parse("a=b=c");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->Get("a"), "b=c");
}

TEST(FormTest, RejectsDuplicateParameterAndNamesIt) {
  absl::StatusOr<Form> form = Form::Parse("grant_type=password&scope=a&grant_type=refresh_token");
  ASSERT_FALSE(form.ok());
  EXPECT_EQ(form.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Msg(form.status()).find("grant_type"), std::string::npos) << form.status();

  // The same name spelled differently is still the same parameter once decoded.
  EXPECT_FALSE(Form::Parse("scope=a&%73cope=b").ok());
  EXPECT_FALSE(Form::Parse("flag&flag").ok());
  EXPECT_FALSE(Form::Parse("a=&a=").ok());
}

TEST(FormTest, RejectsMalformedEscapes) {
  for (const char* body : {"a=%", "a=%4", "a=%zz", "a=%4g", "a=%g4", "a%=1", "a%2=1", "a=1&b=%%41",
                           "a=%+1", "a=% 1"}) {
    absl::StatusOr<Form> form = Form::Parse(body);
    EXPECT_FALSE(form.ok()) << body;
    EXPECT_EQ(form.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
  // Both hex cases are fine.
  absl::StatusOr<Form> form = Form::Parse("a=%2f%2F");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->Get("a"), "//");
}

TEST(FormTest, RejectsInvalidUtf8) {
  for (const char* body : {"a=%FF", "a=%C0%AF", "a=%ED%A0%80", "a=%E2%82", "%80=1", "a=\xff",
                           "a=%F4%90%80%80"}) {
    absl::StatusOr<Form> form = Form::Parse(body);
    EXPECT_FALSE(form.ok()) << body;
    EXPECT_EQ(form.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
  absl::StatusOr<Form> form = Form::Parse("a=%E2%82%AC&b=%F4%8F%BF%BF&c=%00");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->Get("a"), "\xE2\x82\xAC");
  EXPECT_EQ(form->Get("b"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(form->Get("c"), std::string(1, '\0'));
}

TEST(FormTest, LimitsTheNumberOfFields) {
  std::string body;
  for (int i = 0; i < 64; ++i) {
    body += "p" + std::to_string(i) + "=v&";
  }
  EXPECT_TRUE(Form::Parse(body).ok());
  EXPECT_TRUE(Form::Parse(body + "&&&").ok());  // empty pairs do not count
  absl::StatusOr<Form> too_many = Form::Parse(body + "p64=v");
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Form::Parse("a=1&b=2", 2).ok());
  EXPECT_FALSE(Form::Parse("a=1&b=2&c=3", 2).ok());
}

TEST(FormTest, EncodeEscapesEverythingButUnreserved) {
  EXPECT_EQ(FormEncode("azAZ09*-._"), "azAZ09*-._");
  EXPECT_EQ(FormEncode("a b&c=d+e%f:g/\xC3\xA9~"), "a+b%26c%3Dd%2Be%25f%3Ag%2F%C3%A9%7E");
  EXPECT_EQ(FormEncode(std::string("\0\n", 2)), "%00%0A");
}

TEST(FormTest, EncodeThenParseRoundTrips) {
  const std::vector<std::string> values = {"", " ", "+", "%", "&", "=", "a=b&c", "p:ss w+rd%41",
                                           "\xE2\x82\xAC\xF0\x9F\x94\x91", std::string("\0x", 2)};
  std::string body;
  for (size_t i = 0; i < values.size(); ++i) {
    body += FormEncode("n " + std::to_string(i)) + "=" + FormEncode(values[i]) + "&";
  }
  absl::StatusOr<Form> form = Form::Parse(body);
  ASSERT_TRUE(form.ok()) << form.status();
  ASSERT_EQ(form->fields().size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(form->Get("n " + std::to_string(i)), values[i]) << i;
  }
}

TEST(FormTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));          // overlong 2-byte
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));      // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xE2\x82\x41"));      // bad continuation
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST(SecretsTest, RandomTokenIsBase64UrlOfFreshBytes) {
  const std::string a = RandomToken();
  const std::string b = RandomToken();
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  std::optional<std::string> bytes = Base64UrlDecode(a);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 32u);
  EXPECT_EQ(RandomToken(16).size(), 22u);
  EXPECT_EQ(Base64UrlDecode(RandomToken(20)).value_or("").size(), 20u);
  EXPECT_EQ(RandomToken(0), "");
}

TEST(SecretsTest, Sha256B64MatchesKnownDigest) {
  // FIPS 180-2 "abc": ba7816bf...f20015ad, in base64url.
  EXPECT_EQ(Sha256B64("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  EXPECT_EQ(Sha256B64("").size(), 43u);
  EXPECT_NE(Sha256B64("abc"), Sha256B64("abd"));
}

TEST(SecretsTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("Secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret!"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
}

TEST(BasicAuthTest, ParsesIdAndSecret) {
  std::string id;
  std::string secret;
  ASSERT_TRUE(ParseBasicAuth("Basic Y2xpZW50OnNlY3JldA==", &id, &secret).ok());
  EXPECT_EQ(id, "client");
  EXPECT_EQ(secret, "secret");
}

TEST(BasicAuthTest, SchemeIsCaseInsensitiveAndSpacesMayRepeat) {
  std::string id;
  std::string secret;
  EXPECT_TRUE(ParseBasicAuth("bAsIc Y2xpZW50OnNlY3JldA==", &id, &secret).ok());
  EXPECT_EQ(id, "client");
  EXPECT_TRUE(ParseBasicAuth("BASIC   Y2xpZW50OnNlY3JldA==", &id, &secret).ok());
  EXPECT_EQ(secret, "secret");
}

TEST(BasicAuthTest, FormDecodesIdAndSecretSoAnEncodedColonStaysInTheSecret) {
  // base64("my+client:p%3Ass+w%2Brd"): RFC 6749 §2.3.1 form-encodes both before base64.
  std::string id;
  std::string secret;
  absl::Status s = ParseBasicAuth("Basic bXkrY2xpZW50OnAlM0Fzcyt3JTJCcmQ=", &id, &secret);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(id, "my client");
  EXPECT_EQ(secret, "p:ss w+rd");

  // And what FormEncode builds parses back to the same pair.
  const std::string raw = FormEncode("a:b") + ":" + FormEncode("c:d&e");
  EXPECT_EQ(raw, "a%3Ab:c%3Ad%26e");
  // base64("a%3Ab:c%3Ad%26e")
  ASSERT_TRUE(ParseBasicAuth("Basic YSUzQWI6YyUzQWQlMjZl", &id, &secret).ok());
  EXPECT_EQ(id, "a:b");
  EXPECT_EQ(secret, "c:d&e");

  // A client id cannot hold a literal ':' (RFC 7617), so the first one separates; later ones
  // belong to a secret that was not encoded.
  ASSERT_TRUE(ParseBasicAuth("Basic Y2xpZW50OnNlYzpyZXQ=", &id, &secret).ok());  // client:sec:ret
  EXPECT_EQ(id, "client");
  EXPECT_EQ(secret, "sec:ret");
}

TEST(BasicAuthTest, RejectsMalformedCredentials) {
  for (const char* header : {
           "",
           "Basic",
           "Basic ",
           "Bearer Y2xpZW50OnNlY3JldA==",
           "Basicx Y2xpZW50OnNlY3JldA==",
           "BasicY2xpZW50OnNlY3JldA==",
           "Basic Y2xpZW50OnNlY3JldA",      // unpadded
           "Basic Y2xpZW50OnNlY3JldA== ",   // trailing space
           "Basic Y2xp ZW50OnNlY3JldA==",   // inner space
           "Basic Y2xpZW50OnNlY3JldA==\t",  // tab
           "Basic Y2xpZW50",                // "client": no ':'
           "Basic OnNlY3JldA==",            // ":secret": empty id
           "Basic Y2wlWlo6c2VjcmV0",        // "cl%ZZ:secret": bad escape
           "Basic Y2xpZW50OnP/",            // "client:s\xff": not UTF-8
           "Basic Y2xpZW50OnNlY3JldA-_",    // base64url alphabet
       }) {
    std::string id = "unchanged";
    std::string secret = "unchanged";
    absl::Status s = ParseBasicAuth(header, &id, &secret);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "'" << header << "'";
    EXPECT_EQ(id, "unchanged") << header;
    EXPECT_EQ(secret, "unchanged") << header;
  }
}

// ---------------------------------------------------------------------------------------------
// Passwords

// Small parameters keep the tests fast; DefaultParamsHashAndVerify covers the real cost.
constexpr Argon2Params kFast{64, 1, 1};

TEST(PasswordTest, HashVerifiesAndMismatchIsFalse) {
  absl::StatusOr<std::string> hash = HashPassword("correct horse", kFast);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << *hash;
  absl::StatusOr<bool> ok = VerifyPassword("correct horse", *hash);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(*ok);
  absl::StatusOr<bool> bad = VerifyPassword("correct horsE", *hash);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_FALSE(*bad);
  EXPECT_FALSE(VerifyPassword("correct horse ", *hash).value_or(true));
}

TEST(PasswordTest, SaltIsFreshAnd16BytesHashIs32Bytes) {
  absl::StatusOr<std::string> a = HashPassword("pw", kFast);
  absl::StatusOr<std::string> b = HashPassword("pw", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  // $argon2id$v=19$m=64,t=1,p=1$<salt: 22 chars = 16 bytes>$<hash: 43 chars = 32 bytes>
  const size_t salt_start = a->find('$', 20) + 1;
  const size_t hash_start = a->find('$', salt_start) + 1;
  EXPECT_EQ(hash_start - salt_start - 1, 22u) << *a;
  EXPECT_EQ(a->size() - hash_start, 43u) << *a;
}

TEST(PasswordTest, DefaultParamsHashAndVerify) {
  absl::StatusOr<std::string> hash = HashPassword("pa55word", Argon2Params{});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword("pa55word", *hash).value_or(false));
  EXPECT_FALSE(VerifyPassword("pa55worD", *hash).value_or(true));
}

TEST(PasswordTest, VerifiesReferenceImplementationVector) {
  // phc-winner-argon2 src/test.c: argon2id, "password", salt "somesalt", m=256, t=2, p=1.
  const char* kReference =
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
  EXPECT_TRUE(VerifyPassword("password", kReference).value_or(false));
  EXPECT_FALSE(VerifyPassword("passwore", kReference).value_or(true));
}

TEST(PasswordTest, RefusesArgon2iAndArgon2d) {
  const char salt[] = "0123456789abcdef";
  char encoded[256];
  ASSERT_EQ(argon2i_hash_encoded(1, 64, 1, "pw", 2, salt, 16, 32, encoded, sizeof(encoded)),
            ARGON2_OK);
  absl::StatusOr<bool> r = VerifyPassword("pw", encoded);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << encoded;
  ASSERT_EQ(argon2d_hash_encoded(1, 64, 1, "pw", 2, salt, 16, 32, encoded, sizeof(encoded)),
            ARGON2_OK);
  r = VerifyPassword("pw", encoded);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << encoded;
  // The same hash with the variant name edited to argon2id is a mismatch, not a match.
  ASSERT_EQ(argon2i_hash_encoded(1, 64, 1, "pw", 2, salt, 16, 32, encoded, sizeof(encoded)),
            ARGON2_OK);
  std::string edited = std::string("$argon2id") + (encoded + 8);
  EXPECT_FALSE(VerifyPassword("pw", edited).value_or(true)) << edited;
}

TEST(PasswordTest, RejectsMalformedEncodings) {
  absl::StatusOr<std::string> hash = HashPassword("pw", kFast);
  ASSERT_TRUE(hash.ok());
  const std::string tail = hash->substr(hash->find("$", 20));  // "$salt$hash"
  for (const std::string& bad : {
           std::string(""),
           std::string("garbage"),
           std::string("$argon2id$v=16$m=64,t=1,p=1") + tail,
           std::string("$argon2id$v=19$m=064,t=1,p=1") + tail,
           std::string("$argon2id$v=19$m=64,t=1") + tail,
           std::string("$argon2id$v=19$m=4194305,t=1,p=1") + tail,
           std::string("$argon2id$v=19$m=64,t=65,p=1") + tail,
           std::string("$argon2id$v=19$m=64,t=0,p=1") + tail,
           std::string("$argon2id$v=19$m=64,t=1,p=17") + tail,
           std::string("$argon2id$v=19$m=7,t=1,p=1") + tail,
           std::string("$argon2id$v=19$m=99999999999,t=1,p=1") + tail,
           hash->substr(0, hash->size() - 44),             // no hash part
           *hash + "$",                                    // extra field
           hash->substr(0, hash->rfind('$') + 1) + "!!!!",  // not base64
           *hash + std::string(600, 'A'),                  // absurdly long
       }) {
    absl::StatusOr<bool> r = VerifyPassword("pw", bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PasswordTest, TamperedHashDoesNotVerify) {
  absl::StatusOr<std::string> hash = HashPassword("pw", kFast);
  ASSERT_TRUE(hash.ok());
  std::string tampered = *hash;
  char& c = tampered[tampered.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword("pw", tampered).value_or(true));
}

TEST(PasswordTest, PasswordLengthBounds) {
  EXPECT_EQ(HashPassword("", kFast).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword(std::string(1025, 'x'), kFast).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> longest = HashPassword(std::string(1024, 'x'), kFast);
  ASSERT_TRUE(longest.ok()) << longest.status();
  EXPECT_TRUE(VerifyPassword(std::string(1024, 'x'), *longest).value_or(false));
  EXPECT_EQ(VerifyPassword("", *longest).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyPassword(std::string(1025, 'x'), *longest).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PasswordTest, ValidateArgon2ParamsBounds) {
  EXPECT_TRUE(ValidateArgon2Params(Argon2Params{}).ok());
  EXPECT_TRUE(ValidateArgon2Params({8, 1, 1}).ok());
  EXPECT_TRUE(ValidateArgon2Params({4194304, 64, 16}).ok());
  EXPECT_TRUE(ValidateArgon2Params({128, 1, 16}).ok());
  EXPECT_FALSE(ValidateArgon2Params({7, 1, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({127, 1, 16}).ok());
  EXPECT_FALSE(ValidateArgon2Params({4194305, 1, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({64, 0, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({64, 65, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({64, 1, 0}).ok());
  EXPECT_FALSE(ValidateArgon2Params({1024, 1, 17}).ok());
  EXPECT_EQ(HashPassword("pw", {7, 1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PasswordTest, ParallelismIsHonoured) {
  absl::StatusOr<std::string> hash = HashPassword("pw", {64, 1, 2});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=64,t=1,p=2$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword("pw", *hash).value_or(false));
}

// ---------------------------------------------------------------------------------------------
// TOTP

constexpr char kRfcKey[] = "12345678901234567890";

TEST(TotpTest, Rfc6238AppendixBSha1Vectors) {
  struct Vector {
    int64_t time;
    const char* code;
  };
  for (const Vector& v : {Vector{59, "94287082"}, Vector{1111111109, "07081804"},
                          Vector{1111111111, "14050471"}, Vector{1234567890, "89005924"},
                          Vector{2000000000, "69279037"}, Vector{20000000000, "65353130"}}) {
    EXPECT_EQ(TotpCode(kRfcKey, v.time, 8, 30), v.code) << v.time;
  }
}

TEST(TotpTest, Rfc4226AppendixDHotpValues) {
  const uint32_t expected[] = {755224, 287082, 359152, 969429, 338314,
                               254676, 287922, 162583, 399871, 520489};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(Hotp(kRfcKey, counter), expected[counter]) << counter;
  }
  // The 6-digit TOTP code is the HOTP value of the step, zero-padded.
  EXPECT_EQ(TotpCode(kRfcKey, 30 * 7), "162583");
}

TEST(TotpTest, CodesAreZeroPadded) {
  // RFC 6238 at 1111111109 is 07081804 in 8 digits; its last 6 digits are the 6-digit code.
  EXPECT_EQ(TotpCode(kRfcKey, 1111111109, 6), "081804");
  // Find a counter whose 6-digit HOTP value is below 100000 and check its padding.
  for (uint64_t counter = 0; counter < 100000; ++counter) {
    const uint32_t value = Hotp(kRfcKey, counter);
    if (value < 100000) {
      const std::string code = TotpCode(kRfcKey, static_cast<int64_t>(counter) * 30);
      ASSERT_EQ(code.size(), 6u);
      EXPECT_EQ(code[0], '0');
      EXPECT_EQ(std::stoul(code), value);
      return;
    }
  }
  FAIL() << "no HOTP value below 100000 in the first 100000 counters";
}

TEST(TotpTest, Base32Rfc4648Vectors) {
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "MY");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(Base32Encode(kRfcKey), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  EXPECT_EQ(Base32Decode("MZXW6YTBOI").value_or(""), "foobar");
  EXPECT_EQ(Base32Decode("mzxw6ytboi").value_or(""), "foobar");
  EXPECT_EQ(Base32Decode("MzXw6").value_or(""), "foo");
  EXPECT_EQ(Base32Decode("").value_or("x"), "");
}

TEST(TotpTest, Base32RoundTripsAndRejectsMalformedText) {
  std::string bytes;
  for (int i = 0; i < 64; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    EXPECT_EQ(Base32Decode(Base32Encode(bytes)).value_or("x"), bytes) << i;
  }
  for (const char* bad : {"MY======", "MZXW6===", "M", "MZX", "MZXW6Y", "MZ XW", "MZXW1", "MZXW8",
                          "MZ-W", "MZ", "MZXR"}) {
    EXPECT_FALSE(Base32Decode(bad).ok()) << bad;  // MZ and MZXR have non-zero trailing bits
  }
}

TEST(TotpTest, AcceptsOneStepEitherSideAndReturnsTheStep) {
  const int64_t now = 1700000015;  // step 56666667
  const int64_t step = now / 30;
  for (int64_t delta = -1; delta <= 1; ++delta) {
    const std::string code = TotpCode(kRfcKey, (step + delta) * 30);
    EXPECT_EQ(CheckTotp(kRfcKey, code, now, -1), step + delta) << delta;
  }
  for (const int64_t delta : {-3, -2, 2, 3}) {
    const std::string code = TotpCode(kRfcKey, (step + delta) * 30);
    // Guard against a chance collision with an in-window code making the test meaningless.
    bool collides = false;
    for (int64_t d = -1; d <= 1; ++d) {
      collides = collides || code == TotpCode(kRfcKey, (step + d) * 30);
    }
    if (!collides) {
      EXPECT_EQ(CheckTotp(kRfcKey, code, now, -1), -1) << delta;
    }
  }
  EXPECT_EQ(CheckTotp("another key 12345678", TotpCode(kRfcKey, now), now, -1), -1);
}

TEST(TotpTest, RefusesReplayedAndOlderSteps) {
  const int64_t now = 1700000015;
  const int64_t step = now / 30;
  const std::string code = TotpCode(kRfcKey, now);
  ASSERT_EQ(CheckTotp(kRfcKey, code, now, -1), step);
  // The same code again, after its step was stored: refused, even a few seconds later.
  EXPECT_EQ(CheckTotp(kRfcKey, code, now, step), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, code, now + 10, step), -1);
  // The previous step's code is still in the window but older than the stored step.
  EXPECT_EQ(CheckTotp(kRfcKey, TotpCode(kRfcKey, now - 30), now, step), -1);
  // A stored later step refuses the current one too.
  EXPECT_EQ(CheckTotp(kRfcKey, code, now, step + 1), -1);
  // The next step's code is newer and is accepted.
  EXPECT_EQ(CheckTotp(kRfcKey, TotpCode(kRfcKey, now + 30), now, step), step + 1);
}

TEST(TotpTest, CodeMustBeExactlySixAsciiDigits) {
  const int64_t now = 1700000015;
  const std::string code = TotpCode(kRfcKey, now);
  ASSERT_NE(CheckTotp(kRfcKey, code, now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, code.substr(0, 5), now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, code + "0", now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, " " + code.substr(1), now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, code + " ", now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, "", now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, TotpCode(kRfcKey, now, 8), now, -1), -1);
  EXPECT_EQ(CheckTotp(kRfcKey, "12345a", now, -1), -1);
}

TEST(TotpTest, StepsBeforeTheEpochNeverMatch) {
  // At time 10 the window is steps -1, 0, 1; step -1 is skipped rather than wrapped.
  EXPECT_EQ(CheckTotp(kRfcKey, TotpCode(kRfcKey, 10), 10, -1), 0);
  EXPECT_EQ(CheckTotp(kRfcKey, TotpCode(kRfcKey, 40), 10, -1), 1);
  EXPECT_EQ(TotpCode(kRfcKey, -1).size(), 6u);
}

TEST(TotpTest, OtpauthUriEncodesLabelAndIssuer) {
  EXPECT_EQ(OtpauthUri("Ringward", "alice", kRfcKey),
            "otpauth://totp/Ringward:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=Ringward&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(OtpauthUri("ACME Co:EU", "bob@example.com", "foobar"),
            "otpauth://totp/ACME%20Co%3AEU:bob%40example.com?secret=MZXW6YTBOI"
            "&issuer=ACME%20Co%3AEU&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(OtpauthUri("x&y=z", "a/b?c#d~e", "f"),
            "otpauth://totp/x%26y%3Dz:a%2Fb%3Fc%23d~e?secret=MY"
            "&issuer=x%26y%3Dz&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace ringward::issuance
