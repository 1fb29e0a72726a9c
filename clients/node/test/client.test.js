// The SD1 client against a real sessiond: every verb, the error classes and
// their details, pipelining, per-call timeouts that rebuild the socket, and
// the circuit breaker (fast failure while sessiond is down, recovery after).
'use strict';

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');

const errors = require('../lib/errors');
const protocol = require('../lib/protocol');
const { CircuitBreaker, FIRST_BACKOFF_MS, MAX_BACKOFF_MS } = require('../lib/breaker');
const { startDaemon, Client } = require('./helpers');

// REVOKED's details are optional on the wire (a server may not say why);
// when they are there they must be the right reason.
function assertReason(err, reason) {
  assert.ok(err instanceof errors.Revoked, String(err));
  if (err.details.reason !== undefined) {
    assert.equal(err.reason, reason);
    assert.ok(err.at > 0);
  }
}

let env;
before(async () => { env = await startDaemon(); });
after(async () => { await env.close(); });

test('ping, version and hello describe the server', async () => {
  const { client } = env;
  assert.equal(await client.ping(), 'PONG');
  assert.match(await client.version(), /^sessiond /);
  const hello = await client.hello();
  assert.equal(hello.protocol, 'SD1');
  assert.equal(hello.mode, 'server');
  assert.equal(hello.cookie.name, 'sessiond');
  assert.equal(hello.cookie.secure, false); // the test daemon's setting
  assert.ok(hello.maxDataBytes > 0);
  assert.equal(await client.cachedHello(), await client.cachedHello());
});

test('create, commit, load round-trip data and flash', async () => {
  const { client } = env;
  const created = await client.create({ ip: '203.0.113.9', userAgent: 'UA/1' });
  assert.equal(created.session.new, true);
  assert.match(created.setCookie, /^sessiond=/);
  const saved = await client.commit(created.cookie, created.session.version, {
    set: { theme: 'dark', cart: '[1,2]' }, flash: ['Saved.', { queue: 'info', message: 'Hi' }],
  });
  const loaded = await client.load(saved.cookie);
  assert.deepEqual(loaded.session.data, { theme: 'dark', cart: '[1,2]' });
  assert.equal(loaded.session.ip, '203.0.113.9');
  assert.equal(loaded.session.userAgent, 'UA/1');
  const popped = await client.popFlash(saved.cookie, 'info');
  assert.deepEqual(popped.messages, ['Hi']);
  assert.deepEqual((await client.popFlash(saved.cookie, 'info')).messages, []);
  const erased = await client.commit(saved.cookie, loaded.session.version, { erase: ['theme'] });
  assert.deepEqual(erased.session.data, { cart: '[1,2]' });
});

test('commit of the same key from one base conflicts and applies nothing', async () => {
  const { client } = env;
  const s = await client.create();
  await client.commit(s.cookie, s.session.version, { set: { k: '1' } });
  await assert.rejects(client.commit(s.cookie, s.session.version, { set: { k: '2', other: 'x' } }),
    errors.Conflict);
  assert.deepEqual((await client.load(s.cookie)).session.data, { k: '1' });
});

