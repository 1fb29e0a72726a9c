# frozen_string_literal: true

# Client and AdminClient: the SD1 verbs over ZeroMQ DEALER sockets (Debian's
# ruby-ffi-rzmq). One method per verb; #call for verbs newer than this file.
#
# Threads: share one Client per process. Each thread lazily gets its own
# DEALER socket, reused by that thread's later calls; no socket is touched by
# two threads. The sockets of threads that ended are closed when another
# thread next opens one (never by a GC finalizer: ffi-rzmq's, which we
# remove, calls zmq_close while the VM is exiting and crashes it now and
# then). After fork the child builds a fresh ZeroMQ context and sockets on
# first use (libzmq contexts do not survive fork).
#
# Timeouts: every call (or pipeline) has one deadline for sending and for all
# of its replies. When it passes, the thread's socket is closed and the call
# raises Timeout (an Unavailable); the next call builds a new socket, so a late
# reply can never be taken for the answer to a later request.
#
# Fast failure: a CircuitBreaker per client (see circuit_breaker.rb) turns
# calls into an immediate CircuitOpen while sessiond is unreachable.

require "ffi-rzmq"
require_relative "errors"
require_relative "protocol"
require_relative "circuit_breaker"

module Sessiond
  # sessiond's own default app socket (a socket file in its data directory,
  # relative to the directory both were started in). In production name it:
  # ipc:///run/sessiond/app.sock (the systemd unit), or tcp://HOST:PORT with
  # the CURVE keys.
  DEFAULT_ENDPOINT = "ipc://sessiond-data/app.sock"
  DEFAULT_TIMEOUT = 2.0 # seconds

  # libzmq pinned in memory. At exit Ruby-FFI dlcloses the libraries it
  # opened while libzmq's I/O threads (ZMQbg/IO, ZMQbg/Reaper) still run;
  # they then execute unmapped code and the exiting process dies of SIGSEGV
  # (seen under gdb). Reopening the library with RTLD_NODELETE makes that
  # dlclose a no-op; the threads end with the process.
  LIBZMQ_PIN = LibZMQ.ffi_libraries.map do |lib|
    FFI::DynamicLibrary.open(lib.name, FFI::DynamicLibrary::RTLD_LAZY | FFI::DynamicLibrary::RTLD_NODELETE)
  end.freeze

  # The process-wide ZeroMQ context, one per pid. Made with zmq_ctx_new
  # directly: ffi-rzmq's Context has a finalizer that terminates it, and a
  # context terminated while a socket still waits for its own finalizer
  # blocks the exiting process forever.
  module ZmqContext
    @mutex = Mutex.new
    @pointer = nil
    @pid = nil

    def self.pointer
      @mutex.synchronize do
        if @pid != Process.pid
          @pointer = LibZMQ.zmq_ctx_new
          raise TransportError, "zmq_ctx_new failed: #{ZMQ::Util.error_string}" if @pointer.null?

          @pid = Process.pid
        end
        @pointer
      end
    end
  end

  # One thread's DEALER socket, its poll item and its request-id counter.
  # Owned by exactly one thread (held in that thread's thread variable).
  class Connection
    attr_reader :pid

    def initialize(endpoint, curve)
      @socket = ZMQ::Socket.new(ZmqContext.pointer, ZMQ::DEALER)
      ObjectSpace.undefine_finalizer(@socket) # see the file's comment
      @pid = Process.pid
      @ptr = @socket.socket
      @next_id = 0
      setopt(ZMQ::LINGER, 0)
      # Reconnect quickly after sessiond restarts.
      setopt(ZMQ::RECONNECT_IVL, 100)
      setopt(ZMQ::RECONNECT_IVL_MAX, 1000)
      # libzmq parses an IPv6 address (tcp://[::1]:5555) only with IPV6 set.
      setopt(ZMQ::IPV6, 1) if endpoint.start_with?("tcp://[")
      if curve
        # Z85 keys are 40 characters; libzmq wants them NUL-terminated (41).
        setopt(ZMQ::CURVE_SERVERKEY, "#{curve[0]}\0", 41)
        setopt(ZMQ::CURVE_PUBLICKEY, "#{curve[1]}\0", 41)
        setopt(ZMQ::CURVE_SECRETKEY, "#{curve[2]}\0", 41)
      end
      check(LibZMQ.zmq_connect(@ptr, endpoint), "connect #{endpoint}")
      @item = LibZMQ::PollItem.new
      @item[:socket] = @ptr
      @msg = FFI::MemoryPointer.new(LibZMQ::Message.size)
    rescue StandardError
      close
      raise
    end

    def next_id
      (@next_id += 1).to_s
    end

    def closed?
      @socket.nil?
    end

    def close
      return if @socket.nil?

      # A child after fork must not touch its parent's sockets.
      @socket.close if @pid == Process.pid
      @socket = nil
    end

    # Sends one multipart message, waiting for room (high-water mark) until
    # the deadline. Raises Timeout or TransportError.
    def send_frames(frames, deadline)
      last = frames.size - 1
      frames.each_with_index do |f, i|
        flags = ZMQ::DONTWAIT
        flags |= ZMQ::SNDMORE if i < last
        loop do
          break if LibZMQ.zmq_send(@ptr, f, f.bytesize, flags) >= 0

          errno = LibZMQ.zmq_errno
          raise_errno(errno, "send") unless errno == ZMQ::EAGAIN || errno == ZMQ::EINTR
          # Only the first frame can block: once it is queued, ZeroMQ takes
          # the rest of the message atomically.
          raise Timeout, "could not send in time" unless wait(ZMQ::POLLOUT, deadline)
        end
      end
    end

    # Receives one whole multipart message before the deadline -> [String]
    # (binary). Raises Timeout or TransportError.
    def receive(deadline)
      loop do
        frames = try_receive
        return frames if frames
        raise Timeout, "no reply in time" unless wait(ZMQ::POLLIN, deadline)
      end
    end

    private

    def setopt(name, value, length = nil)
      check(@socket.setsockopt(name, value, length), "setsockopt #{name}")
    end

    def check(rc, what)
      raise_errno(LibZMQ.zmq_errno, what) if rc.negative?
    end

    def raise_errno(errno, what)
      message = LibZMQ.zmq_strerror(errno).read_string
      raise TransportError, "ZeroMQ #{what}: #{message}"
    end

    # nil when nothing is waiting. Multipart messages arrive whole, so once
    # the first frame is read the rest is there.
    def try_receive
      frames = []
      loop do
        LibZMQ.zmq_msg_init(@msg)
        if LibZMQ.zmq_msg_recv(@msg, @ptr, ZMQ::DONTWAIT).negative?
          errno = LibZMQ.zmq_errno
          LibZMQ.zmq_msg_close(@msg)
          return nil if frames.empty? && (errno == ZMQ::EAGAIN || errno == ZMQ::EINTR)

          raise_errno(errno, "receive")
        end
        size = LibZMQ.zmq_msg_size(@msg)
        frames << (size.zero? ? +"".b : LibZMQ.zmq_msg_data(@msg).read_string(size))
        more = LibZMQ.zmq_msg_more(@msg)
        LibZMQ.zmq_msg_close(@msg)
        return frames if more.zero?
      end
    end

    # Waits for an event until the deadline; false when the deadline passed.
    def wait(events, deadline)
      loop do
        remaining = deadline - Client.now
        return false if remaining <= 0

        @item[:events] = events
        @item[:revents] = 0
        rc = LibZMQ.zmq_poll(@item.pointer, 1, (remaining * 1000).ceil)
        if rc.negative?
          errno = LibZMQ.zmq_errno
          next if errno == ZMQ::EINTR

          raise_errno(errno, "poll")
        end
        return true if rc.positive?
      end
    end
  end

  # The app verbs, one method each. Subclasses say what #perform does: call
  # now (Client) or queue for a batch (Pipeline).
  module Verbs
    # PING -> "PONG".
    def ping
      perform("PING", [], :text)
    end

    # VERSION -> "sessiond 0.1.0-...".
    def version
      perform("VERSION", [], :text)
    end

    # HELLO -> Hello: protocol, server, mode, cookie name and attributes,
    # lifetime, idle timeout, data cap.
    def hello
      perform("HELLO", [], :hello)
    end

    # CREATE: a new anonymous session -> SessionReply (session.new).
    def create(ip: nil, user_agent: nil)
      perform("CREATE", [Protocol.metadata_frame(ip, user_agent)], :session)
    end

    # LOAD -> SessionReply. Raises an InvalidCookie subclass when the cookie
    # is no live session (treat the request as anonymous), Unavailable when
    # sessiond cannot answer.
    def load(cookie, ip: nil, user_agent: nil)
      args = [cookie]
      meta = Protocol.metadata_frame(ip, user_agent)
      args << meta if meta
      perform("LOAD", args, :session)
    end

    # COMMIT one change set atomically -> SessionReply.
    # set: {key => String}; erase: [key]; flash: [[queue, message]] or
    # [FlashMessage]. Raises Conflict (a key changed since base_version;
    # nothing applied), Revoked (destroyed meanwhile), TooLarge.
    def commit(cookie, base_version, set: nil, erase: nil, flash: nil)
      change = { "base_version" => Integer(base_version) }
      change["set"] = set.to_h { |k, v| [k.to_s, v.to_s] } if set && !set.empty?
      change["erase"] = erase.map(&:to_s) if erase && !erase.empty?
      change["flash"] = flash.map { |f| Verbs.flash_json(f) } if flash && !flash.empty?
      perform("COMMIT", [cookie, Protocol.json_frame(change)], :session)
    end

    # LOGIN: call after authenticating the user. New id, user set, CSRF token
    # rotated, data kept -> SessionReply with the new cookie. An empty or
    # invalid cookie starts a new logged-in session. InvalidArgument for a
    # bad user id.
    def login(cookie, user_id, ip: nil, user_agent: nil)
      args = [cookie.to_s, user_id.to_s]
      meta = Protocol.metadata_frame(ip, user_agent)
      args << meta if meta
      perform("LOGIN", args, :session)
    end

    # REGENERATE: a new cookie (new id in server and hybrid mode) and a new
    # CSRF token; user, data and flash kept; the old cookie stops working.
    def regenerate(cookie, ip: nil, user_agent: nil)
      args = [cookie]
      meta = Protocol.metadata_frame(ip, user_agent)
      args << meta if meta
      perform("REGENERATE", args, :session)
    end

    # LOGOUT: destroys the session -> LogoutReply (a Set-Cookie that deletes
    # the cookie).
    def logout(cookie)
      perform("LOGOUT", [cookie], :logout)
    end

    # FLASH: removes and returns one queue's messages -> FlashReply. In
    # server mode each message is returned by exactly one call, even under
    # races.
    def pop_flash(cookie, queue = "")
      perform("FLASH", [cookie, queue], :flash)
    end

    # CSRF_CHECK: nil when token is the session's; raises CsrfMismatch.
    def csrf_check(cookie, token)
      perform("CSRF_CHECK", [cookie, token.to_s], :nothing)
    end

    # CSRF_ROTATE: a new CSRF token -> SessionReply.
    def csrf_rotate(cookie)
      perform("CSRF_ROTATE", [cookie], :session)
    end

    # REVOKE_OTHERS ("sign out all other locations") -> RevokeOthersReply.
    # InvalidArgument for an anonymous session.
    def revoke_others(cookie)
      perform("REVOKE_OTHERS", [cookie], :revoke_others)
    end

    # LIST_SESSIONS ("your devices") -> [Session], the caller's own first
    # (marked current), then newest sign-in first.
    def list_sessions(cookie)
      perform("LIST_SESSIONS", [cookie], :session_list)
    end

    # BUMP_EPOCH (password changed): revokes every other session and token
    # of the user -> SessionReply re-issuing this one.
    def bump_epoch(cookie)
      perform("BUMP_EPOCH", [cookie], :session)
    end

    # Device-bound sessions (docs/dbsc.md; server and hybrid mode, client
    # mode raises InvalidArgument with details["reason"] == "client_mode").
    # A refused proof raises with details["proof"] (the reason); a binding
    # the session does not have NotFound with details["reason"] ==
    # "no_binding".

    # DBSC_OFFER: a registration challenge -> Hash "header" (the
    # Secure-Session-Registration value), "challenge", "expires_at".
    def dbsc_offer(cookie, path: nil, algorithms: nil, authorization: false)
      options = {}
      options["path"] = path if path
      options["algorithms"] = algorithms if algorithms
      options["authorization"] = true if authorization
      args = [cookie]
      args << JSON.generate(options) unless options.empty?
      perform("DBSC_OFFER", args, :json_object)
    end

    # DBSC_REGISTER: checks the proof (the Secure-Session-Response value)
    # and binds the session to its key -> DbscReply (binding["instructions"]
    # is the JSON to answer the browser with).
    def dbsc_register(cookie, proof, url: nil, refresh_url: nil, exclude: nil)
      options = {}
      options["url"] = url if url
      options["refresh_url"] = refresh_url if refresh_url
      options["exclude"] = exclude if exclude
      args = [cookie, proof]
      args << JSON.generate(options) unless options.empty?
      perform("DBSC_REGISTER", args, :dbsc)
    end

    # DBSC_CHALLENGE: a refresh challenge -> Hash "header" (the
    # Secure-Session-Challenge value), "challenge", "expires_at". The cookie
    # may be past its bound lifetime.
    def dbsc_challenge(cookie, dbsc_id)
      perform("DBSC_CHALLENGE", [cookie, dbsc_id], :json_object)
    end

    # DBSC_REFRESH: checks a refresh proof with the stored key -> DbscReply
    # with the renewed session cookie.
    def dbsc_refresh(cookie, dbsc_id, proof, url: nil)
      args = [cookie, dbsc_id, proof]
      args << JSON.generate({ "url" => url }) if url
      perform("DBSC_REFRESH", args, :dbsc)
    end

    # DBSC_END: ends the device-bound session and the session -> LogoutReply.
    def dbsc_end(cookie)
      perform("DBSC_END", [cookie], :logout)
    end

    # IMPORT: an old framework cookie (format "flask", "pyramid", "django"
    # or "rails"; the value as the browser sent it), verified as that
    # framework does, becomes a sessiond session -> ImportReply. The same
    # cookie again answers the same session (created? false). Raises the
    # framework's refusal (an InvalidCookie subclass, details["reason"]),
    # AlreadyImported once that session ended, InvalidArgument for a format
    # sessiond has no [import.<format>] for.
    def import_cookie(format, cookie, ip: nil, user_agent: nil)
      args = [format.to_s, cookie.to_s]
      meta = Protocol.metadata_frame(ip, user_agent)
      args << meta if meta
      perform("IMPORT", args, :import_reply)
    end

    # EXPORT: the cookie's session as the old framework's cookie (the way
    # back, for a rollback day) -> ExportReply. Errors as LOAD; TooLarge.
    def export_cookie(format, cookie)
      perform("EXPORT", [format.to_s, cookie], :export_reply)
    end

    def self.flash_json(item)
      case item
      when FlashMessage then { "queue" => item.queue.to_s, "message" => item.message.to_s }
      when Hash
        { "queue" => (item["queue"] || item[:queue] || "").to_s,
          "message" => (item["message"] || item[:message]).to_s }
      else
        queue, message = item
        { "queue" => queue.to_s, "message" => message.to_s }
      end
    end
  end

  # The verbs only the admin socket answers (PERMISSION_DENIED on the app
  # socket).
  module AdminVerbs
    # USER_LIST -> [Session] of the user.
    def user_list(user_id)
      perform("USER_LIST", [user_id], :session_list)
    end

    # USER_REVOKE: ends all of the user's sessions and bumps the epoch ->
    # how many ended.
    def user_revoke(user_id)
      perform("USER_REVOKE", [user_id], :integer)
    end

    # USER_REVOKE_OTHERS -> how many ended.
    def user_revoke_others(user_id, keep_session_id)
      perform("USER_REVOKE_OTHERS", [user_id, keep_session_id], :integer)
    end

    # SESSION_REVOKE: ends one session by id -> nil.
    def session_revoke(session_id)
      perform("SESSION_REVOKE", [session_id], :nothing)
    end

    # KEYS_ROTATE -> the new key id. Older keys retire after retire_after
    # seconds (default: the session lifetime).
    def keys_rotate(retire_after = nil)
      perform("KEYS_ROTATE", retire_after.nil? ? [] : [Integer(retire_after)], :integer)
    end

    # STATS -> Hash of counters.
    def stats
      perform("STATS", [], :json_object)
    end

    # IMPORT_CHECK: what IMPORT would make of an old cookie (data, user,
    # times, keys renamed or not kept) -> Hash; creates nothing.
    def import_check(format, cookie)
      perform("IMPORT_CHECK", [format.to_s, cookie.to_s], :json_object)
    end
  end

  # A sessiond client for the app socket; share one per process.
  #
  # endpoint: ZeroMQ endpoint of the app socket: ipc://PATH (sessiond's
  #           default; the socket file's mode and group say who may connect)
  #           or tcp://HOST:PORT, which sessiond serves with CURVE only.
  # timeout:  seconds one call (or one pipeline) may take in all.
  # curve_server_key, curve_public_key, curve_secret_key: Z85 keys for a
  #           CURVE-protected endpoint (all three or none).
  # breaker:  a CircuitBreaker, or false to fail slowly (tests of timeouts).
  #
  # Every verb raises the Sessiond::Error subclass of the reply's error code,
  # Timeout when no reply comes in time, CircuitOpen while failing fast, and
  # ProtocolError for a malformed reply.
  class Client
    include Verbs

    attr_reader :endpoint, :timeout, :breaker

    def self.now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def initialize(endpoint = DEFAULT_ENDPOINT, timeout: DEFAULT_TIMEOUT,
                   curve_server_key: nil, curve_public_key: nil,
                   curve_secret_key: nil, breaker: nil)
      curve = [curve_server_key, curve_public_key, curve_secret_key]
      if curve.any? && !curve.all?
        raise ArgumentError, "CURVE needs server, public and secret key"
      end
      curve.compact.each do |k|
        raise ArgumentError, "CURVE keys are 40-character Z85 text" unless k.to_s.size == 40
      end

      @endpoint = endpoint
      @timeout = Float(timeout)
      @curve = curve.all? ? curve.map(&:to_s) : nil
      @breaker = breaker.nil? ? CircuitBreaker.new : breaker
      @key = :"sessiond_connection_#{object_id}"
      @mutex = Mutex.new # guards @closed, @connections, @pid
      @connections = {} # Thread -> its Connection
      @pid = Process.pid
      @closed = false
    end

    # Sends several requests at once and waits for all their replies.
    # requests: [[verb, args]]. Returns each request's raw reply frames, in
    # request order (whatever order they came back in). Raises Timeout when
    # a reply is missing at the deadline (the socket is then rebuilt),
    # TooLarge for a request over a protocol limit, TransportError for a
    # ZeroMQ failure, CircuitOpen while the breaker is open.
    def exchange(requests, timeout: @timeout)
      # Encoded first: a request over a protocol limit fails here, without
      # I/O and without a verdict for the breaker. Ids are set per socket.
      messages = requests.map { |verb, args| Protocol.encode_request("", verb, args) }
      if @breaker
        @breaker.call(timeout) { |t| exchange_now(messages, t) }
      else
        exchange_now(messages, timeout)
      end
    end

    # Sends one raw request -> its OK result frames (binary Strings); raises
    # the reply's error. For verbs newer than this client.
    def call(verb, *args)
      Protocol.results(exchange([[verb, args]]).first)
    end

    # A Pipeline: queue several verbs, send them together, wait once.
    def pipeline
      Pipeline.new(self)
    end

    # LOAD and FLASH in one round trip -> [SessionReply, [messages]]. The
    # SessionReply is FLASH's (after the pop). Raises as #load does.
    def load_and_pop_flash(cookie, queue = "")
      pipe = pipeline
      loaded = pipe.load(cookie)
      popped = pipe.pop_flash(cookie, queue)
      pipe.execute
      loaded.value # raises LOAD's error first: it explains FLASH's
      reply = popped.value
      [reply.reply, reply.messages]
    end

    # Closes every thread's socket; later calls raise. Call only when no
    # thread uses the client any more (e.g. at exit).
    def close
      @mutex.synchronize do
        @closed = true
        @connections.each_value(&:close)
        @connections.clear
      end
    end

    def closed?
      @closed
    end

    def inspect
      "#<#{self.class} #{@endpoint} timeout=#{@timeout}>"
    end

    private

    def perform(verb, args, parser)
      Parse.public_send(parser, Protocol.results(exchange([[verb, args]]).first), verb)
    end

    def exchange_now(messages, timeout)
      deadline = Client.now + timeout
      conn = connection
      pending = {}
      messages.each_with_index do |frames, index|
        frames[2] = conn.next_id.b
        pending[frames[2]] = index
      end
      replies = Array.new(messages.size)
      begin
        messages.each { |frames| conn.send_frames(frames, deadline) }
        until pending.empty?
          frames = conn.receive(deadline)
          # A reply to nobody we wait for cannot happen on a socket rebuilt
          # after every timeout, but drop it rather than misattribute it.
          index = pending.delete(Protocol.reply_id(frames))
          replies[index] = frames if index
        end
      rescue Timeout => e
        drop_connection
        raise Timeout, "#{e.text} from #{@endpoint} within #{timeout}s"
      rescue TransportError
        drop_connection
        raise
      rescue Exception # rubocop:disable Lint/RescueException
        # Interrupted (Thread#raise, kill): a reply may still come; never
        # let it answer a later request on this socket.
        drop_connection
        raise
      end
      replies
    end

    # This thread's connection, created on first use (or after a timeout, or
    # in a forked child).
    def connection
      conn = Thread.current.thread_variable_get(@key)
      return conn if conn && !conn.closed? && conn.pid == Process.pid && !@closed

      @mutex.synchronize do
        raise Unavailable.new("client is closed", code: "CLOSED") if @closed

        if @pid != Process.pid # a forked child: the parent's are not ours
          @connections.clear
          @pid = Process.pid
        end
        # Threads that ended cannot use their sockets any more: close them.
        @connections.delete_if do |thread, old|
          next false if thread.alive?

          old.close
          true
        end
        conn = Connection.new(@endpoint, @curve)
        @connections[Thread.current] = conn
      end
      Thread.current.thread_variable_set(@key, conn)
      conn
    end

    def drop_connection
      conn = Thread.current.thread_variable_get(@key)
      Thread.current.thread_variable_set(@key, nil)
      return if conn.nil?

      @mutex.synchronize { @connections.delete(Thread.current) if @connections[Thread.current].equal?(conn) }
      conn.close
    end

    public

    # How many sockets this client holds open (one per thread that called
    # it and is still alive, until reaped). For tests and monitoring.
    def open_sockets
      @mutex.synchronize { @connections.size }
    end
  end

  # A client for the admin socket (ipc:// path or CURVE tcp://): the app
  # verbs plus USER_LIST, USER_REVOKE, USER_REVOKE_OTHERS, SESSION_REVOKE,
  # KEYS_ROTATE and STATS.
  class AdminClient < Client
    include AdminVerbs

    def pipeline
      Pipeline.new(self, admin: true)
    end
  end

  # The future result of one pipelined verb; valid after Pipeline#execute.
  class Pending
    attr_reader :verb

    def initialize(verb, parser)
      @verb = verb
      @parser = parser
      @done = false
    end

    def resolve(frames) # :nodoc:
      @value = Parse.public_send(@parser, Protocol.results(frames), @verb)
    rescue Error => e
      @error = e
    ensure
      @done = true
    end

    # The verb's value; raises its Sessiond::Error. RuntimeError before the
    # pipeline ran.
    def value
      raise RuntimeError, "pipeline has not been executed" unless @done
      raise @error if @error

      @value
    end
  end

  # Queues verbs (each method returns a Pending) and sends them all at once
  # on the calling thread's socket; replies are matched by request id. For
  # independent requests only: the server may answer them in any order.
  class Pipeline
    include Verbs

    def initialize(client, admin: false)
      @client = client
      @queued = []
      extend AdminVerbs if admin
    end

    # Runs the queued requests -> [Pending] in order. Per-request errors stay
    # in each Pending; Timeout and transport errors are raised here.
    def execute
      queued = @queued
      @queued = []
      return [] if queued.empty?

      replies = @client.exchange(queued.map { |verb, args, _| [verb, args] })
      queued.zip(replies) { |(_, _, pending), frames| pending.resolve(frames) }
      queued.map(&:last)
    end

    private

    def perform(verb, args, parser)
      pending = Pending.new(verb, parser)
      @queued << [verb, args, pending]
      pending
    end
  end
end
