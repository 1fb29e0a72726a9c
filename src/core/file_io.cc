// Trusted files (the StrictModes checks on open) and the one durable write
// (temp file, fsync, read back and verify, link or rename, directory
// fsync) that every file sessiond writes goes through.
#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <type_traits>

namespace sessiond {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  while (slash > 0 && path[slash - 1] == '/') --slash;
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status Errno(const char* what, const std::string& path) {
  return ErrnoStatus(errno, std::string(what) + " " + path);
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Owned by us or by root: nobody else can chmod it or (for a directory)
// change what is in it.
bool OwnedByUsOrRoot(const struct stat& st) {
  return st.st_uid == ::geteuid() || st.st_uid == 0;
}

Status NotOurs(const std::string& name, const std::string& path,
               const struct stat& st, bool root_ok) {
  return PermissionDenied(
      name + " is owned by uid " + std::to_string(st.st_uid) +
      ", not by this process (uid " + std::to_string(::geteuid()) + ")" +
      (root_ok ? " or root" : "") + ": whoever owns it can change it. Fix: " +
      "chown " + std::to_string(::geteuid()) + " " + path);
}

// The file itself, checked on the descriptor that will be read.
Status CheckOpened(int fd, const std::string& path, std::string_view what,
                   FileAccess access) {
  const std::string name = std::string(what) + " " + path;
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat " + name);
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(name + " is not a regular file");
  }
  if (!OwnedByUsOrRoot(st)) return NotOurs(name, path, st, true);
  if (access == FileAccess::kPrivate) {
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return PermissionDenied(
          name + " is open to group or others (mode " + Octal(st.st_mode) +
          "); its secrets must stay private. Fix: chmod 600 " + path +
          " (and consider the keys leaked: rotate them)");
    }
  } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return PermissionDenied(name + " is writable by group or others (mode " +
                            Octal(st.st_mode) +
                            "), so they could add themselves to it. Fix: "
                            "chmod 644 " +
                            path);
  }
  return Status::Ok();
}

// O_NOFOLLOW: a symbolic link in the last component is refused (ELOOP)
// rather than followed; O_NONBLOCK: a FIFO planted there cannot hang us.
Result<int> OpenNoFollow(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  int fd = ::open(path.c_str(),
                  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
  if (fd >= 0) return fd;
  if (errno == ELOOP) {
    return PermissionDenied(
        name + " is a symbolic link; whoever can change the link chooses " +
        "the file. Fix: name the file itself in the configuration");
  }
  return ErrnoStatus(errno, "cannot open " + name);
}

Status CheckAncestor(const std::string& dir, const struct stat& st,
                     std::string_view what, const std::string& path) {
  const std::string name =
      "directory " + dir + " (above " + std::string(what) + " " + path + ")";
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(name + " is not one");
  if (!OwnedByUsOrRoot(st)) return NotOurs(name, dir, st, true);
  const bool sticky = (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky) {
    return PermissionDenied(
        name + " is writable by group or others (mode " + Octal(st.st_mode) +
        "), so they could replace what is in it. Fix: chmod go-w " + dir);
  }
  return Status::Ok();
}

// The reader behind ReadTrustedFile and ReadSecretFile: `Buffer` is
// std::string or SecretBytes, read straight into (no copy in between).
template <typename Buffer>
Result<Buffer> ReadChecked(const std::string& path, std::string_view what,
                           size_t max_bytes, FileAccess access) {
  const std::string name = std::string(what) + " " + path;
  Result<int> opened = OpenNoFollow(path, what);
  if (!opened.ok()) return opened.status();
  Fd fd(*opened);
  SESSIOND_RETURN_IF_ERROR(CheckOpened(fd.get(), path, what, access));
  SESSIOND_RETURN_IF_ERROR(CheckParentDirectories(path, what));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, "cannot stat " + name);
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return InvalidArgument(name + " is too large to be one");
  }
  // One byte more than the size: a file that grew while we read it shows.
  const size_t capacity = static_cast<size_t>(st.st_size) + 1;
  Buffer buf = [&] {
    if constexpr (std::is_same_v<Buffer, std::string>) {
      return std::string(capacity, '\0');
    } else {
      return SecretBytes(capacity);
    }
  }();
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), reinterpret_cast<char*>(buf.data()) + got,
                       buf.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read " + name);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == buf.size()) {
    return InvalidArgument(name + " changed while it was read; try again");
  }
  if constexpr (std::is_same_v<Buffer, std::string>) {
    buf.resize(got);
  } else {
    buf.Truncate(got);
  }
  return buf;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Reads back what was written through the same descriptor, into guarded
