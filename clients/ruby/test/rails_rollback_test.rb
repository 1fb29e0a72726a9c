# frozen_string_literal: true

# The rollback mode (docs/migration.md, step 4): with export_old_cookie:,
# every response of a request with a sessiond session also sets the old
# Rails cookie to EXPORT's value, which Rails 6.1's own encrypted cookie jar
# (Debian's ruby-rails, this app's secret_key_base) reads back with the
# session's data and Devise user; at logout it is deleted.

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
      dir = Dir.mktmpdir("sessiond-rails-rollback-")
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
                                        import_cookie: OLD_COOKIE, export_old_cookie: true,
                                        logger: Logger.new(IMPORT_LOG)
  routes.append do
    get "/whoami", to: "import_e2e#whoami"
    get "/add", to: "import_e2e#add"
    get "/plain", to: "import_e2e#plain"
    get "/logout", to: "import_e2e#logout"
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

  def logout
    reset_session
    session.delete("warden.user.user.key")
    render plain: "bye"
  end
end

ImportE2EApp.initialize!

class RailsRollbackTest < Minitest::Test
  DEVISE = { "warden.user.user.key" => [[42], "$2a$12$abcdefghijklmnopqrstuv"], "cart" => [1, 2] }.freeze

  def app
    Rails.application
  end

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

  # What Rails' own CookieStore makes of the old cookie the browser holds.
  def old_rails_reads(browser)
    value = browser.cookie_jar[OLD_COOKIE].to_s
    env = Rack::MockRequest.env_for("/", "HTTP_COOKIE" => "#{OLD_COOKIE}=#{CGI.escape(value)}")
                           .merge(Rails.application.env_config)
    ActionDispatch::Request.new(env).cookie_jar.encrypted[OLD_COOKIE]
  end

  def old_line(browser)
    browser.last_response.headers["Set-Cookie"].to_s.split("\n").find { |l| l.start_with?("#{OLD_COOKIE}=") }
  end

  def test_every_response_writes_the_old_cookie_back
    b = Rack::Test::Session.new(app)
    b.set_cookie("#{OLD_COOKIE}=#{mint(DEVISE)}")
    b.get "/add"
    assert_equal({ "visits" => 1 }, JSON.parse(b.last_response.body))
    refute_includes old_line(b), "max-age=0"
    back = old_rails_reads(b)
    refute_nil back
    assert_equal [[42], "$2a$12$abcdefghijklmnopqrstuv"], back["warden.user.user.key"]
    assert_equal [1, 2], back["cart"]
    assert_equal 1, back["visits"]
    b.get "/plain" # no session access: refreshed all the same
    refute_nil old_line(b)
    assert_equal 1, old_rails_reads(b)["visits"]
    b.get "/logout"
    assert_includes old_line(b), "max-age=0"
    assert_nil old_rails_reads(b)
  end

  def test_export_needs_the_import_cookie
    assert_raises(Sessiond::ConfigurationError) do
      ActionDispatch::Session::SessiondStore.new(->(_env) {}, client: ImportDaemon.get.client, export_old_cookie: true,
                                                 check_at_boot: false)
    end
  end
end
