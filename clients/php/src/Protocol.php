<?php
// SD1 frames and values (docs/protocol.md): building requests, splitting
// replies, and the typed result of each verb. Pure functions, no sockets.
//
//   request, as a DEALER sends it:  "" | "SD1" | request id | VERB | args...
//   reply, as a DEALER receives it: "" | "SD1" | request id | STATUS | results...
//
// STATUS is "OK" or an error code; an error carries a message frame and may
// carry a JSON details frame after it (ignored members and frames are fine).

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ProtocolException;
use Sessiond\Exception\SessiondException;
use Sessiond\Exception\TooLargeException;

final class Protocol
{
    public const TAG = 'SD1';
    public const MAX_FRAMES = 16;
    public const MAX_FRAME_BYTES = 65536;
    public const MAX_REQUEST_ID_BYTES = 64;

    private const JSON_OUT = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR;

    /**
     * The frames of one request, the empty delimiter first. Throws
     * TooLargeException when the request breaks a protocol limit, so a
     * request the server would refuse never leaves the process.
     *
     * @param list<string|int|null> $args null and "" both mean "not given"
     * @return list<string>
     */
    public static function encodeRequest(string $requestId, string $verb, array $args = []): array
    {
        $frames = ['', self::TAG, $requestId, $verb];
        foreach ($args as $arg) {
            $frames[] = $arg === null ? '' : (string) $arg;
        }
        if (count($frames) > self::MAX_FRAMES) {
            throw new TooLargeException(sprintf('%s: %d frames, limit %d', $verb, count($frames), self::MAX_FRAMES));
        }
        foreach ($frames as $frame) {
            if (strlen($frame) > self::MAX_FRAME_BYTES) {
                throw new TooLargeException(sprintf('%s: a frame of %d bytes, limit %d',
                                                    $verb, strlen($frame), self::MAX_FRAME_BYTES));
            }
        }
        return $frames;
    }

    /** The request id of reply frames, or null when they are not SD1. */
    public static function replyId(array $frames): ?string
    {
        if (count($frames) >= 3 && $frames[0] === '' && $frames[1] === self::TAG) {
            return $frames[2];
        }
        return null;
    }

    /**
     * The OK result frames of a reply; throws the SessiondException of an
     * error status, ProtocolException when the frames are not an SD1 reply.
     *
     * @return list<string>
     */
    public static function results(array $frames): array
    {
        if (count($frames) < 4 || $frames[0] !== '' || $frames[1] !== self::TAG) {
            throw new ProtocolException('not an SD1 reply');
        }
        $status = $frames[3];
        $results = array_slice($frames, 4);
        if ($status === 'OK') {
            return $results;
        }
        $message = $results[0] ?? '';
        if (!self::isUtf8($message)) {
            $message = (string) @iconv('UTF-8', 'UTF-8//IGNORE', $message);
        }
        $details = [];
        if (isset($results[1]) && $results[1] !== '') {
            $decoded = json_decode($results[1], true);
            if (is_array($decoded) && (!array_is_list($decoded) || $decoded === [])) {
                $details = $decoded;
            }
        }
        throw SessiondException::fromWire($status, $message, $details);
    }

    /** One compact JSON frame (UTF-8). */
    public static function jsonFrame(mixed $value): string
    {
        return json_encode($value, self::JSON_OUT);
    }

    /** The optional {"ip", "user_agent"} frame, or null when both are empty. */
    public static function metadataFrame(?string $ip, ?string $userAgent): ?string
    {
        $meta = [];
        if ($ip !== null && $ip !== '') {
            $meta['ip'] = self::utf8($ip);
        }
        if ($userAgent !== null && $userAgent !== '') {
            $meta['user_agent'] = self::utf8($userAgent);
        }
        return $meta === [] ? null : self::jsonFrame($meta);
    }

    private static function utf8(string $text): string
    {
        // A user agent is whatever the browser sent; JSON needs UTF-8.
        return self::isUtf8($text) ? $text : (string) iconv('ISO-8859-1', 'UTF-8', $text);
    }

    // -- parsers: OK result frames -> typed value; ProtocolException when the
    //    frames do not have the documented shape.

    public static function parseText(array $results, string $verb): string
    {
        self::need($results, 1, $verb);
        return self::text($results[0]);
    }

    public static function parseNothing(array $results, string $verb): null
    {
        return null;
    }

