// The DBSC verbs (docs/dbsc.md) against a real sessiond: registration and
// refresh with a P-256 key made here (node:crypto), a refused proof, a
// missing binding, and the end. Every branch of the flows is tested in
// tests/dbsc/test_sessiond_verbs.py; this checks the Node client's methods.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, before, after } = require('node:test');

const errors = require('../lib/errors');
const { startDaemon } = require('./helpers');

const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** A device key as a browser holds it, signing DBSC proofs (ES256). */
function newKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
  return {
    proof(challenge, registration) {
      const header = { alg: 'ES256', typ: 'dbsc+jwt' };
      if (registration) header.jwk = { crv, kty, x, y };
      const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify({ jti: challenge }))}`;
      const sig = crypto.sign('sha256', Buffer.from(input),
        { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${b64u(sig)}`;
    },
  };
}

let env;
before(async () => { env = await startDaemon(); });
after(async () => { await env.close(); });

test('DBSC: register, refresh, a refused proof, no binding, end', async () => {
  const { client } = env;
  const login = await client.login('', 'hana');
  const offer = await client.dbscOffer(login.cookie);
  assert.ok(offer.header.includes(offer.challenge), offer.header);
  const key = newKey();
  const bound = await client.dbscRegister(login.cookie, key.proof(offer.challenge, true));
  const dbscId = bound.binding.dbsc_id;
  assert.equal(JSON.parse(bound.binding.instructions).session_identifier, dbscId);
  assert.match(bound.reply.setCookie, /^sessiond=/);

  const challenge = await client.dbscChallenge(bound.reply.cookie, dbscId);
  assert.ok(challenge.header.includes(dbscId), challenge.header);
  const refreshed = await client.dbscRefresh(bound.reply.cookie, dbscId,
    key.proof(challenge.challenge, false));
  assert.equal(refreshed.binding.dbsc_id, dbscId);
  const cookie = refreshed.reply.cookie;
  assert.equal((await client.load(cookie)).session.userId, 'hana');

  const again = await client.dbscChallenge(cookie, dbscId);
  await assert.rejects(client.dbscRefresh(cookie, dbscId, newKey().proof(again.challenge, false)),
    (err) => err instanceof errors.BadMac && err.details.proof === 'bad_signature');
  await assert.rejects(client.dbscChallenge(cookie, 'AAAA'),
    (err) => err instanceof errors.NotFound && err.details.reason === 'no_binding');

  const out = await client.dbscEnd(cookie);
  assert.match(out.setCookie, /Max-Age=0/);
  await assert.rejects(client.load(cookie), errors.InvalidCookie);
});

test('DBSC: a proof over a challenge never offered is wrong_challenge', async () => {
  const { client } = env;
  const login = await client.login('', 'hana');
  await client.dbscOffer(login.cookie, { path: '/auth/dbsc' });
  await assert.rejects(client.dbscRegister(login.cookie, newKey().proof('A'.repeat(43), true)),
    (err) => err instanceof errors.BadMac && err.details.proof === 'wrong_challenge');
});
