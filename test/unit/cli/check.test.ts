// check report files, in-process. The cases compared with the real rclone are in
// test/integration/cli/check-rclone.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fresh, cli, writeTree } from '../../helpers/check-trees.js';

test('check report files: --combined, --differ, --match, --missing-on-src/dst', async () => {
  const a = fresh('a');
  const b = fresh('b');
  writeTree(a, { same: 's', diff: 'a', onlysrc: 'x' });
  writeTree(b, { same: 's', diff: 'b', onlydst: 'y' });
  const out = fresh('reports');
  const f = (n: string) => join(out, n);
  const r = await cli('check', a, b, '--combined', f('combined'), '--differ', f('differ'), '--match', f('match'),
    '--missing-on-src', f('mos'), '--missing-on-dst', f('mod'));
  assert.equal(r.code, 1);
  const read = (n: string) => fs.readFileSync(f(n), 'utf8').split('\n').filter(Boolean).sort();
  assert.deepEqual(read('combined'), ['* diff', '+ onlysrc', '- onlydst', '= same']);
  assert.deepEqual(read('differ'), ['diff']);
  assert.deepEqual(read('match'), ['same']);
  assert.deepEqual(read('mos'), ['onlydst']);
  assert.deepEqual(read('mod'), ['onlysrc']);
});



