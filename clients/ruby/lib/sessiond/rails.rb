# frozen_string_literal: true

# Rails 6.1 on sessiond: a session store for config.session_store, its
# session object, the controller helpers and a Railtie.
#
#   # config/application.rb
#   require "sessiond/rails"
#   config.session_store :sessiond_store, endpoint: "ipc:///run/sessiond/app.sock"
#
# Unchanged for the app: session[...] (JSON values), reset_session (a new id
# and an empty session: REGENERATE, or LOGOUT for a signed-in one),
# session[:user_id] = id (LOGIN: new id, CSRF token rotated, data kept),
# session.delete(:user_id) (LOGOUT), flash (on sessiond's flash queue:
# exactly once), protect_from_forgery (session[:_csrf_token] is sessiond's
# token), session.id. A request's changes go as ONE COMMIT of what changed.
# Controllers and views get `sessiond` (Sessiond::Helpers: devices, sign out
# other locations, password changed, ...) and 503/409/401/403 answers for
# sessiond's errors (override with your own rescue_from).

require "base64"
require "json"
require "active_support/concern"
require "action_dispatch"
require "action_dispatch/middleware/session/abstract_store"
require "action_dispatch/middleware/flash"
require_relative "../sessiond"
require_relative "rack"

module Sessiond
  module Rails
    FLASH_KEY = "flash" # where ActionDispatch::Flash keeps the flash
    FLASH_QUEUE = ""    # the sessiond queue it lives in (Flask's too)

    # request.session: Rails' own Request::Session whose Hash is the
    # RequestState's, with the keys that are not data mapped onto sessiond:
    # "_csrf_token" (sessiond's token, shown as the strict base64 Rails
    # expects) and "flash" (sessiond's flash queue; reading it pops the
    # queue, so each message is shown by exactly one request).
    class Session < ActionDispatch::Request::Session
      include Sessiond::Rack::VirtualKeys

      def initialize(by, req)
        super
        @flash_read = false # whether this request popped the queue
        @flash_value = nil  # Rails' session value of the flash, once read
      end

      def state
        @state ||= @by.state_for(@req)
      end

      def sessiond_store
        @by
      end

      # sessiond's session id as a Rack::Session::SessionId (creates the
      # session when there is none, as Rails makes up an id on first use).
      def id
        state.ensure_created
        Sessiond::Rack::SessionId.new(state.session_id, state.cookie)
      end

      def [](key)
        key = key.to_s
        return flash_read if key == FLASH_KEY
        return virtual_read(key) if virtual_key?(key)
        return id.public_id if key == "session_id"

        super
      end

      def []=(key, value)
        key = key.to_s
        if key == FLASH_KEY
          flash_write(value)
        elsif virtual_key?(key)
          virtual_write(key, value)
        else
          state.check_value(key, value)
          super
        end
        value
      end

      def fetch(key, default = Unspecified, &block)
        key = key.to_s
        return self[key] if (key == FLASH_KEY || virtual_key?(key)) && has_key?(key)

        super
      end

      def has_key?(key)
        key = key.to_s
        return flash_present? if key == FLASH_KEY
        return virtual_known?(key) if virtual_key?(key)

        super
      end
      alias key? has_key?
      alias include? has_key?

      def delete(key)
        key = key.to_s
        if key == FLASH_KEY
          old = flash_present? ? flash_read : nil
          flash_write(nil)
          return old
        end
        return virtual_delete(key) if virtual_key?(key)

        super
      end

      def update(hash)
        hash.to_hash.each { |k, v| self[k] = v }
        self
      end

      def merge!(other)
        update(other)
      end

      def clear
        load_for_write!
        state.clear
        @flash_read = true
        @flash_value = nil
      end

      # reset_session: a new id and an empty session now (see
      # RequestState#reset). Rails itself drops the request's flash.
      def destroy
        state.reset
        @flash_read = true
        @flash_value = nil
        @delegate = state.data
        @loaded = true
      end

      # Why the browser's previous session ended, when it came back revoked.
      def revoked_reason
        state.revoked_reason
      end

      private

      def load!
        state.ensure_loaded
        @delegate = state.data
        @loaded = true
      end

      # Reads bind to the request's state too (a LOAD only when the browser
      # sent a cookie): a helper may have logged in or created the session
      # before the first read.
      def load_for_read!
        load! unless loaded?
      end

      # Rails reads session["flash"] once per request that touches `flash`
      # (FlashHash.from_session_value): that read pops sessiond's queue.
      # Each message is the JSON text [key, value] (Flask's is [category,
      # message]: the same shape); a plain message becomes a notice.
      def flash_read
        unless @flash_read
          @flash_read = true
          flashes = {}
          state.pop_flash(FLASH_QUEUE).each do |text|
            key, value = Sessiond::Rails.decode_flash(text)
            flashes[key] = value
          end
          @flash_value = flashes.empty? ? nil : { "discard" => [], "flashes" => flashes }
        end
        @flash_value
      end

      # commit_flash writes what the next request must see (or nil): those
      # become this request's pending messages of the queue.
      def flash_write(value)
        @flash_read = true
        @flash_value = value
        flashes = {}
        if value.is_a?(Hash)
          flashes = (value["flashes"] || value[:flashes] || {}).to_h
          discard = Array(value["discard"] || value[:discard]).map(&:to_s)
          flashes = flashes.reject { |k, _| discard.include?(k.to_s) }
        end
        state.set_pending_flash(FLASH_QUEUE, flashes.map { |k, v| JSON.generate([k.to_s, v]) })
      end

      # Whether the session holds a flash for the next request. Before the
      # queue is popped, only this request's own messages count: Rails'
      # commit_flash asks key?("flash") at the end of every request, and a
      # waiting message must not be popped (lost) by a request that never
      # showed the flash.
      def flash_present?
        return !@flash_value.nil? if @flash_read

        state.loaded? && !state.pending_flash(FLASH_QUEUE).empty?
      end
    end

    # [key, value] of one message of the queue.
    def self.decode_flash(text)
      value = JSON.parse(text)
      return [value[0], value[1]] if value.is_a?(Array) && value.size == 2 && value[0].is_a?(String)

      ["notice", text]
    rescue JSON::ParserError
      ["notice", text] # flashed by a client that is not Rails
    end

    # What controllers (ActionController::Base and ::API) get: `sessiond`
    # (the request's Sessiond::Helpers, also in views) and HTTP answers for
    # sessiond's errors raised in actions. Declare your own rescue_from for
    # any of these classes to answer differently.
    module ControllerHelpers
      extend ActiveSupport::Concern

      included do
        rescue_from Sessiond::Unavailable, Sessiond::Conflict, Sessiond::TooLarge,
                    Sessiond::CsrfMismatch, Sessiond::LoginRequired, with: :sessiond_error_response
        helper_method :sessiond if respond_to?(:helper_method)
      end

      # The request's Sessiond::Helpers.
      def sessiond
        Sessiond::Rack.helpers(request.env)
      end

      private

      def sessiond_error_response(error)
        store = request.get_header(STORE_KEY)
        raise error if store.nil?

        status, headers, body = store.error_response(request, error)
        headers.each { |k, v| response.headers[k] = v unless k.casecmp?("Content-Length") }
        self.status = status
        self.response_body = body
      end
    end

    STORE_KEY = "sessiond.store"

    # Hooks the helpers into controllers when Rails boots.
    class Railtie < ::Rails::Railtie
      initializer "sessiond.controller_helpers" do
        ActiveSupport.on_load(:action_controller_base) { include Sessiond::Rails::ControllerHelpers }
        ActiveSupport.on_load(:action_controller_api) { include Sessiond::Rails::ControllerHelpers }
      end
    end if defined?(::Rails::Railtie)
  end
