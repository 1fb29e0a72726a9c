// End-to-end tests of the event stream (issue 18 item 3; docs/protocol.md,
// "Events"): the real sessiond with [events] listen, a real ZeroMQ SUB on
// its socket, and the C++ client. Each state change emits exactly one
// event of its type; a refused request emits none. "Exactly" is checked
// against a fence: after the request under test, one CREATE (whose
// session_created event is the fence); every event before the fence is
// what the request emitted, since the loop publishes in order.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "dbsc/test_keys.h"
#include "gtest/gtest.h"
#include "import/json.h"
#include "import/legacy_cookie.h"
#include "sessiond/client.h"
#include "testing/process.h"
#include "testing/sessiond_process.h"
#include "testing/status_asserts.h"

namespace sessiond {
namespace {

using testing::RunProgram;
using testing::SessiondConfig;
using testing::SessiondProcess;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kRevokedUri =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
constexpr const char* kEstablishedUri =
    "https://schemas.openid.net/secevent/caep/event-type/session-established";

struct Ev {
  std::string topic;
  nlohmann::json json;
  std::string raw;
  std::string type() const { return json["sessiond"].value("type", ""); }
  std::string field(const char* k) const {
    return json["sessiond"].value(k, "");
  }
};

// A sessiond with an events socket in its own private directory, and a
// subscriber on it.
class EventsFixture {
 public:
  explicit EventsFixture(SessiondConfig config, int max_queue = 10000,
                         std::string endpoint = "")
      : events_dir_("sd-events") {
    endpoint_ = endpoint.empty()
                    ? "ipc://" + events_dir_.path() + "/events.sock"
                    : std::move(endpoint);
    config.extra_tables += "[events]\nlisten = \"" + endpoint_ +
                           "\"\nmax_queue = " + std::to_string(max_queue) +
                           "\n";
    sessiond_ = std::make_unique<SessiondProcess>(config);
  }

  Status Start() {
    SESSIOND_RETURN_IF_ERROR(sessiond_->Start());
    app_ = std::make_unique<Client>(sessiond_->AppOptions());
    admin_ = std::make_unique<Client>(sessiond_->AdminOptions());
    return Status();
  }

  // Connects the subscriber and waits until it hears events: CREATEs until
  // one arrives (a SUB hears nothing until its subscription reached the
  // publisher), then drains to a fence.
  Status Subscribe() {
    sub_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::sub);
    if (!curve_server_key_.empty()) {
      sub_->set(zmq::sockopt::curve_serverkey, curve_server_key_);
      sub_->set(zmq::sockopt::curve_publickey, curve_public_);
      sub_->set(zmq::sockopt::curve_secretkey, curve_secret_);
    }
    sub_->set(zmq::sockopt::rcvtimeo, 100);
    sub_->set(zmq::sockopt::linger, 0);
    sub_->set(zmq::sockopt::subscribe, "");
    sub_->connect(endpoint_);
    for (int i = 0; i < 600; ++i) {
      if (!app_->Create().ok()) return Status(Code::kInternal, "CREATE failed");
      if (Receive(100ms))
        return Fence().ok() ? Status() : Status(Code::kInternal, "no fence");
    }
    return Status(Code::kUnavailable, "the subscriber heard nothing");
  }

  // One event, or nullopt after `wait` (a deadline for a missing event,
  // never a measurement).
  std::optional<Ev> Receive(std::chrono::milliseconds wait = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<zmq::message_t> parts;
      zmq::message_t part;
      if (!sub_->recv(part)) continue;  // the receive timeout
      parts.push_back(std::move(part));
      while (parts.back().more()) {  // the rest of a message is there
        zmq::message_t next;
        if (!sub_->recv(next)) break;
        parts.push_back(std::move(next));
      }
      Ev ev;
      if (parts.size() != 2) {
        ADD_FAILURE() << "an event of " << parts.size() << " frames";
        return std::nullopt;
      }
      ev.topic = parts[0].to_string();
      ev.raw = parts[1].to_string();
      ev.json = nlohmann::json::parse(ev.raw, nullptr, false);
      EXPECT_TRUE(ev.json.is_object()) << ev.raw;
      return ev;
    }
    return std::nullopt;
  }

