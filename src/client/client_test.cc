// Tests of sessiond::Client against a scripted in-process ROUTER, so the
// client's own contract (framing, reply parsing, request-id matching,
// timeouts that rebuild the socket) is checked without the daemon.
#include "sessiond/client.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <zmq.hpp>

#include "gtest/gtest.h"

namespace sessiond {
namespace {

using std::chrono::milliseconds;

constexpr char kSessionJson[] =
    R"({"id":"abc","user_id":"u1","csrf_token":"tok","data":{"k":"v"},)"
    R"("flash":[{"queue":"","message":"Saved."}],"created_at":10,)"
    R"("last_seen_at":11,"expires_at":12,"idle_timeout":13,"ip":"1.2.3.4",)"
    R"("user_agent":"UA","version":3,"new":true,"future_member":[1]})";

// A ROUTER on a loopback port that answers by verb:
//   PING -> OK PONG;  SLOW -> replies after 300 ms;  HOLD -> held until
//   RELEASE, which answers every held request in reverse order;
//   LOAD -> a session reply;  ECHO -> OK with the arguments;
//   FAIL -> NOT_FOUND "no such session";  ODD -> status "WHAT".
class FakeServer {
 public:
  FakeServer() : socket_(context_, zmq::socket_type::router) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  using Message = std::vector<std::string>;

  void Send(const Message& m) {
    for (size_t i = 0; i < m.size(); ++i) {
      socket_.send(zmq::buffer(m[i]), i + 1 < m.size()
                                          ? zmq::send_flags::sndmore
                                          : zmq::send_flags::none);
    }
  }

  // identity, "", SD1, id, status, results...
  Message ReplyTo(const Message& req, std::string status,
                  std::vector<std::string> results) {
    Message out = {req[0], "", "SD1", req[3], std::move(status)};
    out.insert(out.end(), results.begin(), results.end());
    return out;
  }

