# frozen_string_literal: true

# Moving in without signing anyone out, end to end (docs/migration.md): a
# user signed in (Devise's key) on Rails 6.1's own encrypted cookie store
# (the cookie minted by Debian's ruby-rails CookieStore with this app's
# secret_key_base) switches to config.session_store :sessiond_store with
# import_cookie:, against a real sessiond holding the same secret_key_base in
# [import.rails]. Through Rails' whole middleware stack with rack-test (one
# Rack::Test::Session is one browser with its own cookie jar).

ENV["RAILS_ENV"] = "test"
require "test_helper"
require "logger"
require "stringio"
require "tmpdir"
require "fileutils"
require "rack/test"
require "rails"
require "action_controller/railtie"
require "sessiond/rails"

OLD_COOKIE = "_old_app_session"
SECRET_KEY_BASE = "import-e2e-secret-key-base-0123456789abcdef0123456789abcdef"
IMPORT_LOG = StringIO.new

module ImportDaemon
  def self.get
    @get ||= begin
      dir = Dir.mktmpdir("sessiond-rails-import-")
      Minitest.after_run { FileUtils.rm_rf(dir) }
      secrets = File.join(dir, "rails_secrets")
      File.write(secrets, "#{SECRET_KEY_BASE}\n")
      File.chmod(0o600, secrets)
      TestDaemon.own(tables: { "import.rails" => { "secrets_file" => secrets, "cookie" => OLD_COOKIE } })
    end
  end
end

class ImportE2EApp < Rails::Application
  config.load_defaults 6.1
  config.eager_load = false
  config.secret_key_base = SECRET_KEY_BASE
  config.logger = Logger.new(IMPORT_LOG)
  config.hosts.clear
  config.action_dispatch.show_exceptions = true
  config.consider_all_requests_local = false
  config.action_dispatch.cookies_serializer = :json
  config.session_store :sessiond_store, client: ImportDaemon.get.client(timeout: 0.5),
                                        import_cookie: OLD_COOKIE, logger: Logger.new(IMPORT_LOG)
  routes.append do
    get "/whoami", to: "import_e2e#whoami"
    get "/add", to: "import_e2e#add"
    get "/plain", to: "import_e2e#plain"
  end
end

class ImportE2eController < ActionController::Base
  def whoami
    render json: { user: session["warden.user.user.key"], cart: session[:cart],
                   visits: session[:visits], sessiond: sessiond.user_id }
  end

  def add
    session[:visits] = (session[:visits] || 0) + 1
    render json: { visits: session[:visits] }
  end

  def plain
    render plain: "no session access"
  end
end

ImportE2EApp.initialize!