  // CREATE a marker session and return every event before its
  // session_created. For a request that itself emits session_created
  // (by_keys), the marker is a KEYS_ROTATE instead (keys_rotated; older
  // keys keep verifying, so nothing else changes for the test).
  Result<std::vector<Ev>> Fence(bool by_keys = false) {
    const char* marker = by_keys ? "keys_rotated" : "session_created";
    if (by_keys ? !admin_->KeysRotate().ok() : !app_->Create().ok()) {
      return Status(Code::kInternal, "the fence's request failed");
    }
    std::vector<Ev> before;
    for (;;) {
      std::optional<Ev> ev = Receive();
      if (!ev) return Status(Code::kUnavailable, "no fence event");
      if (ev->topic == marker) return before;
      before.push_back(std::move(*ev));
    }
  }

  Result<nlohmann::json> Stats() {
    Result<std::string> s = admin_->Stats();
    if (!s.ok()) return s.status();
    return nlohmann::json::parse(*s);
  }

  std::string endpoint_;
  std::string curve_server_key_, curve_public_, curve_secret_;  // tcp
  TempDir events_dir_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> sub_;
  std::unique_ptr<SessiondProcess> sessiond_;
  std::unique_ptr<Client> app_;
  std::unique_ptr<Client> admin_;
};

// Checks the SET shape every event has.
void ExpectSetShape(const Ev& ev, const std::string& uri) {
  EXPECT_EQ(ev.topic, ev.type());
  EXPECT_EQ(ev.json.value("iss", ""), "sessiond");
  EXPECT_EQ(ev.json.value("jti", "").size(), 32u);
  EXPECT_GT(ev.json.value("iat", int64_t{0}), 0);
  ASSERT_TRUE(ev.json["events"].contains(uri)) << ev.raw;
  const auto& body = ev.json["events"][uri];
  EXPECT_EQ(body["subject"]["format"], "opaque");
  EXPECT_EQ(body["subject"], ev.json["sub_id"]);
  EXPECT_TRUE(body["reason_admin"]["en"].is_string());
  EXPECT_TRUE(body.contains("event_timestamp"));
}

class EventsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SessiondConfig config;
    config.mode = GetParam();
    config.backend = "memory";
    Configure(config);
    f_ = std::make_unique<EventsFixture>(config);
    Status st = f_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = f_->Subscribe();
    ASSERT_TRUE(st.ok()) << st.ToString() << f_->sessiond_->LogTail();
  }
  virtual void Configure(SessiondConfig&) {}
  void TearDown() override {
    if (HasFailure()) ADD_FAILURE() << f_->sessiond_->LogTail();
  }
  bool Stateful() const { return GetParam() != "client"; }

  // The request under test emitted exactly one event, of `type`.
  Ev One(const std::string& type, bool by_keys = false) {
    auto evs = f_->Fence(by_keys);
    EXPECT_TRUE(evs.ok()) << evs.status().ToString();
    if (!evs.ok()) return Ev{};
    EXPECT_EQ(evs->size(), 1u) << "events: " << [&] {
      std::string s;
      for (const Ev& e : *evs) s += e.raw + "\n";
      return s;
    }();
    if (evs->empty()) return Ev{};
    EXPECT_EQ((*evs)[0].topic, type) << (*evs)[0].raw;
    return (*evs)[0];
  }
  void None() {
    auto evs = f_->Fence();
    ASSERT_TRUE(evs.ok()) << evs.status().ToString();
    EXPECT_TRUE(evs->empty()) << (*evs)[0].raw;
  }

  std::unique_ptr<EventsFixture> f_;
};

