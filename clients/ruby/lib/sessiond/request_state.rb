# frozen_string_literal: true

# Sessiond::RequestState: one web request's view of one browser's session,
# the framework-neutral core of the Rack and Rails stores (the Ruby twin of
# clients/python/sessiond/state.py).
#
# It loads lazily (the first access does the LOAD), keeps the request's
# changes in a plain Hash (#data, which the framework's session object
# shares), and turns them into ONE COMMIT at the end of the request
# (#commit), so a request that fails half-way changes nothing. Only keys
# this request really changed are sent: values are compared with what was
# loaded (so in-place mutation counts), and two parallel requests that
# change different keys both land.
#
# The user keys. Rails apps log in by storing the user id under a key
# (session[:user_id], Devise's "warden.user.user.key" => [[id], salt]). Those
# keys stay ordinary data (so they read back with the type the app stored),
# and also drive sessiond's user: a request that sets one to a new user
# commits with LOGIN(id) first (new id, CSRF token rotated, data kept); a
# request that deletes it ends the session (LOGOUT) and carries its
# remaining data into a fresh anonymous one. Reading it gives sessiond's
# user id when the stored value does not say otherwise.
#
# Values are stored as JSON text; a stored value that is not JSON (written
# by another client) reads back as the plain string.
#
# Owned by the request's thread; not thread-safe (a request is one thread).

require "json"
require "uri"
require_relative "errors"
require_relative "protocol"

