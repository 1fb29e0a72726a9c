// Reply JSON (session_json.h): the session itself, on every LOAD and
// COMMIT, with a small writer of its own; every other reply with
// RapidJSON's writer (why RapidJSON: request_args.cc). Member order follows
// the code; docs/protocol.md promises none.
#include "server/session_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <tuple>

#include "sessiond/version.h"

namespace sessiond {

namespace {

// The writer copies bytes >= 0x80 through unchanged; the finished text is
// checked for UTF-8 once, in Text(), rather than character by character
// through RapidJSON's kWriteValidateEncodingFlag (about 1,400 more
// instructions per reply under callgrind). Escapes are ASCII, so the text is
// valid UTF-8 exactly when every string in it was.
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Int(Writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

void Uint(Writer& w, std::string_view key, uint64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Uint64(value);
}

void Bool(Writer& w, std::string_view key, bool value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Bool(value);
}

// The fields every listing shows; the caller opens and closes the object.
void EntryFields(Writer& w, const Session& s) {
  Str(w, "id", s.id);
  Str(w, "user_id", s.user_id);
  Int(w, "created_at", s.created_at);
  Int(w, "authenticated_at", s.authenticated_at);
  Int(w, "last_seen_at", s.last_seen_at);
  Int(w, "expires_at", s.expires_at);
  Int(w, "idle_timeout", s.idle_timeout);
  Str(w, "ip", s.ip);
  Str(w, "user_agent", s.user_agent);
  w.Key("version");
  w.Uint64(s.version);
}

// The finished text, or kInternal if some string in it was not UTF-8.
Result<std::string> Text(const rapidjson::StringBuffer& buf) {
  std::string_view text(buf.GetString(), buf.GetSize());
  if (!IsUtf8(text)) {
    return Status(Code::kInternal, "session holds text that is not UTF-8");
  }
  return std::string(text);
}

// The session JSON's writer. Written by hand because it is on every LOAD
// and COMMIT reply and a profile showed what a general writer costs there
// (docs/benchmarks.md, "Where the time goes"): RapidJSON's writer keeps a
// stack of scopes and puts characters one by one, and its text is then
// copied into a string and scanned for UTF-8 again. This one writes into
// one string sized up front, through a pointer (a string's append checks
// its capacity and calls memcpy for every piece, some twenty literals and
// numbers per reply), copies runs of characters that need no escape,
// writes member names as literals, formats integers with std::to_chars
// straight into the text and checks UTF-8 only in strings that hold bytes
// >= 0x80. Its escapes are RapidJSON's (\" \\ \b \f \n \r \t, other
// controls as \u00XX), so both writers emit the same text.
class SessionWriter {
 public:
  explicit SessionWriter(size_t reserve) { out_.resize(reserve); }

  // A literal: punctuation and member names, never escaped.
  void Raw(std::string_view text) { Put(text.data(), text.size()); }
  // An int64_t or a uint64_t, in decimal.
  template <typename Integer>
  void Number(Integer v) {
    char* at = Room(kMaxDigits);
    n_ = static_cast<size_t>(std::to_chars(at, at + kMaxDigits, v).ptr -
                             out_.data());
  }
  // A quoted, escaped string; remembers a string that is not UTF-8.
  void Str(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    Put("\"", 1);
    bool high = false;
    size_t run = 0;  // start of the run of characters copied as they are
    size_t i = 0;
    // Eight bytes at a time while none of them needs a look (a control
    // character, '"', '\\' or a byte >= 0x80): ids, tokens and most text.
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t x;
      std::memcpy(&x, s.data() + i, 8);
      if (NeedsLook(x)) break;
    }
    for (; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') {
        high |= c >= 0x80;
        continue;
      }
      Put(s.data() + run, i - run);
      run = i + 1;
      char* at = Room(6);
      at[0] = '\\';
      size_t len = 2;
      switch (c) {
        case '"':
          at[1] = '"';
          break;
        case '\\':
          at[1] = '\\';
          break;
        case '\b':
          at[1] = 'b';
          break;
        case '\f':
          at[1] = 'f';
          break;
        case '\n':
          at[1] = 'n';
          break;
        case '\r':
          at[1] = 'r';
          break;
        case '\t':
          at[1] = 't';
          break;
        default:
          std::memcpy(at + 1, "u00", 3);
          at[4] = kHex[c >> 4];
          at[5] = kHex[c & 0xF];
          len = 6;
      }
      n_ += len;
    }
    Put(s.data() + run, s.size() - run);
    Put("\"", 1);
    if (high && !IsUtf8(s)) utf8_ = false;
  }

