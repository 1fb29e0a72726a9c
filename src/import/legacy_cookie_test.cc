// The public API (legacy_cookie.h) on cookies made here: configuration
// checks, render-then-verify in every format with key rotation, what each
// refusal is called, the fingerprint and the user-id conventions. That
// the real frameworks agree is vector_test.cc's job.
#include "import/legacy_cookie.h"

#include <gtest/gtest.h>

#include "import/python_compat.h"
#include "import/ruby_compat.h"

namespace sessiond {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;  // Unix microseconds

JsonValue Data(std::string_view json) {
  Result<JsonValue> v = ParseJson(json, JsonDialect::kPython);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(*v) : JsonValue::Object();
}

LegacyRenderInput Input(std::string_view json, int64_t now = kT0) {
  LegacyRenderInput in;
  in.data = Data(json);
  in.now_micros = now;
  return in;
}

std::unique_ptr<LegacyCookieFormat> Flask(std::vector<std::string> secrets,
                                          int64_t max_age = 3600) {
  FlaskCookieOptions o;
  o.secret_keys = std::move(secrets);
  o.max_age_seconds = max_age;
  return NewFlaskCookieFormat(o).value();
}

std::unique_ptr<LegacyCookieFormat> Pyramid(std::vector<std::string> secrets) {
  PyramidCookieOptions o;
  o.secrets = std::move(secrets);
  return NewPyramidCookieFormat(o).value();
}

std::unique_ptr<LegacyCookieFormat> Django(std::vector<std::string> secrets,
                                           std::string algorithm = "sha256") {
  DjangoCookieOptions o;
  o.secret_keys = std::move(secrets);
  o.default_hashing_algorithm = std::move(algorithm);
  return NewDjangoCookieFormat(o).value();
}

std::unique_ptr<LegacyCookieFormat> Rails(std::vector<std::string> bases,
                                          std::string name = "_app_session",
                                          bool gcm = true) {
  RailsCookieOptions o;
  o.secret_key_bases = std::move(bases);
  o.cookie_name = std::move(name);
  o.use_authenticated_cookie_encryption = gcm;
  return NewRailsCookieFormat(o).value();
}

std::vector<std::unique_ptr<LegacyCookieFormat>> AllFormats(
    std::vector<std::string> secrets) {
  std::vector<std::unique_ptr<LegacyCookieFormat>> out;
  out.push_back(Flask(secrets));
  out.push_back(Pyramid(secrets));
  out.push_back(Django(secrets));
  out.push_back(Rails(secrets));
  out.push_back(Rails(secrets, "_app_session", /*gcm=*/false));
  return out;
}

TEST(LegacyCookieTest, FormatNamesRoundTrip) {
  for (LegacyFormat f : {LegacyFormat::kFlask, LegacyFormat::kPyramid,
                         LegacyFormat::kDjango, LegacyFormat::kRails}) {
    EXPECT_EQ(LegacyFormatFromName(LegacyFormatName(f)), f);
  }
  EXPECT_FALSE(LegacyFormatFromName("php").has_value());
}

TEST(LegacyCookieTest, FactoriesRefuseConfigurationsTheFrameworkWouldNotRun) {
  EXPECT_EQ(NewFlaskCookieFormat({}).code(), Code::kInvalidArgument);
  FlaskCookieOptions f;
  f.secret_keys = {"ok", ""};
  EXPECT_EQ(NewFlaskCookieFormat(f).code(), Code::kInvalidArgument);
  f.secret_keys = {"ok"};
  f.max_age_seconds = -1;
  EXPECT_EQ(NewFlaskCookieFormat(f).code(), Code::kInvalidArgument);
  PyramidCookieOptions p;
  p.secrets = {"s"};
  p.hashalg = "md5";
  EXPECT_EQ(NewPyramidCookieFormat(p).code(), Code::kInvalidArgument);
  DjangoCookieOptions d;
  d.secret_keys = {"s"};
  d.default_hashing_algorithm = "sha512";
  EXPECT_EQ(NewDjangoCookieFormat(d).code(), Code::kInvalidArgument);
  RailsCookieOptions r;
  r.secret_key_bases = {"s"};
  EXPECT_EQ(NewRailsCookieFormat(r).code(), Code::kInvalidArgument);  // no name
}

TEST(LegacyCookieTest, EveryFormatReadsWhatItRendersWithAnyConfiguredSecret) {
  // Keys in sorted order: Flask sorts them (sort_keys), the others keep it.
  const std::string data =
      R"({"f":1.5,"l":[1,{"x":null}],"n":1,"u":"Zo\u00eb","user":"alice"})";
  auto current = AllFormats({"current-secret-0123456789abcdef"});
  auto old = AllFormats({"old-secret-0123456789abcdef"});
  auto rotated =
      AllFormats({"current-secret-0123456789abcdef", "old-secret-0123456789abcdef"});
  for (size_t i = 0; i < current.size(); ++i) {
    SCOPED_TRACE(std::string(LegacyFormatName(current[i]->format())) +
                 (i == 4 ? " (cbc)" : ""));
    Result<std::string> c = current[i]->Render(Input(data));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Result<LegacySession> s = current[i]->Verify(*c, kT0 + 1'000'000);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE(JsonEquivalent(s->data, Data(data)));
    EXPECT_EQ(s->secret_index, 0u);
    Result<std::string> from_old = old[i]->Render(Input(data));
    ASSERT_TRUE(from_old.ok());
    Result<LegacySession> r = rotated[i]->Verify(*from_old, kT0 + 1'000'000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->secret_index, 1u);
    // Signed with another secret: BAD_MAC, and the secret is never shown.
    Result<LegacySession> wrong = old[i]->Verify(*c, kT0 + 1'000'000);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.code(), Code::kBadMac) << wrong.status().ToString();
    EXPECT_EQ(wrong.status().message().find("secret-0123"), std::string::npos);
  }
}

