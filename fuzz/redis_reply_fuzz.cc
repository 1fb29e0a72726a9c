// Fuzzes the translation of Redis replies (src/store/redis_connection.*):
// the input is fed as RESP bytes to hiredis' reply reader (the parser the
// connection uses), and every reply it yields goes through
// RedisValueFromReply; every error reply also through RedisErrorReplyStatus.
// hiredis itself is not instrumented; the fuzzer steers by our side.
//
// Inputs whose multi-bulk header asks for more than 99999 elements are
// skipped: hiredis allocates the element array up front, and that
// allocation (not our code) would trip libFuzzer's memory limit.
//
// Checks: the translated value has the reply's type, bytes and shape.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/redis_connection.h"

namespace {

using sessiond::RedisValue;

void Check(const redisReply* r, const RedisValue& v) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: {
      const RedisValue::Type want = r->type == REDIS_REPLY_STRING
                                        ? RedisValue::Type::kString
                                    : r->type == REDIS_REPLY_STATUS
                                        ? RedisValue::Type::kStatus
                                        : RedisValue::Type::kError;
      if (v.type != want || v.str != std::string_view(r->str, r->len)) {
        __builtin_trap();
      }
      if (r->type == REDIS_REPLY_ERROR) {
        auto status = sessiond::RedisErrorReplyStatus("127.0.0.1:6379", v.str);
        if (status.ok()) __builtin_trap();
      }
      break;
    }
    case REDIS_REPLY_INTEGER:
      if (v.type != RedisValue::Type::kInteger || v.integer != r->integer) {
        __builtin_trap();
      }
      break;
    case REDIS_REPLY_ARRAY:
      if (v.type != RedisValue::Type::kArray ||
          v.elements.size() != r->elements) {
        __builtin_trap();
      }
      for (size_t i = 0; i < r->elements; ++i) {
        Check(r->element[i], v.elements[i]);
      }
      break;
    default:
      if (v.type != RedisValue::Type::kNil) __builtin_trap();
      break;
  }
}

bool HugeArray(std::string_view input) {
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] != '*') continue;
    size_t digits = 0;
    while (i + 1 + digits < input.size() && input[i + 1 + digits] >= '0' &&
           input[i + 1 + digits] <= '9') {
      ++digits;
    }
    if (digits > 5) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (HugeArray(input)) return 0;
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) __builtin_trap();
  if (redisReaderFeed(reader, input.data(), input.size()) == REDIS_OK) {
    for (int n = 0; n < 1000; ++n) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) break;
      const auto* r = static_cast<const redisReply*>(reply);
      Check(r, sessiond::RedisValueFromReply(r));
      freeReplyObject(reply);
    }
  }
  redisReaderFree(reader);
  return 0;
}
