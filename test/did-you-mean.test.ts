import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestName, didYouMean, editDistance, suggest } from '../src/did-you-mean.js';

describe('did you mean', () => {
  it('counts insertions, deletions, substitutions and swaps as one edit each', () => {
    assert.equal(editDistance('', ''), 0);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('ttl', 'ttl'), 0);
    assert.equal(editDistance('createTableIfMising', 'createTableIfMissing'), 1);
    assert.equal(editDistance('tabel', 'table'), 1, 'a swap is one edit');
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests a name a typo or a change of case away, and nothing for another word', () => {
    const known = ['schema', 'migrate', 'prune', 'stats'];
    assert.equal(closestName('migrat', known), 'migrate');
    assert.equal(closestName('STATS', known), 'stats');
    assert.equal(closestName('purne', known), 'prune');
    assert.equal(closestName('status', known), 'stats');
    assert.equal(closestName('frobnicate', known), undefined);
    assert.equal(closestName('x', known), undefined);
    assert.equal(closestName('pruneAll', known), 'prune', 'a known name it contains');
  });

  it('prefers a known alias, with its note', () => {
    const aliases = { maxAge: { name: 'ttl', note: 'seconds' } };
    assert.deepEqual(suggest('MAXAGE', ['ttl'], aliases), { name: 'ttl', note: 'seconds' });
    assert.equal(didYouMean(suggest('maxAge', ['ttl'], aliases)), ' (did you mean "ttl"?): seconds');
    assert.equal(didYouMean(suggest('tll', ['ttl'])), ' (did you mean "ttl"?)');
    assert.equal(didYouMean(undefined), '');
    assert.equal(
      didYouMean({ name: 'batch-size' }, (s) => `--${s}`),
      ' (did you mean --batch-size?)',
    );
  });
});
