# frozen_string_literal: true

# Sessiond::StoreSupport: what the Rack store and the Rails store share, mixed
# into both (each on its own framework base class):
#   - the client and the options (user keys, CSRF key, logger);
#   - the cookie's name and attributes from HELLO, asked once per process
#     and cached, reconciled with what the app set (a mismatch is a
#     ConfigurationError naming both);
#   - one RequestState per request (env["sessiond.state"]);
#   - the request cycle: errors of the first session access and of the final
#     commit mapped onto HTTP (Unavailable 503 with Retry-After, Conflict 409,
#     TooLarge 500, CsrfMismatch 403, LoginRequired 401), the latest
#     Set-Cookie of sessiond added to the response.

require "logger"
require_relative "client"
require_relative "request_state"
require_relative "helpers"

module Sessiond
  module StoreSupport
    STATE_KEY = "sessiond.state"
    ERROR_KEY = "sessiond.error"
    DEFAULT_USER_KEYS = ["user_id", "warden.user.user.key"].freeze
    # The options of ours, taken out before the framework sees the rest.
    OWN_OPTIONS = %i[client endpoint timeout user_keys csrf_key logger
                     check_at_boot error_app import_cookie export_old_cookie].freeze
    # App options that HELLO decides; compared when the app sets them.
    COOKIE_OPTIONS = %i[key path domain secure httponly same_site expire_after].freeze

    STATUS_TEXT = {
      401 => ["Unauthorized", "Please sign in first."],
      403 => ["Forbidden", "The form was stale or forged (CSRF token missing or wrong). " \
                           "Please reload the page and try again."],
      409 => ["Conflict", "Your session was changed by another request at the same time. " \
                          "Please reload and try again."],
      500 => ["Internal Server Error", "The session could not be saved: it holds more data " \
                                       "than sessiond allows."],
      503 => ["Service Unavailable", "The session service is not reachable right now. " \
                                     "Please try again in a moment."]
    }.freeze

    # The cookie as this process uses it: HELLO's, or (a server older than
    # HELLO) the app's own options.
    Settings = Struct.new(:name, :path, :domain, :secure, :same_site, :http_only,
                          :max_age, :hello, keyword_init: true) do
      # A Set-Cookie value that deletes the cookie (for a cookie sessiond
      # refused: no reply carries a deletion then).
      def deletion
        parts = ["#{name}=", "Path=#{path}", "Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        parts << "Domain=#{domain}" unless domain.to_s.empty?
        parts << "Secure" if secure
        parts << "HttpOnly" if http_only
        parts << "SameSite=#{same_site}" unless same_site.to_s.empty?
        parts.join("; ")
      end
    end

    attr_reader :client, :user_keys, :csrf_key

    # Takes our options out of options (which the framework then gets).
    def setup_sessiond(options, default_user_keys:, default_csrf_key:)
      own = OWN_OPTIONS.to_h { |k| [k, options.delete(k)] }
      @client = own[:client] || Client.new(own[:endpoint] || ENV.fetch("SESSIOND_ENDPOINT", DEFAULT_ENDPOINT),
                                           timeout: own[:timeout] || DEFAULT_TIMEOUT)
      @user_keys = Array(own[:user_keys] || default_user_keys).map(&:to_s).freeze
      @csrf_key = (own[:csrf_key] || default_csrf_key)&.to_s
      @sessiond_logger = own[:logger]
      @error_app = own[:error_app]
      @import_cookie = ImportCookie.from_option(own[:import_cookie], "rails")
      @export_old_cookie = own[:export_old_cookie] ? true : false
      raise ConfigurationError, "export_old_cookie: needs import_cookie:" if @export_old_cookie && @import_cookie.nil?
      @explicit_cookie = COOKIE_OPTIONS.each_with_object({}) do |k, h|
        h[k] = options[k] if options.key?(k)
      end
      @settings = nil
      @settings_mutex = Mutex.new
      @warned = {}
      check_at_boot if own.fetch(:check_at_boot, true) != false
    end

    def sessiond_logger
      @sessiond_logger ||= Logger.new($stderr, progname: "sessiond")
    end

    # The cookie settings, from HELLO on first use (then cached). Raises
    # Unavailable while sessiond cannot answer (the request gets a 503 and the
    # next one asks again), ConfigurationError when the app's options
    # disagree with sessiond's.
    def sessiond_settings
      @settings || @settings_mutex.synchronize { @settings ||= fetch_settings }
    end

    # The RequestState of this request (made on first use).
    def state_for(req)
      req.get_header(STATE_KEY) || begin
        state = RequestState.new(
          @client, -> { req.cookies[sessiond_settings.name] },
          # Rails' remote_ip follows trusted proxies (ActionDispatch::RemoteIp).
          ip: req.respond_to?(:remote_ip) ? req.remote_ip : req.ip,
          user_agent: req.user_agent, user_keys: @user_keys,
          logger: sessiond_logger, import_cookie: @import_cookie,
          old_cookie: @import_cookie && -> { @import_cookie.raw_value(req.get_header("HTTP_COOKIE")) }
        )
        req.set_header(STATE_KEY, state)
        state
      end
    end

    # The helpers of this request (devices, sign out others, ...).
    def helpers_for(req)
      Helpers.new(state_for(req))
    end

    # The cookie value the browser sent, without any I/O but HELLO's.
    def incoming_cookie(req)
      req.cookies[sessiond_settings.name].to_s
    end

    # The whole request: the app, then the one commit. Errors of the first
    # session access (in the app) and of the commit become HTTP answers.
    def sessiond_context(req, app)
      prepare_session(req)
      begin
        status, headers, body = app.call(req.env)
      rescue Unavailable, Conflict, TooLarge, CsrfMismatch, LoginRequired => e
        status, headers, body = error_response(req, e)
      end
      finish(req, status, headers, body)
    end

    # The HTTP answer for a sessiond error: an error_app's (Rack option),
    # else a small page (HTML, or JSON when the client asks for JSON).
    def error_response(req, error)
      status = error_status(error)
      log_error(error, status)
      req.set_header(ERROR_KEY, error)
      status, headers, body = if @error_app
                                @error_app.call(req.env)
                              else
                                default_error_response(req, status, error)
                              end
      headers = Hash[headers.to_a]
      if status.to_i == 503
        headers["Retry-After"] ||= "5"
        headers["Cache-Control"] = "no-store"
      end
      [status, headers, body]
    end

    def error_status(error)
      case error
      when Unavailable then 503
      when Conflict then 409
      when TooLarge then 500
      when CsrfMismatch then 403
      when LoginRequired then 401
      else 500
      end
    end

    private

    def check_at_boot
      sessiond_settings
    rescue Unavailable => e
      # Not fatal: a store may start before sessiond does. The first
      # request asks again (and is answered 503 while sessiond is down).
      sessiond_logger.warn("sessiond: no HELLO at start (#{e.message}); will ask again on the first request")
    end

    def fetch_settings
      hello = begin
        @client.hello
      rescue UnknownVerb
        nil
      end
      if hello.nil?
        warn_once(:no_hello, "sessiond: the server does not know HELLO (older than this client); " \
                             "using the app's cookie options or their defaults")
        return fallback_settings
      end
      reconcile(hello)
      c = hello.cookie
      Settings.new(name: c.name, path: c.path, domain: c.domain, secure: c.secure,
                   same_site: c.same_site, http_only: c.http_only, max_age: c.max_age, hello: hello)
    end

    def fallback_settings
      e = @explicit_cookie
      Settings.new(name: (e[:key] || "sessiond").to_s, path: (e[:path] || "/").to_s,
                   domain: e[:domain].to_s, secure: e.fetch(:secure, true) ? true : false,
                   same_site: same_site_text(e.fetch(:same_site, :lax)) || "",
                   http_only: e.fetch(:httponly, true) ? true : false,
                   max_age: e[:expire_after]&.to_i, hello: nil)
    end

    # One source of truth: the app may repeat sessiond's cookie settings,
    # not contradict them.
    def reconcile(hello)
      c = hello.cookie
      mismatches = []
      @explicit_cookie.each do |option, value|
        ours, theirs, where = case option
                              when :key then [value.to_s, c.name, "[cookie] name"]
                              when :path then [value.to_s, c.path, "[cookie] path"]
                              when :domain then [value.to_s, c.domain.to_s, "[cookie] domain"]
                              when :secure then [value ? true : false, c.secure, "[cookie] secure"]
                              when :httponly then [value ? true : false, c.http_only, "[cookie] http_only"]
                              when :same_site
                                next if value.respond_to?(:call) # Rails' per-request default

                                [same_site_text(value), c.same_site, "[cookie] same_site"]
                              when :expire_after
                                [value&.to_i, c.max_age, "[session] lifetime / [cookie] max_age"]
                              end
        next if ours.to_s.casecmp?(theirs.to_s)

        mismatches << "#{option}: #{ours.inspect} (the app) but #{theirs.inspect} (sessiond's HELLO, #{where})"
      end
      return if mismatches.empty?

      raise ConfigurationError,
            "sessiond store: the app's session options disagree with sessiond #{@client.endpoint}: " \
            "#{mismatches.join("; ")}. sessiond renders the cookie: drop these options from the app " \
            "or set the same values in sessiond.conf."
    end

    def same_site_text(value)
      case value
      when nil, false then nil
      when true then "Strict" # as Rack renders true
      else
        text = value.to_s
        text.empty? ? nil : text.capitalize
      end
    end

    # After the app: the commit (unless skipped), the cookie, and the error
    # answer when the commit fails.
    def finish(req, status, headers, body)
      state = req.get_header(STATE_KEY)
      return [status, headers, body] if state.nil?

      options = req.get_header(::Rack::RACK_SESSION_OPTIONS) || {}
      unless options[:skip]
        warn_once(:expire_after, "sessiond: a per-request :expire_after is ignored; the lifetime is " \
                                 "sessiond's ([session] lifetime)") if per_request_expiry?(options)
        state.drop! if options[:drop]
        state.renew! if options[:renew] && !options[:drop]
        begin
          state.commit
        rescue Unavailable, Conflict, TooLarge => e
          body.close if body.respond_to?(:close)
          status, headers, body = error_response(req, e)
        end
      end
      headers = add_cookie(req, state, headers)
      [status, headers, body]
    end

    def per_request_expiry?(options)
      return false unless options[:expire_after] || options[:max_age]

      !@explicit_cookie.key?(:expire_after) || options[:expire_after] != @explicit_cookie[:expire_after]
    end

    def add_cookie(req, state, headers)
      line = state.set_cookie
      if line.nil? && state.ended? && !state.incoming_cookie.empty?
        line = sessiond_settings.deletion
      end
      old_line = @export_old_cookie ? rollback_line(req, state) : nil
      if old_line
        headers = add_set_cookie(headers, old_line)
      elsif state.import_outcome && state.delete_old_cookie?(sessiond_settings)
        headers = add_set_cookie(headers, state.import_cookie.deletion)
      end
      if state.accessed?
        vary = headers["Vary"].to_s
        headers["Vary"] = vary.empty? ? "Cookie" : "#{vary}, Cookie" unless vary.match?(/\bcookie\b/i)
      end
      return headers if line.nil?

      if !req.ssl? && line.match?(/;\s*Secure\b/i)
        warn_once(:insecure, "sessiond: a Secure cookie is being set on a plain-http request; browsers " \
                             "will not send it back. For development set [cookie] secure = false in sessiond.conf.")
      end
      add_set_cookie(headers, rack_style(line))
    end

    # The rollback mode (docs/migration.md, step 4): the browser's sessiond
    # session as the old framework's cookie (EXPORT), its deletion once the
    # session ended, or nil (nothing to say, or EXPORT cannot answer now: the
    # browser's old cookie stays). Never raises.
    def rollback_line(req, state)
      ic = @import_cookie
      settings = @settings
      return nil if settings.nil?
      if ic.name == settings.name
        warn_once(:rollback_name, "sessiond: export_old_cookie: #{ic.name.inspect} is sessiond's own cookie " \
                                  "name; nothing exported (the old app's cookie needs another name)")
        return nil
      end
      value = state.loaded? ? state.cookie : req.cookies[settings.name].to_s
      return state.ended? ? ic.deletion : nil if value.empty?

      out = @client.export_cookie(ic.format, value)
      expires_at = out.report["expires_at"]
      parts = ["#{ic.name}=#{out.cookie}", "path=#{ic.path}"]
      parts << "domain=#{ic.domain}" unless ic.domain.empty?
      parts << "max-age=#{[expires_at - Time.now.to_i, 0].max}" if expires_at.is_a?(Integer)
      parts << "secure" if settings.secure
      parts << "HttpOnly" if settings.http_only
      parts << "SameSite=#{settings.same_site}" unless settings.same_site.to_s.empty?
      parts.join("; ")
    rescue InvalidCookie
      ic.deletion # no session: none for the old app either
    rescue Unavailable => e
      sessiond_logger.warn("sessiond: old #{ic.format} cookie not exported (#{e.code})")
      nil
    rescue Error => e
      sessiond_logger.info("sessiond: old #{ic.format} cookie not exported (#{e.code}: #{e.message})")
      nil
    end

    def add_set_cookie(headers, line)
      existing = headers["Set-Cookie"]
      headers["Set-Cookie"] = case existing
                              when nil, "" then line
                              when Array then existing + [line]
                              else "#{existing}\n#{line}"
                              end
      headers
    end

    # Attribute names as Rack writes them (path=, domain=, expires=,
    # max-age=, secure). Browsers read them in any case (RFC 6265, 5.2);
    # rack-test 2.0, and so ActionDispatch::IntegrationTest, reads only
    # these spellings and would scope sessiond's "Path=/" cookie to the
    # request's directory.
    RACK_ATTRIBUTES = /\A(path|domain|expires|max-age|secure)(?==|\z)/i.freeze

    def rack_style(line)
      pair, *attributes = line.split(/;\s*/)
      return line if attributes.empty?

      attributes.map! { |a| a.sub(RACK_ATTRIBUTES) { |name| name.downcase } }
      [pair, *attributes].join("; ")
    end

    def default_error_response(req, status, error)
      title, text = STATUS_TEXT.fetch(status, ["Error", error.message])
      text = "#{text} (#{error.message})" if status == 500 && !error.is_a?(TooLarge)
      if req.get_header("HTTP_ACCEPT").to_s.include?("application/json")
        body = JSON.generate("error" => title, "code" => error.code, "message" => text)
        type = "application/json"
      else
        body = "<!doctype html><title>#{title}</title><h1>#{status} #{title}</h1><p>#{text}</p>\n"
        type = "text/html; charset=utf-8"
      end
      [status, { "Content-Type" => type, "Content-Length" => body.bytesize.to_s,
                 "Cache-Control" => "no-store" }, [body]]
    end

    def log_error(error, status)
      case status
      when 503
        # While the breaker fails fast every request lands here: one line
        # per failure that touched the network, the rest at debug.
        if error.is_a?(CircuitOpen)
          sessiond_logger.debug("sessiond unavailable: #{error.message}")
        else
          sessiond_logger.warn("sessiond unavailable: #{error.message}")
        end
      when 500 then sessiond_logger.error("sessiond: the session could not be saved: #{error.message}")
      when 409 then sessiond_logger.info("sessiond: commit conflict: #{error.message}")
      else sessiond_logger.info("sessiond: #{error.message}")
      end
    end

    def warn_once(what, message)
      return if @warned[what]

      @warned[what] = true
      sessiond_logger.warn(message)
    end
  end
end