test('login, regenerate, csrf rotate and check, bump epoch, logout', async () => {
  const { client } = env;
  const s = await client.create();
  const withData = await client.commit(s.cookie, s.session.version, { set: { cart: '[1]' } });
  const moved = await client.regenerate(withData.cookie);
  assert.notEqual(moved.cookie, withData.cookie);
  assert.notEqual(moved.session.csrfToken, withData.session.csrfToken);
  assert.deepEqual(moved.session.data, { cart: '[1]' });
  const gone = await client.load(withData.cookie).catch((e) => e);
  assert.ok(gone instanceof errors.Revoked);
  const alice = await client.login(moved.cookie, 'alice', { userAgent: 'UA/2' });
  assert.equal(alice.session.userId, 'alice');
  assert.ok(alice.session.authenticatedAt > 0);
  const rotated = await client.csrfRotate(alice.cookie);
  assert.notEqual(rotated.session.csrfToken, alice.session.csrfToken);
  await client.csrfCheck(rotated.cookie, rotated.session.csrfToken);
  await assert.rejects(client.csrfCheck(rotated.cookie, alice.session.csrfToken), errors.CsrfMismatch);
  const other = await client.login('', 'alice');
  const bumped = await client.bumpEpoch(rotated.cookie);
  assert.equal(bumped.session.userId, 'alice');
  const revoked = await client.load(other.cookie).catch((e) => e);
  assert.ok(revoked instanceof errors.Revoked);
  assertReason(revoked, 'password_changed');
  const out = await client.logout(bumped.cookie);
  assert.match(out.setCookie, /Max-Age=0|Expires=/i);
  const after = await client.load(bumped.cookie).catch((e) => e);
  assert.ok(after instanceof errors.Revoked);
  assertReason(after, 'logout');
});

test('devices list the current session first and sign out others ends the rest', async () => {
  const { client } = env;
  const a = await client.login('', 'bob', { userAgent: 'Phone' });
  const b = await client.login('', 'bob', { userAgent: 'Laptop' });
  const list = await client.listSessions(a.cookie);
  assert.equal(list.length, 2);
  assert.equal(list[0].current, true);
  assert.equal(list[0].userAgent, 'Phone');
  const result = await client.revokeOthers(a.cookie);
  assert.equal(result.ended, 1);
  const ended = await client.load(b.cookie).catch((e) => e);
  assertReason(ended, 'signed_out_elsewhere');
  assert.equal((await client.listSessions(a.cookie)).length, 1);
});

test('admin verbs on the admin socket; refused on the app socket', async () => {
  const { client, admin } = env;
  const s = await client.login('', 'carol');
  const list = await admin.userList('carol');
  assert.equal(list.length, 1);
  assert.ok((await admin.stats()).sessions >= 1);
  await assert.rejects(client.call('USER_LIST', ['carol']), errors.PermissionDenied);
  assert.equal(await admin.userRevoke('carol'), 1);
  await assert.rejects(client.load(s.cookie), errors.Revoked);
  const s2 = await client.login('', 'carol');
  await admin.sessionRevoke(s2.session.id);
  await assert.rejects(client.load(s2.cookie), errors.InvalidCookie);
  assert.ok(Number.isInteger(await admin.keysRotate()));
});

test('raw call returns result frames; unknown verbs and bad cookies map to classes', async () => {
  const { client } = env;
  const frames = await client.call('PING');
  assert.equal(frames[0].toString(), 'PONG');
  await assert.rejects(client.call('NO_SUCH_VERB'), errors.UnknownVerb);
  await assert.rejects(client.load('not a cookie!'), errors.BadEncoding);
  await assert.rejects(client.load(''), errors.InvalidCookie);
  await assert.rejects(client.login('', 'has space'), errors.InvalidArgument);
});

test('many calls at once are pipelined on one socket and each gets its own reply', async () => {
  const { client } = env;
  const made = await Promise.all(Array.from({ length: 50 }, (_, i) => client.create()
    .then((r) => client.commit(r.cookie, r.session.version, { set: { n: String(i) } }))));
  const loaded = await Promise.all(made.map((r) => client.load(r.cookie)));
  loaded.forEach((r, i) => assert.equal(r.session.data.n, String(i)));
});

