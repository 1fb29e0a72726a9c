# frozen_string_literal: true

# The Rack store (Rack::Session::Sessiond) with the real Rack and rack-test
# against a real sessiond: lazy loading, JSON values, one COMMIT of only what
# changed (parallel requests on different keys both land; a whole-session
# store loses one, shown with Rack's own Pool), the user key, destroy /
# renew / drop, flash exactly once, CSRF, tampered cookies, the cookie from
# HELLO, and the HTTP answers for sessiond's errors.

require "test_helper"
require "logger"
require "stringio"
require "rack/test"
require "rack/session/pool"
require "sessiond/rack"

module RackTestApp
  def self.json(value, status = 200, headers = {})
    [status, { "Content-Type" => "application/json" }.merge(headers), [JSON.generate(value)]]
  end

  ROUTES = lambda do |env|
    req = Rack::Request.new(env)
    session = env["rack.session"]
    p = req.params
    wait = lambda do
      if p["gate"]
        Gates["#{p["gate"]}-loaded"] << true
        Gates[p["gate"]].pop
      end
    end
    case req.path_info
    when "/health" then json("ok" => true)
    when "/get" then json("present" => session.key?(p["key"]), "value" => session[p["key"]])
    when "/all" then json(session.to_hash)
    when "/set"
      session[p["key"]] = JSON.parse(p["value"])
      wait.call
      json("ok" => true)
    when "/append"
      (session["list"] ||= []) << p["item"]
      json("ok" => true)
    when "/delete"
      session.delete(p["key"])
      json("ok" => true)
    when "/destroy"
      session.destroy
      session["after"] = "destroy" if p["write"]
      json("ok" => true)
    when "/renew"
      env["rack.session.options"][:renew] = true
      session["renewed"] = true
      json("ok" => true)
    when "/drop"
      session["x"] = 1
      env["rack.session.options"][:drop] = true
      json("ok" => true)
    when "/skip"
      session["skipped"] = true
      env["rack.session.options"][:skip] = true
      json("ok" => true)
    when "/flash"
      Sessiond::Rack.helpers(env).flash(p["message"])
      json("ok" => true)
    when "/flashes"
      Sessiond::Rack.helpers(env).user_id # loads first: both racers see the message
      wait.call
      json("messages" => Sessiond::Rack.helpers(env).flashes)
    when "/csrf" then json("token" => session["csrf"], "helper" => Sessiond::Rack.helpers(env).csrf_token)
    when "/rotate" then json("token" => Sessiond::Rack.helpers(env).rotate_csrf_token)
    when "/id" then json("id" => session.id.public_id, "session_id" => session["session_id"])
    when "/whoami" then json("user" => Sessiond::Rack.helpers(env).user_id, "key" => session["user_id"],
                             "reason" => Sessiond::Rack.helpers(env).revoked_reason)
    when "/devices" then json("devices" => Sessiond::Rack.helpers(env).devices.map(&:to_h))
    when "/signout_others" then json("ended" => Sessiond::Rack.helpers(env).sign_out_other_locations)
    when "/stop_sessiond"
      session["doomed"] = true
      env["test.daemon"].stop
      json("ok" => true)
    when "/big"
      session["big"] = "x" * p["bytes"].to_i
      json("ok" => true)
    else json({ "error" => "not found" }, 404)
    end
  end

  def self.build(endpoint, daemon: nil, csrf: false, **options)
    Rack::Builder.new do
      use(Class.new do
        define_method(:initialize) { |app| @app = app }
        define_method(:call) { |env| @app.call(env.merge("test.daemon" => daemon)) }
      end)
      use Rack::Session::Sessiond, endpoint: endpoint, **options
      use Sessiond::Rack::Csrf if csrf
      run ROUTES
    end.to_app
  end
end

