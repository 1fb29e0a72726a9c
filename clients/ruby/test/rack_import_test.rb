# frozen_string_literal: true

# The Rack store's import_cookie: when the old Rails cookie and sessiond's
# share a name (sessiond's [cookie] name set to the old app's): the value
# that is not shaped like a sessiond cookie is imported, the sessiond cookie
# set under that name replaces it (no deletion sent), the next request's
# value is loaded, not imported; a refused one is deleted. The old cookie is
# minted by Rails 6.1's own CookieStore (Debian's ruby-rails).

require "test_helper"
require "logger"
require "stringio"
require "tmpdir"
require "fileutils"
require "rack/test"
require "rails"
require "action_controller/railtie"
require "sessiond/rack"

SHARED_NAME = "_shared_app_session"
RACK_IMPORT_SECRET = "rack-import-secret-key-base-0123456789abcdef0123456789abcdef"

class OldRailsApp < Rails::Application
  config.load_defaults 6.1
  config.eager_load = false
  config.secret_key_base = RACK_IMPORT_SECRET
  config.logger = Logger.new(nil)
  config.action_dispatch.cookies_serializer = :json
end
OldRailsApp.initialize!

class RackImportTest < Minitest::Test
  include Rack::Test::Methods

  def self.daemon
    @daemon ||= begin
      dir = Dir.mktmpdir("sessiond-rack-import-")
      Minitest.after_run { FileUtils.rm_rf(dir) }
      secrets = File.join(dir, "rails_secrets")
      File.write(secrets, "#{RACK_IMPORT_SECRET}\n")
      File.chmod(0o600, secrets)
      table = { "secrets_file" => secrets, "cookie" => SHARED_NAME, "user_id_key" => "user_id" }
      TestDaemon.own(cookie: { "name" => SHARED_NAME }, tables: { "import.rails" => table })
    end
  end

  LOG = StringIO.new

  def app
    @app ||= begin
      inner = lambda do |env|
        session = env["rack.session"]
        if env["PATH_INFO"] == "/add"
          session["visits"] = (session["visits"] || 0) + 1
        end
        body = JSON.generate("user" => Sessiond::Rack.helpers(env).user_id, "visits" => session["visits"],
                             "cart" => session["cart"])
        [200, { "Content-Type" => "application/json" }, [body]]
      end
      Rack::Session::Sessiond.new(inner, client: self.class.daemon.client, import_cookie: SHARED_NAME,
                                         logger: Logger.new(LOG))
    end
  end

  def mint(data)
    inner = lambda do |env|
      data.each { |k, v| env["rack.session"][k] = v }
      [200, {}, ["ok"]]
    end
    store = ActionDispatch::Cookies.new(ActionDispatch::Session::CookieStore.new(inner, key: SHARED_NAME))
    _status, headers, _body = store.call(Rack::MockRequest.env_for("/").merge(OldRailsApp.env_config))
    line = Array(headers["Set-Cookie"]).join("\n").split("\n").find { |l| l.start_with?("#{SHARED_NAME}=") }
    line.split(";")[0].split("=", 2)[1]
  end

  def lines
    last_response.headers["Set-Cookie"].to_s.split("\n")
  end

  def test_shared_name_old_value_is_imported_and_replaced
    set_cookie("#{SHARED_NAME}=#{mint("user_id" => 5, "cart" => [3])}")
    get "/"
    assert_equal({ "user" => "5", "visits" => nil, "cart" => [3] }, JSON.parse(last_response.body))
    assert_equal 1, lines.size, lines.inspect # the sessiond cookie replaces the old one
    refute_includes lines.first, "max-age=0"
    new_value = rack_mock_session.cookie_jar[SHARED_NAME]
    assert Sessiond.sessiond_cookie_shape?(new_value)
    get "/add"
    assert_equal({ "user" => "5", "visits" => 1, "cart" => [3] }, JSON.parse(last_response.body))
    assert_nil last_response.headers["Set-Cookie"]
    assert_equal new_value, rack_mock_session.cookie_jar[SHARED_NAME]
    admin = self.class.daemon.admin_client
    assert_equal 1, admin.user_list("5").size
  end

  def test_shared_name_refused_old_value_is_deleted
    old = CGI.unescape(mint("user_id" => 6))
    data, iv, = old.split("--")
    set_cookie("#{SHARED_NAME}=#{CGI.escape([data, iv, Base64.strict_encode64("\0" * 16)].join("--"))}")
    get "/"
    assert_equal({ "user" => nil, "visits" => nil, "cart" => nil }, JSON.parse(last_response.body))
    assert_equal 1, lines.size
    assert lines.first.start_with?("#{SHARED_NAME}=;") && lines.first.include?("max-age=0"), lines.inspect
    assert_includes LOG.string, "BAD_MAC"
  end

  # sessiond down at the first access: the old cookie is not dropped; a
  # later access in the same request imports it (never anonymous beside it).
  def test_an_access_after_unavailable_imports_again
    daemon = self.class.daemon
    client = daemon.client(timeout: 0.5)
    ic = Sessiond::ImportCookie.from_option(SHARED_NAME, "rails")
    state = Sessiond::RequestState.new(client, "", user_keys: ["user_id"], import_cookie: ic,
                                                   old_cookie: mint("user_id" => 11))
    daemon.stop
    begin
      assert_raises(Sessiond::Unavailable) { state.ensure_loaded }
      assert_nil state.import_outcome
      refute state.loaded?
    ensure
      daemon.restart
    end
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 10
    begin
      state.ensure_loaded
    rescue Sessiond::Unavailable
      raise if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.05
      retry
    end
    assert_equal :imported, state.import_outcome
    assert_equal "11", state.user_id
  end
end
