/** Numbers, sizes, instants and durations for people. */

export const count = (n: number): string => Math.round(n).toLocaleString('en-US');

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
