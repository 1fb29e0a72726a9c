# frozen_string_literal: true

# "Your devices" on Rails 6.1 + sessiond: sign in (the password is checked
# first, then the session is regenerated), see every browser signed in to
# your account (device, IP address, signed in, last seen, this device), sign
# out all other locations, and learn why you were signed out. Plain Rails
# session API (reset_session, session[:user_id], flash, protect_from_forgery)
# with sessiond as config.session_store; the `sessiond` helpers do what Rails
# has no word for. Served by run.sh (puma); tested by test/.

ENV["RAILS_ENV"] ||= "production"
$LOAD_PATH.unshift File.expand_path("../../clients/ruby/lib", __dir__)

require "logger"
require "securerandom"
require "rails"
require "action_controller/railtie"
require "action_view/railtie"
require "sessiond/rails"
require_relative "users"

module DevicesDemo
  class Application < Rails::Application
    config.root = __dir__
    config.eager_load = false
    config.cache_classes = true
    config.consider_all_requests_local = false
    config.secret_key_base = ENV.fetch("SECRET_KEY_BASE") { SecureRandom.hex(64) } # Rails' own cookies only
    config.logger = Logger.new($stdout, level: ENV.fetch("LOG_LEVEL", "info"))
    config.log_level = ENV.fetch("LOG_LEVEL", "info").to_sym
    config.hosts.clear
    config.public_file_server.enabled = false
    # The cookie's name and attributes are sessiond's (HELLO); the app only
    # says where sessiond is.
    config.session_store :sessiond_store, endpoint: ENV.fetch("SESSIOND_ENDPOINT", "tcp://127.0.0.1:5602")

    routes.append do
      root to: "devices#home"
      get "/login", to: "sessions#new", as: :login
      post "/login", to: "sessions#create"
      post "/logout", to: "sessions#destroy", as: :logout
      get "/devices", to: "devices#index", as: :devices
      post "/devices/sign_out_others", to: "devices#sign_out_others", as: :sign_out_others
    end
  end

  # Why a browser was signed out, for the login page (sessiond's REVOKED
  # reasons).
  REASONS = {
    "signed_out_elsewhere" => "You were signed out from another device.",
    "password_changed" => "You were signed out because the password was changed.",
    "admin" => "An administrator signed you out.",
    "session_limit" => "You were signed out: too many devices were signed in.",
    "reuse_detected" => "You were signed out because your session cookie was used elsewhere."
  }.freeze
end

# Routes and the session store are set up here; controllers come after, so
# that route helpers reach their views.
DevicesDemo::Application.initialize!

module DevicesHelper
  # A short "Browser on OS" label from a User-Agent header.
  def device_label(user_agent)
    ua = user_agent.to_s
    browser = [["Edg/", "Edge"], ["HeadlessChrome", "Headless Chrome"], ["Chrome/", "Chrome"],
               ["Firefox/", "Firefox"], ["Safari/", "Safari"], ["curl/", "curl"],
               ["Ruby", "Ruby"]].find { |token, _| ua.include?(token) }&.last || "Unknown browser"
    system = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"],
              ["Mac OS X", "macOS"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]].find { |token, _| ua.include?(token) }&.last
    system ? "#{browser} on #{system}" : browser
  end

  def ago(unix_seconds)
    seconds = [Time.now.to_i - unix_seconds.to_i, 0].max
    return "just now" if seconds < 60
    return "#{seconds / 60} min ago" if seconds < 3600
    return "#{seconds / 3600} h ago" if seconds < 86_400

    "#{seconds / 86_400} days ago"
  end

  def utc(unix_seconds)
    Time.at(unix_seconds.to_i).utc.strftime("%Y-%m-%d %H:%M UTC")
  end
end

class ApplicationController < ActionController::Base
  protect_from_forgery with: :exception
  helper DevicesHelper

  private

  def current_user
    session[:user_id]
  end
  helper_method :current_user

  def require_user
    return if current_user

    flash[:alert] = DevicesDemo::REASONS[sessiond.revoked_reason] || "Please sign in."
    redirect_to login_path
  end
end

class SessionsController < ApplicationController
  def new
    return redirect_to devices_path if current_user

    @reason = DevicesDemo::REASONS[sessiond.revoked_reason]
  end

  def create
    user = params[:user].to_s
    unless DevicesDemo::Users.check(user, params[:password])
      flash[:alert] = "Wrong user name or password."
      return redirect_to login_path
    end
    # The Rails security guide's idiom: authenticated first, then a fresh
    # session (reset_session: a new id), then the user (sessiond's LOGIN:
    # another new id, the CSRF token rotated).
    reset_session
    session[:user_id] = user
    flash[:notice] = "Signed in as #{user}."
    redirect_to devices_path
  end

  def destroy
    reset_session # a signed-in session: sessiond's LOGOUT
    flash[:notice] = "Signed out."
    redirect_to login_path
  end
end

class DevicesController < ApplicationController
  before_action :require_user, except: :home

  def home
    redirect_to current_user ? devices_path : login_path
  end

  def index
    @devices = sessiond.devices
  end

  def sign_out_others
    ended = sessiond.sign_out_other_locations.to_i
    flash[:notice] = ended == 1 ? "Signed out 1 other location." : "Signed out #{ended} other locations."
    redirect_to devices_path
  end
end

