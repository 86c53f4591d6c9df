import type { EventEmitter } from 'node:events';
import { ConnectionError } from './errors.js';

/**
 * The store's `connect` and `disconnect` events: express-session stops using a store that says
 * `disconnect` (each request then goes on without a session) until it says `connect`.
 *
 * `connect` is emitted when the database first answers an operation, and again when it answers
 * after a `disconnect`. An operation failing as if the database were unreachable (a refused or
 * lost connection, a timeout) does not say `disconnect` by itself, since a pool loses single
 * connections too: the store asks the database at once, and says `disconnect` only when that
 * fails as well. While disconnected it asks again, less and less often, until the database
 * answers: a disconnected express-session sends no operation that would find out.
 */

/** Node's socket errors of a server that cannot be reached or went away. */
const SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);

/** postgres.js's codes of a lost or failed connection. */
const DRIVER_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
]);

/** PostgreSQL's SQLSTATEs of a connection ended by the server or refused while it starts or stops. */
const SERVER_GONE: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03']);

/** pg's messages for a connection lost without a code. */
const LOST_CONNECTION =
  /^Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect/;

const MAX_CAUSE_DEPTH = 4;

/**
 * Whether an operation's error says the database may be unreachable: worth asking it again.
 * A timed-out operation counts: a server that drops packets looks like that.
 */
export function looksUnreachable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof ConnectionError) return true;
    const { code, message, name } = current as { code?: unknown; message?: unknown; name?: unknown };
    if (typeof code === 'string') {
      if (SOCKET_CODES.has(code) || DRIVER_CODES.has(code) || SERVER_GONE.has(code) || code.startsWith('08')) {
        return true;
      }
    }
    if (name === 'TimeoutError') return true;
    if (typeof message === 'string' && LOST_CONNECTION.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The first look again after a failure is at once; then these waits, growing to the last. */
export const PROBE_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 5000, 10_000];

type State = 'unknown' | 'connected' | 'checking' | 'disconnected';

/**
 * Watches operations' outcomes and emits `connect` / `disconnect` on the store. `probe` asks the
 * database something cheap through the store's own path (the table check included).
 */
export class ConnectionWatch {
  #state: State = 'unknown';
  /** The last event emitted: each is said once per change. */
  #said: 'connect' | 'disconnect' | undefined;
  #timer: NodeJS.Timeout | undefined;
  #probes = 0;
  #stopped = false;

  constructor(
    private readonly events: EventEmitter,
    private readonly probe: () => Promise<unknown>,
  ) {}

  /** The operation's promise, watched: it settles as it would have. */
  watch<T>(operation: Promise<T>): Promise<T> {
    return operation.then(
      (value) => {
        this.succeeded();
        return value;
      },
      (error: unknown) => {
        this.failed(error);
        throw error;
      },
    );
  }

  /** An operation succeeded. Only the first counts: once disconnected, the probe decides (a `get` the cache answered proves nothing). */
  succeeded(): void {
    if (this.#state === 'unknown') this.#reached();
  }

  /** An operation failed: if the database looks unreachable, the probe starts looking. */
  failed(error: unknown): void {
    if ((this.#state === 'unknown' || this.#state === 'connected') && looksUnreachable(error)) {
      this.#state = 'checking';
      this.#probe();
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #probe(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.probe().then(
      () => {
        if (this.#stopped) return;
        this.#probes = 0;
        this.#reached();
      },
      (error: unknown) => {
        if (this.#stopped) return;
        if (!looksUnreachable(error)) {
          // The database answered, with an error of another kind: it is reachable.
          this.#reached();
          return;
        }
        this.#state = 'disconnected';
        this.#say('disconnect');
        const delay = PROBE_DELAYS_MS[Math.min(this.#probes, PROBE_DELAYS_MS.length - 1)]!;
        this.#probes++;
        this.#timer = setTimeout(() => this.#probe(), delay);
        this.#timer.unref();
      },
    );
  }

  #reached(): void {
    this.#state = 'connected';
    this.#say('connect');
  }

  /**
   * Each event once per change, on the next tick: a listener that throws fails like any
   * listener, not the operation that noticed.
   */
  #say(event: 'connect' | 'disconnect'): void {
    if (this.#said === event) return;
    this.#said = event;
    process.nextTick(() => this.events.emit(event));
  }
}