// memory (the data may be a keyring), and compares and verifies it.
Status ReadBack(int fd, std::string_view data, const std::string& path,
                const WriteOptions& options) {
  SecretBytes back(data.size() + 1);
  size_t got = 0;
  while (got < back.size()) {
    ssize_t n = ::pread(fd, back.data() + got, back.size() - got,
                        static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read back", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  back.Truncate(got);
  if (back.view() != data) {
    return Status(Code::kUnavailable,
                  "what was written to " + path + " does not read back");
  }
  if (options.verify) return options.verify(back.view());
  return Status::Ok();
}

// A create or rename is durable only once its directory entry is on disk.
Status SyncDir(const std::string& path) {
  const std::string dir = DirName(path);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return Errno("cannot fsync directory", dir);
  return Status::Ok();
}

}  // namespace

void Fd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status Fd::Close(const std::string& path) {
  if (fd_ < 0) return Status::Ok();
  const int rc = ::close(fd_);
  fd_ = -1;
  return rc == 0 ? Status::Ok() : Errno("cannot close", path);
}

Status CheckParentDirectories(const std::string& path, std::string_view what) {
  // The directories as written (a symbolic link among them is followed:
  // the directory it names is checked, and the link's own directory is the
  // next one up), then the resolved chain up to /.
  std::string dir = DirName(path);
  while (dir != "/" && dir != ".") {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
      return ErrnoStatus(errno, "cannot stat directory " + dir);
    }
    SESSIOND_RETURN_IF_ERROR(CheckAncestor(dir, st, what, path));
    dir = DirName(dir);
  }
  std::unique_ptr<char, decltype(&std::free)> resolved(
      ::realpath(DirName(path).c_str(), nullptr), &std::free);
  if (resolved == nullptr) {
    return ErrnoStatus(errno, "cannot resolve directory " + DirName(path));
  }
  dir = resolved.get();
  for (;;) {
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) {
      return ErrnoStatus(errno, "cannot stat directory " + dir);
    }
    SESSIOND_RETURN_IF_ERROR(CheckAncestor(dir, st, what, path));
    if (dir == "/") return Status::Ok();
    dir = DirName(dir);
  }
}

Status CheckTrustedFile(const std::string& path, std::string_view what,
                        FileAccess access) {
  Result<int> opened = OpenNoFollow(path, what);
  if (!opened.ok()) return opened.status();
  Fd fd(*opened);
  SESSIOND_RETURN_IF_ERROR(CheckOpened(fd.get(), path, what, access));
  return CheckParentDirectories(path, what);
}

Status CheckTrustedDirectory(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  // stat, not lstat: a data directory may be a symbolic link (systemd's
  // DynamicUser makes /var/lib/NAME one); the directory it names must pass,
  // and so must the directories above both the link and its target.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "cannot stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(name + " is not a directory");
  if (st.st_uid != ::geteuid()) return NotOurs(name, path, st, false);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return PermissionDenied(
        name + " is writable by group or others (mode " + Octal(st.st_mode) +
        "), so they could replace the files in it. Fix: chmod 700 " + path);
  }
  SESSIOND_RETURN_IF_ERROR(CheckParentDirectories(path, what));
  // The directories above the target (the same ones when it is no link).
  return CheckParentDirectories(path + "/.", what);
}

Result<std::string> ReadTrustedFile(const std::string& path,
                                    std::string_view what, size_t max_bytes,
                                    FileAccess access) {
  return ReadChecked<std::string>(path, what, max_bytes, access);
}

Result<SecretBytes> ReadSecretFile(const std::string& path,
                                   std::string_view what, size_t max_bytes) {
  return ReadChecked<SecretBytes>(path, what, max_bytes, FileAccess::kPrivate);
}

Result<std::string> ReadPrivateFile(const std::string& path,
                                    std::string_view what, size_t max_bytes) {
  return ReadTrustedFile(path, what, max_bytes, FileAccess::kPrivate);
}

Status WriteFileDurably(const std::string& path, std::string_view data,
                        const WriteOptions& options) {
  if (!options.replace) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      return InvalidArgument(path + " already exists; not overwriting it");
    }
  }
  // mkostemp: O_EXCL and mode 0600 from the first moment, so the bytes are
  // never readable by others, not even for an instant.
  std::string tmp = path + ".tmp.XXXXXX";
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot create temp file", tmp);
  Status st = WriteAll(fd.get(), data, tmp);
  if (st.ok() && ::fchmod(fd.get(), options.mode) != 0) {
    st = Errno("cannot chmod", tmp);
  }
  if (st.ok() && ::fsync(fd.get()) != 0) st = Errno("cannot fsync", tmp);
  if (st.ok()) st = ReadBack(fd.get(), data, tmp, options);
  Status closed = fd.Close(tmp);
  if (st.ok()) st = closed;
  if (st.ok()) {
    if (options.replace) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) {
        st = Errno("cannot rename over", path);
      }
    } else if (::link(tmp.c_str(), path.c_str()) != 0) {
      // link() never replaces: a file that appeared meanwhile wins.
      st = errno == EEXIST
               ? InvalidArgument(path + " already exists; not overwriting it")
               : Errno("cannot create", path);
    }
  }
  // After a rename the temp name is gone; after a link it is a second name.
  ::unlink(tmp.c_str());
  if (!st.ok()) return st;
  return SyncDir(path);
}

Status WriteNewPrivateFile(const std::string& path, std::string_view data) {
  WriteOptions options;
  options.replace = false;
  return WriteFileDurably(path, data, options);
}

Status ReplacePrivateFile(const std::string& path, std::string_view data) {
  WriteOptions options;
  options.replace = true;
  return WriteFileDurably(path, data, options);
}

}  // namespace sessiond
