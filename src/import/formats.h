// The four formats' classes and the helpers they share. Internal to
// src/import: callers use the factories in legacy_cookie.h; tests reach in
// here for what production must not choose (a fixed Rails IV).
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "import/crypto.h"
#include "import/legacy_cookie.h"

namespace sessiond::legacy_detail {

inline Status Refuse(Code code, std::string message) {
  return Status(code, std::move(message));
}

// Floor division of Unix microseconds into seconds (int(time.time())).
inline int64_t FloorSeconds(int64_t micros) {
  int64_t s = micros / 1'000'000;
  if (micros % 1'000'000 < 0) --s;
  return s;
}

// a + b without overflow (the times in a forged cookie can be anything).
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// A double as int64, saturated (a cast out of range is undefined).
inline int64_t ClampToInt64(double d) {
  if (!(d < 9.2e18)) return std::numeric_limits<int64_t>::max();
  if (!(d > -9.2e18)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

// time.time() as the Python frameworks see it: the double nearest to
// now_micros / 10^6 (what a frozen time.time() returns in the vectors).
inline double PythonTime(int64_t micros) {
  return static_cast<double>(micros) / 1e6;
}

class FlaskCookieFormat final : public LegacyCookieFormat {
 public:
  explicit FlaskCookieFormat(const FlaskCookieOptions& options);
  LegacyFormat format() const override { return LegacyFormat::kFlask; }
  Result<LegacySession> Verify(std::string_view cookie_value,
                               int64_t now_micros) const override;
  Result<std::string> Render(const LegacyRenderInput& input) const override;

 private:
  std::vector<std::string> keys_;  // HMAC-SHA1(secret, salt) per secret
  int64_t max_age_;
};

class PyramidCookieFormat final : public LegacyCookieFormat {
 public:
  PyramidCookieFormat(const PyramidCookieOptions& options, Digest digest);
  LegacyFormat format() const override { return LegacyFormat::kPyramid; }
  Result<LegacySession> Verify(std::string_view cookie_value,
                               int64_t now_micros) const override;
  Result<std::string> Render(const LegacyRenderInput& input) const override;

 private:
  std::vector<std::string> keys_;  // salt + secret, WebOb's encoding
  Digest digest_;
  std::optional<int64_t> timeout_;
};

class DjangoCookieFormat final : public LegacyCookieFormat {
 public:
  DjangoCookieFormat(const DjangoCookieOptions& options, Digest algorithm);
  LegacyFormat format() const override { return LegacyFormat::kDjango; }
  Result<LegacySession> Verify(std::string_view cookie_value,
                               int64_t now_micros) const override;
  Result<std::string> Render(const LegacyRenderInput& input) const override;

 private:
  struct Keys {
    std::string main;    // hash(salt + "signer" + secret), algorithm
    std::string legacy;  // the same with SHA-1
  };
  std::vector<Keys> keys_;
  Digest algorithm_;
  int64_t max_age_;
};

class RailsCookieFormat final : public LegacyCookieFormat {
 public:
  explicit RailsCookieFormat(const RailsCookieOptions& options);
  LegacyFormat format() const override { return LegacyFormat::kRails; }
  Result<LegacySession> Verify(std::string_view cookie_value,
                               int64_t now_micros) const override;
  Result<std::string> Render(const LegacyRenderInput& input) const override;
  // Render with a given IV (12 bytes for GCM, 16 for CBC), so tests can
  // compare bytes with Rails' own cookie. Production uses Render.
  Result<std::string> RenderWithIv(const LegacyRenderInput& input,
                                   std::string_view iv) const;

 private:
  struct Keys {
    std::string gcm;       // PBKDF2(base, authenticated salt, 32)
    std::string cbc;       // PBKDF2(base, encrypted salt, 32)
    std::string cbc_sign;  // PBKDF2(base, signed encrypted salt, 64)
  };
  Result<std::string> OpenGcm(std::string_view message, size_t& index) const;
  Result<std::string> OpenCbc(std::string_view message, int64_t now_micros,
                              size_t& index) const;
  Result<LegacySession> Unwrap(std::string plaintext, int64_t now_micros,
                               LegacySession session) const;

  std::vector<Keys> keys_;
  std::string purpose_;
  bool escaped_;
  bool gcm_render_;
  bool read_cbc_;
  bool metadata_;
};

}  // namespace sessiond::legacy_detail
