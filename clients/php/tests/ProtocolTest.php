<?php
// Pure functions of the protocol layer and the value encoding: the frames
// of a request, error replies with details, unknown codes, values.

declare(strict_types=1);

namespace Sessiond\Tests;

use PHPUnit\Framework\TestCase;
use Sessiond\Exception\CallerException;
use Sessiond\Exception\ConflictException;
use Sessiond\Exception\InvalidCookieException;
use Sessiond\Exception\ProtocolException;
use Sessiond\Exception\RevokedException;
use Sessiond\Exception\SessionLimitException;
use Sessiond\Exception\SessiondException;
use Sessiond\Exception\TooLargeException;
use Sessiond\Exception\UnavailableException;
use Sessiond\Exception\WrongPurposeException;
use Sessiond\Protocol;
use Sessiond\Values;

final class ProtocolTest extends TestCase
{
    public function testARequestIsTheDelimiterTagIdVerbAndArguments(): void
    {
        $this->assertSame(['', 'SD1', '7', 'LOAD', 'cookie', ''], Protocol::encodeRequest('7', 'LOAD', ['cookie', null]));
        $this->expectException(TooLargeException::class);
        Protocol::encodeRequest('1', 'PING', array_fill(0, 13, 'x'));
    }

    public function testErrorRepliesCarryMessageAndDetails(): void
    {
        try {
            Protocol::results(['', 'SD1', '1', 'REVOKED', 'session revoked', '{"reason":"password_changed","at":1700000000,"new":1}', 'extra']);
            $this->fail('no exception');
        } catch (RevokedException $e) {
            $this->assertInstanceOf(InvalidCookieException::class, $e);
            $this->assertSame('REVOKED', $e->getErrorCode());
            $this->assertSame('session revoked', $e->getServerMessage());
            $this->assertSame('password_changed', $e->reason());
            $this->assertSame(1700000000, $e->revokedAt());
            $this->assertSame(1, $e->getDetails()['new']);
        }
    }

    public function testEveryWireCodeHasItsClassAndUnknownCodesStayUsable(): void
    {
        $this->assertInstanceOf(WrongPurposeException::class, SessiondException::fromWire('WRONG_PURPOSE'));
        $this->assertInstanceOf(InvalidCookieException::class, SessiondException::fromWire('WRONG_PURPOSE'));
        $this->assertInstanceOf(ConflictException::class, SessiondException::fromWire('CONFLICT'));
        $this->assertInstanceOf(SessionLimitException::class, SessiondException::fromWire('SESSION_LIMIT'));
        $this->assertInstanceOf(CallerException::class, SessiondException::fromWire('SESSION_LIMIT'));
        $this->assertInstanceOf(UnavailableException::class, SessiondException::fromWire('SHUTTING_DOWN'));
        foreach (SessiondException::wireCodes() as $code) {
            $this->assertSame($code, SessiondException::fromWire($code)->getErrorCode());
        }
        $new = SessiondException::fromWire('SOMETHING_NEW', 'later');
        $this->assertSame(SessiondException::class, get_class($new));
        $this->assertSame('SOMETHING_NEW', $new->getErrorCode());
    }

    public function testMalformedRepliesAreProtocolErrors(): void
    {
        $this->expectException(ProtocolException::class);
        Protocol::parseSession(Protocol::results(['', 'SD1', '1', 'OK', 'cookie', '', 'not json']), 'LOAD');
    }

    public function testValuesAreJsonWhenJsonCanHoldThemAndPhpSerializeOtherwise(): void
    {
        foreach ([null, true, 0, -5, 1.0, 0.1, 'x', 'é/', [], [1, 2], ['a' => 1, 'b' => [true]], [3 => 'x', 1 => 'y'],
                  ['0' => 1, '01' => 2], '~php:abc', '[1,2]'] as $value) {
            $text = Values::encode($value);
            $this->assertStringStartsNotWith(Values::PHP_PREFIX, $text);
            $this->assertSame($value, Values::decode($text), $text);
        }
        foreach ([new \DateTimeImmutable('2020-01-01'), "\xff", INF, ['nested' => new \ArrayObject([1])]] as $value) {
            $text = Values::encode($value);
            $this->assertStringStartsWith(Values::PHP_PREFIX, $text);
            $this->assertEquals($value, Values::decode($text));
        }
        $this->assertSame('not json', Values::decode('not json'));  // another client's plain string
        $this->assertFalse(Values::changed('{"b":2, "a":1}', ['b' => 2, 'a' => 1]));  // same value, other spelling
        $this->assertTrue(Values::changed('1', 1.0));
    }
}
