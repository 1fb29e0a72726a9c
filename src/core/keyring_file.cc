// The keyring file: its TOML format (keyring.h), read only when private,
// generated once with a fresh secret, and rotated under a lock by an atomic
// replacement (core/file_io.h does the durable writes). Blocking: start-up
// or the server's background thread.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

// A keyring file holds a handful of keys; anything much larger is not one.
constexpr size_t kMaxKeyringFileBytes = 1 << 20;

int64_t DaysFromCivil(int year, unsigned month, unsigned day) {
  using namespace std::chrono;
  return sys_days(std::chrono::year(year) / std::chrono::month(month) /
                  std::chrono::day(day))
      .time_since_epoch()
      .count();
}

// RFC 3339 in UTC, the form toml++ reads back as an offset date-time.
std::string FormatUtc(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds(unix_seconds)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  char buf[32];
  std::snprintf(
      buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ",
      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
      static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
      static_cast<int>(hms.minutes().count()),
      static_cast<int>(hms.seconds().count()));
  return buf;
}

// A time field is an offset date-time (2027-01-01T00:00:00Z) or an integer
// of unix seconds. A local date-time has no defined instant, so it is
// refused rather than guessed.
Result<int64_t> ReadTime(const toml::node& node, const std::string& where) {
  if (const auto* v = node.as_integer()) {
    if (v->get() < 0) {
      return Status(Code::kInvalidArgument, where + " must not be negative");
    }
    return v->get();
  }
  if (const auto* v = node.as_date_time()) {
    const toml::date_time& dt = v->get();
    if (!dt.offset) {
      return Status(Code::kInvalidArgument,
                    where +
                        " needs a UTC offset (write it like "
                        "2027-01-01T00:00:00Z)");
    }
    int64_t s =
        DaysFromCivil(dt.date.year, dt.date.month, dt.date.day) * 86400 +
        dt.time.hour * 3600 + dt.time.minute * 60 + dt.time.second -
        int64_t{dt.offset->minutes} * 60;
    return s;
  }
  return Status(Code::kInvalidArgument,
                where + " must be a date-time like 2027-01-01T00:00:00Z");
}