TEST_P(EventsTest, CreateEmitsSessionCreatedAndNeverTheRawIdOrCookie) {
  auto s = f_->app_->Create();
  ASSERT_OK(s);
  Ev ev = One("session_created", /*by_keys=*/true);
  ExpectSetShape(ev, kEstablishedUri);
  EXPECT_EQ(ev.field("verb"), "CREATE");
  EXPECT_EQ(ev.field("socket"), "app");
  EXPECT_EQ(ev.json["events"][kEstablishedUri]["initiating_entity"], "user");
  EXPECT_EQ(ev.raw.find(s->cookie), std::string::npos);
  if (!s->session.id.empty()) {
    EXPECT_EQ(ev.raw.find(s->session.id), std::string::npos);
    EXPECT_EQ(ev.field("session").size(), 22u);
  }
}

TEST_P(EventsTest, LoginEmitsLoginAndABadOneNothing) {
  auto in = f_->app_->Login("", "alice");
  ASSERT_OK(in);
  Ev ev = One("login");
  ExpectSetShape(ev, kEstablishedUri);
  EXPECT_EQ(ev.field("verb"), "LOGIN");
  EXPECT_EQ(ev.field("user_tag").size(), 8u);
  EXPECT_EQ(ev.raw.find("alice"), std::string::npos);  // include_user_id off
  EXPECT_FALSE(f_->app_->Login("", std::string(2000, 'x')).ok());
  None();
}

TEST_P(EventsTest, LogoutNamesTheSessionLoginNamedAndAForgedOneNothing) {
  auto in = f_->app_->Login("", "alice");
  ASSERT_OK(in);
  Ev login = One("login");
  ASSERT_OK(f_->app_->Logout(in->cookie));
  Ev out = One("logout");
  ExpectSetShape(out, kRevokedUri);
  EXPECT_EQ(out.field("user_tag"), login.field("user_tag"));
  if (Stateful()) {
    EXPECT_EQ(out.field("session"), login.field("session"));
  }
  std::string forged = in->cookie;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(f_->app_->Logout(forged).ok());
  None();
}

TEST_P(EventsTest, RevokeOthersEmitsOneWithTheCount) {
  auto a = f_->app_->Login("", "alice");
  ASSERT_OK(a);
  One("login");
  auto b = f_->app_->Login("", "alice");
  ASSERT_OK(b);
  One("login");
  ASSERT_OK(f_->app_->RevokeOthers(b->cookie));
  Ev ev = One("others_revoked");
  ExpectSetShape(ev, kRevokedUri);
  EXPECT_EQ(ev.field("verb"), "REVOKE_OTHERS");
  if (Stateful()) {
    EXPECT_EQ(ev.json["sessiond"]["count"], 1);
  } else {
    EXPECT_EQ(ev.field("reason"), "epoch");
  }
  auto anon = f_->app_->Create();
  ASSERT_OK(anon);
  One("session_created", /*by_keys=*/true);
  EXPECT_FALSE(f_->app_->RevokeOthers(anon->cookie).ok());  // anonymous
  None();
}

TEST_P(EventsTest, BumpEpochEmitsACredentialChange) {
  auto a = f_->app_->Login("", "alice");
  ASSERT_OK(a);
  One("login");
  ASSERT_OK(f_->app_->BumpEpoch(a->cookie));
  Ev ev = One("epoch_bumped");
  const std::string uri =
      "https://schemas.openid.net/secevent/caep/event-type/credential-change";
  ExpectSetShape(ev, uri);
  EXPECT_EQ(ev.json["events"][uri]["credential_type"], "password");
  EXPECT_EQ(ev.field("reason"), "password_changed");
}

