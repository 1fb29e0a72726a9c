// End-to-end tests: the real sessiond binary, started on a free loopback
// port with a temporary data directory, driven through sessiond::Client
// (and sessionctl) exactly as docs/protocol.md describes. They check the
// promises of issue 4: a whole session life in every storage mode, bad
// input answered without harm, restarts and SIGTERM that lose nothing
// acknowledged, the admin socket's protection, and Redis outages.
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "testing/redis_server.h"
#include "testing/sessiond_process.h"
#include "testing/status_asserts.h"

namespace sessiond {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ProgramResult;
using testing::RunProgram;
using testing::SessiondConfig;
using testing::SessiondProcess;
using Clock = std::chrono::steady_clock;

// The errors that mean "this session is gone".
bool IsGone(Code c) {
  return c == Code::kRevoked || c == Code::kNotFound || c == Code::kExpired;
}

std::string Base64UrlDecode(const std::string& text) {
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &len,
                        nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return {};
  }
  out.resize(len);
  return out;
}

std::string Base64UrlEncode(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(
                      bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// Starts sessiond or fails the test with its log.
#define START_OR_FAIL(proc)                  \
  do {                                       \
    Status _st = (proc).Start();             \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

// ---------------------------------------------------------------------------
// A whole session life, shared by the three modes and the Redis smoke test.

void RunSessionLife(Client& app, const std::string& mode) {
  const bool has_ids = mode != "client";  // server and hybrid keep state
  SCOPED_TRACE("mode " + mode);

  // CREATE: a new anonymous session and its Set-Cookie line.
  auto created = app.Create({"203.0.113.9", "BrowserA/1.0"});
  ASSERT_OK(created);
  EXPECT_TRUE(created->session.is_new);
  EXPECT_FALSE(created->cookie.empty());
  EXPECT_NE(created->set_cookie.find(created->cookie), std::string::npos)
      << created->set_cookie;
  EXPECT_TRUE(created->session.user_id.empty());
  EXPECT_FALSE(created->session.csrf_token.empty());
  EXPECT_EQ(created->session.ip, "203.0.113.9");
  EXPECT_EQ(created->session.user_agent, "BrowserA/1.0");
  EXPECT_GT(created->session.expires_at, created->session.created_at);
  EXPECT_EQ(created->session.id.empty(), !has_ids) << created->session.id;
  std::string cookie = created->cookie;

  // LOAD: the same session, not new.
  auto loaded = app.Load(cookie);
  ASSERT_OK(loaded);
  EXPECT_FALSE(loaded->session.is_new);
  EXPECT_EQ(loaded->session.id, created->session.id);
  EXPECT_EQ(loaded->session.csrf_token, created->session.csrf_token);
  const uint64_t v1 = loaded->session.version;

  // COMMIT: data and a flash message, atomically.
  ChangeSet changes;
  changes.base_version = v1;
  changes.set = {{"theme", "dark"}, {"cart", "[1,2,3]"}};
  changes.flash_push = {{"", "Saved."}};
  auto committed = app.Commit(cookie, changes);
  ASSERT_OK(committed);
  EXPECT_GT(committed->session.version, v1);
  EXPECT_EQ(committed->session.data.at("theme"), "dark");
  ASSERT_EQ(committed->session.flash.size(), 1u);
  EXPECT_EQ(committed->session.flash[0].message, "Saved.");
  if (mode == "server") {
    EXPECT_EQ(committed->cookie, cookie) << "server mode keeps the cookie";
  } else {
    EXPECT_NE(committed->cookie, cookie) << "a change yields a new cookie";
    EXPECT_FALSE(committed->set_cookie.empty());
  }
  cookie = committed->cookie;

  auto reloaded = app.Load(cookie);
  ASSERT_OK(reloaded);
  EXPECT_EQ(reloaded->session.data,
            (std::map<std::string, std::string>{{"cart", "[1,2,3]"},
                                                {"theme", "dark"}}));

  // FLASH: popped once, then gone.
  auto flashed = app.Flash(cookie);
  ASSERT_OK(flashed);
  EXPECT_EQ(flashed->messages, std::vector<std::string>{"Saved."});
  EXPECT_TRUE(flashed->session.session.flash.empty());
  cookie = flashed->session.cookie;
  auto flashed_again = app.Flash(cookie);
  ASSERT_OK(flashed_again);
  EXPECT_TRUE(flashed_again->messages.empty());
  cookie = flashed_again->session.cookie;

  // Concurrent commits (server mode keeps the data, so it can merge them):
  // different keys both land, the same key conflicts.
  if (mode == "server") {
    auto base = app.Load(cookie);
    ASSERT_OK(base);
    ChangeSet a{base->session.version, {{"x", "1"}}, {}, {}};
    ChangeSet b{base->session.version, {{"x", "2"}}, {}, {}};
    ChangeSet c{base->session.version, {{"y", "3"}}, {}, {}};
    ASSERT_OK(app.Commit(cookie, a));
    EXPECT_CODE(app.Commit(cookie, b), Code::kConflict);
    ASSERT_OK(app.Commit(cookie, c));
    auto merged = app.Load(cookie);
    ASSERT_OK(merged);
    EXPECT_EQ(merged->session.data.at("x"), "1");
    EXPECT_EQ(merged->session.data.at("y"), "3");
  }

  // LOGIN: new id and cookie, the user set, CSRF rotated, data kept.
  auto before_login = app.Load(cookie);
  ASSERT_OK(before_login);
  auto login_a = app.Login(cookie, "alice", {"203.0.113.9", "BrowserA/1.0"});
  ASSERT_OK(login_a);
  EXPECT_NE(login_a->cookie, cookie);
  EXPECT_FALSE(login_a->set_cookie.empty());
  EXPECT_EQ(login_a->session.user_id, "alice");
  EXPECT_NE(login_a->session.csrf_token, before_login->session.csrf_token);
  EXPECT_EQ(login_a->session.data.at("theme"), "dark");
  if (has_ids) {
    EXPECT_NE(login_a->session.id, before_login->session.id);
    auto old = app.Load(cookie);
    EXPECT_FALSE(old.ok()) << "the pre-login cookie must stop working";
  }
  const std::string cookie_a = login_a->cookie;
  const std::string csrf_a = login_a->session.csrf_token;

  // CSRF_CHECK: the right token passes; a wrong or empty one is refused and
  // changes nothing.
  ASSERT_OK(app.CsrfCheck(cookie_a, csrf_a));
  EXPECT_CODE(app.CsrfCheck(cookie_a, before_login->session.csrf_token),
              Code::kCsrfMismatch);
  EXPECT_CODE(app.CsrfCheck(cookie_a, ""), Code::kCsrfMismatch);
  std::string flipped = csrf_a;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  EXPECT_CODE(app.CsrfCheck(cookie_a, flipped), Code::kCsrfMismatch);
  auto after_csrf = app.Load(cookie_a);
  ASSERT_OK(after_csrf);
  EXPECT_EQ(after_csrf->session.version, login_a->session.version);

  // A second browser logs in as the same user.
  auto created_b = app.Create({"198.51.100.7", "BrowserB/2.0"});
  ASSERT_OK(created_b);
  auto login_b =
      app.Login(created_b->cookie, "alice", {"198.51.100.7", "BrowserB/2.0"});
  ASSERT_OK(login_b);
  std::string cookie_b = login_b->cookie;

  // LIST_SESSIONS from browser A: both (one current) where the server
  // keeps state, only the current one in client mode.
  auto listed = app.ListSessions(cookie_a);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), has_ids ? 2u : 1u);
  int current = 0;
  for (const SessionInfo& s : *listed) {
    EXPECT_EQ(s.user_id.empty() ? "alice" : s.user_id, "alice");
    EXPECT_TRUE(s.csrf_token.empty()) << "lists must not leak CSRF tokens";
    if (s.current) {
      ++current;
      if (has_ids) {
        EXPECT_EQ(s.id, login_a->session.id);
      }
    }
  }
  EXPECT_EQ(current, 1);

  // REVOKE_OTHERS from browser B: A is signed out, B stays.
  auto revoked = app.RevokeOthers(cookie_b);
  ASSERT_OK(revoked);
  if (has_ids) {
    EXPECT_EQ(revoked->ended, 1);
  } else {
    ASSERT_TRUE(revoked->reissued.has_value())
        << "client mode re-issues the caller's token";
    cookie_b = revoked->reissued->cookie;
  }
  auto a_after = app.Load(cookie_a);
  ASSERT_FALSE(a_after.ok()) << "browser A must be signed out";
  EXPECT_TRUE(IsGone(a_after.code())) << a_after.status().ToString();
  auto b_after = app.Load(cookie_b);
  ASSERT_OK(b_after);
  EXPECT_EQ(b_after->session.user_id, "alice");

  // BUMP_EPOCH (password change) from B: a third browser's token dies, B's
  // own session is re-issued and survives.
  auto login_c = app.Login("", "alice", {"192.0.2.1", "BrowserC/3.0"});
  ASSERT_OK(login_c);
  // Epochs are compared with issue times; make sure C is strictly older.
  std::this_thread::sleep_for(milliseconds(5));
  auto bumped = app.BumpEpoch(cookie_b);
  ASSERT_OK(bumped);
  EXPECT_NE(bumped->cookie, cookie_b);
  cookie_b = bumped->cookie;
  auto c_after = app.Load(login_c->cookie);
  EXPECT_FALSE(c_after.ok()) << "BUMP_EPOCH must revoke other tokens";
  ASSERT_OK(app.Load(cookie_b));

  // LOGOUT: a deleting Set-Cookie; the session stays dead where the server
  // can tombstone it (client mode: only the epoch can end a copied cookie).
  auto logout = app.Logout(cookie_b);
  ASSERT_OK(logout);
  EXPECT_FALSE(logout->empty());
  if (has_ids) {
    auto gone = app.Load(cookie_b);
    ASSERT_FALSE(gone.ok());
    EXPECT_TRUE(IsGone(gone.code())) << gone.status().ToString();
    ChangeSet late{b_after->session.version, {{"late", "write"}}, {}, {}};
    auto late_commit = app.Commit(cookie_b, late);
    EXPECT_FALSE(late_commit.ok()) << "a logout cannot be undone by a commit";
  }
}

class SessionLifeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionLifeTest, WholeLife) {
  SessiondConfig config;
  config.mode = GetParam();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  RunSessionLife(app, GetParam());
  if (HasFailure()) ADD_FAILURE() << "sessiond log:\n" << sessiond.LogTail();
  auto code = sessiond.Stop();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, SessionLifeTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// HELLO, REGENERATE and CSRF_ROTATE against the real daemon, in each mode:
// what every framework integration builds its cookie handling on.
class ClientSupportVerbsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientSupportVerbsTest, HelloRegenerateAndCsrfRotate) {
  SessiondConfig config;
  config.mode = GetParam();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  const bool has_ids = GetParam() != "client";

