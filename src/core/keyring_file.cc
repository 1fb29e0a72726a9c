// The keyring file: its TOML format (keyring.h), read only when trusted
// (core/file_io.h), generated once with a fresh secret, and rotated under a
// lock by a replacement that is read back and loaded before it takes the
// name. The file's text and every secret stay in guarded memory: before
// toml++ sees the text, each secret value is cut out of it (SecretSlots),
// so the library's strings never hold a secret. Blocking: start-up or the
// server's background thread.
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

#include <sodium.h>

#include <map>
#include <optional>

#include "core/file_io.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "sessiond/secret_bytes.h"
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
// Only for 0..kMaxKeyringTime (FromSpecs refuses anything else), where the
// year has four digits.
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
    if (v->get() < 0 || v->get() > kMaxKeyringTime) {
      return Status(Code::kInvalidArgument,
                    where + " must be a time in 1970..9999 (0.." +
                        std::to_string(kMaxKeyringTime) + " seconds)");
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
    // toml++ has already checked the fields (years 0..9999, offsets
    // within a day), so the sum cannot overflow.
    int64_t s =
        DaysFromCivil(dt.date.year, dt.date.month, dt.date.day) * 86400 +
        dt.time.hour * 3600 + dt.time.minute * 60 + dt.time.second -
        int64_t{dt.offset->minutes} * 60;
    if (s < 0 || s > kMaxKeyringTime) {
      return Status(Code::kInvalidArgument,
                    where + " must be a time in 1970..9999");
    }
    return s;
  }
  return Status(Code::kInvalidArgument,
                where + " must be a date-time like 2027-01-01T00:00:00Z");
}

// What a keyring file holds.
struct KeyringContents {
  std::vector<KeySpec> specs;
  std::optional<SecretBytes> user_tag_key;  // [user_tag] key, raw bytes
};

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// base64url (no padding, canonical) into guarded memory. libsodium's
// decoder is constant-time per character and writes straight into the
// buffer; the caller has checked the alphabet (sodium 1.0.18 would take
// bytes >= 0x80 as letters).
Result<SecretBytes> DecodeSecret(std::string_view text) {
  SecretBytes out(text.size() * 3 / 4 + 1);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(),
                        nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return InvalidArgument("not base64url without padding");
  }
  out.Truncate(len);
  return out;
}

