# frozen_string_literal: true

# Shared by every Ruby test: minitest, the library on the load path, and
# real sessiond daemons from the project's shared launcher
# (Sessiond::Testing::Daemon). One daemon serves all tests that do not stop
# it or need other settings; those start their own.

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
$LOAD_PATH.unshift __dir__

require "minitest/autorun"
require "json"
require "sessiond"
require "sessiond/testing"

module TestDaemon
  @mutex = Mutex.new

  # The shared daemon: ipc app socket, LMDB, cookie without Secure.
  def self.shared
    @mutex.synchronize do
      @shared ||= begin
        daemon = Sessiond::Testing::Daemon.new(session: { "max_data_bytes" => 4096 }).start
        Minitest.after_run { daemon.close }
        daemon
      end
    end
  end

  # A daemon of its own (stopped at exit too): for tests that stop it or
  # need other settings.
  def self.own(**opts)
    daemon = Sessiond::Testing::Daemon.new(**opts).start
    Minitest.after_run { daemon.close }
    daemon
  end
end

# A request blocks on a gate the test opens, so parallel requests interleave
# exactly as a test says (no sleeps, no timing): the app pushes to
# Gates["NAME-loaded"] once it has loaded the session, then waits on
# Gates["NAME"].
module Gates
  @mutex = Mutex.new
  @queues = {}

  def self.[](name)
    @mutex.synchronize { @queues[name] ||= Queue.new }
  end

  def self.pass(name)
    return if name.nil?

    self["#{name}-loaded"] << true
    self[name].pop
  end
end

module SessiondTestHelpers
  def daemon
    TestDaemon.shared
  end

  def client
    @client ||= daemon.client
  end

  def admin
    @admin ||= daemon.admin_client
  end

  # Waits for a condition without timing anything: polls until it holds or
  # the (generous) deadline passes.
  def eventually(seconds = 15)
    deadline = Sessiond::Client.now + seconds
    loop do
      value = yield
      return value if value
      raise Minitest::Assertion, "condition not met within #{seconds}s" if Sessiond::Client.now > deadline

      sleep 0.02
    end
  end
end

class Minitest::Test
  include SessiondTestHelpers
end
