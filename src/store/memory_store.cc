// The memory store: every Store operation on in-process maps, completed
// inline. For tests and throwaway use; nothing survives the process. It
// keeps encoded records (core/session_codec.h) rather than Session objects
// so it decodes exactly as LMDB does and runs the same corrupt-record tests.
#include "store/memory_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "core/session_codec.h"

namespace sessiond {
namespace {

// How long a tombstone of a session whose expiry is unknown (its record
// failed to decode) lives.
constexpr int64_t kUnknownExpiryTombstoneS = 31 * 86400;

// Kinds of entries in the expiry index.
enum class Due : uint8_t { kSession, kTombstone, kMarker };

// Why and when an id was ended, and until when that is remembered.
struct Tomb {
  int64_t until = 0;
  EndReason reason = EndReason::kUnknown;
  int64_t at = 0;
};

// Thread: the loop thread only (no locks; every method completes inline).
class MemoryStore final : public Store {
 public:
  explicit MemoryStore(StoreOptions options) : options_(options) {}

  void Create(Session s, Callback<Session> done) override {
    Status st = PrepareNewSession(s, options_.max_data_bytes);
    if (!st.ok()) return done(st);
    if (records_.count(s.id) != 0 || LiveTombstone(s.id) != nullptr) {
      return done(Status(Code::kConflict, "session id already exists"));
    }
    Put(s);
    done(std::move(s));
  }

  void Load(std::string id, Callback<Session> done) override {
    Result<Session> r = Live(id);
    if (!r.ok()) return done(r.status());
    Session& s = r.value();
    if (NeedsTouch(s, Now(), options_.touch_interval_s)) {
      s.last_seen_at = Now();
      records_[s.id] = EncodeSession(s);
    }
    done(std::move(r));
  }

  void Commit(std::string id, ChangeSet changes,
              Callback<Session> done) override {
    Status valid = ValidateChangeSet(changes);
    if (!valid.ok()) return done(valid);
    Result<Session> r = Live(id);
    if (!r.ok()) return done(r.status());
    Session& s = r.value();
    Status st = ApplyChangeSet(s, changes, options_.max_data_bytes);
    if (!st.ok()) {
      if (st.code() == Code::kConflict) ++stats_.conflicts;
      return done(st);
    }
    s.last_seen_at = std::max(s.last_seen_at, Now());
    records_[s.id] = EncodeSession(s);
    ++stats_.commits;
    done(std::move(r));
  }

  void Login(std::string id, LoginRequest request,
             Callback<Session> done) override {
    Status valid = ValidateLoginRequest(request);
    if (!valid.ok()) return done(valid);
    Result<Session> r = Live(id);
    if (!r.ok()) return done(r.status());
    Session next = LoginSession(*r, request, clock().NowMicros());
    End(*r, request.old_id_reason);
    Put(next);
    done(std::move(next));
  }

  void Destroy(std::string id, EndReason reason, StatusCallback done) override {
    Status valid = ValidateSessionId(id);
    if (!valid.ok()) return done(valid);
    auto it = records_.find(id);
    if (it == records_.end() || LiveTombstone(id) != nullptr) {
      return done(Status(Code::kNotFound, "no such session"));
    }
    Result<Session> s = DecodeSession(it->second);
    if (!s.ok()) return done(s.status());
    End(*s, reason);
    done(Status::Ok());
  }

  void RevokeUser(std::string user_id, EndReason reason,
                  Callback<uint64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    done(RevokeAllBut(user_id, "", reason));
  }

  void RevokeOthers(std::string user_id, std::string keep_id, EndReason reason,
                    Callback<uint64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    Result<Session> keep = Live(keep_id);
    if (!keep.ok() || keep->user_id != user_id) {
      return done(Status(Code::kInvalidArgument,
                         "keep_id is not a live session of that user"));
    }
    done(RevokeAllBut(user_id, keep_id, reason));
  }

  void ListUser(std::string user_id,
                Callback<std::vector<Session>> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    std::vector<Session> out;
    auto u = users_.find(user_id);
    if (u != users_.end()) {
      for (const std::string& id : u->second) {
        Result<Session> s = Live(id);
        if (s.code() == Code::kCorrupt) return done(s.status());
        if (s.ok()) out.push_back(std::move(s.value()));
      }
    }
    std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
      return std::tie(b.issued_at_us, b.created_at, b.id) <
             std::tie(a.issued_at_us, a.created_at, a.id);
    });
    done(std::move(out));
  }