TEST(LegacyCookieTest, RefusesNonObjectDataAndOversizedCookies) {
  for (auto& f : AllFormats({"a-secret"})) {
    SCOPED_TRACE(std::string(LegacyFormatName(f->format())));
    LegacyRenderInput in;
    in.data = JsonValue::Array();
    EXPECT_EQ(f->Render(in).code(), Code::kInvalidArgument);
    EXPECT_EQ(f->Verify(std::string(kMaxLegacyCookieBytes + 1, 'a'), kT0).code(),
              Code::kTooLarge);
    // Too big to fit in a browser's cookie once rendered.
    std::string big = "{\"b\":\"";
    uint32_t x = 2463534242u;  // xorshift: text that does not compress
    for (int i = 0; i < 6000; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      big += static_cast<char>('a' + x % 26);
    }
    big += "\"}";
    EXPECT_EQ(f->Render(Input(big)).code(), Code::kTooLarge);
  }
}

TEST(LegacyCookieTest, EachFormatAppliesItsOwnAgeRule) {
  auto flask = Flask({"s"}, /*max_age=*/60);
  std::string c = *flask->Render(Input(R"({"a":1})"));
  EXPECT_TRUE(flask->Verify(c, kT0 + 60'999'999).ok());
  EXPECT_EQ(flask->Verify(c, kT0 + 61'000'000).code(), Code::kExpired);
  EXPECT_EQ(flask->Verify(c, kT0 - 1).code(), Code::kNotYetValid);
  EXPECT_EQ(*flask->Verify(c, kT0).value().expires_at, kT0 / 1'000'000 + 61);

  auto django = Django({"s"});
  c = *django->Render(Input(R"({"a":1})"));
  EXPECT_TRUE(django->Verify(c, kT0 + 1'209'600'000'000).ok());
  EXPECT_EQ(django->Verify(c, kT0 + 1'209'600'000'001).code(), Code::kExpired);
  EXPECT_TRUE(django->Verify(c, kT0 - 86'400'000'000).ok());  // future: fine

  auto pyramid = Pyramid({"s"});
  c = *pyramid->Render(Input(R"({"a":1})"));
  EXPECT_TRUE(pyramid->Verify(c, kT0 + 1'200'000'000).ok());
  EXPECT_EQ(pyramid->Verify(c, kT0 + 1'200'000'001).code(), Code::kExpired);
  EXPECT_TRUE(pyramid->Verify(c, kT0 - 86'400'000'000).ok());
}

TEST(LegacyCookieTest, RailsExpiresByItsEnvelopeAndChecksThePurpose) {
  auto rails = Rails({"base"});
  LegacyRenderInput in = Input(R"({"a":1})");
  in.expires_at_micros = kT0 + 3'600'000'000;
  std::string c = *rails->Render(in);
  EXPECT_TRUE(rails->Verify(c, kT0 + 3'599'999'999).ok());
  EXPECT_EQ(rails->Verify(c, kT0 + 3'600'000'000).code(), Code::kExpired);
  EXPECT_EQ(*rails->Verify(c, kT0).value().expires_at, kT0 / 1'000'000 + 3600);
  auto other = Rails({"base"}, "_other_session");
  EXPECT_EQ(other->Verify(c, kT0).code(), Code::kWrongPurpose);
  // A cookie without expiry never ends by itself.
  std::string forever = *rails->Render(Input(R"({"a":1})"));
  EXPECT_FALSE(rails->Verify(forever, kT0).value().expires_at.has_value());
}

TEST(LegacyCookieTest, RailsReadsTheValueEscapedOrNot) {
  RailsCookieOptions o;
  o.secret_key_bases = {"base"};
  o.cookie_name = "_app_session";
  auto escaped = NewRailsCookieFormat(o).value();
  o.value_is_escaped = false;
  auto raw = NewRailsCookieFormat(o).value();
  std::string c = *escaped->Render(Input(R"({"a":1})"));
  EXPECT_NE(c.find('%'), std::string::npos);
  std::string unescaped = legacy_detail::RackUnescapeCookie(c);
  EXPECT_TRUE(escaped->Verify(c, kT0).ok());
  EXPECT_TRUE(raw->Verify(unescaped, kT0).ok());
}

TEST(LegacyCookieTest, FingerprintNamesTheCookieNotItsSpelling) {
  const std::string key(32, 'k');
  // Flask: padding added to the signature is accepted by itsdangerous.
  auto flask = Flask({"s"});
  std::string c = *flask->Render(Input(R"({"a":1})"));
  Result<LegacySession> a = flask->Verify(c, kT0);
  Result<LegacySession> b = flask->Verify(c + "=", kT0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(LegacyFingerprint(key, *a), LegacyFingerprint(key, *b));
  EXPECT_EQ(LegacyFingerprint(key, *a).size(), 43u);
  // Another cookie, or another key: another fingerprint.
  std::string c2 = *flask->Render(Input(R"({"a":2})"));
  EXPECT_NE(LegacyFingerprint(key, *a),
            LegacyFingerprint(key, *flask->Verify(c2, kT0)));
  EXPECT_NE(LegacyFingerprint(key, *a), LegacyFingerprint(std::string(32, 'j'), *a));
  // Rails: any %XX spelling of one cookie.
  auto rails = Rails({"base"});
  std::string r = *rails->Render(Input(R"({"a":1})"));
  std::string lower = r;
  for (size_t i = 0; i + 2 < lower.size(); ++i) {
    if (lower[i] == '%') lower[i + 1] = static_cast<char>(std::tolower(lower[i + 1])),
                         lower[i + 2] = static_cast<char>(std::tolower(lower[i + 2]));
  }
  Result<LegacySession> ra = rails->Verify(r, kT0);
  Result<LegacySession> rb = rails->Verify(lower + "--", kT0);
  ASSERT_TRUE(ra.ok() && rb.ok()) << rb.status().ToString();
  EXPECT_EQ(LegacyFingerprint(key, *ra), LegacyFingerprint(key, *rb));
  // Django: the SHA-1 and SHA-256 signatures of one value.
  auto sha1 = Django({"s"}, "sha1");
  auto sha256 = Django({"s"});
  std::string d1 = *sha1->Render(Input(R"({"a":1})"));
  std::string d2 = *sha256->Render(Input(R"({"a":1})"));
  ASSERT_NE(d1, d2);
  Result<LegacySession> da = sha256->Verify(d1, kT0);
  Result<LegacySession> db = sha256->Verify(d2, kT0);
  ASSERT_TRUE(da.ok() && db.ok());
  EXPECT_TRUE(da->legacy);
  EXPECT_FALSE(db->legacy);
  EXPECT_EQ(LegacyFingerprint(key, *da), LegacyFingerprint(key, *db));
}

TEST(LegacyCookieTest, FlaskRefusesAZipBombWithTooLarge) {
  // A payload signed with the key that inflates past the bound.
  auto flask = Flask({"s"});
  std::string json = "{\"a\":\"" + std::string(kMaxLegacyPayloadBytes, 'x') + "\"}";
  std::string cookie = *flask->Render(Input(json));  // compressed: it fits
  ASSERT_LT(cookie.size(), 4096u);
  EXPECT_EQ(flask->Verify(cookie, kT0).code(), Code::kTooLarge);
}

TEST(LegacyCookieTest, FlaskEscapesKeysThatLookLikeTags) {
  auto flask = Flask({"s"});
  const std::string tricky = R"({" t":[1,2],"x":{" b":"QQ=="},"y":{" di":0}})";
  Result<LegacySession> s = flask->Verify(*flask->Render(Input(tricky)), kT0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(JsonEquivalent(s->data, Data(tricky)));
}

TEST(LegacyCookieTest, ErrorsNameEachWayACookieIsRefused) {
  auto flask = Flask({"s"});
  EXPECT_EQ(flask->Verify("", kT0).code(), Code::kTruncated);
  EXPECT_EQ(flask->Verify("abc", kT0).code(), Code::kBadEncoding);
  std::string c = *flask->Render(Input(R"({"a":1})"));
  // 26 of the signature's 27 characters decode to 19 bytes; 25 decode to
  // nothing (one character too many for base64).
  EXPECT_EQ(flask->Verify(c.substr(0, c.size() - 1), kT0).code(), Code::kTruncated);
  EXPECT_EQ(flask->Verify(c.substr(0, c.size() - 2), kT0).code(), Code::kBadEncoding);
  auto django = Django({"s"});
  EXPECT_EQ(django->Verify("short", kT0).code(), Code::kTruncated);
  EXPECT_EQ(django->Verify("no-colon-at-all", kT0).code(), Code::kBadEncoding);
  auto pyramid = Pyramid({"s"});
  EXPECT_EQ(pyramid->Verify("QUJD", kT0).code(), Code::kTruncated);
  EXPECT_EQ(pyramid->Verify("Q", kT0).code(), Code::kBadEncoding);
  auto rails = Rails({"base"});
  EXPECT_EQ(rails->Verify("QUJD", kT0).code(), Code::kTruncated);
  // Two parts is the AES-256-CBC shape, judged by its HMAC.
  EXPECT_EQ(rails->Verify("QUJD--QUJD", kT0).code(), Code::kBadMac);
  EXPECT_EQ(rails->Verify("QUJ--QUJD--QUJD", kT0).code(), Code::kBadEncoding);
}

TEST(LegacyCookieTest, UserIdFollowsEachConvention) {
  EXPECT_EQ(DefaultLegacyUserIdKey(LegacyFormat::kFlask), "_user_id");
  EXPECT_EQ(DefaultLegacyUserIdKey(LegacyFormat::kDjango), "_auth_user_id");
  EXPECT_EQ(DefaultLegacyUserIdKey(LegacyFormat::kRails), "warden.user.user.key");
  EXPECT_EQ(DefaultLegacyUserIdKey(LegacyFormat::kPyramid), "");
  EXPECT_EQ(LegacyUserId(Data(R"({"_user_id":"42"})"), "_user_id"), "42");
  EXPECT_EQ(LegacyUserId(Data(R"({"uid":7})"), "uid"), "7");
  EXPECT_EQ(LegacyUserId(Data(R"({"warden.user.user.key":[[12],"$2a$salt"]})"),
                         "warden.user.user.key"),
            "12");
  EXPECT_EQ(LegacyUserId(Data(R"({"warden.user.user.key":[["u-1"],"s"]})"),
                         "warden.user.user.key"),
            "u-1");
  EXPECT_FALSE(LegacyUserId(Data(R"({"_user_id":""})"), "_user_id").has_value());
  EXPECT_FALSE(LegacyUserId(Data(R"({"_user_id":1.5})"), "_user_id").has_value());
  EXPECT_FALSE(LegacyUserId(Data(R"({"a":"1"})"), "_user_id").has_value());
  EXPECT_FALSE(LegacyUserId(Data(R"({"a":"1"})"), "").has_value());
}

}  // namespace
}  // namespace sessiond