  auto hello = app.Hello();
  ASSERT_OK(hello);
  EXPECT_NE(hello->find("\"mode\":\"" + GetParam() + "\""), std::string::npos)
      << *hello;
  EXPECT_NE(hello->find("\"name\":\"sessiond\""), std::string::npos) << *hello;
  EXPECT_NE(hello->find("\"lifetime\":3600"), std::string::npos) << *hello;

  auto created = app.Create({"192.0.2.1", "BrowserA/1.0"});
  ASSERT_OK(created);
  ChangeSet cart{created->session.version, {{"cart", "[1]"}}, {}, {}};
  auto saved = app.Commit(created->cookie, cart);
  ASSERT_OK(saved);

  auto moved = app.Regenerate(saved->cookie);
  ASSERT_OK(moved);
  EXPECT_NE(moved->cookie, saved->cookie);
  EXPECT_FALSE(moved->set_cookie.empty());
  EXPECT_EQ(moved->session.data.at("cart"), "[1]");
  EXPECT_EQ(moved->session.user_id, "");
  EXPECT_NE(moved->session.csrf_token, saved->session.csrf_token);
  if (has_ids) {
    auto old = app.Load(saved->cookie);
    ASSERT_FALSE(old.ok()) << "the regenerated-away cookie must be dead";
    EXPECT_EQ(old.code(), Code::kRevoked) << old.status().ToString();
  }

  auto in = app.Login(moved->cookie, "alice");
  ASSERT_OK(in);
  EXPECT_GT(in->session.authenticated_at, 0);
  auto rotated = app.CsrfRotate(in->cookie);
  ASSERT_OK(rotated);
  EXPECT_NE(rotated->session.csrf_token, in->session.csrf_token);
  EXPECT_EQ(rotated->session.authenticated_at, in->session.authenticated_at);
  EXPECT_TRUE(app.CsrfCheck(rotated->cookie, rotated->session.csrf_token).ok());
  EXPECT_EQ(app.CsrfCheck(rotated->cookie, in->session.csrf_token).code(),
            Code::kCsrfMismatch);
  if (HasFailure()) ADD_FAILURE() << "sessiond log:\n" << sessiond.LogTail();
}

INSTANTIATE_TEST_SUITE_P(Modes, ClientSupportVerbsTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// ---------------------------------------------------------------------------
// The exact reply shapes of docs/protocol.md, verb by verb, as a client in
// another language would read them (frame counts, empty frames, members).

bool HasMember(const std::string& json, const std::string& name) {
  return json.find("\"" + name + "\":") != std::string::npos;
}

class WireShapeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WireShapeTest, RepliesHaveTheDocumentedFrames) {
  const std::string mode = GetParam();
  SessiondConfig config;
  config.mode = mode;
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  Client admin(sessiond.AdminOptions());
  auto call = [](Client& c, std::string_view verb,
                 const std::vector<std::string>& args) {
    Result<Reply> r = c.Call(verb, args);
    EXPECT_TRUE(r.ok()) << verb << ": " << r.status().ToString();
    return r.ok() ? *r : Reply{};
  };