  void BumpEpoch(std::string user_id, EndReason reason,
                 Callback<int64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    UserEpoch& epoch = epochs_[user_id];
    epoch.us = std::max(epoch.us, clock().NowMicros());
    epoch.reason = reason;
    done(epoch.us);
  }

  void GetEpoch(std::string user_id, Callback<UserEpoch> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    done(Epoch(user_id));
  }

  void FlashPop(std::string id, std::string queue,
                Callback<std::vector<std::string>> done) override {
    Status valid = ValidateFlashQueue(queue);
    if (!valid.ok()) return done(valid);
    Result<Session> r = Live(id);
    if (!r.ok()) return done(r.status());
    std::vector<std::string> popped = PopFlash(*r, queue);
    if (!popped.empty()) records_[id] = EncodeSession(*r);
    done(std::move(popped));
  }

  void PutMarker(std::string key, std::string value, int64_t expires_at,
                 MarkerWrite when, Callback<MarkerPut> done) override {
    Status valid = ValidateMarkerPut(key, value, expires_at, Now());
    if (!valid.ok()) return done(valid);
    auto it = markers_.find(key);
    if (it != markers_.end()) {
      if (when == MarkerWrite::kIfAbsent && it->second.expires_at > Now()) {
        return done(MarkerPut{false, it->second});
      }
      expiry_.erase({it->second.expires_at, Due::kMarker, key});
      markers_.erase(it);
    }
    expiry_.emplace(expires_at, Due::kMarker, key);
    markers_.emplace(std::move(key), Marker{std::move(value), expires_at});
    done(MarkerPut{true, {}});
  }

  void GetMarker(std::string key, Callback<Marker> done) override {
    Status valid = ValidateMarkerKey(key);
    if (!valid.ok()) return done(valid);
    auto it = markers_.find(key);
    if (it == markers_.end() || it->second.expires_at <= Now()) {
      return done(NotFound("no such marker"));
    }
    done(it->second);
  }

  void DeleteMarker(std::string key,
                    Callback<std::optional<Marker>> done) override {
    Status valid = ValidateMarkerKey(key);
    if (!valid.ok()) return done(valid);
    auto it = markers_.find(key);
    if (it == markers_.end()) return done(std::optional<Marker>());
    Marker m = std::move(it->second);
    expiry_.erase({m.expires_at, Due::kMarker, key});
    markers_.erase(it);
    if (m.expires_at <= Now()) return done(std::optional<Marker>());
    done(std::optional<Marker>(std::move(m)));
  }

  void Sweep(size_t budget, Callback<uint64_t> done) override {
    const int64_t now = Now();
    uint64_t dropped = 0;
    for (size_t visited = 0; visited < budget && !expiry_.empty(); ++visited) {
      if (std::get<0>(*expiry_.begin()) > now) break;
      // Copied out: Unindex below erases this very entry.
      const auto [at, kind, id] = *expiry_.begin();
      expiry_.erase(expiry_.begin());
      if (kind == Due::kTombstone) {
        dropped += tombstones_.erase(id);
      } else if (kind == Due::kMarker) {
        dropped += markers_.erase(id);
      } else if (auto rec = records_.find(id); rec != records_.end()) {
        Result<Session> s = DecodeSession(rec->second);
        if (s.ok()) Unindex(*s);
        records_.erase(rec);
        ++dropped;
      }
    }
    stats_.swept += dropped;
    done(dropped);
  }

  StoreStats Stats() const override {
    StoreStats st = stats_;
    st.sessions = records_.size();
    return st;
  }

  void CorruptForTest(const std::string& id) {
    auto it = records_.find(id);
    if (it != records_.end()) it->second = "\x7fnot a session record";
  }

 private:
  const Clock& clock() const { return *options_.clock; }
  int64_t Now() const { return clock().NowSeconds(); }

  UserEpoch Epoch(const std::string& user_id) const {
    auto it = epochs_.find(user_id);
    return it == epochs_.end() ? UserEpoch{} : it->second;
  }

