# frozen_string_literal: true

# The Rails "your devices" example, served by puma on a free port in front of
# a real sessiond (the shared launcher), driven over HTTP by two browsers
# that fill in the forms (CSRF tokens included): sign in, a wrong password,
# the devices list with this device first, sign out all other locations (the
# other browser is sent to the login page), sign out.

require_relative "../../../clients/ruby/test/test_helper"
require "net/http"
require "nokogiri"
require "socket"
require "stringio"
require "uri"

DAEMON = TestDaemon.shared
ENV["SESSIOND_ENDPOINT"] = DAEMON.endpoint
ENV["LOG_LEVEL"] = "unknown" # the refused-token test would log a FATAL line
require_relative "../app"
require "puma"
require "puma/server"

module ExampleServer
  def self.port
    @port ||= begin
      port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
      events = Puma::Events.new(StringIO.new, $stderr)
      server = Puma::Server.new(DevicesDemo::Application, events, min_threads: 2, max_threads: 8)
      server.add_tcp_listener("127.0.0.1", port)
      server.run
      Minitest.after_run { server.stop(true) }
      port
    end
  end
end

# A browser: cookies (attribute names case-insensitive, as browsers read
# them), redirects followed, forms submitted with their hidden fields.
class Browser
  attr_reader :page, :status

  def initialize(user_agent)
    @user_agent = user_agent
    @cookies = {}
  end

  def visit(path)
    request(Net::HTTP::Get.new(path))
  end

  # Submits the form whose submit button says `button`, with fields.
  def submit(button, fields = {})
    form = @page.xpath("//form[.//input[@type='submit' and @value=#{button.inspect}]]").first
    raise "no form with #{button.inspect} on #{@path}:\n#{@page.text}" unless form

    data = form.css("input[type=hidden]").to_h { |i| [i["name"], i["value"]] }.merge(fields)
    post = Net::HTTP::Post.new(form["action"])
    post.set_form_data(data)
    request(post)
  end

  def text(css)
    @page.css(css).map { |n| n.text.strip }
  end

  private

  def request(req, redirects = 5)
    req["User-Agent"] = @user_agent
    req["Cookie"] = @cookies.map { |k, v| "#{k}=#{v}" }.join("; ") unless @cookies.empty?
    res = Net::HTTP.start("127.0.0.1", ExampleServer.port) { |http| http.request(req) }
    Array(res.get_fields("Set-Cookie")).each { |line| take_cookie(line) }
    @status = res.code.to_i
    if res.is_a?(Net::HTTPRedirection) && redirects.positive?
      return request(Net::HTTP::Get.new(URI(res["Location"]).request_uri), redirects - 1)
    end

    @path = req.path
    @page = Nokogiri::HTML(res.body)
    self
  end

  def take_cookie(line)
    pair, *attrs = line.split(";").map(&:strip)
    name, value = pair.split("=", 2)
    gone = value.to_s.empty? || attrs.any? { |a| a.casecmp?("Max-Age=0") }
    gone ? @cookies.delete(name) : @cookies[name] = value
  end
end

class DevicesAppTest < Minitest::Test
  def sign_in(browser, user, password)
    browser.visit("/login")
    browser.submit("Sign in", "user" => user, "password" => password)
  end

  def test_a_wrong_password_signs_nobody_in
    b = Browser.new("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    sign_in(b, "alice", "not the password")
    assert_equal ["Wrong user name or password."], b.text(".flash.alert")
    assert_equal ["Sign in"], b.text("h1")
  end

  def test_devices_and_sign_out_all_other_locations
    home = Browser.new("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    phone = Browser.new("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    sign_in(phone, "bob", "builder")
    sign_in(home, "bob", "builder")
    assert_equal ["Signed in as bob."], home.text(".flash.notice")
    assert_equal ["bob"], home.text("#user")
    rows = home.text("#devices tbody tr td:first-child")
    assert_equal ["Firefox on Linux", "Safari on iPhone"], rows # this device first
    assert_equal ["This device"], home.text("#devices tr.current .this")

    home.submit("Sign out all other locations")
    assert_equal ["Signed out 1 other location."], home.text(".flash.notice")
    assert_equal ["Firefox on Linux"], home.text("#devices tbody tr td:first-child")

    phone.visit("/devices")
    assert_equal ["Sign in"], phone.text("h1")
    refute_empty phone.text(".flash.alert") # "Please sign in." or why it ended

    home.visit("/devices")
    assert_equal ["bob"], home.text("#user") # this one stays
  end

  def test_sign_out
    b = Browser.new("Mozilla/5.0 (Windows NT 10.0) Chrome/120.0")
    sign_in(b, "alice", "wonderland")
    b.submit("Sign out")
    assert_equal ["Signed out."], b.text(".flash.notice")
    b.visit("/devices")
    assert_equal ["Sign in"], b.text("h1")
  end

  def test_a_flash_is_shown_once
    b = Browser.new("Mozilla/5.0 (Windows NT 10.0) Chrome/120.0")
    sign_in(b, "alice", "wonderland")
    assert_equal ["Signed in as alice."], b.text(".flash.notice")
    b.visit("/devices")
    assert_empty b.text(".flash")
  end

  def test_a_form_without_its_token_is_refused
    b = Browser.new("curl/8.0")
    b.visit("/login")
    post = Net::HTTP::Post.new("/login")
    post.set_form_data("user" => "alice", "password" => "wonderland")
    res = Net::HTTP.start("127.0.0.1", ExampleServer.port) { |http| http.request(post) }
    assert_equal 422, res.code.to_i # Rails' answer to a missing token
  end
end
