import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const STUCK_AFTER_MS = 1000;

/**
 * Finds this process's connections to the given ports that are open but have sent nothing for a
 * second: logins a driver never sent. postgres.js 3.x (3.4.9 and 3.4.10) makes them: when a
 * connection is lost while a statement written to it waits for the event loop's next turn to go
 * out, postgres.js cancels that turn but keeps it as pending, and every later login of that
 * connection slot waits for it forever (the server waits for the login, postgres.js for
 * `connect_timeout`, then tries again the same way). Seen in the failover test; see docs/scaling.md.
 */
export class UnsentLogins {
  readonly #silentSince = new Map<Socket, number>();
  #mostAtOnce = 0;

  constructor(private readonly ports: readonly number[]) {}

  /** The most connections seen silent for a second or more at one time: at least that many slots were stuck. */
  get mostAtOnce(): number {
    return this.#mostAtOnce;
  }

  /** Looks at every open socket once; call it every few hundred milliseconds. */
  sample(): void {
    const now = performance.now();
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    let stuck = 0;
    for (const handle of handles) {
      if (!(handle instanceof Socket) || handle.connecting || !this.ports.includes(handle.remotePort ?? -1)) continue;
      if (handle.bytesWritten > 0) {
        this.#silentSince.delete(handle);
        continue;
      }
      const since = this.#silentSince.get(handle);
      if (since === undefined) this.#silentSince.set(handle, now);
      else if (now - since >= STUCK_AFTER_MS) stuck++;
    }
    this.#mostAtOnce = Math.max(this.#mostAtOnce, stuck);
  }
}

/**
 * What a statement given to such a slot fails with: the operation's time limit, or postgres.js's
 * `connect_timeout` (which the store explains as a `ConnectTimeoutError`, code ETIMEDOUT too).
 */
export function isUnsentLoginTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'ETIMEDOUT';
}