TEST_P(EventsTest, AdminRevocationsSayVerbAndSocket) {
  auto a = f_->app_->Login("", "alice");
  ASSERT_OK(a);
  One("login");
  auto n = f_->admin_->UserRevoke("alice");
  ASSERT_OK(n);
  Ev ev = One("user_revoked");
  ExpectSetShape(ev, kRevokedUri);
  EXPECT_EQ(ev.field("verb"), "USER_REVOKE");
  EXPECT_EQ(ev.field("socket"), "admin");
  EXPECT_EQ(ev.json["events"][kRevokedUri]["initiating_entity"], "admin");
  EXPECT_EQ(ev.json["sessiond"]["count"], *n);
  EXPECT_FALSE(f_->admin_->UserRevoke("").ok());
  None();
  if (!Stateful()) return;  // the other two name sessions by id

  auto b = f_->app_->Login("", "bob");
  auto keep = f_->app_->Login("", "bob");
  ASSERT_OK(b);
  ASSERT_OK(keep);
  auto logins = f_->Fence();
  ASSERT_OK(logins);
  ASSERT_EQ(logins->size(), 2u);
  ASSERT_OK(f_->admin_->UserRevokeOthers("bob", keep->session.id));
  Ev others = One("others_revoked");
  EXPECT_EQ(others.field("verb"), "USER_REVOKE_OTHERS");
  EXPECT_EQ(others.json["sessiond"]["count"], 1);
  Status st = f_->admin_->SessionRevoke(keep->session.id);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Ev one = One("session_revoked");
  EXPECT_EQ(one.field("verb"), "SESSION_REVOKE");
  EXPECT_EQ(one.field("socket"), "admin");
  EXPECT_EQ(one.raw.find(keep->session.id), std::string::npos);
  // Already ended: refused, nothing emitted.
  EXPECT_FALSE(f_->admin_->SessionRevoke(keep->session.id).ok());
  None();
}

TEST_P(EventsTest, KeysRotateEmitsKeysRotated) {
  auto id = f_->admin_->KeysRotate();
  ASSERT_OK(id);
  Ev ev = One("keys_rotated");
  ExpectSetShape(ev, "urn:sessiond:event:keys_rotated");
  EXPECT_EQ(ev.field("detail"), "new key id " + std::to_string(*id));
  // Past the year 10000: refused, and nothing rotated.
  EXPECT_FALSE(
      f_->admin_->KeysRotate(std::numeric_limits<int64_t>::max()).ok());
  None();
}

