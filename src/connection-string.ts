/** How to write a character that would cut a connection string short. */
export const PERCENT_ENCODE = 'percent-encode it (encodeURIComponent: "#" as %23, "/" as %2F, "?" as %3F, "@" as %40)';

/**
 * A mistake in a postgres:// connection string that is sure to fail, told before any connect:
 * an unencoded `#` in the password (the rest of the URL becomes a fragment), or a URL that
 * cannot be read at all. The message never repeats the string.
 */
export function connectionStringProblem(text: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(text)) return undefined;
  const hash = text.indexOf('#');
  if (hash !== -1 && text.includes('@', hash)) {
    return `the password (or user name) in the connection string holds a "#": ${PERCENT_ENCODE}`;
  }
  // pg reads connection strings with the URL parser, after encoding spaces and stray % signs.
  const fixed = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text) ? encodeURI(text).replace(/%25(\d\d)/g, '%$1') : text;
  try {
    new URL(fixed.replace('@/', '@dummy/'));
  } catch {
    return `the connection string is not a valid URL; if the password holds "/", "?", "#" or ":", ${PERCENT_ENCODE}`;
  }
  return undefined;
}