  Reply ping = call(app, "PING", {});
  EXPECT_EQ(ping.status_name, "OK");
  EXPECT_EQ(ping.frames, std::vector<std::string>{"PONG"});
  Reply version = call(app, "VERSION", {});
  ASSERT_EQ(version.frames.size(), 1u);
  EXPECT_EQ(version.frames[0].rfind("sessiond 0.", 0), 0u) << version.frames[0];

  Reply create =
      call(app, "CREATE", {R"({"ip":"192.0.2.1","user_agent":"UA"})"});
  ASSERT_EQ(create.frames.size(), 3u) << create.status_name;
  const std::string& set_cookie = create.frames[1];
  EXPECT_EQ(set_cookie.rfind("sessiond=" + create.frames[0] + ";", 0), 0u)
      << set_cookie;
  for (const char* attr :
       {"; Path=/", "; Max-Age=", "; Secure", "; HttpOnly", "; SameSite=Lax"}) {
    EXPECT_NE(set_cookie.find(attr), std::string::npos)
        << attr << " missing: " << set_cookie;
  }
  for (const char* m : {"id", "user_id", "csrf_token", "data", "flash",
                        "created_at", "last_seen_at", "expires_at",
                        "idle_timeout", "ip", "user_agent", "version", "new"}) {
    EXPECT_TRUE(HasMember(create.frames[2], m)) << m << " missing";
  }

  Reply login = call(app, "LOGIN", {create.frames[0], "shape-user"});
  ASSERT_EQ(login.frames.size(), 3u);
  std::string cookie = login.frames[0];
  auto session = ParseSessionJson(login.frames[2]);
  ASSERT_OK(session);
  EXPECT_FALSE(session->is_new) << "LOGIN from a cookie is not new";

  Reply load = call(app, "LOAD", {cookie});
  ASSERT_EQ(load.frames.size(), 3u);
  if (mode == "server") {
    EXPECT_EQ(load.frames[1], "") << "LOAD of a right cookie sets nothing";
  }

  Reply commit = call(
      app, "COMMIT",
      {cookie,
       ChangeSetToJson({session->version, {{"a", "1"}}, {}, {{"", "f"}}})});
  ASSERT_EQ(commit.frames.size(), 3u);
  cookie = commit.frames[0];

  Reply flash = call(app, "FLASH", {cookie});
  ASSERT_EQ(flash.frames.size(), 4u);
  EXPECT_EQ(flash.frames[3], R"(["f"])");
  cookie = flash.frames[0];

  auto csrf = ParseSessionJson(flash.frames[2]);
  ASSERT_OK(csrf);
  Reply good = call(app, "CSRF_CHECK", {cookie, csrf->csrf_token});
  EXPECT_EQ(good.status_name, "OK");
  EXPECT_TRUE(good.frames.empty()) << "CSRF_CHECK answers OK alone";
  Reply bad = call(app, "CSRF_CHECK", {cookie, "nope"});
  EXPECT_EQ(bad.status_name, "CSRF_MISMATCH");
  EXPECT_EQ(bad.frames.size(), 1u) << "an error carries one message frame";

  Reply list = call(app, "LIST_SESSIONS", {cookie});
  ASSERT_EQ(list.frames.size(), 1u);
  EXPECT_TRUE(HasMember(list.frames[0], "current")) << list.frames[0];
  EXPECT_FALSE(HasMember(list.frames[0], "csrf_token")) << list.frames[0];

  Reply others = call(app, "REVOKE_OTHERS", {cookie});
  if (mode == "client") {
    ASSERT_EQ(others.frames.size(), 3u) << "client mode re-issues the token";
    cookie = others.frames[0];
  } else {
    ASSERT_EQ(others.frames.size(), 1u);
    EXPECT_EQ(others.frames[0], "0");
  }

  Reply bump = call(app, "BUMP_EPOCH", {cookie});
  ASSERT_EQ(bump.frames.size(), 3u);
  EXPECT_NE(bump.frames[0], cookie);
  cookie = bump.frames[0];

  Reply user_list = call(admin, "USER_LIST", {"shape-user"});
  ASSERT_EQ(user_list.frames.size(), 1u);
  EXPECT_EQ(user_list.frames[0].front(), '[');
  Reply rotate = call(admin, "KEYS_ROTATE", {});
  ASSERT_EQ(rotate.frames.size(), 1u);
  EXPECT_FALSE(rotate.frames[0].empty());
  EXPECT_EQ(rotate.frames[0].find_first_not_of("0123456789"),
            std::string::npos);
  Reply stats = call(admin, "STATS", {});
  ASSERT_EQ(stats.frames.size(), 1u);
  for (const char* m :
       {"version", "mode", "store", "uptime_s", "requests", "errors", "dropped",
        "sessions", "commits", "conflicts", "swept", "app", "admin"}) {
    EXPECT_TRUE(HasMember(stats.frames[0], m)) << m << " missing from STATS";
  }
  EXPECT_NE(stats.frames[0].find("\"mode\":\"" + mode + "\""),
            std::string::npos)
      << stats.frames[0];

  Reply logout = call(app, "LOGOUT", {cookie});
  ASSERT_EQ(logout.frames.size(), 2u) << logout.status_name;
  EXPECT_EQ(logout.frames[0], "") << "LOGOUT's frame 4 is empty";
  EXPECT_EQ(logout.frames[1].rfind("sessiond=;", 0), 0u) << logout.frames[1];
  EXPECT_TRUE(logout.frames[1].find("Max-Age=0") != std::string::npos ||
              logout.frames[1].find("1970") != std::string::npos)
      << "the Set-Cookie must delete the cookie: " << logout.frames[1];

  // LOGIN with no cookie starts a new session: "new" is true.
  Reply again = call(app, "LOGIN", {"", "shape-user"});
  ASSERT_EQ(again.frames.size(), 3u);
  auto s2 = ParseSessionJson(again.frames[2]);
  ASSERT_OK(s2);
  EXPECT_TRUE(s2->is_new) << again.frames[2];
  if (mode != "client") {
    Reply one = call(admin, "SESSION_REVOKE", {s2->id});
    EXPECT_EQ(one.status_name, "OK");
    EXPECT_TRUE(one.frames.empty()) << "SESSION_REVOKE answers OK alone";
  }
  Reply revoke = call(admin, "USER_REVOKE", {"shape-user"});
  ASSERT_EQ(revoke.frames.size(), 1u);
  EXPECT_EQ(revoke.frames[0].find_first_not_of("0123456789"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, WireShapeTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// A REQ socket (one request at a time; the socket adds and strips the
// delimiter) works as well as a DEALER.
TEST(ReqSocketTest, ReqClientsWork) {
  SessiondProcess sessiond(SessiondConfig{});
  START_OR_FAIL(sessiond);
  zmq::context_t ctx(1);
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.set(zmq::sockopt::rcvtimeo, 5000);
  req.connect(sessiond.app_endpoint());
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> frames = {"SD1", "", "PING"};
    for (size_t f = 0; f < frames.size(); ++f) {
      req.send(zmq::buffer(frames[f]), f + 1 < frames.size()
                                           ? zmq::send_flags::sndmore
                                           : zmq::send_flags::none);
    }
    std::vector<std::string> reply;
    zmq::message_t part;
    do {
      ASSERT_TRUE(req.recv(part)) << "no reply to a REQ client";
      reply.push_back(part.to_string());
    } while (part.more());
    EXPECT_EQ(reply, (std::vector<std::string>{"SD1", "", "OK", "PONG"}));
  }
}

// ---------------------------------------------------------------------------
// Bad input: one server for the suite. Each test starts from a logged-in
// session and checks afterwards that it is exactly as it was and that the
// server still answers.

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sessiond_ = new SessiondProcess(SessiondConfig{});
    start_status_ = sessiond_->Start();
  }
  static void TearDownTestSuite() {
    delete sessiond_;
    sessiond_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(start_status_.ok()) << start_status_.ToString();
    app_ = std::make_unique<Client>(sessiond_->AppOptions());
    raw_ = std::make_unique<Client>(sessiond_->AppOptions());
    auto login = app_->Login("", "mallory-target", {"192.0.2.8", "UA"});
    ASSERT_OK(login);
    ChangeSet c{login->session.version, {{"k", "v"}}, {}, {{"", "hi"}}};
    auto committed = app_->Commit(login->cookie, c);
    ASSERT_OK(committed);
    cookie_ = committed->cookie;
    before_ = committed->session;
  }

