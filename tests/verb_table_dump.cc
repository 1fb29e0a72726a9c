// Prints the server's own tables as JSON, for tests/verb_table_test.py: the
// dispatch table's verbs (dispatch.cc) and every error code with its group
// (status.cc). The test compares them with docs/protocol.md and with each
// client, so the tables stay the one source of truth.
#include <cstdio>
#include <string_view>

#include "server/dispatch.h"
#include "sessiond/status.h"

namespace {

// The names are upper-case ASCII words (DecodeRequest and the code table
// say so), so they need no escaping.
void Print(std::string_view s) {
  std::printf("\"%.*s\"", static_cast<int>(s.size()), s.data());
}

}  // namespace

int main() {
  std::printf("{\"verbs\": [");
  bool first = true;
  for (const sessiond::Command& c : sessiond::CommandTable()) {
    std::printf(first ? "\n  {\"verb\": " : ",\n  {\"verb\": ");
    Print(c.verb);
    std::printf(", \"admin\": %s}", c.admin_only ? "true" : "false");
    first = false;
  }
  std::printf("\n], \"codes\": [");
  first = true;
  for (const sessiond::CodeInfo& row : sessiond::CodeTable()) {
    if (row.code == sessiond::Code::kOk) continue;
    std::printf(first ? "\n  {\"code\": " : ",\n  {\"code\": ");
    Print(row.name);
    std::printf(", \"group\": ");
    Print(sessiond::ErrorGroupName(row.group));
    std::printf("}");
    first = false;
  }
  std::printf("\n]}\n");
  return 0;
}
