// loadgen: the project's own ZeroMQ load generator for sessiond and for the
// bare echo server (bench/echo_server.cc), so both are driven identically.
//
// N DEALER connections, each keeping K requests in flight, on one thread
// (zmq_poll): pin it to its own core with taskset. Speaks protocol SD1
// (docs/protocol.md). Prints one JSON line: throughput and latency
// percentiles (p50, p99, p99.9) over the measured requests.
//
//   loadgen --endpoint tcp://127.0.0.1:5555 --verb load -n 16 -k 1
//           --seconds 5 --cookies cookies.txt
//
// Verbs: ping, load (cookies from --cookies, or created first), commit
// (each in-flight slot commits to its own session, tracking its version),
// echo (a LOAD-shaped request to the echo server, which returns it).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  std::string cookie;      // the session this slot works on
  uint64_t version = 0;    // commit: the version it last saw
  Clock::time_point sent;  // when its request left
  uint64_t seq = 0;
};

struct Connection {
  zmq::socket_t socket;
  std::vector<Slot> slots;
};

// Finds "version":N in a session JSON frame. A full JSON parse would be
// measured as load-generator cost; the reply is sessiond's own output.
uint64_t ParseVersion(std::string_view json) {
  auto pos = json.find("\"version\":");
  if (pos == std::string_view::npos) return 0;
  pos += 10;
  uint64_t v = 0;
  while (pos < json.size() && json[pos] >= '0' && json[pos] <= '9') {
    v = v * 10 + static_cast<uint64_t>(json[pos] - '0');
    ++pos;
  }
  return v;
}

bool RecvAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames) {
  frames.clear();
  while (true) {
    zmq::message_t m;
    if (!s.recv(m, zmq::recv_flags::none)) return false;
    bool more = m.more();
    frames.push_back(std::move(m));
    if (!more) return true;
  }
}

void SendFrames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore
                                       : zmq::send_flags::none;
    s.send(zmq::buffer(frames[i]), flags);
  }
}

std::string Frame(const zmq::message_t& m) {
  return std::string(static_cast<const char*>(m.data()), m.size());
}

