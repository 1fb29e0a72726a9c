#!/usr/bin/ruby
# Mints the Rails 6.1 cookie-session test vectors with the real Rails.
#
# Run by CTest (the import_mint_ruby fixture) with Debian's ruby-rails: a
# Rails application booted with config.load_defaults 6.1 and the JSON
# cookie serializer gives the request configuration (env_config) that
# ActionDispatch::Cookies and ActionDispatch::Session::CookieStore read;
# cookies are minted by the real CookieStore middleware and read back
# through the real cookie jar, with Time.now frozen.
#
# For each vector it records what Rails answers (the session hash as JSON,
# or a refusal), plus the answers of the Ruby and Rack functions
# src/import/ruby_compat.cc reproduces. The secrets are made-up test values.
#
#   mint_rails.rb --out DIR      writes DIR/rails.json
# (check_rails.rb loads this file for its Rails set-up and reader.)

require "optparse"
require "json"
require "base64"
require "openssl"
require "time"
require "fileutils"
require "logger"
require "rails"
require "action_controller/railtie"

$VERBOSE = nil  # Rack warns about binary regexps on odd cookie bytes
$now_us = nil
# Freeze Time.now for Rails (MessageEncryptor metadata, CookieStore expiry).
class << Time
  prepend(Module.new do
    def now(*args, **kw)
      return super if $now_us.nil? || !args.empty? || !kw.empty?
      at(Rational($now_us, 1_000_000))
    end
  end)
end

class MintApp < Rails::Application
  config.load_defaults 6.1
  config.secret_key_base = "rails-test-secret-key-base-current-" * 3
  config.eager_load = false
  config.logger = Logger.new(nil)
  config.action_dispatch.cookies_serializer = :json
end
MintApp.initialize!
BASE_ENV = MintApp.env_config.dup.freeze

T0 = 1_700_000_000
T0_US = T0 * 1_000_000 + 250_000
COOKIE_OCTETS = [0x21] + (0x23..0x2B).to_a + (0x2D..0x3A).to_a +
                (0x3C..0x5B).to_a + (0x5D..0x7E).to_a

def key_generator(base)
  ActiveSupport::CachingKeyGenerator.new(
    ActiveSupport::KeyGenerator.new(base, iterations: 1000))
end

# The request configuration Rails would have for this vector's config.
def env_config(config)
  env = BASE_ENV.dup
  bases = config["secret_key_bases"]
  env["action_dispatch.secret_key_base"] = bases[0]
  env["action_dispatch.key_generator"] = key_generator(bases[0])
  rotations = ActiveSupport::Messages::RotationConfiguration.new
  bases.drop(1).each do |old|
    # The documented recipe for an old secret_key_base.
    salt = env["action_dispatch.authenticated_encrypted_cookie_salt"]
    rotations.rotate :encrypted,
                     key_generator(old).generate_key(salt, 32)
    if config.fetch("authenticated_encryption", true) == false
      rotations.rotate :encrypted,
                       key_generator(old).generate_key("encrypted cookie", 32),
                       key_generator(old).generate_key("signed encrypted cookie"),
                       cipher: "aes-256-cbc"
    end
  end
  env["action_dispatch.cookies_rotations"] = rotations
  env["action_dispatch.use_authenticated_cookie_encryption"] =
    config.fetch("authenticated_encryption", true)
  env["action_dispatch.use_cookies_with_metadata"] = config.fetch("metadata", true)
  env["action_dispatch.cookies_serializer"] = config.fetch("serializer", "json").to_sym
  env
end

def mint(config, data, now_us, expire_after: nil, name: nil)
  $now_us = now_us
  name ||= config["cookie_name"]
  inner = lambda do |env|
    session = env["rack.session"]
    session.send(:load_for_write!)  # so even an empty session is written
    data.each { |k, v| session[k] = v }
    [200, {}, ["ok"]]
  end
  opts = { key: name }
  opts[:expire_after] = expire_after if expire_after
  app = ActionDispatch::Cookies.new(
    ActionDispatch::Session::CookieStore.new(inner, opts))
  env = Rack::MockRequest.env_for("/").merge(env_config(config))
  _status, headers, _body = app.call(env)
  line = Array(headers["Set-Cookie"]).join("\n").split("\n").find { |l| l.start_with?("#{name}=") }
  line.split(";")[0].split("=", 2)[1]
