// The version this binary was built from, stamped at build time by
// cmake/WriteVersion.cmake: "0.1.0-<git describe --always --dirty --long>",
// "0.1.0" from a tree without .git, or what -DSESSIOND_VERSION pinned.
#pragma once

#include <string_view>

namespace sessiond {

// The version string without the program name, e.g. "0.1.0-3-g3f2a9c1-dirty".
// Thread-safe; the returned view points at static storage.
std::string_view VersionString();

}  // namespace sessiond
