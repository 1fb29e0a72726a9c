# frozen_string_literal: true

# The comparison Rails users make: one small Rails 6.1 app whose request
# reads the session (user id and a token) and renders a few bytes, called
# in process through its whole middleware stack (Rack env in, response out,
# no web server measured; the pattern of bench/flask_bench.py), with
#   (a) sessiond through clients/ruby's session store,
#   (b) :cache_store on redis_cache_store against a real redis-server (what
#       Rails users run for server-side sessions today),
#   (c) Rails' default signed/encrypted cookie store, for context,
# and, unless --no-down, (d) the same sessiond app with sessiond stopped
# (its 503 page, answered by the circuit breaker) and the time from
# sessiond's restart to the first request that succeeds again, on a daemon
# of its own from the shared launcher.
#
#   ruby bench/rails_bench.rb --redis-port P --sessiond ENDPOINT --seconds S
#
# Prints one JSON object: requests per second of each, plus recovery_ms.
# Each app runs in a child process of its own (one Rails app per process).

require "json"
require "optparse"
require "rbconfig"

ROOT = File.expand_path("..", __dir__)
$LOAD_PATH.unshift File.join(ROOT, "clients", "ruby", "lib")

KINDS = %w[sessiond cache_store_redis cookie_store].freeze

def parse_args
  opts = { seconds: 3.0, down: true }
  OptionParser.new do |o|
    o.on("--redis-port PORT", Integer) { |v| opts[:redis_port] = v }
    o.on("--sessiond ENDPOINT") { |v| opts[:sessiond] = v }
    o.on("--seconds S", Float) { |v| opts[:seconds] = v }
    o.on("--no-down", "skip the sessiond-down and recovery rows") { opts[:down] = false }
    o.on("--one KIND") { |v| opts[:one] = v } # internal: run one app
  end.parse!
  abort "--redis-port and --sessiond are required" unless opts[:one] || (opts[:redis_port] && opts[:sessiond])
  opts
end

# The app, configured for one kind of session store.
def build_app(kind, opts)
  ENV["RAILS_ENV"] = "production"
  require "logger"
  require "rails"
  require "action_controller/railtie"
  require "sessiond/rails" if kind.start_with?("sessiond")

  app = Class.new(Rails::Application) do
    config.root = __dir__
    config.eager_load = false
    config.cache_classes = true
    config.secret_key_base = "bench-only-secret-key-base-0123456789abcdef0123456789abcdef"
    config.logger = Logger.new(nil)
    config.log_level = :fatal
    config.hosts.clear
    config.public_file_server.enabled = false
    case kind
    when "sessiond"
      config.session_store :sessiond_store, client: Sessiond::Client.new(opts[:sessiond], timeout: 5.0)
    when "sessiond_down"
      config.session_store :sessiond_store, client: Sessiond::Client.new(opts[:sessiond], timeout: 2.0),
                                            check_at_boot: false
    when "cache_store_redis"
      config.cache_store = :redis_cache_store, { url: "redis://127.0.0.1:#{opts[:redis_port]}/0" }
      config.session_store :cache_store, key: "_bench_session"
    when "cookie_store"
      config.session_store :cookie_store, key: "_bench_session"
    else abort "unknown kind #{kind}"
    end
    routes.append do
      get "/login", to: "bench#login"
      get "/", to: "bench#index"
    end
  end
  Object.const_set(:BenchApp, app)
  app.initialize!
  Object.const_set(:BenchController, Class.new(ActionController::Base) do
    def login
      session[:user_id] = "12345"
      session[:csrf] = "Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV"
      render plain: "ok"
    end

    def index
      render plain: "hello #{session[:user_id]} #{session[:csrf].to_s[0, 4]}"
    end
  end)
  app
end

# One browser: its cookies, the app called in process.
class Caller
  def initialize(app)
    @app = app
    @cookies = {}
  end

  def get(path)
    env = Rack::MockRequest.env_for(path, "HTTP_COOKIE" => @cookies.map { |k, v| "#{k}=#{v}" }.join("; "),
                                          "REMOTE_ADDR" => "127.0.0.1", "HTTP_USER_AGENT" => "rails_bench/1")
    status, headers, body = @app.call(env)
    text = +""
    body.each { |part| text << part }
    body.close if body.respond_to?(:close)
    lines = headers["Set-Cookie"]
    (lines.is_a?(Array) ? lines : lines.to_s.split("\n")).each do |line|
      name, value = line.split(";", 2).first.split("=", 2)
      value.to_s.empty? ? @cookies.delete(name) : @cookies[name] = value
    end
    [status, text]
  end
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# Requests per second of GET / for `seconds`, after a warm-up; every answer
# must have the wanted status.
def rate(caller, seconds, want: 200)
  count = 0
  deadline = now + seconds
  start = now
  while now < deadline
    50.times do
      status, text = caller.get("/")
      raise "status #{status}: #{text[0, 300]}" unless status == want
    end
    count += 50
  end
  count / (now - start)
end

def measure(kind, opts)
  app = build_app(kind, opts)
  caller = Caller.new(app)
  status, text = caller.get("/login")
  raise "login: #{status} #{text[0, 300]}" unless status == 200

  status, text = caller.get("/")
  raise "first request: #{status} #{text[0, 300]}" unless status == 200 && text.include?("12345")

  200.times { caller.get("/") }
  rate(caller, opts[:seconds])
end

# The sessiond app with sessiond stopped (the 503 page at the breaker's
# pace) and the time from its restart to the first success. Its own daemon.
def measure_down(opts)
  require "sessiond/testing"
  daemon = Sessiond::Testing::Daemon.new(ipc: true).start
  begin
    app = build_app("sessiond_down", opts.merge(sessiond: daemon.endpoint))
    caller = Caller.new(app)
    caller.get("/login")
    200.times { caller.get("/") }
    daemon.stop
    caller.get("/") # the one request that waits out the client timeout
    down = rate(caller, opts[:seconds], want: 503)
    daemon.restart
    restarted = now
    status = nil
    status, = caller.get("/") until status == 200
    { "sessiond_down" => down, "recovery_ms" => ((now - restarted) * 1000).round(1) }
  ensure
    daemon.close
  end
end

opts = parse_args
if opts[:one]
  result = opts[:one] == "down" ? measure_down(opts) : { opts[:one] => measure(opts[:one], opts) }
  puts JSON.generate(result)
  exit 0
end

out = {}
kinds = KINDS + (opts[:down] ? ["down"] : [])
kinds.each do |kind|
  args = [RbConfig.ruby, __FILE__, "--one", kind, "--seconds", opts[:seconds].to_s,
          "--redis-port", opts[:redis_port].to_s, "--sessiond", opts[:sessiond]]
  json = IO.popen(args, &:read)
  abort "rails_bench: #{kind} failed" unless $?.success?
  out.merge!(JSON.parse(json.lines.last))
end
puts JSON.generate(out)