  void Run() {
    std::vector<Message> held;
    std::vector<std::pair<std::chrono::steady_clock::time_point, Message>>
        delayed;
    while (!stop_) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, milliseconds(10));
      auto now = std::chrono::steady_clock::now();
      for (auto it = delayed.begin(); it != delayed.end();) {
        if (it->first <= now) {
          Send(it->second);
          it = delayed.erase(it);
        } else {
          ++it;
        }
      }
      if (!(item.revents & ZMQ_POLLIN)) continue;
      Message req;
      zmq::message_t part;
      do {
        (void)socket_.recv(part);
        req.push_back(part.to_string());
      } while (part.more());
      if (req.size() < 5) continue;
      const std::string& verb = req[4];
      std::vector<std::string> args(req.begin() + 5, req.end());
      if (verb == "PING") {
        Send(ReplyTo(req, "OK", {"PONG"}));
      } else if (verb == "SLOW") {
        delayed.emplace_back(now + milliseconds(300),
                             ReplyTo(req, "OK", {"late"}));
      } else if (verb == "HOLD") {
        held.push_back(req);
      } else if (verb == "RELEASE") {
        for (auto it = held.rbegin(); it != held.rend(); ++it) {
          Send(ReplyTo(*it, "OK", {(*it)[5]}));
        }
        held.clear();
        Send(ReplyTo(req, "OK", {}));
      } else if (verb == "LOAD") {
        Send(ReplyTo(req, "OK",
                     {"cookie-1", "sessiond=cookie-1; Path=/", kSessionJson}));
      } else if (verb == "ECHO" || verb == "COMMIT") {
        Send(ReplyTo(req, "OK", args));
      } else if (verb == "FAIL") {
        Send(ReplyTo(req, "NOT_FOUND", {"no such session"}));
      } else if (verb == "ODD") {
        Send(ReplyTo(req, "WHAT", {"?"}));
      } else {
        Send(ReplyTo(req, "UNKNOWN_VERB", {"no such verb"}));
      }
    }
  }

  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ClientOptions Options(const std::string& endpoint,
                      milliseconds timeout = milliseconds(2000)) {
  ClientOptions o;
  o.endpoint = endpoint;
  o.timeout = timeout;
  return o;
}

TEST(ClientTest, PingAndErrors) {
  FakeServer server;
  Client c(Options(server.endpoint()));
  ASSERT_TRUE(c.Ping().ok());
  auto r = c.Call("FAIL", {"x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, Code::kNotFound);
  EXPECT_EQ(r->ToStatus().message(), "no such session");
  auto odd = c.Call("ODD");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->code, Code::kInternal);
  EXPECT_EQ(odd->status_name, "WHAT");
}

TEST(ClientTest, ParsesTheSessionReply) {
  FakeServer server;
  Client c(Options(server.endpoint()));
  auto s = c.Load("cookie-0");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->cookie, "cookie-1");
  EXPECT_EQ(s->set_cookie, "sessiond=cookie-1; Path=/");
  EXPECT_EQ(s->session.id, "abc");
  EXPECT_EQ(s->session.user_id, "u1");
  EXPECT_EQ(s->session.data.at("k"), "v");
  ASSERT_EQ(s->session.flash.size(), 1u);
  EXPECT_EQ(s->session.flash[0].message, "Saved.");
  EXPECT_EQ(s->session.version, 3u);
  EXPECT_EQ(s->session.idle_timeout, 13);
  EXPECT_TRUE(s->session.is_new);
}

TEST(ClientTest, ChangeSetJson) {
  ChangeSet c;
  c.base_version = 7;
  c.set = {{"a", "1"}};
  c.erase = {"b"};
  c.flash_push = {{"q", "m"}};
  EXPECT_EQ(ChangeSetToJson(c),
            R"({"base_version":7,"erase":["b"],"flash":[{"message":"m",)"
            R"("queue":"q"}],"set":{"a":"1"}})");
  EXPECT_EQ(ChangeSetToJson(ChangeSet{}), R"({"base_version":0})");
}

TEST(ClientTest, BadSessionJsonIsInternal) {
  EXPECT_EQ(ParseSessionJson("{").code(), Code::kInternal);
  EXPECT_EQ(ParseSessionJson(R"({"version":"three"})").code(), Code::kInternal);
  EXPECT_TRUE(ParseSessionJson("{}").ok());
}

TEST(ClientTest, FlattenStats) {
  auto flat = FlattenJsonObject(R"({"b":1,"a":{"in":2,"out":"x"}})");
  ASSERT_TRUE(flat.ok());
  std::vector<std::pair<std::string, std::string>> want = {
      {"b", "1"}, {"a.in", "2"}, {"a.out", "x"}};
  EXPECT_EQ(*flat, want);
  EXPECT_FALSE(FlattenJsonObject("[1]").ok());
}

TEST(ClientTest, PipelinedRepliesMatchByRequestId) {
  FakeServer server;
  Client c(Options(server.endpoint()));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = c.Send("HOLD", {"arg" + std::to_string(i)});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  EXPECT_EQ(c.in_flight(), 3u);
  // RELEASE answers the held ones (newest first) before itself; Call keeps
  // them for Receive.
  auto released = c.Call("RELEASE");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(c.in_flight(), 3u) << "answered but not yet received";
  auto first = c.ReceiveFor(ids[0]);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->frames, std::vector<std::string>{"arg0"});
  for (int i = 0; i < 2; ++i) {
    auto r = c.Receive();
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->request_id == ids[1] || r->request_id == ids[2]);
  }
  auto none = c.Receive(milliseconds(50));
  EXPECT_EQ(none.code(), Code::kUnavailable);
}

TEST(ClientTest, TimeoutRebuildsTheSocket) {
  FakeServer server;
  Client c(Options(server.endpoint(), milliseconds(100)));
  auto slow = c.Call("SLOW");
  EXPECT_EQ(slow.code(), Code::kUnavailable);
  EXPECT_NE(slow.status().message().find(server.endpoint()), std::string::npos);
  EXPECT_EQ(c.in_flight(), 0u);
  // The late reply to SLOW must never be taken for a later request's.
  std::this_thread::sleep_for(milliseconds(400));
  auto echo = c.Call("ECHO", {"fresh"});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(echo->frames, std::vector<std::string>{"fresh"});
}

TEST(ClientTest, UnreachableIsUnavailable) {
  Client c(Options("tcp://127.0.0.1:1", milliseconds(100)));
  Status st = c.Ping();
  EXPECT_EQ(st.code(), Code::kUnavailable);
}

TEST(ClientTest, MakeChecksOptions) {
  EXPECT_EQ(Client::Make(Options("localhost:5555")).code(),
            Code::kInvalidArgument);
  ClientOptions curve = Options("tcp://127.0.0.1:5555");
  curve.curve_server_key = std::string(40, 'a');
  EXPECT_EQ(Client::Make(curve).code(), Code::kInvalidArgument);
  EXPECT_TRUE(Client::Make(Options("ipc:///tmp/x.sock")).ok());
}

}  // namespace
}  // namespace sessiond
