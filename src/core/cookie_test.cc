// Cookie tests: Set-Cookie rendering (defaults, __Host- rules, the 4096-byte
// line limit exactly at and one over) and the strict Cookie header parser.
#include "sessiond/cookie.h"

#include <gtest/gtest.h>

#include <string>

namespace sessiond {
namespace {

TEST(SetCookieTest, SecureDefaults) {
  Result<std::string> line = RenderSetCookie(CookieOptions(), "abc-_0", 3600);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(*line,
            "Set-Cookie: sessiond=abc-_0; Path=/; Max-Age=3600; Secure; "
            "HttpOnly; SameSite=Lax");
}

TEST(SetCookieTest, OptionsAppear) {
  CookieOptions options;
  options.name = "sid";
  options.domain = "example.com";
  options.path = "/app";
  options.same_site = "Strict";
  options.http_only = false;
  Result<std::string> line = RenderSetCookie(options, "v", 0);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(*line,
            "Set-Cookie: sid=v; Path=/app; Domain=example.com; Max-Age=0; "
            "Secure; SameSite=Strict");

  options.secure = false;
  options.same_site = "Lax";
  line = RenderSetCookie(options, "v", 5);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->find("Secure"), std::string::npos);

  options.same_site = "None";  // needs Secure
  EXPECT_EQ(RenderSetCookie(options, "v", 5).code(), Code::kInvalidArgument);
  options.secure = true;
  EXPECT_TRUE(RenderSetCookie(options, "v", 5).ok());
}

TEST(SetCookieTest, HostPrefix) {
  CookieOptions options;
  options.host_prefix = true;
  EXPECT_EQ(CookieName(options), "__Host-sessiond");
  Result<std::string> line = RenderSetCookie(options, "tok", 60);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(*line,
            "Set-Cookie: __Host-sessiond=tok; Path=/; Max-Age=60; Secure; "
            "HttpOnly; SameSite=Lax");

  CookieOptions with_domain = options;
  with_domain.domain = "example.com";
  Status st = ValidateCookieOptions(with_domain);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("domain"), std::string::npos);

  CookieOptions with_path = options;
  with_path.path = "/app";
  st = ValidateCookieOptions(with_path);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("path"), std::string::npos);

  CookieOptions insecure = options;
  insecure.secure = false;
  st = ValidateCookieOptions(insecure);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("secure"), std::string::npos);
  EXPECT_EQ(RenderSetCookie(insecure, "tok", 60).code(),
            Code::kInvalidArgument);

  // Writing the prefix by hand bypasses these checks, so it is refused.
  CookieOptions hand_written;
  hand_written.name = "__Host-sid";
  EXPECT_EQ(ValidateCookieOptions(hand_written).code(), Code::kInvalidArgument);
  hand_written.name = "__Secure-sid";
  EXPECT_EQ(ValidateCookieOptions(hand_written).code(), Code::kInvalidArgument);
}

TEST(SetCookieTest, LineLimitExactlyAtAndOneOver) {
  for (bool host_prefix : {false, true}) {
    CookieOptions options;
    options.host_prefix = host_prefix;
    const int64_t max_age = 1209600;
    const size_t overhead = RenderSetCookie(options, "", max_age)->size();
    const std::string at(kMaxSetCookieBytes - overhead, 'a');
    Result<std::string> fits = RenderSetCookie(options, at, max_age);
    ASSERT_TRUE(fits.ok()) << fits.status().ToString();
    EXPECT_EQ(fits->size(), kMaxSetCookieBytes);
    EXPECT_EQ(fits->size(), 4096u);

    Result<std::string> over = RenderSetCookie(options, at + "a", max_age);
    EXPECT_EQ(over.code(), Code::kTooLarge);
    // The attributes count too: a longer Max-Age pushes the same value over.
    EXPECT_EQ(RenderSetCookie(options, at, max_age * 10).code(),
              Code::kTooLarge);
  }
}

TEST(SetCookieTest, RejectsBadValuesAndOptions) {
  for (const char* value :
       {"a b", "a;b", "a,b", "a\"b", "a\\b", "a\x7f", "\xc3\xa9", "a\tb"}) {
    EXPECT_EQ(RenderSetCookie(CookieOptions(), value, 1).code(),
              Code::kInvalidArgument)
        << value;
  }
  EXPECT_EQ(RenderSetCookie(CookieOptions(), "v", -1).code(),
            Code::kInvalidArgument);

  for (const char* name : {"", "a b", "a=b", "a;b", "a(b)", "sess\xc3\xa9"}) {
    CookieOptions options;
    options.name = name;
    EXPECT_EQ(ValidateCookieOptions(options).code(), Code::kInvalidArgument)
        << name;
  }
  for (const char* same_site : {"", "lax", "Sometimes"}) {
    CookieOptions options;
    options.same_site = same_site;
    EXPECT_EQ(ValidateCookieOptions(options).code(), Code::kInvalidArgument)
        << same_site;
  }
  for (const char* path : {"", "app", "/a;b", "/a\nb"}) {
    CookieOptions options;
    options.path = path;
    EXPECT_EQ(ValidateCookieOptions(options).code(), Code::kInvalidArgument)
        << path;
  }
  for (const char* domain :
       {"exa mple.com", "example..com", "-x.com", "x-.com", "a;b", "."}) {
    CookieOptions options;
    options.domain = domain;
    EXPECT_EQ(ValidateCookieOptions(options).code(), Code::kInvalidArgument)
        << domain;
  }
  CookieOptions leading_dot;
  leading_dot.domain = ".example.com";
  EXPECT_TRUE(ValidateCookieOptions(leading_dot).ok());
}