  // The tombstone of `id` if one lives now, else null.
  const Tomb* LiveTombstone(const std::string& id) const {
    auto it = tombstones_.find(id);
    if (it == tombstones_.end() || it->second.until <= Now()) return nullptr;
    return &it->second;
  }

  // The checks every read applies, in the order Store documents them.
  Result<Session> Live(const std::string& id) const {
    SESSIOND_RETURN_IF_ERROR(ValidateSessionId(id));
    if (const Tomb* tomb = LiveTombstone(id)) {
      return RevokedStatus("session was ended", tomb->reason, tomb->at);
    }
    auto it = records_.find(id);
    if (it == records_.end()) return Status(Code::kNotFound, "no such session");
    Result<Session> s = DecodeSession(it->second);
    if (!s.ok()) return s;
    if (IsExpired(*s, Now())) return Status(Code::kExpired, "session expired");
    if (const UserEpoch epoch = Epoch(s->user_id);
        RevokedByEpoch(*s, epoch.us)) {
      return EpochRevokedStatus(epoch);
    }
    return s;
  }

  void Put(const Session& s) {
    records_[s.id] = EncodeSession(s);
    if (!s.user_id.empty()) users_[s.user_id].insert(s.id);
    expiry_.emplace(s.expires_at, Due::kSession, s.id);
  }

  void Unindex(const Session& s) {
    auto u = users_.find(s.user_id);
    if (u != users_.end()) {
      u->second.erase(s.id);
      if (u->second.empty()) users_.erase(u);
    }
    expiry_.erase({s.expires_at, Due::kSession, s.id});
  }

  // Removes a session and tombstones its id until its old expiry, so a
  // request in flight cannot bring it back.
  void End(const Session& s, EndReason reason) {
    Unindex(s);
    records_.erase(s.id);
    if (s.expires_at > Now()) Tombstone(s.id, s.expires_at, reason);
  }

  void Tombstone(const std::string& id, int64_t until, EndReason reason) {
    const Tomb tomb{until, reason, Now()};
    auto [it, inserted] = tombstones_.emplace(id, tomb);
    if (!inserted) {
      expiry_.erase({it->second.until, Due::kTombstone, id});
      it->second = tomb;
    }
    expiry_.emplace(until, Due::kTombstone, id);
  }

  uint64_t RevokeAllBut(const std::string& user_id, const std::string& keep,
                        EndReason reason) {
    auto u = users_.find(user_id);
    if (u == users_.end()) return 0;
    std::vector<std::string> ids(u->second.begin(), u->second.end());
    uint64_t n = 0;
    for (const std::string& id : ids) {
      if (id == keep) continue;
      auto rec = records_.find(id);
      if (rec == records_.end()) continue;
      Result<Session> s = DecodeSession(rec->second);
      if (s.ok()) {
        End(*s, reason);
      } else {
        // A revoke must not be blocked by one bad record: drop it, and
        // tombstone for the longest a session could have lived.
        records_.erase(rec);
        users_[user_id].erase(id);
        Tombstone(id, Now() + kUnknownExpiryTombstoneS, reason);
      }
      ++n;
    }
    if (auto again = users_.find(user_id);
        again != users_.end() && again->second.empty()) {
      users_.erase(again);
    }
    return n;
  }

  const StoreOptions options_;
  std::map<std::string, std::string> records_;          // id -> record
  std::map<std::string, std::set<std::string>> users_;  // user -> ids
  std::map<std::string, UserEpoch> epochs_;             // user -> epoch
  std::map<std::string, Tomb> tombstones_;              // id -> tombstone
  std::map<std::string, Marker> markers_;               // key -> marker
  // (when, kind, id or marker key): what Sweep visits, oldest first.
  std::set<std::tuple<int64_t, Due, std::string>> expiry_;
  StoreStats stats_;
};

}  // namespace

Result<std::unique_ptr<Store>> NewMemoryStore(struct ev_loop* /*loop*/,
                                              StoreOptions options) {
  if (options.clock == nullptr) {
    return Status(Code::kInvalidArgument, "StoreOptions::clock is null");
  }
  return std::unique_ptr<Store>(std::make_unique<MemoryStore>(options));
}

void MemoryStoreCorruptForTest(Store& store, const std::string& id) {
  static_cast<MemoryStore&>(store).CorruptForTest(id);
}

}  // namespace sessiond
