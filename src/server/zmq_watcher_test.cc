// Tests for ZmqWatcher: no lost wake-ups, fairness under a flood, idle CPU,
// high-water-mark recovery, ROUTER envelopes, budget, shutdown and errors.
// Every test owns its own ev_loop_new; peers run on std::threads with their
// own sockets on the fixture's context. No test sleeps to wait for a result:
// sleeps only pace a sender, and every wait is bounded by a watchdog.
#include "server/zmq_watcher.h"

#include <ev.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace sessiond {
namespace {

using Multipart = ZmqWatcher::Multipart;

Multipart Frames(std::initializer_list<std::string_view> parts) {
  Multipart message;
  message.reserve(parts.size());
  for (std::string_view part : parts)
    message.emplace_back(part.data(), part.size());
  return message;
}

std::vector<std::string> Strings(const Multipart& message) {
  std::vector<std::string> out;
  for (const auto& frame : message) out.push_back(frame.to_string());
  return out;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits (on the calling thread) until `socket` has a message, without
// receiving it. This is exactly what eats the ZMQ_FD edge: zmq_poll reads
// ZMQ_EVENTS and drains the mailbox.
bool WaitReadable(zmq::socket_t& socket, long timeout_ms) {
  zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  return zmq_poll(&item, 1, timeout_ms) == 1;
}

// A peer on its own thread. The body gets a stop flag; the destructor sets
// it (so a body parked on `stop.wait(false)` returns) and joins. Exceptions
// in the body are kept in error() instead of terminating the test binary.
class PeerThread {
 public:
  template <typename Body>
  explicit PeerThread(Body body)
      : thread_([this, body = std::move(body)]() mutable {
          try {
            body(stop_);
          } catch (const std::exception& e) {
            error_ = e.what();
          }
        }) {}
  ~PeerThread() { Join(); }
  PeerThread(const PeerThread&) = delete;
  PeerThread& operator=(const PeerThread&) = delete;

  void Join() {
    stop_ = true;
    stop_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // Valid after Join().
  const std::string& error() const { return error_; }

 private:
  std::atomic<bool> stop_{false};
  std::string error_;
  std::thread thread_;
};

// An ev_timer calling a std::function; stopped on destruction.
class LoopTimer {
 public:
  LoopTimer(struct ev_loop* loop, double after, double repeat,
            std::function<void()> fn)
      : loop_(loop), fn_(std::move(fn)) {
    ev_timer_init(&timer_, &LoopTimer::Fire, after, repeat);
    timer_.data = this;
    ev_timer_start(loop_, &timer_);
  }
  ~LoopTimer() { ev_timer_stop(loop_, &timer_); }
  LoopTimer(const LoopTimer&) = delete;
  LoopTimer& operator=(const LoopTimer&) = delete;

 private:
  static void Fire(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    static_cast<LoopTimer*>(w->data)->fn_();
  }
  struct ev_loop* loop_;
  std::function<void()> fn_;
  ev_timer timer_;
};

class LoopFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = ev_loop_new(EVFLAG_AUTO);
    ASSERT_NE(loop_, nullptr);
  }
  void TearDown() override { ev_loop_destroy(loop_); }

  zmq::socket_t Socket(zmq::socket_type type) {
    zmq::socket_t socket(ctx_, type);
    socket.set(zmq::sockopt::linger, 0);
    return socket;
  }

  // Binds on an ephemeral endpoint of `transport`; returns what to connect.
  std::string BindAny(zmq::socket_t& socket, const std::string& transport) {
    if (transport == "tcp") {
      socket.bind("tcp://127.0.0.1:*");
      return socket.get(zmq::sockopt::last_endpoint);
    }
    std::string endpoint =
        "inproc://zmq-watcher-test-" + std::to_string(next_inproc_++);
    socket.bind(endpoint);
    return endpoint;
  }

  // Runs the loop until a callback calls ev_break or `limit` seconds pass.
  // Returns false on timeout (a stall: the thing these tests look for).
  bool Run(double limit) {
    bool timed_out = false;
    LoopTimer watchdog(loop_, limit, 0., [&] {
      timed_out = true;
      ev_break(loop_, EVBREAK_ALL);
    });
    ev_run(loop_, 0);
    return !timed_out;
  }

  std::unique_ptr<ZmqWatcher> Watch(zmq::socket_t socket,
                                    ZmqWatcher::MessageHandler handler,
                                    ZmqWatcher::Options options = {}) {
    auto created = ZmqWatcher::Create(
        loop_, std::move(socket), options, std::move(handler),
        [this](ZmqWatcher&, const Status& status) {
          errors_.push_back(status.ToString());
        });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return nullptr;
    std::unique_ptr<ZmqWatcher> watcher = std::move(created).value();
    watcher->Start();
    return watcher;
  }

  zmq::context_t ctx_;
  struct ev_loop* loop_ = nullptr;
  std::vector<std::string> errors_;
  int next_inproc_ = 0;
};

class ZmqWatcherTest : public LoopFixture,
                       public ::testing::WithParamInterface<std::string> {
 protected:
  std::string BindAny(zmq::socket_t& socket) {
    return LoopFixture::BindAny(socket, GetParam());
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, ZmqWatcherTest,
                         ::testing::Values("tcp", "inproc"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// A ROUTER echo peer on its own thread: echoes `count` messages.
PeerThread EchoPeer(zmq::socket_t socket, int count) {
  socket.set(zmq::sockopt::rcvtimeo, 10000);
  return PeerThread([socket = std::move(socket),
                     count](const std::atomic<bool>& stop) mutable {
    for (int i = 0; i < count; ++i) {
      Multipart message;
      if (!zmq::recv_multipart(socket, std::back_inserter(message))) {
        throw std::runtime_error("echo peer: timed out at " +
                                 std::to_string(i));
      }
      zmq::send_multipart(socket, message);
    }
    stop.wait(false);
  });
}

// ---------------------------------------------------------------------------
// No lost wake-up

TEST_P(ZmqWatcherTest, NoLostWakeupWhenPeerRepliesAtOnce) {
  constexpr int kRounds = 1000;
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  PeerThread peer = EchoPeer(std::move(server), kRounds);

  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  client.connect(endpoint);
  int received = 0;
  auto watcher =
      Watch(std::move(client), [&](ZmqWatcher& self, Multipart&& message) {
        ASSERT_EQ(message.size(), 1u);
        EXPECT_EQ(message[0].to_string(), std::to_string(received));
        if (++received == kRounds) {
          ev_break(loop_, EVBREAK_ALL);
          return;
        }
        EXPECT_TRUE(self.Send(Frames({std::to_string(received)})).ok());
      });
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(watcher->Send(Frames({"0"})).ok());

  EXPECT_TRUE(Run(30)) << "stalled after " << received << " replies";
  EXPECT_EQ(received, kRounds);
  peer.Join();
  EXPECT_EQ(peer.error(), "");
  EXPECT_TRUE(errors_.empty());
}

// The handler sends, then waits until the reply sits in the socket, eating
// the ZMQ_FD edge on the way (zmq_poll). An io watcher alone would now sleep
// forever; the next prepare must see the reply through ZMQ_EVENTS. The first
// request is sent the same way before the loop ever runs.
TEST_P(ZmqWatcherTest, NoLostWakeupWhenReplyIsQueuedBeforeLoopSleeps) {
  constexpr int kRounds = 200;
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  PeerThread peer = EchoPeer(std::move(server), kRounds);

  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  client.connect(endpoint);
  int received = 0;
  bool all_ready = true;
  auto send_and_wait = [&](ZmqWatcher& w, int n) {
    EXPECT_TRUE(w.Send(Frames({std::to_string(n)})).ok());
    all_ready = WaitReadable(w.socket(), 10000) && all_ready;
  };
  auto watcher =
      Watch(std::move(client), [&](ZmqWatcher& self, Multipart&& message) {
        EXPECT_EQ(Strings(message),
                  std::vector<std::string>{std::to_string(received)});
        if (++received == kRounds) {
          ev_break(loop_, EVBREAK_ALL);
          return;
        }
        send_and_wait(self, received);
      });
  ASSERT_TRUE(watcher);
  send_and_wait(*watcher, 0);

  EXPECT_TRUE(Run(30)) << "lost wake-up after " << received << " replies";
  EXPECT_EQ(received, kRounds);
  EXPECT_TRUE(all_ready);
  peer.Join();
  EXPECT_EQ(peer.error(), "");
}

// The same, across sockets: the handler of X sends on Y and eats Y's edge,
// the handler of Y sends on X and eats X's edge.
TEST_P(ZmqWatcherTest, NoLostWakeupWhenSendingOnAnotherSocket) {
  constexpr int kRounds = 200;  // replies in total, alternating X and Y
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  PeerThread peer = EchoPeer(std::move(server), kRounds);

  int received = 0;
  bool all_ready = true;
  ZmqWatcher* x = nullptr;
  ZmqWatcher* y = nullptr;
  auto bounce = [&](ZmqWatcher& to) {
    if (++received == kRounds) {
      ev_break(loop_, EVBREAK_ALL);
      return;
    }
    EXPECT_TRUE(to.Send(Frames({std::to_string(received)})).ok());
    all_ready = WaitReadable(to.socket(), 10000) && all_ready;
  };
  zmq::socket_t x_socket = Socket(zmq::socket_type::dealer);
  x_socket.connect(endpoint);
  zmq::socket_t y_socket = Socket(zmq::socket_type::dealer);
  y_socket.connect(endpoint);
  auto x_watcher =
      Watch(std::move(x_socket), [&](ZmqWatcher&, Multipart&&) { bounce(*y); });
  auto y_watcher =
      Watch(std::move(y_socket), [&](ZmqWatcher&, Multipart&&) { bounce(*x); });
  ASSERT_TRUE(x_watcher && y_watcher);
  x = x_watcher.get();
  y = y_watcher.get();
  ASSERT_TRUE(x->Send(Frames({"0"})).ok());

  EXPECT_TRUE(Run(30)) << "lost wake-up after " << received << " replies";
  EXPECT_EQ(received, kRounds);
  EXPECT_TRUE(all_ready);
  EXPECT_EQ(x->stats().messages_in + y->stats().messages_in,
            static_cast<std::uint64_t>(kRounds));
  peer.Join();
  EXPECT_EQ(peer.error(), "");
}

// The one window prepare cannot cover: another prepare watcher that runs
// after ours (lower priority) sends and eats the edge after our prepare
// chose to sleep. Send() must keep the loop from blocking.
TEST_P(ZmqWatcherTest, NoLostWakeupWhenSendingFromALaterPrepare) {
  constexpr int kRounds = 50;
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  PeerThread peer = EchoPeer(std::move(server), kRounds);

  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  client.connect(endpoint);
  struct Late {
    ev_prepare prepare;
    ZmqWatcher* watcher = nullptr;
    bool want_send = true;
    int sent = 0;
    bool all_ready = true;
  } late;
  int received = 0;
  auto watcher = Watch(std::move(client), [&](ZmqWatcher&, Multipart&&) {
    if (++received == kRounds) {
      ev_break(loop_, EVBREAK_ALL);
      return;
    }
    late.want_send = true;
  });
  ASSERT_TRUE(watcher);
  late.watcher = watcher.get();
  ev_prepare_init(&late.prepare, [](struct ev_loop*, ev_prepare* w, int) {
    auto* state = static_cast<Late*>(w->data);
    if (!state->want_send) return;
    state->want_send = false;
    if (!state->watcher->Send(Frames({std::to_string(state->sent++)})).ok()) {
      state->all_ready = false;
    }
    state->all_ready =
        WaitReadable(state->watcher->socket(), 10000) && state->all_ready;
  });
  late.prepare.data = &late;
  ev_set_priority(&late.prepare, EV_MINPRI);
  ev_prepare_start(loop_, &late.prepare);

  EXPECT_TRUE(Run(30)) << "lost wake-up after " << received << " replies";
  ev_prepare_stop(loop_, &late.prepare);
  EXPECT_EQ(received, kRounds);
  EXPECT_TRUE(late.all_ready);
  peer.Join();
  EXPECT_EQ(peer.error(), "");
}

// ---------------------------------------------------------------------------
// Fairness

// Socket A is flooded; socket B gets a trickle; a 1 ms timer runs. B and the
// timer must keep being served while A still has a backlog.
TEST_P(ZmqWatcherTest, FloodedSocketDoesNotStarveAnotherSocketOrATimer) {
  constexpr int kFlood = 200000;
  constexpr int kTrickle = 20;
  constexpr int kStartTrickleAt = 1000;
  zmq::socket_t a_socket = Socket(zmq::socket_type::router);
  const std::string a_endpoint = BindAny(a_socket);
  zmq::socket_t b_socket = Socket(zmq::socket_type::router);
  const std::string b_endpoint = BindAny(b_socket);

  std::atomic<bool> flood_started{false};
  int a_count = 0;
  int b_count = 0;
  int a_count_when_b_done = -1;
  int timer_fires_during_flood = 0;
  double flood_begin = 0;
  double flood_end = 0;
  auto maybe_done = [&] {
    if (a_count == kFlood && b_count == kTrickle) ev_break(loop_, EVBREAK_ALL);
  };
  auto a = Watch(std::move(a_socket), [&](ZmqWatcher&, Multipart&&) {
    if (++a_count == 1) flood_begin = WallSeconds();
    if (a_count == kStartTrickleAt) flood_started = true;
    if (a_count == kFlood) flood_end = WallSeconds();
    maybe_done();
  });
  auto b = Watch(std::move(b_socket), [&](ZmqWatcher& self, Multipart&& m) {
    EXPECT_TRUE(self.Send(std::move(m)).ok());
    if (++b_count == kTrickle) a_count_when_b_done = a_count;
    maybe_done();
  });
  ASSERT_TRUE(a && b);
  LoopTimer tick(loop_, 0.001, 0.001, [&] {
    if (a_count > 0 && a_count < kFlood) ++timer_fires_during_flood;
  });

  zmq::socket_t flooder = Socket(zmq::socket_type::dealer);
  flooder.set(zmq::sockopt::sndtimeo, 10000);
  flooder.connect(a_endpoint);
  PeerThread flood(
      [s = std::move(flooder)](const std::atomic<bool>& stop) mutable {
        for (int i = 0; i < kFlood && !stop; ++i) {
          if (!s.send(zmq::buffer("flood", 5))) {
            throw std::runtime_error("flooder: send timed out");
          }
        }
        stop.wait(false);  // linger 0: closing now would drop what is in flight
      });
  zmq::socket_t trickler = Socket(zmq::socket_type::dealer);
  trickler.connect(b_endpoint);
  PeerThread trickle([s = std::move(trickler),
                      &flood_started](const std::atomic<bool>& stop) mutable {
    while (!flood_started && !stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int i = 0; i < kTrickle && !stop; ++i) {
      if (!s.send(zmq::buffer(std::to_string(i)))) {
        throw std::runtime_error("trickle: send failed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing
    }
    stop.wait(false);
  });

  EXPECT_TRUE(Run(60)) << "A " << a_count << ", B " << b_count;
  flood.Join();
  trickle.Join();
  EXPECT_EQ(flood.error(), "");
  EXPECT_EQ(trickle.error(), "");
  EXPECT_EQ(a_count, kFlood);
  EXPECT_EQ(b_count, kTrickle);
  // Every B message was handled while A still had messages to come.
  EXPECT_GE(a_count_when_b_done, kStartTrickleAt);
  EXPECT_LT(a_count_when_b_done, kFlood);
  // The timer kept firing during the flood: at least 3 times, and at least
  // 5% of the ideal once per millisecond (generous: the machine is shared).
  const double flood_ms = (flood_end - flood_begin) * 1000;
  EXPECT_GE(timer_fires_during_flood, 3);
  EXPECT_GE(timer_fires_during_flood, static_cast<int>(flood_ms / 20));
  EXPECT_LE(a->stats().max_batch, 32u);
  std::printf(
      "[ flood    ] %s: %d msgs in %.1f ms, timer fired %d times, B done at "
      "A=%d, A turns %llu (budget hit %llu)\n",
      GetParam().c_str(), kFlood, flood_ms, timer_fires_during_flood,
      a_count_when_b_done,
      static_cast<unsigned long long>(a->stats().loop_turns),
      static_cast<unsigned long long>(a->stats().budget_exhausted));
}

// ---------------------------------------------------------------------------
// Idle CPU

TEST_F(LoopFixture, IdleForTwoSecondsCostsUnderTenMillisecondsOfCpu) {
  // A ROUTER with a connected DEALER (tcp), a PAIR over inproc, and a PULL
  // and a PUB nobody talks to: six watchers on one loop.
  zmq::socket_t router = Socket(zmq::socket_type::router);
  const std::string router_endpoint = BindAny(router, "tcp");
  zmq::socket_t dealer = Socket(zmq::socket_type::dealer);
  dealer.connect(router_endpoint);
  zmq::socket_t pair_a = Socket(zmq::socket_type::pair);
  const std::string pair_endpoint = BindAny(pair_a, "inproc");
  zmq::socket_t pair_b = Socket(zmq::socket_type::pair);
  pair_b.connect(pair_endpoint);
  zmq::socket_t pull = Socket(zmq::socket_type::pull);
  BindAny(pull, "tcp");
  zmq::socket_t pub = Socket(zmq::socket_type::pub);
  BindAny(pub, "tcp");

  int warmups = 0;
  auto warm = [&] {
    if (++warmups == 2) ev_break(loop_, EVBREAK_ALL);
  };
  std::vector<std::unique_ptr<ZmqWatcher>> watchers;
  watchers.push_back(Watch(std::move(router), [](ZmqWatcher& w, Multipart&& m) {
    EXPECT_TRUE(w.Send(std::move(m)).ok());
  }));
  watchers.push_back(
      Watch(std::move(dealer), [&](ZmqWatcher&, Multipart&&) { warm(); }));
  watchers.push_back(
      Watch(std::move(pair_a), [&](ZmqWatcher&, Multipart&&) { warm(); }));
  watchers.push_back(Watch(std::move(pair_b), [](ZmqWatcher&, Multipart&&) {}));
  watchers.push_back(Watch(std::move(pull), [](ZmqWatcher&, Multipart&&) {}));
  watchers.push_back(Watch(std::move(pub), [](ZmqWatcher&, Multipart&&) {}));
  for (const auto& w : watchers) ASSERT_TRUE(w);
  // Warm up: connections made, handshakes done, one round trip each.
  ASSERT_TRUE(watchers[1]->Send(Frames({"hello"})).ok());
  ASSERT_TRUE(watchers[3]->Send(Frames({"hello"})).ok());
  ASSERT_TRUE(Run(10));

  std::uint64_t turns_before = 0;
  for (const auto& w : watchers) turns_before += w->stats().loop_turns;
  const double cpu_before = CpuSeconds();
  const double wall_before = WallSeconds();
  LoopTimer stop_after(loop_, 2.0, 0., [&] { ev_break(loop_, EVBREAK_ALL); });
  ASSERT_TRUE(Run(10));
  const double cpu_ms = (CpuSeconds() - cpu_before) * 1000;
  const double wall_s = WallSeconds() - wall_before;
  std::uint64_t turns = 0;
  for (const auto& w : watchers) turns += w->stats().loop_turns;
  turns = (turns - turns_before) / watchers.size();

  std::printf(
      "[ idle     ] %.2f s idle, %zu watchers: process CPU %.3f ms, %llu loop "
      "turns\n",
      wall_s, watchers.size(), cpu_ms, static_cast<unsigned long long>(turns));
  RecordProperty("idle_cpu_us", static_cast<int>(cpu_ms * 1000));
  EXPECT_GE(wall_s, 1.9);
  EXPECT_LT(cpu_ms, 10.0);
  EXPECT_LE(turns, 10u);  // one for the timer; nothing spins
}

// ---------------------------------------------------------------------------
// High-water mark: a peer stops reading, then resumes

TEST_P(ZmqWatcherTest,
       HighWaterMarkBackPressureRecoversInOrderWithoutSpinning) {
  const bool tcp = GetParam() == "tcp";
  // Over tcp the kernel buffers several MB on loopback, so use big messages
  // to be sure the queue fills; over inproc only the HWMs hold messages.
  const int kMessages = tcp ? 2000 : 5000;
  const std::size_t kSize = tcp ? 16384 : 16;

  zmq::socket_t reader = Socket(zmq::socket_type::dealer);
  reader.set(zmq::sockopt::rcvhwm, 5);
  reader.set(zmq::sockopt::rcvtimeo, 10000);
  const std::string endpoint = BindAny(reader);
  std::atomic<bool> go{false};
  std::atomic<bool> in_order{true};
  std::atomic<int> got{0};
  PeerThread peer([s = std::move(reader), &go, &in_order, &got, kMessages,
                   kSize](const std::atomic<bool>& stop) mutable {
    go.wait(false);  // not reading: our sends back up into the queue
    for (int i = 0; i < kMessages; ++i) {
      zmq::message_t message;
      if (!s.recv(message)) throw std::runtime_error("reader: timed out");
      int seq = -1;
      std::memcpy(&seq, message.data(), sizeof(seq));
      if (seq != i || message.size() != kSize) in_order = false;
      got = i + 1;
    }
    s.send(zmq::buffer("done", 4));
    stop.wait(false);
  });

  zmq::socket_t writer = Socket(zmq::socket_type::dealer);
  writer.set(zmq::sockopt::sndhwm, 5);
  writer.connect(endpoint);
  ZmqWatcher::Options options;
  options.max_send_queue = static_cast<std::size_t>(kMessages);
  bool done = false;
  auto watcher = Watch(
      std::move(writer),
      [&](ZmqWatcher&, Multipart&& message) {
        done = Strings(message) == std::vector<std::string>{"done"};
        ev_break(loop_, EVBREAK_ALL);
      },
      options);
  ASSERT_TRUE(watcher);
  for (int i = 0; i < kMessages; ++i) {
    Multipart message;
    message.emplace_back(kSize);
    std::memset(message[0].data(), 0, kSize);
    std::memcpy(message[0].data(), &i, sizeof(i));
    ASSERT_TRUE(watcher->Send(std::move(message)).ok());
  }

  // From 0.3 s to 0.8 s the peer still does not read: the loop must sleep.
  std::uint64_t turns_at_start = 0;
  double cpu_at_start = 0;
  std::size_t queued_at_start = 0;
  std::uint64_t window_turns = 0;
  double window_cpu_ms = 0;
  LoopTimer window_start(loop_, 0.3, 0., [&] {
    turns_at_start = watcher->stats().loop_turns;
    cpu_at_start = CpuSeconds();
    queued_at_start = watcher->queued();
  });
  LoopTimer window_end(loop_, 0.8, 0., [&] {
    window_turns = watcher->stats().loop_turns - turns_at_start;
    window_cpu_ms = (CpuSeconds() - cpu_at_start) * 1000;
    go = true;
    go.notify_all();
  });

  EXPECT_TRUE(Run(60)) << "peer got " << got << " of " << kMessages;
  peer.Join();
  EXPECT_EQ(peer.error(), "");
  EXPECT_TRUE(done);
  EXPECT_EQ(got, kMessages);
  EXPECT_TRUE(in_order);
  EXPECT_GT(queued_at_start, 0u) << "the queue never filled: test too weak";
  EXPECT_EQ(watcher->queued(), 0u);
  EXPECT_EQ(watcher->stats().messages_out,
            static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(watcher->stats().dropped, 0u);
  // No spin while blocked: a few turns (the timers), little CPU.
  EXPECT_LE(window_turns, 20u);
  EXPECT_LT(window_cpu_ms, 50.0);
  std::printf(
      "[ hwm      ] %s: %zu queued while blocked; 0.5 s blocked window: %llu "
      "turns, %.3f ms CPU\n",
      GetParam().c_str(), queued_at_start,
      static_cast<unsigned long long>(window_turns), window_cpu_ms);
}

// ---------------------------------------------------------------------------
// ROUTER envelopes

TEST_P(ZmqWatcherTest, RouterEnvelopesRoundTripFromReqAndDealerPeers) {
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  std::vector<std::vector<std::string>> seen;
  auto watcher = Watch(std::move(server), [&](ZmqWatcher& self, Multipart&& m) {
    seen.push_back(Strings(m));
    EXPECT_TRUE(self.Send(std::move(m)).ok());
    if (seen.size() == 3) ev_break(loop_, EVBREAK_ALL);
  });
  ASSERT_TRUE(watcher);

  // Each peer sends one message and checks that the reply equals what it
  // sent (for REQ: ZeroMQ adds and strips the empty delimiter itself).
  auto peer = [&](zmq::socket_type type, std::string id,
                  std::vector<std::string> body) {
    zmq::socket_t s = Socket(type);
    s.set(zmq::sockopt::routing_id, id);
    s.set(zmq::sockopt::rcvtimeo, 10000);
    s.connect(endpoint);
    return PeerThread(
        [s = std::move(s), body](const std::atomic<bool>& stop) mutable {
          Multipart request;
          for (const auto& part : body)
            request.emplace_back(part.data(), part.size());
          zmq::send_multipart(s, request);
          Multipart reply;
          if (!zmq::recv_multipart(s, std::back_inserter(reply))) {
            throw std::runtime_error("no reply");
          }
          if (Strings(reply) != body) throw std::runtime_error("reply differs");
          stop.wait(false);
        });
  };
  PeerThread req = peer(zmq::socket_type::req, "req-peer", {"load", "", "x"});
  PeerThread dealer =
      peer(zmq::socket_type::dealer, "dealer-peer", {"", "commit", "k", "v"});
  PeerThread bare = peer(zmq::socket_type::dealer, "bare-peer", {"ping"});

  EXPECT_TRUE(Run(30));
  // Replies are already with ZeroMQ; the peers read them while the ROUTER
  // (owned by the watcher) stays open until after the joins.
  req.Join();
  dealer.Join();
  bare.Join();
  EXPECT_EQ(req.error(), "");
  EXPECT_EQ(dealer.error(), "");
  EXPECT_EQ(bare.error(), "");

  ASSERT_EQ(seen.size(), 3u);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen[0], (std::vector<std::string>{"bare-peer", "ping"}));
  EXPECT_EQ(seen[1],
            (std::vector<std::string>{"dealer-peer", "", "commit", "k", "v"}));
  EXPECT_EQ(seen[2],
            (std::vector<std::string>{"req-peer", "", "load", "", "x"}));
}

// ---------------------------------------------------------------------------
// Budget

class BudgetTest : public LoopFixture,
                   public ::testing::WithParamInterface<int> {};

INSTANTIATE_TEST_SUITE_P(Budgets, BudgetTest, ::testing::Values(1, 7, 32));

TEST_P(BudgetTest, OneLoopTurnHandlesAtMostBudgetMessages) {
  const int budget = GetParam();
  constexpr int kMessages = 1000;
  zmq::socket_t server = Socket(zmq::socket_type::router);
  server.set(zmq::sockopt::rcvhwm, 0);
  const std::string endpoint = BindAny(server, "inproc");
  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  client.set(zmq::sockopt::sndhwm, 0);
  client.connect(endpoint);
  // Over inproc a send puts the message straight into the pipe: all of them
  // are waiting before the loop starts.
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(
        client.send(zmq::buffer(std::to_string(i)), zmq::send_flags::dontwait));
  }

  ZmqWatcher::Options options;
  options.budget = budget;
  int handled = 0;
  auto watcher = Watch(
      std::move(server),
      [&](ZmqWatcher&, Multipart&& m) {
        EXPECT_EQ(m[1].to_string(), std::to_string(handled));
        if (++handled == kMessages) {
          ev_break(loop_, EVBREAK_ALL);
        }
      },
      options);
  ASSERT_TRUE(watcher);
  // Independent of the watcher's own counters: a prepare that runs every
  // turn and measures how many messages the last turn handled.
  struct Probe {
    ev_prepare prepare;
    ZmqWatcher* watcher;
    std::uint64_t last = 0;
    std::uint64_t max_per_turn = 0;
  } probe{};
  probe.watcher = watcher.get();
  ev_prepare_init(&probe.prepare, [](struct ev_loop*, ev_prepare* w, int) {
    auto* p = static_cast<Probe*>(w->data);
    const std::uint64_t now = p->watcher->stats().messages_in;
    p->max_per_turn = std::max(p->max_per_turn, now - p->last);
    p->last = now;
  });
  probe.prepare.data = &probe;
  ev_prepare_start(loop_, &probe.prepare);

  EXPECT_TRUE(Run(30));
  ev_prepare_stop(loop_, &probe.prepare);
  const auto b = static_cast<std::uint64_t>(budget);
  EXPECT_EQ(handled, kMessages);
  EXPECT_LE(probe.max_per_turn, b);
  EXPECT_EQ(watcher->stats().max_batch, b);
  EXPECT_GE(watcher->stats().loop_turns, kMessages / b);
  EXPECT_GE(watcher->stats().budget_exhausted, kMessages / b - 1);
}

// ---------------------------------------------------------------------------
// Shutdown

TEST_P(ZmqWatcherTest, ShutdownWhileBusyDoesNotHang) {
  const double start = WallSeconds();
  zmq::socket_t server = Socket(zmq::socket_type::router);
  const std::string endpoint = BindAny(server);
  zmq::socket_t flooder = Socket(zmq::socket_type::dealer);
  flooder.set(zmq::sockopt::sndtimeo, 100);
  flooder.connect(endpoint);
  // Floods until told to stop; a full pipe only makes a send time out.
  PeerThread flood(
      [s = std::move(flooder)](const std::atomic<bool>& stop) mutable {
        while (!stop) static_cast<void>(s.send(zmq::buffer("flood", 5)));
      });

  constexpr int kStopAt = 5000;
  int handled = 0;
  auto watcher = Watch(std::move(server), [&](ZmqWatcher& self, Multipart&&) {
    if (++handled == kStopAt) {
      self.Stop();
      ev_break(loop_, EVBREAK_ALL);
    }
  });
  ASSERT_TRUE(watcher);
  EXPECT_TRUE(Run(30));
  EXPECT_EQ(handled, kStopAt);
  EXPECT_FALSE(watcher->running());
  // Stop() ended the turn: nothing was handled after it.
  EXPECT_EQ(watcher->stats().messages_in, static_cast<std::uint64_t>(kStopAt));

  // Order: watchers off the loop, then the socket closes (linger 0), then
  // the peer stops, then the context goes (fixture).
  watcher.reset();
  flood.Join();
  EXPECT_EQ(flood.error(), "");
  EXPECT_LT(WallSeconds() - start, 20.0);
}

TEST_P(ZmqWatcherTest, DestroyingARunningWatcherWithAQueueIsSafe) {
  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  client.set(zmq::sockopt::sndhwm, 1);
  client.set(zmq::sockopt::immediate, 1);
  // Nothing listens: a DEALER with no peer cannot send, so it all queues.
  client.connect(GetParam() == "tcp" ? "tcp://127.0.0.1:9"
                                     : "inproc://nobody-binds-this");
  auto watcher = Watch(std::move(client), [](ZmqWatcher&, Multipart&&) {});
  ASSERT_TRUE(watcher);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(watcher->Send(Frames({"a", "b"})).ok());
  }
  // (inproc's connect-before-bind keeps a pipe that takes a message or so.)
  const std::size_t queued = watcher->queued();
  EXPECT_GE(queued, 95u);
  LoopTimer stop_after(loop_, 0.05, 0., [&] { ev_break(loop_, EVBREAK_ALL); });
  EXPECT_TRUE(Run(10));
  EXPECT_EQ(watcher->queued(), queued);
  EXPECT_LE(watcher->stats().loop_turns, 10u) << "spinning on a blocked queue";
  watcher.reset();  // running, with a queue: stops its watchers, then closes
  EXPECT_EQ(ev_run(loop_, EVRUN_NOWAIT), 0) << "a watcher is still on the loop";
}

// ---------------------------------------------------------------------------
// Send queue limit, order, back-pressure

TEST_F(LoopFixture, SendQueueIsBoundedAndFlushesInOrder) {
  zmq::socket_t client = Socket(zmq::socket_type::dealer);
  ZmqWatcher::Options options;
  options.max_send_queue = 3;
  auto watcher = Watch(
      std::move(client), [](ZmqWatcher&, Multipart&&) {}, options);
  ASSERT_TRUE(watcher);
  // Not connected yet: every send would block and queues.
  EXPECT_TRUE(watcher->Send(Frames({"1", "one"})).ok());
  EXPECT_TRUE(watcher->Send(Frames({"2", "two"})).ok());
  EXPECT_TRUE(watcher->Send(Frames({"3", "three"})).ok());
  const Status full = watcher->Send(Frames({"4", "four"}));
  EXPECT_EQ(full.code(), Code::kUnavailable) << full.ToString();
  EXPECT_EQ(watcher->Send({}).code(), Code::kInvalidArgument);
  EXPECT_EQ(watcher->queued(), 3u);
  EXPECT_EQ(watcher->stats().queued, 3u);
  EXPECT_EQ(watcher->stats().dropped, 1u);

  zmq::socket_t peer = Socket(zmq::socket_type::dealer);
  const std::string endpoint = BindAny(peer, "inproc");
  watcher->socket().connect(endpoint);
  LoopTimer poll_queue(loop_, 0.001, 0.001, [&] {
    if (watcher->queued() == 0) ev_break(loop_, EVBREAK_ALL);
  });
  ASSERT_TRUE(Run(10));
  peer.set(zmq::sockopt::rcvtimeo, 5000);
  for (const char* expected : {"1", "2", "3"}) {
    Multipart got;
    ASSERT_TRUE(zmq::recv_multipart(peer, std::back_inserter(got)));
    EXPECT_EQ(got[0].to_string(), expected);
    EXPECT_EQ(got.size(), 2u);
  }
  EXPECT_EQ(watcher->stats().messages_out, 3u);
}

// A ROUTER never queues: with ZMQ_ROUTER_MANDATORY a reply to an unknown or
// full peer is dropped, counted and reported; other peers are not held up.
TEST_F(LoopFixture, RouterWithMandatoryDropsInsteadOfQueueing) {
  zmq::socket_t router = Socket(zmq::socket_type::router);
  router.set(zmq::sockopt::router_mandatory, 1);
  router.set(zmq::sockopt::sndhwm, 1);
  const std::string endpoint = BindAny(router, "inproc");
  zmq::socket_t peer = Socket(zmq::socket_type::dealer);
  peer.set(zmq::sockopt::routing_id, "slow");
  peer.set(zmq::sockopt::rcvhwm, 1);
  peer.connect(endpoint);
  auto watcher = Watch(std::move(router), [](ZmqWatcher&, Multipart&&) {});
  ASSERT_TRUE(watcher);

  const Status unknown = watcher->Send(Frames({"nobody", "hi"}));
  EXPECT_EQ(unknown.code(), Code::kUnavailable) << unknown.ToString();
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    refused = watcher->Send(Frames({"slow", std::to_string(i)}));
    if (refused.ok()) ++accepted;
  }
  EXPECT_GT(accepted, 0);
  EXPECT_EQ(refused.code(), Code::kUnavailable) << refused.ToString();
  EXPECT_EQ(watcher->queued(), 0u);
  EXPECT_EQ(watcher->stats().dropped, 2u);
  EXPECT_EQ(watcher->stats().messages_out,
            static_cast<std::uint64_t>(accepted));
}

TEST_F(LoopFixture, PauseReadingWhileTheSendQueueIsLong) {
  zmq::socket_t mine = Socket(zmq::socket_type::dealer);
  mine.set(zmq::sockopt::sndhwm, 1);
  const std::string endpoint = BindAny(mine, "inproc");
  zmq::socket_t peer = Socket(zmq::socket_type::dealer);
  peer.set(zmq::sockopt::rcvhwm, 1);
  peer.connect(endpoint);

  ZmqWatcher::Options options;
  options.pause_reading_at = 2;
  int handled = 0;
  auto watcher = Watch(
      std::move(mine), [&](ZmqWatcher&, Multipart&&) { ++handled; }, options);
  ASSERT_TRUE(watcher);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(watcher->Send(Frames({std::to_string(i)})).ok());
  }
  ASSERT_GE(watcher->queued(), 2u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(peer.send(zmq::buffer("req", 3), zmq::send_flags::dontwait));
  }

  // Phase 1: the peer does not read; we must not read either, nor spin.
  {
    LoopTimer stop_after(loop_, 0.1, 0., [&] { ev_break(loop_, EVBREAK_ALL); });
    ASSERT_TRUE(Run(10));
  }
  EXPECT_EQ(handled, 0);
  EXPECT_LE(watcher->stats().loop_turns, 10u);

  // Phase 2: the peer reads (from a timer on this loop), the queue drains,
  // and the requests are read.
  std::vector<std::string> got;
  LoopTimer drain(loop_, 0.001, 0.001, [&] {
    zmq::message_t m;
    while (peer.recv(m, zmq::recv_flags::dontwait))
      got.push_back(m.to_string());
    if (got.size() == 10 && handled == 5) ev_break(loop_, EVBREAK_ALL);
  });
  ASSERT_TRUE(Run(10)) << got.size() << " replies, " << handled << " read";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], std::to_string(i));
}