// Synchronous request on a fresh socket, for set-up (creating sessions).
std::vector<std::string> Call(zmq::socket_t& s,
                              const std::vector<std::string>& frames) {
  SendFrames(s, frames);
  std::vector<zmq::message_t> reply;
  RecvAll(s, reply);
  std::vector<std::string> out;
  for (auto& m : reply) out.push_back(Frame(m));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadgen: ZeroMQ load generator for sessiond (protocol SD1)"};
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string verb = "load";
  std::string cookies_file;
  int connections = 16;
  int inflight = 1;
  double seconds = 5;
  double warmup = 1;
  uint64_t max_requests = 0;
  int value_bytes = 32;
  bool warmup_pass = false;
  app.add_option("--endpoint,-e", endpoint, "sessiond or echo endpoint");
  app.add_option("--verb", verb, "ping | load | commit | echo")
      ->check(CLI::IsMember({"ping", "load", "commit", "echo"}));
  app.add_option("--connections,-n", connections, "DEALER connections")
      ->check(CLI::Range(1, 1024));
  app.add_option("--inflight,-k", inflight, "requests in flight each")
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds,-s", seconds, "measured duration");
  app.add_option("--warmup", warmup, "unmeasured warm-up seconds");
  app.add_option("--requests,-r", max_requests, "stop after this many");
  app.add_option("--cookies", cookies_file, "file of cookies to LOAD");
  app.add_option("--value-bytes", value_bytes, "COMMIT value size");
  app.add_flag("--warmup-pass", warmup_pass,
               "LOAD every cookie of --cookies once, in file order, before "
               "the warm-up and the measured run (reported as pass_s)");
  CLI11_PARSE(app, argc, argv);

  zmq::context_t ctx(1);
  std::vector<Connection> conns;
  conns.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    Connection c{zmq::socket_t(ctx, zmq::socket_type::dealer), {}};
    c.socket.set(zmq::sockopt::linger, 0);
    c.socket.set(zmq::sockopt::sndhwm, 0);
    c.socket.set(zmq::sockopt::rcvhwm, 0);
    c.socket.connect(endpoint);
    c.slots.resize(static_cast<size_t>(inflight));
    conns.push_back(std::move(c));
  }

  // Sessions to work on.
  std::vector<std::string> cookies;
  if (!cookies_file.empty()) {
    std::ifstream in(cookies_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) cookies.push_back(line);
    }
  }
  std::mt19937_64 rng(42);
  size_t slot_count = static_cast<size_t>(connections) *
                      static_cast<size_t>(inflight);
  if ((verb == "load" && cookies.empty()) || verb == "commit") {
    for (size_t i = 0; i < slot_count; ++i) {
      auto r = Call(conns[0].socket, {"", "SD1", "c", "CREATE", "{}"});
      if (r.size() < 7 || r[3] != "OK") {
        std::cerr << "loadgen: CREATE failed: "
                  << (r.size() > 4 ? r[3] + " " + r[4] : "short reply") << "\n";
        return 1;
      }
      cookies.push_back(r[4]);
      conns[i / static_cast<size_t>(inflight)]
          .slots[i % static_cast<size_t>(inflight)]
          .version = ParseVersion(r[6]);
    }
  }
  if (verb == "echo" && cookies.empty()) {
    cookies.push_back(std::string(132, 'A'));  // a server cookie's size
  }
  for (size_t i = 0; i < slot_count; ++i) {
    auto& slot = conns[i / static_cast<size_t>(inflight)]
                     .slots[i % static_cast<size_t>(inflight)];
    slot.cookie = cookies.empty() ? "" : cookies[i % cookies.size()];
  }

  const std::string value(static_cast<size_t>(value_bytes), 'v');
  // The pass over every cookie: the next one to send, and how many answered.
  const bool pass = warmup_pass && verb == "load" && !cookies_file.empty();
  size_t pass_next = 0, pass_answered = 0;
  auto send_request = [&](Connection& c, size_t slot_index) {
    Slot& slot = c.slots[slot_index];
    std::string rid = std::to_string(slot_index);
    if (verb == "ping") {
      SendFrames(c.socket, {"", "SD1", rid, "PING"});
    } else if (verb == "load" || verb == "echo") {
      const std::string& cookie =
          pass && pass_next < cookies.size() ? cookies[pass_next++]
          : cookies.size() > slot_count
              ? cookies[static_cast<size_t>(rng() % cookies.size())]
              : slot.cookie;
      SendFrames(c.socket, {"", "SD1", rid, "LOAD", cookie});
    } else {
      std::string changes = "{\"base_version\":" +
                            std::to_string(slot.version) +
                            ",\"set\":{\"k\":\"" + value + "\"}}";
      SendFrames(c.socket, {"", "SD1", rid, "COMMIT", slot.cookie, changes});
    }
    slot.sent = Clock::now();
  };

  std::vector<zmq::pollitem_t> items;
  for (auto& c : conns) {
    items.push_back({c.socket.handle(), 0, ZMQ_POLLIN, 0});
    for (size_t s = 0; s < c.slots.size(); ++s) send_request(c, s);
  }

  std::vector<uint32_t> latencies_ns;
  latencies_ns.reserve(4'000'000);
  uint64_t errors = 0, measured = 0;
  std::string first_error;
  auto start = Clock::now();
  auto measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(warmup));
  auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  double pass_s = 0;
  auto last_reply = start;
  if (pass) measure_from = stop_at = Clock::time_point::max();  // set later
  std::vector<zmq::message_t> frames;
  bool done = false;
  while (!done) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(1000));
    auto now = Clock::now();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      Connection& c = conns[i];
      while (true) {
        zmq::message_t first;
        if (!c.socket.recv(first, zmq::recv_flags::dontwait)) break;
        frames.clear();
        bool more = first.more();
        frames.push_back(std::move(first));
        while (more) {
          zmq::message_t m;
          (void)c.socket.recv(m, zmq::recv_flags::none);
          more = m.more();
          frames.push_back(std::move(m));
        }
        if (frames.size() < 4) {
          ++errors;
          continue;
        }
        size_t slot_index = std::stoul(Frame(frames[2]));
        if (slot_index >= c.slots.size()) continue;
        Slot& slot = c.slots[slot_index];
        now = last_reply = Clock::now();
        std::string status = Frame(frames[3]);
        if (verb != "echo" && status != "OK") {
          ++errors;
          if (first_error.empty()) {
            first_error = status + (frames.size() > 4 ? " " + Frame(frames[4])
                                                      : std::string());
          }
        } else if (verb == "commit" && frames.size() > 6) {
          slot.cookie = Frame(frames[4]);
          slot.version = ParseVersion(
              std::string_view(static_cast<const char*>(frames[6].data()),
                               frames[6].size()));
        }
        if (pass && measure_from == Clock::time_point::max() &&
            ++pass_answered >= cookies.size()) {
          pass_s = std::chrono::duration<double>(now - start).count();
          measure_from = now + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(warmup));
          stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(seconds));
        }
        if (now >= measure_from) {
          latencies_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(now -
                                                                   slot.sent)
                  .count(),
              UINT32_MAX)));
          ++measured;
        }
        if (now >= stop_at || (max_requests && measured >= max_requests)) {
          done = true;
          break;
        }
        send_request(c, slot_index);
      }
      if (done) break;
    }
    const auto t = Clock::now();
    if ((stop_at != Clock::time_point::max() &&
         t >= stop_at + std::chrono::seconds(5)) ||
        t - last_reply > std::chrono::seconds(10)) {
      break;  // stalled
    }
  }
  for (char& ch : first_error) {
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ch = '\'';
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - measure_from)
                       .count();
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto pct = [&](double p) -> double {
    if (latencies_ns.empty()) return 0;
    size_t idx = std::min(latencies_ns.size() - 1,
                          static_cast<size_t>(p * latencies_ns.size()));
    return latencies_ns[idx] / 1000.0;
  };
  std::printf(
      "{\"verb\":\"%s\",\"endpoint\":\"%s\",\"connections\":%d,"
      "\"inflight\":%d,\"requests\":%llu,\"errors\":%llu,\"seconds\":%.3f,"
      "\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"pass_s\":%.3f,\"first_error\":\"%s\"}\n",
      verb.c_str(), endpoint.c_str(), connections, inflight,
      static_cast<unsigned long long>(measured),
      static_cast<unsigned long long>(errors), elapsed,
      elapsed > 0 ? measured / elapsed : 0.0, pct(0.50), pct(0.99),
      pct(0.999), pass_s, first_error.c_str());
  return errors > 0 && measured == 0 ? 1 : 0;
}
