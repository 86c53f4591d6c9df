/**
 * The shapes every floor shares: a session as the store sees it, and the functions a user gives
 * as options. Types only; no module of this package is imported here.
 */

/** The session object as the store sees it: whatever the framework hands over. */
export type SessionObject = Record<string, unknown> & { cookie?: unknown };

/** The `errorLog` option: where the store reports what it survived. */
export type ErrorLog = (...args: unknown[]) => void;

/** The `userId` option: which user a session belongs to. */
export type UserIdOf = (session: SessionObject) => string | number | null | undefined;

/** Metadata `describe` records about a session's device. */
export type SessionDetails = Record<string, string | number | boolean | null>;

/** The `describe` option: what to record about a session's device. */
export type DescribeSession = (session: SessionObject, req?: unknown) => SessionDetails | undefined;