// ---------------------------------------------------------------------------
// Limits and errors

TEST_F(LoopFixture, OversizedMessagesAreDroppedWhole) {
  zmq::socket_t mine = Socket(zmq::socket_type::pull);
  const std::string endpoint = BindAny(mine, "inproc");
  zmq::socket_t peer = Socket(zmq::socket_type::push);
  peer.connect(endpoint);
  zmq::send_multipart(peer, Frames({"1", "2", "3", "4", "5"}));
  zmq::send_multipart(peer, Frames({"a", "b"}));
  zmq::send_multipart(peer, Frames({"x", "y", "z"}));

  ZmqWatcher::Options options;
  options.max_frames_in = 3;
  std::vector<std::vector<std::string>> seen;
  auto watcher = Watch(
      std::move(mine),
      [&](ZmqWatcher&, Multipart&& m) {
        seen.push_back(Strings(m));
        if (seen.size() == 2) ev_break(loop_, EVBREAK_ALL);
      },
      options);
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(Run(10));
  EXPECT_EQ(seen, (std::vector<std::vector<std::string>>{{"a", "b"},
                                                         {"x", "y", "z"}}));
  EXPECT_EQ(watcher->stats().oversized_in, 1u);
}

TEST_F(LoopFixture, HandlerExceptionsAreContained) {
  zmq::socket_t mine = Socket(zmq::socket_type::pull);
  const std::string endpoint = BindAny(mine, "inproc");
  zmq::socket_t peer = Socket(zmq::socket_type::push);
  peer.connect(endpoint);
  peer.send(zmq::buffer("boom", 4));
  peer.send(zmq::buffer("fine", 4));
  int handled = 0;
  auto watcher = Watch(std::move(mine), [&](ZmqWatcher&, Multipart&& m) {
    ++handled;
    if (m[0].to_string() == "boom") throw std::runtime_error("boom");
    ev_break(loop_, EVBREAK_ALL);
  });
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(Run(10));
  EXPECT_EQ(handled, 2);
  EXPECT_TRUE(watcher->running());
  EXPECT_EQ(watcher->stats().handler_exceptions, 1u);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("boom"), std::string::npos) << errors_[0];
}

