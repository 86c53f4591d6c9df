/**
 * What one request changed in a session it loaded, key by key: the top-level keys it set,
 * changed or deleted, each compared as JSON (a changed object or array is one changed value,
 * never merged deeply). The store writes only these, so keys the request did not touch keep
 * whatever another request wrote meanwhile.
 */
export type SessionChange =
  /** Nothing but the cookie's expiry differs: the write is a touch. */
  | { readonly kind: 'expiry' }
  /** `set` holds the changed keys' JSON as one object's text; `replaced` names every key to take out of the row first. */
  | { readonly kind: 'keys'; readonly set: string; readonly replaced: string }
  /** The change cannot go key by key (a `\u0000` or lone surrogate PostgreSQL's json functions refuse): write the whole session. */
  | { readonly kind: 'whole' };

/** A change the store writes key by key: what `applySessionChange` applies. */
export type KeysChange = Extract<SessionChange, { kind: 'keys' }>;

const WHOLE: SessionChange = { kind: 'whole' };
const EXPIRY: SessionChange = { kind: 'expiry' };

type JsonObject = Record<string, unknown>;

/**
 * PostgreSQL's json functions cannot take apart a text holding `\u0000`, or the escape of a lone
 * surrogate (`JSON.stringify` writes one as `\ud800`…`\udfff`; a valid pair is written as
 * itself): they refuse to turn it into text, and such a session is written whole. (An escaped
 * backslash before such a `u…` matches too; that only costs a whole write.)
 */
const UNSPLITTABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * `baseText` and `text` are the JSON texts of objects, as the store read and is about to write
 * them. Unless `cookieIsData`, the `cookie` key is the framework's (express-session's,
 * @fastify/session's): a change of its expiry alone is no change of the session.
 */
export function diffSessions(baseText: string, text: string, cookieIsData = false): SessionChange {
  if (UNSPLITTABLE_ESCAPE.test(baseText) || UNSPLITTABLE_ESCAPE.test(text)) return WHOLE;
  let base: JsonObject;
  let current: JsonObject;
  try {
    base = JSON.parse(baseText) as JsonObject;
    current = JSON.parse(text) as JsonObject;
  } catch {
    return WHOLE;
  }
  const setEntries: string[] = [];
  const replaced: string[] = [];
  let cookieChanged = false;
  for (const key of Object.keys(current)) {
    if (Object.hasOwn(base, key) && sameJson(base[key], current[key])) continue;
    if (key === 'cookie' && !cookieIsData && sameCookieButExpiry(base.cookie, current.cookie)) {
      cookieChanged = true;
      continue;
    }
    setEntries.push(`${JSON.stringify(key)}:${JSON.stringify(current[key])}`);
    replaced.push(key);
  }
  for (const key of Object.keys(base)) {
    if (!Object.hasOwn(current, key)) replaced.push(key);
  }
  if (replaced.length === 0) return EXPIRY;
  // The new expiry goes with the other changes.
  if (cookieChanged) {
    setEntries.push(`"cookie":${JSON.stringify(current.cookie)}`);
    replaced.push('cookie');
  }
  return { kind: 'keys', set: `{${setEntries.join(',')}}`, replaced: JSON.stringify(replaced) };
}

/**
 * Whether two values parsed from JSON would be written as the same JSON text: keys in the same
 * order, equal values. Cheaper than comparing `JSON.stringify` of both, which the store would
 * otherwise do for every key on every write.
 */
function sameJson(a: unknown, b: unknown, skip?: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const aKeys = Object.keys(a).filter((key) => skip === undefined || !skip.has(key));
  const bKeys = Object.keys(b).filter((key) => skip === undefined || !skip.has(key));
  if (aKeys.length !== bKeys.length) return false;
  for (let i = 0; i < aKeys.length; i++) {
    const key = aKeys[i] as string;
    if (key !== bKeys[i] || !sameJson((a as JsonObject)[key], (b as JsonObject)[key])) return false;
  }
  return true;
}

/**
 * The cookie's expiry, as the frameworks keep it: `expires`, and @fastify/session's
 * `originalExpires` (the expiry it loaded, which it stores back on every request).
 */
const EXPIRY_FIELDS: ReadonlySet<string> = new Set(['expires', 'originalExpires']);

function sameCookieButExpiry(base: unknown, current: unknown): boolean {
  return isObject(base) && isObject(current) && sameJson(base, current, EXPIRY_FIELDS);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `change` applied to a session's JSON text in JavaScript, as the `updateKeys` statement applies it
 * in SQL: the keys it names are taken out, the keys it sets follow the others. For sessions the
 * database cannot merge (encrypted).
 */
export function applySessionChange(currentText: string, change: KeysChange): string {
  const current = JSON.parse(currentText) as JsonObject;
  const replaced = new Set(JSON.parse(change.replaced) as string[]);
  // No prototype: a key named __proto__ is a key like any other.
  const result = Object.create(null) as JsonObject;
  for (const key of Object.keys(current)) if (!replaced.has(key)) result[key] = current[key];
  const changed = JSON.parse(change.set) as JsonObject;
  for (const key of Object.keys(changed)) result[key] = changed[key];
  return JSON.stringify(result);
}