// base64url of `bytes` appended to `out`, without a copy outside guarded
// memory.
void AppendBase64Url(SecretBytes& out, std::string_view bytes) {
  SecretBytes text(sodium_base64_ENCODED_LEN(
      bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  sodium_bin2base64(text.chars(), text.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.Append(std::string_view(text.chars(), text.size() - 1));  // no NUL
}

// The secret values of a keyring file's text, cut out of it before toml++
// parses it. A line of the form
//     secret = "<base64url>"        (or key = ..., '...' quotes too)
// has its value's characters remembered by the position of its opening
// quote and overwritten with 'x' in the text; toml++ then parses the text
// (and validates everything else) without ever holding a secret, and the
// field's node tells, by its source position, which value was there. A
// secret written any other way (an escape, a multi-line string, an inline
// table) is not cut out and is refused when its field is read, with the
// form to use.
class SecretSlots {
 public:
  static SecretSlots CutFrom(SecretBytes& text) {
    SecretSlots slots;
    char* p = text.chars();
    const size_t n = text.size();
    uint32_t line = 1;
    for (size_t begin = 0; begin < n;) {
      size_t end = begin;
      while (end < n && p[end] != '\n') ++end;
      slots.CutLine(p + begin, end - begin, line);
      begin = end + 1;
      ++line;
    }
    return slots;
  }

  // The value whose opening quote was at `pos`, decoded. Errors:
  // kInvalidArgument (not cut out: written another way; not base64url).
  Result<SecretBytes> Take(const toml::source_position& pos,
                           const std::string& where) const {
    auto it = values_.find({pos.line, pos.column});
    if (it == values_.end()) {
      return InvalidArgument(where +
                             " must be written on a line of its own as "
                             "name = \"<base64url>\"");
    }
    Result<SecretBytes> raw = DecodeSecret(it->second.view());
    if (!raw.ok()) {
      return InvalidArgument(where + " is not base64url without padding");
    }
    return raw;
  }

 private:
  void CutLine(char* p, size_t n, uint32_t line) {
    size_t i = 0;
    auto spaces = [&] {
      while (i < n && (p[i] == ' ' || p[i] == '\t')) ++i;
    };
    spaces();
    std::string_view rest(p + i, n - i);
    size_t name = 0;
    for (std::string_view field : {"secret", "key"}) {
      if (rest.starts_with(field)) name = field.size();
    }
    if (name == 0) return;
    i += name;
    spaces();
    if (i >= n || p[i] != '=') return;
    ++i;
    spaces();
    if (i >= n || (p[i] != '"' && p[i] != '\'')) return;
    const char quote = p[i];
    const size_t open = i++;
    const size_t value = i;
    while (i < n && IsBase64UrlChar(p[i])) ++i;
    if (i >= n || p[i] != quote || i == value) return;
    // toml++ counts columns from 1; the prefix is ASCII, so bytes are
    // columns.
    values_.emplace(std::pair<uint32_t, uint32_t>{line, open + 1},
                    SecretBytes(std::string_view(p + value, i - value)));
    sodium_memzero(p + value, i - value);
    std::fill(p + value, p + i, 'x');
  }

  std::map<std::pair<uint32_t, uint32_t>, SecretBytes> values_;
};

// Parses the text of a keyring file; cuts the secrets out of `text` first
// (so `text` is changed).
Result<KeyringContents> ParseKeyringText(SecretBytes& text,
                                         const std::string& path) {
  const SecretSlots slots = SecretSlots::CutFrom(text);
  toml::table doc;
  // toml++ reports syntax errors by exception; keep them inside this
  // function (start-up only, never on the request path). The error text is
  // left out of the message: it may quote the file.
  try {
    doc = toml::parse(text.view(), std::string_view(path));
  } catch (const toml::parse_error& e) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + ": bad TOML at line " +
                      std::to_string(e.source().begin.line) + ", column " +
                      std::to_string(e.source().begin.column));
  }
  KeyringContents contents;
  for (const auto& [name, node] : doc) {
    if (name.str() == "key") continue;
    if (name.str() == "user_tag" && node.is_table()) continue;
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + ": unknown top-level entry '" +
                      std::string(name.str()) +
                      "' (expected [[key]] tables and [user_tag])");
  }
  if (const toml::table* tag = doc["user_tag"].as_table()) {
    const std::string where = "keyring file " + path + ", [user_tag]";
    for (const auto& [field, value] : *tag) {
      if (field.str() != "key" || !value.is_string()) {
        return Status(Code::kInvalidArgument,
                      where + ": holds only key = \"<base64url>\"");
      }
      Result<SecretBytes> raw = slots.Take(value.source().begin, where + " key");
      if (!raw.ok()) return raw.status();
      contents.user_tag_key = std::move(*raw);
    }
    if (!contents.user_tag_key) {
      return Status(Code::kInvalidArgument, where + " has no key");
    }
  }
  const toml::array* keys = doc["key"].as_array();
  if (keys == nullptr || keys->empty()) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + " has no [[key]] tables");
  }
  std::vector<KeySpec>& specs = contents.specs;
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
        if (!value.is_string()) {
          return Status(Code::kInvalidArgument,
                        where + ": secret must be a base64url string");
        }
        Result<SecretBytes> raw =
            slots.Take(value.source().begin, where + ": secret");
        if (!raw.ok()) return raw.status();
        spec.secret = std::move(*raw);
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
  return contents;
}

