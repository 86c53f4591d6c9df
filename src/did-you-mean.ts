/** "Did you mean …?" for a misspelled name: the store's options and the CLI's flags and commands. */

/**
 * Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours
 * as one edit (optimal string alignment, the restricted Damerau–Levenshtein distance).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => i + j));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** A typo, not another word: about one edit in three characters, and at least one. */
const tolerance = (name: string) => Math.max(1, Math.floor(name.length / 3));

/** Shorter names than this are not suggested for a name they are part of ("a" in "tableName"). */
const MIN_PART_LENGTH = 4;

/**
 * The known name closest to `name`, if one is close enough to be what was meant: the same but
 * for case, a few edits away, or the one the name is part of (or that is part of it).
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let containing: string | undefined;
  for (const candidate of known) {
    const k = candidate.toLowerCase();
    if (k === lower) return candidate;
    const distance = editDistance(lower, k);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
    const shorter = Math.min(k.length, lower.length);
    if (containing === undefined && shorter >= MIN_PART_LENGTH && (k.includes(lower) || lower.includes(k))) {
      containing = candidate;
    }
  }
  if (best !== undefined && bestDistance <= tolerance(lower)) return best;
  return containing;
}

/** A suggestion: the name meant, and a word on why, when the difference is more than spelling. */
export interface Suggestion {
  readonly name: string;
  readonly note?: string;
}

/** The name meant: a known alias first (case-insensitive), else the closest known name. */
export function suggest(
  name: string,
  known: Iterable<string>,
  aliases: Readonly<Record<string, Suggestion>> = {},
): Suggestion | undefined {
  const lower = name.toLowerCase();
  for (const [alias, suggestion] of Object.entries(aliases)) {
    if (alias.toLowerCase() === lower) return suggestion;
  }
  const closest = closestName(name, known);
  return closest === undefined ? undefined : { name: closest };
}

/** ` (did you mean "x"?)`, with its note after a colon, or nothing. */
export function didYouMean(suggestion: Suggestion | undefined, quote = (s: string) => `"${s}"`): string {
  if (suggestion === undefined) return '';
  return ` (did you mean ${quote(suggestion.name)}?)${suggestion.note === undefined ? '' : `: ${suggestion.note}`}`;
}
