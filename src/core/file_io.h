// The files and directories sessiond trusts, and the one way it writes a
// file. Trust is checked as OpenSSH's StrictModes does before it believes
// an authorized_keys file: the path is no symbolic link, it is owned by us
// (the effective uid) or root, nobody else may write it (nor read it, for a
// secret), and no directory above it can be changed by anyone else, so
// nobody can swap the file for another either. Every write (the keyring;
// any file sessiond creates) goes through WriteFileDurably: the bytes on
// disk, read back and checked, then renamed into place and the directory
// synced. Blocking: start-up or a background thread, never the loop thread.
// Internal to sessiond. Errors come from ErrnoStatus (status.h).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "sessiond/secret_bytes.h"
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

// Who besides the owner may touch a file sessiond reads.
enum class FileAccess {
  // Secrets (the keyring, the CURVE secret key): nobody else may read or
  // write it (mode 0600 or stricter).
  kPrivate,
  // Public material that decides who gets in (CURVE allow-lists, public
  // keys): anyone may read it, nobody else may write it (0644 at most).
  kPublic,
};

// The StrictModes rules for a file, as one check. `path` must name a
// regular file, not a symbolic link (the last component is opened with
// O_NOFOLLOW); it must be owned by the effective uid or by root; its mode
// must allow nothing to group or others (kPrivate) or no writing by them
// (kPublic); and every directory above it (after resolving symbolic links
// in them, so /var/run -> /run is fine) must be owned by the effective uid
// or root and not be writable by group or others, unless it has the sticky
// bit (as /tmp does: there nobody else can rename or remove our entries).
// `what` names the file in messages ("keyring file").
// Errors: kNotFound (missing), kPermissionDenied (a rule broken: the
// message names the path, the rule and the fix), kInvalidArgument (not a
// regular file), others from ErrnoStatus.
Status CheckTrustedFile(const std::string& path, std::string_view what,
                        FileAccess access);

// The rules for a directory sessiond keeps state in (the data directory):
// owned by the effective uid, not writable by group or others (0700, or
// 0750/0755: others may be allowed to reach a socket inside), and every
// directory above it as for CheckTrustedFile. It may be a symbolic link
// (systemd's DynamicUser makes the state directory one): then the
// directory it names must pass, and the directories above the link and
// above its target. Errors as CheckTrustedFile's.
Status CheckTrustedDirectory(const std::string& path, std::string_view what);

// Only the directories above `path`, as CheckTrustedFile checks them (both
// as written and resolved): for a file about to be created there.
Status CheckParentDirectories(const std::string& path, std::string_view what);

// Reads a file of at most `max_bytes` that passes CheckTrustedFile (checked
// on the opened descriptor, so the file read is the file checked).
// Errors: those of CheckTrustedFile; kInvalidArgument when too large.
Result<std::string> ReadTrustedFile(const std::string& path,
                                    std::string_view what, size_t max_bytes,
                                    FileAccess access);

// ReadTrustedFile(kPrivate) into guarded memory (SecretBytes): for the
// keyring, whose text holds the secrets.
Result<SecretBytes> ReadSecretFile(const std::string& path,
                                   std::string_view what, size_t max_bytes);

// ReadTrustedFile(kPrivate) as a std::string, for secrets whose library
// wants one anyway (the CURVE secret key goes to libzmq as text).
Result<std::string> ReadPrivateFile(const std::string& path,
                                    std::string_view what, size_t max_bytes);

// How WriteFileDurably writes.
struct WriteOptions {
  // false: the file must not exist yet, and is never replaced (a second
  // writer loses with kInvalidArgument). true: an existing file is
  // replaced atomically.
  bool replace = false;
  // The file's mode, exactly (the umask cannot widen or narrow it).
  mode_t mode = 0600;
  // Called with the bytes read back from the written file, before it
  // takes the final name: a non-OK answer abandons the write (the old file,
  // if any, stays) and is returned. Read back into guarded memory.
  std::function<Status(std::string_view written)> verify;
};

// The one durable write of a file: the bytes go to a temporary file beside
// `path` (created 0600, O_EXCL), fsync'd, read back and passed to
// options.verify, then linked (new file) or renamed (replacement) to
// `path`, and the directory is fsync'd. A crash leaves either the old file
// or the new one, never half of one; a failure removes the temporary file.
// Errors: kInvalidArgument when !replace and `path` exists; the verifier's
// error; others from ErrnoStatus.
Status WriteFileDurably(const std::string& path, std::string_view data,
                        const WriteOptions& options);

// WriteFileDurably(mode 0600, never replacing).
Status WriteNewPrivateFile(const std::string& path, std::string_view data);
// WriteFileDurably(mode 0600, replacing).
Status ReplacePrivateFile(const std::string& path, std::string_view data);

}  // namespace sessiond
