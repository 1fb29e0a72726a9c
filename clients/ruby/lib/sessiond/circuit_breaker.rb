# frozen_string_literal: true

# CircuitBreaker: fail fast while sessiond is unreachable, so a dead service
# costs an app microseconds per request instead of a whole client timeout
# (the shape every sessiond client shares; see plan/ROUND.md):
#   - a call that ends in a Timeout or a ZeroMQ transport error opens it,
#     with a backoff of 50 ms, doubled at each failed probe, capped at 500 ms;
#   - while open, calls raise CircuitOpen at once, without I/O;
#   - once the backoff has passed, exactly one call goes through as the probe,
#     with a timeout of min(its timeout, 250 ms); the others keep failing fast
#     until it ends: success closes the breaker, failure reopens it longer;
#   - any reply from the server (whatever its status) closes it.
# Thread-safe: one per Client, shared by every thread of the process. The
# closed state is read without the lock (the common case costs one ivar
# read); a forked child starts with a fresh lock and a closed breaker.

require_relative "errors"

module Sessiond
  class CircuitBreaker
    INITIAL_BACKOFF = 0.05
    MAX_BACKOFF = 0.5
    PROBE_TIMEOUT = 0.25

    # clock: a callable returning monotonic seconds (tests pass their own).
    def initialize(initial_backoff: INITIAL_BACKOFF, max_backoff: MAX_BACKOFF,
                   probe_timeout: PROBE_TIMEOUT,
                   clock: -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) })
      @initial_backoff = initial_backoff
      @max_backoff = max_backoff
      @probe_timeout = probe_timeout
      @clock = clock
      reset
    end

    # True while failing fast (read without the lock: a stale read only
    # delays the verdict by one call).
    def open?
      @open
    end

    # How many times it opened since it was made.
    attr_reader :opened

    # The current backoff in seconds (0 when closed).
    def backoff
      @mutex.synchronize { @open ? @backoff : 0.0 }
    end

    # Runs the block with the timeout this call may use (the probe's is
    # shorter), or raises CircuitOpen without running it. The block returns
    # when the server replied (whatever the reply says: that closes the
    # breaker) and raises Timeout or TransportError when it did not (that
    # opens it). Any other exception gives no verdict.
    def call(timeout)
      probe = admit
      begin
        result = yield(probe ? [timeout, @probe_timeout].min : timeout)
      rescue Timeout, TransportError
        failed(probe)
        raise
      rescue Exception # rubocop:disable Lint/RescueException
        release(probe) # e.g. Thread#raise mid-call: let the next probe go
        raise
      end
      succeeded(probe)
      result
    end

    private

    # True when this call is the probe; raises CircuitOpen while open.
    def admit
      reset if @pid != Process.pid
      return false unless @open

      @mutex.synchronize do
        return false unless @open

        now = @clock.call
        if @probing || now < @retry_at
          wait_ms = [((@retry_at - now) * 1000).ceil, 0].max
          raise CircuitOpen, "sessiond unreachable; failing fast (next probe in #{wait_ms} ms)"
        end
        @probing = true
        true
      end
    end

    def reset
      @pid = Process.pid
      @mutex = Mutex.new
      # Guarded by @mutex (@open is also read without it):
      @open = false
      @backoff = 0.0
      @retry_at = 0.0
      @probing = false
      @opened ||= 0
    end

    def succeeded(probe)
      return unless @open || probe

      @mutex.synchronize do
        @open = false
        @probing = false
        @backoff = 0.0
      end
    end

    def failed(probe)
      @mutex.synchronize do
        if !@open
          @open = true
          @opened += 1
          @backoff = @initial_backoff
        elsif probe
          @backoff = [@backoff * 2, @max_backoff].min
        else
          # A call admitted before the breaker opened, failing late: the
          # breaker already knows; do not move the next probe.
          next
        end
        @probing = false
        @retry_at = @clock.call + @backoff
      end
    end

    def release(probe)
      @mutex.synchronize { @probing = false if probe }
    end
  end
end
