# frozen_string_literal: true

# The Rack session store on sessiond (Rack::Session::Abstract::PersistedSecure),
# so any Rack app (Sinatra, Roda, plain Rack) gets env["rack.session"] on
# sessiond:
#
#   use Rack::Session::Sessiond, endpoint: "ipc:///run/sessiond/app.sock"
#   use Sessiond::Rack::Csrf          # optional: X-CSRF-Token on unsafe methods
#
# The session loads lazily; a request's changes go to sessiond as ONE COMMIT
# of the keys it changed; session.destroy is a new id and an empty session;
# options[:renew] regenerates the id (REGENERATE), options[:drop] logs out.
# session["user_id"] mirrors sessiond's user (setting it logs in, deleting
# it logs out); session["csrf"] (rack-protection's key) is sessiond's CSRF
# token. Sessiond::Rack.helpers(env) has the rest (devices, sign out others,
# password changed, flash, CSRF).

require "rack"
require "rack/session/abstract/id"
require_relative "../sessiond"
require_relative "store_support"

module Sessiond
  module Rack
    # A session id as Rack wants one: public_id is sessiond's session id (not
    # a credential: the cookie is), cookie_value the cookie.
    class SessionId < ::Rack::Session::SessionId
      attr_reader :cookie_value

      def initialize(public_id, cookie_value)
        super(public_id)
        @cookie_value = cookie_value
      end
    end

    # The keys that are not data: each maps onto something sessiond keeps.
    # Mixed into the Rack and Rails session classes, which define #state and
    # #sessiond_store.
    module VirtualKeys
      private

      def virtual_key?(key)
        key == sessiond_store.csrf_key
      end

      def virtual_read(key)
        sessiond_store.present_csrf(state.csrf_token)
      end

      def virtual_known?(key)
        state.exists?
      end

      # Writing another token (or nil) is the app's way to reset it: a new
      # one from sessiond (CSRF_ROTATE); sessiond cannot take an app's token.
      def virtual_write(key, value)
        current = state.existing_csrf_token
        return if current && value == sessiond_store.present_csrf(current)

        state.rotate_csrf
      end

      def virtual_delete(key)
        old = state.existing_csrf_token
        state.rotate_csrf if old
        old && sessiond_store.present_csrf(old)
      end
    end

    # env["rack.session"]: Rack's SecureSessionHash whose Hash is the
    # RequestState's own, so every Hash method works, with the CSRF key
    # mapped onto sessiond's token.
    class SessionHash < ::Rack::Session::Abstract::PersistedSecure::SecureSessionHash
      include VirtualKeys

      def state
        @state ||= @store.state_for(@req)
      end

      def sessiond_store
        @store
      end

      # sessiond's session id (creates the session when there is none, as a
      # framework that makes up an id on first use does).
      def id
        state.ensure_created
        SessionId.new(state.session_id, state.cookie)
      end

      def [](key)
        key = key.to_s
        return virtual_read(key) if virtual_key?(key)
        return id.public_id if key == "session_id"

        super
      end

      def []=(key, value)
        key = key.to_s
        if virtual_key?(key)
          virtual_write(key, value)
          return value
        end

        state.check_value(key, value)
        super
      end
      alias store []=

      def fetch(key, default = Unspecified, &block)
        key = key.to_s
        return self[key] if virtual_key?(key) && virtual_known?(key)

        super
      end

      def has_key?(key)
        key = key.to_s
        return virtual_known?(key) if virtual_key?(key)

        super
      end
      alias key? has_key?
      alias include? has_key?

      def delete(key)
        key = key.to_s
        return virtual_delete(key) if virtual_key?(key)

        super
      end

      def update(hash)
        hash.to_hash.each { |k, v| self[k] = v }
        self
      end
      alias merge! update

      def replace(hash)
        load_for_write!
        state.data.clear
        update(hash)
      end

      def clear
        load_for_write!
        state.clear
      end

      # A new id and an empty session now (see RequestState#reset).
      def destroy
        state.reset
        @data = state.data
        @loaded = true
      end

      # Why the browser's previous session ended, when it came back revoked.
      def revoked_reason
        state.revoked_reason
      end

      private

      def load!
        state.ensure_loaded
        @data = state.data
        @loaded = true
      end

      # Reads bind to the request's state too (a LOAD only when the browser
      # sent a cookie): a helper may have logged in or created the session
      # before the first read.
      def load_for_read!
        load! unless loaded?
      end
    end

    # The Rack session store. Options (besides Rack's, which must agree with
    # sessiond's HELLO when given: key, path, domain, secure, httponly,
    # same_site, expire_after):
    #   client:    a Sessiond::Client (else one for endpoint: / timeout:,
    #              endpoint defaulting to $SESSIOND_ENDPOINT)
    #   user_keys: session keys that hold the user id (["user_id"])
    #   csrf_key:  the session key that reads sessiond's CSRF token ("csrf",
    #              rack-protection's), nil for none
    #   logger:    a Logger (else one on stderr)
    #   error_app: a Rack app answering sessiond errors (env["sessiond.error"]
    #              holds the error), else a small built-in page
    #   check_at_boot: ask HELLO now (default true; unreachable is not fatal)
    #   import_cookie: an old Rails cookie to import when a request brings it
    #              and no sessiond cookie (a name, or {name:, format:, path:,
    #              domain:}; docs/migration.md); export_old_cookie: true sets
    #              it back to EXPORT's value on each response (rollback)
    class Store < ::Rack::Session::Abstract::PersistedSecure
      include StoreSupport

      def initialize(app, options = {})
        options = options.dup
        setup_sessiond(options, default_user_keys: ["user_id"], default_csrf_key: "csrf")
        super(app, options)
      end

      def call(env)
        context(env)
      end

      def context(env, app = @app)
        sessiond_context(make_request(env), app)
      end

      # rack-protection's tokens are base64url without padding, as sessiond's.
      def present_csrf(token)
        token
      end

      private

      def prepare_session(req)
        state_for(req)
        super
      end

      def session_class
        SessionHash
      end

      def session_exists?(req)
        !incoming_cookie(req).empty?
      end

      def extract_session_id(req)
        state = state_for(req)
        state.exists? ? SessionId.new(state.session_id, state.cookie) : nil
      end

      # PersistedSecure's storage contract, for callers that use it directly;
      # the request cycle itself goes through StoreSupport#finish.
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
    end

    # CSRF protection for plain Rack apps: POST, PUT, PATCH and DELETE must
    # carry sessiond's token in the X-CSRF-Token header or the form field
    # `param`, or are answered 403 (CsrfMismatch through the store). Place it
    # after the store. skip_if: ->(env) { true } for requests that
    # authenticate otherwise.
    class Csrf
      SAFE_METHODS = %w[GET HEAD OPTIONS TRACE].freeze
      HEADER = "X-CSRF-Token"

      def initialize(app, param: "authenticity_token", skip_if: nil)
        @app = app
        @param = param
        @skip_if = skip_if
      end

      def call(env)
        unless SAFE_METHODS.include?(env["REQUEST_METHOD"]) || @skip_if&.call(env)
          token = env["HTTP_X_CSRF_TOKEN"]
          if token.nil? || token.empty?
            token = begin
              ::Rack::Request.new(env).POST[@param]
            rescue StandardError
              nil # an unreadable body carries no token
            end
          end
          Sessiond::Rack.helpers(env).verify_csrf_token!(token.to_s)
        end
        @app.call(env)
      end
    end

    # The request's Sessiond::Helpers. Raises unless the store is in front.
    def self.helpers(env)
      state = env[StoreSupport::STATE_KEY]
      raise ArgumentError, "no sessiond session store in front of this app" if state.nil?

      env["sessiond.helpers"] ||= Sessiond::Helpers.new(state)
    end

    # For Sinatra (`helpers Sessiond::Rack::AppHelpers`) and other apps with
    # an #env: `sessiond.user_id`, `sessiond.devices`, ...
    module AppHelpers
      def sessiond
        Sessiond::Rack.helpers(env)
      end
    end
  end
end

# Rack's naming for session stores (Rack::Session::Pool, ::Cookie, ...).
Rack::Session::Sessiond = Sessiond::Rack::Store