    public static function parseInteger(array $results, string $verb): int
    {
        self::need($results, 1, $verb);
        if (preg_match('/\A-?[0-9]+\z/', $results[0]) !== 1) {
            throw new ProtocolException("$verb result is not an integer");
        }
        return (int) $results[0];
    }

    public static function parseSession(array $results, string $verb): SessionReply
    {
        self::need($results, 3, $verb);
        return new SessionReply(self::text($results[0]), self::text($results[1]),
                                SessionInfo::fromArray(self::json($results[2], $verb)));
    }

    public static function parseFlash(array $results, string $verb): FlashReply
    {
        $reply = self::parseSession($results, $verb);
        self::need($results, 4, $verb);
        $messages = self::json($results[3], $verb);
        if (!is_array($messages) || !array_is_list($messages)) {
            throw new ProtocolException('FLASH messages are not a JSON array');
        }
        return new FlashReply($reply, array_map(static fn ($m): string => is_string($m) ? $m : (string) json_encode($m),
                                                $messages));
    }

    public static function parseImport(array $results, string $verb): ImportReply
    {
        $reply = self::parseSession($results, $verb);
        self::need($results, 4, $verb);
        $report = self::json($results[3], $verb);
        if (!is_array($report)) {
            throw new ProtocolException('IMPORT report is not a JSON object');
        }
        return new ImportReply($reply, $report);
    }

    public static function parseExport(array $results, string $verb): ExportReply
    {
        self::need($results, 2, $verb);
        $report = self::json($results[1], $verb);
        if (!is_array($report)) {
            throw new ProtocolException('EXPORT report is not a JSON object');
        }
        return new ExportReply(self::text($results[0]), $report);
    }

    public static function parseLogout(array $results, string $verb): LogoutReply
    {
        self::need($results, 2, $verb);
        return new LogoutReply(self::text($results[1]));
    }

    public static function parseRevokeOthers(array $results, string $verb): RevokeOthersReply
    {
        // Server and hybrid mode: one integer frame. Client mode: a session reply.
        if (count($results) >= 3) {
            return new RevokeOthersReply(null, self::parseSession($results, $verb));
        }
        return new RevokeOthersReply(self::parseInteger($results, $verb));
    }

    /** @return list<SessionInfo> */
    public static function parseSessionList(array $results, string $verb): array
    {
        self::need($results, 1, $verb);
        $items = self::json($results[0], $verb);
        if (!is_array($items) || !array_is_list($items)) {
            throw new ProtocolException("$verb result is not a JSON array");
        }
        return array_map([SessionInfo::class, 'fromArray'], $items);
    }

    /** @return array<string, mixed> */
    public static function parseJsonObject(array $results, string $verb): array
    {
        self::need($results, 1, $verb);
        $obj = self::json($results[0], $verb);
        if (!is_array($obj) || (array_is_list($obj) && $obj !== [])) {
            throw new ProtocolException("$verb result is not a JSON object");
        }
        return $obj;
    }

    public static function parseDbsc(array $results, string $verb): DbscReply
    {
        $reply = self::parseSession($results, $verb);
        self::need($results, 4, $verb);
        $binding = self::json($results[3], $verb);
        if (!is_array($binding) || array_is_list($binding)) {
            throw new ProtocolException("$verb binding is not a JSON object");
        }
        return new DbscReply($reply, $binding);
    }

    public static function parseHello(array $results, string $verb): Hello
    {
        self::need($results, 1, $verb);
        return Hello::fromArray(self::json($results[0], $verb));
    }

    /** Whether $text is valid UTF-8 (PCRE's check: no mbstring needed). */
    public static function isUtf8(string $text): bool
    {
        return preg_match('//u', $text) === 1;
    }

    private static function need(array $results, int $count, string $verb): void
    {
        if (count($results) < $count) {
            throw new ProtocolException(sprintf('%s reply has %d result frames, expected %d',
                                                $verb, count($results), $count));
        }
    }

    private static function text(string $frame): string
    {
        if (!self::isUtf8($frame)) {
            throw new ProtocolException('frame is not UTF-8');
        }
        return $frame;
    }

    private static function json(string $frame, string $verb): mixed
    {
        try {
            return json_decode($frame, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException $e) {
            throw new ProtocolException("$verb: frame is not JSON: " . $e->getMessage());
        }
    }
}