  void TearDown() override {
    if (!start_status_.ok()) return;
    ASSERT_TRUE(sessiond_->running()) << "sessiond died; log:\n"
                                      << sessiond_->LogTail();
    Client fresh(sessiond_->AppOptions());
    ASSERT_OK(fresh.Ping());
    auto after = fresh.Load(cookie_);
    ASSERT_OK(after);
    EXPECT_EQ(after->session.version, before_.version);
    EXPECT_EQ(after->session.data, before_.data);
    EXPECT_EQ(after->session.flash, before_.flash);
    EXPECT_EQ(after->session.user_id, before_.user_id);
    EXPECT_EQ(after->session.csrf_token, before_.csrf_token);
    if (HasFailure())
      ADD_FAILURE() << "sessiond log:\n" << sessiond_->LogTail();
  }

  // Sends raw frames and returns the reply's frames; fails the test when
  // none arrives within a second.
  std::vector<std::string> RawCall(const std::vector<std::string>& frames) {
    EXPECT_TRUE(raw_->SendRaw(frames).ok());
    auto reply = raw_->ReceiveRaw(seconds(2));
    EXPECT_TRUE(reply.ok()) << "no reply to a malformed request";
    return reply.ok() ? *reply : std::vector<std::string>{};
  }

  // A malformed request answered with `want` (request id echoed).
  void ExpectError(const std::vector<std::string>& frames, Code want,
                   const std::string& what) {
    SCOPED_TRACE(what);
    std::vector<std::string> r = RawCall(frames);
    ASSERT_GE(r.size(), 4u);
    EXPECT_EQ(r[0], "");
    EXPECT_EQ(r[1], "SD1");
    if (frames.size() > 2 && frames[0].empty() && frames[1] == "SD1" &&
        frames[2].size() <= 64) {
      EXPECT_EQ(r[2], frames[2]) << "request id not echoed";
    }
    EXPECT_EQ(r[3], CodeName(want));
    EXPECT_EQ(r.size(), 5u) << "an error carries one message frame";
  }

  int64_t Dropped() {
    Client admin(sessiond_->AdminOptions());
    auto stats = admin.Stats();
    if (!stats.ok()) return -1;
    auto flat = FlattenJsonObject(*stats);
    if (!flat.ok()) return -1;
    for (const auto& [k, v] : *flat) {
      if (k == "dropped") return std::stoll(v);
    }
    return -1;
  }

  // A message without an envelope sessiond can answer: either an error
  // reply with `want`, or silence and the "dropped" counter going up.
  void ExpectErrorOrDrop(const std::vector<std::string>& frames, Code want,
                         const std::string& what) {
    SCOPED_TRACE(what);
    int64_t dropped_before = Dropped();
    ASSERT_TRUE(raw_->SendRaw(frames).ok());
    auto reply = raw_->ReceiveRaw(milliseconds(1000));
    if (reply.ok()) {
      ASSERT_GE(reply->size(), 4u);
      EXPECT_EQ((*reply)[3], CodeName(want));
    } else {
      EXPECT_GT(Dropped(), dropped_before)
          << "silently dropped without counting it in STATS";
    }
  }

  static SessiondProcess* sessiond_;
  static Status start_status_;
  std::unique_ptr<Client> app_;
  std::unique_ptr<Client> raw_;
  std::string cookie_;
  SessionInfo before_;
};

SessiondProcess* BadInputTest::sessiond_ = nullptr;
Status BadInputTest::start_status_;

TEST_F(BadInputTest, WrongFrameCount) {
  ExpectError({"", "SD1", "r1"}, Code::kInvalidArgument, "no verb");
  ExpectError({"", "SD1", "r2", "LOAD"}, Code::kInvalidArgument,
              "LOAD without a cookie");
  ExpectError({"", "SD1", "r3", "COMMIT", cookie_}, Code::kInvalidArgument,
              "COMMIT without a change set");
  ExpectError({"", "SD1", "r4", "CSRF_CHECK", cookie_}, Code::kInvalidArgument,
              "CSRF_CHECK without a token");
  ExpectError({"", "SD1", "r5", "PING", "extra"}, Code::kInvalidArgument,
              "PING with an argument");
  ExpectError({"", "SD1", "r6", "LOAD", cookie_, "{}", "extra"},
              Code::kInvalidArgument, "LOAD with a frame too many");
  std::vector<std::string> seventeen = {"", "SD1", "r7", "LOAD", cookie_};
  while (seventeen.size() < 17) seventeen.push_back("x");
  ExpectError(seventeen, Code::kTooLarge, "17 frames");
  ExpectErrorOrDrop({"", "SD1"}, Code::kInvalidArgument, "tag only");
  ExpectErrorOrDrop({""}, Code::kInvalidArgument, "delimiter only");
}

TEST_F(BadInputTest, MissingDelimiterOrTag) {
  ExpectErrorOrDrop({"SD1", "r1", "PING"}, Code::kInvalidArgument,
                    "no delimiter");
  ExpectErrorOrDrop({"", "SD2", "r2", "PING"}, Code::kInvalidArgument,
                    "wrong protocol tag");
  ExpectErrorOrDrop({"", "", "r3", "PING"}, Code::kInvalidArgument,
                    "empty protocol tag");
  ExpectErrorOrDrop({"", "sd1", "r4", "LOAD", cookie_}, Code::kInvalidArgument,
                    "lower-case tag");
}

