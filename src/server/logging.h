// Logging: spdlog set up once for the daemon (stderr, one line per event),
// and the helpers that keep secrets out of it: session ids are logged as a
// short prefix only, cookie values and keys never.
// Set up on the main thread before the loop starts; spdlog's default
// logger is thread-safe afterwards.
#pragma once

#include <string>
#include <string_view>

#include "server/config.h"
#include "sessiond/status.h"

namespace sessiond {

// Installs the default logger on stderr at `level` (trace, debug, info,
// warn, error). Errors: kInvalidArgument for an unknown level.
Status SetupLogging(std::string_view level);

// "sessiond <version> starting (mode=…, store=…, listen=…)": the first line
// the daemon logs.
std::string StartLine(const Config& config);

}  // namespace sessiond