  // Whether any byte of x is < 0x20, '"', '\\' or >= 0x80 (the classic
  // "has a zero byte" bit trick, applied to x ^ c for each c).
  static bool NeedsLook(uint64_t x) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
    return ((x & kHigh) | below_space | has_zero(x ^ (kOnes * '"')) |
            has_zero(x ^ (kOnes * '\\'))) != 0;
  }

  Result<std::string> Finish() {
    if (!utf8_) {
      return Status(Code::kInternal, "session holds text that is not UTF-8");
    }
    out_.resize(n_);
    return std::move(out_);
  }

 private:
  // The most characters an int64 or a uint64 takes in decimal.
  static constexpr size_t kMaxDigits = 20;

  // Where the next `k` bytes go; the text grows (doubling) when they do
  // not fit. The caller advances n_ by what it wrote.
  char* Room(size_t k) {
    if (out_.size() - n_ < k) out_.resize(std::max(out_.size() * 2, n_ + k));
    return out_.data() + n_;
  }
  void Put(const char* bytes, size_t k) {
    if (k == 0) return;
    std::memcpy(Room(k), bytes, k);
    n_ += k;
  }

  std::string out_;  // its first n_ bytes are the text so far
  size_t n_ = 0;
  bool utf8_ = true;
};

}  // namespace

Result<std::string> SessionJson(const Session& s, bool is_new) {
  // The fixed text is about 230 bytes; strings grow by at most 6x when
  // every byte is escaped, which only hostile values would do.
  size_t reserve = 256 + s.id.size() + s.user_id.size() + s.ip.size() +
                   s.user_agent.size() + s.csrf_token.size();
  for (const auto& [key, value] : s.data) {
    reserve += key.size() + value.size() + 6;
  }
  for (const FlashMessage& f : s.flash) {
    reserve += f.queue.size() + f.message.size() + 26;
  }
  SessionWriter w(reserve);
  w.Raw("{\"id\":");
  w.Str(s.id);
  w.Raw(",\"user_id\":");
  w.Str(s.user_id);
  w.Raw(",\"created_at\":");
  w.Number(s.created_at);
  w.Raw(",\"authenticated_at\":");
  w.Number(s.authenticated_at);
  w.Raw(",\"last_seen_at\":");
  w.Number(s.last_seen_at);
  w.Raw(",\"expires_at\":");
  w.Number(s.expires_at);
  w.Raw(",\"idle_timeout\":");
  w.Number(s.idle_timeout);
  w.Raw(",\"ip\":");
  w.Str(s.ip);
  w.Raw(",\"user_agent\":");
  w.Str(s.user_agent);
  w.Raw(",\"version\":");
  w.Number(s.version);
  w.Raw(",\"csrf_token\":");
  w.Str(s.csrf_token);
  w.Raw(",\"data\":{");
  bool first = true;
  for (const auto& [key, value] : s.data) {
    if (!first) w.Raw(",");
    first = false;
    w.Str(key);
    w.Raw(":");
    w.Str(value);
  }
  w.Raw("},\"flash\":[");
  first = true;
  for (const FlashMessage& f : s.flash) {
    w.Raw(first ? "{\"queue\":" : ",{\"queue\":");
    first = false;
    w.Str(f.queue);
    w.Raw(",\"message\":");
    w.Str(f.message);
    w.Raw("}");
  }
  w.Raw(is_new ? "],\"new\":true}" : "],\"new\":false}");
  return w.Finish();
}

Result<std::string> SessionListJson(const std::vector<Session>& sessions,
                                    const std::string* current) {
  // "Your devices" order: this device first, then the newest sign-in (then
  // the newest session, for anonymous ones).
  std::vector<const Session*> order;
  order.reserve(sessions.size());
  for (const Session& s : sessions) order.push_back(&s);
  auto rank = [current](const Session* s) {
    return std::make_tuple(current != nullptr && s->id == *current,
                           s->authenticated_at, s->created_at);
  };
  std::stable_sort(
      order.begin(), order.end(),
      [&](const Session* a, const Session* b) { return rank(a) > rank(b); });
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const Session* entry : order) {
    const Session& s = *entry;
    w.StartObject();
    EntryFields(w, s);
    if (current != nullptr) {
      w.Key("current");
      w.Bool(s.id == *current);
    }
    w.EndObject();
  }
  w.EndArray();
  return Text(buf);
}

Result<std::string> StringArrayJson(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const std::string& item : items) {
    w.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  }
  w.EndArray();
  return Text(buf);
}

