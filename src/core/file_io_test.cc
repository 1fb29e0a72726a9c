// file_io tests: the StrictModes checks (symbolic links, owners, modes,
// directories above) and the durable write (exact mode, never replacing a
// file unless asked, read back and verified before it takes the name, no
// temp file left behind). Tests that need a second uid run as root (chown)
// and are skipped otherwise.
#include "core/file_io.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace sessiond {
namespace {

constexpr uid_t kOtherUid = 54321;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sessiond_file_io_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  std::string Write(const std::string& name, const std::string& text,
                    mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::trunc) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::vector<std::string> Entries() {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }

  static bool Root() { return ::geteuid() == 0; }

  std::string dir_;
};

TEST_F(FileIoTest, ReadsAPrivateFileOfOurs) {
  const std::string path = Write("key", "secret text");
  Result<std::string> text =
      ReadTrustedFile(path, "key file", 1024, FileAccess::kPrivate);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "secret text");
  Result<SecretBytes> secret = ReadSecretFile(path, "key file", 1024);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(secret->view(), "secret text");
}

TEST_F(FileIoTest, PrivateRefusesAnyAccessForGroupOrOthers) {
  for (mode_t mode : {0640, 0604, 0620, 0602, 0610, 0601, 0660, 0644}) {
    const std::string path = Write("key", "x", mode);
    Status st = CheckTrustedFile(path, "key file", FileAccess::kPrivate);
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(st.message().find("chmod 600"), std::string::npos) << st.message();
  }
  for (mode_t mode : {0600, 0400}) {
    const std::string path = Write("key", "x", mode);
    EXPECT_TRUE(CheckTrustedFile(path, "key file", FileAccess::kPrivate).ok())
        << std::oct << mode;
  }
}

TEST_F(FileIoTest, PublicMayBeReadButNotWrittenByOthers) {
  for (mode_t mode : {0644, 0640, 0604, 0600, 0444}) {
    const std::string path = Write("clients", "x", mode);
    EXPECT_TRUE(CheckTrustedFile(path, "allow-list", FileAccess::kPublic).ok())
        << std::oct << mode;
  }
  for (mode_t mode : {0664, 0646, 0666, 0622}) {
    const std::string path = Write("clients", "x", mode);
    Status st = CheckTrustedFile(path, "allow-list", FileAccess::kPublic);
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(st.message().find("chmod 644"), std::string::npos) << st.message();
  }
}

TEST_F(FileIoTest, RefusesASymbolicLinkEvenToAGoodFile) {
  const std::string real = Write("real", "secret");
  const std::string link = dir_ + "/link";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  Status st = CheckTrustedFile(link, "keyring file", FileAccess::kPrivate);
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_NE(st.message().find("symbolic link"), std::string::npos);
  EXPECT_EQ(ReadSecretFile(link, "keyring file", 64).code(),
            Code::kPermissionDenied);
}

TEST_F(FileIoTest, RefusesAFileOwnedByAnotherUser) {
  if (!Root()) GTEST_SKIP() << "needs root to give a file away";
  const std::string path = Write("key", "secret");
  ASSERT_EQ(::chown(path.c_str(), kOtherUid, kOtherUid), 0);
  Status st = CheckTrustedFile(path, "keyring file", FileAccess::kPrivate);
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_NE(st.message().find("owned by uid 54321"), std::string::npos)
      << st.message();
  EXPECT_EQ(ReadSecretFile(path, "keyring file", 64).code(),
            Code::kPermissionDenied);
}

TEST_F(FileIoTest, RefusesADirectoryAboveThatOthersCanWrite) {
  const std::string sub = dir_ + "/open";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  const std::string path = sub + "/key";
  std::ofstream(path) << "secret";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  for (mode_t mode : {0777, 0770, 0722, 0702}) {
    ASSERT_EQ(::chmod(sub.c_str(), mode), 0);
    Status st = CheckTrustedFile(path, "keyring file", FileAccess::kPrivate);
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(st.message().find("chmod go-w " + sub), std::string::npos)
        << st.message();
  }
  // Sticky, as /tmp: nobody else can rename or remove our entries there.
  ASSERT_EQ(::chmod(sub.c_str(), 01777), 0);
  EXPECT_TRUE(CheckTrustedFile(path, "keyring file", FileAccess::kPrivate).ok());
  ASSERT_EQ(::chmod(sub.c_str(), 0755), 0);
  EXPECT_TRUE(CheckTrustedFile(path, "keyring file", FileAccess::kPrivate).ok());
}