TEST_F(BadInputTest, UnknownVerb) {
  ExpectError({"", "SD1", "u1", "FROB"}, Code::kUnknownVerb, "FROB");
  ExpectError({"", "SD1", "u2", "ping"}, Code::kUnknownVerb, "lower case");
  ExpectError({"", "SD1", "u3", "LOAD\xff", cookie_}, Code::kUnknownVerb,
              "non-ASCII");
  // Through the client's pipelined API too.
  auto r = raw_->Call("DESTROY_EVERYTHING", {cookie_});
  ASSERT_OK(r);
  EXPECT_EQ(r->code, Code::kUnknownVerb);
}

TEST_F(BadInputTest, OversizedFrames) {
  ExpectError({"", "SD1", "o1", "LOAD", std::string(65537, 'A')},
              Code::kTooLarge, "cookie frame over 64 KiB");
  std::string big_json = "{\"base_version\":1,\"set\":{\"k\":\"" +
                         std::string(70000, 'x') + "\"}}";
  ExpectError({"", "SD1", "o2", "COMMIT", cookie_, big_json}, Code::kTooLarge,
              "change set over 64 KiB");
  ExpectError({"", "SD1", std::string(65, 'i'), "PING"}, Code::kTooLarge,
              "request id over 64 bytes");
  // Under the frame cap but over the session's data cap (16 KiB).
  ChangeSet huge{before_.version, {{"blob", std::string(20000, 'b')}}, {}, {}};
  EXPECT_CODE(app_->Commit(cookie_, huge), Code::kTooLarge);
}

TEST_F(BadInputTest, BadArguments) {
  ExpectError({"", "SD1", "b1", "COMMIT", cookie_, "{not json"},
              Code::kInvalidArgument, "change set is not JSON");
  ExpectError({"", "SD1", "b2", "COMMIT", cookie_, "{\"set\":{\"a\":\"b\"}}"},
              Code::kInvalidArgument, "no base_version");
  ExpectError({"", "SD1", "b3", "COMMIT", cookie_,
               "{\"base_version\":1,\"set\":{\"bad key\":\"v\"}}"},
              Code::kInvalidArgument, "key with a space");
  ExpectError({"", "SD1", "b4", "LOGIN", cookie_, "bad user"},
              Code::kInvalidArgument, "user id with a space");
  ExpectError({"", "SD1", "b5", "CREATE", "[1,2]"}, Code::kInvalidArgument,
              "metadata is not an object");
}

TEST_F(BadInputTest, TamperedCookie) {
  std::string bytes = Base64UrlDecode(cookie_);
  ASSERT_FALSE(bytes.empty()) << "cookie is not base64url: " << cookie_;
  std::map<std::string, int> codes;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string t = bytes;
    t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
    auto r = app_->Load(Base64UrlEncode(t));
    ASSERT_FALSE(r.ok()) << "bit " << bit << " flipped still loads";
    EXPECT_TRUE(IsTokenError(r.code()))
        << "bit " << bit << ": " << r.status().ToString();
    ++codes[std::string(CodeName(r.code()))];
  }
  for (const auto& [code, n] : codes) {
    std::cout << "  tampered cookies answered " << code << ": " << n << "\n";
  }
  // A tampered cookie cannot write either.
  std::string t = bytes;
  t[t.size() / 2] = static_cast<char>(t[t.size() / 2] ^ 0x01);
  ChangeSet c{before_.version, {{"k", "evil"}}, {}, {}};
  auto w = app_->Commit(Base64UrlEncode(t), c);
  EXPECT_TRUE(IsTokenError(w.code())) << w.status().ToString();
  // Text that is not base64url at all.
  std::string text = cookie_;
  text[text.size() / 2] = '!';
  EXPECT_CODE(app_->Load(text), Code::kBadEncoding);
  EXPECT_FALSE(app_->Load("garbage!!").ok());
}

TEST_F(BadInputTest, TruncatedCookie) {
  for (size_t n = 1; n < cookie_.size(); ++n) {
    auto r = app_->Load(cookie_.substr(0, n));
    ASSERT_FALSE(r.ok()) << "a " << n << "-char prefix still loads";
    EXPECT_TRUE(IsTokenError(r.code()))
        << n << " chars: " << r.status().ToString();
  }
  auto longer = app_->Load(cookie_ + "AAAA");
  ASSERT_FALSE(longer.ok());
  EXPECT_TRUE(IsTokenError(longer.code())) << longer.status().ToString();
  // Empty means "no cookie": an error, never a session.
  EXPECT_FALSE(app_->Load("").ok());
}

TEST_F(BadInputTest, AdminVerbsOnAppSocketAreDenied) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> verbs = {
      {"USER_LIST", {"mallory-target"}},
      {"USER_REVOKE", {"mallory-target"}},
      {"USER_REVOKE_OTHERS", {"mallory-target", before_.id}},
      {"SESSION_REVOKE", {before_.id}},
      {"KEYS_ROTATE", {}},
      {"STATS", {}},
  };
  for (const auto& [verb, args] : verbs) {
    auto r = app_->Call(verb, args);
    ASSERT_OK(r);
    EXPECT_EQ(r->code, Code::kPermissionDenied)
        << verb << ": " << r->status_name;
  }
  EXPECT_CODE(app_->UserRevoke("mallory-target"), Code::kPermissionDenied);
  // TearDown checks the session survived all of that.
}

// Random frames, random counts. Every reply is an error; the second client
// meanwhile keeps getting answers promptly.
TEST_F(BadInputTest, GarbageFloodDoesNotHurtOthers) {
  std::atomic<bool> done{false};
  std::atomic<int> sent{0}, replies{0}, ok_replies{0};
  std::thread flooder([&] {
    Client flood(sessiond_->AppOptions());
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    const std::vector<std::string> verbs = {"PING",  "LOAD",  "COMMIT",
                                            "LOGIN", "FLASH", "XYZZY"};
    for (int i = 0; i < 20000; ++i) {
      std::vector<std::string> frames;
      int n = 1 + static_cast<int>(rng() % 20);
      for (int f = 0; f < n; ++f) {
        std::string s(rng() % 100, '\0');
        for (char& c : s) c = static_cast<char>(byte(rng));
        frames.push_back(std::move(s));
      }
      // Often give it a plausible envelope so it reaches the decoder and
      // the handlers, not only the envelope check.
      if (rng() % 2 == 0) frames[0].clear();
      if (frames.size() > 1 && rng() % 2 == 0) frames[1] = "SD1";
      if (frames.size() > 3 && rng() % 2 == 0) {
        frames[3] = verbs[rng() % verbs.size()];
      }
      if (frames.size() > 3 && frames[3] == "PING") frames[3] = "PINGX";
      if (!flood.SendRaw(frames).ok()) break;
      ++sent;
      // Read what has come back, so our replies never pile up.
      while (true) {
        auto r = flood.ReceiveRaw(milliseconds(0));
        if (!r.ok()) break;
        ++replies;
        if (r->size() >= 4 && (*r)[3] == "OK") ++ok_replies;
      }
    }
    auto deadline = Clock::now() + seconds(5);
    while (Clock::now() < deadline) {
      auto r = flood.ReceiveRaw(milliseconds(200));
      if (!r.ok()) break;
      ++replies;
      if (r->size() >= 4 && (*r)[3] == "OK") ++ok_replies;
    }
    done = true;
  });

  Client other(sessiond_->AppOptions(seconds(2)));
  int pings = 0;
  Clock::duration worst{};
  while (!done) {
    auto start = Clock::now();
    Status st = other.Ping();
    auto took = Clock::now() - start;
    worst = std::max(worst, took);
    if (!st.ok()) {
      ADD_FAILURE() << "PING during the flood: " << st.ToString();
      break;
    }
    ++pings;
    auto load = other.Load(cookie_);
    if (!load.ok()) {
      ADD_FAILURE() << "LOAD during the flood: " << load.status().ToString();
      break;
    }
  }
  flooder.join();
  auto worst_ms = std::chrono::duration_cast<milliseconds>(worst).count();
  std::cout << "  flood: " << sent << " sent, " << replies << " replies, "
            << pings << " pings answered meanwhile, slowest " << worst_ms
            << " ms\n";
  EXPECT_EQ(ok_replies, 0) << "garbage must never be answered OK";
  EXPECT_GT(pings, 0);
  EXPECT_LT(worst_ms, 1000) << "another client was stalled by the flood";
}