end

module ActionDispatch
  module Session
    # config.session_store :sessiond_store, options. Options (besides Rails'
    # cookie options, which must agree with sessiond's HELLO when given: key,
    # path, domain, secure, httponly, same_site, expire_after):
    #   client:    a Sessiond::Client (else one for endpoint: / timeout:,
    #              endpoint defaulting to $SESSIOND_ENDPOINT)
    #   user_keys: session keys holding the user id (["user_id",
    #              "warden.user.user.key"]: Devise's [[id], salt] works)
    #   logger:    a Logger (else Rails.logger)
    #   check_at_boot: ask HELLO when the middleware is built (default true;
    #              unreachable is not fatal, a mismatch is)
    #   import_cookie: the old cookie store's cookie ("_myapp_session", or
    #              {name:, format:, path:, domain:}): imported when a request
    #              brings it and no sessiond cookie (docs/migration.md)
    #   export_old_cookie: the rollback mode: each response with a sessiond
    #              session sets the old cookie to EXPORT's value
    class SessiondStore < AbstractSecureStore
      include Sessiond::StoreSupport

      def initialize(app, options = {})
        options = options.dup
        options[:logger] ||= ::Rails.logger if defined?(::Rails) && ::Rails.respond_to?(:logger)
        setup_sessiond(options, default_user_keys: Sessiond::StoreSupport::DEFAULT_USER_KEYS,
                                default_csrf_key: "_csrf_token")
        super(app, options)
      end

      def call(env)
        context(env)
      end

      def context(env, app = @app)
        sessiond_context(make_request(env), app)
      end

      # Rails 6.1 decodes session[:_csrf_token] as strict base64 of 32
      # bytes; sessiond's token is the same 32 bytes in base64url.
      def present_csrf(token)
        Base64.strict_encode64(Base64.urlsafe_decode64(token))
      end

      private

      def prepare_session(req)
        state_for(req)
        req.set_header(Sessiond::Rails::STORE_KEY, self)
        session_was = Request::Session.find(req)
        session = Sessiond::Rails::Session.new(self, req)
        session.merge!(session_was) if session_was
        Request::Session.set(req, session)
        Request::Session::Options.set(req, Request::Session::Options.new(self, @default_options))
        session
      end

      def session_exists?(req)
        !incoming_cookie(req).empty?
      end

      def extract_session_id(req)
        state = state_for(req)
        state.exists? ? Sessiond::Rack::SessionId.new(state.session_id, state.cookie) : nil
      end

      def find_session(req, _sid)
        state = state_for(req)
        state.ensure_loaded
        [extract_session_id(req), state.data]
      end

      def write_session(req, _sid, _session, _options)
        state_for(req).commit
        extract_session_id(req) || false
      end

      def delete_session(req, _sid, _options)
        state_for(req).reset
        extract_session_id(req)
      end

      # Rails' static error pages (public/503.html, ...) when the app has
      # them; else the built-in page.
      def default_error_response(req, status, error)
        if defined?(::Rails) && ::Rails.respond_to?(:public_path) && ::Rails.public_path &&
           !req.get_header("HTTP_ACCEPT").to_s.include?("application/json")
          page = ::Rails.public_path.join("#{status}.html")
          if page.file?
            body = page.read
            return [status, { "Content-Type" => "text/html; charset=utf-8",
                              "Content-Length" => body.bytesize.to_s, "Cache-Control" => "no-store" }, [body]]
          end
        end
        super
      end
    end
  end
end
