# frozen_string_literal: true

# The Rack store in sessiond's client and hybrid modes, where the cookie
# holds the data and changes with every write (and may change on a LOAD):
# the store must always hand the browser the newest cookie. The app does
# nothing different in any mode (docs/protocol.md, "Storage modes").

require "test_helper"
require "logger"
require "rack/test"
require "sessiond/rack"

module ModesApp
  def self.build(endpoint)
    Rack::Builder.new do
      use Rack::Session::Sessiond, endpoint: endpoint, logger: Logger.new(nil)
      run(lambda do |env|
        req = Rack::Request.new(env)
        s = env["rack.session"]
        h = Sessiond::Rack.helpers(env)
        body = case req.path_info
               when "/set" then s[req.params["key"]] = JSON.parse(req.params["value"])
               when "/get" then s[req.params["key"]]
               when "/login" then s["user_id"] = req.params["user"]
               when "/logout" then s.destroy
               when "/flash" then h.flash(req.params["message"])
               when "/flashes" then h.flashes
               when "/whoami" then h.user_id
               end
        [200, { "Content-Type" => "application/json" }, [JSON.generate(body)]]
      end)
    end.to_app
  end
end

module ModeTests
  include Rack::Test::Methods

  def app
    @app ||= ModesApp.build(self.class.daemon.endpoint)
  end

  def got
    JSON.parse(last_response.body)
  end

  def test_values_and_their_newest_cookie
    get "/set", key: "a", value: "[1,2]"
    first = rack_mock_session.cookie_jar["sessiond"]
    get "/set", key: "b", value: '"two"'
    refute_equal first, rack_mock_session.cookie_jar["sessiond"] # the data is in the cookie
    get "/get", key: "a"
    assert_equal [1, 2], got
    get "/get", key: "b"
    assert_equal "two", got
  end

  def test_login_logout_and_flash
    get "/set", key: "cart", value: "[3]"
    get "/login", user: "mode-user"
    get "/whoami"
    assert_equal "mode-user", got
    get "/get", key: "cart"
    assert_equal [3], got
    get "/flash", message: "Hi."
    get "/flashes"
    assert_equal ["Hi."], got
    get "/flashes"
    assert_equal [], got
    get "/logout"
    get "/whoami"
    assert_nil got
  end
end

class HybridModeTest < Minitest::Test
  include ModeTests

  def self.daemon
    @daemon ||= TestDaemon.own(session: { "mode" => "hybrid" })
  end
end

class ClientModeTest < Minitest::Test
  include ModeTests

  def self.daemon
    @daemon ||= TestDaemon.own(session: { "mode" => "client" })
  end
end
