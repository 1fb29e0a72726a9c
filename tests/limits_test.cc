// Limits of the real sessiond binary under clients that misbehave (issue
// 12, item 2, and item 3 for the store): replies to clients that never
// read, huge envelopes, a reply-memory budget, and a full LMDB map that
// must never block revocation. Each test reproduces the attack
// against the daemon and asserts memory figures (VmHWM, the peak resident
// set, from /proc) and STATS counters, never times.
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "testing/sessiond_process.h"

namespace sessiond {
namespace {

using json = nlohmann::json;
using testing::SessiondConfig;
using testing::SessiondProcess;
using Clock = std::chrono::steady_clock;

// Under AddressSanitizer the daemon's RSS says little about its live
// memory: freed blocks wait in ASan's quarantine (256 MB by default) to
// catch uses after free. The RSS bounds are checked in the other builds;
// every counter and every "still served" check runs in all of them.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif

#define START_OR_FAIL(proc)                  \
  do {                                       \
    Status _st = (proc).Start();             \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

// A field of /proc/PID/status in KiB (VmRSS, VmHWM), or -1.
long StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

json Stats(const SessiondProcess& d) {
  Client admin(d.AdminOptions());
  Result<std::string> text = admin.Stats();
  if (!text.ok()) return json();
  return json::parse(*text);
}

// Waits (up to a deadline, not an assertion on time) until STATS says the
// daemon has read `at_least` app messages, answered or dropped.
json WaitForRequests(const SessiondProcess& d, uint64_t at_least) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  json stats;
  while (Clock::now() < deadline) {
    stats = Stats(d);
    if (!stats.is_null() &&
        stats["app"]["in"].get<uint64_t>() +
                stats["drops"]["oversized"].get<uint64_t>() >=
            at_least) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return stats;
}

void SendAll(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    s.send(zmq::buffer(frames[i]), i + 1 < frames.size()
                                       ? zmq::send_flags::sndmore
                                       : zmq::send_flags::none);
  }
}

// A DEALER that queues without limit on its side and never reads.
zmq::socket_t Hostile(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 1);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

// A session whose every LOAD reply is about 15 KiB, as in the issue.
std::string BigSession(const SessiondProcess& d) {
  Client app(d.AppOptions());
  auto created = app.Create({});
  EXPECT_TRUE(created.ok());
  if (!created.ok()) return {};
  ChangeSet changes;
  changes.base_version = created->session.version;
  changes.set["big"] = std::string(15000, 'x');
  auto committed = app.Commit(created->cookie, changes);
  EXPECT_TRUE(committed.ok()) << committed.status().ToString();
  return created->cookie;
}

// Issue 12: "4 such DEALERs took RSS from 12 to 383 MiB". With the
// defaults, each peer that does not read holds at most send_hwm (1000)
// replies; the rest are dropped and counted, and everyone else is served.
TEST(MemoryTest, DealersThatNeverReadStayBoundedAndCounted) {
  SessiondProcess d;
  START_OR_FAIL(d);
  const std::string cookie = BigSession(d);
  ASSERT_FALSE(cookie.empty());
  const long base_kib = StatusKib(d.pid(), "VmRSS");
  ASSERT_GT(base_kib, 0);

  zmq::context_t ctx(1);
  constexpr int kPeers = 4, kEach = 15000;  // 60k replies of 15 KiB: 900 MiB
  std::vector<zmq::socket_t> bad;
  for (int i = 0; i < kPeers; ++i)
    bad.push_back(Hostile(ctx, d.app_endpoint()));
  for (int n = 0; n < kEach; ++n) {
    for (auto& s : bad) SendAll(s, {"", "SD1", "x", "LOAD", cookie});
  }
  const json stats = WaitForRequests(d, kPeers * kEach);
  ASSERT_FALSE(stats.is_null());

  // Still serving others, at once and correctly.
  Client app(d.AppOptions());
  auto loaded = app.Load(cookie);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->session.data.at("big").size(), 15000u);

