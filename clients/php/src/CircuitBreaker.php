<?php
// Fast failure while sessiond is down (the breaker every client of this
// round shares; docs/php.md). Its state lives in a Shared\Store, so every
// request and worker process of this machine sees it, not only the request
// that saw the failure:
//   - a call that ends in a Timeout or a ZeroMQ transport error opens it for
//     50 ms; each failed probe doubles that, up to 500 ms;
//   - while open, every call throws CircuitOpenException at once, no I/O;
//   - once the backoff has passed, exactly one call (across processes: a
//     lease in the store) goes through as the probe, with a timeout of
//     min(its timeout, 250 ms); the others keep failing fast until it ends;
//     success closes the breaker, failure reopens it with the doubled backoff;
//   - any reply from the server, whatever its status, closes it.
// One object per Client; a call is admit() followed by succeeded() or
// failed() (or abandoned(), when it ended before any I/O).

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\CircuitOpenException;
use Sessiond\Shared\Store;

final class CircuitBreaker
{
    public const FIRST_BACKOFF = 0.05;
    public const MAX_BACKOFF = 0.5;
    public const PROBE_TIMEOUT = 0.25;
    /** A probe that dies without a word frees the lease after this long. */
    private const PROBE_LEASE = 1.0;

    private string $stateKey;
    private string $probeKey;
    private bool $probing = false;

    /** @var \Closure(): float */
    private \Closure $now;

    /** $clock: seconds since the epoch (tests pass a fake one). */
    public function __construct(private readonly Store $store, string $name, ?\Closure $clock = null)
    {
        $this->now = $clock ?? static fn (): float => microtime(true);
        $id = substr(hash('sha256', $name), 0, 24);
        $this->stateKey = 'breaker-' . $id;
        $this->probeKey = 'probe-' . $id;
    }

    /**
     * Lets a call through, or throws CircuitOpenException. Returns the
     * timeout the call may use: $timeout, or min($timeout, 250 ms) for the probe.
     */
    public function admit(float $timeout): float
    {
        $this->probing = false;
        $state = $this->store->get($this->stateKey);
        if (!is_array($state)) {
            return $timeout;  // closed: the healthy path is this one lookup
        }
        $wait = (float) ($state['until'] ?? 0) - ($this->now)();
        if ($wait > 0) {
            throw new CircuitOpenException(sprintf('sessiond is unreachable; failing fast for another %d ms', (int) ceil($wait * 1000)));
        }
        if (!$this->store->acquire($this->probeKey, self::PROBE_LEASE)) {
            throw new CircuitOpenException('sessiond is unreachable; another request is probing it');
        }
        $this->probing = true;
        return min($timeout, self::PROBE_TIMEOUT);
    }

    /** A reply came (any status): close the breaker. */
    public function succeeded(): void
    {
        if ($this->probing || $this->store->get($this->stateKey) !== null) {
            $this->store->delete($this->stateKey);
        }
        $this->endProbe();
    }

    /** The call timed out or the transport failed: open (or reopen) the breaker. */
    public function failed(): void
    {
        $state = $this->store->get($this->stateKey);
        if ($this->probing) {
            $last = is_array($state) ? (float) ($state['backoff'] ?? self::FIRST_BACKOFF) : self::FIRST_BACKOFF;
            $this->open(min($last * 2, self::MAX_BACKOFF));
        } elseif (!is_array($state)) {
            $this->open(self::FIRST_BACKOFF);
        }
        // Open already (this call was let in before it opened): the probe decides.
        $this->endProbe();
    }

    /** The call ended before any I/O (e.g. a request over a protocol limit). */
    public function abandoned(): void
    {
        $this->endProbe();
    }

    /** Whether the breaker is open now (for tests and status pages). */
    public function isOpen(): bool
    {
        return is_array($this->store->get($this->stateKey));
    }

    /** Closes the breaker by hand (tests, or an operator's "retry now"). */
    public function reset(): void
    {
        $this->store->delete($this->stateKey);
        $this->endProbe();
    }

    private function open(float $backoff): void
    {
        $this->store->set($this->stateKey, ['until' => ($this->now)() + $backoff, 'backoff' => $backoff]);
    }

    private function endProbe(): void
    {
        if ($this->probing) {
            $this->probing = false;
            $this->store->release($this->probeKey);
        }
    }
}