class RackStoreTest < Minitest::Test
  include Rack::Test::Methods

  def app
    @app ||= RackTestApp.build(daemon.endpoint, logger: (@logger = Logger.new(@log = StringIO.new)))
  end

  def json
    JSON.parse(last_response.body)
  end

  def cookie
    rack_mock_session.cookie_jar["sessiond"]
  end

  # A second browser holding this one's cookies.
  def copy_browser
    other = Rack::Test::Session.new(app)
    other.set_cookie("sessiond=#{cookie}") if cookie
    other
  end

  def set(key, value, **extra)
    get "/set", { key: key, value: JSON.generate(value) }.merge(extra)
    assert_equal 200, last_response.status, last_response.body
  end

  def value(key, browser = self)
    browser.get "/get", key: key
    body = JSON.parse(browser.last_response.body)
    body["present"] ? body["value"] : :missing
  end

  def test_a_request_that_touches_no_session_costs_nothing
    get "/health"
    assert_equal 200, last_response.status
    assert_nil last_response.headers["Set-Cookie"]
    assert_nil last_response.headers["Vary"]
  end

  def test_values_round_trip_with_their_json_types
    values = ["text", "ünïcödé ✓", "", 0, -7, 2**40, 3.25, true, false, nil,
              [1, "two", [3.5, nil]], { "nested" => { "list" => [1, 2] } }]
    values.each_with_index { |v, i| set("k#{i}", v) }
    values.each_with_index do |v, i|
      got = value("k#{i}")
      v.nil? ? assert_nil(got, "k#{i}") : assert_equal(v, got, "k#{i}")
      assert_equal v.class, got.class, "k#{i}"
    end
  end

  def test_in_place_mutation_is_saved
    get "/append", item: "a"
    get "/append", item: "b"
    assert_equal %w[a b], value("list")
  end

  def test_an_unchanged_session_sends_no_commit
    set("k", 1)
    version = client.load(cookie).session.version
    get "/get", key: "k"
    get "/all"
    assert_equal version, client.load(cookie).session.version
  end

  def test_a_key_sessiond_refuses_fails_at_once
    get "/set", key: "has space", value: "1"
  rescue ArgumentError => e
    assert_match(/invalid session key/, e.message)
  else
    flunk "a key with a space was accepted"
  end

  def test_parallel_requests_changing_different_keys_both_land
    set("seed", 0)
    slow = copy_browser
    t = Thread.new { slow.get "/set", key: "a", value: '"slow"', gate: "diff" }
    Gates["diff-loaded"].pop # the slow request has loaded and changed "a"
    set("b", "fast")
    Gates["diff"] << :go
    t.join
    assert_equal 200, slow.last_response.status
    assert_equal "slow", value("a")
    assert_equal "fast", value("b")
  end

  # The same interleaving on Rack's own whole-session store: the slow
  # request writes its whole session back and the fast request's key is
  # lost. This is what the test above would catch.
  def test_the_same_interleaving_loses_a_key_on_a_whole_session_store
    pool_app = Rack::Builder.new do
      use Rack::Session::Pool
      run RackTestApp::ROUTES
    end.to_app
    fast = Rack::Test::Session.new(pool_app)
    fast.get "/set", key: "seed", value: "0"
    slow = Rack::Test::Session.new(pool_app)
    slow.set_cookie("rack.session=#{fast.cookie_jar["rack.session"]}")
    t = Thread.new { slow.get "/set", key: "a", value: '"slow"', gate: "pool" }
    Gates["pool-loaded"].pop
    fast.get "/set", key: "b", value: '"fast"'
    Gates["pool"] << :go
    t.join
    assert_equal "slow", value("a", fast)
    assert_equal :missing, value("b", fast)
  end

  def test_a_conflict_at_commit_is_a_409_and_changes_nothing
    set("k", "base")
    slow = copy_browser
    t = Thread.new { slow.get "/set", key: "k", value: '"slow"', gate: "conflict" }
    Gates["conflict-loaded"].pop
    set("k", "fast")
    Gates["conflict"] << :go
    t.join
    assert_equal 409, slow.last_response.status
    assert_equal "fast", value("k")
  end

  def test_setting_the_user_key_logs_in_and_keeps_the_data
    set("cart", [1, 2])
    before = copy_browser
    set("user_id", "alice")
    refute_equal before.cookie_jar["sessiond"], cookie
    get "/whoami"
    assert_equal "alice", json["user"]
    assert_equal [1, 2], value("cart")
    assert_equal :missing, value("user_id", before) # the old cookie: nobody
    assert_equal "alice", client.load(cookie).session.user_id
  end

  def test_an_integer_user_id_reads_back_as_the_integer
    set("user_id", 42)
    assert_equal 42, value("user_id")
    assert_equal "42", client.load(cookie).session.user_id
  end

  def test_deleting_the_user_key_logs_out_and_carries_the_data_to_a_new_session
    set("user_id", "bob")
    set("theme", "dark")
    copied = copy_browser
    get "/delete", key: "user_id"
    assert_equal :missing, value("user_id")
    assert_equal "dark", value("theme")
    assert_raises(Sessiond::Revoked) { client.load(copied.cookie_jar["sessiond"]) }
  end

  def test_a_session_logged_in_elsewhere_shows_its_user_under_the_key
    logged = client.login("", "carol")
    set_cookie "sessiond=#{logged.cookie}"
    assert_equal "carol", value("user_id")
  end

  def test_destroy_is_a_new_id_and_an_empty_session
    set("k", 1)
    old = cookie
    old_id = client.load(old).session.id
    get "/destroy", write: "1"
    refute_equal old, cookie
    assert_equal :missing, value("k")
    assert_equal "destroy", value("after")
    refute_equal old_id, client.load(cookie).session.id
    assert_raises(Sessiond::InvalidCookie) { client.load(old) }
  end

  def test_destroy_of_a_logged_in_session_logs_out
    set("user_id", "dave")
    copied = copy_browser
    get "/destroy"
    assert_equal :missing, value("user_id")
    assert_raises(Sessiond::Revoked) { client.load(copied.cookie_jar["sessiond"]) }
  end

  def test_renew_regenerates_and_keeps_the_data
    set("k", "kept")
    old = cookie
    get "/renew"
    refute_equal old, cookie
    assert_equal "kept", value("k")
    assert_equal true, value("renewed")
    assert_raises(Sessiond::InvalidCookie) { client.load(old) }
  end

  def test_drop_logs_out_and_skip_writes_nothing
    set("user_id", "erin")
    get "/skip"
    assert_equal :missing, value("skipped")
    old = cookie
    get "/drop"
    assert_raises(Sessiond::Revoked) { client.load(old) }
    assert_match(/max-age=0/i, last_response.headers["Set-Cookie"])
  end

  def test_flash_is_shown_once_even_to_racing_requests
    get "/flash", message: "Once."
    racers = Array.new(3) { copy_browser }
    threads = racers.each_with_index.map do |b, i|
      Thread.new { b.get "/flashes", gate: "flash#{i}" }
    end
    3.times { |i| Gates["flash#{i}-loaded"].pop } # all three loaded it
    3.times { |i| Gates["flash#{i}"] << :go }
    threads.each(&:join)
    seen = racers.map { |b| JSON.parse(b.last_response.body)["messages"] }
    assert_equal 1, seen.flatten.count("Once."), seen.inspect
    get "/flashes"
    assert_equal [], json["messages"]
  end

  def test_the_csrf_key_is_sessiond_s_token_and_rotates
    get "/csrf"
    token = json["token"]
    assert_equal token, json["helper"]
    assert_equal client.load(cookie).session.csrf_token, token
    get "/rotate"
    refute_equal token, json["token"]
    assert_equal client.load(cookie).session.csrf_token, json["token"]
  end

  def test_session_id_is_sessiond_s_id_not_the_cookie
    get "/id"
    id = json["id"]
    assert_equal client.load(cookie).session.id, id
    assert_equal id, json["session_id"]
    refute_equal cookie, id
  end

  def test_a_tampered_cookie_is_a_fresh_anonymous_session_and_is_logged
    set("user_id", "frank")
    value = cookie.dup
    value[value.size / 2] = value[value.size / 2] == "A" ? "B" : "A"
    clear_cookies
    set_cookie "sessiond=#{value}"
    get "/whoami"
    assert_equal 200, last_response.status
    assert_nil json["user"]
    assert_match(/sessiond=;.*max-age=0/i, last_response.headers["Set-Cookie"])
    assert_match(/not accepted \(BAD_MAC\)/, @log.string)
  end

  def test_the_reason_of_a_revoked_session_is_on_the_request
    set("user_id", "grace")
    other = client.login("", "grace")
    client.revoke_others(other.cookie)
    get "/whoami"
    assert_nil json["user"]
    skip "this sessiond sends no REVOKED details yet" if json["reason"].nil?
    assert_equal "signed_out_elsewhere", json["reason"]
  end

  def test_helpers_that_need_a_user_answer_401_when_anonymous
    get "/signout_others"
    assert_equal 401, last_response.status
    get "/devices"
    assert_equal 401, last_response.status
  end

  def test_devices_and_sign_out_other_locations
    set("user_id", "heidi")
    other = Rack::Test::Session.new(app)
    other.get "/set", { key: "user_id", value: '"heidi"' }, "HTTP_USER_AGENT" => "Other/1"
    get "/devices"
    devices = json["devices"]
    assert_equal 2, devices.size
    assert devices[0]["current"]
    assert_equal "Other/1", devices[1]["user_agent"]
    get "/signout_others"
    assert_equal 1, json["ended"]
    assert_equal :missing, value("user_id", other)
  end

  def test_over_cap_data_is_a_500_with_a_message_and_stores_nothing
    get "/big", bytes: "10000"
    assert_equal 500, last_response.status
    assert_match(/more data than sessiond allows/, last_response.body)
    assert_match(/could not be saved/, @log.string)
    assert_equal :missing, value("big")
  end

  def test_json_clients_get_json_errors
    get "/signout_others", {}, "HTTP_ACCEPT" => "application/json"
    assert_equal 401, last_response.status
    assert_equal "LOGIN_REQUIRED", json["code"]
  end
