// The session model: what a session holds, the change set a request commits,
// and the checks on user ids, keys and sizes that every store applies.
//
// Permissions never go in a session (seed note "User sessions"): it holds a
// user id, a CSRF token, flash messages, small temporary key/value state and
// the metadata a "your devices" page shows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond {

// A session id is 40 characters of base64url: an 8-character slot tag and
// 32 characters (192 bits) from the OS CSPRNG. For a logged-in session the
// tag is a keyed MAC of the user id (UserTag), so all of a user's keys share
// one Redis Cluster hash slot while the cookie says nothing about who the
// user is; for an anonymous session it is random.
inline constexpr size_t kSessionIdChars = 40;
inline constexpr size_t kSessionTagChars = 8;
// A CSRF token is 43 characters of base64url (256 bits from the CSPRNG).
inline constexpr size_t kCsrfTokenChars = 43;
// User ids: 1..kMaxUserIdBytes of printable ASCII except space, '{' and '}'.
inline constexpr size_t kMaxUserIdBytes = 256;
// Data keys: 1..kMaxKeyBytes of printable ASCII except space.
inline constexpr size_t kMaxKeyBytes = 128;
// Flash queue names: 0..kMaxKeyBytes, same alphabet as data keys.
// Metadata: IP up to 64 bytes, user agent up to 512 bytes (longer is cut).
inline constexpr size_t kMaxIpBytes = 64;
inline constexpr size_t kMaxUserAgentBytes = 512;

struct FlashMessage {
  std::string queue;  // "" is the default queue
  std::string message;
  friend bool operator==(const FlashMessage&, const FlashMessage&) = default;
};

struct Session {
  std::string id;
  std::string user_id;  // empty: anonymous
  std::string csrf_token;
  std::vector<FlashMessage> flash;          // oldest first
  std::map<std::string, std::string> data;  // values are UTF-8 text
  // The session version at which each data key last changed, for keys alive
  // or erased; a commit conflicts when it touches a key changed after the
  // version it loaded.
  std::map<std::string, uint64_t> key_versions;

  int64_t created_at = 0;    // unix seconds
  int64_t last_seen_at = 0;  // unix seconds; refreshed by Load, coarsely
  int64_t expires_at = 0;    // absolute expiry, unix seconds
  int64_t idle_timeout = 0;  // seconds; 0 = no idle expiry
  // When this id was minted (create or login), unix microseconds. A per-user
  // epoch later than this revokes the session.
  int64_t issued_at_us = 0;
  // When the user signed in (the LOGIN that set user_id), unix seconds; 0
  // when anonymous. Kept by re-issues (REGENERATE, BUMP_EPOCH), so "your
  // devices" shows the time of authentication, not of the first page view.
  int64_t authenticated_at = 0;

  std::string ip;
  std::string user_agent;

  uint64_t version = 0;  // 1 after create, +1 per commit, login or flash pop

  friend bool operator==(const Session&, const Session&) = default;
};

// A request's changes, applied all or nothing by Store::Commit.
struct ChangeSet {
  uint64_t base_version = 0;  // the version the request loaded
  std::map<std::string, std::string> set;
  std::set<std::string> erase;
  std::vector<FlashMessage> flash_push;
  bool rotate_csrf = false;  // give the session a new CSRF token
  friend bool operator==(const ChangeSet&, const ChangeSet&) = default;
};

// Why a session ended: the "reason" of a REVOKED reply's details
// (docs/protocol.md, "Error details"). Stores keep it with every tombstone
// and with the user's epoch, so a later use of the session can say why it
// is gone. The numbers are stored (LMDB) and never change meaning; the
// names are the wire's.
enum class EndReason : uint8_t {
  kUnknown = 0,             // ended before reasons were kept: no details
  kLogout = 1,              // LOGOUT
  kLogin = 2,               // the id moved (LOGIN, REGENERATE, re-issues)
  kSignedOutElsewhere = 3,  // REVOKE_OTHERS from another of the user's
  kPasswordChanged = 4,     // BUMP_EPOCH
  kAdmin = 5,               // USER_REVOKE, USER_REVOKE_OTHERS, SESSION_REVOKE
  kSessionLimit = 6,        // evicted by [session] max_per_user
  kReuseDetected = 7,       // a rotated cookie came back after its grace
  kDeviceBinding = 8,       // a device-bound session failed its binding
};
// "logout", "login", ...; "" for kUnknown (and any number not listed).
std::string_view EndReasonName(EndReason reason);
// The reason of a wire or stored name; nullopt for an unknown name.
std::optional<EndReason> EndReasonFromName(std::string_view name);
// The reason of a stored number; kUnknown for a number not listed.
EndReason EndReasonFromNumber(uint8_t number);
// kRevoked with the details {"reason": R, "at": at} (unix seconds), or
// without details for kUnknown (a tombstone older than reasons).
Status RevokedStatus(std::string message, EndReason reason, int64_t at);

// A user's epoch (Store::GetEpoch): every session and token of the user
// issued before `us` is revoked, for `reason` (that of the last bump).
struct UserEpoch {
  int64_t us = 0;  // unix microseconds; 0 = never bumped
  EndReason reason = EndReason::kUnknown;
  friend bool operator==(const UserEpoch&, const UserEpoch&) = default;
};

