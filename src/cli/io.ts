import type { Database } from '../drivers/database.js';

/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Is stderr a terminal (so progress lines make sense)? */
  readonly errIsTTY: boolean;
}

/** A command, its options read (usage errors thrown before any connection is made). */
export type Runner = (db: Database | undefined, io: Io) => Promise<number>;
