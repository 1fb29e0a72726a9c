// Type declarations of the sessiond client (lib/index.js, lib/client.js,
// lib/errors.js, lib/protocol.js). Checked by `tsc --noEmit` (test.sh).

/// <reference types="node" />

export interface ClientOptions {
  /** Milliseconds one call may take (default 2000); then Timeout, and the
   * socket is rebuilt. */
  timeout?: number;
  /** Milliseconds after which a socket with nothing in flight closes, so a
   * script can exit (default 10000; 0 keeps it open). */
  idleClose?: number;
  /** CURVE: the server's public key, this client's key pair (Z85); all three or none. */
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
}

export interface CallOptions {
  /** Milliseconds for this call instead of the client's timeout. */
  timeout?: number;
}

export interface Metadata {
  ip?: string;
  userAgent?: string;
}

export interface Flash {
  queue: string;
  message: string;
}

/** The session JSON of docs/protocol.md, in JavaScript names. */
export interface Session {
  id: string;
  userId: string;
  csrfToken: string;
  /** Values exactly as stored (strings). */
  data: Record<string, string>;
  flash: Flash[];
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  idleTimeout: number;
  /** When the user signed in (0 when anonymous). */
  authenticatedAt: number;
  ip: string;
  userAgent: string;
  version: number;
  new: boolean;
  /** LIST_SESSIONS: the caller's own session. */
  current: boolean;
  /** The object as received, members this client does not know included. */
  raw: Record<string, unknown>;
}

export interface SessionReply {
  /** What the browser must hold from now on. */
  cookie: string;
  /** The Set-Cookie header value to send, or "" when the browser's cookie is right. */
  setCookie: string;
  session: Session;
}

export interface FlashReply {
  reply: SessionReply;
  messages: string[];
}

export interface LogoutReply {
  setCookie: string;
}

export interface RevokeOthersReply {
  /** How many other sessions ended; null in client mode. */
  ended: number | null;
  /** Client mode: this browser's re-issued session. */
  reply: SessionReply | null;
}

export interface Hello {
  protocol: string;
  server: string;
  mode: string;
  cookie: {
    name: string;
    path: string;
    domain: string;
    secure: boolean;
    httpOnly: boolean;
    sameSite: string;
    maxAge: number;
  };
  lifetime: number;
  idleTimeout: number;
  maxDataBytes: number;
  raw: Record<string, unknown>;
}

export interface ChangeSet {
  set?: Record<string, string>;
  erase?: string[];
  flash?: Array<Flash | string>;
}

export class CircuitBreaker {
  constructor(now?: () => number);
  readonly isOpen: boolean;
  admit(timeoutMs: number): { probe: boolean; timeoutMs: number } | null;
  retryInMs(): number;
  onReply(): void;
  onFailure(admission: { probe: boolean } | null): void;
}

/** A client of sessiond's app socket; share one per process. Every method
 * rejects with a SessiondError subclass. */
export class Client {
  constructor(endpoint?: string, options?: ClientOptions);
  readonly endpoint: string;
  readonly timeout: number;
  readonly breaker: CircuitBreaker;
  /** One raw request -> its OK result frames. */
  call(verb: string, args?: Array<string | Buffer | number | null | undefined>,
    options?: CallOptions): Promise<Buffer[]>;
  close(): void;
  ping(): Promise<string>;
  version(): Promise<string>;
  hello(): Promise<Hello>;
  /** HELLO once per client object (a failure is not kept). */
  cachedHello(): Promise<Hello>;
  create(meta?: Metadata): Promise<SessionReply>;
  load(cookie: string, meta?: Metadata): Promise<SessionReply>;
  commit(cookie: string, baseVersion: number, changes?: ChangeSet): Promise<SessionReply>;
  login(cookie: string, userId: string, meta?: Metadata): Promise<SessionReply>;
  regenerate(cookie: string, meta?: Metadata): Promise<SessionReply>;
  logout(cookie: string): Promise<LogoutReply>;
  popFlash(cookie: string, queue?: string): Promise<FlashReply>;
  csrfCheck(cookie: string, token: string): Promise<void>;
  csrfRotate(cookie: string): Promise<SessionReply>;
  revokeOthers(cookie: string): Promise<RevokeOthersReply>;
  listSessions(cookie: string): Promise<Session[]>;
  bumpEpoch(cookie: string): Promise<SessionReply>;
}