Result<std::vector<KeySpec>> ParseKeyringText(const std::string& text,
                                              const std::string& path) {
  toml::table doc;
  // toml++ reports syntax errors by exception; keep them inside this
  // function (start-up only, never on the request path). The error text is
  // left out of the message because it may quote bytes of a secret.
  try {
    doc = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& e) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + ": bad TOML at line " +
                      std::to_string(e.source().begin.line) + ", column " +
                      std::to_string(e.source().begin.column));
  }
  for (const auto& [name, node] : doc) {
    (void)node;
    if (name.str() != "key") {
      return Status(Code::kInvalidArgument, "keyring file " + path +
                                                ": unknown top-level entry '" +
                                                std::string(name.str()) +
                                                "' (expected [[key]] tables)");
    }
  }
  const toml::array* keys = doc["key"].as_array();
  if (keys == nullptr || keys->empty()) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + " has no [[key]] tables");
  }
  std::vector<KeySpec> specs;
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string where =
        "keyring file " + path + ", key #" + std::to_string(i + 1);
    const toml::table* t = keys->get(i)->as_table();
    if (t == nullptr) {
      return Status(Code::kInvalidArgument, where + " is not a table");
    }
    KeySpec spec;
    bool have_id = false;
    bool have_secret = false;
    for (const auto& [field, value] : *t) {
      const std::string_view f = field.str();
      if (f == "id") {
        const auto* id = value.as_integer();
        if (id == nullptr || id->get() < 1 ||
            id->get() > std::numeric_limits<uint32_t>::max()) {
          return Status(Code::kInvalidArgument,
                        where + ": id must be an integer in 1..4294967295");
        }
        spec.id = static_cast<uint32_t>(id->get());
        have_id = true;
      } else if (f == "secret") {
        const auto* s = value.as_string();
        if (s == nullptr) {
          return Status(Code::kInvalidArgument,
                        where + ": secret must be a base64url string");
        }
        Result<std::string> raw = Base64UrlDecode(s->get());
        if (!raw.ok()) {
          return Status(Code::kInvalidArgument,
                        where + ": secret is not base64url without padding");
        }
        spec.secret = std::move(raw).value();
        have_secret = true;
      } else if (f == "created" || f == "retire") {
        Result<int64_t> when = ReadTime(value, where + ": " + std::string(f));
        if (!when.ok()) return when.status();
        (f == "created" ? spec.created_at : spec.retire_at) = *when;
      } else {
        // A typo such as "retires" must not silently keep a key alive.
        return Status(Code::kInvalidArgument,
                      where + ": unknown field '" + std::string(f) + "'");
      }
    }
    if (!have_id || !have_secret) {
      return Status(Code::kInvalidArgument,
                    where + " needs both an id and a secret");
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

Result<std::vector<KeySpec>> ReadKeyringFile(const std::string& path) {
  Result<std::string> text =
      ReadPrivateFile(path, "keyring file", kMaxKeyringFileBytes);
  if (!text.ok()) return text.status();
  return ParseKeyringText(*text, path);
}

std::string RenderKeyringFile(const std::vector<KeySpec>& specs) {
  std::string out =
      "# sessiond keyring. Keep it private: mode 0600, never in version\n"
      "# control. The highest id that is not retired signs new tokens; every\n"
      "# key verifies until its retire time.\n";
  for (const KeySpec& spec : specs) {
    out += "\n[[key]]\nid = " + std::to_string(spec.id) + "\n";
    out += "secret = \"" + Base64UrlEncode(spec.secret) + "\"\n";
    if (spec.created_at != 0) {
      out += "created = " + FormatUtc(spec.created_at) + "\n";
    }
    if (spec.retire_at != 0) {
      out += "retire = " + FormatUtc(spec.retire_at) + "\n";
    }
  }
  return out;
}

std::string NewSecret() {
  std::string secret;
  // 32 bytes from getrandom essentially never trip the weak-secret checks;
  // the loop only makes "never hand out a secret we would refuse" certain.
  do {
    secret = RandomString(kMinSecretBytes);
  } while (!Keyring::CheckSecretStrength(secret).ok());
  return secret;
}

// Serialises rotations of one keyring file: two at once would each append
// "their" key and one would be lost. The lock is on the file that is
// current when we get it; if a rename replaced it while we waited, we lock
// the new one instead. Released when `lock` closes.
Status LockKeyringFile(const std::string& path, Fd& lock) {
  for (;;) {
    lock.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (lock.get() < 0) {
      return ErrnoStatus(errno, "cannot open keyring file " + path);
    }
    int rc;
    do {
      rc = ::flock(lock.get(), LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      return ErrnoStatus(errno, "cannot lock keyring file " + path);
    }
    struct stat locked, current;
    if (::fstat(lock.get(), &locked) != 0) {
      return ErrnoStatus(errno, "cannot stat keyring file " + path);
    }
    if (::stat(path.c_str(), &current) != 0) {
      return ErrnoStatus(errno, "cannot stat keyring file " + path);
    }
    if (locked.st_dev == current.st_dev && locked.st_ino == current.st_ino) {
      return Status::Ok();
    }
  }
}

}  // namespace

Result<Keyring> Keyring::LoadFile(const std::string& path) {
  Result<std::vector<KeySpec>> specs = ReadKeyringFile(path);
  if (!specs.ok()) return specs.status();
  Result<Keyring> ring = FromSpecs(std::move(specs).value());
  if (!ring.ok()) {
    return Status(ring.code(),
                  "keyring file " + path + ": " + ring.status().message());
  }
  return ring;
}

Status Keyring::GenerateFile(const std::string& path, int64_t now) {
  std::vector<KeySpec> specs(1);
  specs[0].id = 1;
  specs[0].secret = NewSecret();
  specs[0].created_at = now;
  Status st = WriteNewPrivateFile(path, RenderKeyringFile(specs));
  if (st.code() == Code::kInvalidArgument) {
    return InvalidArgument("keyring file " + path +
                           " already exists; not overwriting it (rotate "
                           "instead)");
  }
  return st;
}

Result<uint32_t> Keyring::RotateFile(const std::string& path, int64_t now,
                                     int64_t retire_old_at) {
  Fd lock;
  SESSIOND_RETURN_IF_ERROR(LockKeyringFile(path, lock));
  Result<std::vector<KeySpec>> loaded = ReadKeyringFile(path);
  if (!loaded.ok()) return loaded.status();
  std::vector<KeySpec> specs = std::move(loaded).value();
  uint32_t max_id = 0;
  for (KeySpec& spec : specs) {
    max_id = std::max(max_id, spec.id);
    if (spec.retire_at == 0) spec.retire_at = retire_old_at;
  }
  if (max_id == std::numeric_limits<uint32_t>::max()) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + ": key ids are exhausted");
  }
  KeySpec fresh;
  fresh.id = max_id + 1;
  fresh.secret = NewSecret();
  fresh.created_at = now;
  specs.push_back(fresh);
  // Refuse to write a keyring we could not load back.
  Result<Keyring> check = FromSpecs(specs);
  if (!check.ok()) {
    return Status(check.code(),
                  "keyring file " + path + ": " + check.status().message());
  }
  SESSIOND_RETURN_IF_ERROR(ReplacePrivateFile(path, RenderKeyringFile(specs)));
  return fresh.id;
}

}  // namespace sessiond