// The encrypted cookies of client and hybrid mode: every bit flip and every
// truncation is refused (the AEAD tag covers the whole token), and the
// original still loads unchanged.
class EncryptedCookieTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EncryptedCookieTest, TamperedOrTruncatedIsRefused) {
  SessiondConfig config;
  config.mode = GetParam();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  auto login = app.Login("", "tamper-user");
  ASSERT_OK(login);
  ChangeSet c{login->session.version, {{"role", "user"}}, {}, {}};
  auto committed = app.Commit(login->cookie, c);
  ASSERT_OK(committed);
  const std::string cookie = committed->cookie;
  std::string bytes = Base64UrlDecode(cookie);
  ASSERT_FALSE(bytes.empty());
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string t = bytes;
    t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
    auto r = app.Load(Base64UrlEncode(t));
    ASSERT_FALSE(r.ok()) << "bit " << bit << " flipped still loads";
    EXPECT_TRUE(IsTokenError(r.code()))
        << "bit " << bit << ": " << r.status().ToString();
  }
  for (size_t n = 1; n < cookie.size(); n += 3) {
    auto r = app.Load(cookie.substr(0, n));
    ASSERT_FALSE(r.ok()) << "a " << n << "-char prefix still loads";
    EXPECT_TRUE(IsTokenError(r.code()))
        << n << " chars: " << r.status().ToString();
  }
  auto after = app.Load(cookie);
  ASSERT_OK(after);
  EXPECT_EQ(after->session.data, committed->session.data);
  EXPECT_EQ(after->session.version, committed->session.version);
}

INSTANTIATE_TEST_SUITE_P(Modes, EncryptedCookieTest,
                         ::testing::Values("client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// ---------------------------------------------------------------------------
// Expiry: a short idle timeout, bounded polling (no long sleeps).

class ExpiryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExpiryTest, ExpiredCookieIsRefused) {
  SessiondConfig config;
  config.mode = GetParam();
  // sessiond refuses a lifetime under 60 s, so this exercises the idle
  // (sliding) expiry; 2 s and not 1 because times are whole seconds.
  config.lifetime_s = 60;
  config.idle_timeout_s = 2;
  // The sweep removes idle-expired sessions (after which a LOAD answers
  // NOT_FOUND, which this test is not about): keep it out of the way.
  config.store_extra = "sweep_interval_ms = 3600000\n";
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  auto created = app.Create();
  ASSERT_OK(created);
  ASSERT_OK(app.Load(created->cookie));
  auto start = Clock::now();
  Result<SessionReply> r = Status(Code::kInternal, "not polled");
  while (Clock::now() - start < seconds(5)) {
    std::this_thread::sleep_for(milliseconds(250));
    r = app.Load(created->cookie);
    if (!r.ok()) break;
  }
  EXPECT_CODE(r, Code::kExpired);
  EXPECT_GE(Clock::now() - start, milliseconds(900)) << "expired far too early";
  // Expiry refuses writes too.
  ChangeSet c{created->session.version, {{"k", "v"}}, {}, {}};
  EXPECT_FALSE(app.Commit(created->cookie, c).ok());
  ASSERT_TRUE(sessiond.running());
}

INSTANTIATE_TEST_SUITE_P(Modes, ExpiryTest,
                         ::testing::Values("server", "client"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// ---------------------------------------------------------------------------
// Restarts and SIGTERM (LMDB).

class RestartTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RestartTest, SessionsSurviveARestart) {
  SessiondConfig config;
  config.mode = GetParam();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  std::string cookie;
  SessionInfo before;
  {
    Client app(sessiond.AppOptions());
    auto login = app.Login("", "restart-user", {"192.0.2.4", "UA"});
    ASSERT_OK(login);
    ChangeSet c{login->session.version, {{"kept", "yes"}}, {}, {{"", "m"}}};
    auto committed = app.Commit(login->cookie, c);
    ASSERT_OK(committed);
    cookie = committed->cookie;
    before = committed->session;
  }
  auto code = sessiond.Stop();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0) << sessiond.LogTail();
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  auto loaded = app.Load(cookie);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->session.id, before.id);
  EXPECT_EQ(loaded->session.user_id, "restart-user");
  EXPECT_EQ(loaded->session.data.at("kept"), "yes");
  EXPECT_EQ(loaded->session.flash, before.flash);
  EXPECT_EQ(loaded->session.csrf_token, before.csrf_token);
  EXPECT_EQ(loaded->session.version, before.version);
}

