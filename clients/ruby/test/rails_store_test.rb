# frozen_string_literal: true

# Rails 6.1 (Debian's ruby-rails) on sessiond through config.session_store,
# driven by rack-test through Rails' whole middleware stack, against a real
# sessiond: session[...] with JSON values, one COMMIT of what changed (with
# Rails' CacheStore losing the same race as the control), reset_session,
# the user keys (user_id, Devise's), flash exactly once, protect_from_forgery
# on sessiond's token, session.id, the helpers, and the HTTP answers for
# sessiond's errors (rescue_from, public/503.html at commit).

ENV["RAILS_ENV"] = "test"
require "test_helper"
require "logger"
require "stringio"
require "tmpdir"
require "fileutils"
require "rack/test"
require "rails"
require "action_controller/railtie"
require "action_dispatch/testing/integration"
require "sessiond/rails"

RAILS_ROOT = Dir.mktmpdir("sessiond-rails-test")
FileUtils.mkdir_p(File.join(RAILS_ROOT, "public"))
File.write(File.join(RAILS_ROOT, "public", "503.html"), "<h1>our own 503 page</h1>\n")
Minitest.after_run { FileUtils.rm_rf(RAILS_ROOT) }
RAILS_LOG = StringIO.new

class RailsTestApp < Rails::Application
  config.root = RAILS_ROOT
  config.eager_load = false
  config.secret_key_base = "test-only-secret-key-base-0123456789abcdef0123456789abcdef"
  config.logger = Logger.new(RAILS_LOG)
  config.hosts.clear
  config.action_dispatch.show_exceptions = true # answer as production does
  config.consider_all_requests_local = false
  config.action_controller.allow_forgery_protection = true
  config.session_store :sessiond_store, endpoint: TestDaemon.shared.endpoint,
                                        client: TestDaemon.shared.client(timeout: 0.5)

  routes.append do
    get "/read", to: "test#read"
    get "/all", to: "test#all"
    get "/write", to: "test#write"
    get "/append", to: "test#append"
    get "/remove", to: "test#remove"
    get "/login", to: "test#login"
    get "/login_idiom", to: "test#login_idiom"
    get "/devise_login", to: "test#devise_login"
    get "/devise_logout", to: "test#devise_logout"
    get "/helper_login", to: "test#helper_login"
    get "/logout", to: "test#logout"
    get "/whoami", to: "test#whoami"
    get "/flash_set", to: "test#flash_set"
    get "/flash_show", to: "test#flash_show"
    get "/flash_keep", to: "test#flash_keep"
    get "/flash_redirect", to: "test#flash_redirect"
    get "/csrf", to: "test#csrf"
    get "/rotate", to: "test#rotate"
    post "/protected", to: "test#protected_post"
    get "/id", to: "test#id"
    get "/devices", to: "test#devices"
    get "/signout_others", to: "test#signout_others"
    get "/password_changed", to: "test#password_changed"
    get "/big", to: "test#big"
    get "/stop_sessiond", to: "test#stop_sessiond"
    get "/custom_503", to: "custom#read"
    get "/account/settings/write", to: "test#write" # nested, for the integration test
    get "/account/settings/read", to: "test#read"
  end
end

