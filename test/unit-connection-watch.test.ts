import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ConnectionWatch, looksUnreachable } from '../src/connection-watch.js';
import { ConnectionError } from '../src/errors.js';
import { eventually } from './support/database.js';

/** The connect/disconnect rules, without a database: which failures count, and one lost connection is not an outage. */

const lost = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

function watched(probe: () => Promise<unknown>) {
  const events = new EventEmitter();
  const said: string[] = [];
  events.on('connect', () => said.push('connect'));
  events.on('disconnect', () => said.push('disconnect'));
  return { watch: new ConnectionWatch(events, probe), said };
}

describe('looksUnreachable', () => {
  it('counts lost and refused connections, timeouts and a server shutting down; not a refused statement', () => {
    assert.equal(looksUnreachable(lost()), true);
    assert.equal(looksUnreachable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(looksUnreachable(Object.assign(new Error('terminating connection'), { code: '57P01' })), true);
    assert.equal(looksUnreachable(Object.assign(new Error('x'), { code: '08006' })), true);
    assert.equal(
      looksUnreachable(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })),
      true,
    );
    assert.equal(looksUnreachable(new ConnectionError('could not connect', undefined, 'ERR_SSL_UNSUPPORTED')), true);
    assert.equal(looksUnreachable(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), true);
    assert.equal(looksUnreachable(new Error('wrapped', { cause: lost() })), true);
    assert.equal(looksUnreachable(Object.assign(new Error('no table'), { code: '42P01' })), false);
    assert.equal(looksUnreachable(new TypeError('bad sid')), false);
    assert.equal(looksUnreachable(undefined), false);
  });
});

describe('ConnectionWatch', () => {
  it('says connect once, at the first success', async () => {
    const { watch, said } = watched(async () => {});
    await watch.watch(Promise.resolve(1));
    await watch.watch(Promise.resolve(2));
    await eventually(async () => said.length > 0, 1000);
    assert.deepEqual(said, ['connect']);
  });

  it('one lost connection that the database answers right after is no outage', async () => {
    let probes = 0;
    const { watch, said } = watched(async () => {
      probes++;
    });
    await watch.watch(Promise.resolve());
    await assert.rejects(watch.watch(Promise.reject(lost())), { code: 'ECONNRESET' });
    assert.ok(await eventually(async () => probes === 1, 1000));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(said, ['connect']);
    watch.stop();
  });

  it('a failure of another kind asks nothing', async () => {
    let probes = 0;
    const { watch } = watched(async () => {
      probes++;
    });
    await assert.rejects(watch.watch(Promise.reject(Object.assign(new Error('no'), { code: '42501' }))));
    assert.equal(probes, 0);
  });

  it('says disconnect when the probe fails too, keeps asking, and says connect when it answers', async () => {
    let up = false;
    let probes = 0;
    const { watch, said } = watched(async () => {
      probes++;
      if (!up) throw lost();
    });
    await watch.watch(Promise.resolve());
    await assert.rejects(watch.watch(Promise.reject(lost())));
    assert.ok(await eventually(async () => said.includes('disconnect'), 2000));
    // Failures meanwhile say nothing more.
    await assert.rejects(watch.watch(Promise.reject(lost())));
    assert.ok(await eventually(async () => probes >= 3, 5000), 'asked again by itself');
    up = true;
    assert.ok(await eventually(async () => said.length === 3, 10_000));
    assert.deepEqual(said, ['connect', 'disconnect', 'connect']);
    watch.stop();
  });
});
