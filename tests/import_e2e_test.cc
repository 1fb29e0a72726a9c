// The C++ client's Import, Export and ImportCheck against the real sessiond
// binary with [import.flask]: the old cookie rendered by the import
// library's Flask renderer (which the import_readback_python fixture shows
// real Flask reads as its own; clients/python/tests/test_import.py imports
// cookies minted by Flask itself), one session per cookie, the way back
// verified by the library's Flask verifier, and the refusals' codes.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "gtest/gtest.h"
#include "import/json.h"
#include "import/legacy_cookie.h"
#include "sessiond/client.h"
#include "testing/sessiond_process.h"

namespace sessiond {
namespace {

using testing::SessiondConfig;
using testing::SessiondProcess;

constexpr const char* kSecret = "cpp-import-test-flask-secret";

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ImportE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sessiond-import-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string secrets = dir_ + "/flask.secrets";
    int fd = open(secrets.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    const std::string line = std::string(kSecret) + "\n";
    ASSERT_EQ(write(fd, line.data(), line.size()),
              static_cast<ssize_t>(line.size()));
    close(fd);
    SessiondConfig config;
    config.extra_toml =
        "[import.flask]\nsecrets_file = \"" + secrets + "\"\n";
    sessiond_ = std::make_unique<SessiondProcess>(config);
    Status st = sessiond_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString() << sessiond_->LogTail();
    app_ = std::make_unique<Client>(sessiond_->AppOptions());
    admin_ = std::make_unique<Client>(sessiond_->AdminOptions());

    FlaskCookieOptions options;
    options.secret_keys = {kSecret};
    Result<std::unique_ptr<LegacyCookieFormat>> flask =
        NewFlaskCookieFormat(options);
    ASSERT_TRUE(flask.ok());
    flask_ = std::move(*flask);
  }

  void TearDown() override {
    app_.reset();
    admin_.reset();
    sessiond_.reset();
    unlink((dir_ + "/flask.secrets").c_str());
    rmdir(dir_.c_str());
  }

  std::string FlaskCookie(const char* json) {
    Result<JsonValue> data = ParseJson(json, JsonDialect::kPython);
    EXPECT_TRUE(data.ok());
    LegacyRenderInput in;
    in.data = std::move(*data);
    in.now_micros = NowMicros();
    Result<std::string> cookie = flask_->Render(in);
    EXPECT_TRUE(cookie.ok()) << cookie.status().ToString();
    return cookie.ok() ? *cookie : std::string();
  }

  std::string dir_;
  std::unique_ptr<SessiondProcess> sessiond_;
  std::unique_ptr<Client> app_, admin_;
  std::unique_ptr<LegacyCookieFormat> flask_;
};

TEST_F(ImportE2eTest, ImportTwiceIsOneSessionAndExportGoesBack) {
  const std::string old = FlaskCookie(R"({"_user_id": "77", "cart": [1, 2]})");
  Result<ImportReply> first = app_->Import("flask", old, {"192.0.2.9", "ua"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->session.session.user_id, "77");
  EXPECT_EQ(first->session.session.data.at("cart"), "[1,2]");
  EXPECT_EQ(nlohmann::json::parse(first->report_json)["format"], "flask");

  Result<ImportReply> again = app_->Import("flask", old);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->session.session.id, first->session.session.id);

  Result<std::string> check = admin_->ImportCheck("flask", old);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(nlohmann::json::parse(*check)["user_id"], "77");
  EXPECT_EQ(app_->ImportCheck("flask", old).code(), Code::kPermissionDenied);

  Result<ExportReply> back = app_->Export("flask", again->session.cookie);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  Result<LegacySession> read = flask_->Verify(back->cookie, NowMicros());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(WriteJson(read->data, JsonStyle::kCompact, true),
            R"({"_user_id":"77","cart":[1,2]})");

  ASSERT_TRUE(app_->Logout(again->session.cookie).ok());
  Result<ImportReply> ended = app_->Import("flask", old);
  EXPECT_EQ(ended.code(), Code::kAlreadyImported);
  EXPECT_EQ(nlohmann::json::parse(ended.status().details())["reason"],
            "session_ended");
}

TEST_F(ImportE2eTest, RefusalsKeepTheirCodes) {
  std::string forged = FlaskCookie(R"({"_user_id": "1"})");
  // The signature's first character: all six of its bits are signature
  // bits (the last character's low bits are padding, which base64 decoding
  // ignores, so flipping only those leaves a cookie Flask accepts).
  char& c = forged[forged.rfind('.') + 1];
  c = c == 'A' ? 'Q' : 'A';
  Result<ImportReply> r = app_->Import("flask", forged);
  EXPECT_EQ(r.code(), Code::kBadMac);
  EXPECT_EQ(nlohmann::json::parse(r.status().details())["reason"], "bad_mac");
  EXPECT_EQ(app_->Import("django", "a:b:c").code(), Code::kInvalidArgument);
  EXPECT_EQ(GroupOf(app_->Export("flask", "not-a-cookie").code()),
            ErrorGroup::kInvalidCookie);
}

}  // namespace
}  // namespace sessiond
