# frozen_string_literal: true

# Sessiond::Testing::Daemon: a real sessiond for tests, started through the
# project's one shared launcher (`/usr/bin/python3 -m sessiond.testing`, see
# clients/python/sessiond/testing.py), so every language tests against a
# daemon set up the same way. The launcher prints one JSON line (endpoint,
# admin_endpoint, dir, config, log, pid) and obeys stop/kill/start lines on
# stdin; closing its stdin stops the daemon and removes its directory.
#
# The binary is $SESSIOND_BIN, else the launcher's own search of
# build/*/src/cli/sessiond in this checkout.

require "json"
require "open3"
require_relative "client"

module Sessiond
  module Testing
    REPO = File.expand_path("../../../..", __dir__)

    class Daemon
      attr_reader :endpoint, :admin_endpoint, :dir, :config_path, :log_path, :pid, :curve

      # session: {"mode" => "hybrid", "lifetime" => 120}; cookie: {"name" => "x"};
      # tables: {"import.rails" => {"cookie" => "_app_session"}}.
      # transport: "ipc" (the default app socket), "tcp" (loopback with CURVE;
      # #curve then holds "server_public", "client_public", "client_secret")
      # or "insecure-tcp" (loopback without CURVE, sessiond's written opt-out;
      # what ipc: false means, as it did before tcp needed CURVE).
      def initialize(ipc: true, transport: nil, store: "lmdb", session: {}, cookie: {}, tables: {})
        transport ||= ipc ? "ipc" : "insecure-tcp"
        @args = ["-m", "sessiond.testing", "--#{transport}"]
        @args += ["--store", store]
        session.each { |k, v| @args += ["--session", "#{k}=#{v}"] }
        cookie.each { |k, v| @args += ["--cookie", "#{k}=#{v}"] }
        tables.each do |table, values|
          values.each { |k, v| @args += ["--table", "#{table}.#{k}=#{v}"] }
        end
      end

      def start
        env = { "PYTHONPATH" => python_path }
        python = ENV.fetch("SESSIOND_PYTHON", "/usr/bin/python3")
        @stdin, @stdout, @wait = Open3.popen2(env, python, *@args)
        line = @stdout.gets
        raise "sessiond.testing printed nothing (exit #{@wait.value.exitstatus})" if line.nil?

        info = JSON.parse(line)
        @endpoint = info.fetch("endpoint")
        @admin_endpoint = info.fetch("admin_endpoint")
        @dir = info["dir"]
        @config_path = info["config"]
        @log_path = info["log"]
        @pid = info["pid"]
        @curve = info["curve"]
        self
      end

      # SIGTERM; the data, keys and endpoint stay for #restart.
      def stop
        command("stop")
      end

      # SIGKILL, as a crash would.
      def kill
        command("kill")
      end

      # Starts again after stop/kill: same endpoint, data and keys.
      def restart
        answer = command("start")
        @pid = answer["pid"]
        answer
      end

      def config
        command("config")["config"]
      end

      # Stops the daemon and removes its directory.
      def close
        return if @stdin.nil?

        @stdin.close
        @stdout.read
        @stdout.close
        @wait.value
        @stdin = nil
      end

      def client(timeout: 2.0, **opts)
        Client.new(@endpoint, timeout: timeout, **opts)
      end

      def admin_client(timeout: 2.0, **opts)
        AdminClient.new(@admin_endpoint, timeout: timeout, **opts)
      end

      def log_tail(lines = 30)
        File.readlines(@log_path).last(lines).join
      rescue SystemCallError
        ""
      end

      private

      def python_path
        own = File.join(REPO, "clients", "python")
        [ENV["SESSIOND_TESTING_PYTHONPATH"], own, ENV["PYTHONPATH"]].compact.join(":")
      end

      def command(name)
        @stdin.puts(name)
        @stdin.flush
        line = @stdout.gets or raise "sessiond.testing ended (#{name})"
        answer = JSON.parse(line)
        raise "sessiond.testing #{name}: #{answer["error"]}" unless answer["ok"]

        answer
      end
    end

    # Starts a daemon, yields it, and always stops it.
    def self.with_daemon(**opts)
      daemon = Daemon.new(**opts).start
      yield daemon
    ensure
      daemon&.close
    end
  end
end
