// DBSC header fields on top of the structured-field codec (headers.h).
#include "dbsc/headers.h"

#include "dbsc/structured_field.h"
#include "sessiond/random.h"
#include "sessiond/token_codec.h"  // Base64UrlEncode

namespace sessiond::dbsc {

namespace {

constexpr size_t kChallengeBytes = 32;
constexpr size_t kMaxSessionIdBytes = 256;

Status HeaderError(std::string_view header, std::string_view detail) {
  return DbscStatus(DbscError::kBadHeader,
                    std::string(header) + ": " + std::string(detail));
}

bool IsBareIdChar(char c) {
  return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' &&
         c != '\\';
}

std::string_view TrimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

}  // namespace

std::string NewChallenge() {
  return Base64UrlEncode(RandomString(kChallengeBytes));
}

Result<std::string> RenderRegistrationHeader(const RegistrationOffer& offer) {
  if (offer.algorithms.empty()) {
    return HeaderError(kRegistrationHeader, "no algorithm offered");
  }
  if (offer.path.empty()) return HeaderError(kRegistrationHeader, "empty path");
  if (offer.challenge.empty()) {
    return HeaderError(kRegistrationHeader, "empty challenge");
  }
  sf::Member m;
  m.is_inner_list = true;
  for (Algorithm a : offer.algorithms) {
    m.inner.items.push_back({sf::BareItem::Token(std::string(AlgorithmName(a))), {}});
  }
  m.inner.params.emplace_back("path", sf::BareItem::String(offer.path));
  m.inner.params.emplace_back("challenge",
                              sf::BareItem::String(offer.challenge));
  if (offer.authorization) {
    m.inner.params.emplace_back("authorization",
                                sf::BareItem::String(*offer.authorization));
  }
  auto text = sf::SerializeList({m});
  if (!text.ok()) return HeaderError(kRegistrationHeader, text.status().message());
  return text;
}

Result<std::string> RenderChallengeHeader(
    std::string_view challenge, std::optional<std::string_view> session_id) {
  if (challenge.empty()) return HeaderError(kChallengeHeader, "empty challenge");
  sf::Item item{sf::BareItem::String(std::string(challenge)), {}};
  if (session_id) {
    if (session_id->empty()) {
      return HeaderError(kChallengeHeader, "empty session id");
    }
    item.params.emplace_back("id", sf::BareItem::String(std::string(*session_id)));
  }
  auto text = sf::SerializeItem(item);
  if (!text.ok()) return HeaderError(kChallengeHeader, text.status().message());
  return text;
}

Result<std::string> ParseResponseHeader(std::string_view value) {
  auto item = sf::ParseItem(value);
  if (!item.ok()) return HeaderError(kResponseHeader, item.status().message());
  if (!item->value.IsString() && !item->value.IsToken()) {
    return HeaderError(kResponseHeader, "not a string (nor a bare JWT)");
  }
  if (item->value.text.empty()) return HeaderError(kResponseHeader, "empty");
  return std::move(item->value.text);
}

Result<std::string> ParseSessionIdHeader(std::string_view value) {
  const std::string_view v = TrimOws(value);
  if (!v.empty() && v.front() == '"') {
    auto item = sf::ParseItem(v);
    if (!item.ok()) return HeaderError(kSessionIdHeader, item.status().message());
    if (!item->value.IsString()) {
      return HeaderError(kSessionIdHeader, "not a string");
    }
    if (item->value.text.empty() ||
        item->value.text.size() > kMaxSessionIdBytes) {
      return HeaderError(kSessionIdHeader, "empty or over 256 bytes");
    }
    return std::move(item->value.text);
  }
  // Chromium's form: the identifier itself.
  if (v.empty() || v.size() > kMaxSessionIdBytes) {
    return HeaderError(kSessionIdHeader, "empty or over 256 bytes");
  }
  for (char c : v) {
    if (!IsBareIdChar(c)) {
      return HeaderError(kSessionIdHeader,
                         "bare value with a character that needs quoting");
    }
  }
  return std::string(v);
}

Result<std::vector<SkippedSession>> ParseSkippedHeader(std::string_view value) {
  auto list = sf::ParseList(value);
  if (!list.ok()) return HeaderError(kSkippedHeader, list.status().message());
  std::vector<SkippedSession> out;
  for (const sf::Member& m : *list) {
    if (m.is_inner_list || !m.item.value.IsToken()) {
      return HeaderError(kSkippedHeader, "each entry must be a token");
    }
    SkippedSession s{m.item.value.text, ""};
    if (const sf::BareItem* id =
            sf::FindParam(m.item.params, "session_identifier")) {
      if (!id->IsString() && !id->IsToken()) {
        return HeaderError(kSkippedHeader,
                           "session_identifier must be a string");
      }
      s.session_id = id->text;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<RegistrationOffer>> ParseRegistrationHeader(
    std::string_view value) {
  auto list = sf::ParseList(value);
  if (!list.ok()) {
    return HeaderError(kRegistrationHeader, list.status().message());
  }
  std::vector<RegistrationOffer> out;
  for (const sf::Member& m : *list) {
    if (!m.is_inner_list) continue;
    RegistrationOffer offer;
    for (const sf::Item& alg : m.inner.items) {
      if (!alg.value.IsToken()) continue;
      if (auto a = AlgorithmFromName(alg.value.text)) {
        offer.algorithms.push_back(*a);
      }
    }
    const sf::BareItem* path = sf::FindParam(m.inner.params, "path");
    if (offer.algorithms.empty() || path == nullptr || !path->IsString()) {
      continue;
    }
    offer.path = path->text;
    if (const sf::BareItem* c = sf::FindParam(m.inner.params, "challenge");
        c != nullptr && c->IsString()) {
      offer.challenge = c->text;
    }
    if (const sf::BareItem* a = sf::FindParam(m.inner.params, "authorization");
        a != nullptr && a->IsString()) {
      offer.authorization = a->text;
    }
    out.push_back(std::move(offer));
  }
  return out;
}

Result<std::vector<ChallengeEntry>> ParseChallengeHeader(
    std::string_view value) {
  auto list = sf::ParseList(value);
  if (!list.ok()) return HeaderError(kChallengeHeader, list.status().message());
  std::vector<ChallengeEntry> out;
  for (const sf::Member& m : *list) {
    if (m.is_inner_list || !m.item.value.IsString()) continue;
    ChallengeEntry e{m.item.value.text, std::nullopt};
    if (const sf::BareItem* id = sf::FindParam(m.item.params, "id");
        id != nullptr && id->IsString()) {
      e.session_id = id->text;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace sessiond::dbsc
