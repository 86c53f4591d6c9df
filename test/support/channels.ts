import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { OPERATIONS, type OperationContext } from '../../src/diagnostics.js';

export const KINDS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;
type Kind = (typeof KINDS)[number];

export interface Published {
  readonly kind: Kind;
  readonly context: OperationContext;
  /** The context as it was when published, every field of an error included. */
  readonly text: string;
}

/** Every error's own fields, message, stack and cause: what a careless subscriber might log. */
export function serialized(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (!(field instanceof Error)) return typeof field === 'bigint' ? String(field) : field;
    const copy: Record<string, unknown> = { name: field.name, message: field.message, stack: field.stack };
    for (const key of Reflect.ownKeys(field))
      copy[String(key)] = (field as unknown as Record<PropertyKey, unknown>)[key];
    return copy;
  });
}

/** Subscribes to every operation's channel from `start` to `stop`. */
export function channelRecorder(): { published: Published[]; start(): void; stop(): void } {
  const published: Published[] = [];
  let unsubscribes: (() => void)[] = [];
  const start = () => {
    unsubscribes = OPERATIONS.map((operation) => {
      const channel = dc.tracingChannel<unknown, OperationContext>(`connect-pg-simple:${operation}`);
      const handlers = Object.fromEntries(
        KINDS.map((kind) => [
          kind,
          (context: OperationContext) => published.push({ kind, context, text: serialized(context) }),
        ]),
      ) as unknown as dc.TracingChannelSubscribers<OperationContext>;
      channel.subscribe(handlers);
      return () => channel.unsubscribe(handlers);
    });
  };
  return {
    published,
    start,
    stop: () => {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    },
  };
}

/** The events of the one traced call of `operation` since `from`, and its context as it ended. */
export function callOf(published: Published[], operation: string, from = 0) {
  const events = published.slice(from).filter((p) => p.context.operation === operation);
  const context = events[0]?.context;
  assert.ok(context !== undefined, `${operation} published nothing`);
  const own = events.filter((p) => p.context === context);
  return { kinds: own.map((p) => p.kind), context, ended: JSON.parse(own[own.length - 1]!.text) };
}