/** A client of the admin socket: the app verbs and the admin verbs. */
export class AdminClient extends Client {
  userList(userId: string): Promise<Session[]>;
  userRevoke(userId: string): Promise<number>;
  userRevokeOthers(userId: string, keepSessionId: string): Promise<number>;
  sessionRevoke(sessionId: string): Promise<void>;
  keysRotate(retireAfterSeconds?: number): Promise<number>;
  stats(): Promise<Record<string, unknown>>;
}

export const DEFAULT_ENDPOINT: string;
export const DEFAULT_TIMEOUT_MS: number;

// -- errors (lib/errors.js): grouped by what the caller should do ----------

export class SessiondError extends Error {
  constructor(message?: string, options?: { code?: string; details?: Record<string, unknown> });
  /** The wire code, or TIMEOUT / CIRCUIT_OPEN / PROTOCOL / LOGIN_REQUIRED. */
  readonly code: string;
  /** The server's message (for logs). */
  readonly serverMessage: string;
  /** The error reply's details (frame 5), else {}. */
  readonly details: Record<string, unknown>;
  /** Set by sessiond/express for Express's error handling. */
  status?: number;
  statusCode?: number;
  expose?: boolean;
  headers?: Record<string, string>;
  static readonly code: string;
}
export class CallerError extends SessiondError {}
export class InvalidArgument extends CallerError {}
export class UnknownVerb extends CallerError {}
export class PermissionDenied extends CallerError {}
export class LoginRequired extends InvalidArgument {}
export class TooLarge extends SessiondError {}
export class Conflict extends SessiondError {}
export class CsrfMismatch extends SessiondError {}
export class InvalidCookie extends SessiondError {}
export class NotFound extends InvalidCookie {}
export class Revoked extends InvalidCookie {
  /** Why the session ended ('' when the server did not say). */
  readonly reason: string;
  /** When (Unix seconds; 0 when not said). */
  readonly at: number;
}
export class Expired extends InvalidCookie {}
export class BadEncoding extends InvalidCookie {}
export class Truncated extends InvalidCookie {}
export class TrailingData extends InvalidCookie {}
export class UnknownVersion extends InvalidCookie {}
export class UnknownKey extends InvalidCookie {}
export class RetiredKey extends InvalidCookie {}
export class BadMac extends InvalidCookie {}
export class NotYetValid extends InvalidCookie {}
export class Corrupt extends InvalidCookie {}
export class WrongPurpose extends InvalidCookie {}
export class Unavailable extends SessiondError {}
export class ShuttingDown extends Unavailable {}
export class Timeout extends Unavailable {}
export class CircuitOpen extends Unavailable {}
export class Internal extends SessiondError {}
export class ProtocolError extends SessiondError {}
export const WIRE_CODES: readonly string[];
export function errorFor(code: string, message?: string,
  details?: Record<string, unknown>): SessiondError;

export const errors: {
  SessiondError: typeof SessiondError; CallerError: typeof CallerError;
  InvalidArgument: typeof InvalidArgument; UnknownVerb: typeof UnknownVerb;
  PermissionDenied: typeof PermissionDenied; LoginRequired: typeof LoginRequired;
  TooLarge: typeof TooLarge; Conflict: typeof Conflict; CsrfMismatch: typeof CsrfMismatch;
  InvalidCookie: typeof InvalidCookie; NotFound: typeof NotFound; Revoked: typeof Revoked;
  Expired: typeof Expired; BadEncoding: typeof BadEncoding; Truncated: typeof Truncated;
  TrailingData: typeof TrailingData; UnknownVersion: typeof UnknownVersion;
  UnknownKey: typeof UnknownKey; RetiredKey: typeof RetiredKey; BadMac: typeof BadMac;
  NotYetValid: typeof NotYetValid; Corrupt: typeof Corrupt; WrongPurpose: typeof WrongPurpose;
  Unavailable: typeof Unavailable; ShuttingDown: typeof ShuttingDown; Timeout: typeof Timeout;
  CircuitOpen: typeof CircuitOpen; Internal: typeof Internal; ProtocolError: typeof ProtocolError;
  WIRE_CODES: readonly string[];
  errorFor: typeof errorFor;
};

export const protocol: {
  encodeRequest(requestId: string, verb: string, args?: unknown[]): Buffer[];
  splitReply(frames: Buffer[]): Buffer[];
  replyId(frames: Buffer[]): string | null;
  sessionFromJson(obj: unknown): Session;
  [name: string]: unknown;
};
