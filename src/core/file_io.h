// Small files holding secrets: read only when no one else may read them,
// written durably (all bytes, mode 0600, fsync of the file and of its
// directory) either as a new file that never replaces another, or as an
// atomic replacement. The keyring file and the CURVE secret key use these.
// Blocking: start-up or a background thread, never the loop thread.
// Internal to sessiond. Errors come from ErrnoStatus (status.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sessiond/status.h"

namespace sessiond {

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(-1); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes the current descriptor (if any) and holds `fd` instead.
  void Reset(int fd);
  // Closes now and reports the result: close can report a deferred write
  // error, which matters for a file just written.
  Status Close(const std::string& path);

 private:
  int fd_;
};

// Reads a regular file that group and others can neither read nor write,
// of at most `max_bytes`. `what` names it in messages ("keyring file").
// Errors: kNotFound (missing), kPermissionDenied (open to group or others:
// the message says how to fix it), kInvalidArgument (not a regular file, or
// too large), others from ErrnoStatus.
Result<std::string> ReadPrivateFile(const std::string& path,
                                    std::string_view what, size_t max_bytes);

// Creates `path` with mode 0600 and `data` (O_EXCL: never replaces a file),
// durably. A half-written file is removed. Errors: kInvalidArgument if it
// already exists; others from ErrnoStatus.
Status WriteNewPrivateFile(const std::string& path, std::string_view data);

// Replaces `path` with `data`, atomically and durably: a 0600 temp file
// beside it, fsync, rename over, fsync of the directory. A crash leaves
// either the old or the new file, never half of one.
Status ReplacePrivateFile(const std::string& path, std::string_view data);

}  // namespace sessiond
