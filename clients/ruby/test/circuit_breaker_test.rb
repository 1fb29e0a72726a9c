# frozen_string_literal: true

# The circuit breaker: its rules on a clock the test moves (so nothing here
# depends on how fast the machine is), then the same rules on a client whose
# sessiond is stopped and started again.

require "test_helper"

class CircuitBreakerTest < Minitest::Test
  class Clock
    attr_accessor :now

    def initialize
      @now = 100.0
    end

    def call
      @now
    end
  end

  def setup
    @clock = Clock.new
    @breaker = Sessiond::CircuitBreaker.new(clock: @clock)
  end

  def fail_once(timeout = 2.0)
    @breaker.call(timeout) { raise Sessiond::Timeout, "no reply" }
  rescue Sessiond::Timeout
    :timed_out
  end

  def test_a_timeout_opens_it_and_calls_then_fail_fast_without_running
    assert_equal :timed_out, fail_once
    assert @breaker.open?
    ran = false
    assert_raises(Sessiond::CircuitOpen) { @breaker.call(2.0) { ran = true } }
    refute ran
    assert_equal 0.05, @breaker.backoff
  end

  def test_a_transport_error_opens_it_too
    assert_raises(Sessiond::TransportError) do
      @breaker.call(2.0) { raise Sessiond::TransportError, "ZeroMQ send: boom" }
    end
    assert @breaker.open?
  end

  def test_after_the_backoff_one_probe_goes_with_a_short_timeout_and_the_rest_fail_fast
    fail_once
    @clock.now += 0.05
    seen = nil
    other = nil
    @breaker.call(2.0) do |timeout|
      seen = timeout
      other = assert_raises(Sessiond::CircuitOpen) { @breaker.call(2.0) { :never } }
      :replied
    end
    assert_equal 0.25, seen
    assert_kind_of Sessiond::CircuitOpen, other
    refute @breaker.open?
    assert_equal :fine, @breaker.call(2.0) { |t| t == 2.0 ? :fine : t }
  end

  def test_a_probe_never_gets_more_than_the_callers_timeout
    fail_once
    @clock.now += 1
    assert_equal 0.1, @breaker.call(0.1) { |t| t }
  end

  def test_failed_probes_double_the_backoff_up_to_half_a_second
    fail_once
    backoffs = []
    6.times do
      @clock.now += @breaker.backoff
      fail_once
      backoffs << @breaker.backoff
    end
    assert_equal [0.1, 0.2, 0.4, 0.5, 0.5, 0.5], backoffs
  end

  def test_any_server_reply_closes_it_and_resets_the_backoff
    fail_once
    @clock.now += 0.05
    fail_once
    @clock.now += 0.1
    # A reply that is an error (the block returns: a reply came) still closes.
    @breaker.call(2.0) { :error_reply }
    refute @breaker.open?
    fail_once
    assert_equal 0.05, @breaker.backoff
  end

  def test_a_late_failure_of_a_call_admitted_before_it_opened_does_not_move_the_probe
    fail_once
    @clock.now += 0.04
    # A call admitted while closed, timing out now, after the breaker opened.
    @breaker.send(:failed, false)
    @clock.now += 0.01
    assert_equal :probe, @breaker.call(2.0) { :probe }
  end

  def test_an_interrupted_probe_lets_the_next_call_probe
    fail_once
    @clock.now += 0.05
    assert_raises(Interrupt) { @breaker.call(2.0) { raise Interrupt } }
    assert_equal :probe, @breaker.call(2.0) { :probe }
  end
end

class ClientCircuitBreakerTest < Minitest::Test
  def test_a_stopped_sessiond_fails_fast_and_a_restarted_one_is_used_at_once
    own = TestDaemon.own
    clock = CircuitBreakerTest::Clock.new
    breaker = Sessiond::CircuitBreaker.new(clock: clock)
    c = own.client(timeout: 0.3, breaker: breaker)
    assert_equal "PONG", c.ping
    own.stop
    begin
      assert_raises(Sessiond::Timeout) { c.ping }
      5.times { assert_raises(Sessiond::CircuitOpen) { c.ping } }
      clock.now += breaker.backoff
      assert_raises(Sessiond::Timeout) { c.ping } # the probe
      assert_raises(Sessiond::CircuitOpen) { c.ping }
      assert_equal 1, breaker.opened # opened once; the failed probe kept it open
    ensure
      own.restart
    end
    assert_raises(Sessiond::CircuitOpen) { c.ping } # its backoff has not passed
    clock.now += breaker.backoff
    assert_equal "PONG", c.ping # the probe, answered
    refute breaker.open?
    assert_equal "PONG", c.ping
  end

  def test_an_error_reply_is_a_reply
    breaker = Sessiond::CircuitBreaker.new
    c = daemon.client(breaker: breaker)
    assert_raises(Sessiond::BadEncoding) { c.load("!!") }
    refute breaker.open?
  end
end