module Sessiond
  # The old framework's session cookie a store imports (IMPORT) when a request
  # carries it and no sessiond cookie (docs/migration.md): its name, format
  # ("rails", "flask", "pyramid" or "django", as in sessiond's
  # [import.<format>]), and the path and domain it was set with (to delete it).
  ImportCookie = Struct.new(:name, :format, :path, :domain, keyword_init: true) do
    FORMATS = %w[rails flask pyramid django].freeze
    NAME = /\A[!#-'*+.0-9A-Z^-z|~-]+\z/.freeze

    # From a store's import_cookie: option: a name, or a Hash with :name,
    # :format, :path, :domain; nil or "" for none. Raises ConfigurationError.
    def self.from_option(option, default_format)
      return nil if option.nil? || option == "" || option == false

      o = option.is_a?(Hash) ? option.transform_keys(&:to_sym) : { name: option }
      ic = new(name: o[:name].to_s, format: (o[:format] || default_format).to_s,
               path: (o[:path] || "/").to_s, domain: o[:domain].to_s)
      unless FORMATS.include?(ic.format)
        raise ConfigurationError, "import_cookie: format #{ic.format.inspect} is not one sessiond " \
                                  "imports (#{FORMATS.join(", ")})"
      end
      raise ConfigurationError, "import_cookie: #{ic.name.inspect} is not a cookie name" unless NAME.match?(ic.name)

      ic.freeze
    end

    # A Set-Cookie value deleting the old cookie: same name, path and domain,
    # empty, Max-Age=0 and an Expires in the past.
    def deletion
      parts = ["#{name}=", "path=#{path}", "max-age=0", "expires=Thu, 01 Jan 1970 00:00:00 GMT"]
      parts << "domain=#{domain}" unless domain.empty?
      parts.join("; ")
    end

    # The value as the browser sent it (IMPORT takes it so; Rack's
    # req.cookies has it unescaped): the first "name=" of the Cookie header.
    def raw_value(cookie_header)
      cookie_header.to_s.split(/;\s*/).each do |pair|
        k, v = pair.split("=", 2)
        return v.to_s.strip if k.to_s.strip == name
      end
      nil
    end
  end

  # Whether value has the shape of a sessiond cookie (docs/token-format.md:
  # unpadded base64url of a token of version 1 and kind 1-3 whose 24-byte
  # header ends with the body's exact length). Used only when the old cookie
  # and sessiond's share a name, to tell which one came.
  def self.sessiond_cookie_shape?(value)
    return false unless value.is_a?(String) && value.length >= 32 && value.start_with?("AQ")
    return false unless value.match?(/\A[A-Za-z0-9_-]+\z/)

    raw = value.tr("-_", "+/").unpack1("m")
    raw.bytesize >= 24 && raw.getbyte(0) == 1 && [1, 2, 3].include?(raw.getbyte(1)) &&
      raw.byteslice(22, 2).unpack1("n") == raw.bytesize - 24
  rescue ArgumentError
    false
  end

  class RequestState
    KEY_PATTERN = /\A[!-~]{1,128}\z/.freeze # printable ASCII, no space
    # Values that cannot change in place: the very object loaded is unchanged.
    IMMUTABLE = [Integer, Float, TrueClass, FalseClass, NilClass, Symbol].freeze

    # Raises ArgumentError unless key is a valid sessiond data key.
    def self.check_key(key)
      return if key.is_a?(String) && KEY_PATTERN.match?(key)

      raise ArgumentError, "invalid session key #{key.inspect}: 1-128 printable ASCII " \
                           "characters without spaces"
    end

    def self.encode(value)
      JSON.generate(value)
    end

    def self.decode(text)
      JSON.parse(text)
    rescue JSON::ParserError
      text
    end

    # The user id a watched key's value names: the innermost first element
    # (Devise keeps [[id], salt]), as a String; nil when there is none.
    def self.user_id_of(value)
      value = value.first while value.is_a?(Array)
      return nil if value.nil? || value == false

      id = value.to_s
      id.empty? ? nil : id
    end

    attr_reader :client, :ip, :user_agent, :user_keys, :cookie_error,
                :set_cookie, :incoming_cookie, :data, :import_cookie,
                :import_outcome, :import_error, :import_report

    # client:     a Sessiond::Client (shared, thread-safe).
    # cookie:     the cookie value the browser sent (nil or "" for none), or a
    #             callable returning it at the first load (so the store can
    #             learn the cookie's name from HELLO first).
    # ip, user_agent: metadata recorded by CREATE and LOGIN.
    # user_keys:  the session keys that hold the user id, first preferred.
    # logger:     where "cookie not accepted" goes (info).
    # import_cookie: an ImportCookie to import when no sessiond cookie came,
    #             old_cookie its value as the browser sent it (or a callable).
    def initialize(client, cookie = nil, ip: nil, user_agent: nil,
                   user_keys: [], logger: nil, import_cookie: nil, old_cookie: nil)
      @client = client
      @ip = ip
      @user_agent = user_agent
      @user_keys = user_keys.map(&:to_s).freeze
      @logger = logger
      @cookie_source = cookie
      @incoming_cookie = cookie.is_a?(String) ? cookie : ""
      @cookie = @incoming_cookie # "" = no server-side session
      @cookie_error = nil
      @accessed = false
      @loaded = false
      @session = nil # Session of the last server reply
      @base_version = 0
      @raw = {}           # key -> stored String, as the server has it
      @loaded_values = {} # key -> decoded value at load (identity fast path)
      @virtual = {}       # user key -> value shown but not stored
      @data = {}          # key -> current value: the app's view
      @server_flash = []  # [FlashMessage] in the server's queues, as known
      @pending_flash = [] # [[queue, message]] to append at commit
      @set_cookie = nil
      @created_here = false
      @cookie_changed = false
      @ended = false
      @renew = false
      @drop = false
      @import_cookie = import_cookie
      @old_cookie_source = import_cookie ? old_cookie : nil
      # :imported (the session is the old cookie's), :refused (anonymous),
      # nil (no import tried, or sessiond could not answer: keep the old one).
      @import_outcome = nil
      @import_error = nil
      @import_report = nil
    end

    # -- loading ---------------------------------------------------------

    # LOADs the session on first use. An InvalidCookie makes it a new, empty
    # session (#cookie_error says why); Unavailable propagates.
    def ensure_loaded
      @accessed = true
      return if @loaded

      if @cookie_source.respond_to?(:call)
        @incoming_cookie = @cookie_source.call.to_s
        @cookie = @incoming_cookie
        @cookie_source = nil
      end
      old = old_cookie_value
      if old
        begin
          import_old(old)
        rescue Unavailable
          @old_cookie_source = old # not loaded: a later access tries again
          raise
        end
      elsif !@cookie.empty?
        begin
          adopt(@client.load(@cookie))
        rescue InvalidCookie => e
          note_invalid(e)
          @cookie = ""
          @ended = true
        end
      end
      @loaded = true
    end

    def loaded?
      @loaded
    end

    def accessed?
      @accessed
    end

    # -- facts -----------------------------------------------------------

    # Whether a server-side session exists for this request now.
    def exists?
      ensure_loaded
      !@cookie.empty?
    end

    # True when the browser brought no valid session.
    def new?
      ensure_loaded
      @cookie.empty? || @created_here
    end

    # The logged-in user's id ("" when anonymous), counting a user set in
    # this request (logged in at commit).
    def user_id
      ensure_loaded
      case (change = pending_user)
      when :logout then ""
      when nil then server_user
      else change
      end
    end

    # Makes sure a server-side session exists (CREATE if there is none).
    def ensure_created
      ensure_loaded
      rebase(@client.create(ip: @ip, user_agent: @user_agent)) if @cookie.empty?
    end

    # The server-side session id ("" when there is none, or in client mode).
    def session_id
      ensure_loaded
      @cookie.empty? || @session.nil? ? "" : @session.id
    end

    # The Session last received, or nil.
    def info
      ensure_loaded
      @cookie.empty? ? nil : @session
    end

    # Why the browser's session ended when its cookie came back REVOKED and
    # the server said why ("logout", "signed_out_elsewhere",
    # "password_changed", "admin", ...); else nil.
    def revoked_reason
      @cookie_error.is_a?(Revoked) ? @cookie_error.reason : nil
    end

    def revoked_at
      @cookie_error.is_a?(Revoked) ? @cookie_error.revoked_at : nil
    end

    # The cookie value the browser holds after this request ("" for none).
    def cookie
      @cookie
    end

    # Whether a verb of this request gave the browser a new cookie value.
    def cookie_changed?
      @cookie_changed
    end

    # Whether the browser's cookie names no session any more (logged out,
    # or not accepted at load) and no new one replaced it: the response
    # should delete the cookie.
    def ended?
      @ended && @cookie.empty?
    end

    # Whether #commit would send anything.
    def modified?
      return false unless @loaded
      return true if @renew || @drop || pending_user

      to_set, to_erase = changes
      !(to_set.empty? && to_erase.empty? && @pending_flash.empty?)
    end

    # -- data ------------------------------------------------------------

    # Validates now (not at commit): ArgumentError for a key sessiond
    # refuses, JSON::GeneratorError for a value JSON cannot hold.
    def check_value(key, value)
      RequestState.check_key(key)
      RequestState.encode(value)
    end

    # The live Hash of current values (changes to it are committed).
    def data!
      ensure_loaded
      @data
    end

    # Forgets every value and flash of this request (Rack's #clear); a
    # logged-in session then ends at commit (its user key is gone).
    def clear
      ensure_loaded
      @data.clear
      @pending_flash.clear
    end

    # -- flash -----------------------------------------------------------

    # Queues a flash message (a String); it is appended by the commit.
    def flash(message, queue = "")
      raise TypeError, "flash messages are Strings (encode others)" unless message.is_a?(String)

      ensure_loaded
      @pending_flash << [queue.to_s, message]
    end

    # This request's not yet committed messages of one queue.
    def pending_flash(queue = "")
      ensure_loaded
      @pending_flash.filter_map { |q, m| m if q == queue }
    end

    # Replaces this request's not yet committed messages of one queue.
    def set_pending_flash(queue, messages)
      ensure_loaded
      messages.each do |m|
        raise TypeError, "flash messages are Strings" unless m.is_a?(String)
      end
      @pending_flash = @pending_flash.reject { |q, _| q == queue } + messages.map { |m| [queue, m] }
    end

    # Whether the loaded session had messages waiting in the queue.
    def server_flash?(queue = "")
      ensure_loaded
      @server_flash.any? { |f| f.queue == queue }
    end

    # The queue's messages (waiting on the server, plus this request's),
    # not removed.
    def peek_flash(queue = "")
      ensure_loaded
      @server_flash.filter_map { |f| f.message if f.queue == queue } + pending_flash(queue)
    end

    # Removes and returns the queue's messages, oldest first. The server's
    # pop (FLASH) is atomic: each message goes to exactly one request even
    # when two race. Skipped when the loaded session had nothing there (a
    # message flashed meanwhile by a parallel request shows next time).
    def pop_flash(queue = "")
      ensure_loaded
      messages = pop_server_flash(queue)
      messages.concat(pending_flash(queue))
      @pending_flash = @pending_flash.reject { |q, _| q == queue }
      messages
    end

    # -- CSRF ------------------------------------------------------------

    # The session's CSRF token; creates the session if needed (sessiond
    # issues the token).
    def csrf_token
      ensure_created
      @session.csrf_token
    end

    # The CSRF token when a server-side session exists, else nil.
    def existing_csrf_token
      ensure_loaded
      @cookie.empty? || @session.nil? ? nil : @session.csrf_token
    end

    # Whether token is this session's CSRF token (constant time).
    def valid_csrf_token?(token)
      expected = existing_csrf_token
      return false if expected.nil? || !token.is_a?(String) || token.empty?
      return false unless token.bytesize == expected.bytesize

      diff = 0
      expected.bytes.zip(token.bytes) { |a, b| diff |= a ^ b }
      diff.zero?
    end

    # CSRF_ROTATE: a new token (creating the session if there is none) ->
    # the new token. The old one stops matching at once.
    def rotate_csrf
      ensure_loaded
      return csrf_token if @cookie.empty?

      begin
        reply = @client.csrf_rotate(@cookie)
      rescue InvalidCookie => e
        note_invalid(e)
        drop_server_session(keep_changes: true)
        return csrf_token
      end
      take_cookie(reply)
      # The base version stays: COMMIT must still see conflicts on keys
      # changed since our LOAD (the rotation changed no key).
      @session = reply.session
      @session.csrf_token
    end

    # -- account verbs ---------------------------------------------------

    # LOGIN now: call after authenticating. New id, user set, CSRF token
    # rotated; data and this request's changes kept. InvalidArgument for a
    # bad user id.
    def login(user_id)
      ensure_loaded
      user_id = user_id.to_s
      key = @user_keys.first
      @data[key] = user_id if key && RequestState.user_id_of(first_user_value) != user_id
      do_login(user_id)
    end

    # LOGOUT now: destroys the session and this request's changes. Later
    # writes in this request start a new anonymous session.
    def logout
      ensure_loaded
      do_logout
      @data.clear
      @pending_flash.clear
    end

    # REGENERATE now: a new id, cookie and CSRF token for the same session
    # (user, data, flash and this request's changes kept); the old cookie
    # stops working. Nothing to do without a server-side session.
    def regenerate
      ensure_loaded
      return if @cookie.empty?

      begin
        reply = @client.regenerate(@cookie, ip: @ip, user_agent: @user_agent)
      rescue InvalidCookie => e
        note_invalid(e)
        drop_server_session(keep_changes: true)
        return
      end
      rebase(reply)
    end

    # Asks for a REGENERATE at commit (Rack's options[:renew]); a LOGIN at
    # commit regenerates anyway and makes it unnecessary.
    def renew!
      ensure_loaded
      @renew = true
    end

    # Asks for a LOGOUT at commit with nothing written (Rack's options[:drop]).
    def drop!
      ensure_loaded
      @drop = true
    end

    # The framework's "reset the session" (Rails reset_session, Rack's
    # session.destroy): a new id and an empty session, now. A logged-in
    # session is logged out (LOGOUT: the user goes with the data); an
    # anonymous one is regenerated (REGENERATE: new id and CSRF token, the
    # old cookie dead) and its data and waiting flash are dropped.
    def reset
      ensure_loaded
      unless @cookie.empty?
        if server_user.empty?
          begin
            regenerate
          rescue UnknownVerb
            do_logout # a server older than REGENERATE: the same outcome here
          end
          unless @cookie.empty?
            @server_flash.map(&:queue).uniq.each { |q| pop_server_flash(q) }
          end
        else
          do_logout
        end
      end
      @data.clear
      @pending_flash.clear
      @renew = false
    end

    # REVOKE_OTHERS: ends the user's other sessions -> how many (nil when
    # the server does not say). LoginRequired when anonymous.
    def revoke_others
      require_user("signing out other locations")
      result = @client.revoke_others(@cookie)
      rebase(result.reply) if result.reply
      result.ended
    end

    # LIST_SESSIONS: [Session] of the user, this one first (current), then
    # newest sign-in first. LoginRequired when anonymous.
    def list_sessions
      require_user("the devices list")
      sessions = @client.list_sessions(@cookie)
      # The server orders them so; sort_by keeps that promise with older
      # servers too (stable for equal keys thanks to the index).
      sessions.each_with_index.sort_by { |s, i| [s.current ? 0 : 1, -s.authenticated_at, i] }.map(&:first)
    end

    # BUMP_EPOCH (password changed): revokes every other session and token
    # of the user; this one is re-issued. LoginRequired when anonymous.
    def bump_epoch
      require_user("a password change")
      rebase(@client.bump_epoch(@cookie))
    end

    # -- end of request --------------------------------------------------

    # Ends the request: a LOGOUT or LOGIN for the user keys (or the renew /
    # drop asked for), then ONE COMMIT of the changes (creating the session
    # first if there is none). Returns the Set-Cookie value the response
    # must carry, or nil (verbs already done need theirs even when
    # nothing more is sent).
    #
    # Raises Conflict (nothing applied), TooLarge, Unavailable. A session
    # destroyed meanwhile is not an error: it stays destroyed and the
    # changes are dropped (#cookie_error says why).
    def commit
      return @set_cookie unless @loaded

      if @drop
        do_logout
        @data.clear
        @pending_flash.clear
        return @set_cookie
      end
      change = pending_user
      regenerate if @renew && change.nil?
      @renew = false
      if change == :logout
        do_logout(keep_changes: true) # the rest goes to a new session
      elsif change
        do_login(change)
      end
      commit_changes
      @set_cookie
    rescue InvalidCookie => e
      @cookie_error = e
      @set_cookie
    end

    # The COMMIT part of #commit: only the data and flash changes. Raises
    # InvalidCookie when the session was destroyed meanwhile.
    def commit_changes
      to_set, to_erase = changes
      return if to_set.empty? && to_erase.empty? && @pending_flash.empty?

      if @cookie.empty?
        adopt_created(@client.create(ip: @ip, user_agent: @user_agent))
        to_set, to_erase = changes
      end
      reply = @client.commit(@cookie, @base_version, set: to_set, erase: to_erase,
                                                     flash: @pending_flash)
      @pending_flash = []
      adopt(reply)
    end

    # ({key => encoded} to set, [keys] to erase) since the load.
    def changes
      to_set = {}
      @data.each do |key, value|
        if @virtual.key?(key)
          shown = @virtual[key]
          next if value.equal?(shown) || value == shown
        end
        stored = @raw[key]
        if stored
          next if value.equal?(@loaded_values.fetch(key) { Object.new }) && IMMUTABLE.include?(value.class)

          text = RequestState.encode(value)
          next if text == stored || text == RequestState.encode(RequestState.decode(stored))

          to_set[key] = text
        else
          RequestState.check_key(key)
          to_set[key] = RequestState.encode(value)
        end
      end
      to_erase = @raw.keys.reject { |key| @data.key?(key) }
      [to_set, to_erase]
    end

    # Whether the response must delete the old cookie (after an import or a
    # refusal; not when sessiond could not answer). Under sessiond's own
    # name, path and domain the sessiond cookie set in the response replaces
    # it instead.
    def delete_old_cookie?(settings)
      return false if @import_cookie.nil? || @import_outcome.nil?

      ic = @import_cookie
      !(@set_cookie && ic.name == settings.name && ic.path == settings.path.to_s &&
        ic.domain == settings.domain.to_s)
    end

    private

    # The old cookie to import, or nil: only when no sessiond cookie came;
    # under a shared name the one value is the old cookie unless it is
    # shaped like a sessiond cookie.
    def old_cookie_value
      source = @old_cookie_source
      @old_cookie_source = nil
      return nil if @import_cookie.nil? || source.nil?

      old = (source.respond_to?(:call) ? source.call : source).to_s
      return nil if old.empty?

      unless @cookie.empty?
        return nil if Sessiond.sessiond_cookie_shape?(@cookie) || !same_cookie?(old, @cookie)

        @cookie = @incoming_cookie = ""
      end
      old
    end

    # The old value (raw) and the sessiond cookie (as Rack read it) are one
    # cookie when the names are shared: equal once unescaped.
    def same_cookie?(raw, value)
      raw == value || URI.decode_www_form_component(raw) == value
    rescue StandardError
      false
    end

    def import_old(old)
      ic = @import_cookie
      begin
        result = @client.import_cookie(ic.format, old, ip: @ip, user_agent: @user_agent)
      rescue InvalidCookie, TooLarge => e
        @import_outcome = :refused
        @import_error = e
        reason = e.details.is_a?(Hash) ? e.details["reason"] : nil
        @logger&.info("sessiond: old #{ic.format} cookie #{ic.name.inspect} not imported " \
                      "(#{e.code}#{reason ? ", #{reason}" : ""}); anonymous request, the old cookie is deleted")
        return
      rescue InvalidArgument => e
        @import_error = e
        @logger&.error("sessiond: cannot import the old #{ic.format} cookie #{ic.name.inspect}: " \
                       "#{e.message} (is [import.#{ic.format}] in sessiond's configuration?)")
        return
      end
      @import_outcome = :imported
      @import_report = result.report
      adopt(result.reply)
      @cookie_changed = true
      @created_here = false unless result.created?
    end

    def note_invalid(error)
      @cookie_error = error
      # info, not warning: every expired or logged-out browser does this.
      @logger&.info("sessiond: session cookie not accepted (#{error.code}); " \
                    "starting a new anonymous session")
    end

    def server_user
      @cookie.empty? || @session.nil? ? "" : @session.user_id
    end

    # The first watched key present in the data, its value (nil for none).
    def first_user_value
      key = @user_keys.find { |k| @data.key?(k) }
      key && @data[key]
    end

    # What the user keys ask of the commit: nil (nothing), :logout, or the
    # user id to LOGIN.
    def pending_user
      return nil if @user_keys.empty?

      have = server_user
      key = @user_keys.find { |k| @data.key?(k) }
      want = key && RequestState.user_id_of(@data[key])
      if want.nil?
        have.empty? ? nil : :logout
      else
        want == have ? nil : want
      end
    end

    def take_cookie(reply)
      @cookie_changed = true if reply.cookie != @cookie
      @cookie = reply.cookie
      @set_cookie = reply.set_cookie unless reply.set_cookie.empty?
      @ended = false unless @cookie.empty?
    end

    # Takes a server reply as the new base: cookie, version, data.
    def adopt(reply)
      take_cookie(reply)
      session = reply.session
      @session = session
      @base_version = session.version
      @raw = session.data
      @loaded_values = @raw.transform_values { |v| RequestState.decode(v) }
      @data.replace(@loaded_values)
      @virtual = {}
      reconcile_user_keys(session.user_id)
      @server_flash = session.flash.dup
      @created_here = true if session.new
    end

    # Makes the watched keys agree with sessiond's user (the truth): shown
    # when absent, corrected when they name someone else, hidden when the
    # session is anonymous.
    def reconcile_user_keys(user)
      return if @user_keys.empty?

      if user.empty?
        @user_keys.each { |k| @data.delete(k) }
        return
      end
      present = @user_keys.select { |k| @data.key?(k) }
      if present.empty?
        @virtual[@user_keys.first] = user
        @data[@user_keys.first] = user
      else
        present.each do |k|
          next if RequestState.user_id_of(@data[k]) == user

          @virtual[k] = user
          @data[k] = user
        end
      end
    end

    # Adopts a reply that replaced the session (CREATE, LOGIN, REGENERATE,
    # BUMP_EPOCH, REVOKE_OTHERS in client mode) keeping this request's
    # uncommitted changes and its user keys.
    def rebase(reply)
      to_set, to_erase = changes
      users = @user_keys.select { |k| @data.key?(k) }.to_h { |k| [k, @data[k]] }
      adopt(reply)
      to_set.each { |k, text| @data[k] = RequestState.decode(text) }
      to_erase.each { |k| @data.delete(k) }
      users.each do |k, v|
        next unless RequestState.user_id_of(v) == @session.user_id

        @data[k] = v
        @virtual.delete(k) unless v == @virtual[k]
      end
    end

    def do_login(user_id)
      rebase(@client.login(@cookie, user_id, ip: @ip, user_agent: @user_agent))
    end

    def do_logout(keep_changes: false)
      unless @cookie.empty?
        begin
          reply = @client.logout(@cookie)
          @set_cookie = reply.set_cookie unless reply.set_cookie.empty?
        rescue InvalidCookie
          nil # already gone
        end
      end
      drop_server_session(keep_changes: keep_changes)
    end

    # Forgets the server-side session: with keep_changes, what the data
    # holds now (but the user keys) becomes this request's changes for a
    # fresh one.
    def drop_server_session(keep_changes: false)
      @cookie = ""
      @ended = true
      @session = nil
      @base_version = 0
      @raw = {}
      @loaded_values = {}
      @virtual = {}
      @server_flash = []
      @created_here = false
      if keep_changes
        @user_keys.each { |k| @data.delete(k) }
      else
        @data.clear
        @pending_flash.clear
      end
    end

    # Keeps the data (all of it is now a change against the empty new
    # session) but takes the cookie and version.
    def adopt_created(reply)
      take_cookie(reply)
      @session = reply.session
      @base_version = reply.session.version
      @raw = reply.session.data
      @loaded_values = {}
      @created_here = true
    end

    def pop_server_flash(queue)
      return [] if @cookie.empty? || @server_flash.none? { |f| f.queue == queue }

      begin
        result = @client.pop_flash(@cookie, queue)
      rescue InvalidCookie
        @server_flash = []
        return [] # destroyed meanwhile: nothing to show
      end
      # Keep the loaded base (and its version): the pop changed only the
      # queue, and COMMIT must still see conflicts on keys since our LOAD.
      take_cookie(result.reply)
      @server_flash = result.reply.session.flash.dup
      result.messages
    end

    def require_user(what)
      ensure_loaded
      return unless server_user.empty?

      raise LoginRequired, "#{what} needs a logged-in user"
    end
  end
end