  // Memory: the peak resident set grew by the replies the peers may hold
  // (4 x 1000 x ~15 KiB = ~60 MiB) and a margin, not by 900 MiB.
  const long peak_kib = StatusKib(d.pid(), "VmHWM");
  std::printf("RSS %ld KiB before, peak %ld KiB; STATS %s\n", base_kib,
              peak_kib, stats.dump().c_str());
  if (kRssMeaningful) {
    EXPECT_LT(peak_kib - base_kib, 120 * 1024);
  }
  // Every reply that did not fit was counted.
  const uint64_t not_read = stats["drops"]["reply_not_read"].get<uint64_t>();
  EXPECT_GT(not_read, 0u);
  EXPECT_GE(stats["dropped"].get<uint64_t>(), not_read);
  EXPECT_LE(stats["memory"]["held_bytes"].get<uint64_t>(),
            uint64_t{kPeers} * 1001 * 16 * 1024);
}

// Issue 12: "40 PINGs with 16 x 1 MiB envelopes took RSS to 904 MiB in
// 1 s", the envelope being echoed in every reply. Such messages are
// dropped as they are read, frame by frame, and counted.
TEST(MemoryTest, HugeEnvelopesAreDroppedAsTheyComeAndCounted) {
  SessiondProcess d;
  START_OR_FAIL(d);
  const long base_kib = StatusKib(d.pid(), "VmRSS");
  zmq::context_t ctx(1);
  zmq::socket_t s = Hostile(ctx, d.app_endpoint());
  const std::string mib(1 << 20, 'e');
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> frames(16, mib);
    for (const char* f : {"", "SD1", "p", "PING"}) frames.emplace_back(f);
    SendAll(s, frames);
  }
  // And envelopes that are small in bytes but over the frame-count or the
  // per-frame limit: nine routing frames, or one of 256 bytes.
  std::vector<std::string> nine(8, "hop");
  for (const char* f : {"", "SD1", "p", "PING"}) nine.emplace_back(f);
  SendAll(s, nine);  // 8 here + the ROUTER's own = 9 envelope frames
  SendAll(s, {std::string(256, 'w'), "", "SD1", "p", "PING"});
  // Within the limits: answered (and read back on a reading socket).
  zmq::socket_t ok(ctx, zmq::socket_type::dealer);
  ok.connect(d.app_endpoint());
  SendAll(ok, {"hop", "", "SD1", "q", "PING"});
  zmq::pollitem_t item{ok.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::seconds(10)), 1);
  std::vector<zmq::message_t> reply;
  for (;;) {
    zmq::message_t m;
    ASSERT_TRUE(ok.recv(m));
    const bool more = m.more();
    reply.push_back(std::move(m));
    if (!more) break;
  }
  ASSERT_EQ(reply.size(), 6u);
  EXPECT_EQ(reply[0].to_string(), "hop");
  EXPECT_EQ(reply[4].to_string(), "OK");

  const json stats = WaitForRequests(d, 44);
  const long peak_kib = StatusKib(d.pid(), "VmHWM");
  std::printf("RSS %ld KiB before, peak %ld KiB; STATS %s\n", base_kib,
              peak_kib, stats.dump().c_str());
  EXPECT_EQ(stats["drops"]["oversized"].get<uint64_t>(), 40u);
  EXPECT_EQ(stats["drops"]["envelope"].get<uint64_t>(), 2u);
  EXPECT_GE(stats["dropped"].get<uint64_t>(), 42u);
  // 640 MiB arrived; what was held at once is a small part of it.
  if (kRssMeaningful) {
    EXPECT_LT(peak_kib - base_kib, 96 * 1024);
  }
}

