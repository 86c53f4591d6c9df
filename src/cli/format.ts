/** Numbers, sizes, instants and durations for people. */

export const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `1 session`, `0 sessions`, `1,200 sessions`: a count with its noun. */
export const countOf = (n: number, noun: string, plural = `${noun}s`): string =>
  `${count(n)} ${Math.round(n) === 1 ? noun : plural}`;

/**
 * A progress line with a total: `deleted 12,000 of 48,000 expired sessions (25 %), about 3 min left`.
 * The time left assumes the rest goes as fast as the part done; none is said before there is a rate.
 */
export function progressOf(done: number, total: number, what: string, elapsedMs: number): string {
  const all = Math.max(total, done);
  const share = all === 0 ? 1 : done / all;
  const left = done > 0 && done < all ? `, about ${duration(((elapsedMs / 1000) * (all - done)) / done)} left` : '';
  return `${count(done)} of ${countOf(all, what)} (${percent(share)})${left}`;
}

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB'];

/** As pg_size_pretty shows sizes: 1024-based, whole numbers, the next unit from 10240 on. */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 10 * 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.round(value)} ${UNITS[unit]}`;
}

export function duration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export const isoTime = (epochSeconds: number | null): string | null =>
  epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString();

/** `2025-01-02 03:04:05Z (3 h ago)`, or `never`. */
export function when(epochSeconds: number | null, now: number): string {
  if (epochSeconds === null) return 'never';
  const iso = new Date(Math.round(epochSeconds) * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');
  return `${iso} (${duration(now - epochSeconds)} ago)`;
}

export const percent = (ratio: number): string => `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)} %`;
