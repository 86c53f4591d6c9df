/**
 * A test that needs a system tool (pgbouncer, chromium, a PostgreSQL cluster's tools) skips where
 * it is absent, saying why; in CI, which installs every one (.ci/install-system-packages), an
 * absent tool is a failure, never a skip. `missing` says what is absent, undefined when nothing is.
 */
export function skipUnlessInstalled(missing: string | undefined, what = 'suite'): string | undefined {
  if (missing !== undefined && process.env.CI) throw new Error(`${missing} (CI must run every ${what})`);
  return missing;
}
