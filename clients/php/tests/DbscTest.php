<?php
// The DBSC verbs (docs/dbsc.md) against a real sessiond: registration and
// refresh with a P-256 key made here (PHP's openssl), a refused proof, a
// missing binding, and the end. Every branch of the flows is tested in
// tests/dbsc/test_sessiond_verbs.py; this checks the PHP client's methods.

declare(strict_types=1);

namespace Sessiond\Tests;

use PHPUnit\Framework\TestCase;
use Sessiond\Client;
use Sessiond\Exception\BadMacException;
use Sessiond\Exception\InvalidCookieException;
use Sessiond\Exception\NotFoundException;
use Sessiond\Shared\MemoryStore;
use Sessiond\Tests\Support\Daemon;

final class DbscTest extends TestCase
{
    private static Daemon $daemon;

    public static function setUpBeforeClass(): void
    {
        self::$daemon = new Daemon();
    }

    public static function tearDownAfterClass(): void
    {
        self::$daemon->close();
    }

    private function client(): Client
    {
        return new Client(self::$daemon->endpoint, 2.0, ['store' => new MemoryStore()]);
    }

    private static function b64u(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    private static function newKey(): \OpenSSLAsymmetricKey
    {
        $key = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
        self::assertNotFalse($key);
        return $key;
    }

    /** A DBSC proof as a browser signs it: ES256 with JOSE's raw r||s. */
    private static function proof(\OpenSSLAsymmetricKey $key, string $challenge, bool $registration): string
    {
        $header = ['alg' => 'ES256', 'typ' => 'dbsc+jwt'];
        if ($registration) {
            $ec = openssl_pkey_get_details($key)['ec'];
            $header['jwk'] = ['crv' => 'P-256', 'kty' => 'EC',
                              'x' => self::b64u(str_pad($ec['x'], 32, "\0", STR_PAD_LEFT)),
                              'y' => self::b64u(str_pad($ec['y'], 32, "\0", STR_PAD_LEFT))];
        }
        $input = self::b64u(json_encode($header, JSON_UNESCAPED_SLASHES)) . '.'
            . self::b64u(json_encode(['jti' => $challenge]));
        self::assertTrue(openssl_sign($input, $der, $key, OPENSSL_ALGO_SHA256));
        return $input . '.' . self::b64u(self::derToRaw($der));
    }

    /** An ECDSA-Sig-Value (SEQUENCE of two INTEGERs) as 32-byte r || s. */
    private static function derToRaw(string $der): string
    {
        $at = 2; // SEQUENCE tag and (short) length
        $out = '';
        for ($i = 0; $i < 2; $i++) {
            $len = ord($der[$at + 1]);
            $int = ltrim(substr($der, $at + 2, $len), "\0");
            $out .= str_pad($int, 32, "\0", STR_PAD_LEFT);
            $at += 2 + $len;
        }
        return $out;
    }

    public function testRegisterRefreshRefuseAndEnd(): void
    {
        $c = $this->client();
        $login = $c->login('', 'gina');
        $offer = $c->dbscOffer($login->cookie);
        $this->assertStringContainsString($offer['challenge'], $offer['header']);
        $key = self::newKey();
        $bound = $c->dbscRegister($login->cookie, self::proof($key, $offer['challenge'], true));
        $dbscId = $bound->binding['dbsc_id'];
        $this->assertSame($dbscId, json_decode($bound->binding['instructions'], true)['session_identifier']);
        $this->assertNotSame('', $bound->reply->setCookie);

        $challenge = $c->dbscChallenge($bound->reply->cookie, $dbscId);
        $this->assertStringContainsString($dbscId, $challenge['header']);
        $refreshed = $c->dbscRefresh($bound->reply->cookie, $dbscId,
                                     self::proof($key, $challenge['challenge'], false));
        $this->assertSame($dbscId, $refreshed->binding['dbsc_id']);
        $cookie = $refreshed->reply->cookie;
        $this->assertSame('gina', $c->load($cookie)->session->userId);

        $again = $c->dbscChallenge($cookie, $dbscId);
        try {
            $c->dbscRefresh($cookie, $dbscId, self::proof(self::newKey(), $again['challenge'], false));
            $this->fail('another key refreshed the session');
        } catch (BadMacException $e) {
            $this->assertSame('bad_signature', $e->getDetails()['proof'] ?? null);
        }
        try {
            $c->dbscChallenge($cookie, 'AAAA');
            $this->fail('a binding the session does not have answered');
        } catch (NotFoundException $e) {
            $this->assertSame('no_binding', $e->getDetails()['reason'] ?? null);
        }

        $out = $c->dbscEnd($cookie);
        $this->assertStringContainsString('Max-Age=0', $out->setCookie);
        $this->expectException(InvalidCookieException::class);
        $c->load($cookie);
    }

    public function testAProofOverAChallengeNeverOfferedIsWrongChallenge(): void
    {
        $c = $this->client();
        $login = $c->login('', 'gina');
        $c->dbscOffer($login->cookie, '/auth/dbsc');
        try {
            $c->dbscRegister($login->cookie, self::proof(self::newKey(), str_repeat('A', 43), true));
            $this->fail('a challenge never offered registered');
        } catch (BadMacException $e) {
            $this->assertSame('wrong_challenge', $e->getDetails()['proof'] ?? null);
        }
    }
}
