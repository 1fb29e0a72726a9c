# frozen_string_literal: true

# Sessiond::Helpers: what a framework's session cannot express, for one
# request (the same helpers in every integration of this project): the user,
# login and logout, "your devices", sign out all other locations, password
# changed, flash, and the CSRF token. Rails controllers and views reach it as
# `sessiond`, Rack apps as Sessiond::Rack.helpers(env) (Sinatra: the
# Sessiond::Rack::Helpers mixin, also `sessiond`).
#
# The account helpers need a logged-in user and raise LoginRequired (HTTP
# 401 through the integrations) on an anonymous session, before any I/O.

require_relative "request_state"

module Sessiond
  # One entry of "your devices".
  Device = Struct.new(:id, :current, :ip, :user_agent, :created_at,
                      :authenticated_at, :last_seen_at, :expires_at,
                      keyword_init: true) do
    def self.from_session(s)
      new(id: s.id, current: s.current, ip: s.ip, user_agent: s.user_agent,
          created_at: s.created_at, authenticated_at: s.authenticated_at,
          last_seen_at: s.last_seen_at, expires_at: s.expires_at)
    end

    def current?
      current
    end
  end

  class Helpers
    attr_reader :state

    def initialize(state)
      @state = state
    end

    # The logged-in user's id, or nil.
    def user_id
      id = @state.user_id
      id.empty? ? nil : id
    end

    def logged_in?
      !user_id.nil?
    end

    # Logs user_id in now (LOGIN: new id, CSRF token rotated, data kept).
    # Call after checking the password. InvalidArgument for a bad id.
    def login(user_id)
      @state.login(user_id)
    end

    # Ends the session now (LOGOUT); later writes start a fresh one.
    def logout
      @state.logout
    end

    # The logged-in user's sessions -> [Device], this one first, then the
    # newest sign-in. LoginRequired when anonymous.
    def devices
      @state.list_sessions.map { |s| Device.from_session(s) }
    end

    # Ends every other session of the user -> how many ended (nil when the
    # server does not say, as in client mode). LoginRequired when anonymous.
    def sign_out_other_locations
      @state.revoke_others
    end

    # The user's password changed: every other session and token of the user
    # is revoked (BUMP_EPOCH); this one is re-issued. LoginRequired when
    # anonymous.
    def password_changed
      @state.bump_epoch
    end

    # Queues a flash message (a String) for the next request that reads the
    # queue. (Rails apps use Rails' own `flash`, which lands in the same
    # queue.)
    def flash(message, queue: "")
      @state.flash(message, queue)
    end

    # Removes and returns the queue's messages, oldest first: each message is
    # shown by exactly one request, even when two race.
    def flashes(queue: "")
      @state.pop_flash(queue)
    end

    # sessiond's CSRF token (creates the session when there is none).
    def csrf_token
      @state.csrf_token
    end

    def valid_csrf_token?(token)
      @state.valid_csrf_token?(token)
    end

    # Raises CsrfMismatch (HTTP 403) unless token is the session's.
    def verify_csrf_token!(token)
      raise CsrfMismatch, "CSRF token missing or wrong" unless valid_csrf_token?(token)
    end

    # A new CSRF token now (CSRF_ROTATE); the old one stops working.
    def rotate_csrf_token
      @state.rotate_csrf
    end

    # Why the browser's previous session ended ("signed_out_elsewhere",
    # "password_changed", "logout", "admin", ...), when its cookie came back
    # revoked in this request; else nil. For a "you were signed out" notice.
    def revoked_reason
      @state.revoked_reason
    end

    def revoked_at
      @state.revoked_at
    end

    # The Session of the last reply (times, metadata), or nil.
    def session_info
      @state.info
    end
  end
end
