// populate: fills an LMDB data directory with N sessions through the real
// LmdbStore (group-committed by its writer thread), and writes a sample of
// their cookies for the LOAD-at-scale benchmark. The keyring it signs with
// is the data directory's own, so a sessiond started on that directory
// accepts the cookies.
#include <ev.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/session.h"
#include "store/store.h"
#include "sessiond/token_codec.h"

int main(int argc, char** argv) {
  CLI::App app{"populate: fill an LMDB data directory with sessions"};
  std::string data_dir;
  std::string cookies_path;
  uint64_t count = 10000;
  uint64_t sample = 100000;
  uint64_t window = 8192;
  app.add_option("--data-dir", data_dir, "LMDB data directory")->required();
  app.add_option("--count", count, "sessions to create");
  app.add_option("--cookies", cookies_path, "write sampled cookies here")
      ->required();
  app.add_option("--sample", sample, "how many cookies to write");
  app.add_option("--window", window, "creates in flight at once");
  CLI11_PARSE(app, argc, argv);

  using namespace sessiond;
  const Clock& clock = SystemClock();
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  std::string keyring_path = data_dir + "/keyring.toml";
  auto keyring = Keyring::LoadFile(keyring_path);
  if (!keyring.ok() && keyring.code() == Code::kNotFound) {
    Status st = Keyring::GenerateFile(keyring_path, clock.NowSeconds());
    if (!st.ok()) {
      std::fprintf(stderr, "populate: %s\n", st.ToString().c_str());
      return 1;
    }
    keyring = Keyring::LoadFile(keyring_path);
  }
  if (!keyring.ok()) {
    std::fprintf(stderr, "populate: %s\n", keyring.status().ToString().c_str());
    return 1;
  }
  auto ring = std::make_shared<const Keyring>(std::move(keyring).value());
  TokenCodec codec(ring, &clock);

  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  StoreOptions options;
  LmdbOptions lmdb;
  lmdb.data_dir = data_dir;
  lmdb.map_size = size_t{64} << 30;
  auto store = NewLmdbStore(loop, options, lmdb);
  if (!store.ok()) {
    std::fprintf(stderr, "populate: %s\n", store.status().ToString().c_str());
    return 1;
  }

  // Keep every count/sample-th cookie, so the sample spans the whole set.
  uint64_t stride = sample == 0 ? count + 1 : std::max<uint64_t>(1, count / sample);
  std::ofstream cookies(cookies_path);
  uint64_t issued = 0, done = 0, failed = 0;
  int64_t now = clock.NowSeconds();
  while (done < count) {
    while (issued < count && issued - done < window) {
      Session s;
      std::string user = "user" + std::to_string(issued / 3);
      s.id = NewSessionId(user);
      s.user_id = user;
      s.csrf_token = NewCsrfToken();
      s.data["theme"] = "dark";
      s.data["cart"] = "[1,2,3]";
      s.created_at = now;
      s.last_seen_at = now;
      s.expires_at = now + 14 * 86400;
      s.idle_timeout = 0;
      s.issued_at_us = clock.NowMicros();
      s.ip = "203.0.113.7";
      s.user_agent = "Mozilla/5.0 (X11; Linux x86_64) bench";
      bool keep = issued % stride == 0;
      std::string id = s.id;
      int64_t issued_us = s.issued_at_us, expires = s.expires_at;
      (*store)->Create(std::move(s), [&, keep, id, issued_us,
                                      expires](Result<Session> r) {
        ++done;
        if (!r.ok()) {
          if (failed++ == 0) {
            std::fprintf(stderr, "populate: create failed: %s\n",
                         r.status().ToString().c_str());
          }
          return;
        }
        if (keep) {
          auto cookie = codec.MintServer(id, issued_us, expires);
          if (cookie.ok()) cookies << *cookie << "\n";
        }
      });
      ++issued;
    }
    ev_run(loop, EVRUN_ONCE);
  }
  store->reset();
  ev_loop_destroy(loop);
  std::printf("{\"created\":%llu,\"failed\":%llu}\n",
              static_cast<unsigned long long>(done - failed),
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}
