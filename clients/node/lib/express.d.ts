// Type declarations of sessiond/express (lib/express.js). Checked by
// `tsc --noEmit` (test.sh).

import type { ErrorRequestHandler, RequestHandler } from 'express';
import expressSession = require('express-session');

import type { Client, AdminClient, Session as SessiondSession, SessiondError } from './index';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SessiondStoreOptions {
  client: Client;
  /** For length(): only the admin socket counts sessions. */
  adminClient?: AdminClient;
  /** The session key that holds the user id (default 'userId'). */
  userKey?: string;
  logger?: Logger;
}

/** express-session's Store on sessiond (get, set, destroy, touch, length,
 * regenerate; no all, clear, ids). */
export class SessiondStore extends expressSession.Store {
  constructor(options: SessiondStoreOptions);
  readonly client: Client;
  readonly adminClient: AdminClient | null;
  readonly userKey: string;
  get(sid: string, callback: (err: any, session?: expressSession.SessionData | null) => void): void;
  set(sid: string, session: expressSession.SessionData, callback?: (err?: any) => void): void;
  destroy(sid: string, callback?: (err?: any) => void): void;
  touch(sid: string, session: expressSession.SessionData, callback?: (err?: any) => void): void;
  length(callback: (err: any, length?: number) => void): void;
}

export interface SessionOptions extends Omit<expressSession.SessionOptions, 'store' | 'secret'> {
  store: SessiondStore;
  /** Ignored: sessiond signs its own cookie. */
  secret?: string | string[];
  /** Commit data changes even when the response status is >= 400 (false). */
  commitOnError?: boolean;
  logger?: Logger;
}

/** express-session, configured from sessiond's HELLO and committing before
 * the response headers: `app.use(session({ store }))`. */
export function session(options: SessionOptions): RequestHandler;

export interface Device {
  id: string;
  current: boolean;
  ip: string;
  userAgent: string;
  createdAt: number;
  authenticatedAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** req.sessiond: what express-session cannot express. */
export class SessionHandle {
  /** sessiond's user id ('' when anonymous). */
  readonly userId: string;
  /** Why the browser's cookie was revoked ('' when it was not or not said). */
  readonly revokedReason: string;
  readonly cookieError: SessiondError | null;
  readonly info: SessiondSession | null;
  login(userId: string): Promise<void>;
  logout(): Promise<void>;
  devices(): Promise<Device[]>;
  signOutOthers(): Promise<number | null>;
  passwordChanged(): Promise<void>;
  flash(message: string, queue?: string): void;
  flashes(queue?: string): Promise<string[]>;
  peekFlashes(queue?: string): string[];
  csrfToken(): Promise<string>;
  checkCsrf(token: string): boolean;
  rotateCsrf(): Promise<string>;
}

export interface CsrfOptions {
  /** Request header with the token (default 'x-csrf-token'). */
  header?: string;
  /** Body field with the token (default '_csrf'). */
  field?: string;
  /** Methods that need the token (default POST, PUT, PATCH, DELETE). */
  methods?: string[];
}

export function csrf(options?: CsrfOptions): RequestHandler;
export function errorHandler(): ErrorRequestHandler;
export function forHttp<E>(err: E): E;
export function httpStatusOf(err: unknown): number;
export function sameSecret(expected: string, given: string): boolean;

export const Store: typeof expressSession.Store;
export const Session: typeof expressSession.Session;
export const Cookie: typeof expressSession.Cookie;
export const MemoryStore: typeof expressSession.MemoryStore;

declare module 'express-session' {
  interface SessionData {
    /** The watched user key: reads sessiond's user id; a new value logs in
     * (LOGIN), deleting it logs out. */
    userId?: string;
  }
}

declare global {
  namespace Express {
    interface Request {
      sessiond: SessionHandle;
    }
  }
}