Result<KeyringContents> ReadKeyringFile(const std::string& path) {
  Result<SecretBytes> text =
      ReadSecretFile(path, "keyring file", kMaxKeyringFileBytes);
  if (!text.ok()) return text.status();
  return ParseKeyringText(*text, path);
}

// Builds the keyring a file's contents describe (the strength checks and
// key derivation), then wipes the stack those used.
Result<Keyring> BuildKeyring(const KeyringContents& contents,
                             const std::string& path) {
  Result<Keyring> ring = Keyring::FromSpecs(contents.specs,
                                            contents.user_tag_key);
  sodium_stackzero(16 * 1024);
  if (!ring.ok()) {
    return Status(ring.code(),
                  "keyring file " + path + ": " + ring.status().message());
  }
  return ring;
}

SecretBytes RenderKeyringFile(const KeyringContents& contents) {
  SecretBytes out;
  out.Append(
      "# sessiond keyring. Keep it private: mode 0600, never in version\n"
      "# control, the same file on every sessiond that shares a store. The\n"
      "# highest id that is not retired signs new tokens; every key verifies\n"
      "# until its retire time.\n");
  if (contents.user_tag_key) {
    out.Append(
        "\n# Never rotated, never changed: it names users inside session ids\n"
        "# and Redis keys, so every sessiond sharing a store needs the same.\n"
        "[user_tag]\nkey = \"");
    AppendBase64Url(out, contents.user_tag_key->view());
    out.Append("\"\n");
  }
  for (const KeySpec& spec : contents.specs) {
    out.Append("\n[[key]]\nid = " + std::to_string(spec.id) + "\n");
    out.Append("secret = \"");
    AppendBase64Url(out, spec.secret.view());
    out.Append("\"\n");
    if (spec.created_at != 0) {
      out.Append("created = " + FormatUtc(spec.created_at) + "\n");
    }
    if (spec.retire_at != 0) {
      out.Append("retire = " + FormatUtc(spec.retire_at) + "\n");
    }
  }
  return out;
}

SecretBytes NewSecret() {
  SecretBytes secret(kMinSecretBytes);
  // 32 bytes from getrandom essentially never trip the weak-secret checks;
  // the loop only makes "never hand out a secret we would refuse" certain.
  do {
    RandomBytes(secret.data(), secret.size());
  } while (!Keyring::CheckSecretStrength(secret.view()).ok());
  return secret;
}

// Whether `written` (a file's text as read back) is the keyring `want`:
// the same keys, times and derived keys, and the same user tag key.
Status SameKeyring(std::string_view written, const Keyring& want,
                   const std::string& path) {
  SecretBytes text(written);
  Result<KeyringContents> contents = ParseKeyringText(text, path);
  if (!contents.ok()) return contents.status();
  Result<Keyring> ring = BuildKeyring(*contents, path);
  if (!ring.ok()) return ring.status();
  bool same = ring->keys().size() == want.keys().size() &&
              sodium_memcmp(ring->user_tag_key().data(),
                            want.user_tag_key().data(), kDerivedKeyBytes) == 0;
  for (size_t i = 0; same && i < want.keys().size(); ++i) {
    const Keyring::Key& a = ring->keys()[i];
    const Keyring::Key& b = want.keys()[i];
    same = a.id == b.id && a.created_at == b.created_at &&
           a.retire_at == b.retire_at && a.derived == b.derived;
  }
  if (!same) {
    return Status(Code::kInternal, "keyring file " + path +
                                       ": the new file does not read back "
                                       "as the keyring it should hold");
  }
  return Status::Ok();
}

// Writes `contents` to `path` (a new file, or a replacement), durably, and
// only once the written bytes load back as the same keyring.
Status WriteKeyringFile(const std::string& path,
                        const KeyringContents& contents, bool replace) {
  Result<Keyring> want = BuildKeyring(contents, path);
  if (!want.ok()) return want.status();  // never write what we cannot load
  const SecretBytes text = RenderKeyringFile(contents);
  WriteOptions options;
  options.replace = replace;
  options.mode = 0600;
  options.verify = [&](std::string_view written) {
    return SameKeyring(written, *want, path);
  };
  return WriteFileDurably(path, text.view(), options);
}

