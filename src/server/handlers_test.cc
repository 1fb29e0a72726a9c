// Handler tests, in-process: a memory store and a ManualClock on a private
// ev loop, requests built as decoded frames and pushed through Dispatch, in
// all three storage modes. No sockets: the wire side is protocol_test.cc's.
#include "server/handlers.h"

#include <ev.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/dispatch.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "store/store.h"

namespace sessiond {
namespace {

using json = nlohmann::json;

struct Reply {
  std::string status;
  std::vector<std::string> frames;  // after the status
  bool ok() const { return status == "OK"; }
  // Session reply accessors.
  const std::string& cookie() const { return frames.at(0); }
  const std::string& set_cookie() const { return frames.at(1); }
  json session() const { return json::parse(frames.at(2)); }
};

class HandlersTest : public testing::TestWithParam<StorageMode> {
 protected:
  HandlersTest() : loop_(ev_loop_new(EVFLAG_AUTO)) {
    StoreOptions options;
    options.clock = &clock_;
    options.max_data_bytes = 16384;
    auto store = NewMemoryStore(loop_, options);
    EXPECT_TRUE(store.ok());
    store_ = std::move(*store);
    auto keyring = Keyring::FromSpecs({KeySpec{1, RandomString(32), 0, 0}});
    EXPECT_TRUE(keyring.ok());
    keyring_ = std::make_shared<const Keyring>(std::move(*keyring));
    codec_ = std::make_unique<TokenCodec>(keyring_, &clock_);
    mode_ = MakeMode(GetParam());
    env_.mode = mode_.get();
    env_.store = store_.get();
    env_.clock = &clock_;
    env_.counters = &counters_;
    env_.lifetime_s = 14 * 86400;
    env_.idle_timeout_s = 86400;
    env_.max_data_bytes = 16384;
    env_.started_at = clock_.NowSeconds();
  }
  ~HandlersTest() override {
    mode_.reset();
    codec_.reset();
    store_.reset();
    ev_loop_destroy(loop_);
  }

  Reply Run(std::string verb, std::vector<std::string> args,
            SocketKind socket = SocketKind::kApp) {
    Request req;
    req.envelope = {"peer"};
    req.request_id = "rid";
    req.verb = std::move(verb);
    req.args = std::move(args);
    Frames out;
    bool done = false;
    auto call = std::make_shared<Call>(
        std::move(req), socket,
        [&](Frames f) {
          out = std::move(f);
          done = true;
        },
        &counters_);
    Dispatch(env_, call);
    call.reset();
    for (int i = 0; i < 1000 && !done; ++i) ev_run(loop_, EVRUN_NOWAIT);
    EXPECT_TRUE(done);
    Reply r;
    if (out.size() < 5) return r;
    EXPECT_EQ(out[0], "peer");
    EXPECT_EQ(out[1], "");
    EXPECT_EQ(out[2], "SD1");
    EXPECT_EQ(out[3], "rid");
    r.status = out[4];
    r.frames.assign(out.begin() + 5, out.end());
    return r;
  }

  Reply Create(std::string meta = "") {
    Reply r = Run("CREATE", meta.empty() ? std::vector<std::string>{}
                                         : std::vector<std::string>{meta});
    EXPECT_TRUE(r.ok()) << r.status << " " << r.frames.at(0);
    return r;
  }
  Reply Login(const std::string& cookie, const std::string& user) {
    Reply r = Run("LOGIN", {cookie, user});
    EXPECT_TRUE(r.ok()) << r.status;
    return r;
  }
  Reply Commit(const std::string& cookie, const json& changes) {
    return Run("COMMIT", {cookie, changes.dump()});
  }

  // The storage mode `mode` over this test's store, codec and clock.
  std::unique_ptr<SessionMode> MakeMode(StorageMode mode) {
    ModeEnv m;
    m.store = store_.get();
    m.codec = codec_.get();
    m.clock = &clock_;
    m.cookie = &env_.cookie;
    m.max_data_bytes = 16384;
    return NewSessionMode(mode, std::move(m));
  }

  bool server_mode() const { return GetParam() == StorageMode::kServer; }
  bool client_mode() const { return GetParam() == StorageMode::kClient; }

