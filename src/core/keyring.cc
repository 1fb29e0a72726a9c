// Keyring: loading, checking, generating and rotating the server's secrets,
// and deriving per-purpose keys from them with HKDF-SHA-256. Secret bytes
// live only in KeySpec (briefly) and in the derived keys; no message built
// here ever contains them.
#include "sessiond/keyring.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "sessiond/random.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

// HKDF inputs. The salt is a fixed, public, application-specific string
// (RFC 5869 section 3.1 allows this); the info strings separate purposes,
// so a key leaked from one purpose (say, a CSRF token oracle) tells nothing
// about the signing or encryption key. Changing any of these strings
// invalidates every token in the field: they are part of the format.
constexpr std::string_view kHkdfSalt = "sessiond keyring v1";
constexpr std::array<std::string_view, 3> kHkdfInfo = {
    "sessiond v1 sign",     // KeyPurpose::kSign: HMAC-SHA-256 of server tokens
    "sessiond v1 encrypt",  // KeyPurpose::kEncrypt: XChaCha20-Poly1305
    "sessiond v1 csrf",     // KeyPurpose::kCsrf: CSRF token MACs
};

// A keyring file holds a handful of keys; anything much larger is not one.
constexpr off_t kMaxKeyringFileBytes = 1 << 20;

constexpr char kFixHint[] =
    "use at least 32 random bytes, e.g. `head -c 32 /dev/urandom | "
    "base64 | tr '+/' '-_' | tr -d '='` in a 0600 keyring file, or let "
    "sessiond generate one";

// Well-known placeholder and dictionary secrets, lower case. A secret made
// mostly of these (repeated, concatenated, in any letter case) is refused:
// they are the first thing an attacker tries.
constexpr std::string_view kWeakWords[] = {
    "seekrit",   "secret",      "s3cret",     "changeme",   "change_me",
    "change-me", "changeit",    "password",   "passw0rd",   "passwd",
    "default",   "example",     "sample",     "test",       "letmein",
    "qwerty",    "asdf",        "admin",      "root",       "sessiond",
    "session",   "cookie",      "insecure",   "notasecret", "dummy",
    "foobar",    "development", "production", "replace",    "please",
    "hunter2",   "todo",        "fixme",      "12345678",   "123456",
    "0000",      "1111",        "abcdef",     "key",        "xxxx",
};

std::string Errno(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

Code CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Code::kNotFound;
    case EACCES:
    case EPERM:
      return Code::kPermissionDenied;
    default:
      return Code::kInternal;
  }
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now and reports the result (close can report a deferred write
  // error, which matters for a file we just wrote).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(CodeForErrno(errno), Errno("cannot write", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// A rename or create is durable only once its directory entry is on disk.
Status SyncDir(const std::string& path) {
  const std::string dir = DirName(path);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Status(CodeForErrno(errno), Errno("cannot open directory", dir));
  }
  if (::fsync(fd.get()) != 0) {
    return Status(Code::kInternal, Errno("cannot fsync directory", dir));
  }
  return Status::Ok();
}

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

