#include "ringward/base/base64url.h"

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace ringward {
namespace {

TEST(Base64UrlTest, Rfc4648Vectors) {
  // RFC 4648 §10, with the URL-safe alphabet and without padding.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlDecode("Zm9vYmE").value_or("x"), "fooba");
  EXPECT_EQ(Base64UrlDecode("").value_or("x"), "");
}

TEST(Base64UrlTest, UsesUrlSafeAlphabet) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_").value_or(""), bytes);
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());
}

TEST(Base64UrlTest, RoundTripsEveryLengthAndByte) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 200; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) {
      c = static_cast<char>(rng());
    }
    const std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.size(), Base64UrlEncodedSize(len));
    EXPECT_EQ(Base64UrlDecode(encoded).value_or("<failed>"), bytes) << "len " << len;
  }
}

TEST(Base64UrlTest, RejectsPadding) {
  EXPECT_FALSE(Base64UrlDecode("Zg==").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm8=").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zg=").has_value());
}

TEST(Base64UrlTest, RejectsLengthOneModFour) {
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").has_value());
  EXPECT_FALSE(Base64UrlDecodedSize(5).has_value());
}

TEST(Base64UrlTest, RejectsCharactersOutsideTheAlphabet) {
  for (int c = 0; c < 256; ++c) {
    const bool in_alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_';
    std::string s = "Zm9v";
    s[1] = static_cast<char>(c);
    EXPECT_EQ(Base64UrlDecode(s).has_value(), in_alphabet) << "character " << c;
  }
}

TEST(Base64UrlTest, RejectsWhitespace) {
  EXPECT_FALSE(Base64UrlDecode("Zm9v\n").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9v YmFy").has_value());
  EXPECT_FALSE(Base64UrlDecode(" Zm9v").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9v\r\nYmFy").has_value());
}

TEST(Base64UrlTest, RejectsNonCanonicalTrailingBits) {
  // "Zg" is the only spelling of "f"; "Zh".."Zv" set bits that "f" does not have.
  int accepted = 0;
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const char c : alphabet) {
    if (Base64UrlDecode(std::string("Z") + c).has_value()) {
      ++accepted;
    }
    // Two trailing characters: 4 significant bits in the last one, so 16 of 64 are canonical.
  }
  EXPECT_EQ(accepted, 4);  // 2 significant bits: 4 canonical last characters
  int accepted3 = 0;
  for (const char c : alphabet) {
    if (Base64UrlDecode(std::string("Zm") + c).has_value()) {
      ++accepted3;
    }
  }
  EXPECT_EQ(accepted3, 16);  // 4 significant bits: 16 canonical last characters
  EXPECT_TRUE(Base64UrlDecode("Zm8").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());
}

TEST(Base64UrlTest, EachByteStringHasExactlyOneSpelling) {
  // absl's decoder accepts several spellings of one value; ours accepts exactly one.
  std::string lenient;
  ASSERT_TRUE(absl::WebSafeBase64Unescape("Zh==", &lenient));
  EXPECT_EQ(lenient, "f");
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zh==").has_value());
}

TEST(Base64UrlTest, RefusesWhenTheOutputDoesNotFit) {
  uint8_t out[2];
  size_t n = 0;
  EXPECT_FALSE(Base64UrlDecode("Zm9v", out, sizeof(out), &n));
  uint8_t big[3];
  EXPECT_TRUE(Base64UrlDecode("Zm9v", big, sizeof(big), &n));
  EXPECT_EQ(n, 3u);
}

}  // namespace
}  // namespace ringward

namespace ringward {
namespace {

TEST(Base64UrlTest, VectorPathAgreesWithTheTableOnEveryCharacterPosition) {
  // Long inputs go through the AVX2 path; put each invalid character at each position of a
  // 96-character input so every lane of every block is exercised.
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string valid;
  for (int i = 0; i < 96; ++i) {
    valid += alphabet[(i * 7) % 64];
  }
  ASSERT_TRUE(Base64UrlDecode(valid).has_value());
  EXPECT_EQ(Base64UrlEncode(*Base64UrlDecode(valid)), valid);
  for (size_t pos = 0; pos < valid.size(); ++pos) {
    for (int c : std::initializer_list<int>{0, '+', '/', '=', '.', ' ', '@', '[', '`', '{', 0x7f, 0x80, 0xff, ':', ','}) {
      std::string s = valid;
      s[pos] = static_cast<char>(c);
      EXPECT_FALSE(Base64UrlDecode(s).has_value()) << "char " << c << " at " << pos;
    }
  }
}

}  // namespace
}  // namespace ringward
