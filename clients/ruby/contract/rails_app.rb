# frozen_string_literal: true

# The contract app (docs/integrations.md, tests/contract/) on Rails 6.1, with
# Rails' own API only: session[...], reset_session, flash,
# protect_from_forgery (X-CSRF-Token), and the integration's `sessiond`
# helpers for what Rails has no word for (devices, sign out others,
# password changed).

ENV["RAILS_ENV"] ||= "production"
require "logger"
require "securerandom"
require "rails"
require "action_controller/railtie"
require "sessiond/rails"

class ContractRailsApp < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.cache_classes = true
  config.consider_all_requests_local = false
  config.secret_key_base = SecureRandom.hex(64) # Rails' own cookies; sessions are sessiond's
  config.logger = Logger.new($stderr, level: Logger::WARN)
  config.log_level = :warn
  config.hosts.clear
  config.action_controller.allow_forgery_protection = true
  config.session_store :sessiond_store, endpoint: ENV.fetch("SESSIOND_ENDPOINT")

  routes.append do
    get "/health", to: "contract#health"
    get "/whoami", to: "contract#whoami"
    get "/get", to: "contract#read"
    post "/set", to: "contract#write"
    post "/delete", to: "contract#remove"
    post "/login", to: "contract#login"
    post "/logout", to: "contract#logout"
    post "/flash", to: "contract#add_flash"
    get "/flashes", to: "contract#flashes"
    get "/csrf", to: "contract#csrf"
    post "/rotate_csrf", to: "contract#rotate_csrf"
    get "/devices", to: "contract#devices"
    post "/signout_others", to: "contract#signout_others"
    post "/password_changed", to: "contract#password_changed"
    post "/big", to: "contract#big"
  end
end

class ContractController < ActionController::Base
  protect_from_forgery with: :exception
  # Rails answers a bad token 422; the contract (and sessiond's other
  # integrations) answer 403.
  rescue_from ActionController::InvalidAuthenticityToken do
    render json: { "error" => "CSRF token missing or wrong" }, status: :forbidden
  end

  def health
    render json: { "ok" => true }
  end

  def whoami
    render json: { "user" => session[:user_id].to_s }
  end

  def read
    key = params[:key].to_s
    render json: { "present" => session.key?(key), "value" => session[key] }
  end

  def write
    session[params[:key].to_s] = JSON.parse(params[:value].to_s)
    sleep(params[:delay_ms].to_i / 1000.0) if params[:delay_ms]
    render json: { "ok" => true }
  end

  def remove
    session.delete(params[:key].to_s)
    render json: { "ok" => true }
  end

  # Rails' login idiom: the user id into the session (sessiond regenerates
  # the session for it: LOGIN).
  def login
    session[:user_id] = params[:user].to_s
    render json: { "user" => params[:user].to_s }
  end

  def logout
    reset_session
    render json: { "ok" => true }
  end

  def add_flash
    flash[:notice] = params[:message].to_s
    render json: { "ok" => true }
  end

  def flashes
    render json: { "messages" => flash.to_hash.values }
  end

  def csrf
    render json: { "token" => form_authenticity_token, "header" => "X-CSRF-Token" }
  end

  # Rails 6.1 has no reset_csrf_token (7.1's deletes the key, as here).
  def rotate_csrf
    session.delete(:_csrf_token)
    render json: { "token" => form_authenticity_token }
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
    session["big"] = "x" * params[:bytes].to_i
    render json: { "ok" => true }
  end
end

ContractRailsApp.initialize!