end

class RackStoreCsrfTest < Minitest::Test
  include Rack::Test::Methods

  def app
    @app ||= RackTestApp.build(daemon.endpoint, csrf: true, logger: Logger.new(nil))
  end

  def test_unsafe_methods_need_the_token_in_the_header_or_the_form
    get "/csrf"
    token = JSON.parse(last_response.body)["token"]
    post "/set", key: "k", value: "1"
    assert_equal 403, last_response.status
    post "/set", { key: "k", value: "1" }, "HTTP_X_CSRF_TOKEN" => "#{token[0..-3]}xx"
    assert_equal 403, last_response.status
    post "/set", { key: "k", value: "1" }, "HTTP_X_CSRF_TOKEN" => token
    assert_equal 200, last_response.status
    post "/set", key: "k", value: "2", authenticity_token: token
    assert_equal 200, last_response.status
  end
end

class RackStoreDaemonTest < Minitest::Test
  include Rack::Test::Methods

  def test_the_cookie_name_comes_from_hello
    own = TestDaemon.own(cookie: { "name" => "shop_sid" })
    browser = Rack::Test::Session.new(RackTestApp.build(own.endpoint, logger: Logger.new(nil)))
    browser.get "/set", key: "k", value: "1"
    assert_match(/\Ashop_sid=/, browser.last_response.headers["Set-Cookie"])
    browser.get "/get", key: "k"
    assert_equal 1, JSON.parse(browser.last_response.body)["value"]
  end

  def test_app_cookie_options_that_contradict_hello_fail_at_boot_naming_both
    error = assert_raises(Sessiond::ConfigurationError) do
      RackTestApp.build(daemon.endpoint, key: "myapp", same_site: :strict, secure: false)
    end
    assert_match(/key: "myapp" \(the app\) but "sessiond"/, error.message)
    assert_match(/same_site: "Strict" \(the app\) but "Lax"/, error.message)
    refute_match(/secure/, error.message) # that one agrees
    RackTestApp.build(daemon.endpoint, key: "sessiond", secure: false, httponly: true)
  end

  # rotate_after 2 s, the old value good for 1 s more: short, so the test
  # can outwait both.
  def test_a_rotated_cookie_is_passed_on_and_a_stolen_copy_ends_the_session
    own = TestDaemon.own(session: { "rotate_after" => 2, "rotation_grace" => 1 })
    rack = RackTestApp.build(own.endpoint, logger: Logger.new(nil))
    owner = Rack::Test::Session.new(rack)
    owner.get "/set", key: "user_id", value: JSON.generate("alice")
    owner.get "/set", key: "k", value: "1"
    thief = Rack::Test::Session.new(rack)
    thief.set_cookie("sessiond=#{owner.cookie_jar["sessiond"]}")
    before = owner.cookie_jar["sessiond"]
    sleep 2.2 # older than rotate_after: the next load rotates it
    owner.get "/whoami"
    assert_equal "alice", JSON.parse(owner.last_response.body)["user"]
    assert_match(/\Asessiond=/, owner.last_response.headers["Set-Cookie"])
    refute_equal before, owner.cookie_jar["sessiond"]
    owner.get "/get", key: "k"
    assert_equal 1, JSON.parse(owner.last_response.body)["value"]
    sleep 1.2 # the old value's grace is over
    thief.get "/whoami"
    body = JSON.parse(thief.last_response.body)
    assert_nil body["user"]
    assert_equal "reuse_detected", body["reason"]
    owner.get "/whoami" # the session the copy came from has ended too
    assert_nil JSON.parse(owner.last_response.body)["user"]
  end

  def test_a_secure_cookie_on_plain_http_warns_once
    own = TestDaemon.own(cookie: { "secure" => "true" })
    log = StringIO.new
    browser = Rack::Test::Session.new(RackTestApp.build(own.endpoint, logger: Logger.new(log)))
    2.times { |i| browser.get "/set", key: "k#{i}", value: "1" }
    assert_equal 1, log.string.scan("Secure cookie is being set on a plain-http request").size
  end

  def test_sessiond_down_is_a_503_at_first_touch_and_at_commit
    own = TestDaemon.own
    store_client = own.client(timeout: 0.5)
    browser = Rack::Test::Session.new(RackTestApp.build(own.endpoint, daemon: own, client: store_client,
                                                                      logger: Logger.new(nil)))
    browser.get "/set", key: "k", value: "1"
    browser.get "/stop_sessiond" # loads, then sessiond goes: the commit fails
    at_commit = browser.last_response
    browser.get "/get", key: "k" # the first touch fails
    at_first_touch = browser.last_response
    own.restart
    [at_commit, at_first_touch].each do |r|
      assert_equal 503, r.status
      assert_equal "5", r.headers["Retry-After"]
      assert_equal "no-store", r.headers["Cache-Control"]
    end
    eventually { browser.get("/get", key: "k").status == 200 }
    assert_equal 1, JSON.parse(browser.last_response.body)["value"]
    browser.get "/get", key: "doomed"
    refute JSON.parse(browser.last_response.body)["present"]
  end

  def test_an_error_app_answers_sessiond_errors
    error_app = lambda do |env|
      [503, { "Content-Type" => "text/plain" }, ["custom: #{env["sessiond.error"].code}"]]
    end
    store_client = Sessiond::Client.new("ipc:///nonexistent/sessiond.sock", timeout: 0.2)
    browser = Rack::Test::Session.new(RackTestApp.build("unused", client: store_client, error_app: error_app,
                                                                  check_at_boot: false, logger: Logger.new(nil)))
    browser.get "/get", key: "k"
    assert_equal 503, browser.last_response.status
    assert_equal "custom: TIMEOUT", browser.last_response.body
    assert_equal "5", browser.last_response.headers["Retry-After"]
  end
end

class SinatraOnSessiondTest < Minitest::Test
  include Rack::Test::Methods

  def app
    endpoint = daemon.endpoint
    @app ||= Class.new(Sinatra::Base) do
      use Rack::Session::Sessiond, endpoint: endpoint, logger: Logger.new(nil)
      helpers Sessiond::Rack::AppHelpers
      set :show_exceptions, false
      set :raise_errors, true
      get("/account/login/:user") { session["user_id"] = params[:user]; "ok" }
      get("/me") { "#{sessiond.user_id}:#{session["user_id"]}" }
      get("/count") { session["n"] = (session["n"] || 0) + 1; session["n"].to_s }
    end
  end

  def setup
    require "sinatra/base"
  end

  def test_sinatra_session_and_helpers
    get "/count"
    get "/count"
    assert_equal "2", last_response.body
    get "/account/login/ivan" # a nested path: the cookie is still for "/"
    get "/me"
    assert_equal "ivan:ivan", last_response.body
    get "/count"
    assert_equal "3", last_response.body
  end
end
