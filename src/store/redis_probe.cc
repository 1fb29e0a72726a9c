// ProbeRedis (redis_probe.h): one short blocking connection per configured
// node, the answers turned into the start-up verdict.
#include "store/redis_probe.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <string_view>

#include "store/redis_cluster.h"
#include "store/redis_connection.h"
#include "store/redis_layout.h"

namespace sessiond {
namespace {

struct FreeContext {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, FreeContext>;

timeval Timeval(double seconds) {
  const double whole = std::floor(seconds);
  return timeval{static_cast<time_t>(whole),
                 static_cast<suseconds_t>((seconds - whole) * 1e6)};
}

// One command. An error reply comes back as the error text in `error`.
struct Answer {
  std::optional<RedisValue> value;
  std::string error;      // an error reply's text
  std::string transport;  // hiredis' reason when there was no reply
};

Answer Run(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  Answer out;
  auto* r = static_cast<redisReply*>(redisCommandArgv(
      c, static_cast<int>(args.size()), args.data(), lens.data()));
  if (r == nullptr) {
    out.transport = c->errstr[0] != '\0' ? c->errstr : "no reply";
    return out;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    out.error.assign(r->str, r->len);
  } else {
    out.value = RedisValueFromReply(r);
  }
  freeReplyObject(r);
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string InfoField(const std::string& info, std::string_view field) {
  size_t at = 0;
  while (at < info.size()) {
    size_t end = info.find('\n', at);
    if (end == std::string::npos) end = info.size();
    std::string_view line(info.data() + at, end - at);
    if (StartsWith(line, field) && line.size() > field.size() &&
        line[field.size()] == ':') {
      line.remove_prefix(field.size() + 1);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.remove_suffix(1);
      }
      return std::string(line);
    }
    at = end + 1;
  }
  return "";
}

const char kCredentialsHint[] =
    "check [redis] username and password_file (or SESSIOND_REDIS_PASSWORD), "
    "and the user's ACL in Redis";

class Prober {
 public:
  explicit Prober(const RedisOptions& o) : o_(o) {}

  Result<RedisProbeReport> Run() {
    const bool cluster = !o_.cluster_nodes.empty();
    std::vector<RedisNodeAddress> targets;
    if (cluster) {
      for (const std::string& node : o_.cluster_nodes) {
        Result<RedisNodeAddress> a = ParseRedisNodeAddress(node);
        if (!a.ok()) return a.status();
        targets.push_back(std::move(*a));
      }
    } else if (!o_.unix_socket.empty()) {
      targets.push_back({o_.unix_socket, 0});
    } else {
      targets.push_back({o_.host, o_.port});
    }
    bool layout_checked = false;
    bool replicas_checked = false;
    for (const RedisNodeAddress& node : targets) {
      Result<Context> c = Connect(node);
      if (!c.ok()) return c.status();
      if (*c == nullptr) continue;  // unreachable: noted
      SESSIOND_RETURN_IF_ERROR(CheckTopology(c->get(), node, cluster));
      if (!layout_checked) {
        SESSIOND_RETURN_IF_ERROR(CheckLayout(c->get(), node));
        layout_checked = true;
      }
      if (!replicas_checked && o_.wait_replicas > 0) {
        CheckReplicas(c->get(), node, cluster);
        replicas_checked = true;
      }
    }
    return report_;
  }

 private:
  std::string Name(const RedisNodeAddress& node) const {
    return "redis at " + node.ToString();
  }

  // nullptr (and a warning) when the node does not answer; an error when
  // it answers but refuses us.
  Result<Context> Connect(const RedisNodeAddress& node) {
    const timeval connect_tv = Timeval(o_.connect_timeout_s);
    Context c(node.port == 0
                  ? redisConnectUnixWithTimeout(node.host.c_str(), connect_tv)
                  : redisConnectWithTimeout(node.host.c_str(), node.port,
                                            connect_tv));
    if (c == nullptr || c->err != 0) {
      report_.warnings.push_back(
          Name(node) + " does not answer (" +
          (c == nullptr ? std::string("no memory") : std::string(c->errstr)) +
          "); sessiond answers UNAVAILABLE until it does");
      return Context();
    }
    redisSetTimeout(c.get(), Timeval(o_.command_timeout_s));
    SESSIOND_RETURN_IF_ERROR(Authenticate(c.get(), node));
    Answer ping = sessiond::Run(c.get(), {"PING"});
    if (!ping.transport.empty()) {
      report_.warnings.push_back(Name(node) + " does not answer PING (" +
                                 ping.transport + ")");
      return Context();
    }
    if (StartsWith(ping.error, "NOAUTH")) {
      return Status(Code::kPermissionDenied,
                    Name(node) +
                        " requires authentication (NOAUTH) and no password "
                        "is configured: set [redis] password_file or "
                        "SESSIOND_REDIS_PASSWORD (and [redis] username for "
                        "an ACL user)");
    }
    if (!ping.error.empty()) {
      return Status(Code::kPermissionDenied,
                    Name(node) + " refused PING: " + ping.error + "; " +
                        kCredentialsHint);
    }
    // sessiond runs its operations as Lua scripts: a user without
    // @scripting would answer NOPERM to every request.
    Answer scripts = sessiond::Run(
        c.get(),
        {"SCRIPT", "EXISTS", "0000000000000000000000000000000000000000"});
    if (StartsWith(scripts.error, "NOPERM")) {
      return Status(Code::kPermissionDenied,
                    Name(node) + " does not let this user run scripts (" +
                        scripts.error + "); sessiond needs @scripting, " +
                        "@read, @write and @keyspace on ~" + o_.key_prefix +
                        ":* (docs/storage.md)");
    }
    return c;
  }

