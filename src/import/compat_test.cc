// The CPython and Ruby/Rack behaviours (python_compat.h, ruby_compat.h) on
// hand-picked inputs whose answers were read off the real interpreters.
// The generated differential cases are in vector_test.cc.
#include <gtest/gtest.h>

#include <cmath>

#include "import/python_compat.h"
#include "import/ruby_compat.h"

namespace sessiond::legacy_detail {
namespace {

std::string Dec(std::string_view s, bool urlsafe = true) {
  return PythonB64Decode(s, urlsafe).value_or("(error)");
}

TEST(PythonCompatTest, Base64IsLenientTheWayBinasciiIs) {
  EXPECT_EQ(Dec("QQ=="), "A");
  EXPECT_EQ(Dec("QR=="), "A");        // unused bits ignored
  EXPECT_EQ(Dec("Q!Q=="), "A");       // outside the alphabet: skipped
  EXPECT_EQ(Dec("QQ==QQ=="), "A");    // stops at the first complete pad
  EXPECT_EQ(Dec("QQ=A="), std::string("A\0", 2));
  EXPECT_EQ(Dec("=QQ=="), "A");       // a pad before two data characters
  EXPECT_EQ(Dec("-_-_"), "\xFB\xFF\xBF");
  EXPECT_EQ(Dec("+/+/"), "\xFB\xFF\xBF");  // urlsafe still takes + and /
  EXPECT_EQ(Dec("-_-_", false), "");  // not in the standard alphabet: skipped
  EXPECT_EQ(Dec("QQ"), "(error)");    // "Incorrect padding"
  EXPECT_EQ(Dec("Q==="), "(error)");  // one data character too many
  EXPECT_EQ(Dec(""), "");
}

TEST(PythonCompatTest, Base64EncodesAsTheBase64Module) {
  EXPECT_EQ(PythonB64Encode("\xFB\xFF", true, true), "-_8");
  EXPECT_EQ(PythonB64Encode("\xFB\xFF", false, false), "+/8=");
  EXPECT_EQ(PythonB64Encode("", true, false), "");
}

TEST(PythonCompatTest, Utf8ReplaceUsesMaximalSubparts) {
  EXPECT_EQ(PythonUtf8Replace("a\xC3\xA9"), "a\xC3\xA9");
  EXPECT_EQ(PythonUtf8Replace("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(PythonUtf8Replace("\xE2\x82" "A"), "\xEF\xBF\xBD" "A");
  EXPECT_EQ(PythonUtf8Replace("\xED\xA0\x80"),  // a surrogate: three errors
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(PythonUtf8Replace("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(PythonCompatTest, ZlibIgnoresTrailingBytesAndRefusesTruncation) {
  std::string z = PythonZlibCompress("{\"a\":1}");
  EXPECT_EQ(*PythonZlibDecompress(z + "junk", 1 << 20), "{\"a\":1}");
  EXPECT_EQ(PythonZlibDecompress(z.substr(0, z.size() - 1), 1 << 20).code(),
            Code::kBadEncoding);
  EXPECT_EQ(PythonZlibDecompress("", 1 << 20).code(), Code::kBadEncoding);
}

TEST(PythonCompatTest, ZlibStopsAtTheOutputBound) {
  std::string bomb = PythonZlibCompress(std::string(4 << 20, 'x'));
  EXPECT_LT(bomb.size(), 8192u);  // fits in a cookie
  EXPECT_EQ(PythonZlibDecompress(bomb, 1 << 20).code(), Code::kTooLarge);
}

TEST(PythonCompatTest, FloatReprMatchesCPython) {
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(1.0), "1.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e-4), "0.0001");
  EXPECT_EQ(PythonFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PythonFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PythonFloatRepr(1700000000.25), "1700000000.25");
  EXPECT_EQ(PythonFloatRepr(std::nan("")), "nan");
  EXPECT_EQ(PythonFloatRepr(-INFINITY), "-inf");
}

TEST(PythonCompatTest, FloatParsesLikeFloat) {
  EXPECT_EQ(PythonFloatFromString(" 1_000.5\t").value_or(-1), 1000.5);
  EXPECT_EQ(PythonFloatFromString("1.").value_or(-1), 1.0);
  EXPECT_EQ(PythonFloatFromString(".5").value_or(-1), 0.5);
  EXPECT_TRUE(std::isinf(PythonFloatFromString("-Infinity").value_or(0)));
  EXPECT_TRUE(std::isnan(PythonFloatFromString("nAn").value_or(0)));
  for (auto bad : {"1__0", "_1", "1_", "e5", "1e", "0x10", "", " ", ".", "infinit"}) {
    EXPECT_FALSE(PythonFloatFromString(bad).has_value()) << bad;
  }
}

TEST(PythonCompatTest, UuidAcceptsWhatUuidUuidAccepts) {
  const std::string canonical = "12345678-1234-5678-1234-567812345678";
  EXPECT_EQ(PythonUuid("12345678123456781234567812345678").value_or(""), canonical);
  EXPECT_EQ(PythonUuid("urn:uuid:{12345678-1234-5678-1234-567812345678}").value_or(""),
            canonical);
  EXPECT_EQ(PythonUuid("0x345678123456781234567812345678").value_or(""),
            "00345678-1234-5678-1234-567812345678");
  EXPECT_EQ(PythonUuid("1_345678123456781234567812345678").value_or(""),
            "01345678-1234-5678-1234-567812345678");
  EXPECT_FALSE(PythonUuid("1__45678123456781234567812345678").has_value());
  EXPECT_FALSE(PythonUuid("1234").has_value());
  EXPECT_FALSE(PythonUuid("g2345678123456781234567812345678").has_value());
}

TEST(PythonCompatTest, ParseDateThenHttpDateAsWerkzeug) {
  auto date = [](std::string_view s) {
    Result<std::optional<std::string>> r = PythonHttpDate(s);
    if (!r.ok()) return std::string("(error)");
    return r->value_or("(None)");
  };
  EXPECT_EQ(date("Sun, 06 Nov 1994 08:49:37 GMT"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(date("Sunday, 06-Nov-94 08:49:37 GMT"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(date("06 Nov 1994 08:49:37 +0100"), "Sun, 06 Nov 1994 07:49:37 GMT");
  EXPECT_EQ(date("6 Nov 1994 08:49 EST"), "Sun, 06 Nov 1994 13:49:00 GMT");
  EXPECT_EQ(date("Sun, 06 Nov 1994 08.49.37 GMT"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(date("06 Nov 69 08:49:37"), "Thu, 06 Nov 1969 08:49:37 GMT");
  EXPECT_EQ(date("06 Nov 68 08:49:37"), "Tue, 06 Nov 2068 08:49:37 GMT");
  EXPECT_EQ(date("Sun, 31 Feb 1994 08:49:37 GMT"), "(None)");
  EXPECT_EQ(date("nonsense"), "(None)");
  EXPECT_EQ(date(""), "(None)");
  EXPECT_EQ(date("06 Nov 1994 08:49:37 +2400"), "(None)");   // timezone()
  EXPECT_EQ(date("06 Nov 1994 08:49:37 +999999999999"), "(None)");  // timezone()
  EXPECT_EQ(date("06 Nov 1994 08:49:37 +9999999999999"), "(error)");  // timedelta
  EXPECT_EQ(date("Mon, 01 Jan 0001 00:00:00 +0100"),  // year 1 < 100: 2001
            "Sun, 31 Dec 2000 23:00:00 GMT");
  EXPECT_EQ(date("Fri, 31 Dec 9999 23:59:59 -0100"), "(error)");  // no UTC form
  EXPECT_EQ(date("Sun, 06 Nov 1994 08:49:37 G\xC3\xA9T"), "(error)");  // non-ASCII
}

TEST(RubyCompatTest, StrictDecode64IsStrict) {
  EXPECT_EQ(RubyStrictDecode64("QQ==").value_or("(error)"), "A");
  EXPECT_EQ(RubyStrictDecode64("QUI=").value_or("(error)"), "AB");
  EXPECT_EQ(RubyStrictDecode64("").value_or("(error)"), "");
  for (auto bad : {"QR==", "QQ", "QQ=", "Q===", "QU JD", "QQ==QQ==", "QUJ=", "-_8="}) {
    EXPECT_FALSE(RubyStrictDecode64(bad).has_value()) << bad;
  }
  EXPECT_EQ(RubyStrictEncode64("\xFB\xFF"), "+/8=");
}

TEST(RubyCompatTest, RackUnescapesOrKeepsTheRawValue) {
  EXPECT_EQ(RackUnescapeCookie("a%2Bb%2fc+d"), "a+b/c d");
  EXPECT_EQ(RackUnescapeCookie("a%2Bb%"), "a%2Bb%");    // malformed: raw
  EXPECT_EQ(RackUnescapeCookie("a%G1%2B"), "a%G1%2B");
  EXPECT_EQ(RackEscape("a+b/c= ~"), "a%2Bb%2Fc%3D+%7E");
}

TEST(RubyCompatTest, SplitDropsTrailingEmptyFields) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(RubySplit("a--b--c----", "--"), (V{"a", "b", "c"}));
  EXPECT_EQ(RubySplit("--a", "--"), (V{"", "a"}));
  EXPECT_EQ(RubySplit("a---b", "--"), (V{"a", "-b"}));
  EXPECT_EQ(RubySplit("a----b", "--"), (V{"a", "", "b"}));
  EXPECT_EQ(RubySplit("", "--"), V{});
  EXPECT_EQ(RubySplit("----", "--"), V{});
}

TEST(RubyCompatTest, Iso8601ReadsWhatTimeIso8601Reads) {
  auto secs = [](std::string_view s) -> int64_t {
    auto t = RubyTimeIso8601(s);
    return t ? t->seconds : -1;
  };
  EXPECT_EQ(secs("2023-11-14T22:13:20.250Z"), 1700000000);
  EXPECT_EQ(secs(" 2023-11-14t22:13:20z "), 1700000000);
  EXPECT_EQ(secs("2023-11-14T23:13:20+01:00"), 1700000000);
  EXPECT_EQ(secs("2023-11-14T20:43:20-0130"), 1700000000);
  EXPECT_EQ(secs("2023-02-31T00:00:00Z"), 1677801600);   // rolls into March
  EXPECT_EQ(secs("2023-01-01T24:00:00Z"), 1672617600);   // next midnight
  EXPECT_EQ(secs("2023-01-01T23:59:60Z"), 1672617600);   // leap second
  EXPECT_EQ(secs("2023-02-31T23:00:00-02:00"), 1677632400);  // apply_offset
  for (auto bad : {"2023-01-01T24:00:01Z", "2023-13-01T00:00:00Z",
                   "2023-01-32T00:00:00Z", "2023-01-01T00:00:00+24:00",
                   "2023-01-01T00:00:00", "2023-01-01", "x", ""}) {
    EXPECT_EQ(secs(bad), -1) << bad;
  }
}

TEST(RubyCompatTest, TimeComparisonIsExact) {
  RubyTime t = *RubyTimeIso8601("2023-11-14T22:13:20.2500001Z");
  EXPECT_TRUE(RubyTimeAfter(t, 1700000000'250000));   // .25 < .2500001
  EXPECT_FALSE(RubyTimeAfter(t, 1700000000'250001));
  RubyTime whole = *RubyTimeIso8601("2023-11-14T22:13:20Z");
  EXPECT_FALSE(RubyTimeAfter(whole, 1700000000'000000));
  EXPECT_TRUE(RubyTimeAfter(whole, 1699999999'999999));
  EXPECT_EQ(RubyIso8601Millis(1700000000'250999), "2023-11-14T22:13:20.250Z");
}

}  // namespace
}  // namespace sessiond::legacy_detail
