// TestDaemon: a real sessiond for tests, started through the shared launcher
// (`/usr/bin/python3 -m sessiond.testing`, clients/python/sessiond/testing.py)
// so every language's tests run the daemon the same way. It prints one JSON
// line with the endpoints, then obeys stop/kill/start/config lines on stdin;
// closing stdin stops the daemon and removes its directory.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const PYTHON_CLIENT = path.resolve(__dirname, '..', '..', 'python');

class TestDaemon {
  /**
   * Starts one daemon. options: {ipc: true (default), store: 'lmdb'|'memory',
   * session: {mode: 'hybrid', lifetime: 120, ...}, cookie: {name: 'x', ...}}.
   * Resolves once it answers PING; rejects with the launcher's output if not.
   */
  static async start(options = {}) {
    const args = ['-m', 'sessiond.testing'];
    if (options.ipc !== false) args.push('--ipc');
    if (options.store) args.push('--store', options.store);
    for (const [k, v] of Object.entries(options.session || {})) args.push('--session', `${k}=${v}`);
    for (const [k, v] of Object.entries(options.cookie || {})) args.push('--cookie', `${k}=${v}`);
    const env = { ...process.env };
    env.PYTHONPATH = env.PYTHONPATH ? `${PYTHON_CLIENT}:${env.PYTHONPATH}` : PYTHON_CLIENT;
    const child = spawn(options.python || '/usr/bin/python3', args, {
      env, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const daemon = new TestDaemon(child);
    const info = await daemon._answer();
    Object.assign(daemon, info);
    return daemon;
  }

  constructor(child) {
    this.child = child;
    this._stderr = '';
    child.stderr.on('data', (d) => { this._stderr += d; });
    this._lines = [];
    this._waiters = [];
    this._exited = false;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = this._waiters.shift();
      if (waiter) waiter.resolve(line);
      else this._lines.push(line);
    });
    child.on('exit', () => {
      this._exited = true;
      for (const w of this._waiters.splice(0)) {
        w.reject(new Error(`sessiond.testing exited:\n${this._stderr}`));
      }
    });
  }

  _answer() {
    if (this._lines.length) return Promise.resolve(JSON.parse(this._lines.shift()));
    if (this._exited) return Promise.reject(new Error(`sessiond.testing exited:\n${this._stderr}`));
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }))
      .then((line) => JSON.parse(line));
  }

  async _command(word) {
    this.child.stdin.write(`${word}\n`);
    const answer = await this._answer();
    if (!answer.ok) throw new Error(`sessiond.testing ${word}: ${answer.error}`);
    return answer;
  }

  /** SIGTERM: sessiond answers what it has read and exits. */
  stop() { return this._command('stop'); }

  /** SIGKILL, as a crash would. */
  kill() { return this._command('kill'); }

  /** Starts it again: same endpoints, data and keys. */
  start() { return this._command('start'); }

  /** The daemon's config file text (`config` is the file's path). */
  async configText() { return (await this._command('config')).config; }

  /** Stops the daemon and removes its directory. */
  close() {
    if (this._exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', resolve);
      this.child.stdin.end();
    });
  }
}

module.exports = { TestDaemon };
