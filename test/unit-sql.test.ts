import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivedName, doBlock, dollarQuote, quoteIdentifier, quoteLiteral, tableNames } from '../src/sql.js';

// Pure: no database. (That the SQL runs is the behaviour suites' job.)
describe('quoting', () => {
  it('quotes identifiers and literals by doubling their quote character', () => {
    assert.equal(quoteIdentifier('session'), '"session"');
    assert.equal(quoteIdentifier('a"b'), '"a""b"');
    assert.equal(quoteLiteral("it's"), "'it''s'");
  });
});

describe('derivedName', () => {
  it('shortens a long name by whole characters, never splitting a surrogate pair', () => {
    const name = derivedName(`aa${'😀'.repeat(20)}`, 'pkey');
    assert.doesNotMatch(name, /[\ud800-\udfff]/u, name);
    assert.ok(Buffer.byteLength(name) <= 63);
  });

  it('is table_suffix while that fits in 63 bytes', () => {
    assert.equal(derivedName('session', 'pkey'), 'session_pkey');
    const fits = 'x'.repeat(58);
    assert.equal(derivedName(fits, 'pkey'), `${fits}_pkey`);
  });

  it('shortens a long name to 63 bytes with a hash of the whole name, keeping the suffix', () => {
    const long = 'x'.repeat(100);
    const name = derivedName(long, 'expire_idx');
    assert.equal(Buffer.byteLength(name), 63);
    assert.match(name, /^x+_[0-9a-f]{8}_expire_idx$/);
  });

  it('gives two long names with the same beginning different derived names', () => {
    const a = `${'x'.repeat(80)}a`;
    const b = `${'x'.repeat(80)}b`;
    assert.notEqual(derivedName(a, 'pkey'), derivedName(b, 'pkey'));
  });

  it('counts bytes, not characters, and never splits a two-byte character', () => {
    const name = derivedName('é'.repeat(40), 'pkey');
    assert.ok(Buffer.byteLength(name) <= 63);
    assert.ok(!name.includes('\uFFFD'));
    assert.match(name, /^é+_[0-9a-f]{8}_pkey$/);
  });
});

describe('tableNames', () => {
  it('qualifies with the schema when one is named, and quotes everything', () => {
    const names = tableNames('my "table"', 'my schema');
    assert.equal(names.qualified, '"my schema"."my ""table"""');
    assert.equal(names.quotedSchema, '"my schema"');
    assert.equal(names.primaryKey, '"my ""table""_pkey"');
    assert.equal(names.expireIndex, '"my ""table""_expire_idx"');
  });

  it('leaves the schema to search_path when none is named', () => {
    const names = tableNames('session');
    assert.equal(names.qualified, '"session"');
    assert.equal(names.quotedSchema, undefined);
  });
});

describe('doBlock and dollarQuote', () => {
  it('wrap a body in a DO block / dollar quotes tagged $cps$', () => {
    assert.equal(doBlock('PERFORM 1;'), 'DO $cps$\nBEGIN\nPERFORM 1;\nEND\n$cps$');
    assert.equal(dollarQuote('SELECT 1'), '$cps$\nSELECT 1\n$cps$');
  });

  it('pick a tag the body does not contain, so the body cannot end the quote', () => {
    const body = "SELECT '$cps$', '$cps0$'";
    const quoted = dollarQuote(body);
    assert.equal(quoted, `$cps1$\n${body}\n$cps1$`);
    const block = doBlock(body);
    assert.ok(block.startsWith('DO $cps1$\n') && block.endsWith('\n$cps1$'));
  });
});