test('every wire error code maps to its class, unknown codes to the base class', () => {
  const expected = {
    INVALID_ARGUMENT: errors.InvalidArgument, UNKNOWN_VERB: errors.UnknownVerb,
    PERMISSION_DENIED: errors.PermissionDenied, SESSION_LIMIT: errors.SessionLimit,
    TOO_LARGE: errors.TooLarge,
    CONFLICT: errors.Conflict, CSRF_MISMATCH: errors.CsrfMismatch, NOT_FOUND: errors.NotFound,
    REVOKED: errors.Revoked, EXPIRED: errors.Expired, BAD_ENCODING: errors.BadEncoding,
    TRUNCATED: errors.Truncated, TRAILING_DATA: errors.TrailingData,
    UNKNOWN_VERSION: errors.UnknownVersion, UNKNOWN_KEY: errors.UnknownKey,
    RETIRED_KEY: errors.RetiredKey, BAD_MAC: errors.BadMac, NOT_YET_VALID: errors.NotYetValid,
    CORRUPT: errors.Corrupt, WRONG_PURPOSE: errors.WrongPurpose,
    ALREADY_IMPORTED: errors.AlreadyImported,
    UNAVAILABLE: errors.Unavailable, SHUTTING_DOWN: errors.ShuttingDown,
    INTERNAL: errors.Internal,
  };
  assert.deepEqual(new Set(errors.WIRE_CODES), new Set(Object.keys(expected)));
  const anonymous = ['NOT_FOUND', 'REVOKED', 'EXPIRED', 'BAD_ENCODING', 'TRUNCATED',
    'TRAILING_DATA', 'UNKNOWN_VERSION', 'UNKNOWN_KEY', 'RETIRED_KEY', 'BAD_MAC',
    'NOT_YET_VALID', 'CORRUPT', 'WRONG_PURPOSE', 'ALREADY_IMPORTED'];
  for (const [code, cls] of Object.entries(expected)) {
    const e = errors.errorFor(code, 'msg');
    assert.equal(e.constructor, cls);
    assert.equal(e.code, code);
    assert.equal(e.serverMessage, 'msg');
    assert.ok(e instanceof errors.SessiondError);
    assert.equal(e instanceof errors.InvalidCookie, anonymous.includes(code), code);
  }
  for (const cls of [errors.Timeout, errors.CircuitOpen, errors.ShuttingDown]) {
    assert.ok(new cls() instanceof errors.Unavailable);
  }
  assert.equal(new errors.CircuitOpen().code, 'CIRCUIT_OPEN');
  assert.equal(new errors.Timeout().code, 'TIMEOUT');
  assert.equal(new errors.ProtocolError().code, 'PROTOCOL');
  const future = errors.errorFor('SOMETHING_NEW', 'm');
  assert.equal(future.constructor, errors.SessiondError);
  assert.equal(future.code, 'SOMETHING_NEW');
});

test('error details frame is read; extra frames and bad details are ignored', () => {
  const f = (...s) => s.map((x) => Buffer.from(x));
  assert.throws(() => protocol.splitReply(f('', 'SD1', '7', 'REVOKED', 'signed out',
    '{"reason":"signed_out_elsewhere","at":5}', 'future frame')), (e) => e instanceof errors.Revoked
    && e.reason === 'signed_out_elsewhere' && e.at === 5);
  for (const tail of [[], ['not json'], ['[1]']]) {
    assert.throws(() => protocol.splitReply(f('', 'SD1', '1', 'NOT_FOUND', 'm', ...tail)),
      (e) => e instanceof errors.NotFound && Object.keys(e.details).length === 0);
  }
  assert.throws(() => protocol.splitReply(f('', 'XX1', '1', 'OK')), errors.ProtocolError);
  assert.throws(() => protocol.encodeRequest('1', 'COMMIT', [Buffer.alloc(70000)]), errors.TooLarge);
});

