import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from '../drivers/database.js';
import type { Statement } from '../sql.js';
import type { Io } from './io.js';

const PROGRESS_INTERVAL_MS = 200;

/** Rows of one batch, read in id order. */
export type BatchRows = ReadonlyArray<Readonly<Record<string, unknown>>>;

export interface KeysetPass {
  /** $1 start after this id ('' first), $2 batch size → rows with a `sid`, in id order. */
  readonly read: Statement;
  readonly batchSize: number;
  /** Handles one batch (its own short transaction). */
  readonly handle: (rows: BatchRows) => Promise<void>;
  /** The progress line, such as `re-encrypted 10 of 20 sessions`. */
  readonly progress: () => string;
}

/**
 * Ctrl-C stops a long command after the batch in flight, rather than in the middle of one. One
 * per command run: `stopRequested` stays true once asked.
 */
export class Interruption {
  #requested = false;
  readonly #io: Io;
  readonly #onSignal = () => {
    this.#requested = true;
    if (this.#io.errIsTTY) this.#io.err('\ninterrupted: stopping after this batch\n');
  };

  constructor(io: Io) {
    this.#io = io;
    process.once('SIGINT', this.#onSignal);
  }

  get stopRequested(): boolean {
    return this.#requested;
  }

  end(): void {
    process.off('SIGINT', this.#onSignal);
  }
}

/** A progress line on stderr, when it is a terminal: redrawn at most every 200 ms, ended once. */
export class ProgressLine {
  #shownAt = 0;
  readonly #io: Io;
  readonly #text: () => string;

  constructor(io: Io, text: () => string) {
    this.#io = io;
    this.#text = text;
  }

  tick(): void {
    if (!this.#io.errIsTTY || Date.now() - this.#shownAt < PROGRESS_INTERVAL_MS) return;
    this.#io.err(`\r${this.#text()}…`);
    this.#shownAt = Date.now();
  }

  /** The last line, complete, when one was shown. */
  finish(): void {
    if (this.#io.errIsTTY && this.#shownAt > 0) this.#io.err(`\r${this.#text()}\n`);
  }
}

/**
 * One pass over the table in id order (keyset: each batch starts after the last id of the one
 * before), each batch read and handled in its own statements, with a progress line on stderr when
 * it is a terminal. Resolves when the rows run out or an interruption asks it to stop.
 */
export async function keysetPass(db: Database, io: Io, pass: KeysetPass, interruption: Interruption): Promise<void> {
  const progress = new ProgressLine(io, pass.progress);
  let after = '';
  try {
    for (;;) {
      const rows = await db.query(pass.read, [after, pass.batchSize]);
      await pass.handle(rows);
      progress.tick();
      if (rows.length < pass.batchSize || interruption.stopRequested) break;
      after = String(rows.at(-1)!.sid);
      await nextTurn();
    }
  } finally {
    progress.finish();
  }
}