end

# Reads one cookie value as it stands in the Cookie header through the
# jar CookieStore reads (cookie_jar.signed_or_encrypted[key]).
def read(config, value, now_us)
  $now_us = now_us
  name = config["cookie_name"]
  env = Rack::MockRequest.env_for("/", "HTTP_COOKIE" => "#{name}=#{value}")
                         .merge(env_config(config))
  req = ActionDispatch::Request.new(env)
  begin
    raw = req.cookies[name]
    return nil if raw.nil?
    data = req.cookie_jar.signed_or_encrypted[name]
  rescue StandardError => e # Rails answers 500
    return [false, "error #{e.class}"]
  end
  return [false, "nil"] if data.nil?
  return [false, "error #{data.class} has no stringify_keys!"] unless data.is_a?(Hash)
  [true, JSON.generate(data, quirks_mode: true, allow_nan: true)]
rescue JSON::GeneratorError => e
  [false, "unrepresentable #{e.class}"]
end

class Recorder
  attr_reader :vectors

  def initialize
    @vectors = []
  end

  def add(name, cookie, now_us, config, answer, code: nil, roundtrip: nil,
          divergence: nil)
    return if answer.nil?
    v = { "name" => name, "cookie" => cookie.b.unpack1("H*"), "now_us" => now_us,
          "config" => config, "accepted" => answer[0] }
    if answer[0]
      v["data"] = answer[1]
    else
      v["reason"] = answer[1]
    end
    v["code"] = code if code
    if roundtrip
      v["roundtrip"] = true
      v["iv"] = roundtrip[:iv].b.unpack1("H*")
      v["signed_at"] = 0
      v["exp_us"] = roundtrip[:exp_us] if roundtrip[:exp_us]
    end
    v["divergence"] = divergence if divergence
    @vectors << v
  end
end

def mutate(cookie)
  out = []
  bytes = cookie.b.bytes
  bytes.each_with_index do |c, i|
    [1, 2, 4, 8, 0x20, 0x10].each do |x|
      n = c ^ x
      next unless COOKIE_OCTETS.include?(n) && n != c
      m = bytes.dup
      m[i] = n
      out << ["flip#{i}", m.pack("C*")]
      break
    end
  end
  (0...bytes.size).each { |n| out << ["cut#{n}", bytes[0, n].pack("C*")] }
  out
end

def iv_of(escaped)
  Base64.strict_decode64(Rack::Utils.unescape(escaped).split("--")[1])
end

