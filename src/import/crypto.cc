// OpenSSL's edge for the import library: every EVP call and its error
// handling live here (crypto.h).
#include "import/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace sessiond::legacy_detail {
namespace {

const EVP_MD* Md(Digest d) {
  switch (d) {
    case Digest::kSha1:
      return EVP_sha1();
    case Digest::kSha256:
      return EVP_sha256();
    case Digest::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Status OpenSslError(const char* what) {
  return Status(Code::kInternal, std::string("OpenSSL: ") + what);
}

}  // namespace

size_t DigestSize(Digest d) { return static_cast<size_t>(EVP_MD_size(Md(d))); }

std::string Hash(Digest d, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, Md(d), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Hmac(Digest d, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is legal in HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  HMAC(Md(d), key.empty() ? &kEmpty : U(key), static_cast<int>(key.size()),
       U(data), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Pbkdf2HmacSha1(std::string_view secret, std::string_view salt,
                           int iterations, size_t key_len) {
  std::string out(key_len, '\0');
  PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()), U(salt),
                    static_cast<int>(salt.size()), iterations, EVP_sha1(),
                    static_cast<int>(key_len),
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::optional<std::string> AesGcmOpen(std::string_view key,
                                      std::string_view iv,
                                      std::string_view ciphertext,
                                      std::string_view tag) {
  if (key.size() != 32 || tag.size() != 16 || iv.empty()) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                          static_cast<int>(iv.size()), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(iv)) != 1) {
    return std::nullopt;
  }
  std::string out(ciphertext.size() + 16, '\0');
  int len = 0;
  if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                        &len, U(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1) {
    return std::nullopt;
  }
  int total = len;
  std::string tag_copy(tag);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                          tag_copy.data()) != 1) {
    return std::nullopt;
  }
  if (EVP_DecryptFinal_ex(ctx.get(),
                          reinterpret_cast<unsigned char*>(out.data()) + total,
                          &len) != 1) {
    return std::nullopt;  // the tag did not verify
  }
  out.resize(static_cast<size_t>(total + len));
  return out;
}

Result<Sealed> AesGcmSeal(std::string_view key, std::string_view iv,
                          std::string_view plaintext) {
  if (key.size() != 32 || iv.empty()) {
    return Status(Code::kInvalidArgument, "AES-GCM: bad key or iv length");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                          static_cast<int>(iv.size()), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(iv)) != 1) {
    return OpenSslError("AES-256-GCM init");
  }
  Sealed s;
  s.ciphertext.assign(plaintext.size() + 16, '\0');
  int len = 0;
  if (EVP_EncryptUpdate(ctx.get(),
                        reinterpret_cast<unsigned char*>(s.ciphertext.data()),
                        &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return OpenSslError("AES-256-GCM update");
  }
  int total = len;
  if (EVP_EncryptFinal_ex(
          ctx.get(),
          reinterpret_cast<unsigned char*>(s.ciphertext.data()) + total,
          &len) != 1) {
    return OpenSslError("AES-256-GCM final");
  }
  s.ciphertext.resize(static_cast<size_t>(total + len));
  s.tag.assign(16, '\0');
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                          s.tag.data()) != 1) {
    return OpenSslError("AES-256-GCM tag");
  }
  return s;
}

std::optional<std::string> AesCbcDecrypt(std::string_view key,
                                         std::string_view iv,
                                         std::string_view ciphertext) {
  if (key.size() != 32 || iv.size() != 16) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr,
                                 U(key), U(iv)) != 1) {
    return std::nullopt;
  }
  std::string out(ciphertext.size() + 32, '\0');
  int len = 0;
  if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                        &len, U(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1) {
    return std::nullopt;
  }
  int total = len;
  if (EVP_DecryptFinal_ex(ctx.get(),
                          reinterpret_cast<unsigned char*>(out.data()) + total,
                          &len) != 1) {
    return std::nullopt;  // bad padding (or not a whole number of blocks)
  }
  out.resize(static_cast<size_t>(total + len));
  return out;
}

Result<std::string> AesCbcEncrypt(std::string_view key, std::string_view iv,
                                  std::string_view plaintext) {
  if (key.size() != 32 || iv.size() != 16) {
    return Status(Code::kInvalidArgument, "AES-CBC: bad key or iv length");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr,
                                 U(key), U(iv)) != 1) {
    return OpenSslError("AES-256-CBC init");
  }
  std::string out(plaintext.size() + 32, '\0');
  int len = 0;
  if (EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                        &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return OpenSslError("AES-256-CBC update");
  }
  int total = len;
  if (EVP_EncryptFinal_ex(ctx.get(),
                          reinterpret_cast<unsigned char*>(out.data()) + total,
                          &len) != 1) {
    return OpenSslError("AES-256-CBC final");
  }
  out.resize(static_cast<size_t>(total + len));
  return out;
}

std::string HexLower(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

}  // namespace sessiond::legacy_detail
