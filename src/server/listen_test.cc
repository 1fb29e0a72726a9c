// Tests for the parts of binding that need no socket: what a tcp endpoint
// binds (IPv6 literals, localhost) and how app_socket_group resolves. The
// binds themselves are tested against the real binary in
// tests/socket_access_test.cc.
#include "server/listen.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace sessiond {
namespace {

TEST(PlanTcpBind, Ipv6LiteralsNeedZmqIpv6) {
  Result<TcpBindPlan> plan = PlanTcpBind("tcp://[::1]:5555");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->ipv6);
  EXPECT_EQ(plan->endpoints, std::vector<std::string>{"tcp://[::1]:5555"});
}

TEST(PlanTcpBind, AddressesBindAsWritten) {
  for (const char* e :
       {"tcp://127.0.0.1:5555", "tcp://0.0.0.0:1", "tcp://*:2"}) {
    Result<TcpBindPlan> plan = PlanTcpBind(e);
    ASSERT_TRUE(plan.ok()) << e;
    EXPECT_FALSE(plan->ipv6) << e;
    EXPECT_EQ(plan->endpoints, std::vector<std::string>{e});
  }
}

// libzmq does not resolve names on bind; localhost becomes what it
// resolves to here: loopback addresses only, IPv4 first.
TEST(PlanTcpBind, LocalhostBecomesItsLoopbackAddresses) {
  Result<TcpBindPlan> plan = PlanTcpBind("tcp://localhost:5555");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_FALSE(plan->endpoints.empty());
  for (const std::string& e : plan->endpoints) {
    EXPECT_TRUE(e == "tcp://[::1]:5555" || e.starts_with("tcp://127.")) << e;
    EXPECT_TRUE(IsLoopbackEndpoint(e)) << e;
  }
  if (plan->endpoints.size() > 1) {
    EXPECT_TRUE(plan->endpoints[0].starts_with("tcp://127."));
    EXPECT_TRUE(plan->ipv6);
  }
}

TEST(ResolveSocketGroup, NamesNumbersAndTheDaemonsOwn) {
  Result<gid_t> own = ResolveSocketGroup("");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, ::getegid());
  Result<gid_t> number = ResolveSocketGroup("4242");
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(*number, 4242u);
  Result<gid_t> root = ResolveSocketGroup("root");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(*root, 0u);
  Result<gid_t> missing = ResolveSocketGroup("no-such-group-sessiond");
  EXPECT_EQ(missing.code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("not a group"), std::string::npos);
  EXPECT_EQ(ResolveSocketGroup("99999999999999999999").code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace sessiond