TEST(SetCookieTest, ClearCookie) {
  Result<std::string> line = RenderClearCookie(CookieOptions());
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "Set-Cookie: sessiond=; Path=/; Max-Age=0; Secure; HttpOnly; "
            "SameSite=Lax");
  CookieOptions host;
  host.host_prefix = true;
  Result<std::string> host_line = RenderClearCookie(host);
  ASSERT_TRUE(host_line.ok());
  EXPECT_EQ(host_line->rfind("Set-Cookie: __Host-sessiond=; ", 0), 0u);
}

std::optional<std::string> Find(std::string_view header,
                                std::string_view name = "sessiond") {
  Result<std::optional<std::string>> found = FindCookie(header, name);
  EXPECT_TRUE(found.ok()) << header << ": " << found.status().ToString();
  return found.ok() ? *found : std::nullopt;
}

TEST(FindCookieTest, FindsOursAmongOthers) {
  EXPECT_EQ(Find("sessiond=tok"), "tok");
  EXPECT_EQ(Find("a=1; sessiond=tok; b=2"), "tok");
  EXPECT_EQ(Find("a=1; b=2; sessiond=tok"), "tok");
  EXPECT_EQ(Find("sessiond=tok; a=1"), "tok");
  EXPECT_EQ(Find("_ga=GA1.2.3; csrftoken=x-y_z; sessiond=AbC-_9; theme=dark"),
            "AbC-_9");
  EXPECT_EQ(Find("__Host-sessiond=h; sessiond=p", "__Host-sessiond"), "h");
  // Names match exactly: no prefix, suffix or case games.
  EXPECT_EQ(Find("xsessiond=1; sessiond_x=2; SESSIOND=3"), std::nullopt);
  EXPECT_EQ(Find("a=1; b=2"), std::nullopt);
  EXPECT_EQ(Find(""), std::nullopt);
  EXPECT_EQ(Find(" \t "), std::nullopt);
}

TEST(FindCookieTest, ValuesAndWhitespace) {
  EXPECT_EQ(Find("sessiond=\"tok\""), "tok");  // quotes are not the value
  EXPECT_EQ(Find("a=\"x\"; sessiond=\"\""), "");
  EXPECT_EQ(Find("sessiond="), "");
  EXPECT_EQ(Find("a=; sessiond=v"), "v");
  EXPECT_EQ(Find("  sessiond=v\t"), "v");     // OWS around the whole string
  EXPECT_EQ(Find("a=b=c; sessiond=v"), "v");  // '=' is a cookie-octet
  EXPECT_EQ(Find("sessiond=v; sessiond=v"), "v");
  EXPECT_EQ(Find("sessiond=v; sessiond=\"v\""), "v");
}

TEST(FindCookieTest, RejectsMalformedHeaders) {
  const char* bad[] = {
      "a=1;b=2",        // separator must be "; "
      "a=1;  b=2",      // exactly one space
      "a=1 ; b=2",      // no space before ';'
      "a=1;",           // dangling separator
      "a=1; ",          // dangling separator (OWS trimmed)
      "a",              // no '='
      "=1",             // no name
      "a b=1",          // space in name
      "a=1 2",          // space in value
      "a=1,b=2",        // comma is not a cookie-octet
      "a=x\"y",         // DQUOTE inside a value
      "a=\"1",          // unterminated quote
      "a=\"1\"x",       // junk after a quoted value
      "a=\\x",          // backslash
      "a=\x01",         // control character
      "a=\xc3\xa9",     // 8-bit byte
      "a=1\r\nb=2",     // header injection attempt
      "sessiond=v; a",  // malformed after ours
      "(sessiond)=v",   // separator chars in name
  };
  for (const char* header : bad) {
    Result<std::optional<std::string>> found = FindCookie(header, "sessiond");
    EXPECT_EQ(found.code(), Code::kInvalidArgument) << header;
  }
  EXPECT_EQ(FindCookie(std::string_view("a=1\0; b=2", 9), "a").code(),
            Code::kInvalidArgument);
}

TEST(FindCookieTest, ConflictingDuplicatesAreAnError) {
  Result<std::optional<std::string>> found =
      FindCookie("sessiond=one; other=x; sessiond=two", "sessiond");
  EXPECT_EQ(found.code(), Code::kInvalidArgument);
  // The message names the cookie but quotes no values.
  EXPECT_NE(found.status().message().find("sessiond"), std::string::npos);
  EXPECT_EQ(found.status().message().find("one"), std::string::npos);
  // Duplicates of someone else's cookie are not our business.
  EXPECT_EQ(Find("a=1; a=2; sessiond=v"), "v");
}

TEST(FindCookieTest, RejectsBadName) {
  EXPECT_EQ(FindCookie("a=1", "").code(), Code::kInvalidArgument);
  EXPECT_EQ(FindCookie("a=1", "a b").code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace sessiond
