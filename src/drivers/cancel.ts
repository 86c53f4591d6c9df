import { connect } from 'node:net';
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

/** A connection taken from a pool for one statement. */
export interface Lease {
  readonly client: unknown;
  /** Gives the connection back; with `destroy`, the pool closes it instead of reusing it. */
  release(destroy: boolean): void;
}

/**
 * Runs one statement on a leased connection. If the deadline expires first, the server is asked
 * to cancel the statement, and the connection is closed rather than reused — as soon as the
 * statement ended, or `graceMs` later at the latest — so that neither a late cancel nor a late
 * reply can reach whoever uses the connection next. A connection whose statement failed is
 * closed too, as pg's `pool.query` does.
 */
export function runLeased<T>(lease: Lease, run: () => Promise<T>, deadline: Deadline, graceMs: number): Promise<T> {
  if (deadline.expired !== undefined) {
    lease.release(false);
    return Promise.reject(deadline.expired);
  }
  let released = false;
  let grace: NodeJS.Timeout | undefined;
  const release = (destroy: boolean) => {
    if (released) return;
    released = true;
    lease.release(destroy);
  };
  deadline.onExpire = () => {
    const key = backendKeyOf(lease.client);
    if (key !== undefined) void sendCancelRequest(key, graceMs);
    grace = setTimeout(() => release(true), graceMs);
  };
  const ended = (destroy: boolean) => {
    deadline.onExpire = undefined;
    if (grace !== undefined) clearTimeout(grace);
    release(destroy);
  };
  let running: Promise<T>;
  try {
    running = run();
  } catch (error) {
    ended(true);
    return Promise.reject(error);
  }
  return running.then(
    (value) => {
      ended(deadline.expired !== undefined);
      return value;
    },
    (error: unknown) => {
      ended(true);
      throw error;
    },
  );
}
