// The verbs that move sessions in from a framework's default cookie session
// and back out (docs/protocol.md "IMPORT", "EXPORT", "IMPORT_CHECK";
// docs/migration.md): the old cookie verified exactly as its framework
// does (src/import/legacy_cookie.h), its data mapped onto sessiond's rules
// (src/import/legacy_mapping.h), and the session kept through the storage
// mode, which makes one old cookie one session (SessionMode::Import).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "import/json.h"
#include "import/legacy_cookie.h"
#include "import/legacy_mapping.h"
#include "server/handlers.h"
#include "server/importers.h"
#include "server/replies.h"
#include "server/request_args.h"

namespace sessiond {
namespace {

constexpr std::string_view kMarkerPrefix = "import:";

std::string Details(std::string_view reason, std::string_view format) {
  JsonValue d = JsonValue::Object();
  d.Set("reason", JsonValue::String(std::string(reason)));
  if (!format.empty()) d.Set("format", JsonValue::String(std::string(format)));
  return WriteJson(d, JsonStyle::kCompact);
}

// The details' reason for each way the framework refuses a cookie.
std::string_view RefusalReason(Code code) {
  switch (code) {
    case Code::kTooLarge:
      return "too_large";
    case Code::kBadEncoding:
      return "bad_encoding";
    case Code::kTruncated:
      return "truncated";
    case Code::kBadMac:
      return "bad_mac";
    case Code::kExpired:
      return "expired";
    case Code::kNotYetValid:
      return "not_yet_valid";
    case Code::kWrongPurpose:
      return "wrong_purpose";
    case Code::kUnknownVersion:
      return "unsupported_payload";
    default:
      return "invalid";
  }
}

// An old cookie's refusal, with {"reason", "format"} details (a reason the
// mapping already gave, such as bad_user_id, is kept).
Status Refusal(const Status& st, std::string_view format) {
  std::string reason(RefusalReason(st.code()));
  if (!st.details().empty()) {
    Result<JsonValue> d = ParseJson(st.details(), JsonDialect::kPython);
    if (d.ok()) {
      if (const JsonValue* r = d->Find("reason"); r && r->is_string()) {
        reason = r->string_value();
      }
    }
  }
  return Status(st.code(), std::string(format) + " cookie: " + st.message(),
                Details(reason, format));
}

// The format named by a request's first argument, configured.
Result<const Importers::Format*> FindFormat(const HandlerEnv& env,
                                            const std::string& name) {
  std::optional<LegacyFormat> format = LegacyFormatFromName(name);
  if (!format) {
    return Status(Code::kInvalidArgument,
                  "unknown cookie format '" + name.substr(0, 32) +
                      "': flask, pyramid, django or rails",
                  Details("unknown_format", ""));
  }
  const Importers::Format* f =
      env.importers ? env.importers->Find(*format) : nullptr;
  if (f == nullptr) {
    return Status(Code::kInvalidArgument,
                  "no [import." + name + "] in sessiond's configuration",
                  Details("not_configured", name));
  }
  return f;
}

JsonValue OptionalTime(const std::optional<int64_t>& t) {
  return t ? JsonValue::Integer(*t) : JsonValue();
}

JsonValue RenamedJson(const std::vector<RenamedKey>& renamed) {
  JsonValue out = JsonValue::Object();
  for (const RenamedKey& r : renamed) {
    out.Set(r.from, JsonValue::String(r.to));
  }
  return out;
}

JsonValue UnmappedJson(const std::vector<UnmappedKey>& unmapped) {
  JsonValue out = JsonValue::Array();
  for (const UnmappedKey& u : unmapped) {
    JsonValue item = JsonValue::Object();
    item.Set("key", JsonValue::String(u.key));
    item.Set("why", JsonValue::String(u.why));
    out.Push(std::move(item));
  }
  return out;
}

// Verified and mapped: what IMPORT and IMPORT_CHECK share.
struct Verified {
  const Importers::Format* format = nullptr;
  LegacySession old;
  ImportedData mapped;
  std::string marker_key;
  int64_t marker_expires_at = 0;
};

Result<Verified> VerifyAndMap(const HandlerEnv& env, const CallPtr& call) {
  Result<const Importers::Format*> format = FindFormat(env, call->arg(0));
  if (!format.ok()) return format.status();
  const std::string_view name = LegacyFormatName((*format)->cookie->format());
  const int64_t now_us = env.clock->NowMicros();
  Result<LegacySession> old = (*format)->cookie->Verify(call->arg(1), now_us);
  if (!old.ok()) return Refusal(old.status(), name);
  Result<ImportedData> mapped =
      MapLegacySession(old->data, (*format)->mapping);
  if (!mapped.ok()) return Refusal(mapped.status(), name);
  Verified v;
  v.format = *format;
  v.old = std::move(*old);
  v.mapped = std::move(*mapped);
  const std::string key = env.import_fingerprint_key
                              ? env.import_fingerprint_key()
                              : std::string();
  v.marker_key = std::string(kMarkerPrefix) + LegacyFingerprint(key, v.old);
  // Kept until the old cookie would have expired by its own rule, at most
  // max_retention (cookies that never end by themselves).
  const int64_t now = now_us / 1'000'000;
  const int64_t cap = now + (env.importers ? env.importers->max_retention_s()
                                           : int64_t{400} * 86400);
  v.marker_expires_at =
      std::max(now + 1, std::min(v.old.expires_at.value_or(cap), cap));
  return v;
}

}  // namespace

// IMPORT format cookie [metadata]
void HandleImport(HandlerEnv& env, const CallPtr& call) {
  Result<Metadata> meta = ParseMetadata(call->arg(2));
  if (!meta.ok()) return call->Fail(meta.status());
  Result<Verified> v = VerifyAndMap(env, call);
  if (!v.ok()) return call->Fail(v.status());
  const std::string format(LegacyFormatName(v->format->cookie->format()));

  Session s = NewSession(env, v->mapped.user_id, *meta);
  s.data = std::move(v->mapped.data);
  s.flash = std::move(v->mapped.flash);
  if (DataBytes(s) > env.max_data_bytes) {
    return call->Fail(Status(
        Code::kTooLarge,
        format + " cookie: its session is over [session] max_data_bytes (" +
            std::to_string(DataBytes(s)) + " > " +
            std::to_string(env.max_data_bytes) + ")",
        Details("session_too_large", format)));
  }

  JsonValue report = JsonValue::Object();
  report.Set("format", JsonValue::String(format));
  report.Set("user_id", JsonValue::String(s.user_id));
  report.Set("legacy", JsonValue::Bool(v->old.legacy));
  report.Set("old_expires_at", OptionalTime(v->old.expires_at));
  report.Set("renamed", RenamedJson(v->mapped.renamed));
  report.Set("unmapped", UnmappedJson(v->mapped.unmapped));
  const size_t renamed = v->mapped.renamed.size();
  const size_t unmapped = v->mapped.unmapped.size();

  ImportRequest request;
  request.session = std::move(s);
  request.marker_key = std::move(v->marker_key);
  request.marker_expires_at = v->marker_expires_at;
  env.mode->Import(
      std::move(request),
      [&env, call, format, renamed, unmapped,
       report = std::move(report)](Result<Imported> r) mutable {
        if (!r.ok()) return call->Fail(r.status());
        report.Set("created", JsonValue::Bool(r->created));
        if (r->created) {
          // Only the import that made the session: a repeat hands back
          // the same one and changes nothing.
          EmitEvent(env, call,
                    Event{.type = kEventImported,
                          .session_id = r->reply.session.id,
                          .user_id = r->reply.session.user_id,
                          .reason = format});
          spdlog::info(
              "IMPORT: a {} cookie became a session ({}, {} key(s) renamed, "
              "{} not kept){}",
              format, r->reply.session.user_id.empty() ? "anonymous" : "signed in",
              renamed, unmapped, unmapped > 0 ? ": see the reply's report" : "");
        }
        ReplySession(call, std::move(r->reply),
                     {WriteJson(report, JsonStyle::kCompact)});
      });
}

// EXPORT format cookie: the cookie's session as the old framework's cookie.
void HandleExport(HandlerEnv& env, const CallPtr& call) {
  Result<const Importers::Format*> found = FindFormat(env, call->arg(0));
  if (!found.ok()) return call->Fail(found.status());
  const Importers::Format* format = *found;
  env.mode->Open(call->arg(1), [&env, call, format](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    const Session& s = cur->session;
    const std::string name(LegacyFormatName(format->cookie->format()));
    ExportedData out = UnmapSession(s.data, s.flash, s.user_id, format->mapping);
    const int64_t now_us = env.clock->NowMicros();
    LegacyRenderInput in;
    in.data = std::move(out.data);
    in.now_micros = now_us;
    in.created_at = static_cast<double>(s.created_at);
    std::optional<int64_t> expires_at;
    if (format->expire_after_s) {
      expires_at = now_us / 1'000'000 + *format->expire_after_s;
      if (format->cookie->format() == LegacyFormat::kRails) {
        in.expires_at_micros = now_us + *format->expire_after_s * 1'000'000;
      }
    }
    Result<std::string> cookie = format->cookie->Render(in);
    if (!cookie.ok()) {
      return call->Fail(Status(
          cookie.code(), name + " cookie: " + cookie.status().message(),
          Details(cookie.code() == Code::kTooLarge ? "too_large"
                                                   : "cannot_render",
                  name)));
    }
    JsonValue report = JsonValue::Object();
    report.Set("format", JsonValue::String(name));
    report.Set("user_id", JsonValue::String(s.user_id));
    report.Set("expires_at", OptionalTime(expires_at));
    report.Set("unmapped", UnmappedJson(out.unmapped));
    call->Ok({std::move(*cookie), WriteJson(report, JsonStyle::kCompact)});
  });
}

// IMPORT_CHECK format cookie (admin): what IMPORT would make of the cookie,
// creating nothing.
void HandleImportCheck(HandlerEnv& env, const CallPtr& call) {
  Result<Verified> v = VerifyAndMap(env, call);
  if (!v.ok()) return call->Fail(v.status());
  JsonValue out = JsonValue::Object();
  out.Set("format",
          JsonValue::String(std::string(LegacyFormatName(v->old.format))));
  out.Set("user_id", JsonValue::String(v->mapped.user_id));
  JsonValue data = JsonValue::Object();
  for (const auto& [k, text] : v->mapped.data) {
    data.Set(k, JsonValue::String(text));
  }
  out.Set("data", std::move(data));
  JsonValue flash = JsonValue::Array();
  for (const FlashMessage& f : v->mapped.flash) {
    JsonValue item = JsonValue::Object();
    item.Set("queue", JsonValue::String(f.queue));
    item.Set("message", JsonValue::String(f.message));
    flash.Push(std::move(item));
  }
  out.Set("flash", std::move(flash));
  out.Set("renamed", RenamedJson(v->mapped.renamed));
  out.Set("unmapped", UnmappedJson(v->mapped.unmapped));
  out.Set("signed_at", JsonValue::Integer(v->old.signed_at));
  out.Set("expires_at", OptionalTime(v->old.expires_at));
  out.Set("legacy", JsonValue::Bool(v->old.legacy));
  out.Set("secret_index",
          JsonValue::Integer(static_cast<int64_t>(v->old.secret_index)));
  out.Set("remembered_until", JsonValue::Integer(v->marker_expires_at));
  call->Ok({WriteJson(out, JsonStyle::kCompact)});
}

}  // namespace sessiond