  struct ev_loop* loop_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const Keyring> keyring_;
  std::unique_ptr<TokenCodec> codec_;
  std::unique_ptr<SessionMode> mode_;
  ServerCounters counters_;
  HandlerEnv env_;
};

TEST_P(HandlersTest, PingAndVersion) {
  EXPECT_EQ(Run("PING", {}).frames, std::vector<std::string>{"PONG"});
  Reply v = Run("VERSION", {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.frames.at(0).rfind("sessiond ", 0), 0u);
}

TEST_P(HandlersTest, HelloTellsTheCookieNameAndAttributes) {
  env_.cookie.name = "app";
  env_.cookie.host_prefix = true;
  env_.cookie.same_site = "Strict";
  Reply hello = Run("HELLO", {});
  ASSERT_TRUE(hello.ok()) << hello.status;
  json j = json::parse(hello.frames.at(0));
  EXPECT_EQ(j["protocol"], "SD1");
  EXPECT_EQ(j["mode"], StorageModeName(GetParam()));
  EXPECT_EQ(j["server"].get<std::string>().rfind("sessiond ", 0), 0u);
  EXPECT_EQ(j["cookie"]["name"], "__Host-app");
  EXPECT_EQ(j["cookie"]["secure"], true);
  EXPECT_EQ(j["cookie"]["path"], "/");
  EXPECT_EQ(j["cookie"]["domain"], "");
  EXPECT_EQ(j["cookie"]["same_site"], "Strict");
  EXPECT_EQ(j["cookie"]["http_only"], true);
  EXPECT_EQ(j["cookie"]["max_age"], 14 * 86400);
  EXPECT_EQ(j["lifetime"], 14 * 86400);
  EXPECT_EQ(j["idle_timeout"], 86400);
  EXPECT_EQ(j["max_data_bytes"], 16384);
  // The cookie a session reply sets carries the name HELLO gave.
  EXPECT_EQ(Create().set_cookie().rfind("__Host-app=", 0), 0u);
  EXPECT_EQ(Run("HELLO", {"extra"}).status, "INVALID_ARGUMENT");
}

TEST_P(HandlersTest, CsrfRotateGivesANewTokenAndKeepsTheData) {
  Reply created = Create();
  Reply saved = Commit(created.cookie(),
                       {{"base_version", 1}, {"set", {{"cart", "[1]"}}}});
  ASSERT_TRUE(saved.ok()) << saved.status;
  const std::string old_token = saved.session()["csrf_token"];
  Reply rotated = Run("CSRF_ROTATE", {saved.cookie()});
  ASSERT_TRUE(rotated.ok()) << rotated.status;
  const std::string new_token = rotated.session()["csrf_token"];
  EXPECT_NE(new_token, old_token);
  EXPECT_EQ(new_token.size(), kCsrfTokenChars);
  EXPECT_EQ(rotated.session()["data"]["cart"], "[1]");
  // In server mode the cookie stays; in client and hybrid mode it is new.
  EXPECT_EQ(rotated.cookie() == saved.cookie(), server_mode());
  EXPECT_EQ(rotated.set_cookie().empty(), server_mode());
  const std::string& cookie = rotated.cookie();
  EXPECT_TRUE(Run("CSRF_CHECK", {cookie, new_token}).ok());
  EXPECT_EQ(Run("CSRF_CHECK", {cookie, old_token}).status, "CSRF_MISMATCH");
  // A commit may rotate it too, in the same atomic step as its changes.
  Reply both = Commit(cookie, {{"base_version", rotated.session()["version"]},
                               {"set", {{"k", "v"}}},
                               {"rotate_csrf", true}});
  ASSERT_TRUE(both.ok()) << both.status;
  EXPECT_NE(both.session()["csrf_token"], new_token);
  EXPECT_EQ(both.session()["data"]["k"], "v");
  EXPECT_EQ(
      Commit(cookie, {{"base_version", 1}, {"rotate_csrf", "yes"}}).status,
      "INVALID_ARGUMENT");
  EXPECT_EQ(Run("CSRF_ROTATE", {"garbage"}).status, "BAD_ENCODING");
  EXPECT_EQ(Run("CSRF_ROTATE", {""}).status, "NOT_FOUND");
}

TEST_P(HandlersTest, RegenerateMovesTheSessionAndKeepsUserAndData) {
  // Anonymous: a new id and token, the data kept, no user made up.
  Reply created = Create(R"({"user_agent":"UA/1"})");
  Reply saved = Commit(created.cookie(), {{"base_version", 1},
                                          {"set", {{"cart", "[1]"}}},
                                          {"flash", {{{"message", "hi"}}}}});
  ASSERT_TRUE(saved.ok()) << saved.status;
  Reply moved = Run("REGENERATE", {saved.cookie()});
  ASSERT_TRUE(moved.ok()) << moved.status;
  json s = moved.session();
  EXPECT_NE(moved.cookie(), saved.cookie());
  EXPECT_FALSE(moved.set_cookie().empty());
  EXPECT_EQ(s["user_id"], "");
  EXPECT_EQ(s["authenticated_at"], 0);
  EXPECT_EQ(s["data"]["cart"], "[1]");
  EXPECT_EQ(s["flash"].size(), 1u);
  EXPECT_NE(s["csrf_token"], saved.session()["csrf_token"]);
  EXPECT_EQ(s["user_agent"], "UA/1");
  if (!client_mode()) {
    EXPECT_NE(s["id"], saved.session()["id"]);
    // The old cookie no longer works: a fixated id is dead.
    EXPECT_EQ(Run("LOAD", {saved.cookie()}).status, "REVOKED");
  }

  // Logged in: the user and the time of sign-in stay.
  Reply in = Login(moved.cookie(), "alice");
  const int64_t signed_in = in.session()["authenticated_at"];
  EXPECT_EQ(signed_in, clock_.NowSeconds());
  clock_.AdvanceSeconds(30);
  Reply again = Run("REGENERATE", {in.cookie(), R"({"ip":"198.51.100.7"})"});
  ASSERT_TRUE(again.ok()) << again.status;
  EXPECT_EQ(again.session()["user_id"], "alice");
  EXPECT_EQ(again.session()["authenticated_at"], signed_in);
  EXPECT_EQ(again.session()["ip"], "198.51.100.7");
  EXPECT_EQ(again.session()["data"]["cart"], "[1]");
  Reply loaded = Run("LOAD", {again.cookie()});
  ASSERT_TRUE(loaded.ok()) << loaded.status;
  EXPECT_EQ(loaded.session()["user_id"], "alice");

  // A cookie that is no live session is an error, never a new session.
  EXPECT_EQ(Run("REGENERATE", {""}).status, "NOT_FOUND");
  EXPECT_EQ(Run("REGENERATE", {"garbage"}).status, "BAD_ENCODING");
  EXPECT_EQ(Run("REGENERATE", {again.cookie(), "[1]"}).status,
            "INVALID_ARGUMENT");
}

TEST_P(HandlersTest, SignInTimeIsTheLoginsAndSurvivesBumpEpoch) {
  Reply created = Create();
  EXPECT_EQ(created.session()["authenticated_at"], 0);
  clock_.AdvanceSeconds(100);  // the login page was open a while
  Reply in = Login(created.cookie(), "alice");
  const int64_t signed_in = clock_.NowSeconds();
  EXPECT_EQ(in.session()["authenticated_at"], signed_in);
  EXPECT_EQ(in.session()["created_at"], signed_in - 100);
  clock_.AdvanceSeconds(50);
  Reply bumped = Run("BUMP_EPOCH", {in.cookie()});
  ASSERT_TRUE(bumped.ok()) << bumped.status;
  EXPECT_EQ(bumped.session()["authenticated_at"], signed_in);
  Reply loaded = Run("LOAD", {bumped.cookie()});
  ASSERT_TRUE(loaded.ok()) << loaded.status;
  EXPECT_EQ(loaded.session()["authenticated_at"], signed_in);
  // Signing in again restamps it.
  Reply relogin = Login(bumped.cookie(), "alice");
  EXPECT_EQ(relogin.session()["authenticated_at"], clock_.NowSeconds());
  // So does a LOGIN that starts a new session (no cookie, or a dead one).
  clock_.AdvanceSeconds(5);
  for (const std::string& cookie : {std::string(), std::string("garbage")}) {
    Reply fresh = Run("LOGIN", {cookie, "bob"});
    ASSERT_TRUE(fresh.ok()) << fresh.status;
    EXPECT_TRUE(fresh.session()["new"].get<bool>());
    EXPECT_EQ(fresh.session()["authenticated_at"], clock_.NowSeconds());
  }
}

TEST_P(HandlersTest, CreateAndLoad) {
  Reply created = Create(R"({"ip":"203.0.113.9","user_agent":"UA/1"})");
  json s = created.session();
  EXPECT_TRUE(s["new"].get<bool>());
  EXPECT_EQ(s["user_id"], "");
  EXPECT_EQ(s["ip"], "203.0.113.9");
  EXPECT_EQ(s["user_agent"], "UA/1");
  EXPECT_EQ(s["version"], 1);
  EXPECT_EQ(s["csrf_token"].get<std::string>().size(), kCsrfTokenChars);
  EXPECT_EQ(s["id"].get<std::string>().empty(), client_mode());
  EXPECT_EQ(s["expires_at"], clock_.NowSeconds() + 14 * 86400);
  EXPECT_EQ(created.set_cookie().rfind("sessiond=" + created.cookie() + ";", 0),
            0u)
      << created.set_cookie();
  EXPECT_NE(created.set_cookie().find("HttpOnly"), std::string::npos);

  Reply loaded = Run("LOAD", {created.cookie()});
  ASSERT_TRUE(loaded.ok()) << loaded.status << loaded.frames[0];
  EXPECT_EQ(loaded.cookie(), created.cookie());
  EXPECT_EQ(loaded.set_cookie(), "");
  EXPECT_FALSE(loaded.session()["new"].get<bool>());
  EXPECT_EQ(loaded.session()["csrf_token"], s["csrf_token"]);
  EXPECT_EQ(loaded.session()["id"], s["id"]);
}

TEST_P(HandlersTest, LoadRefreshesLastSeenCoarsely) {
  Reply created = Create();
  clock_.AdvanceSeconds(120);
  Reply loaded = Run("LOAD", {created.cookie()});
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.session()["last_seen_at"], clock_.NowSeconds());
  if (client_mode()) {
    // The cookie carries last_seen_at: a refresh is a new cookie. (In
    // hybrid mode the stored stub's last_seen_at governs idle expiry, so
    // the cookie stays.)
    EXPECT_NE(loaded.cookie(), created.cookie());
    EXPECT_FALSE(loaded.set_cookie().empty());
  }
}

TEST_P(HandlersTest, CommitAndConflict) {
  Reply created = Create();
  Reply c1 = Commit(created.cookie(),
                    {{"base_version", 1}, {"set", {{"theme", "dark"}}}});
  ASSERT_TRUE(c1.ok()) << c1.status << c1.frames[0];
  EXPECT_EQ(c1.session()["data"]["theme"], "dark");
  EXPECT_EQ(c1.session()["version"], 2);
  EXPECT_EQ(c1.cookie() != created.cookie(), !server_mode());
  EXPECT_EQ(c1.set_cookie().empty(), server_mode());

  const std::string& cookie = c1.cookie();
  Reply loaded = Run("LOAD", {cookie});
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.session()["data"]["theme"], "dark");