  Status Authenticate(redisContext* c, const RedisNodeAddress& node) {
    if (o_.password.empty()) return Status();
    std::vector<std::string> argv = {"AUTH"};
    if (!o_.username.empty()) argv.push_back(o_.username);
    argv.push_back(o_.password);
    Answer auth = sessiond::Run(c, argv);
    if (auth.error.empty()) return Status();
    const std::string who = o_.username.empty()
                                ? std::string("the default user")
                                : "user '" + o_.username + "'";
    if (auth.error.find("without any password configured") !=
        std::string::npos) {
      return Status(Code::kPermissionDenied,
                    Name(node) + " has no password for " + who +
                        ", but one is configured (" + auth.error +
                        "): remove it, or set requirepass / the ACL user");
    }
    return Status(Code::kPermissionDenied,
                  Name(node) + " refused the credentials of " + who + " (" +
                      auth.error + "); " + kCredentialsHint);
  }

  Status CheckTopology(redisContext* c, const RedisNodeAddress& node,
                       bool cluster) {
    Answer info = sessiond::Run(c, {"INFO", "cluster"});
    if (!info.value) return Status();  // an old or restricted server
    const bool enabled = InfoField(info.value->str, "cluster_enabled") == "1";
    if (cluster && !enabled) {
      return InvalidArgument("[redis] cluster_nodes names " + node.ToString() +
                             ", which runs without cluster support: "
                             "configure it with [redis] host and port");
    }
    if (!cluster && enabled) {
      return InvalidArgument(Name(node) +
                             " is a Redis Cluster node: list the cluster's "
                             "nodes in [redis] cluster_nodes");
    }
    return Status();
  }

  Status CheckLayout(redisContext* c, const RedisNodeAddress& node) {
    const std::string key = o_.key_prefix + ":layout";
    Answer got = sessiond::Run(c, {"GET", key});
    Context other;
    if (StartsWith(got.error, "MOVED")) {
      // The marker's slot lives on another node: ask it, once.
      std::optional<RedisRedirect> to = ParseRedirect(got.error, node.host);
      if (!to) return Status();
      const timeval tv = Timeval(o_.connect_timeout_s);
      other.reset(
          redisConnectWithTimeout(to->node.host.c_str(), to->node.port, tv));
      if (other == nullptr || other->err != 0) return Status();
      redisSetTimeout(other.get(), Timeval(o_.command_timeout_s));
      SESSIOND_RETURN_IF_ERROR(Authenticate(other.get(), to->node));
      got = sessiond::Run(other.get(), {"GET", key});
    }
    if (!got.value) return Status();  // the store's own check will say
    std::optional<std::string_view> marker;
    if (!got.value->is_nil()) marker = got.value->str;
    switch (JudgeRedisLayoutMarker(marker)) {
      case RedisLayoutVerdict::kReady:
        return Status();
      case RedisLayoutVerdict::kMigrate:
      case RedisLayoutVerdict::kRetag:
        report_.notes.push_back(
            "redis key " + key +
            (marker ? " was written before" : " is absent") +
            ": before its first request sessiond moves the keys of the older "
            "layout or user tag and writes layout " +
            std::to_string(kRedisLayout) + " (once; docs/storage.md)");
        return Status();
      default:
        return InvalidArgument(RedisLayoutRefusal(
            JudgeRedisLayoutMarker(marker), key, got.value->str));
    }
  }

  void CheckReplicas(redisContext* c, const RedisNodeAddress& node,
                     bool cluster) {
    int64_t fewest = -1;
    if (cluster) {
      Answer slots = sessiond::Run(c, {"CLUSTER", "SLOTS"});
      if (!slots.value) return;
      for (const RedisValue& row : slots.value->elements) {
        const int64_t n =
            static_cast<int64_t>(std::max<size_t>(row.elements.size(), 3) - 3);
        fewest = fewest < 0 ? n : std::min(fewest, n);
      }
    } else {
      Answer info = sessiond::Run(c, {"INFO", "replication"});
      if (!info.value) return;
      const std::string n = InfoField(info.value->str, "connected_slaves");
      int64_t count = 0;
      std::from_chars(n.data(), n.data() + n.size(), count);
      fewest = count;
    }
    if (fewest >= 0 && fewest < o_.wait_replicas) {
      report_.warnings.push_back(
          "[redis] wait_replicas = " + std::to_string(o_.wait_replicas) +
          " but " +
          (cluster ? std::string("a primary of the cluster seen "
                                 "from ") +
                         node.ToString()
                   : Name(node)) +
          " has " + std::to_string(fewest) +
          " replica(s): every write that waits will answer UNAVAILABLE");
    }
  }

  const RedisOptions& o_;
  RedisProbeReport report_;
};

}  // namespace

Result<RedisProbeReport> ProbeRedis(const RedisOptions& options) {
  return Prober(options).Run();
}

}  // namespace sessiond
