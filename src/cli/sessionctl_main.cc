// sessionctl: the operator's CLI for sessiond's admin socket (ping, version,
// list and revoke sessions, rotate keys, stats) and its event stream
// (watch). It speaks SD1 through
// sessiond::Client and keeps the transport failure (exit 3) apart from an
// error the server answered (exit 1, with the code's wire name), so scripts
// can tell "sessiond is down" from "no such session".
#include <zmq.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sessiond/client.h"
#include "sessiond/version.h"

namespace sessiond {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitServerError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct Flags {
  std::string admin = "ipc://sessiond-data/admin.sock";
  double timeout_s = 5.0;
  bool json = false;
  std::string curve_server_key;
  std::string curve_secret_key_file;
};

// Escapes a string for a JSON string literal (the values sessionctl prints
// itself; server JSON is passed through untouched).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatTime(int64_t unix_s) {
  if (unix_s <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

// Runs one admin verb and maps the outcome to an exit code; on success
// `result` holds the reply's frames.
class Runner {
 public:
  explicit Runner(const Flags& flags) : flags_(flags) {}

  // Builds the client. Errors are usage errors (bad endpoint, bad keys).
  std::optional<int> Open() {
    ClientOptions o;
    o.endpoint = flags_.admin;
    o.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(flags_.timeout_s * 1000.0));
    if (!flags_.curve_server_key.empty() ||
        !flags_.curve_secret_key_file.empty()) {
      if (std::optional<int> rc = LoadCurveKeys(o)) return rc;
    }
    Result<std::unique_ptr<Client>> c = Client::Make(std::move(o));
    if (!c.ok()) {
      std::cerr << "sessionctl: " << c.status().message() << "\n";
      return kExitUsage;
    }
    client_ = std::move(c).value();
    return std::nullopt;
  }

  // Calls `verb`; returns the exit code on failure, nullopt on OK.
  std::optional<int> Call(std::string_view verb,
                          const std::vector<std::string>& args,
                          std::vector<std::string>& result) {
    auto start = std::chrono::steady_clock::now();
    Result<Reply> r = client_->Call(verb, args);
    rtt_ = std::chrono::steady_clock::now() - start;
    if (!r.ok()) {
      if (r.code() == Code::kUnavailable) {
        PrintError("UNREACHABLE",
                   "cannot reach sessiond: " + r.status().message());
        return kExitUnreachable;
      }
      PrintError(std::string(CodeName(r.code())), r.status().message());
      return kExitServerError;
    }
    if (!r->ok()) {
      PrintError(r->status_name,
                 r->frames.empty() ? std::string() : r->frames.front());
      return kExitServerError;
    }
    result = std::move(r->frames);
    return std::nullopt;
  }

  // A reply that does not have the shape docs/protocol.md promises.
  int BadReply(std::string_view what) {
    PrintError("INTERNAL",
               "unexpected reply from sessiond: " + std::string(what));
    return kExitServerError;
  }

  double rtt_ms() const {
    return std::chrono::duration<double, std::milli>(rtt_).count();
  }

 private:
  void PrintError(const std::string& code, const std::string& message) {
    if (flags_.json) {
      std::cout << "{\"error\":" << JsonString(code)
                << ",\"message\":" << JsonString(message) << "}\n";
    }
    std::cerr << "sessionctl: " << code;
    if (!message.empty()) std::cerr << ": " << message;
    std::cerr << "\n";
  }

  // The secret key comes from a file, never from argv (argv is visible to
  // every user of the machine); the public key is derived from it.
  std::optional<int> LoadCurveKeys(ClientOptions& o) {
    if (flags_.curve_server_key.empty() ||
        flags_.curve_secret_key_file.empty()) {
      std::cerr << "sessionctl: CURVE needs both --curve-server-key and "
                   "--curve-secret-key-file\n";
      return kExitUsage;
    }
    std::ifstream in(flags_.curve_secret_key_file);
    std::string secret;
    if (!(in >> secret) || secret.size() != 40) {
      std::cerr << "sessionctl: " << flags_.curve_secret_key_file
                << " does not hold a 40-character Z85 secret key\n";
      return kExitUsage;
    }
    char public_key[41] = {};
    if (zmq_curve_public(public_key, secret.c_str()) != 0) {
      std::cerr << "sessionctl: cannot derive the CURVE public key from "
                << flags_.curve_secret_key_file << "\n";
      return kExitUsage;
    }
    o.curve_server_key = flags_.curve_server_key;
    o.curve_public_key = public_key;
    o.curve_secret_key = secret;
    return std::nullopt;
  }

  const Flags& flags_;
  std::unique_ptr<Client> client_;
  std::chrono::steady_clock::duration rtt_{};
};

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

int Ping(Runner& run, const Flags& flags) {
  std::vector<std::string> r;
  if (auto rc = run.Call("PING", {}, r)) return *rc;
  if (r.empty() || r[0] != "PONG") return run.BadReply("PING without PONG");
  char ms[32];
  std::snprintf(ms, sizeof(ms), "%.3f", run.rtt_ms());
  if (flags.json) {
    std::cout << "{\"reply\":\"PONG\",\"rtt_ms\":" << ms << "}\n";
  } else {
    std::cout << "PONG from " << flags.admin << " in " << ms << " ms\n";
  }
  return kExitOk;
}

int Version(Runner& run, const Flags& flags) {
  std::vector<std::string> r;
  if (auto rc = run.Call("VERSION", {}, r)) return *rc;
  if (r.empty()) return run.BadReply("VERSION without a result");
  std::string client = "sessionctl " + std::string(VersionString());
  if (flags.json) {
    std::cout << "{\"server\":" << JsonString(r[0])
              << ",\"client\":" << JsonString(client) << "}\n";
  } else {
    std::cout << "server: " << r[0] << "\nclient: " << client << "\n";
  }
  return kExitOk;
}

int List(Runner& run, const Flags& flags, const std::string& user) {
  std::vector<std::string> r;
  if (auto rc = run.Call("USER_LIST", {user}, r)) return *rc;
  if (r.empty()) return run.BadReply("USER_LIST without a result");
  Result<std::vector<SessionInfo>> list = ParseSessionListJson(r[0]);
  if (!list.ok()) return run.BadReply(list.status().message());
  if (flags.json) {
    std::cout << r[0] << "\n";
    return kExitOk;
  }
  if (list->empty()) {
    std::cout << "no live sessions for " << user << "\n";
    return kExitOk;
  }
  std::cout << list->size() << " session(s) for " << user << ":\n";
  for (const SessionInfo& s : *list) {
    std::cout << "  " << (s.id.empty() ? "(no id: client mode)" : s.id)
              << "\n    created " << FormatTime(s.created_at) << ", last seen "
              << FormatTime(s.last_seen_at) << ", expires "
              << FormatTime(s.expires_at) << "\n    from "
              << (s.ip.empty() ? "-" : s.ip) << ", "
              << (s.user_agent.empty() ? "-" : s.user_agent) << "\n";
  }
  return kExitOk;
}

int Count(Runner& run, const Flags& flags, std::string_view verb,
          const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> r;
  if (auto rc = run.Call(verb, args, r)) return *rc;
  std::optional<int64_t> n = r.empty() ? std::nullopt : ParseInt(r[0]);
  if (!n) return run.BadReply(std::string(verb) + " without a count");
  if (flags.json) {
    std::cout << "{\"revoked\":" << *n << "}\n";
  } else {
    std::cout << "revoked " << *n << " session(s) " << what << "\n";
  }
  return kExitOk;
}

int RevokeSession(Runner& run, const Flags& flags, const std::string& id) {
  std::vector<std::string> r;
  if (auto rc = run.Call("SESSION_REVOKE", {id}, r)) return *rc;
  if (flags.json) {
    std::cout << "{\"revoked\":1}\n";
  } else {
    std::cout << "revoked session " << id << "\n";
  }
  return kExitOk;
}

int RotateKeys(Runner& run, const Flags& flags,
               std::optional<int64_t> retire_after) {
  std::vector<std::string> args;
  if (retire_after) args.push_back(std::to_string(*retire_after));
  std::vector<std::string> r;
  if (auto rc = run.Call("KEYS_ROTATE", args, r)) return *rc;
  std::optional<int64_t> id = r.empty() ? std::nullopt : ParseInt(r[0]);
  if (!id) return run.BadReply("KEYS_ROTATE without a key id");
  if (flags.json) {
    std::cout << "{\"key_id\":" << *id << "}\n";
  } else {
    std::cout << "new signing key " << *id;
    if (retire_after) {
      std::cout << "; older keys retire in " << *retire_after << " s";
    } else {
      std::cout << "; older keys retire after the session lifetime";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int Stats(Runner& run, const Flags& flags) {
  std::vector<std::string> r;
  if (auto rc = run.Call("STATS", {}, r)) return *rc;
  if (r.empty()) return run.BadReply("STATS without a result");
  auto entries = FlattenJsonObject(r[0]);
  if (!entries.ok()) return run.BadReply(entries.status().message());
  if (flags.json) {
    std::cout << r[0] << "\n";
    return kExitOk;
  }
  size_t width = 0;
  for (const auto& [key, value] : *entries) width = std::max(width, key.size());
  for (const auto& [key, value] : *entries) {
    std::cout << key << std::string(width - key.size() + 2, ' ') << value
              << "\n";
  }
  return kExitOk;
}

struct WatchFlags {
  std::string events;
  std::vector<std::string> topics;  // empty: every event
  int64_t count = 0;                // 0: until a signal
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void OnWatchSignal(int) { g_stop = 1; }

// One line per event: its time, type and what sessiond says about it
// (the "sessiond" member of the JSON; docs/protocol.md, "Events").
std::string HumanEvent(const std::string& topic, const std::string& json) {
  auto entries = FlattenJsonObject(json);
  if (!entries.ok())
    return topic + " (unreadable: " + entries.status().message() + ")";
  std::string when = "-", rest;
  for (const auto& [key, value] : *entries) {
    if (key == "iat") {
      std::optional<int64_t> t = ParseInt(value);
      if (t) when = FormatTime(*t);
    }
    if (!key.starts_with("sessiond.") || key == "sessiond.type" ||
        key == "sessiond.time_us") {
      continue;
    }
    rest += " " + key.substr(9) + "=" + value;
  }
  return when + " " + topic + rest;
}

// watch: subscribes to the events socket and prints what arrives until
// SIGINT or SIGTERM (exit 0) or --count events. A receive timeout makes
// the loop look at the signal flag even if a signal lands between calls.
int Watch(const Flags& flags, const WatchFlags& watch) {
  struct sigaction sa {};
  sa.sa_handler = OnWatchSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  void* ctx = zmq_ctx_new();
  void* sub = zmq_socket(ctx, ZMQ_SUB);
  auto close = [&](int rc) {
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return rc;
  };
  const int linger = 0, timeout_ms = 250;
  zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
  if (!flags.curve_server_key.empty() || !flags.curve_secret_key_file.empty()) {
    if (flags.curve_server_key.empty() || flags.curve_secret_key_file.empty()) {
      std::cerr << "sessionctl: CURVE needs both --curve-server-key and "
                   "--curve-secret-key-file\n";
      return close(kExitUsage);
    }
    std::ifstream in(flags.curve_secret_key_file);
    std::string secret;
    char public_key[41] = {};
    if (!(in >> secret) || secret.size() != 40 ||
        zmq_curve_public(public_key, secret.c_str()) != 0) {
      std::cerr << "sessionctl: " << flags.curve_secret_key_file
                << " does not hold a 40-character Z85 secret key\n";
      return close(kExitUsage);
    }
    if (zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, flags.curve_server_key.c_str(),
                       40) != 0 ||
        zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, public_key, 40) != 0 ||
        zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, secret.c_str(), 40) != 0) {
      std::cerr << "sessionctl: --curve-server-key is not a Z85 public key\n";
      return close(kExitUsage);
    }
  }
  if (watch.topics.empty()) {
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
  }
  for (const std::string& t : watch.topics) {
    // The topic frame is the whole type: a prefix subscription is exact
    // once the frame ends, which a SUB cannot tell, so it is checked below.
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, t.data(), t.size());
  }
  if (zmq_connect(sub, watch.events.c_str()) != 0) {
    std::cerr << "sessionctl: cannot connect to " << watch.events << ": "
              << zmq_strerror(zmq_errno()) << "\n";
    return close(kExitUsage);
  }
  // Said on stderr once the signals are ours, so a script (or a test)
  // knows that SIGTERM from now on ends the watch cleanly.
  std::cerr << "sessionctl: watching " << watch.events
            << " (SIGINT or SIGTERM to stop)" << std::endl;
  int64_t seen = 0;
  while (!g_stop && (watch.count == 0 || seen < watch.count)) {
    std::vector<std::string> frames;
    bool interrupted = false;
    for (;;) {
      zmq_msg_t msg;
      zmq_msg_init(&msg);
      if (zmq_msg_recv(&msg, sub, 0) < 0) {
        zmq_msg_close(&msg);
        interrupted = true;  // timeout or signal; a part-read message
        break;               // cannot happen (ZeroMQ delivers it whole)
      }
      frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)),
                          zmq_msg_size(&msg));
      const bool more = zmq_msg_more(&msg) != 0;
      zmq_msg_close(&msg);
      if (!more) break;
    }
    if (interrupted && frames.empty()) continue;
    if (frames.size() != 2) continue;  // not an event of docs/protocol.md
    if (!watch.topics.empty() &&
        std::find(watch.topics.begin(), watch.topics.end(), frames[0]) ==
            watch.topics.end()) {
      continue;
    }
    if (flags.json) {
      std::cout << frames[1] << "\n";
    } else {
      std::cout << HumanEvent(frames[0], frames[1]) << "\n";
    }
    std::cout.flush();
    ++seen;
  }
  return close(kExitOk);
}

