// The one conformance suite every Store backend runs (memory, lmdb, redis):
// a parameterized GoogleTest fixture whose tests live in
// store_conformance.cc, so each backend's test file only says how to build
// its store.
//
// How to run it for a backend (in that backend's *_test.cc, linked with
// sessiond_store_conformance from src/testing/):
//
//   #include "testing/store_conformance.h"
//
//   StoreFactory MyFactory() {
//     StoreFactory f;
//     f.name = "redis";  // [A-Za-z0-9_] only: it becomes the test name
//     f.make = [](struct ev_loop* loop, StoreOptions options) {
//       return NewRedisStore(loop, options, RedisOptions{...});
//     };
//     f.reset = [] { /* wipe all state, e.g. FLUSHALL */ };
//     f.corrupt = [](const std::string& id) { /* overwrite id's record */ };
//     return f;
//   }
//   SESSIOND_INSTANTIATE_STORE_CONFORMANCE(Redis, MyFactory());
//
// Use the macro rather than INSTANTIATE_TEST_SUITE_P directly: it also
// references a symbol of store_conformance.cc, which makes the linker pull
// that object (and with it the tests) out of the static library.
//
// Thread: everything here runs on the test's main thread, which is also the
// store's loop thread (the fixture owns the ev_loop).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sessiond/clock.h"
#include "sessiond/session.h"
#include "sessiond/status.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

// How to build (and wipe) one backend for the suite.
struct StoreFactory {
  // Test-name suffix; letters, digits and '_' only.
  std::string name;
  // Builds a fresh store on `loop` with `options` (options.clock is the
  // fixture's ManualClock). Called once per test, after reset.
  std::function<Result<std::unique_ptr<Store>>(struct ev_loop*, StoreOptions)>
      make;
  // Optional: removes every trace of earlier tests (called before make and
  // after the store of the previous test was destroyed).
  std::function<void()> reset;
  // Optional: makes the stored record of session `id` undecodable (bytes
  // that are not a valid record), bypassing the Store interface. Called
  // while the store built by `make` is alive, on the loop thread. The
  // corrupt-record tests are skipped when it is unset.
  std::function<void(const std::string& id)> corrupt;
  // Optional: write, bypassing the Store interface, a tombstone of `id`
  // until `until` and an epoch of `us` for `user` in the encoding of a
  // store older than end reasons. The legacy-record tests are skipped
  // when unset.
  std::function<void(const std::string& id, int64_t until)> legacy_tombstone;
  std::function<void(const std::string& user, int64_t us)> legacy_epoch;
};

// GoogleTest prints a parameter with this (its name, not its bytes).
void PrintTo(const StoreFactory& factory, std::ostream* os);

// Name generator for INSTANTIATE_TEST_SUITE_P: the factory's name.
std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info);

// The fixture. Backends may derive from it for their own extra tests (e.g.
// Redis outage) to reuse the loop and the Wait helpers.
class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  StoreConformanceTest();
  ~StoreConformanceTest() override;

  void SetUp() override;
  void TearDown() override;

  // Issues `op` (which must call its completion exactly once) and runs the
  // loop until the completion fires or `timeout` passes. A timeout, or a
  // second call of the completion, fails the test.
  template <typename T>
  Result<T> Wait(const std::function<void(Callback<T>)>& op,
                 std::chrono::milliseconds timeout = kDefaultTimeout) {
    std::optional<Result<T>> out;
    int calls = 0;
    op([&out, &calls](Result<T> r) {
      ++calls;
      if (!out) out.emplace(std::move(r));
    });
    RunUntil([&] { return calls > 0; }, timeout);
    EXPECT_LE(calls, 1) << "completion called more than once";
    if (!out) {
      ADD_FAILURE() << "operation timed out";
      return Status(Code::kInternal, "test timeout");
    }
    return std::move(*out);
  }
  Status WaitStatus(const std::function<void(StatusCallback)>& op,
                    std::chrono::milliseconds timeout = kDefaultTimeout);

  // Runs the loop (EVRUN_ONCE steps, woken at least every few ms by a
  // timer) until done() is true or timeout passes; returns done().
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = kDefaultTimeout);

  // Synchronous wrappers over store_.
  Result<Session> Create(Session s);
  Result<Session> Load(const std::string& id);
  Result<Session> Commit(const std::string& id, ChangeSet changes);
  Result<Session> Login(const std::string& id, LoginRequest req);
  Status Destroy(const std::string& id, EndReason reason = EndReason::kLogout);
  Result<uint64_t> RevokeUser(const std::string& user,
                              EndReason reason = EndReason::kAdmin);
  Result<uint64_t> RevokeOthers(
      const std::string& user, const std::string& keep,
      EndReason reason = EndReason::kSignedOutElsewhere);
  Result<std::vector<Session>> ListUser(const std::string& user);
  Result<int64_t> BumpEpoch(const std::string& user,
                            EndReason reason = EndReason::kPasswordChanged);
  // The epoch's time only (GetUserEpoch: with its reason).
  Result<int64_t> GetEpoch(const std::string& user);
  Result<UserEpoch> GetUserEpoch(const std::string& user);
  Result<MarkerPut> PutMarker(const std::string& key, const std::string& value,
                              int64_t expires_at,
                              MarkerWrite when = MarkerWrite::kAlways);
  Result<Marker> GetMarker(const std::string& key);
  Result<std::optional<Marker>> DeleteMarker(const std::string& key);
  Result<std::vector<std::string>> FlashPop(const std::string& id,
                                            const std::string& queue);
  Result<uint64_t> Sweep(size_t budget);

  // A new session as an app would build it: fresh id and CSRF token,
  // created now, expiring in `ttl_s`, idle timeout `idle_s` (0 = none).
  Session NewSession(const std::string& user = "", int64_t ttl_s = 3600,
                     int64_t idle_s = 0);
  // Creates NewSession(...) in the store; fails the test on error.
  Session MustCreate(const std::string& user = "", int64_t ttl_s = 3600,
                     int64_t idle_s = 0);

  // Issues `n` commits to session `id` at once, all based on version 1,
  // commit i setting key "k<i>", and runs the loop until every one has
  // completed; returns how many succeeded (the test fails on a timeout).
  int CommitManyInFlight(const std::string& id, int n);

  // Destroys the store and builds a new one from the factory without
  // reset (the same data; for persistence checks).
  void Reopen();

  static constexpr std::chrono::milliseconds kDefaultTimeout{10'000};

  struct ev_loop* loop_ = nullptr;
  ManualClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

namespace conformance_internal {
// Defined in store_conformance.cc; referenced by the macro below so that
// the linker keeps the suite's object file.
int LinkSuite();
// Defined in store_conformance_endings.cc (its tests); LinkSuite calls it.
int LinkEndings();
}  // namespace conformance_internal

}  // namespace sessiond

// Usable from any namespace: the suite name must be a bare identifier for
// GoogleTest's token pasting, hence the helper namespace with a using.
#define SESSIOND_INSTANTIATE_STORE_CONFORMANCE(prefix, ...)  \
  namespace sessiond_conformance_##prefix {                  \
    using ::sessiond::StoreConformanceTest;                  \
    [[maybe_unused]] static const int link_suite =           \
        ::sessiond::conformance_internal::LinkSuite();       \
    INSTANTIATE_TEST_SUITE_P(prefix, StoreConformanceTest,   \
                             ::testing::Values(__VA_ARGS__), \
                             ::sessiond::StoreFactoryName);  \
  }  // namespace sessiond_conformance_##prefix