TEST_F(LoopFixture, ContextShutdownStopsTheWatcherWithShuttingDown) {
  zmq::context_t ctx;
  zmq::socket_t mine(ctx, zmq::socket_type::pull);
  mine.set(zmq::sockopt::linger, 0);
  mine.bind("inproc://shutdown-test");
  std::vector<Status> errors;
  auto created = ZmqWatcher::Create(
      loop_, std::move(mine), {}, [](ZmqWatcher&, Multipart&&) {},
      [&](ZmqWatcher&, const Status& s) {
        errors.push_back(s);
        ev_break(loop_, EVBREAK_ALL);
      });
  ASSERT_TRUE(created.ok());
  std::unique_ptr<ZmqWatcher> watcher = std::move(created).value();
  watcher->Start();
  LoopTimer shut(loop_, 0.01, 0., [&] { ctx.shutdown(); });
  // The watcher fails and stops; with nothing else active ev_run returns.
  EXPECT_TRUE(Run(10));
  EXPECT_FALSE(watcher->running());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), Code::kShuttingDown) << errors[0].ToString();
  EXPECT_EQ(watcher->Send(Frames({"late"})).code(), Code::kShuttingDown);
  watcher.reset();  // closes the socket, so ctx can terminate
}

TEST_F(LoopFixture, CreateRejectsBadArguments) {
  auto handler = [](ZmqWatcher&, Multipart&&) {};
  EXPECT_EQ(
      ZmqWatcher::Create(nullptr, Socket(zmq::socket_type::pull), {}, handler)
          .code(),
      Code::kInvalidArgument);
  EXPECT_EQ(ZmqWatcher::Create(loop_, zmq::socket_t(), {}, handler).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      ZmqWatcher::Create(loop_, Socket(zmq::socket_type::pull), {}, nullptr)
          .code(),
      Code::kInvalidArgument);
  ZmqWatcher::Options zero_budget;
  zero_budget.budget = 0;
  EXPECT_EQ(ZmqWatcher::Create(loop_, Socket(zmq::socket_type::pull),
                               zero_budget, handler)
                .code(),
            Code::kInvalidArgument);
  auto ok =
      ZmqWatcher::Create(loop_, Socket(zmq::socket_type::router), {}, handler);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->socket_type(), ZMQ_ROUTER);
  EXPECT_FALSE((*ok)->running());
}

