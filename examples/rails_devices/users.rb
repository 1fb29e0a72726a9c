# frozen_string_literal: true

# The demo's users (alice / wonderland, bob / builder), kept as scrypt
# hashes so the example shows a password check before the login, not a
# comparison of plain text.

require "openssl"

module DevicesDemo
  module Users
    SALTS = { "alice" => "demo-salt-alice-01", "bob" => "demo-salt-bob-0001" }.freeze
    # scrypt(password, salt, N=2**14, r=8, p=1), 32 bytes, hex.
    HASHES = {
      "alice" => "ed6f0d4e9ccb607dd6d8ef3518f521600deebced19d56f72be3a04879c20c37d",
      "bob" => "9eafe214c667de3c31ddb510b867a939ce0c5b04e04239aa83666cc3d269aa49"
    }.freeze

    def self.digest(password, salt)
      OpenSSL::KDF.scrypt(password.to_s, salt: salt, N: 2**14, r: 8, p: 1, length: 32).unpack1("H*")
    end

    # Whether password is user's. Constant time over the digests.
    def self.check(user, password)
      salt = SALTS[user.to_s]
      return false unless salt

      OpenSSL.fixed_length_secure_compare(digest(password, salt), HASHES.fetch(user.to_s))
    end
  end
end
