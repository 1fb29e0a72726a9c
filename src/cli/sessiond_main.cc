// sessiond: the daemon's entry point. Parses flags, prints the version, and
// (once the server part is built) runs the server until SIGTERM.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "sessiond/version.h"

int main(int argc, char** argv) {
  CLI::App app{"sessiond: a session server for web applications"};
  bool show_version = false;
  app.add_flag("-V,--version", show_version, "Print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (show_version) {
    std::cout << "sessiond " << sessiond::VersionString() << "\n";
    return 0;
  }
  std::cerr << "sessiond " << sessiond::VersionString()
            << ": the server is not built yet\n";
  return 1;
}