INSTANTIATE_TEST_SUITE_P(Modes, RestartTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// Many COMMITs pipelined on one DEALER; SIGTERM lands while they are in
// flight. Every commit answered OK must be there after a restart, and
// sessiond must exit 0.
TEST(SigtermTest, NoAcknowledgedWriteIsLost) {
  SessiondProcess sessiond(SessiondConfig{});
  START_OR_FAIL(sessiond);
  constexpr int kSessions = 100;
  constexpr int kRounds = 20;
  std::vector<std::string> cookies;
  std::vector<uint64_t> versions;
  {
    Client setup(sessiond.AppOptions());
    for (int i = 0; i < kSessions; ++i) {
      auto s = setup.Create();
      ASSERT_OK(s);
      cookies.push_back(s->cookie);
      versions.push_back(s->session.version);
    }
  }
  Client pipe(sessiond.AppOptions(seconds(10)));
  // request id -> (session, round)
  std::map<std::string, std::pair<int, int>> sent;
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 0; i < kSessions; ++i) {
      // Every commit of a session starts from the same base version and
      // writes its own key: none conflicts with another.
      ChangeSet c{versions[static_cast<size_t>(i)],
                  {{"k" + std::to_string(r), "v" + std::to_string(r)}},
                  {},
                  {}};
      auto id = pipe.Send(
          "COMMIT", {cookies[static_cast<size_t>(i)], ChangeSetToJson(c)});
      ASSERT_OK(id);
      sent[*id] = {i, r};
    }
  }
  // SIGTERM as soon as the first acknowledgement shows commits are flowing.
  std::map<std::string, Reply> replies;
  auto first = pipe.Receive(seconds(10));
  ASSERT_OK(first);
  replies[first->request_id] = *first;
  sessiond.Signal(SIGTERM);
  while (replies.size() < sent.size()) {
    auto r = pipe.Receive(seconds(3));
    if (!r.ok()) break;  // sessiond is gone; the rest got no answer
    replies[r->request_id] = *r;
  }
  auto code = sessiond.WaitExit(seconds(15));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0) << "SIGTERM must exit 0; log:\n" << sessiond.LogTail();

  std::map<std::string, int> outcome;
  std::set<std::pair<int, int>> acked;
  for (const auto& [id, reply] : replies) {
    ASSERT_TRUE(sent.count(id)) << "reply to an unknown request id " << id;
    ++outcome[reply.status_name];
    if (reply.ok()) {
      acked.insert(sent[id]);
    } else {
      EXPECT_TRUE(reply.code == Code::kShuttingDown ||
                  reply.code == Code::kUnavailable)
          << "unexpected " << reply.status_name << " for a valid commit: "
          << (reply.frames.empty() ? "" : reply.frames[0]);
    }
  }
  std::cout << "  " << sent.size() << " commits sent, " << replies.size()
            << " answered:";
  for (const auto& [name, n] : outcome) std::cout << " " << name << "=" << n;
  std::cout << "\n";
  EXPECT_FALSE(acked.empty());

  START_OR_FAIL(sessiond);
  Client check(sessiond.AppOptions());
  std::vector<std::map<std::string, std::string>> data(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    auto s = check.Load(cookies[static_cast<size_t>(i)]);
    ASSERT_OK(s);
    data[static_cast<size_t>(i)] = s->session.data;
  }
  int missing = 0;
  for (const auto& [i, r] : acked) {
    const auto& d = data[static_cast<size_t>(i)];
    auto it = d.find("k" + std::to_string(r));
    if (it == d.end() || it->second != "v" + std::to_string(r)) ++missing;
  }
  EXPECT_EQ(missing, 0) << "acknowledged commits lost across SIGTERM";
}

// ---------------------------------------------------------------------------
// The admin socket and sessionctl.

class SessionctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sessiond_ = std::make_unique<SessiondProcess>(SessiondConfig{});
    START_OR_FAIL(*sessiond_);
  }
  void TearDown() override {
    if (HasFailure() && sessiond_) {
      ADD_FAILURE() << "sessiond log:\n" << sessiond_->LogTail();
    }
  }

  ProgramResult Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::SessionctlBinary(), "--admin",
                                     sessiond_->admin_endpoint(), "--timeout",
                                     "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, seconds(20));
  }

  std::unique_ptr<SessiondProcess> sessiond_;
};

TEST_F(SessionctlTest, AdminSocketIsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(stat(sessiond_->admin_path().c_str(), &st), 0)
      << sessiond_->admin_path();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
}

TEST_F(SessionctlTest, PingAndVersion) {
  ProgramResult ping = Ctl({"ping"});
  EXPECT_TRUE(ping.exited_ok()) << ping.err;
  EXPECT_NE(ping.out.find("PONG"), std::string::npos) << ping.out;

  ProgramResult version = Ctl({"version"});
  EXPECT_TRUE(version.exited_ok()) << version.err;
  EXPECT_NE(version.out.find("sessiond 0."), std::string::npos) << version.out;

  ProgramResult json = Ctl({"--json", "version"});
  EXPECT_TRUE(json.exited_ok()) << json.err;
  EXPECT_EQ(json.out.rfind("{\"server\":\"sessiond ", 0), 0u) << json.out;

  // The endpoint may come from the environment instead of --admin.
  ProgramResult env =
      RunProgram({testing::SessionctlBinary(), "ping"}, seconds(20),
                 {{"SESSIOND_ADMIN", sessiond_->admin_endpoint()}});
  EXPECT_TRUE(env.exited_ok()) << env.err;

  ProgramResult stats = Ctl({"stats"});
  EXPECT_TRUE(stats.exited_ok()) << stats.err;
  EXPECT_NE(stats.out.find("requests"), std::string::npos) << stats.out;
}

TEST_F(SessionctlTest, ListAndRevokeUser) {
  Client app(sessiond_->AppOptions());
  auto a = app.Login("", "carol", {"192.0.2.10", "Laptop"});
  ASSERT_OK(a);
  auto b = app.Login("", "carol", {"192.0.2.11", "Phone"});
  ASSERT_OK(b);

  ProgramResult list = Ctl({"list", "carol"});
  ASSERT_TRUE(list.exited_ok()) << list.err;
  EXPECT_NE(list.out.find(a->session.id), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(b->session.id), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("Phone"), std::string::npos) << list.out;

  ProgramResult json = Ctl({"list", "carol", "--json"});
  ASSERT_TRUE(json.exited_ok()) << json.err;
  auto parsed = ParseSessionListJson(json.out);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->size(), 2u);

  // rotate-keys keeps everyone logged in.
  ProgramResult rotate = Ctl({"rotate-keys"});
  EXPECT_TRUE(rotate.exited_ok()) << rotate.err;
  ASSERT_OK(app.Load(a->cookie));

  ProgramResult revoke = Ctl({"revoke-user", "carol"});
  ASSERT_TRUE(revoke.exited_ok()) << revoke.err;
  EXPECT_NE(revoke.out.find("revoked 2"), std::string::npos) << revoke.out;
  auto gone = app.Load(a->cookie);
  EXPECT_TRUE(IsGone(gone.code())) << gone.status().ToString();
  gone = app.Load(b->cookie);
  EXPECT_TRUE(IsGone(gone.code())) << gone.status().ToString();

  ProgramResult empty = Ctl({"list", "carol", "--json"});
  ASSERT_TRUE(empty.exited_ok()) << empty.err;
  auto none = ParseSessionListJson(empty.out);
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(SessionctlTest, RevokeOthersAndSession) {
  Client app(sessiond_->AppOptions());
  auto a = app.Login("", "dave", {"192.0.2.20", "A"});
  auto b = app.Login("", "dave", {"192.0.2.21", "B"});
  auto c = app.Login("", "dave", {"192.0.2.22", "C"});
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  ProgramResult others = Ctl({"revoke-others", "dave", "--", a->session.id});
  ASSERT_TRUE(others.exited_ok()) << others.err;
  EXPECT_NE(others.out.find("revoked 2"), std::string::npos) << others.out;
  ASSERT_OK(app.Load(a->cookie));
  EXPECT_FALSE(app.Load(b->cookie).ok());

  ProgramResult one = Ctl({"revoke-session", "--", a->session.id});
  ASSERT_TRUE(one.exited_ok()) << one.err;
  EXPECT_FALSE(app.Load(a->cookie).ok());

  // A server error: exit 1 and the code's name.
  ProgramResult missing = Ctl({"revoke-session", "--", a->session.id});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_TRUE(missing.err.find("NOT_FOUND") != std::string::npos ||
              missing.err.find("REVOKED") != std::string::npos)
      << missing.err;
}

