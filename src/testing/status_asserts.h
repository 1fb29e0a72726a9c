// gtest assertions on a Status or a Result<T>, printing the expression and
// the status it gave: ASSERT_OK(expr), EXPECT_CODE(expr, code).
#pragma once

#include <gtest/gtest.h>

#include "sessiond/status.h"

namespace sessiond {

inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace sessiond

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    const auto& status_asserts_r = (expr);                    \
    ASSERT_TRUE(status_asserts_r.ok())                        \
        << #expr << " -> "                                    \
        << ::sessiond::StatusOf(status_asserts_r).ToString(); \
  } while (0)

#define EXPECT_CODE(expr, want)                                           \
  do {                                                                    \
    const auto& status_asserts_r = (expr);                                \
    EXPECT_EQ(::sessiond::StatusOf(status_asserts_r).code(), want)        \
        << #expr << " -> "                                                \
        << ::sessiond::StatusOf(status_asserts_r).ToString() << " (want " \
        << ::sessiond::CodeName(want) << ")";                             \
  } while (0)