// What Login needs besides the old id: the app has authenticated user_id.
// With keep_user (REGENERATE, and BUMP_EPOCH's re-issue) the session keeps
// its own user (possibly anonymous) and authenticated_at, and user_id is
// ignored: only the id and the CSRF token change.
struct LoginRequest {
  std::string user_id;
  std::string ip;          // optional new metadata; empty keeps the old
  std::string user_agent;  // optional; empty keeps the old
  bool keep_user = false;
  // What the old id's tombstone says (LOGIN and REGENERATE: the id moved).
  EndReason old_id_reason = EndReason::kLogin;
};

// New random ids and tokens (getrandom(2), the OS CSPRNG). Thread-safe.
std::string NewSessionId(std::string_view user_id = {});
std::string NewCsrfToken();
// The slot tag of a session id (its first kSessionTagChars), and the tag a
// user's sessions carry: the first kSessionTagChars of the base64url
// HMAC-SHA-256 of the user id under the user tag key (48 bits). Without the
// key, a cookie's tag says nothing about its user; with it, every sessiond
// of a deployment tags a user alike.
std::string_view SessionTag(std::string_view session_id);
std::string UserTag(std::string_view user_id);

// The user tag key is the deployment's (Keyring::user_tag_key(); it never
// rotates). sessiond installs it at start, before any other thread runs;
// until something installs one (tests, tools), UserTag uses a random key of
// this process, consistent within it and nowhere else.
inline constexpr size_t kUserTagKeyBytes = 32;
void InstallUserTagKey(std::span<const uint8_t, kUserTagKeyBytes> key);
// Whether `key` is the installed user tag key (constant time).
bool IsInstalledUserTagKey(std::span<const uint8_t, kUserTagKeyBytes> key);
// A short public fingerprint of the installed key (12 hex digits of a MAC
// under it), so operators can see that every sessiond of a deployment has
// the same one without showing the key.
std::string UserTagKeyFingerprint();
// The tag sessiond 0.1 wrote: SHA-256 of the user id, unkeyed, so anyone
// could test guesses of the user against a cookie. Only for finding what
// it wrote (a store's keys for sessions issued before the upgrade).
std::string LegacyUserTag(std::string_view user_id);

// Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF): what data
// values, flash messages and metadata must be, since every client language
// must read them.
bool IsUtf8(std::string_view s);
// `s` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string CutUtf8(std::string s, size_t max_bytes);

// Validation; each returns kInvalidArgument with a message naming the
// problem. Session ids are checked for shape only (the MAC proves origin).
Status ValidateSessionId(std::string_view id);
Status ValidateUserId(std::string_view user_id);
Status ValidateKey(std::string_view key);
Status ValidateChangeSet(const ChangeSet& changes);
// A LoginRequest's user id, unless keep_user (which ignores it).
Status ValidateLoginRequest(const LoginRequest& request);

// Bytes a session's data and flash queue count against the size cap: the sum
// of key, value, queue and message lengths.
size_t DataBytes(const Session& s);

// Constant-time CSRF comparison: kOk on match, kCsrfMismatch otherwise
// (also when either side is empty).
Status CheckCsrf(const Session& s, std::string_view presented);

// Applies changes to s in place as Commit does (conflict check, caps),
// bumping s.version. On error s is unchanged. Shared by every store so
// the rules live in one place.
Status ApplyChangeSet(Session& s, const ChangeSet& changes,
                      size_t max_data_bytes);

// Whether s is past its absolute or idle expiry at `now` (unix seconds).
bool IsExpired(const Session& s, int64_t now);

// Rules every store applies, kept here so the backends agree.

// Flash queue names: 0..kMaxKeyBytes of printable ASCII except space.
Status ValidateFlashQueue(std::string_view queue);

// Checks and normalizes a session handed to Store::Create: id shape, user
// id (or empty), CSRF token present, expires_at > 0, keys, values and the
// data cap. Cuts ip and user agent to their caps, sets version = 1,
// last_seen_at = created_at when unset, and key_versions[k] = 1 for every
// data key. Errors: kInvalidArgument, kTooLarge.
Status PrepareNewSession(Session& s, size_t max_data_bytes);

// The session Login moves `old` to: a new id for request.user_id, that user,
// a new CSRF token, issued_at_us = now_us, authenticated_at = now,
// last_seen_at = now, version + 1, metadata replaced where the request gives
// it. Data and flash are kept when the old session was anonymous or the same
// user's, dropped when it belonged to someone else (one user's state never
// leaks into another's session). With request.keep_user, the user and
// authenticated_at stay as they were (a regeneration).
// Precondition: ValidateUserId(request.user_id) is OK unless keep_user.
Session LoginSession(const Session& old, const LoginRequest& request,
                     int64_t now_us);

// Whether Load should refresh last_seen_at (older than touch_interval_s).
bool NeedsTouch(const Session& s, int64_t now, int64_t touch_interval_s);

// Whether the user's epoch (unix microseconds; 0 = never bumped) revokes s.
bool RevokedByEpoch(const Session& s, int64_t epoch_us);
// The REVOKED status of a session that `epoch` revokes (its reason, at the
// epoch's second).
Status EpochRevokedStatus(const UserEpoch& epoch);

// Removes and returns the messages of one flash queue, oldest first; bumps
// s.version when any were removed.
std::vector<std::string> PopFlash(Session& s, std::string_view queue);

}  // namespace sessiond