// Serialises rotations of one keyring file: two at once would each append
// "their" key and one would be lost. The lock is on the file that is
// current when we get it; if a rename replaced it while we waited, we lock
// the new one instead. Released when `lock` closes.
Status LockKeyringFile(const std::string& path, Fd& lock) {
  for (;;) {
    lock.Reset(
        ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
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
  Result<KeyringContents> contents = ReadKeyringFile(path);
  if (!contents.ok()) return contents.status();
  return BuildKeyring(*contents, path);
}

Result<Keyring> Keyring::FromFileText(std::string_view text,
                                      const std::string& where) {
  SecretBytes copy(text);
  Result<KeyringContents> contents = ParseKeyringText(copy, where);
  if (!contents.ok()) return contents.status();
  return BuildKeyring(*contents, where);
}

Status Keyring::GenerateFile(const std::string& path, int64_t now) {
  if (now < 1 || now > kMaxKeyringTime) {
    return InvalidArgument("the clock says " + std::to_string(now) +
                           ", outside 1970..9999");
  }
  SESSIOND_RETURN_IF_ERROR(CheckParentDirectories(path, "keyring file"));
  KeyringContents contents;
  contents.user_tag_key = SecretBytes(kDerivedKeyBytes);
  RandomBytes(contents.user_tag_key->data(), contents.user_tag_key->size());
  contents.specs.resize(1);
  contents.specs[0].id = 1;
  contents.specs[0].secret = NewSecret();
  contents.specs[0].created_at = now;
  Status st = WriteKeyringFile(path, contents, /*replace=*/false);
  if (st.code() == Code::kInvalidArgument &&
      st.message().find("already exists") != std::string::npos) {
    return InvalidArgument("keyring file " + path +
                           " already exists; not overwriting it (rotate "
                           "instead)");
  }
  return st;
}

Result<uint32_t> Keyring::RotateFile(const std::string& path, int64_t now,
                                     int64_t retire_old_at) {
  if (now < 1 || now > kMaxKeyringTime) {
    return InvalidArgument("the clock says " + std::to_string(now) +
                           ", outside 1970..9999");
  }
  if (retire_old_at < 0 || retire_old_at > kMaxKeyringTime) {
    return InvalidArgument("retire time " + std::to_string(retire_old_at) +
                           " is outside 1970..9999 (0.." +
                           std::to_string(kMaxKeyringTime) + ")");
  }
  // Checked before it is opened for the lock too (a symbolic link would be
  // refused by that open with a less helpful message).
  SESSIOND_RETURN_IF_ERROR(
      CheckTrustedFile(path, "keyring file", FileAccess::kPrivate));
  Fd lock;
  SESSIOND_RETURN_IF_ERROR(LockKeyringFile(path, lock));
  Result<KeyringContents> loaded = ReadKeyringFile(path);
  if (!loaded.ok()) return loaded.status();
  KeyringContents contents = std::move(loaded).value();
  if (!contents.user_tag_key) {
    // Freeze the tag this file has been using (derived from its lowest
    // key), so that removing that key one day does not change it.
    Result<Keyring> current = BuildKeyring(contents, path);
    if (!current.ok()) return current.status();
    contents.user_tag_key = SecretBytes(std::string_view(
        reinterpret_cast<const char*>(current->user_tag_key().data()),
        kDerivedKeyBytes));
  }
  uint32_t max_id = 0;
  for (KeySpec& spec : contents.specs) {
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
  contents.specs.push_back(std::move(fresh));
  SESSIOND_RETURN_IF_ERROR(WriteKeyringFile(path, contents, /*replace=*/true));
  return max_id + 1;
}

}  // namespace sessiond