  // Same key changed since base_version 1: conflict (in client and hybrid
  // mode the cookie's own history says so).
  Reply conflict =
      Commit(cookie, {{"base_version", 1}, {"set", {{"theme", "light"}}}});
  EXPECT_EQ(conflict.status, "CONFLICT");
  // A different key from the same base lands.
  Reply other = Commit(cookie, {{"base_version", 1},
                                {"set", {{"cart", "[1]"}}},
                                {"erase", {"theme"}},
                                {"flash", {{{"message", "Saved."}}}}});
  ASSERT_EQ(other.status, "CONFLICT");  // erase touches theme
  Reply fine = Commit(cookie, {{"base_version", 1},
                               {"set", {{"cart", "[1]"}}},
                               {"flash", {{{"message", "Saved."}}}}});
  ASSERT_TRUE(fine.ok()) << fine.status << fine.frames[0];
  EXPECT_EQ(fine.session()["data"]["cart"], "[1]");
  EXPECT_EQ(fine.session()["flash"][0]["message"], "Saved.");
}

TEST_P(HandlersTest, BadChangeSets) {
  Reply created = Create();
  const std::string& cookie = created.cookie();
  for (std::string bad :
       {"", "{", "[]", "null", "{\"set\":{}}", "{\"base_version\":-1}",
        "{\"base_version\":\"1\"}", "{\"base_version\":1.5}",
        "{\"base_version\":1,\"set\":{\"k\":1}}",
        "{\"base_version\":1,\"set\":{\"bad key\":\"v\"}}",
        "{\"base_version\":1,\"erase\":\"k\"}",
        "{\"base_version\":1,\"flash\":[\"x\"]}", "\xff\xfe",
        "{\"base_version\":1,\"set\":{\"k\":\"\xc3\x28\"}}"}) {
    Reply r = Run("COMMIT", {cookie, bad});
    EXPECT_EQ(r.status, "INVALID_ARGUMENT") << bad;
  }
  // Unknown members are ignored (newer clients, older servers).
  Reply ok = Commit(cookie, {{"base_version", 1}, {"future", true}});
  EXPECT_TRUE(ok.ok()) << ok.status;
  EXPECT_EQ(Run("CREATE", {"[1]"}).status, "INVALID_ARGUMENT");
  EXPECT_EQ(Run("CREATE", {"{\"ip\":5}"}).status, "INVALID_ARGUMENT");
}

// Issue 12 item 11: metadata is checked before it is stored. An ip that
// is not an address is refused; a user agent loses its control characters.
TEST_P(HandlersTest, MetadataIsValidatedBeforeItIsStored) {
  for (const char* bad :
       {R"({"ip":"not an ip"})", R"({"ip":"1.2.3.4\n<script>"})",
        R"({"ip":"1.2.3.4\u0000x"})", R"({"ip":"[::1]"})",
        R"({"ip":"example.com"})", R"({"ip":"1.2.3.4:80"})",
        R"({"ip":"256.1.1.1"})"}) {
    EXPECT_EQ(Run("CREATE", {bad}).status, "INVALID_ARGUMENT") << bad;
  }
  for (const char* ip : {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", ""}) {
    Reply r = Create(std::string(R"({"ip":")") + ip + "\"}");
    ASSERT_TRUE(r.ok()) << ip << ": " << r.status;
    EXPECT_EQ(r.session()["ip"], ip);
  }
  Reply r = Create(
      R"({"user_agent":"UA/1\r\nX-Evil: 1\u001b[31m\tred\u007f\u0085end"})");
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.session()["user_agent"], "UA/1X-Evil: 1[31m redend");
}

TEST_P(HandlersTest, OversizedValues) {
  Reply created = Create();
  // Over max_data_bytes: refused in every mode.
  Reply big = Commit(
      created.cookie(),
      {{"base_version", 1}, {"set", {{"blob", std::string(17000, 'x')}}}});
  EXPECT_EQ(big.status, "TOO_LARGE");
  // Under the data cap but over a 4096-byte Set-Cookie line: refused in
  // client and hybrid mode, and nothing changed.
  Reply mid = Commit(
      created.cookie(),
      {{"base_version", 1}, {"set", {{"blob", std::string(5000, 'x')}}}});
  if (server_mode()) {
    EXPECT_TRUE(mid.ok()) << mid.status;
  } else {
    EXPECT_EQ(mid.status, "TOO_LARGE");
    Reply loaded = Run("LOAD", {created.cookie()});
    ASSERT_TRUE(loaded.ok());
    EXPECT_TRUE(loaded.session()["data"].empty());
  }
}

TEST_P(HandlersTest, TamperedAndExpiredCookies) {
  Reply created = Create();
  std::string cookie = created.cookie();
  std::string tampered = cookie;
  tampered[tampered.size() / 2] =
      tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Run("LOAD", {tampered}).status, "BAD_MAC");
  EXPECT_EQ(Run("LOAD", {"not base64!"}).status, "BAD_ENCODING");
  EXPECT_EQ(Run("LOAD", {""}).status, "NOT_FOUND");
  EXPECT_EQ(Run("COMMIT", {tampered, R"({"base_version":1})"}).status,
            "BAD_MAC");
  EXPECT_EQ(Run("LOGOUT", {tampered}).status, "BAD_MAC");

  // Idle expiry: a day without a request.
  clock_.AdvanceSeconds(86400 + 1);
  EXPECT_EQ(Run("LOAD", {cookie}).status, "EXPIRED");

  // Absolute expiry, kept alive by requests every half day.
  Reply fresh = Create();
  std::string c = fresh.cookie();
  for (int i = 0; i < 27; ++i) {
    clock_.AdvanceSeconds(43200);
    Reply r = Run("LOAD", {c});
    ASSERT_TRUE(r.ok()) << i << " " << r.status;
    c = r.cookie();
  }
  clock_.AdvanceSeconds(43200);
  EXPECT_EQ(Run("LOAD", {c}).status, "EXPIRED");
}

TEST_P(HandlersTest, CookieOfAnotherModeIsRefused) {
  Reply created = Create();
  mode_ = MakeMode(server_mode() ? StorageMode::kClient : StorageMode::kServer);
  env_.mode = mode_.get();
  EXPECT_EQ(Run("LOAD", {created.cookie()}).status, "UNKNOWN_VERSION");
}

TEST_P(HandlersTest, LoginRegeneratesAndKeepsData) {
  Reply created = Create();
  Reply committed = Commit(created.cookie(),
                           {{"base_version", 1}, {"set", {{"cart", "[1]"}}}});
  ASSERT_TRUE(committed.ok());
  std::string csrf = committed.session()["csrf_token"];
  Reply in = Login(committed.cookie(), "alice");
  json s = in.session();
  EXPECT_EQ(s["user_id"], "alice");
  EXPECT_NE(s["csrf_token"], csrf);
  EXPECT_EQ(s["data"]["cart"], "[1]");
  EXPECT_FALSE(s["new"].get<bool>());
  EXPECT_NE(in.cookie(), committed.cookie());
  EXPECT_FALSE(in.set_cookie().empty());
  if (!client_mode()) {
    EXPECT_NE(s["id"], committed.session()["id"]);
    // The old cookie stops working (fixation defence).
    EXPECT_EQ(Run("LOAD", {committed.cookie()}).status, "REVOKED");
  }
  Reply loaded = Run("LOAD", {in.cookie()});
  ASSERT_TRUE(loaded.ok()) << loaded.status;
  EXPECT_EQ(loaded.session()["user_id"], "alice");

  // No cookie, or a bad one: a fresh logged-in session.
  Reply fresh = Login("", "bob");
  EXPECT_TRUE(fresh.session()["new"].get<bool>());
  EXPECT_EQ(fresh.session()["user_id"], "bob");
  Reply garbage = Login("garbage", "bob");
  EXPECT_TRUE(garbage.session()["new"].get<bool>());

  EXPECT_EQ(Run("LOGIN", {"", "bad user"}).status, "INVALID_ARGUMENT");
  EXPECT_EQ(Run("LOGIN", {"", ""}).status, "INVALID_ARGUMENT");
  EXPECT_EQ(Run("LOGIN", {"", "a{b"}).status, "INVALID_ARGUMENT");
}

TEST_P(HandlersTest, Logout) {
  Reply in = Login(Create().cookie(), "alice");
  Reply out = Run("LOGOUT", {in.cookie()});
  ASSERT_TRUE(out.ok()) << out.status;
  ASSERT_EQ(out.frames.size(), 2u);
  EXPECT_EQ(out.frames[0], "");
  EXPECT_NE(out.frames[1].find("Max-Age=0"), std::string::npos);
  if (client_mode()) {
    // No server state: a copied cookie lives on until the epoch moves.
    EXPECT_TRUE(Run("LOAD", {in.cookie()}).ok());
  } else {
    EXPECT_EQ(Run("LOAD", {in.cookie()}).status, "REVOKED");
    // A request in flight cannot bring it back.
    EXPECT_EQ(Run("COMMIT", {in.cookie(), R"({"base_version":2})"}).status,
              "REVOKED");
  }
}

TEST_P(HandlersTest, Flash) {
  Reply created = Create();
  Reply c = Commit(created.cookie(), {{"base_version", 1},
                                      {"flash",
                                       {{{"message", "one"}},
                                        {{"queue", "err"}, {"message", "bad"}},
                                        {{"message", "two"}}}}});
  ASSERT_TRUE(c.ok()) << c.status;
  Reply popped = Run("FLASH", {c.cookie()});
  ASSERT_TRUE(popped.ok()) << popped.status;
  ASSERT_EQ(popped.frames.size(), 4u);
  EXPECT_EQ(json::parse(popped.frames[3]), json({"one", "two"}));
  EXPECT_EQ(popped.session()["flash"].size(), 1u);
  EXPECT_EQ(popped.cookie() != c.cookie(), !server_mode());

  Reply again = Run("FLASH", {popped.cookie()});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(json::parse(again.frames[3]), json::array());
  Reply err = Run("FLASH", {again.cookie(), "err"});
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(json::parse(err.frames[3]), json({"bad"}));
  EXPECT_EQ(Run("FLASH", {err.cookie(), "bad queue"}).status,
            "INVALID_ARGUMENT");
}

TEST_P(HandlersTest, CsrfCheck) {
  Reply created = Create();
  std::string token = created.session()["csrf_token"];
  Reply ok = Run("CSRF_CHECK", {created.cookie(), token});
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(ok.frames.empty());
  EXPECT_EQ(Run("CSRF_CHECK", {created.cookie(), token + "x"}).status,
            "CSRF_MISMATCH");
  EXPECT_EQ(Run("CSRF_CHECK", {created.cookie(), ""}).status, "CSRF_MISMATCH");
}

TEST_P(HandlersTest, RevokeOthersAndList) {
  Reply a = Login(Create(R"({"user_agent":"A"})").cookie(), "alice");
  clock_.AdvanceSeconds(1);
  Reply b = Login(Create(R"({"user_agent":"B"})").cookie(), "alice");
  clock_.AdvanceSeconds(1);
  Reply c = Login(Create(R"({"user_agent":"C"})").cookie(), "alice");

  Reply list = Run("LIST_SESSIONS", {b.cookie()});
  ASSERT_TRUE(list.ok()) << list.status;
  json devices = json::parse(list.frames.at(0));
  if (client_mode()) {
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_TRUE(devices[0]["current"].get<bool>());
  } else {
    ASSERT_EQ(devices.size(), 3u);
    // The current device first, then the newest sign-in.
    EXPECT_EQ(devices[0]["user_agent"], "B");
    EXPECT_TRUE(devices[0]["current"].get<bool>());
    EXPECT_EQ(devices[1]["user_agent"], "C");
    EXPECT_FALSE(devices[1]["current"].get<bool>());
    EXPECT_EQ(devices[2]["user_agent"], "A");
    EXPECT_EQ(devices[1]["authenticated_at"].get<int64_t>(),
              devices[2]["authenticated_at"].get<int64_t>() + 2);
    EXPECT_FALSE(devices[0].contains("csrf_token"));
    EXPECT_FALSE(devices[0].contains("data"));
  }

  clock_.AdvanceMicros(1);  // the epoch must be later than c's issue time
  Reply revoked = Run("REVOKE_OTHERS", {b.cookie()});
  ASSERT_TRUE(revoked.ok()) << revoked.status;
  std::string b_cookie = b.cookie();
  if (client_mode()) {
    b_cookie = revoked.cookie();  // re-issued after the epoch
  } else {
    EXPECT_EQ(revoked.frames.at(0), "2");
  }
  EXPECT_EQ(Run("LOAD", {a.cookie()}).status, "REVOKED");
  EXPECT_EQ(Run("LOAD", {c.cookie()}).status, "REVOKED");
  EXPECT_TRUE(Run("LOAD", {b_cookie}).ok());

  Reply anon = Create();
  EXPECT_EQ(Run("REVOKE_OTHERS", {anon.cookie()}).status, "INVALID_ARGUMENT");
  Reply anon_list = Run("LIST_SESSIONS", {anon.cookie()});
  ASSERT_TRUE(anon_list.ok());
  EXPECT_EQ(json::parse(anon_list.frames.at(0)).size(), 1u);
}

TEST_P(HandlersTest, BumpEpoch) {
  Reply a = Login(Create().cookie(), "alice");
  Reply committed =
      Commit(a.cookie(),
             {{"base_version", a.session()["version"]}, {"set", {{"k", "v"}}}});
  ASSERT_TRUE(committed.ok()) << committed.status;
  Reply other = Login(Create().cookie(), "alice");
  clock_.AdvanceMicros(1);
  Reply bumped = Run("BUMP_EPOCH", {committed.cookie()});
  ASSERT_TRUE(bumped.ok()) << bumped.status << bumped.frames.at(0);
  EXPECT_NE(bumped.cookie(), committed.cookie());
  EXPECT_FALSE(bumped.set_cookie().empty());
  EXPECT_EQ(bumped.session()["data"]["k"], "v");
  EXPECT_EQ(Run("LOAD", {other.cookie()}).status, "REVOKED");
  EXPECT_EQ(Run("LOAD", {committed.cookie()}).status, "REVOKED");
  Reply survivor = Run("LOAD", {bumped.cookie()});
  ASSERT_TRUE(survivor.ok()) << survivor.status;
  EXPECT_EQ(survivor.session()["data"]["k"], "v");
  EXPECT_EQ(Run("BUMP_EPOCH", {Create().cookie()}).status, "INVALID_ARGUMENT");
}

TEST_P(HandlersTest, DispatchErrors) {
  EXPECT_EQ(Run("FROB", {}).status, "UNKNOWN_VERB");
  EXPECT_EQ(Run("STATS", {}).status, "PERMISSION_DENIED");
  EXPECT_EQ(Run("USER_REVOKE", {"alice"}).status, "PERMISSION_DENIED");
  EXPECT_EQ(Run("KEYS_ROTATE", {}).status, "PERMISSION_DENIED");
  EXPECT_EQ(Run("LOAD", {}).status, "INVALID_ARGUMENT");
  EXPECT_EQ(Run("PING", {"x"}).status, "INVALID_ARGUMENT");
  EXPECT_EQ(Run("COMMIT", {"c"}).status, "INVALID_ARGUMENT");
  EXPECT_GE(counters_.errors, 7u);
  EXPECT_GE(counters_.requests, 7u);
}

TEST_P(HandlersTest, AdminVerbs) {
  Reply a = Login(Create().cookie(), "alice");
  Reply b = Login(Create().cookie(), "alice");
  Reply list = Run("USER_LIST", {"alice"}, SocketKind::kAdmin);
  ASSERT_TRUE(list.ok());
  json sessions = json::parse(list.frames.at(0));
  EXPECT_EQ(sessions.size(), client_mode() ? 0u : 2u);
  if (!sessions.empty()) {
    EXPECT_FALSE(sessions[0].contains("current"));
  }

  // The admin socket answers app verbs too.
  EXPECT_TRUE(Run("PING", {}, SocketKind::kAdmin).ok());

  if (!client_mode()) {
    std::string keep = b.session()["id"];
    Reply others =
        Run("USER_REVOKE_OTHERS", {"alice", keep}, SocketKind::kAdmin);
    ASSERT_TRUE(others.ok()) << others.status;
    EXPECT_EQ(others.frames.at(0), "1");
    EXPECT_EQ(Run("LOAD", {a.cookie()}).status, "REVOKED");
    Reply one = Run("SESSION_REVOKE", {keep}, SocketKind::kAdmin);
    EXPECT_TRUE(one.ok()) << one.status;
    EXPECT_EQ(Run("LOAD", {b.cookie()}).status, "REVOKED");
  }
  Reply c = Login(Create().cookie(), "alice");
  clock_.AdvanceMicros(1);
  Reply all = Run("USER_REVOKE", {"alice"}, SocketKind::kAdmin);
  ASSERT_TRUE(all.ok()) << all.status;
  EXPECT_EQ(Run("LOAD", {c.cookie()}).status, "REVOKED");
  EXPECT_EQ(Run("USER_REVOKE", {"bad user"}, SocketKind::kAdmin).status,
            "INVALID_ARGUMENT");
  EXPECT_EQ(Run("SESSION_REVOKE", {"short"}, SocketKind::kAdmin).status,
            "INVALID_ARGUMENT");

  Reply stats = Run("STATS", {}, SocketKind::kAdmin);
  ASSERT_TRUE(stats.ok());
  json j = json::parse(stats.frames.at(0));
  EXPECT_EQ(j["mode"], std::string(StorageModeName(GetParam())));
  EXPECT_GT(j["requests"].get<uint64_t>(), 5u);
  EXPECT_TRUE(j["app"].contains("in"));

  EXPECT_EQ(Run("KEYS_ROTATE", {}, SocketKind::kAdmin).status, "UNAVAILABLE");
  int64_t asked = 0;
  env_.rotate_keys = [&](int64_t retire_at, Callback<uint32_t> done) {
    asked = retire_at;
    done(uint32_t{2});
  };
  Reply rotated = Run("KEYS_ROTATE", {"60"}, SocketKind::kAdmin);
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated.frames.at(0), "2");
  EXPECT_EQ(asked, clock_.NowSeconds() + 60);
  EXPECT_EQ(Run("KEYS_ROTATE", {"-1"}, SocketKind::kAdmin).status,
            "INVALID_ARGUMENT");
  // Issue 12 item 6: now + seconds must be a time the keyring file can
  // hold; INT64_MAX (which overflowed the sum before) and anything past
  // the year 9999 are refused without reaching the keyring.
  asked = 0;
  for (const char* big : {"9223372036854775807", "9223372036854775806",
                          "253402300799"}) {
    EXPECT_EQ(Run("KEYS_ROTATE", {big}, SocketKind::kAdmin).status,
              "INVALID_ARGUMENT")
        << big;
  }
  EXPECT_EQ(asked, 0);
  const int64_t last = kMaxKeyringTime - clock_.NowSeconds();
  ASSERT_TRUE(
      Run("KEYS_ROTATE", {std::to_string(last)}, SocketKind::kAdmin).ok());
  EXPECT_EQ(asked, kMaxKeyringTime);
}

TEST_P(HandlersTest, CallWithoutReplyAnswersInternal) {
  Frames out;
  {
    Request req;
    req.verb = "X";
    auto call = std::make_shared<Call>(
        std::move(req), SocketKind::kApp, [&](Frames f) { out = std::move(f); },
        &counters_);
  }
  ASSERT_GE(out.size(), 4u);
  EXPECT_EQ(out[3], "INTERNAL");
}

INSTANTIATE_TEST_SUITE_P(Modes, HandlersTest,
                         testing::Values(StorageMode::kServer,
                                         StorageMode::kClient,
                                         StorageMode::kHybrid),
                         [](const testing::TestParamInfo<StorageMode>& p) {
                           return std::string(StorageModeName(p.param));
                         });

}  // namespace
}  // namespace sessiond