class TestController < ActionController::Base
  protect_from_forgery with: :exception

  def read
    key = params[:key].to_s
    render json: { "present" => session.key?(key), "value" => session[key] }
  end

  def all
    render json: session.to_hash
  end

  def write
    session[params[:key].to_s] = JSON.parse(params[:value].to_s)
    Gates.pass(params[:gate])
    render json: { "ok" => true }
  end

  def append
    (session[:list] ||= []) << params[:item]
    render json: { "ok" => true }
  end

  def remove
    session.delete(params[:key].to_s)
    render json: { "ok" => true }
  end

  def login
    session[:user_id] = params[:as] == "int" ? params[:user].to_i : params[:user]
    render json: { "ok" => true }
  end

  # The Rails security guide's idiom: reset, then store the user.
  def login_idiom
    reset_session
    session[:user_id] = params[:user]
    render json: { "ok" => true }
  end

  def devise_login
    session["warden.user.user.key"] = [[params[:id].to_i], "$2a$10$salt"]
    render json: { "ok" => true }
  end

  def devise_logout
    session.delete("warden.user.user.key")
    render json: { "ok" => true }
  end

  def helper_login
    sessiond.login(params[:user])
    render json: { "user" => session[:user_id] }
  end

  def logout
    reset_session
    flash[:notice] = "Signed out." if params[:flash]
    render json: { "ok" => true }
  end

  def whoami
    render json: { "user" => session[:user_id], "helper" => sessiond.user_id,
                   "reason" => sessiond.revoked_reason }
  end

  def flash_set
    flash[:notice] = params[:message]
    flash.now[:alert] = "only now"
    render json: { "now" => flash[:alert] }
  end

  def flash_show
    session[:touch] # loaded: racing requests all see the waiting message
    Gates.pass(params[:gate])
    render json: flash.to_hash
  end

  def flash_keep
    flash.keep
    render json: flash.to_hash
  end

  def flash_redirect
    redirect_to "/flash_show", notice: "Redirected."
  end

  def csrf
    render json: { "token" => form_authenticity_token, "raw" => session[:_csrf_token] }
  end

  def rotate
    old = session.delete(:_csrf_token)
    render json: { "old" => old, "raw" => session[:_csrf_token], "token" => form_authenticity_token }
  end

  def protected_post
    render json: { "ok" => true }
  end

  def id
    render json: { "id" => session.id.public_id, "session_id" => session[:session_id] }
  end

  def devices
    render json: { "devices" => sessiond.devices.map(&:to_h) }
  end

  def signout_others
    render json: { "ended" => sessiond.sign_out_other_locations }
  end

  def password_changed
    sessiond.password_changed
    render json: { "ok" => true }
  end

  def big
    session[:big] = "x" * params[:bytes].to_i
    render json: { "ok" => true }
  end

  def stop_sessiond
    session[:doomed] = true
    TestDaemon.shared.stop
    render json: { "ok" => true }
  end
end

class CustomController < TestController
  rescue_from(Sessiond::Unavailable) { render plain: "custom unavailable page", status: 503 }
end

RailsTestApp.initialize!

