// Clock: where sessiond reads the time, so expiry is testable without sleeps.
#pragma once

#include <atomic>
#include <cstdint>

namespace sessiond {

// Seconds and microseconds since the Unix epoch. Implementations must be
// safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() const = 0;
  int64_t NowSeconds() const { return NowMicros() / 1'000'000; }
};

// The real wall clock (CLOCK_REALTIME). Process-wide singleton.
Clock& SystemClock();

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_seconds = 1'700'000'000)
      : now_micros_(now_seconds * 1'000'000) {}
  int64_t NowMicros() const override { return now_micros_.load(); }
  void AdvanceSeconds(int64_t s) { now_micros_ += s * 1'000'000; }
  void AdvanceMicros(int64_t us) { now_micros_ += us; }
  void SetSeconds(int64_t s) { now_micros_ = s * 1'000'000; }

 private:
  std::atomic<int64_t> now_micros_;
};

}  // namespace sessiond
