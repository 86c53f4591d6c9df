/**
 * What each server behind `readPool` is sure to show to a statement sent now: a WAL position it
 * had replayed when an earlier statement, which has ended, asked it.
 *
 * Why not check the position in the reading statement itself: a statement reads with a snapshot
 * taken when it starts, and any function it calls runs later. A replica that replays the write
 * in between would pass the check and still hand back the row as it was before. A position seen
 * by a statement that ended before this one was sent is one this statement's snapshot includes.
 *
 * A server is known by its address, port and start time: a restarted replica starts again from
 * its last restart point, so what it showed before says nothing. Each server keeps two
 * observations, at least `STEADY_MS` apart, so that a statement sent just before the latest one
 * arrived still has an older one to go by.
 */
interface Observation {
  readonly lsn: bigint;
  /** When the statement that saw it had ended, on the store's clock. */
  readonly at: number;
}

interface ServerPositions {
  current: Observation;
  previous: Observation | undefined;
}

/** An observation is replaced by a newer one at most this often. */
const STEADY_MS = 10;
/** Servers remembered at once: far more than a read pool reaches; past it, all are forgotten. */
const MAX_SERVERS = 64;

export class ReplayPositions {
  readonly #servers = new Map<string, ServerPositions>();

  /** A statement that ended at `at` saw `server` had replayed up to `lsn`. */
  observed(server: string, lsn: bigint, at: number): void {
    const known = this.#servers.get(server);
    if (known === undefined) {
      if (this.#servers.size >= MAX_SERVERS) this.#servers.clear();
      this.#servers.set(server, { current: { lsn, at }, previous: undefined });
      return;
    }
    if (lsn <= known.current.lsn || at - known.current.at < STEADY_MS) return;
    known.previous = known.current;
    known.current = { lsn, at };
  }

  /** Whether a statement sent to `server` at `sentAt` reads a snapshot that includes position `required`. */
  covers(server: string, sentAt: number, required: bigint): boolean {
    const known = this.#servers.get(server);
    if (known === undefined) return false;
    const { current, previous } = known;
    if (current.at < sentAt) return current.lsn >= required;
    return previous !== undefined && previous.at < sentAt && previous.lsn >= required;
  }
}