class RailsStoreTest < Minitest::Test
  include Rack::Test::Methods

  def app
    Rails.application
  end

  def json
    JSON.parse(last_response.body)
  end

  def cookie
    rack_mock_session.cookie_jar["sessiond"]
  end

  def copy_browser
    other = Rack::Test::Session.new(app)
    other.set_cookie("sessiond=#{cookie}") if cookie
    other
  end

  def write(key, value, browser = self, **extra)
    browser.get "/write", { key: key, value: JSON.generate(value) }.merge(extra)
    assert_equal 200, browser.last_response.status, browser.last_response.body
  end

  def read(key, browser = self)
    browser.get "/read", key: key
    body = JSON.parse(browser.last_response.body)
    body["present"] ? body["value"] : :missing
  end

  def test_values_round_trip_with_their_json_types_nil_included
    values = ["text", "ünïcödé ✓", "", 0, -7, 2**40, 3.25, true, false, nil,
              [1, "two", [3.5, nil]], { "nested" => { "list" => [1, 2] } }]
    values.each_with_index { |v, i| write("k#{i}", v) }
    values.each_with_index do |v, i|
      got = read("k#{i}")
      v.nil? ? assert_nil(got) : assert_equal(v, got, "k#{i}")
    end
  end

  def test_in_place_mutation_is_saved
    get "/append", item: "a"
    get "/append", item: "b"
    assert_equal %w[a b], read("list")
  end

  def test_parallel_requests_changing_different_keys_both_land
    write("seed", 0)
    slow = copy_browser
    t = Thread.new { write("a", "slow", slow, gate: "rails-diff") }
    Gates["rails-diff-loaded"].pop
    write("b", "fast")
    Gates["rails-diff"] << :go
    t.join
    assert_equal "slow", read("a")
    assert_equal "fast", read("b")
  end

  def test_reset_session_when_anonymous_is_a_new_id_and_an_empty_session
    write("k", 1)
    get "/csrf"
    old_token = json["raw"]
    old = cookie
    get "/logout"
    refute_equal old, cookie
    assert_equal :missing, read("k")
    get "/csrf"
    refute_equal old_token, json["raw"]
    assert_raises(Sessiond::InvalidCookie) { client.load(old) }
  end

  def test_reset_session_when_logged_in_logs_out_and_keeps_the_flash_it_sets
    get "/login", user: "alice"
    copied = copy_browser
    get "/logout", flash: "1"
    get "/whoami"
    assert_nil json["user"]
    assert_raises(Sessiond::Revoked) { client.load(copied.cookie_jar["sessiond"]) }
    get "/flash_show"
    assert_equal({ "notice" => "Signed out." }, json)
  end

  def test_the_user_key_logs_in_regenerating_and_keeping_the_data
    write("cart", [1, 2])
    get "/csrf"
    token = json["raw"]
    before = copy_browser
    get "/login", user: "bob"
    refute_equal before.cookie_jar["sessiond"], cookie
    get "/whoami"
    assert_equal({ "user" => "bob", "helper" => "bob", "reason" => nil }, json)
    assert_equal [1, 2], read("cart")
    get "/csrf"
    refute_equal token, json["raw"]
    before.get "/whoami"
    assert_nil JSON.parse(before.last_response.body)["user"]
  end

  def test_the_security_guide_idiom_reset_then_user_gives_a_fresh_logged_in_session
    write("anonymous", "data")
    get "/login_idiom", user: "carol"
    get "/whoami"
    assert_equal "carol", json["user"]
    assert_equal :missing, read("anonymous") # reset_session emptied it, as in Rails
    assert_equal "carol", client.load(cookie).session.user_id
  end

  def test_an_integer_user_id_reads_back_as_an_integer
    get "/login", user: "42", as: "int"
    assert_equal 42, read("user_id")
    assert_equal "42", client.load(cookie).session.user_id
  end

  def test_deleting_the_user_key_logs_out_and_carries_the_rest
    get "/login", user: "dave"
    write("theme", "dark")
    copied = copy_browser
    get "/remove", key: "user_id"
    assert_equal :missing, read("user_id")
    assert_equal "dark", read("theme")
    assert_raises(Sessiond::Revoked) { client.load(copied.cookie_jar["sessiond"]) }
  end

  def test_devise_s_key_holds_the_user_and_keeps_its_salt
    get "/devise_login", id: "7"
    assert_equal [[7], "$2a$10$salt"], read("warden.user.user.key")
    assert_equal "7", client.load(cookie).session.user_id
    copied = copy_browser
    get "/devise_logout"
    assert_empty cookie.to_s # logged out, nothing left to keep: the cookie is deleted
    assert_raises(Sessiond::Revoked) { client.load(copied.cookie_jar["sessiond"]) }
  end

  def test_the_login_helper_logs_in_now
    get "/helper_login", user: "erin"
    assert_equal "erin", json["user"]
    assert_equal "erin", client.load(cookie).session.user_id
  end

  def test_flash_is_shown_once_and_flash_now_not_at_all
    get "/flash_set", message: "Saved."
    assert_equal "only now", json["now"]
    get "/flash_show"
    assert_equal({ "notice" => "Saved." }, json)
    get "/flash_show"
    assert_equal({}, json)
  end

  def test_flash_across_a_redirect_and_flash_keep
    get "/flash_redirect"
    assert_equal 302, last_response.status
    get "/flash_keep"
    assert_equal({ "notice" => "Redirected." }, json)
    get "/flash_show"
    assert_equal({ "notice" => "Redirected." }, json)
    get "/flash_show"
    assert_equal({}, json)
  end

  def test_a_flash_waits_through_requests_that_do_not_show_it
    get "/flash_set", message: "Later."
    write("unrelated", 1)
    read("unrelated")
    get "/flash_show"
    assert_equal({ "notice" => "Later." }, json)
  end

  def test_flash_is_shown_once_even_to_racing_requests
    get "/flash_set", message: "Once."
    racers = Array.new(3) { copy_browser }
    threads = racers.each_with_index.map { |b, i| Thread.new { b.get "/flash_show", gate: "rflash#{i}" } }
    3.times { |i| Gates["rflash#{i}-loaded"].pop }
    3.times { |i| Gates["rflash#{i}"] << :go }
    threads.each(&:join)
    seen = racers.map { |b| JSON.parse(b.last_response.body) }
    assert_equal 1, seen.count { |h| h["notice"] == "Once." }, seen.inspect
  end

  def test_protect_from_forgery_uses_sessiond_s_token_in_strict_base64
    get "/csrf"
    raw = json["raw"]
    masked = json["token"]
    sessiond_token = client.load(cookie).session.csrf_token
    assert_equal Base64.urlsafe_decode64(sessiond_token), Base64.strict_decode64(raw)
    post "/protected", {}, "HTTP_X_CSRF_TOKEN" => masked
    assert_equal 200, last_response.status
    post "/protected", authenticity_token: masked
    assert_equal 200, last_response.status
    post "/protected"
    assert_equal 422, last_response.status # Rails' own answer, unchanged
  end

  def test_deleting_the_csrf_token_rotates_it_through_sessiond
    get "/csrf"
    old_masked = json["token"]
    get "/rotate"
    rotated = json["token"]
    refute_equal json["old"], json["raw"]
    assert_equal client.load(cookie).session.csrf_token,
                 Base64.urlsafe_encode64(Base64.strict_decode64(json["raw"]), padding: false)
    post "/protected", {}, "HTTP_X_CSRF_TOKEN" => old_masked
    assert_equal 422, last_response.status
    post "/protected", {}, "HTTP_X_CSRF_TOKEN" => rotated
    assert_equal 200, last_response.status
  end

  def test_session_id_is_sessiond_s_id
    get "/id"
    assert_equal client.load(cookie).session.id, json["id"]
    assert_equal json["id"], json["session_id"]
  end

  def test_devices_sign_out_others_and_password_changed
    get "/csrf" # the login form's page: the session exists before the login
    get "/login", user: "frank"
    other = Rack::Test::Session.new(app)
    other.get "/csrf"
    other.get "/login", { user: "frank" }, "HTTP_USER_AGENT" => "Other/1"
    third = Rack::Test::Session.new(app)
    third.get "/login", user: "frank"
    get "/devices"
    devices = json["devices"]
    assert_equal 3, devices.size
    assert devices.first["current"]
    assert_operator devices.first["authenticated_at"], :>, 0
    get "/signout_others"
    assert_equal 2, json["ended"]
    other.get "/whoami"
    assert_nil JSON.parse(other.last_response.body)["user"]
    fourth = Rack::Test::Session.new(app)
    fourth.get "/login", user: "frank"
    write("keep", "me")
    get "/password_changed"
    assert_equal 200, last_response.status
    fourth.get "/whoami"
    assert_nil JSON.parse(fourth.last_response.body)["user"]
    get "/whoami"
    assert_equal "frank", json["user"]
    assert_equal "me", read("keep")
  end

  def test_account_helpers_answer_401_when_anonymous
    %w[/devices /signout_others /password_changed].each do |path|
      get path
      assert_equal 401, last_response.status, path
    end
  end

  def test_over_cap_data_is_a_500_and_stores_nothing
    get "/big", bytes: "10000"
    assert_equal 500, last_response.status
    assert_match(/more data than sessiond allows/, last_response.body)
    assert_equal :missing, read("big")
  end

  def test_a_tampered_cookie_is_a_fresh_anonymous_session
    get "/login", user: "grace"
    value = cookie.dup
    value[value.size / 2] = value[value.size / 2] == "A" ? "B" : "A"
    clear_cookies
    set_cookie "sessiond=#{value}"
    get "/whoami"
    assert_equal 200, last_response.status
    assert_nil json["user"]
  end

  def test_sessiond_down_answers_503_in_actions_and_at_commit_and_recovers
    write("k", "v")
    begin
      get "/stop_sessiond" # touched the session, then sessiond stopped: the commit fails
      at_commit = last_response
      get "/read", key: "k"
      in_action = last_response
      get "/custom_503", key: "k"
      custom = last_response
    ensure
      TestDaemon.shared.restart
    end
    assert_equal 503, at_commit.status
    assert_equal "<h1>our own 503 page</h1>\n", at_commit.body # public/503.html
    assert_equal 503, in_action.status
    [at_commit, in_action].each do |r|
      assert_equal "5", r.headers["Retry-After"]
      assert_equal "no-store", r.headers["Cache-Control"]
    end
    assert_equal [503, "custom unavailable page"], [custom.status, custom.body]
    eventually { get("/read", key: "k").status == 200 }
    assert_equal "v", json["value"]
    assert_equal :missing, read("doomed")
  end