// Whether an argument that CLI11 read as an unknown option looks like an
// operand instead: a session id (base64url) starts with '-' one time in 64.
// Used only to add a hint to the usage error; the parse itself stays CLI11's.
bool DashLeadingOperand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') return true;
  }
  return false;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "sessionctl: administer a running sessiond through its admin socket.\n"
      "Exit codes: 0 ok, 1 error answered by sessiond (its code is printed),\n"
      "2 usage, 3 sessiond unreachable.\n"
      "Session ids are base64url and may start with '-': put such an id\n"
      "after '--' (sessionctl revoke-session -- -Xy...)."};
  app.set_version_flag("-V,--version",
                       "sessionctl " + std::string(VersionString()));
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand too

  Flags flags;
  app.add_option("--admin", flags.admin,
                 "Admin socket endpoint (ipc://path, or tcp:// with CURVE)")
      ->envname("SESSIOND_ADMIN")
      ->capture_default_str();
  app.add_option("--timeout", flags.timeout_s,
                 "Seconds to wait for sessiond's reply")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Machine-readable JSON output");
  app.add_option("--curve-server-key", flags.curve_server_key,
                 "The admin socket's CURVE public key (Z85)");
  app.add_option("--curve-secret-key-file", flags.curve_secret_key_file,
                 "File holding this client's CURVE secret key (Z85)")
      ->check(CLI::ExistingFile);

  std::string user, session_id;
  std::optional<int64_t> retire_after;

  auto* ping = app.add_subcommand("ping", "Check that sessiond answers");
  auto* version = app.add_subcommand("version", "Print sessiond's version");
  auto* list = app.add_subcommand("list", "List a user's live sessions");
  list->add_option("user", user, "User id")->required();
  auto* revoke_user = app.add_subcommand(
      "revoke-user", "End every session of a user (and bump their epoch)");
  revoke_user->add_option("user", user, "User id")->required();
  auto* revoke_others = app.add_subcommand(
      "revoke-others", "End every session of a user but one");
  revoke_others->add_option("user", user, "User id")->required();
  revoke_others->add_option("session-id", session_id, "Session id to keep")
      ->required();
  auto* revoke_session =
      app.add_subcommand("revoke-session", "End one session by id");
  revoke_session->add_option("session-id", session_id, "Session id")
      ->required();
  auto* rotate = app.add_subcommand("rotate-keys", "Add a new signing key");
  rotate
      ->add_option("--retire-after", retire_after,
                   "Seconds after which older keys stop verifying "
                   "(default: the session lifetime)")
      ->check(CLI::NonNegativeNumber);
  auto* stats = app.add_subcommand("stats", "Print sessiond's counters");
  WatchFlags watch;
  auto* watch_cmd = app.add_subcommand(
      "watch",
      "Print sessiond's events ([events] listen) until SIGINT/SIGTERM; "
      "--json prints each event's JSON");
  watch_cmd
      ->add_option("--events", watch.events,
                   "Events socket endpoint (ipc://path, or tcp:// with "
                   "CURVE: the admin socket's --curve-* flags)")
      ->envname("SESSIOND_EVENTS")
      ->required();
  watch_cmd->add_option("--count", watch.count, "Exit after this many events")
      ->check(CLI::PositiveNumber);
  watch_cmd->add_option("topic", watch.topics,
                        "Event types to print (default: all), e.g. login "
                        "theft_detected");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    if (rc != 0 && DashLeadingOperand(argc, argv)) {
      std::cerr << "note: an id that starts with '-' reads as an option; "
                   "put it after '--', as in: sessionctl revoke-session -- "
                   "-Xy...\n";
    }
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (watch_cmd->parsed()) return Watch(flags, watch);
  Runner run(flags);
  if (std::optional<int> rc = run.Open()) return *rc;
  if (ping->parsed()) return Ping(run, flags);
  if (version->parsed()) return Version(run, flags);
  if (list->parsed()) return List(run, flags, user);
  if (revoke_user->parsed()) {
    return Count(run, flags, "USER_REVOKE", {user}, "of " + user);
  }
  if (revoke_others->parsed()) {
    return Count(run, flags, "USER_REVOKE_OTHERS", {user, session_id},
                 "of " + user + " (kept " + session_id + ")");
  }
  if (revoke_session->parsed()) return RevokeSession(run, flags, session_id);
  if (rotate->parsed()) return RotateKeys(run, flags, retire_after);
  if (stats->parsed()) return Stats(run, flags);
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace sessiond

int main(int argc, char** argv) { return sessiond::Main(argc, argv); }
