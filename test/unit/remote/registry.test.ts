// Option declarations type their readers: a declared option is read under its
// own name and as its own type, anything else does not compile. The expect-error
// directives are the test: were a wrong name or type accepted, tsc (which the
// test run starts with) would fail on the unused directive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { declareOptions, OptionValues } from '../../../src/remote/registry.js';
import { cryptOptions } from '../../../src/remote/crypt-options.js';
import { obscure } from '../../../src/crypt/obscure.js';

const specs = declareOptions([
  { name: 'endpoint', help: 'Where.' },
  { name: 'chunk_size', help: 'How big.', type: 'size', default: '5Mi' },
  { name: 'fast', help: 'Go fast.', type: 'bool', default: false },
  { name: 'mode', help: 'How.', type: 'enum', exclusive: true, default: 'a', examples: [{ value: 'a', help: 'A' }, { value: 'b', help: 'B' }] },
  { name: 'key', help: 'The key.', secret: true },
]);

describe('typed option values', () => {
  it('reads each declared option as its declared type', () => {
    const o = new OptionValues(specs, { endpoint: 'x', fast: 'true', mode: 'B', key: obscure('k') });
    assert.equal(o.string('endpoint'), 'x');
    assert.equal(o.size('chunk_size'), 5 * 1024 * 1024);
    assert.equal(o.bool('fast'), true);
    assert.equal(o.choice('mode'), 'b');
    assert.equal(o.string('mode'), 'B');
    assert.equal(o.secret('key').toString(), 'k');
    assert.equal(o.has('endpoint'), true);
    assert.equal(o.has('key'), true);
    assert.throws(() => new OptionValues(specs, { fast: 'maybe' }).bool('fast'), ConfigError);
  });

  it('turns a misspelt or mistyped option into a compile error', () => {
    const o = new OptionValues(specs, {});
    // Each call is wrong and must not compile (the directives); only a misspelt name would also
    // be refused at run time (the spec lookup), so they are listed, not called.
    const wrong = [
      // @ts-expect-error a name that is not declared
      () => o.string('endpiont'),
      // @ts-expect-error a size option read as a bool
      () => o.bool('chunk_size'),
      // @ts-expect-error a plain option read as a secret
      () => o.secret('endpoint'),
      // @ts-expect-error a bool option read as text
      () => o.string('fast'),
      // @ts-expect-error a text option read as a size
      () => o.size('mode'),
    ];
    assert.equal(wrong.length, 5);
    assert.throws(wrong[0], /not declared/);
  });

  it("types the backends' own declarations (crypt)", () => {
    const o = new OptionValues(cryptOptions, { remote: 'r:', filename_encryption: 'off' });
    assert.equal(o.choice('filename_encryption'), 'off');
    assert.equal(o.choice('integrity'), 'default');
    // @ts-expect-error a crypt option that does not exist (rclone has pass_bad_blocks)
    assert.throws(() => o.bool('pass_bad_block'), /not declared/);
  });
});
