// Builders for the change sets and login requests that tests write again and
// again: Sets(1, {{"k", "v"}}) reads as "at version 1, set k to v".
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sessiond/session.h"

namespace sessiond::testing {

// Sets keys, based on version `base`.
inline ChangeSet Sets(uint64_t base, std::map<std::string, std::string> set) {
  ChangeSet c;
  c.base_version = base;
  c.set = std::move(set);
  return c;
}

// Erases keys, based on version `base`.
inline ChangeSet Erases(uint64_t base, std::set<std::string> erase) {
  ChangeSet c;
  c.base_version = base;
  c.erase = std::move(erase);
  return c;
}

// Pushes flash messages, based on version `base`.
inline ChangeSet Pushes(uint64_t base, std::vector<FlashMessage> flash) {
  ChangeSet c;
  c.base_version = base;
  c.flash_push = std::move(flash);
  return c;
}

// A login of `user` with no new metadata.
inline LoginRequest As(std::string user) {
  LoginRequest r;
  r.user_id = std::move(user);
  return r;
}

}  // namespace sessiond::testing
