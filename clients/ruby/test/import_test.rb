# frozen_string_literal: true

# IMPORT and EXPORT of Rails 6.1 cookie sessions (Debian's ruby-rails)
# against a real sessiond with [import.rails]: the cookie minted by Rails'
# own CookieStore (encrypted, with purpose metadata, JSON serializer), the
# Devise user key, one session for one cookie, the refusals, and the way back
# read by Rails' own cookie jar.

require "test_helper"
require "logger"
require "tmpdir"
require "rails"
require "action_controller/railtie"

SECRET_KEY_BASE = "import-test-secret-key-base-" * 4
COOKIE_NAME = "_old_app_session"

class ImportTestApp < Rails::Application
  config.load_defaults 6.1
  config.secret_key_base = SECRET_KEY_BASE
  config.eager_load = false
  config.logger = Logger.new(nil)
  config.action_dispatch.cookies_serializer = :json
end
ImportTestApp.initialize!

module OldRails
  module_function

  # The Set-Cookie value Rails' CookieStore writes for `data`.
  def mint(data, name: COOKIE_NAME)
    inner = lambda do |env|
      data.each { |k, v| env["rack.session"][k] = v }
      [200, {}, ["ok"]]
    end
    app = ActionDispatch::Cookies.new(ActionDispatch::Session::CookieStore.new(inner, key: name))
    _status, headers, _body = app.call(Rack::MockRequest.env_for("/").merge(ImportTestApp.env_config))
    line = Array(headers["Set-Cookie"]).join("\n").split("\n").find { |l| l.start_with?("#{name}=") }
    line.split(";")[0].split("=", 2)[1]
  end

  # What Rails' CookieStore reads from `value` (nil: refused).
  def read(value, name: COOKIE_NAME)
    env = Rack::MockRequest.env_for("/", "HTTP_COOKIE" => "#{name}=#{value}")
                           .merge(ImportTestApp.env_config)
    ActionDispatch::Request.new(env).cookie_jar.signed_or_encrypted[name]
  end
end

class ImportTest < Minitest::Test
  def self.import_daemon
    @import_daemon ||= begin
      dir = Dir.mktmpdir("sessiond-import-")
      Minitest.after_run { FileUtils.rm_rf(dir) }
      secrets = File.join(dir, "rails_secrets")
      File.write(secrets, "#{SECRET_KEY_BASE}\n")
      File.chmod(0o600, secrets)
      TestDaemon.own(tables: { "import.rails" => { "secrets_file" => secrets, "cookie" => COOKIE_NAME } })
    end
  end

  def client
    @client ||= self.class.import_daemon.client
  end

  def devise_user(id)
    { "warden.user.user.key" => [[id], "$2a$12$abcdefghijklmnopqrstuv"] }
  end

  def test_a_devise_login_becomes_a_signed_in_session
    cookie = OldRails.mint(devise_user(42).merge("cart" => [1, { "x" => nil }], "n" => 1.5,
                                                  "flash" => { "discard" => [], "flashes" => { "notice" => "Hi" } }))
    r = client.import_cookie("rails", cookie, ip: "192.0.2.4")
    assert r.created?
    assert_equal "rails", r.report["format"]
    s = r.reply.session
    assert_equal "42", s.user_id
    assert_equal [1, { "x" => nil }], JSON.parse(s.data["cart"])
    assert_equal 1.5, JSON.parse(s.data["n"])
    # The Ruby integration keeps Devise's key as data (docs/migration.md).
    assert_equal [[42], "$2a$12$abcdefghijklmnopqrstuv"], JSON.parse(s.data["warden.user.user.key"])
    assert_equal 1, s.flash.size
    assert_equal s.id, client.load(r.reply.cookie).session.id
  end

  def test_importing_twice_gives_one_session_and_none_after_logout
    cookie = OldRails.mint(devise_user(7))
    first = client.import_cookie("rails", cookie)
    again = client.import_cookie("rails", cookie)
    refute again.created?
    assert_equal first.reply.session.id, again.reply.session.id
    client.logout(again.reply.cookie)
    e = assert_raises(Sessiond::AlreadyImported) { client.import_cookie("rails", cookie) }
    assert_equal "session_ended", e.details["reason"]
    assert_kind_of Sessiond::InvalidCookie, e
  end

  def test_refusals_as_rails_refuses
    cookie = OldRails.mint(devise_user(1))
    data, iv, tag = CGI.unescape(cookie).split("--")
    forged = CGI.escape([data, iv, Base64.strict_encode64("\0" * 16)].join("--"))
    refute_nil tag
    e = assert_raises(Sessiond::BadMac) { client.import_cookie("rails", forged) }
    assert_equal({ "reason" => "bad_mac", "format" => "rails" }, e.details)
    # A cookie Rails wrote for another name: its purpose does not match.
    other = OldRails.mint(devise_user(1), name: "_another_session")
    assert_nil OldRails.read(other)
    e = assert_raises(Sessiond::InvalidCookie) { client.import_cookie("rails", other) }
    assert_equal "rails", e.details["format"]
    e = assert_raises(Sessiond::InvalidArgument) { client.import_cookie("flask", "a.b.c") }
    assert_equal "not_configured", e.details["reason"]
  end

  def test_export_is_read_by_rails
    r = client.import_cookie("rails", OldRails.mint(devise_user(9).merge("theme" => "dark")))
    out = client.export_cookie("rails", r.reply.cookie)
    assert_equal "9", out.report["user_id"]
    back = OldRails.read(out.cookie)
    refute_nil back
    assert_equal "dark", back["theme"]
    assert_equal [[9], "$2a$12$abcdefghijklmnopqrstuv"], back["warden.user.user.key"]
  end
end