class RailsImportTest < Minitest::Test
  include Rack::Test::Methods

  DEVISE = { "warden.user.user.key" => [[42], "$2a$12$abcdefghijklmnopqrstuv"], "cart" => [1, 2] }.freeze

  def app
    Rails.application
  end

  # The Set-Cookie value Rails' own CookieStore writes for `data` (this
  # app's secret_key_base, cookie name OLD_COOKIE), as the browser holds it.
  def mint(data)
    inner = lambda do |env|
      data.each { |k, v| env["rack.session"][k] = v }
      [200, {}, ["ok"]]
    end
    store = ActionDispatch::Cookies.new(ActionDispatch::Session::CookieStore.new(inner, key: OLD_COOKIE))
    _status, headers, _body = store.call(Rack::MockRequest.env_for("/").merge(Rails.application.env_config))
    line = Array(headers["Set-Cookie"]).join("\n").split("\n").find { |l| l.start_with?("#{OLD_COOKIE}=") }
    line.split(";")[0].split("=", 2)[1]
  end

  def browser(old)
    b = Rack::Test::Session.new(app)
    b.set_cookie("#{OLD_COOKIE}=#{old}")
    b
  end

  def set_cookie_lines(b)
    b.last_response.headers["Set-Cookie"].to_s.split("\n")
  end

  def deletes_old?(b)
    set_cookie_lines(b).any? do |l|
      l.start_with?("#{OLD_COOKIE}=;") && l.include?("max-age=0") && l.include?("1970")
    end
  end

  def admin
    @admin ||= ImportDaemon.get.admin_client
  end

  def test_a_devise_user_stays_signed_in_across_the_switch
    b = browser(mint(DEVISE))
    b.get "/plain"
    assert_nil b.last_response.headers["Set-Cookie"] # no session access, no import
    b.get "/whoami"
    assert_equal 200, b.last_response.status
    got = JSON.parse(b.last_response.body)
    assert_equal({ "user" => [[42], "$2a$12$abcdefghijklmnopqrstuv"], "cart" => [1, 2],
                   "visits" => nil, "sessiond" => "42" }, got)
    assert deletes_old?(b), set_cookie_lines(b).inspect
    assert(set_cookie_lines(b).any? { |l| l.start_with?("sessiond=") })
    assert_equal "", b.cookie_jar[OLD_COOKIE].to_s # the browser dropped it
    refute_empty b.cookie_jar["sessiond"].to_s
    b.get "/add" # the sessiond cookie only
    assert_equal({ "visits" => 1 }, JSON.parse(b.last_response.body))
    refute deletes_old?(b)
    b.get "/whoami"
    assert_equal "42", JSON.parse(b.last_response.body)["sessiond"]
    assert_equal 1, admin.user_list("42").size
  end

  def test_replaying_the_old_cookie_gives_the_same_session
    old = mint(DEVISE.merge("warden.user.user.key" => [[7], "salt"]))
    first = browser(old)
    first.get "/add"
    assert_equal({ "visits" => 1 }, JSON.parse(first.last_response.body))
    replay = browser(old)
    replay.get "/whoami"
    got = JSON.parse(replay.last_response.body)
    assert_equal "7", got["sessiond"]
    assert_equal 1, got["visits"] # what the first browser stored since
    assert deletes_old?(replay)
    assert_equal 1, admin.user_list("7").size
  end

  def test_a_tampered_old_cookie_is_anonymous_and_deleted
    old = CGI.unescape(mint(DEVISE.merge("warden.user.user.key" => [[8], "salt"])))
    data, iv, tag = old.split("--")
    refute_nil tag # AES-256-GCM, as load_defaults 6.1 writes it
    forged = CGI.escape([data, iv, Base64.strict_encode64("\0" * 16)].join("--"))
    b = browser(forged)
    b.get "/whoami"
    got = JSON.parse(b.last_response.body)
    assert_nil got["sessiond"]
    assert_nil got["user"]
    assert deletes_old?(b)
    assert_includes IMPORT_LOG.string, "BAD_MAC"
    assert_empty admin.user_list("8")
  end

  def test_the_old_cookie_is_kept_while_sessiond_is_down
    old = mint(DEVISE.merge("warden.user.user.key" => [[9], "salt"]))
    daemon = ImportDaemon.get
    b = browser(old)
    daemon.stop
    begin
      b.get "/whoami"
      assert_equal 503, b.last_response.status
      refute deletes_old?(b)
      assert_equal CGI.unescape(old), b.cookie_jar[OLD_COOKIE] # kept as it was
    ensure
      daemon.restart
      # The client's breaker lets the next probe through within its backoff:
      # repeat while 503 (bounded), so that the other tests find it closed.
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 10
      loop do
        b.get "/whoami"
        break unless b.last_response.status == 503 && Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline

        sleep 0.05
      end
    end
    # Back up: the same browser was imported.
    assert_equal "9", JSON.parse(b.last_response.body)["sessiond"]
    assert deletes_old?(b)
  end

  def test_import_cookie_option_is_checked
    assert_raises(Sessiond::ConfigurationError) { Sessiond::ImportCookie.from_option({ name: "x", format: "php" }, "rails") }
    assert_raises(Sessiond::ConfigurationError) { Sessiond::ImportCookie.from_option("bad name", "rails") }
    assert_nil Sessiond::ImportCookie.from_option(nil, "rails")
    refute Sessiond.sessiond_cookie_shape?(mint(DEVISE))
  end
end