TEST(ZmqErrorStatusTest, MapsErrnoToCodes) {
  EXPECT_EQ(ZmqErrorStatus(ETERM, "x").code(), Code::kShuttingDown);
  EXPECT_EQ(ZmqErrorStatus(EHOSTUNREACH, "x").code(), Code::kUnavailable);
  EXPECT_EQ(ZmqErrorStatus(EFSM, "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(ZmqErrorStatus(ENOTSOCK, "x").code(), Code::kInternal);
  EXPECT_NE(ZmqErrorStatus(ETERM, "send").message().find("send: "),
            std::string::npos);
}

// The ids of this process's ZeroMQ I/O threads (named by libzmq).
std::set<pid_t> IoThreads() {
  std::set<pid_t> ids;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("ZMQbg/IO/", 0) == 0) {
      ids.insert(static_cast<pid_t>(std::stoi(task.path().filename())));
    }
  }
  return ids;
}

// The scheduling policy of the I/O thread that a context's first socket
// starts.
int PolicyOfNewIoThread(bool prefer_batch, bool expect_applied) {
  const std::set<pid_t> before = IoThreads();
  zmq::context_t context(1);
  if (prefer_batch) {
    EXPECT_EQ(PreferBatchIoThreads(context), expect_applied);
  }
  zmq::socket_t socket(context, zmq::socket_type::router);
  socket.bind("inproc://policy");
  // The thread applies its policy and then names itself once it runs.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    for (pid_t id : IoThreads()) {
      if (before.count(id) == 0) return sched_getscheduler(id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ADD_FAILURE() << "no new ZMQbg/IO thread within 10 s";
  return -1;
}

// Whether this system lets a thread of ours move itself to SCHED_BATCH
// (Linux lets any thread; a seccomp filter may not).
bool SystemAllowsSchedBatch() {
  bool allowed = false;
  std::thread probe([&allowed] {
    sched_param param{};
    allowed = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) == 0;
  });
  probe.join();
  return allowed;
}

TEST(PreferBatchIoThreadsTest, StartsTheContextsIoThreadUnderSchedBatch) {
  const bool allowed = SystemAllowsSchedBatch();
  EXPECT_EQ(PolicyOfNewIoThread(false, false), SCHED_OTHER);
  // Where the system refuses the policy, the context is left as it was
  // (libzmq would abort on a policy it cannot apply).
  EXPECT_EQ(PolicyOfNewIoThread(true, allowed),
            allowed ? SCHED_BATCH : SCHED_OTHER);
}

}  // namespace
}  // namespace sessiond