TEST_P(EventsTest, StatsCountsWhatWasSent) {
  auto stats = f_->Stats();
  ASSERT_OK(stats);
  EXPECT_GT((*stats)["events_sent"].get<int64_t>(), 0);
  EXPECT_EQ((*stats)["events_dropped"], 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, EventsTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// [session] max_per_user = 1, evict_oldest: the login, then the eviction.
class LimitEventsTest : public EventsTest {
  void Configure(SessiondConfig& c) override {
    c.session_extra = {"max_per_user = 1"};
  }
};

TEST_P(LimitEventsTest, TheLimitEndingTheOldestIsOneEvent) {
  ASSERT_OK(f_->app_->Login("", "alice"));
  One("login");
  ASSERT_OK(f_->app_->Login("", "alice"));
  auto evs = f_->Fence();
  ASSERT_OK(evs);
  ASSERT_EQ(evs->size(), 2u);
  EXPECT_EQ((*evs)[0].topic, "login");
  EXPECT_EQ((*evs)[1].topic, "session_limit");
  EXPECT_EQ((*evs)[1].json["events"][kRevokedUri]["initiating_entity"],
            "policy");
  EXPECT_EQ((*evs)[1].field("user_tag"), (*evs)[0].field("user_tag"));
  EXPECT_NE((*evs)[1].field("session"), (*evs)[0].field("session"));
}

INSTANTIATE_TEST_SUITE_P(Modes, LimitEventsTest,
                         ::testing::Values("server", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// Rotation with reuse detection: a copy presented after the grace ends the
// session, and that is one theft_detected however often the copy returns.
class TheftEventsTest : public EventsTest {
  void Configure(SessiondConfig& c) override {
    c.session_extra = {"rotate_after = 2", "rotation_grace = 1"};
  }
};

TEST_P(TheftEventsTest, AnOldCopyIsOneTheftEvent) {
  auto in = f_->app_->Login("", "alice");
  ASSERT_OK(in);
  Ev login = One("login");
  // Wait (for a state, not a time) until LOAD rotates the cookie.
  std::string rotated;
  for (int i = 0; i < 200 && rotated.empty(); ++i) {
    auto r = f_->app_->Load(in->cookie);
    ASSERT_OK(r);
    if (r->cookie != in->cookie)
      rotated = r->cookie;
    else
      std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(rotated.empty());
  None();  // a rotation is not an event
  // Until the grace is over the old copy still loads; then it is theft.
  Result<SessionReply> old = f_->app_->Load(in->cookie);
  for (int i = 0; i < 200 && old.ok(); ++i) {
    std::this_thread::sleep_for(50ms);
    old = f_->app_->Load(in->cookie);
  }
  ASSERT_EQ(old.code(), Code::kRevoked);
  Ev theft = One("theft_detected");
  ExpectSetShape(theft, kRevokedUri);
  EXPECT_EQ(theft.field("session"), login.field("session"));
  EXPECT_EQ(theft.json["events"][kRevokedUri]["initiating_entity"], "policy");
  EXPECT_FALSE(f_->app_->Load(in->cookie).ok());
  EXPECT_FALSE(f_->app_->Load(rotated).ok());
  None();  // already ended: no second event
}

INSTANTIATE_TEST_SUITE_P(Modes, TheftEventsTest,
                         ::testing::Values("server", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// DBSC (docs/dbsc.md): registration, refresh, a refused refresh (the one
// refusal that is an event: a proof by another key is what a thief
// sends) and the binding's end, one event each, with the verb.
TEST(DbscEventsTest, EachOutcomeIsOneEvent) {
  SessiondConfig config;
  config.backend = "memory";
  EventsFixture f(config);
  ASSERT_OK(f.Start());
  ASSERT_OK(f.Subscribe());
  auto field = [](const std::string& text, const char* name) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    return j.is_object() && j.contains(name) ? j[name].get<std::string>()
                                             : std::string();
  };
  auto proof = [](const dbsc::testing::LocalKey& key,
                  const std::string& challenge, bool registration) {
    nlohmann::json header = {{"alg", "ES256"}, {"typ", "dbsc+jwt"}};
    if (registration) header["jwk"] = nlohmann::json::parse(key.PublicJwk());
    return key.Jws(header.dump(), nlohmann::json{{"jti", challenge}}.dump());
  };
  auto one = [&f](const std::string& type, const std::string& verb) {
    auto evs = f.Fence();
    EXPECT_TRUE(evs.ok());
    if (!evs.ok()) return Ev{};
    EXPECT_EQ(evs->size(), 1u);
    if (evs->empty()) return Ev{};
    EXPECT_EQ((*evs)[0].topic, type) << (*evs)[0].raw;
    EXPECT_EQ((*evs)[0].field("verb"), verb);
    ExpectSetShape((*evs)[0], type.starts_with("dbsc_")
                                  ? "urn:sessiond:event:" + type
                                  : std::string(kEstablishedUri));
    return (*evs)[0];
  };

  auto in = f.app_->Login("", "alice");
  ASSERT_OK(in);
  one("login", "LOGIN");
  auto offer = f.app_->DbscOffer(in->cookie);
  ASSERT_OK(offer);
  auto key = dbsc::testing::LocalKey::P256();
  auto bound = f.app_->DbscRegister(
      in->cookie, proof(key, field(*offer, "challenge"), true));
  ASSERT_OK(bound);
  const std::string dbsc_id = field(bound->binding_json, "dbsc_id");
  Ev reg = one("dbsc_registered", "DBSC_REGISTER");
  EXPECT_NE(reg.field("detail").find(dbsc_id), std::string::npos);

  const std::string cookie = bound->session.cookie;
  auto next = f.app_->DbscChallenge(cookie, dbsc_id);
  ASSERT_OK(next);
  auto refreshed = f.app_->DbscRefresh(
      cookie, dbsc_id, proof(key, field(*next, "challenge"), false));
  ASSERT_OK(refreshed);
  one("dbsc_refreshed", "DBSC_REFRESH");

  auto again = f.app_->DbscChallenge(refreshed->session.cookie, dbsc_id);
  ASSERT_OK(again);
  auto thief = dbsc::testing::LocalKey::P256();
  EXPECT_FALSE(
      f.app_
          ->DbscRefresh(refreshed->session.cookie, dbsc_id,
                        proof(thief, field(*again, "challenge"), false))
          .ok());
  Ev failed = one("dbsc_refresh_failed", "DBSC_REFRESH");
  EXPECT_NE(failed.field("detail").find("bad_signature"), std::string::npos)
      << failed.raw;

  ASSERT_OK(f.app_->DbscEnd(refreshed->session.cookie));
  one("dbsc_ended", "DBSC_END");
}

// IMPORT: the import that makes the session is one event; importing the
// same old cookie again hands back that session and emits nothing, and so
// does a forged cookie.
TEST(ImportEventsTest, OnlyTheImportThatMadeTheSessionEmits) {
  TempDir secrets_dir("sd-events-import");
  const std::string secrets = secrets_dir.path() + "/flask.secrets";
  const std::string secret = "events-test-flask-secret";
  int fd = ::open(secrets.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  const std::string line = secret + "\n";
  ASSERT_EQ(::write(fd, line.data(), line.size()),
            static_cast<ssize_t>(line.size()));
  ::close(fd);
  SessiondConfig config;
  config.backend = "memory";
  config.extra_toml = "[import.flask]\nsecrets_file = \"" + secrets + "\"\n";
  EventsFixture f(config);
  ASSERT_OK(f.Start());
  ASSERT_OK(f.Subscribe());

  FlaskCookieOptions options;
  options.secret_keys = {secret};
  auto flask = NewFlaskCookieFormat(options);
  ASSERT_OK(flask);
  auto data = ParseJson(R"({"_user_id": "77"})", JsonDialect::kPython);
  ASSERT_OK(data);
  LegacyRenderInput in;
  in.data = std::move(*data);
  in.now_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  auto old = (*flask)->Render(in);
  ASSERT_OK(old);

  auto first = f.app_->Import("flask", *old);
  ASSERT_OK(first);
  ASSERT_TRUE(first->created);
  auto evs = f.Fence();
  ASSERT_OK(evs);
  ASSERT_EQ(evs->size(), 1u);
  const Ev& ev = (*evs)[0];
  EXPECT_EQ(ev.topic, "imported");
  ExpectSetShape(ev, kEstablishedUri);
  EXPECT_EQ(ev.field("verb"), "IMPORT");
  EXPECT_EQ(ev.field("reason"), "flask");
  EXPECT_EQ(ev.raw.find(*old), std::string::npos);

  auto again = f.app_->Import("flask", *old);
  ASSERT_OK(again);
  EXPECT_FALSE(again->created);
  evs = f.Fence();
  ASSERT_OK(evs);
  EXPECT_TRUE(evs->empty());

  std::string forged = *old;
  // The signature's first character: all six of its bits are signature
  // bits (the last character's low bits are padding, which base64 decoding
  // ignores, so flipping only those leaves a cookie Flask accepts).
  char& c = forged[forged.rfind('.') + 1];
  c = c == 'A' ? 'Q' : 'A';
  EXPECT_FALSE(f.app_->Import("flask", forged).ok());
  evs = f.Fence();
  ASSERT_OK(evs);
  EXPECT_TRUE(evs->empty());
}

// --- the socket --------------------------------------------------------------

TEST(EventsSocketTest, TheSocketFileIsOwnerOnly) {
  SessiondConfig config;
  config.backend = "memory";
  EventsFixture f(config);
  Status st = f.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  struct stat sb {};
  ASSERT_EQ(::stat((f.events_dir_.path() + "/events.sock").c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
}

TEST(EventsSocketTest, TcpWithoutCurveIsRefusedLoopbackToo) {
  for (const char* host : {"tcp://127.0.0.1:", "tcp://0.0.0.0:"}) {
    const std::string buf = host + std::to_string(testing::FreeLoopbackPort());
    SessiondConfig config;
    config.backend = "memory";
    config.extra_tables = std::string("[events]\nlisten = \"") + buf + "\"\n";
    SessiondProcess sessiond(config);
    Status st = sessiond.Start();
    EXPECT_FALSE(st.ok()) << buf;
    EXPECT_NE(sessiond.LogTail().find("[events] listen"), std::string::npos)
        << sessiond.LogTail();
  }
}

// tcp with CURVE: a key on the admin list subscribes and hears events; the
// web app's key (app list) fails the handshake (the ZAP handler's 400,
// seen by the SUB's own monitor: an event, not a timeout).
TEST(EventsSocketTest, TcpWithCurveAdmitsTheAdminListOnly) {
  SessiondConfig config;
  config.backend = "memory";
  auto [server_pub, server_sec] = testing::NewCurveKeyPair();
  auto [app_pub, app_sec] = testing::NewCurveKeyPair();
  auto [admin_pub, admin_sec] = testing::NewCurveKeyPair();
  config.curve.server_public = server_pub;
  config.curve.server_secret = server_sec;
  config.curve.app_clients = {app_pub};
  config.curve.admin_clients = {admin_pub};
  config.curve.admin_public = admin_pub;
  config.curve.admin_secret = admin_sec;
  EventsFixture f(
      config, 10000,
      "tcp://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()));
  f.curve_server_key_ = server_pub;
  f.curve_public_ = admin_pub;
  f.curve_secret_ = admin_sec;
  ASSERT_OK(f.Start());
  ASSERT_OK(f.Subscribe());
  ASSERT_OK(f.app_->Login("", "alice"));
  auto evs = f.Fence();
  ASSERT_OK(evs);
  ASSERT_EQ(evs->size(), 1u);
  EXPECT_EQ((*evs)[0].topic, "login");

  zmq::socket_t intruder(f.ctx_, zmq::socket_type::sub);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::curve_serverkey, server_pub);
  intruder.set(zmq::sockopt::curve_publickey, app_pub);
  intruder.set(zmq::sockopt::curve_secretkey, app_sec);
  intruder.set(zmq::sockopt::subscribe, "");
  ASSERT_EQ(zmq_socket_monitor(intruder.handle(), "inproc://intruder-mon",
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                   ZMQ_EVENT_HANDSHAKE_SUCCEEDED),
            0);
  zmq::socket_t mon(f.ctx_, zmq::socket_type::pair);
  mon.set(zmq::sockopt::rcvtimeo, 20000);  // a deadline, not a measurement
  mon.connect("inproc://intruder-mon");
  intruder.connect(f.endpoint_);
  zmq::message_t head, addr;
  ASSERT_TRUE(mon.recv(head));
  ASSERT_TRUE(mon.recv(addr));
  uint16_t event = 0;
  uint32_t value = 0;
  std::memcpy(&event, head.data(), sizeof(event));
  std::memcpy(&value, static_cast<const char*>(head.data()) + 2, sizeof(value));
  EXPECT_EQ(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  EXPECT_EQ(value, 400u);
}

// A subscriber that never reads: events past its queue are dropped and
// counted, and the app socket keeps answering.
TEST(EventsSocketTest, ASubscriberThatNeverReadsIsDroppedAndCounted) {
  SessiondConfig config;
  config.backend = "memory";
  EventsFixture f(config, /*max_queue=*/10);
  ASSERT_OK(f.Start());
  ASSERT_OK(f.Subscribe());
  f.sub_->set(zmq::sockopt::rcvhwm, 1);  // and from here on it never reads
  int64_t dropped = 0;
  for (int i = 0; i < 200000 && dropped == 0; ++i) {
    ASSERT_OK(f.app_->Create());
    if (i % 200 == 199) {
      auto stats = f.Stats();
      ASSERT_OK(stats);
      dropped = (*stats)["events_dropped"].get<int64_t>();
    }
  }
  EXPECT_GT(dropped, 0);
  Status ping = f.app_->Ping();
  EXPECT_TRUE(ping.ok()) << ping.ToString();
  ASSERT_OK(f.app_->Login("", "alice"));  // still served
  auto stats = f.Stats();
  ASSERT_OK(stats);
  EXPECT_GE((*stats)["events_dropped"].get<int64_t>(), dropped);
}

// sessionctl watch --count prints what was emitted, one line each.
TEST(EventsSocketTest, SessionctlWatchPrintsTheEvents) {
  SessiondConfig config;
  config.backend = "memory";
  EventsFixture f(config);
  ASSERT_OK(f.Start());
  ASSERT_OK(f.Subscribe());  // the stream is up
  TempDir out_dir("sd-watch");
  testing::SpawnOptions opts;
  opts.out_path = out_dir.path() + "/out";
  opts.err_path = out_dir.path() + "/err";
  pid_t json_pid = testing::Spawn(
      {testing::SessionctlBinary(), "--json", "watch", "--events", f.endpoint_,
       "--count", "2", "login", "keys_rotated"},
      opts);
  testing::SpawnOptions human_opts = opts;
  human_opts.out_path = out_dir.path() + "/human";
  pid_t human_pid =
      testing::Spawn({testing::SessionctlBinary(), "watch", "--events",
                      f.endpoint_, "--count", "1", "login"},
                     human_opts);
  ASSERT_GT(json_pid, 0);
  ASSERT_GT(human_pid, 0);
  // Logins until both have printed (they subscribe in their own time);
  // each login is one line for each.
  std::optional<int> json_exit, human_exit;
  for (int i = 0; i < 400 && !(json_exit && human_exit); ++i) {
    ASSERT_OK(f.app_->Login("", "alice"));
    if (!json_exit) json_exit = testing::WaitForExit(json_pid, 50ms);
    if (!human_exit) human_exit = testing::WaitForExit(human_pid, 0ms);
  }
  ASSERT_TRUE(json_exit && human_exit) << testing::ReadTextFile(opts.err_path);
  EXPECT_EQ(testing::DecodeWaitStatus(*json_exit), 0);
  EXPECT_EQ(testing::DecodeWaitStatus(*human_exit), 0);
  std::string json = testing::ReadTextFile(opts.out_path);
  size_t lines = 0;
  for (size_t at = 0; (at = json.find('\n', at)) != std::string::npos; ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << json;
  nlohmann::json first =
      nlohmann::json::parse(json.substr(0, json.find('\n')), nullptr, false);
  ASSERT_TRUE(first.is_object()) << json;
  EXPECT_EQ(first["sessiond"]["type"], "login");  // the filter held
  std::string human = testing::ReadTextFile(human_opts.out_path);
  EXPECT_NE(human.find(" login verb=LOGIN socket=app"), std::string::npos)
      << human;

  // Until SIGTERM without --count, then exit 0.
  opts.err_path = out_dir.path() + "/forever.err";
  pid_t forever = testing::Spawn(
      {testing::SessionctlBinary(), "watch", "--events", f.endpoint_}, opts);
  ASSERT_GT(forever, 0);
  // Waits (for the line, not for a time) until it says it is watching.
  for (int i = 0; i < 400; ++i) {
    if (testing::ReadTextFile(opts.err_path).find("watching") !=
        std::string::npos) {
      break;
    }
    ASSERT_FALSE(testing::WaitForExit(forever, 50ms).has_value());
  }
  ::kill(forever, SIGTERM);
  std::optional<int> end = testing::WaitForExit(forever, 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(testing::DecodeWaitStatus(*end), 0);
}

}  // namespace
}  // namespace sessiond