Result<std::string> HelloJson(const HelloSettings& settings) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "protocol", "SD1");
  Str(w, "server", "sessiond " + std::string(VersionString()));
  Str(w, "mode", StorageModeName(settings.mode));
  w.Key("cookie");
  w.StartObject();
  Str(w, "name", CookieName(settings.cookie));
  Str(w, "path", settings.cookie.path);
  Str(w, "domain", settings.cookie.domain);
  Bool(w, "secure", settings.cookie.secure);
  Bool(w, "http_only", settings.cookie.http_only);
  Str(w, "same_site", settings.cookie.same_site);
  Int(w, "max_age", settings.lifetime_s);
  w.EndObject();
  Int(w, "lifetime", settings.lifetime_s);
  Int(w, "idle_timeout", settings.idle_timeout_s);
  Uint(w, "max_data_bytes", settings.max_data_bytes);
  w.EndObject();
  return Text(buf);
}

Result<std::string> StatsJson(const StatsSnapshot& stats) {
  const ServerCounters& c = stats.counters;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "version", VersionString());
  Str(w, "mode", StorageModeName(stats.mode));
  Str(w, "store", stats.backend);
  Int(w, "uptime_s", stats.uptime_s);
  Uint(w, "requests", c.requests);
  Uint(w, "errors", c.errors);
  const TransportStats& t = stats.transport;
  // Every message not answered and every answer not delivered; "drops"
  // says why.
  Uint(w, "dropped",
       c.dropped + t.oversized_in + t.replies_not_read + t.replies_unroutable);
  Uint(w, "sessions", stats.store.sessions);
  Uint(w, "commits", stats.store.commits);
  Uint(w, "conflicts", stats.store.conflicts);
  Uint(w, "swept", stats.store.swept);
  // The event stream ([events]): published, and dropped at a full
  // subscriber queue (0 and 0 while the stream is off).
  Uint(w, "events_sent", c.events_sent);
  Uint(w, "events_dropped", c.events_dropped);
  const StoreStats& st = stats.store;
  if (st.size_bytes != 0) {
    // How full the store is, early enough to act (issue 12): new data is
    // refused from refuse_new_bytes on, so that revocation keeps room.
    w.Key("storage");
    w.StartObject();
    Uint(w, "used_bytes", st.used_bytes);
    Uint(w, "size_bytes", st.size_bytes);
    Uint(w, "refuse_new_bytes", st.refuse_new_bytes);
    Uint(w, "refused", st.refused_full);
    w.EndObject();
  }
  if (!st.durability.empty()) {
    // Group commit: how many writes each transaction (one commit, one
    // fsync in sync mode) carried; "1", "2-3", "4-7", ... "512+".
    w.Key("group_commit");
    w.StartObject();
    Str(w, "durability", st.durability);
    Uint(w, "transactions", st.write_transactions);
    Uint(w, "syncs", st.syncs);
    w.Key("sizes");
    w.StartObject();
    for (size_t i = 0; i < st.group_sizes.size(); ++i) {
      const uint64_t lo = uint64_t{1} << i;
      std::string key = std::to_string(lo);
      if (i + 1 == st.group_sizes.size()) {
        key += "+";
      } else if (lo > 1) {
        key += "-" + std::to_string(2 * lo - 1);
      }
      Uint(w, key, st.group_sizes[i]);
    }
    w.EndObject();
    w.EndObject();
  }
  w.Key("app");
  w.StartObject();
  Uint(w, "in", c.app_in);
  Uint(w, "out", c.app_out);
  w.EndObject();
  w.Key("admin");
  w.StartObject();
  Uint(w, "in", c.admin_in);
  Uint(w, "out", c.admin_out);
  w.EndObject();
  w.Key("drops");
  w.StartObject();
  Uint(w, "no_delimiter", c.dropped_no_delimiter);
  Uint(w, "envelope", c.dropped_envelope);
  Uint(w, "memory", c.dropped_memory);
  Uint(w, "oversized", t.oversized_in);
  Uint(w, "reply_not_read", t.replies_not_read);
  Uint(w, "reply_unroutable", t.replies_unroutable);
  w.EndObject();
  w.Key("memory");
  w.StartObject();
  Uint(w, "held_bytes", t.memory_held);
  Uint(w, "peak_bytes", t.memory_peak);
  Uint(w, "budget_bytes", t.memory_budget);
  Uint(w, "shed", c.shed);
  w.EndObject();
  w.EndObject();
  return Text(buf);
}

}  // namespace sessiond
