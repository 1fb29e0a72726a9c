// spdlog set-up for the daemon and the log-safe renderings of ids.
#include "server/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "sessiond/version.h"

namespace sessiond {

Status SetupLogging(std::string_view level) {
  spdlog::level::level_enum parsed =
      spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return Status(Code::kInvalidArgument,
                  "unknown log level '" + std::string(level) + "'");
  }
  spdlog::drop("sessiond");  // a second set-up (tests) replaces the first
  auto logger = spdlog::stderr_logger_mt("sessiond");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return Status();
}

std::string StartLine(const Config& config) {
  std::string listen;
  for (const std::string& e : config.listen) {
    if (!listen.empty()) listen += ",";
    listen += e;
  }
  return "sessiond " + std::string(VersionString()) +
         " starting (mode=" + std::string(StorageModeName(config.mode)) +
         ", store=" + config.backend + ", listen=" + listen + ")";
}

}  // namespace sessiond