// Opens path for reading, refusing anything group or others can read or
// write: a world-readable secret is a leaked secret.
Result<std::string> ReadPrivateFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    return Status(CodeForErrno(errno), Errno("cannot open keyring file", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Status(Code::kInternal, Errno("cannot stat keyring file", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return Status(Code::kPermissionDenied,
                  "keyring file " + path +
                      " is readable or writable by group or others (mode " +
                      mode +
                      "); its secrets must stay private. Fix: chmod 600 " +
                      path + " (and consider the keys leaked: rotate them)");
  }
  if (st.st_size > kMaxKeyringFileBytes) {
    return Status(Code::kInvalidArgument,
                  "keyring file " + path + " is too large to be a keyring");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(Code::kInternal, Errno("cannot read keyring file", path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > static_cast<size_t>(kMaxKeyringFileBytes)) {
      return Status(Code::kInvalidArgument,
                    "keyring file " + path + " is too large to be a keyring");
    }
  }
  return text;
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
  Result<std::string> text = ReadPrivateFile(path);
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

// Writes the whole file to a 0600 temp file beside it, then renames it over
// the old one: a crash leaves either the old or the new keyring, never half.
Status ReplaceFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp.XXXXXX";
  Fd fd(::mkstemp(tmp.data()));  // mkstemp creates with mode 0600
  if (fd.get() < 0) {
    return Status(CodeForErrno(errno), Errno("cannot create temp file", tmp));
  }
  Status st = WriteAll(fd.get(), data, tmp);
  if (st.ok() && ::fchmod(fd.get(), 0600) != 0) {
    st = Status(Code::kInternal, Errno("cannot chmod", tmp));
  }
  if (st.ok() && ::fsync(fd.get()) != 0) {
    st = Status(Code::kInternal, Errno("cannot fsync", tmp));
  }
  if (fd.Close() != 0 && st.ok()) {
    st = Status(Code::kInternal, Errno("cannot close", tmp));
  }
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status(CodeForErrno(errno), Errno("cannot rename over", path));
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDir(path);
}

// Serialises rotations of one keyring file: two at once would each append
// "their" key and one would be lost. The lock is on the file that is
// current when we get it; if a rename replaced it while we waited, we lock
// the new one instead. Released when `lock` closes.
Status LockKeyringFile(const std::string& path, Fd& lock) {
  for (;;) {
    lock.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (lock.get() < 0) {
      return Status(CodeForErrno(errno),
                    Errno("cannot open keyring file", path));
    }
    int rc;
    do {
      rc = ::flock(lock.get(), LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      return Status(Code::kInternal, Errno("cannot lock keyring file", path));
    }
    struct stat locked, current;
    if (::fstat(lock.get(), &locked) != 0) {
      return Status(Code::kInternal, Errno("cannot stat keyring file", path));
    }
    if (::stat(path.c_str(), &current) != 0) {
      return Status(CodeForErrno(errno),
                    Errno("cannot stat keyring file", path));
    }
    if (locked.st_dev == current.st_dev && locked.st_ino == current.st_ino) {
      return Status::Ok();
    }
  }
}

bool IsPeriodic(std::string_view s, size_t period) {
  for (size_t i = period; i < s.size(); ++i) {
    if (s[i] != s[i - period]) return false;
  }
  return true;
}

}  // namespace

Status HkdfSha256(std::string_view ikm, std::string_view salt,
                  std::string_view info, uint8_t* out, size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return Status(Code::kInternal, "OpenSSL has no HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);  // the context holds its own reference
  if (ctx == nullptr) return Status(Code::kInternal, "HKDF context failed");

  // OSSL_PARAM takes non-const pointers but does not write through them.
  std::array<OSSL_PARAM, 5> params;
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(
      OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size());
  // An absent salt means HashLen zero bytes (RFC 5869 section 2.2), which
  // is also OpenSSL's default; an empty info is likewise the default.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  const int rc = EVP_KDF_derive(ctx, out, out_len, params.data());
  EVP_KDF_CTX_free(ctx);
  if (rc != 1) return Status(Code::kInternal, "HKDF-SHA-256 derivation failed");
  return Status::Ok();
}

Status Keyring::CheckSecretStrength(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return Status(Code::kInvalidArgument,
                  "secret is too short (" + std::to_string(secret.size()) +
                      " bytes, need at least " +
                      std::to_string(kMinSecretBytes) + "); " + kFixHint);
  }
  // "aaaa...", "abab...", "0123456701234567...": a short pattern repeated
  // has the entropy of the pattern, not of the length.
  const size_t max_period = std::min<size_t>(16, secret.size() / 2);
  for (size_t period = 1; period <= max_period; ++period) {
    if (IsPeriodic(secret, period)) {
      return Status(
          Code::kInvalidArgument,
          period == 1
              ? std::string("secret is one byte repeated; ") + kFixHint
              : "secret is a short pattern repeated; " + std::string(kFixHint));
    }
  }
  // "abcdefgh...", "0123456789...": counting runs are not random.
  size_t steps = 0;
  size_t distinct = 0;
  std::array<bool, 256> seen{};
  for (size_t i = 0; i < secret.size(); ++i) {
    const auto b = static_cast<unsigned char>(secret[i]);
    if (!seen[b]) {
      seen[b] = true;
      ++distinct;
    }
    if (i > 0) {
      const int d = b - static_cast<unsigned char>(secret[i - 1]);
      if (d == 1 || d == -1) ++steps;
    }
  }
  if (steps * 4 >= (secret.size() - 1) * 3) {
    return Status(
        Code::kInvalidArgument,
        std::string("secret is mostly a counting sequence; ") + kFixHint);
  }
  // Known-weak words, in any case, making up most of the secret
  // ("SEEKRITSEEKRIT...", "changeme-changeme-password-1234").
  std::string lower(secret);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<bool> covered(lower.size(), false);
  for (std::string_view word : kWeakWords) {
    for (size_t pos = lower.find(word); pos != std::string::npos;
         pos = lower.find(word, pos + 1)) {
      std::fill_n(covered.begin() + static_cast<ptrdiff_t>(pos), word.size(),
                  true);
    }
  }
  const size_t weak =
      static_cast<size_t>(std::count(covered.begin(), covered.end(), true));
  if (weak * 2 > lower.size()) {
    return Status(Code::kInvalidArgument,
                  "secret is made mostly of well-known words (like 'secret', "
                  "'SEEKRIT' or 'changeme'); " +
                      std::string(kFixHint));
  }
  // 32 random bytes have about 30 distinct values, 32 random hex digits
  // about 14; fewer than 8 means a human typed it.
  if (distinct < 8) {
    return Status(Code::kInvalidArgument,
                  "secret uses only " + std::to_string(distinct) +
                      " distinct byte values; " + kFixHint);
  }
  return Status::Ok();
}

Result<Keyring> Keyring::FromSpecs(std::vector<KeySpec> specs) {
  if (specs.empty()) {
    return Status(Code::kInvalidArgument, "keyring has no keys");
  }
  std::sort(specs.begin(), specs.end(),
            [](const KeySpec& a, const KeySpec& b) { return a.id < b.id; });
  Keyring ring;
  ring.keys_.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const KeySpec& spec = specs[i];
    const std::string name = "key id " + std::to_string(spec.id);
    if (spec.id == 0) {
      return Status(Code::kInvalidArgument,
                    "key id 0 is reserved; use 1 or more");
    }
    if (i > 0 && specs[i - 1].id == spec.id) {
      return Status(Code::kInvalidArgument, name + " appears twice");
    }
    Status strength = CheckSecretStrength(spec.secret);
    if (!strength.ok()) {
      return Status(Code::kInvalidArgument, name + ": " + strength.message());
    }
    Key key;
    key.id = spec.id;
    key.created_at = spec.created_at;
    key.retire_at = spec.retire_at;
    for (size_t p = 0; p < kHkdfInfo.size(); ++p) {
      SESSIOND_RETURN_IF_ERROR(HkdfSha256(spec.secret, kHkdfSalt, kHkdfInfo[p],
                                          key.derived[p].data(),
                                          key.derived[p].size()));
    }
    ring.keys_.push_back(key);
  }
  return ring;
}

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

Result<Keyring> Keyring::FromEnv(const char* var) {
  const char* value = std::getenv(var);
  if (value == nullptr) {
    return Status(Code::kNotFound,
                  std::string("environment variable ") + var + " is not set");
  }
  std::vector<KeySpec> specs(1);
  specs[0].id = 1;
  specs[0].secret = value;
  Result<Keyring> ring = FromSpecs(std::move(specs));
  if (!ring.ok()) {
    return Status(ring.code(), std::string("environment variable ") + var +
                                   ": " + ring.status().message());
  }
  return ring;
}

Status Keyring::GenerateFile(const std::string& path, int64_t now) {
  std::vector<KeySpec> specs(1);
  specs[0].id = 1;
  specs[0].secret = NewSecret();
  specs[0].created_at = now;
  const std::string text = RenderKeyringFile(specs);

  // O_EXCL: never overwrite an existing keyring (that would log everyone
  // out and lose the old keys). 0600 from the start: the secret is never
  // readable by others, not even for an instant.
  Fd fd(::open(path.c_str(),
               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Status(Code::kInvalidArgument,
                    "keyring file " + path +
                        " already exists; not overwriting it (rotate instead)");
    }
    return Status(CodeForErrno(errno),
                  Errno("cannot create keyring file", path));
  }
  Status st = WriteAll(fd.get(), text, path);
  // The umask can only remove bits, but make the mode exact regardless.
  if (st.ok() && ::fchmod(fd.get(), 0600) != 0) {
    st = Status(Code::kInternal, Errno("cannot chmod", path));
  }
  if (st.ok() && ::fsync(fd.get()) != 0) {
    st = Status(Code::kInternal, Errno("cannot fsync", path));
  }
  if (fd.Close() != 0 && st.ok()) {
    st = Status(Code::kInternal, Errno("cannot close", path));
  }
  if (!st.ok()) {
    ::unlink(path.c_str());  // a half-written keyring must not be loaded
    return st;
  }
  return SyncDir(path);
}

Result<uint32_t> Keyring::RotateFile(const std::string& path, int64_t now,
                                     int64_t retire_old_at) {
  Fd lock(-1);
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
  SESSIOND_RETURN_IF_ERROR(
      ReplaceFileAtomically(path, RenderKeyringFile(specs)));
  return fresh.id;
}

const Keyring::Key* Keyring::Current(int64_t now) const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->retire_at == 0 || now < it->retire_at) return &*it;
  }
  return nullptr;
}

Result<const Keyring::Key*> Keyring::Find(uint32_t id, int64_t now) const {
  auto it = std::lower_bound(
      keys_.begin(), keys_.end(), id,
      [](const Key& key, uint32_t wanted) { return key.id < wanted; });
  if (it == keys_.end() || it->id != id) {
    return Status(Code::kUnknownKey, "token key id " + std::to_string(id) +
                                         " is not in the keyring");
  }
  if (it->retire_at != 0 && now >= it->retire_at) {
    return Status(Code::kRetiredKey,
                  "token key id " + std::to_string(id) + " is retired");
  }
  return &*it;
}

}  // namespace sessiond
