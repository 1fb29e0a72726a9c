// Private files: the permission check on read, and the one durable write
// (all bytes, 0600, fsync, close checked) that both a new file and an atomic
// replacement go through.
#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace sessiond {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status Errno(const char* what, const std::string& path) {
  return ErrnoStatus(errno, std::string(what) + " " + path);
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

// The durable part of every write: the bytes, mode 0600 exactly (the umask
// can only remove bits), on disk before close, and close itself checked.
Status WriteDurably(Fd& fd, std::string_view data, const std::string& path) {
  Status st = WriteAll(fd.get(), data, path);
  if (st.ok() && ::fchmod(fd.get(), 0600) != 0)
    st = Errno("cannot chmod", path);
  if (st.ok() && ::fsync(fd.get()) != 0) st = Errno("cannot fsync", path);
  Status closed = fd.Close(path);
  return st.ok() ? closed : st;
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

Result<std::string> ReadPrivateFile(const std::string& path,
                                    std::string_view what, size_t max_bytes) {
  const std::string name = std::string(what) + " " + path;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return ErrnoStatus(errno, "cannot open " + name);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, "cannot stat " + name);
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(name + " is not a regular file");
  }
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied(
        name + " is readable or writable by group or others (mode " + mode +
        "); its secrets must stay private. Fix: chmod 600 " + path +
        " (and consider the keys leaked: rotate them)");
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return InvalidArgument(name + " is too large to be one");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read " + name);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      return InvalidArgument(name + " is too large to be one");
    }
  }
  return text;
}

Status WriteNewPrivateFile(const std::string& path, std::string_view data) {
  // O_EXCL: never overwrite (for a keyring that would log everyone out and
  // lose the old keys). 0600 from the start: never readable by others, not
  // even for an instant.
  Fd fd(::open(path.c_str(),
               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return InvalidArgument(path + " already exists; not overwriting it");
    }
    return Errno("cannot create", path);
  }
  Status st = WriteDurably(fd, data, path);
  if (!st.ok()) {
    ::unlink(path.c_str());  // a half-written file must not be loaded
    return st;
  }
  return SyncDir(path);
}

Status ReplacePrivateFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp.XXXXXX";
  Fd fd(::mkstemp(tmp.data()));  // mkstemp creates with mode 0600
  if (fd.get() < 0) return Errno("cannot create temp file", tmp);
  Status st = WriteDurably(fd, data, tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Errno("cannot rename over", path);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDir(path);
}

}  // namespace sessiond