def vectors_part
  rec = Recorder.new
  name = "_app_session"
  cfg = { "secret_key_bases" => ["rails-test-secret-key-base-current-" * 3],
          "cookie_name" => name }
  rotated = cfg.merge("secret_key_bases" => cfg["secret_key_bases"] +
                                            ["rails-old-secret-key-base-" * 4])
  old_only = cfg.merge("secret_key_bases" => ["rails-old-secret-key-base-" * 4])
  other = cfg.merge("secret_key_bases" => ["another-secret-key-base-" * 4])
  legacy = cfg.merge("metadata" => false)
  cbc = cfg.merge("authenticated_encryption" => false)
  hybrid = cfg.merge("serializer" => "hybrid")
  marshal = cfg.merge("serializer" => "marshal")

  cases = {
    "plain" => { "user" => "alice", "n" => 1 },
    "devise" => { "warden.user.user.key" => [[42], "$2a$12$abcdefghijklmnopqrstuv"],
                  "_csrf_token" => "t0k3n+/=" * 5 },
    "unicode" => { "name" => "Zoë 🎉 日本語", "esc" => "q\" b\\ n\n c\u0001 \u007f \u2028 <a>&" },
    "nested" => { "cart" => [{ "id" => 1, "tags" => ["a"] }, { "d" => { "x" => [1, [2, [3]]] } }] },
    "floats" => { "a" => 0.1, "b" => 1.0e20, "c" => -0.0, "d" => 1.5, "e" => 1.0e-5,
                  "f" => 123456789.125, "nan" => Float::NAN },
    "ints" => { "big" => 2**70, "t" => true, "f" => false, "none" => nil, "neg" => -7 },
    "ruby-types" => { "sym" => :symbol, "time" => Time.utc(2024, 1, 2, 3, 4, 5.678r),
                      "range" => (1..3), "hash_sym" => { key: :v } },
    "flash" => { "flash" => { "discard" => [], "flashes" => { "notice" => "Saved" } } },
    "empty" => {},
  }
  bases = {}
  cases.each do |tag, data|
    c = mint(cfg, data, T0_US)
    bases[tag] = c
    rec.add("mint-#{tag}", c, T0_US, cfg, read(cfg, c, T0_US),
            roundtrip: { iv: iv_of(c) })
  end
  # with an expiry in the metadata (session_store expire_after:)
  exp = mint(cfg, { "k" => "expiring" }, T0_US, expire_after: 3600)
  exp_us = (T0_US / 1000 + 3_600_000) * 1000  # iso8601(3) keeps milliseconds
  rec.add("mint-expire-after", exp, T0_US, cfg, read(cfg, exp, T0_US),
          roundtrip: { iv: iv_of(exp), exp_us: exp_us })
  rec.add("expire-edge", exp, T0_US + 3_600_000_000 - 1, cfg,
          read(cfg, exp, T0_US + 3_600_000_000 - 1))
  rec.add("expired", exp, T0_US + 3_600_000_000, cfg,
          read(cfg, exp, T0_US + 3_600_000_000), code: "EXPIRED")
  rec.add("expired-later", exp, (T0 + 86_400) * 1_000_000, cfg,
          read(cfg, exp, (T0 + 86_400) * 1_000_000), code: "EXPIRED")
  base = bases["plain"]
  rec.add("far-future-now", base, (T0 + 10**8) * 1_000_000, cfg,
          read(cfg, base, (T0 + 10**8) * 1_000_000))
  rec.add("past-now", base, (T0 - 10**6) * 1_000_000, cfg,
          read(cfg, base, (T0 - 10**6) * 1_000_000))
  mutate(base).each { |t, c| rec.add("plain-#{t}", c, T0_US, cfg, read(cfg, c, T0_US)) }
  rec.add("wrong-secret", base, T0_US, other, read(other, base, T0_US), code: "BAD_MAC")
  other_name = mint(cfg, { "for" => "another cookie" }, T0_US, name: "_other_session")
  rec.add("wrong-purpose", other_name, T0_US, cfg, read(cfg, other_name, T0_US),
          code: "WRONG_PURPOSE")
  old = mint(old_only, { "from" => "old" }, T0_US)
  rec.add("rotated-old", old, T0_US, rotated, read(rotated, old, T0_US))
  rec.add("rotated-new", base, T0_US, rotated, read(rotated, base, T0_US))
  # before 6.0: no metadata envelope
  pre60 = mint(legacy, { "k" => "pre-6.0" }, T0_US)
  rec.add("pre60-read", pre60, T0_US, cfg, read(cfg, pre60, T0_US))
  rec.add("pre60-mint", pre60, T0_US, legacy, read(legacy, pre60, T0_US),
          roundtrip: { iv: iv_of(pre60) })
  pre60_exp = mint(legacy, { "k" => "pre-6.0 expiring" }, T0_US, expire_after: 60)
  rec.add("pre60-exp", pre60_exp, T0_US, cfg, read(cfg, pre60_exp, T0_US))
  rec.add("pre60-exp-expired", pre60_exp, T0_US + 61_000_000, cfg,
          read(cfg, pre60_exp, T0_US + 61_000_000), code: "EXPIRED")
  # before 5.2: AES-256-CBC + HMAC-SHA1
  cbc_cookie = mint(cbc, { "k" => "aes-256-cbc" }, T0_US)
  rec.add("cbc-read", cbc_cookie, T0_US, cfg, read(cfg, cbc_cookie, T0_US))
  rec.add("cbc-read-cbc", cbc_cookie, T0_US, cbc, read(cbc, cbc_cookie, T0_US))
  mutate(cbc_cookie).each_with_index do |(t, c), i|
    next unless i % 3 == 0
    rec.add("cbc-#{t}", c, T0_US, cfg, read(cfg, c, T0_US))
  end
  gcm_under_cbc = base
  rec.add("gcm-read-by-cbc-app", gcm_under_cbc, T0_US, cbc, read(cbc, gcm_under_cbc, T0_US))
  # Marshal payloads
  m = mint(marshal, { "k" => "marshal" }, T0_US)
  rec.add("marshal-json-app", m, T0_US, cfg, read(cfg, m, T0_US), code: "UNKNOWN_VERSION")
  rec.add("marshal-hybrid-app", m, T0_US, hybrid, read(hybrid, m, T0_US),
          divergence: "Marshal payloads are refused")
  # non-canonical texts of a valid cookie
  raw = Rack::Utils.unescape(base)
  ct, iv, tag = raw.split("--")
  variants = {
    "unescaped" => raw,
    "lowercase-hex" => base.gsub(/%[0-9A-F]{2}/) { |x| x.downcase },
    "extra-escapes" => base.gsub("A") { "%41" },
    "plus-for-space" => base.sub("%2B", "+"),
    "bad-percent" => base + "%",
    "bad-percent-2" => base + "%G1",
    "trailing-dashes" => Rack::Utils.escape(raw + "--"),
    "trailing-dashes-4" => Rack::Utils.escape(raw + "----"),
    "extra-part" => Rack::Utils.escape(raw + "--QUJD"),
    "extra-part-bad" => Rack::Utils.escape(raw + "--QUJ"),
    "extra-empty-part" => Rack::Utils.escape(raw + "----QUJD"),
    "leading-dashes" => Rack::Utils.escape("--" + raw),
    "urlsafe-alphabet" => Rack::Utils.escape(raw.tr("+/", "-_")),
    "no-padding" => Rack::Utils.escape(raw.delete("=")),
    "two-parts" => Rack::Utils.escape("#{ct}--#{iv}"),
    "tag-15" => Rack::Utils.escape("#{ct}--#{iv}--#{Base64.strict_encode64(Base64.strict_decode64(tag)[0, 15])}"),
    "tag-17" => Rack::Utils.escape("#{ct}--#{iv}--#{Base64.strict_encode64(Base64.strict_decode64(tag) + 'x')}"),
    "empty-ct" => Rack::Utils.escape("--#{iv}--#{tag}"),
    "swapped" => Rack::Utils.escape("#{iv}--#{ct}--#{tag}"),
    "space" => base + "%20",
    "empty" => "",
  }
  codes = { "tag-15" => "TRUNCATED", "tag-17" => "TRUNCATED", "empty-ct" => "TRUNCATED",
            "no-padding" => "BAD_ENCODING", "urlsafe-alphabet" => "BAD_ENCODING",
            "bad-percent" => "BAD_ENCODING", "extra-part-bad" => "BAD_ENCODING",
            "empty" => "TRUNCATED", "swapped" => "BAD_ENCODING" }
  variants.each do |t, c|
    rec.add("noncanon-#{t}", c, T0_US, cfg, read(cfg, c, T0_US), code: codes[t])
  end

  # Plaintexts Rails would not write, encrypted with the real key.
  key = key_generator(cfg["secret_key_bases"][0]).generate_key(
    "authenticated encrypted cookie", 32)
  seal = lambda do |plaintext, iv_len: 12, tag_len: 16|
    cipher = OpenSSL::Cipher.new("aes-256-gcm").encrypt
    cipher.key = key
    civ = OpenSSL::Random.random_bytes(iv_len)
    cipher.iv_len = iv_len if iv_len != 12
    cipher.iv = civ
    cipher.auth_data = ""
    out = plaintext.empty? ? "" : cipher.update(plaintext)
    out << cipher.final
    Rack::Utils.escape("#{Base64.strict_encode64(out)}--#{Base64.strict_encode64(civ)}--" \
                       "#{Base64.strict_encode64(cipher.auth_tag(tag_len))}")
  end
  env = lambda do |msg, exp = nil, pur = "cookie.#{name}"|
    JSON.generate({ "_rails" => { "message" => Base64.strict_encode64(msg),
                                  "exp" => exp, "pur" => pur } })
  end
  j = '{"a":1}'
  keyed = {
    "pur-null" => env.(j, nil, nil),
    "pur-empty" => env.(j, nil, ""),
    "pur-number" => env.(j, nil, 5),
    "pur-other" => env.(j, nil, "cookie._other"),
    "pur-missing" => JSON.generate({ "_rails" => { "message" => Base64.strict_encode64(j) } }),
    "exp-z-lower" => env.(j, "2099-01-01t00:00:00z"),
    "exp-offset" => env.(j, "2023-11-14T23:13:20.250+01:00"),
    "exp-offset-passed" => env.(j, "2023-11-14T22:13:19+00:00"),
    "exp-no-fraction" => env.(j, "2023-11-14T22:13:21Z"),
    "exp-long-fraction" => env.(j, "2023-11-14T22:13:20.2500001Z"),
    "exp-exact" => env.(j, "2023-11-14T22:13:20.25Z"),
    "exp-local" => env.(j, "2099-01-01T00:00:00"),
    "exp-bad" => env.(j, "tomorrow"),
    "exp-number" => env.(j, 4_102_444_800),
    "exp-julian-past" => env.(j, 2_460_000),
    "exp-julian-edge" => env.(j, 2_460_263),
    "exp-julian-float" => env.(j, 2_460_263.5),
    "exp-julian-float-past" => env.(j, 2_460_263.4),
    "exp-true" => env.(j, true),
    "exp-list" => env.(j, [1]),
    "exp-spaces" => env.(j, " 2099-01-01T00:00:00Z "),
    "exp-leap" => env.(j, "2098-12-31T23:59:60Z"),
    "exp-feb30" => env.(j, "2099-02-30T00:00:00Z"),
    "rails-string" => JSON.generate({ "_rails" => "x" }),
    "message-bad-b64" => JSON.generate({ "_rails" => { "message" => "QQ", "pur" => "cookie.#{name}" } }),
    "message-not-json" => env.("not json"),
    "message-list" => env.("[1,2]"),
    "message-null" => env.("null"),
    "message-comments" => env.("{/* c */\"a\":1 // x\n}"),
    "message-comment-eof" => env.("{\"a\":1}// x"),
    "message-nan" => env.('{"a":NaN}'),
    "message-big" => env.('{"a":1e400,"b":123456789012345678901234567890}'),
    "message-dupes" => env.('{"a":1,"a":2}'),
    "message-escapes" => env.('{"a":"\\a\\x\\u00e9\\ud83d\\ude00"}'),
    "message-surrogate-odd" => env.('{"a":"\\ud800\\u0041xxxxx"}'),
    "message-deep-100" => env.('{"a":' + "[" * 99 + "]" * 99 + "}"),
    "message-deep-101" => env.('{"a":' + "[" * 100 + "]" * 100 + "}"),
    "message-marshal" => env.(Marshal.dump({ "a" => 1 })),
    "legacy-rails-key" => '{"_rails":{"message":"eyJhIjoxfQ==","pur":"cookie._app_session"},"b":2}',
    "legacy-json" => '{"b":2}',
    "legacy-marshal" => Marshal.dump({ "b" => 2 }),
  }
  keyed.each do |t, plaintext|
    c = seal.(plaintext)
    # A zone-less time is read in the Rails host's zone: refused here.
    code = { "pur-number" => "WRONG_PURPOSE", "pur-other" => "WRONG_PURPOSE",
             "exp-offset" => "EXPIRED", "exp-julian-past" => "EXPIRED",
             "message-list" => "UNKNOWN_VERSION", "message-not-json" => "UNKNOWN_VERSION",
             "exp-bad" => "UNKNOWN_VERSION", "exp-true" => "UNKNOWN_VERSION" }[t]
    rec.add("keyed-#{t}", c, T0_US, cfg, read(cfg, c, T0_US), code: code,
            divergence: t == "exp-local" ? "a zone-less exp is refused" : nil)
  end
  iv16 = seal.(env.(j), iv_len: 16)
  rec.add("keyed-iv-16", iv16, T0_US, cfg, read(cfg, iv16, T0_US), code: "BAD_ENCODING")
  empty_pt = seal.("")
  rec.add("keyed-empty-plaintext", empty_pt, T0_US, cfg, read(cfg, empty_pt, T0_US),
          code: "TRUNCATED")
  rec.vectors
