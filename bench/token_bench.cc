// token_bench: in-process cost of minting and opening each cookie kind,
// beside one bare HMAC-SHA-256 over the same bytes with a pre-keyed OpenSSL
// context (the limit a signed token cannot beat). bench/run.sh puts these
// next to itsdangerous and webob (bench/py_serializers.py).
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "sessiond/session.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

// The session every kind carries: what a typical Flask/Pyramid app keeps
// (user id, CSRF token, two small values); the Python side uses the same.
constexpr char kPayload[] =
    "{\"user_id\":\"12345\",\"csrf_token\":"
    "\"Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV\","
    "\"theme\":\"dark\",\"cart\":\"[1,2,3]\"}";

struct Fixture {
  ManualClock clock{1'764'000'000};
  std::shared_ptr<const Keyring> keyring;
  std::unique_ptr<TokenCodec> codec;
  std::string session_id = NewSessionId("12345");
  int64_t issued_us = clock.NowMicros();
  int64_t expires = clock.NowSeconds() + 3600;

  Fixture() {
    KeySpec spec;
    spec.id = 1;
    spec.secret = RandomString(32);
    auto ring = Keyring::FromSpecs({spec});
    if (!ring.ok()) std::abort();
    keyring = std::make_shared<const Keyring>(std::move(ring).value());
    codec = std::make_unique<TokenCodec>(keyring, &clock);
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

// The limit: one HMAC-SHA-256 with a context keyed once; EVP_MAC_init with
// a null key restarts it from the cached inner/outer pads.
void BM_BareHmacSha256(benchmark::State& state) {
  std::string key = RandomString(32);
  // Same bytes a server token signs: header (version, kind, key id, times,
  // length) plus the session id. Sized to match, content irrelevant.
  std::string data = std::string(26, 'h') + F().session_id;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()),
               key.size(), params);
  unsigned char out[32];
  size_t out_len = 0;
  for (auto _ : state) {
    EVP_MAC_init(ctx, nullptr, 0, nullptr);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                   data.size());
    EVP_MAC_final(ctx, out, &out_len, sizeof(out));
    benchmark::DoNotOptimize(out);
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
}
BENCHMARK(BM_BareHmacSha256);

void BM_MintServer(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto t = f.codec->MintServer(f.session_id, f.issued_us, f.expires);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_MintServer);

void BM_VerifyServer(benchmark::State& state) {
  auto& f = F();
  std::string token =
      f.codec->MintServer(f.session_id, f.issued_us, f.expires).value();
  for (auto _ : state) {
    auto c = f.codec->Open(token);
    if (!c.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_VerifyServer);

void BM_SealClient(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto t = f.codec->SealClient(kPayload, f.issued_us, f.expires);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_SealClient);

void BM_OpenClient(benchmark::State& state) {
  auto& f = F();
  std::string token =
      f.codec->SealClient(kPayload, f.issued_us, f.expires).value();
  for (auto _ : state) {
    auto c = f.codec->Open(token);
    if (!c.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_OpenClient);

void BM_SealHybrid(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto t = f.codec->SealHybrid(f.session_id, kPayload, f.issued_us,
                                 f.expires);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_SealHybrid);

void BM_OpenHybrid(benchmark::State& state) {
  auto& f = F();
  std::string token =
      f.codec->SealHybrid(f.session_id, kPayload, f.issued_us, f.expires)
          .value();
  for (auto _ : state) {
    auto c = f.codec->Open(token);
    if (!c.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_OpenHybrid);

}  // namespace
}  // namespace sessiond

BENCHMARK_MAIN();