end

# Rails' own integration tests (ActionDispatch::IntegrationTest, on
# rack-test) keep the session across nested paths: the store writes the
# cookie's attribute names as Rack does (path=), which rack-test reads.
class RailsIntegrationTest < ActionDispatch::IntegrationTest
  def test_the_session_survives_nested_paths
    get "/account/settings/write", params: { key: "theme", value: '"dark"' }
    assert_response :success
    get "/account/settings/read", params: { key: "theme" }
    assert_equal({ "present" => true, "value" => "dark" }, JSON.parse(response.body))
    get "/login", params: { user: "judy" }
    get "/account/settings/read", params: { key: "user_id" }
    assert_equal "judy", JSON.parse(response.body)["value"]
  end
end

# The control: the same race on Rails' own CacheStore (what
# config.session_store :cache_store gives), which writes the whole session
# back, loses the fast request's key. The test above would catch that.
class RailsCacheStoreControlTest < Minitest::Test
  def test_the_cache_store_loses_a_key_to_the_same_race
    inner = lambda do |env|
      req = ActionDispatch::Request.new(env)
      session = req.session
      session[req.params["key"]] = req.params["value"] if req.params["key"]
      Gates.pass(req.params["gate"])
      [200, { "Content-Type" => "application/json" }, [JSON.generate(session.to_hash.except("session_id"))]]
    end
    cache = ActiveSupport::Cache::MemoryStore.new
    stack = ActionDispatch::Cookies.new(ActionDispatch::Session::CacheStore.new(inner, cache: cache, key: "_s"))
    fast = Rack::Test::Session.new(stack)
    fast.get "/", key: "seed", value: "0"
    slow = Rack::Test::Session.new(stack)
    slow.set_cookie("_s=#{fast.cookie_jar["_s"]}")
    t = Thread.new { slow.get "/", key: "a", value: "slow", gate: "cache-race" }
    Gates["cache-race-loaded"].pop
    fast.get "/", key: "b", value: "fast"
    Gates["cache-race"] << :go
    t.join
    fast.get "/"
    assert_equal({ "seed" => "0", "a" => "slow" }, JSON.parse(fast.last_response.body))
  end
end

class RailsStoreOptionsTest < Minitest::Test
  def build(**options)
    ActionDispatch::Session::SessiondStore.new(->(_env) { [200, {}, []] },
                                               { endpoint: daemon.endpoint }.merge(options))
  end

  def test_options_that_contradict_hello_fail_at_boot_naming_both
    error = assert_raises(Sessiond::ConfigurationError) { build(key: "_myapp_session", expire_after: 3600) }
    assert_match(/key: "_myapp_session" \(the app\) but "sessiond"/, error.message)
    assert_match(/expire_after: 3600 \(the app\) but 1209600/, error.message)
  end

  def test_options_that_repeat_hello_are_fine
    build(key: "sessiond", expire_after: 1_209_600, same_site: :lax, secure: false, httponly: true)
  end

  def test_rails_default_same_site_proc_is_not_a_contradiction
    build(same_site: ->(_req) { :lax })
  end
end
