// Type declarations of sessiond/testing (lib/testing.js).

export interface TestDaemonOptions {
  /** App socket on ipc:// (default true). */
  ipc?: boolean;
  store?: 'lmdb' | 'memory';
  session?: Record<string, string | number | boolean>;
  cookie?: Record<string, string | number | boolean>;
  python?: string;
}

export class TestDaemon {
  static start(options?: TestDaemonOptions): Promise<TestDaemon>;
  readonly endpoint: string;
  readonly admin_endpoint: string;
  readonly dir: string;
  readonly config: string;
  readonly log: string;
  readonly pid: number;
  stop(): Promise<{ ok: boolean; code: number | null }>;
  kill(): Promise<{ ok: boolean; code: number | null }>;
  start(): Promise<{ ok: boolean; pid: number }>;
  configText(): Promise<string>;
  close(): Promise<void>;
}
