// sessiond: the daemon's entry point. Parses flags and the config file,
// runs the server until SIGTERM, and is the one place that turns a start-up
// failure into a message on stderr and exit code 1.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "server/config.h"
#include "server/hardening.h"
#include "server/logging.h"
#include "server/server.h"
#include "sessiond/version.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "sessiond: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using sessiond::CommandLine;
  sessiond::Result<CommandLine> cli = sessiond::ParseCommandLine(argc, argv);
  if (!cli.ok()) {
    return Fail(cli.status().message() + " (see sessiond --help)");
  }
  switch (cli->action) {
    case CommandLine::Action::kHelp:
      std::cout << cli->help_text;
      return 0;
    case CommandLine::Action::kVersion:
      std::cout << "sessiond " << sessiond::VersionString() << "\n";
      return 0;
    case CommandLine::Action::kCheck:
    case CommandLine::Action::kRun:
      break;
  }
  sessiond::Result<sessiond::Config> config = sessiond::LoadConfig(*cli);
  if (!config.ok()) return Fail(config.status().message());
  if (cli->action == CommandLine::Action::kCheck) {
    std::cout << "sessiond: configuration OK ("
              << (config->source.empty() ? "defaults" : config->source)
              << ")\n";
    return 0;
  }
  sessiond::Status logging = sessiond::SetupLogging(config->log_level);
  if (!logging.ok()) return Fail(logging.message());

  // Before any secret is read: no core dumps, no same-user debugger, and
  // OpenSSL's key copies in its locked heap.
  sessiond::Result<sessiond::Hardened> hardened =
      sessiond::HardenProcess(config->core_dumps);
  if (!hardened.ok()) return Fail(hardened.status().message());
  if (!hardened->core_dumps_off) {
    spdlog::warn(
        "[server] core_dumps = true: core files and same-user debuggers are "
        "allowed (for debugging only; a dump holds sessions and tokens)");
  }
  if (!hardened->secure_heap_locked) {
    spdlog::warn("OpenSSL's secure heap is {}: its key copies may be "
                 "swapped (raise RLIMIT_MEMLOCK)",
                 hardened->secure_heap ? "not locked" : "unavailable");
  }

  sessiond::Result<std::unique_ptr<sessiond::Server> > server =
      sessiond::Server::Create(*config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().message());
    return Fail(server.status().message());
  }
  sessiond::Status run = (*server)->Run();
  server->reset();
  if (!run.ok()) return Fail(run.message());
  return 0;
}