end

def compat_part
  rnd = Random.new(17)
  out = {}
  alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ".chars
  out["strict_decode64"] = (0...400).map do
    s = (0...rnd.rand(0..12)).map { alphabet[rnd.rand(alphabet.size)] }.join
    s = s.delete("=") + "=" * rnd.rand(0..2) if rnd.rand(3).zero?
    r = begin
      Base64.strict_decode64(s).unpack1("H*")
    rescue ArgumentError
      nil
    end
    { "input" => s, "result" => r }
  end
  pieces = ["a", "%41", "%4a", "%4A", "+", "%", "%G", "%2", "%zz", "%2B", "%ff", "é", " "]
  out["rack_unescape"] = (0...300).map do
    s = (0...rnd.rand(0..5)).map { pieces[rnd.rand(pieces.size)] }.join
    r = Rack::Utils.parse_cookies_header("k=#{s}")["k"] || ""
    { "input" => s.b.unpack1("H*"), "result" => r.b.unpack1("H*") }
  end
  out["rack_escape"] = ["abc", "a+b/c=", " ~*-._", "é\u0000\xff".b, "--"].map do |s|
    { "input" => s.b.unpack1("H*"), "result" => Rack::Utils.escape(s) }
  end
  parts = ["a", "-", "--", "---", "", "b"]
  out["split"] = (0...200).map do
    s = (0...rnd.rand(0..6)).map { parts[rnd.rand(parts.size)] }.join
    { "input" => s, "result" => s.split("--") }
  end
  isos = ["2023-11-14T22:13:20.250Z", "2023-11-14T22:13:20Z", " 2023-11-14t22:13:20z ",
          "2023-11-14T22:13:20+01:00", "2023-11-14T22:13:20-0130", "2023-11-14T22:13:20+05",
          "2023-11-14T22:13:20.123456789Z", "2023-02-31T00:00:00Z", "2023-01-01T24:00:00Z",
          "2023-01-01T24:00:01Z", "2023-01-01T23:59:60Z", "2023-01-01T23:60:00Z",
          "2023-13-01T00:00:00Z", "2023-13-01T00:30:00+01:00", "2023-00-01T00:00:00Z",
          "2023-00-31T23:00:00-02:00", "2023-01-32T00:00:00Z", "2023-02-31T23:00:00-02:00",
          "2023-01-01T00:00:00+24:00", "2023-01-01T00:00:00+23:59", "-0001-01-01T00:00:00Z",
          "12345-01-01T00:00:00Z", "2023-01-01T00:00:00", "2023-01-01", "2023-01-01T00:00Z",
          "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00+05:3", "x", "",
          "2024-02-29T12:00:00-12:00", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z"]
  out["iso8601"] = isos.map do |s|
    t = Time.iso8601(s)
    local = !(s =~ /(Z|[+-]\d\d(:?\d\d)?)\s*\z/i)
    { "input" => s, "seconds" => t.to_i, "usec" => t.usec, "exact" => t.subsec == Rational(t.usec, 1_000_000) ? 1 : 0,
      "local" => local }
  rescue ArgumentError
    { "input" => s, "seconds" => nil }
  end
  texts = ['{"a":1}', " [1 , 2 ]\n", '{"a":1,"a":2,"b":3}', "NaN", "-Infinity", "1.", "01",
           "-", "1e400", "-0", "[1,]", '"\\a"', '"\\u00"', "\"\u0001\"", "\"\xff\"",
           '"\\ud800"', '"\\ud800x"', '"\\ud800xxxxxx"', '"\\udbff\\udfff"', '"\\ud800\\ud800"',
           '"\\ud83d\\ude00"', '"\\udc00"', "\"\\\u00e9\"", '"\\ud800\\u0041"', "[1,/*c*/2]",
           "[1,//c\n2]", "[1]//c", "[1]/*c*/", "/* a */ {} /* b */", "[1 /* unterminated",
           "123456789012345678901234567890", "  2 ", "", "{\"a\":1,}", "\"\u007f\"",
           '"\\/"', "1E5", "-0.0", "[" * 100 + "]" * 100, "[" * 101 + "]" * 101,
           "\xef\xbb\xbf{}", '"\\u0000"', "[1\f]", '"\\x41"', "'a'", "[1]x", '{"a" : 1}',
           "1.5e-400", "true", "nul", "/", "//\n1", "1 //", '"tab\tin"', "[1,\n//c\n]"]
  out["json_parse"] = texts.map do |t|
    src = t.dup.force_encoding("UTF-8")
    v = JSON.parse(src, quirks_mode: true)
    bad = false
    walk = lambda do |x|
      case x
      when String then bad ||= !x.valid_encoding?
      when Array then x.each(&walk)
      when Hash then x.each { |k, y| walk.(k); walk.(y) }
      end
    end
    walk.(v)
    h = { "input" => t.b.unpack1("H*"), "ok" => true, "divergence" => bad }
    h["value"] = JSON.generate(v, quirks_mode: true, allow_nan: true) unless bad
    h
  rescue JSON::ParserError, JSON::NestingError
    { "input" => t.b.unpack1("H*"), "ok" => false }
  end
  values = [{ "b" => 1, "a" => [1.5, -0.0, 1.0e20, nil, true] },
            ["é", "\u2028\u2029", "\u007f", "\u0001\u001f", "q\"\\/", "🎉", "\n\r\t\b\f", "<>&"],
            { "z" => { "y" => 2**70 } }, [], {}, "plain", 0.1, -5]
  out["json_encode"] = values.map do |v|
    { "input" => JSON.generate(v, quirks_mode: true), "encoded" => ActiveSupport::JSON.encode(v) }
  end
  out
end

if __FILE__ == $PROGRAM_NAME
  opts = {}
  OptionParser.new do |o|
    o.on("--out DIR") { |d| opts[:out] = d }
  end.parse!
  abort "usage: mint_rails.rb --out DIR" unless opts[:out]
  doc = {
    "generator" => "src/import/testdata/mint_rails.rb",
    "versions" => { "rails" => Rails.version, "rack" => Rack.release, "ruby" => RUBY_VERSION,
                    "json" => JSON::VERSION },
    "vectors" => vectors_part,
    "compat" => compat_part,
  }
  FileUtils.mkdir_p(opts[:out])
  path = File.join(opts[:out], "rails.json")
  File.write(path + ".tmp", JSON.generate(doc, allow_nan: false))
  File.rename(path + ".tmp", path)
  puts "mint_rails: #{doc['vectors'].size} vectors -> #{path}"
end