// The process-wide budget: many peers that never read together fill it;
// then new requests are answered UNAVAILABLE at once (memory stops
// growing, nobody waits), and when those peers go the memory comes back
// and requests succeed again.
TEST(MemoryTest, OverTheBudgetRequestsAreShedThenServedAgain) {
  SessiondConfig config;
  config.server_extra = "max_reply_memory_mb = 16\n";
  SessiondProcess d(config);
  START_OR_FAIL(d);
  const std::string cookie = BigSession(d);
  ASSERT_FALSE(cookie.empty());
  const long base_kib = StatusKib(d.pid(), "VmRSS");

  zmq::context_t ctx(1);
  constexpr int kPeers = 16, kEach = 2000;  // could hold 16 x 1000 x 15 KiB
  uint64_t sent = 0;
  {
    std::vector<zmq::socket_t> bad;
    for (int i = 0; i < kPeers; ++i) {
      bad.push_back(Hostile(ctx, d.app_endpoint()));
    }
    for (int n = 0; n < kEach; ++n) {
      for (auto& s : bad) SendAll(s, {"", "SD1", "x", "LOAD", cookie});
    }
    sent = kPeers * kEach;
    const json stats = WaitForRequests(d, sent);
    ASSERT_FALSE(stats.is_null());
    std::printf("STATS while full: %s\n", stats.dump().c_str());
    EXPECT_GT(stats["memory"]["shed"].get<uint64_t>(), 0u);
    // The budget, an eighth over it for refusals, and the one reply that
    // crossed the line.
    EXPECT_LE(stats["memory"]["peak_bytes"].get<uint64_t>(),
              (uint64_t{18} << 20) + 16 * 1024);
    // A well-behaved client is answered at once, if only UNAVAILABLE.
    Client app(d.AppOptions());
    auto loaded = app.Load(cookie);
    if (!loaded.ok()) {
      EXPECT_EQ(loaded.code(), Code::kUnavailable)
          << loaded.status().ToString();
    }
    const long peak_kib = StatusKib(d.pid(), "VmHWM");
    std::printf("RSS %ld KiB before, peak %ld KiB\n", base_kib, peak_kib);
    if (kRssMeaningful) {
      EXPECT_LT(peak_kib - base_kib, 80 * 1024);
    }
  }  // the hostile peers disconnect here

  // Their replies are freed with their connections; service comes back.
  Client app(d.AppOptions());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  bool served = false;
  while (!served && Clock::now() < deadline) {
    auto loaded = app.Load(cookie);
    served = loaded.ok();
    if (!served) {
      ASSERT_EQ(loaded.code(), Code::kUnavailable);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_TRUE(served) << "still shedding after the peers left: "
                      << Stats(d).dump();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Issue 12: "With an 8 MB map, 503 CREATE+COMMIT calls filled it in 0.5 s;
// after that LOGIN and LOGOUT answered UNAVAILABLE for everyone, so nobody
// could be signed out." Now new data is refused first, and sign-in on an
// existing session, sign-out and revocation keep working; STATS and the
// log say how full the store is.
TEST(FullStoreTest, AFullMapNeverBlocksRevocation) {
  SessiondConfig config;
  config.map_size_mb = 8;
  SessiondProcess d(config);
  START_OR_FAIL(d);
  Client app(d.AppOptions());
  std::vector<std::string> anonymous, alice;
  Status refused;
  for (int i = 0; i < 5000 && refused.ok(); ++i) {
    // Half anonymous (CREATE), half alice's (LOGIN without a cookie).
    Result<SessionReply> s =
        i % 2 == 0 ? app.Create({}) : app.Login("", "alice", {});
    if (!s.ok()) {
      refused = s.status();
      break;
    }
    // Kept before its commit: a session whose commit is refused still
    // exists (and USER_REVOKE below counts it).
    (i % 2 == 0 ? anonymous : alice).push_back(s->cookie);
    ChangeSet changes;
    changes.base_version = s->session.version;
    changes.set["cart"] = std::string(12000, 'c');
    Result<SessionReply> c = app.Commit(s->cookie, changes);
    if (!c.ok()) {
      refused = c.status();
      break;
    }
  }
  std::printf("%zu sessions filled the map: %s\n",
              anonymous.size() + alice.size(), refused.ToString().c_str());
  ASSERT_EQ(refused.code(), Code::kUnavailable) << refused.ToString();
  ASSERT_GT(alice.size(), 10u);
  ASSERT_GT(anonymous.size(), 10u);

  // Reads work; new data does not.
  EXPECT_TRUE(app.Load(anonymous.front()).ok());
  // LOGIN on an existing session (sign-in), REGENERATE, LOGOUT.
  Result<SessionReply> bob = app.Login(anonymous[0], "bob", {});
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->session.user_id, "bob");
  Result<SessionReply> bob2 = app.Login(anonymous[1], "bob", {});
  ASSERT_TRUE(bob2.ok()) << bob2.status().ToString();
  Result<RevokeOthersReply> others = app.RevokeOthers(bob2->cookie);
  ASSERT_TRUE(others.ok()) << others.status().ToString();
  EXPECT_EQ(others->ended, 1);
  EXPECT_EQ(app.Load(bob->cookie).code(), Code::kRevoked);
  EXPECT_TRUE(app.Logout(bob2->cookie).ok());
  EXPECT_TRUE(app.Logout(anonymous[2]).ok());
  EXPECT_EQ(app.Load(anonymous[2]).code(), Code::kRevoked);
  // The admin revokes all of alice's sessions.
  Client admin(d.AdminOptions());
  Result<int64_t> revoked = admin.UserRevoke("alice");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, static_cast<int64_t>(alice.size()));
  EXPECT_EQ(app.Load(alice.back()).code(), Code::kRevoked);

  // STATS showed the fill; the log warned (the check runs on the sweep
  // timer, so wait for its line, up to a deadline).
  Result<std::string> text = admin.Stats();
  ASSERT_TRUE(text.ok());
  const json stats = json::parse(*text);
  EXPECT_EQ(stats["storage"]["size_bytes"].get<uint64_t>(), 8u << 20);
  EXPECT_GT(stats["storage"]["refused"].get<uint64_t>(), 0u);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::string log;
  while (Clock::now() < deadline) {
    log = ReadFile(d.log_path());
    if (log.find("store is full") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(log.find("store is full"), std::string::npos)
      << stats["storage"].dump() << "\n"
      << log.substr(0, 3000);
  // Revocation freed room: new sessions are taken again.
  EXPECT_TRUE(app.Create({}).ok());
}

// SIGKILL while clients commit: every acknowledged COMMIT is there after a
// restart, in sync mode (acknowledged after fsync) and in periodic mode
// (whose loss window is a power cut's or a kernel crash's; a process crash
// leaves the page cache, so nothing is lost either).
class CrashTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashTest, NoAcknowledgedCommitIsLostToSigkill) {
  SessiondConfig config;
  config.store_extra = "durability = \"" + GetParam() + "\"\n";
  SessiondProcess d(config);
  START_OR_FAIL(d);
  constexpr int kWriters = 4;
  std::vector<std::string> cookies;
  {
    Client app(d.AppOptions());
    for (int i = 0; i < kWriters; ++i) {
      auto s = app.Create({});
      ASSERT_TRUE(s.ok());
      cookies.push_back(s->cookie);
    }
  }
  std::vector<std::vector<int>> acked(kWriters);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client app(d.AppOptions(std::chrono::milliseconds(2000)));
      uint64_t version = 1;
      for (int n = 0; !stop.load(); ++n) {
        ChangeSet c;
        c.base_version = version;
        c.set["k" + std::to_string(n)] = std::to_string(n);
        auto r = app.Commit(cookies[w], c);
        if (!r.ok()) break;  // the daemon is gone
        version = r->session.version;
        acked[w].push_back(n);
      }
    });
  }
  // Kill once a few hundred commits were acknowledged (a count, not a time).
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  auto total = [&] {
    size_t n = 0;
    for (auto& a : acked) n += a.size();
    return n;
  };
  while (total() < 400 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  d.Signal(SIGKILL);
  ASSERT_TRUE(d.WaitExit(std::chrono::seconds(10)).ok());
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(total(), 0u);

  START_OR_FAIL(d);
  Client app(d.AppOptions());
  for (int w = 0; w < kWriters; ++w) {
    auto s = app.Load(cookies[w]);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int n : acked[w]) {
      auto it = s->session.data.find("k" + std::to_string(n));
      ASSERT_NE(it, s->session.data.end())
          << GetParam() << ": acknowledged commit " << n << " of writer " << w
          << " lost";
    }
  }
  std::printf("%s: %zu acknowledged commits survived SIGKILL\n",
              GetParam().c_str(), total());
}

INSTANTIATE_TEST_SUITE_P(Durability, CrashTest,
                         ::testing::Values("sync", "periodic"));

}  // namespace
}  // namespace sessiond
