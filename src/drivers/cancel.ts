import { connect } from 'node:net';
import type { OperationTimeoutError } from '../errors.js';
import type { Deadline } from '../time-limit.js';

/** What PostgreSQL needs to cancel the statement a connection runs: its backend key and address. */
export interface BackendKey {
  readonly processID: number;
  readonly secretKey: number;
  readonly host: string;
  readonly port: number;
}

/** The backend key of a connected pg (node-postgres) client; undefined for anything else. */
export function backendKeyOf(client: unknown): BackendKey | undefined {
  const c = client as {
    processID?: unknown;
    secretKey?: unknown;
    connectionParameters?: { host?: unknown; port?: unknown };
  } | null;
  if (typeof c?.processID !== 'number' || typeof c.secretKey !== 'number') return undefined;
  const host = c.connectionParameters?.host;
  const port = Number(c.connectionParameters?.port ?? 5432);
  return {
    processID: c.processID,
    secretKey: c.secretKey,
    host: typeof host === 'string' && host !== '' ? host : 'localhost',
    port: Number.isInteger(port) ? port : 5432,
  };
}

const CANCEL_REQUEST_CODE = 80877102;

/**
 * Sends PostgreSQL's CancelRequest on a connection of its own, as libpq's PQcancel does: write
 * the request, then wait for the server to close the connection (it has signalled the backend by
 * then). Closing our side first would make PgBouncer drop the request. Resolves once closed, or
 * failed, or after `timeoutMs`: never rejects.
 */
export function sendCancelRequest(key: BackendKey, timeoutMs: number): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeUInt32BE(key.processID >>> 0, 8);
  packet.writeUInt32BE(key.secretKey >>> 0, 12);
  return new Promise((resolve) => {
    const socket = key.host.startsWith('/') ? connect(`${key.host}/.s.PGSQL.${key.port}`) : connect(key.port, key.host);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.once('connect', () => socket.write(packet));
    socket.once('error', finish);
    socket.once('close', finish);
  });
}

/** A Node-style callback. */
export type Done<T> = (error: unknown, value?: T) => void;

/** How to take a connection `C` from a pool for one statement, and give it back: made once per pool. */
export interface Leasing<C> {
  acquire(done: Done<C>): void;
  /** Gives the connection back; with `destroy`, the pool closes it instead of reusing it. */
  release(connection: C, destroy: boolean): void;
  /** The pg client a cancel request is for (see backendKeyOf). */
  clientOf(connection: C): unknown;
  /** How long a cancelled statement may take to end before its connection is closed anyway. */
  readonly graceMs: number;
  /** The error to fail with when time runs out before a connection came, in place of the deadline's own. */
  expiredWaiting(expired: OperationTimeoutError): unknown;
}

/**
 * Takes a connection and runs one statement on it with `run`, under `deadline`. When the deadline
 * expires, the promise fails at once; a statement already running is cancelled on the server, and
 * its connection is closed rather than reused — as soon as the statement ended, or `graceMs`
 * later at the latest — so that neither a late cancel nor a late reply can reach whoever uses the
 * connection next (and PgBouncer still knows whose cancel it is). A connection that comes after
 * the deadline goes back unused. A connection whose statement failed is closed too, as pg's
 * `pool.query` does.
 *
 * Why a cancel request: pg's `query_timeout` only stops waiting, and a server-side
 * `statement_timeout` counts from when the statement starts on the server, not from when the
 * operation started, and cannot be set on a user's pool: either would let a statement go on
 * writing after its caller was told it timed out.
 *
 * Callbacks rather than promises inside: this runs for every statement.
 */
export function runOnLease<C, T>(
  leasing: Leasing<C>,
  run: (connection: C, done: Done<T>) => void,
  /** Undefined: no time limit (the statement is still run on a connection of its own). */
  deadline: Deadline | undefined,
): Promise<T> {
  if (deadline?.expired !== undefined) return Promise.reject(deadline.expired);
  return new Promise<T>((resolve, reject) => {
    let acquired = false;
    let connection: C | undefined;
    let released = false;
    let grace: NodeJS.Timeout | undefined;
    const release = (destroy: boolean) => {
      if (connection === undefined || released) return;
      released = true;
      leasing.release(connection, destroy);
    };
    if (deadline !== undefined) {
      deadline.onExpire = () => {
        if (connection === undefined) {
          reject(leasing.expiredWaiting(deadline.expired!));
          return;
        }
        reject(deadline.expired);
        const key = backendKeyOf(leasing.clientOf(connection));
        if (key !== undefined) void sendCancelRequest(key, leasing.graceMs);
        grace = setTimeout(release, leasing.graceMs, true);
      };
    }
    leasing.acquire((failure, leased) => {
      // A pool that calls back twice must not make a statement run twice.
      if (acquired) return;
      acquired = true;
      if (failure !== undefined && failure !== null) {
        if (deadline !== undefined) deadline.onExpire = undefined;
        reject(failure);
        return;
      }
      connection = leased as C;
      if (deadline?.expired !== undefined) {
        release(false);
        reject(deadline.expired);
        return;
      }
      const finish: Done<T> = (error, value) => {
        if (deadline !== undefined) deadline.onExpire = undefined;
        if (grace !== undefined) clearTimeout(grace);
        const failed = error !== undefined && error !== null;
        release(failed || deadline?.expired !== undefined);
        if (failed) reject(error);
        else resolve(value as T);
      };
      try {
        run(connection, finish);
      } catch (error) {
        finish(error);
      }
    });
  });
}