TEST_F(FileIoTest, RefusesADirectoryAboveOwnedByAnotherUser) {
  if (!Root()) GTEST_SKIP() << "needs root to give a directory away";
  const std::string sub = dir_ + "/theirs";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  const std::string path = sub + "/key";
  std::ofstream(path) << "secret";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(sub.c_str(), kOtherUid, kOtherUid), 0);
  Status st = CheckTrustedFile(path, "keyring file", FileAccess::kPrivate);
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_NE(st.message().find("directory " + sub), std::string::npos)
      << st.message();
}

TEST_F(FileIoTest, DirectoryAboveIsCheckedThroughASymlink) {
  // The real directory is open to all; a link to it does not hide that.
  const std::string real = dir_ + "/real";
  ASSERT_EQ(::mkdir(real.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(real.c_str(), 0777), 0);
  std::ofstream(real + "/key") << "secret";
  ASSERT_EQ(::chmod((real + "/key").c_str(), 0600), 0);
  const std::string link = dir_ + "/via";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_EQ(
      CheckTrustedFile(link + "/key", "keyring file", FileAccess::kPrivate)
          .code(),
      Code::kPermissionDenied);
}

TEST_F(FileIoTest, AFifoIsRefusedWithoutHanging) {
  const std::string path = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(CheckTrustedFile(path, "keyring file", FileAccess::kPrivate).code(),
            Code::kInvalidArgument);
}

TEST_F(FileIoTest, MissingIsNotFound) {
  EXPECT_EQ(CheckTrustedFile(dir_ + "/none", "keyring file",
                             FileAccess::kPrivate)
                .code(),
            Code::kNotFound);
}

TEST_F(FileIoTest, TooLargeIsRefused) {
  const std::string path = Write("key", std::string(100, 'x'));
  EXPECT_EQ(ReadSecretFile(path, "key", 99).code(), Code::kInvalidArgument);
  EXPECT_TRUE(ReadSecretFile(path, "key", 100).ok());
}

TEST_F(FileIoTest, DataDirectoryRules) {
  const std::string data = dir_ + "/data";
  ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);
  for (mode_t mode : {0700, 0750, 0755, 0711}) {
    ASSERT_EQ(::chmod(data.c_str(), mode), 0);
    EXPECT_TRUE(CheckTrustedDirectory(data, "data directory").ok())
        << std::oct << mode;
  }
  for (mode_t mode : {0777, 0770, 0707, 0730, 01777}) {
    ASSERT_EQ(::chmod(data.c_str(), mode), 0);
    Status st = CheckTrustedDirectory(data, "data directory");
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(st.message().find("chmod 700 " + data), std::string::npos)
        << st.message();
  }
  // A link to a good directory is fine (systemd's DynamicUser makes one);
  // a link to a bad one is not.
  ASSERT_EQ(::chmod(data.c_str(), 0700), 0);
  const std::string link = dir_ + "/data-link";
  ASSERT_EQ(::symlink(data.c_str(), link.c_str()), 0);
  EXPECT_TRUE(CheckTrustedDirectory(link, "data directory").ok());
  ASSERT_EQ(::chmod(data.c_str(), 0777), 0);
  EXPECT_EQ(CheckTrustedDirectory(link, "data directory").code(),
            Code::kPermissionDenied);
  ASSERT_EQ(::chmod(data.c_str(), 0700), 0);
  // ... nor is a link that lives where others can replace it.
  const std::string open = dir_ + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
  ASSERT_EQ(::symlink(data.c_str(), (open + "/link").c_str()), 0);
  EXPECT_EQ(CheckTrustedDirectory(open + "/link", "data directory").code(),
            Code::kPermissionDenied);
  // ... nor one whose target lies below such a directory.
  const std::string inner = open + "/inner";
  ASSERT_EQ(::mkdir(inner.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(inner.c_str(), (dir_ + "/to-inner").c_str()), 0);
  EXPECT_EQ(CheckTrustedDirectory(dir_ + "/to-inner", "data directory").code(),
            Code::kPermissionDenied);
  const std::string file = Write("file", "x");
  EXPECT_EQ(CheckTrustedDirectory(file, "data directory").code(),
            Code::kInvalidArgument);
}

TEST_F(FileIoTest, DataDirectoryOwnedByAnotherUserIsRefused) {
  if (!Root()) GTEST_SKIP() << "needs root to give a directory away";
  const std::string data = dir_ + "/data";
  ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);
  ASSERT_EQ(::chown(data.c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_EQ(CheckTrustedDirectory(data, "data directory").code(),
            Code::kPermissionDenied);
}

TEST_F(FileIoTest, NewFileHasExactlyItsModeWhateverTheUmask) {
  for (mode_t umask : {0000, 0077, 0022}) {
    const mode_t old = ::umask(umask);
    const std::string path = dir_ + "/new" + std::to_string(umask);
    ASSERT_TRUE(WriteNewPrivateFile(path, "data").ok());
    WriteOptions pub;
    pub.mode = 0644;
    ASSERT_TRUE(WriteFileDurably(path + ".pub", "data", pub).ok());
    ::umask(old);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << umask;
    ASSERT_EQ(::stat((path + ".pub").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << std::oct << umask;
    EXPECT_EQ(Read(path), "data");
  }
}

TEST_F(FileIoTest, NewFileNeverReplacesOne) {
  const std::string path = Write("keyring", "old keys");
  EXPECT_EQ(WriteNewPrivateFile(path, "new keys").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Read(path), "old keys");
  // Nor a dangling symbolic link (which would create its target).
  const std::string link = dir_ + "/dangling";
  ASSERT_EQ(::symlink((dir_ + "/target").c_str(), link.c_str()), 0);
  EXPECT_EQ(WriteNewPrivateFile(link, "x").code(), Code::kInvalidArgument);
  struct stat st;
  EXPECT_NE(::stat((dir_ + "/target").c_str(), &st), 0);
  EXPECT_EQ(Entries().size(), 2u);  // no temp file left
}

TEST_F(FileIoTest, ReplaceSwapsTheWholeFile) {
  const std::string path = Write("keyring", "old keys");
  ASSERT_TRUE(ReplacePrivateFile(path, "new keys").ok());
  EXPECT_EQ(Read(path), "new keys");
  EXPECT_EQ(Entries(), std::vector<std::string>{"keyring"});
}

TEST_F(FileIoTest, VerifierSeesTheBytesReadBackAndCanRefuse) {
  const std::string path = Write("keyring", "old keys");
  std::string seen;
  WriteOptions options;
  options.replace = true;
  options.verify = [&](std::string_view written) {
    seen = std::string(written);
    return InvalidArgument("does not parse");
  };
  Status st = WriteFileDurably(path, "new keys", options);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(seen, "new keys");
  EXPECT_EQ(Read(path), "old keys");  // the old file stays
  EXPECT_EQ(Entries(), std::vector<std::string>{"keyring"});

  options.verify = [](std::string_view) { return Status::Ok(); };
  ASSERT_TRUE(WriteFileDurably(path, "new keys", options).ok());
  EXPECT_EQ(Read(path), "new keys");

  // A refused new file never appears.
  options.replace = false;
  options.verify = [](std::string_view) { return InvalidArgument("no"); };
  EXPECT_FALSE(WriteFileDurably(dir_ + "/fresh", "x", options).ok());
  EXPECT_EQ(Entries(), std::vector<std::string>{"keyring"});
}

TEST(SecretBytesTest, HoldsCopiesAppendsAndMoves) {
  SecretBytes a(std::string_view("abc"));
  EXPECT_EQ(a.view(), "abc");
  a.Append("def");
  for (int i = 0; i < 100; ++i) a.Append("0123456789");
  EXPECT_EQ(a.size(), 1006u);
  EXPECT_EQ(a.view().substr(0, 8), "abcdef01");
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(b.size(), 1006u);
  b.Truncate(3);
  EXPECT_EQ(b.view(), "abc");
  SecretBytes c = b.Clone();
  EXPECT_TRUE(c == b);
  c = std::string_view("abd");
  EXPECT_FALSE(c == b);
  SecretBytes zeros(4);
  EXPECT_EQ(zeros.view(), std::string_view("\0\0\0\0", 4));
  SecretBytes empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.view(), "");
}

}  // namespace
}  // namespace sessiond
