import { pgNoticeListener } from './notice-listener-pg.js';
import { pgliteNoticeListener } from './notice-listener-pglite.js';
import { postgresJsNoticeListener } from './notice-listener-postgres-js.js';
import type { ListenSettings, NoticeListener } from './notice-listening.js';
import type { DriverChoice } from './open.js';

export type { ListenSettings, NoticeEvents, NoticeListener } from './notice-listening.js';

/**
 * A listener for the driver the options named, or why there can be none: a single `pg.Client`
 * or a queryable of unknown make gives the store no way to open a connection of its own.
 */
export function openNoticeListener(choice: DriverChoice, settings: ListenSettings): NoticeListener | string {
  switch (choice.kind) {
    case 'pool':
      return pgNoticeListener(choice.pool, settings);
    case 'pgPromise':
      return pgNoticeListener((choice.db as { $pool?: unknown }).$pool, settings);
    case 'owned':
      return pgNoticeListener({ config: choice.config }, settings);
    case 'postgres':
      return postgresJsNoticeListener(choice.sql, settings);
    case 'pglite':
      return pgliteNoticeListener(choice.db, settings);
  }
}