test('circuit breaker: opens on failure, one probe at a time, backoff doubles to the cap', () => {
  let now = 0;
  const b = new CircuitBreaker(() => now);
  assert.deepEqual(b.admit(2000), { probe: false, timeoutMs: 2000 });
  b.onFailure({ probe: false });
  assert.equal(b.admit(2000), null);
  now += FIRST_BACKOFF_MS;
  const probe = b.admit(2000);
  assert.deepEqual(probe, { probe: true, timeoutMs: 250 });
  assert.equal(b.admit(2000), null, 'the others fail fast while the probe runs');
  b.onFailure(probe);
  now += FIRST_BACKOFF_MS;
  assert.equal(b.admit(2000), null, 'backoff doubled');
  now += FIRST_BACKOFF_MS;
  let p = b.admit(100);
  assert.deepEqual(p, { probe: true, timeoutMs: 100 });
  for (let i = 0; i < 6; i += 1) {
    b.onFailure(p);
    now += MAX_BACKOFF_MS;
    p = b.admit(2000);
    assert.ok(p && p.probe, 'never waits more than the cap');
  }
  b.onReply();
  assert.equal(b.isOpen, false);
  assert.deepEqual(b.admit(2000), { probe: false, timeoutMs: 2000 });
});

test('a call that times out rebuilds the socket: a late reply never answers a later call', async () => {
  const { daemon } = env;
  const client = new Client(daemon.endpoint, { timeout: 300 });
  try {
    const s = await client.create();
    await client.commit(s.cookie, s.session.version, { set: { which: 'first' } });
    process.kill(daemon.pid, 'SIGSTOP');
    let late;
    try {
      late = client.load(s.cookie).catch((e) => e);
      assert.ok((await late) instanceof errors.Timeout);
      assert.ok((await client.ping().catch((e) => e)) instanceof errors.CircuitOpen);
    } finally {
      process.kill(daemon.pid, 'SIGCONT');
    }
    // sessiond now answers the stale LOAD, on a socket that no longer exists.
    let reply;
    for (let i = 0; i < 200 && !reply; i += 1) {
      reply = await client.version().catch(() => null);
      if (!reply) await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(reply, /^sessiond /, 'the VERSION reply, not the late LOAD reply');
    assert.equal(client.breaker.isOpen, false);
  } finally {
    client.close();
  }
});

test('sessiond down: Timeout once, then CircuitOpen at once; back within a second of restart', async () => {
  const { daemon } = env;
  const client = new Client(daemon.endpoint, { timeout: 500 });
  try {
    assert.equal(await client.ping(), 'PONG');
    await daemon.stop();
    try {
      await assert.rejects(client.ping(), errors.Timeout);
      const results = await Promise.all(Array.from({ length: 20 }, () => client.ping().catch((e) => e)));
      assert.ok(results.every((e) => e instanceof errors.CircuitOpen));
    } finally {
      await daemon.start();
    }
    let ok = false;
    for (let i = 0; i < 300 && !ok; i += 1) {
      ok = (await client.ping().catch(() => null)) === 'PONG';
      if (!ok) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(ok, 'requests succeed again after sessiond restarts');
  } finally {
    client.close();
  }
});

test('CURVE keys must come as a set of three', () => {
  assert.throws(() => new Client('tcp://127.0.0.1:1', { curveServerKey: 'x' }), TypeError);
});

// IMPORT and EXPORT need an [import.<format>] table, which this daemon has
// not: the refusal says so (the formats are Python's and Ruby's frameworks';
// their suites import real cookies).
test('IMPORT and EXPORT of a format sessiond is not configured for', async () => {
  const { client, admin } = env;
  const e = await client.importCookie('flask', 'eyJ4IjoxfQ.aaaa.bbbb').catch((x) => x);
  assert.ok(e instanceof errors.InvalidArgument);
  assert.deepEqual(e.details, { reason: 'not_configured', format: 'flask' });
  const made = await client.create();
  const out = await client.exportCookie('rails', made.cookie).catch((x) => x);
  assert.ok(out instanceof errors.InvalidArgument);
  assert.equal(out.details.reason, 'not_configured');
  const unknown = await client.importCookie('cakephp', 'x').catch((x) => x);
  assert.equal(unknown.details.reason, 'unknown_format');
  await assert.rejects(admin.importCheck('django', 'x:y:z'), errors.InvalidArgument);
  assert.equal(errors.errorFor('ALREADY_IMPORTED').constructor, errors.AlreadyImported);
});