TEST_F(SessionctlTest, ExitCodes) {
  ProgramResult usage = Ctl({});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  ProgramResult bad_sub = Ctl({"frobnicate"});
  EXPECT_EQ(bad_sub.exit_code, 2) << bad_sub.err;
  ProgramResult missing_arg = Ctl({"list"});
  EXPECT_EQ(missing_arg.exit_code, 2) << missing_arg.err;
  // A base64url id may start with '-': the usage error says to use '--'.
  ProgramResult dash_id = Ctl({"revoke-session", "-Xy0123456789abcdef"});
  EXPECT_EQ(dash_id.exit_code, 2) << dash_id.err;
  EXPECT_NE(dash_id.err.find("after '--'"), std::string::npos) << dash_id.err;
  ProgramResult dash_ok = Ctl({"revoke-session", "--", "-Xy0123456789abcdef"});
  EXPECT_EQ(dash_ok.exit_code, 1) << dash_ok.err;  // parsed; sessiond answers
  ProgramResult unreachable =
      RunProgram({testing::SessionctlBinary(), "--admin",
                  "ipc://" + sessiond_->data_dir() + "/nobody-here.sock",
                  "--timeout", "0.5", "ping"},
                 seconds(20));
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.err;
}

// ---------------------------------------------------------------------------
// Transport security.

TEST(TransportTest, NonLoopbackTcpWithoutCurveRefusesToStart) {
  SessiondConfig config;
  config.listen =
      "tcp://0.0.0.0:" + std::to_string(testing::FreeLoopbackPort());
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok()) << "sessiond started on " << config.listen
                        << " without CURVE";
  EXPECT_FALSE(sessiond.running());
  std::string log = sessiond.LogTail();
  std::string lower = log;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  EXPECT_NE(lower.find("curve"), std::string::npos)
      << "the refusal should say CURVE is needed; log:\n"
      << log;
  // And the exit code is not 0.
  ProgramResult direct = RunProgram(
      {testing::SessiondBinary(), "--config", sessiond.config_path()},
      seconds(15));
  EXPECT_FALSE(direct.timed_out) << "sessiond did not refuse; it ran";
  EXPECT_NE(direct.exit_code, 0);
}

// A config with CURVE keys: the server's pair, the web app's pair (on the
// app list) and the operator's (on the admin list).
SessiondConfig CurveConfig() {
  SessiondConfig config;
  auto [server_pub, server_sec] = testing::NewCurveKeyPair();
  auto [client_pub, client_sec] = testing::NewCurveKeyPair();
  auto [admin_pub, admin_sec] = testing::NewCurveKeyPair();
  config.curve.server_public = server_pub;
  config.curve.server_secret = server_sec;
  config.curve.client_public = client_pub;
  config.curve.client_secret = client_sec;
  config.curve.app_clients = {client_pub};
  config.curve.admin_public = admin_pub;
  config.curve.admin_secret = admin_sec;
  config.curve.admin_clients = {admin_pub};
  return config;
}

// The admin socket over tcp: only allowed CURVE keys get an answer.
TEST(TransportTest, CurveAdminSocketAnswersOnlyAllowedKeys) {
  SessiondConfig config = CurveConfig();
  config.admin =
      "tcp://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);

  Client allowed(sessiond.AdminOptions());
  ASSERT_OK(allowed.Ping());
  ASSERT_OK(allowed.UserList("nobody"));

  ClientOptions stranger = sessiond.AdminOptions(milliseconds(500));
  auto [other_pub, other_sec] = testing::NewCurveKeyPair();
  stranger.curve_public_key = other_pub;
  stranger.curve_secret_key = other_sec;
  Client unlisted(stranger);
  EXPECT_CODE(unlisted.Ping(), Code::kUnavailable);

  ClientOptions plain = sessiond.AdminOptions(milliseconds(500));
  plain.curve_server_key.clear();
  plain.curve_public_key.clear();
  plain.curve_secret_key.clear();
  Client no_curve(plain);
  EXPECT_CODE(no_curve.Ping(), Code::kUnavailable);

  // sessionctl reads its secret key from a file, never from argv.
  testing::TempDir keys;
  std::string key_file = keys.path() + "/client.key";
  { std::ofstream(key_file) << config.curve.admin_secret << "\n"; }
  ProgramResult ping = RunProgram(
      {testing::SessionctlBinary(), "--admin", sessiond.admin_endpoint(),
       "--curve-server-key", config.curve.server_public,
       "--curve-secret-key-file", key_file, "ping"},
      seconds(20));
  EXPECT_TRUE(ping.exited_ok()) << ping.out << ping.err;
  ProgramResult refused =
      RunProgram({testing::SessionctlBinary(), "--admin",
                  sessiond.admin_endpoint(), "--timeout", "0.5", "ping"},
                 seconds(20));
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
}

// Beyond loopback with CURVE configured, sessiond starts, and the app
// socket answers only CURVE clients.
TEST(TransportTest, NonLoopbackTcpWithCurveStarts) {
  SessiondConfig config = CurveConfig();
  config.listen =
      "tcp://0.0.0.0:" + std::to_string(testing::FreeLoopbackPort());
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);  // its PING probe uses the client keys
  Client app(sessiond.AppOptions());
  ASSERT_OK(app.Create());
  ClientOptions plain = sessiond.AppOptions(milliseconds(500));
  plain.curve_server_key.clear();
  plain.curve_public_key.clear();
  plain.curve_secret_key.clear();
  Client no_curve(plain);
  EXPECT_CODE(no_curve.Ping(), Code::kUnavailable);
}

// ---------------------------------------------------------------------------
// Redis: the same life against a real redis-server, and an outage.

TEST(RedisTest, SessionLifeAndOutage) {
  if (access(testing::RedisServer::kBinary, X_OK) != 0) {
    GTEST_SKIP() << testing::RedisServer::kBinary << " is not installed";
  }
  testing::RedisServer redis;
  ASSERT_OK(redis.Start());
  SessiondConfig config;
  config.backend = "redis";
  config.redis_port = redis.port();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  RunSessionLife(app, "server");

  auto live = app.Login("", "erin", {"192.0.2.30", "UA"});
  ASSERT_OK(live);
  ASSERT_OK(redis.Stop());
  auto during = app.Load(live->cookie);
  EXPECT_CODE(during, Code::kUnavailable);
  EXPECT_CODE(app.Create(), Code::kUnavailable);
  ASSERT_OK(app.Ping());  // sessiond itself keeps answering

  ASSERT_OK(redis.Start());  // same port, empty (no persistence)
  Result<SessionReply> again = Status(Code::kInternal, "not tried");
  auto deadline = Clock::now() + seconds(10);
  while (Clock::now() < deadline) {
    again = app.Create();
    if (again.ok()) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_OK(again);
  ASSERT_OK(app.Load(again->cookie));
  if (HasFailure()) ADD_FAILURE() << "sessiond log:\n" << sessiond.LogTail();
}

}  // namespace
}  // namespace sessiond
