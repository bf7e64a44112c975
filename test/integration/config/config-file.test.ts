// rclone.conf text interop with the real rclone 1.60.1: what we write, rclone
// reads with the same values; what rclone writes, we read as rclone does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigFile } from '../../../src/config/config-file.js';
import { withTempDir } from '../../unit/config/helpers.js';
import { rcloneSkip, runRclone } from './rclone-oracle.js';

const skip = rcloneSkip();

const AWKWARD_VALUES = [
  'abc=def',
  'http://h:1/p?a=b&c=d',
  ' leading',
  'trailing ',
  '`backtick start',
  'backtick end`',
  'in`side',
  '"double"',
  "'single'",
  '"""triple"""',
  'x"y`z',
  '#hash',
  ';semi',
  'v # not a comment',
  '',
  'ünïcödé 🔑',
];

async function dump(home: string, path: string): Promise<Record<string, Record<string, string>>> {
  const res = await runRclone(['--config', path, 'config', 'dump'], { home });
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout);
}

test('values we write read back identically in rclone', { skip }, async () => {
  await withTempDir(async (home) => {
    const file = new ConfigFile();
    file.set('r', 'type', 'local');
    AWKWARD_VALUES.forEach((v, i) => file.set('r', `k${i}`, v));
    file.set('name with space', 'type', 'local');
    file.set('r.2_x-y', 'type', 'local');
    const path = join(home, 'ours.conf');
    await writeFile(path, file.toString());
    const seen = await dump(home, path);
    assert.deepEqual(seen, {
      r: file.get('r'),
      'name with space': { type: 'local' },
      'r.2_x-y': { type: 'local' },
    });
  });
});

test('configs rclone writes parse to the values rclone reads', { skip }, async () => {
  await withTempDir(async (home) => {
    const path = join(home, 'rclone.conf');
    // Values rclone's writer stores faithfully (it mangles edge spaces and backticks itself).
    const values: Record<string, string> = {
      type: 'local',
      k1: 'abc=def',
      k2: 'a:b',
      k3: '"quoted"',
      k4: '#notcomment',
      k5: ';semi',
      k6: 'has "q" =',
      k7: 'ünï',
    };
    const args = ['--config', path, 'config', 'create', 'made by rclone', 'local', '--no-obscure'];
    for (const [k, v] of Object.entries(values)) if (k !== 'type') args.push(k, v);
    const res = await runRclone(args, { home });
    assert.equal(res.code, 0, res.stderr);
    const text = await readFile(path, 'utf8');
    const ours = ConfigFile.parse(text, path);
    const theirs = await dump(home, path);
    assert.deepEqual(Object.fromEntries(ours.sections().map((s) => [s, ours.get(s)])), theirs);
    assert.deepEqual(ours.get('made by rclone'), { ...theirs['made by rclone'] });
    for (const [k, v] of Object.entries(values)) assert.equal(ours.getValue('made by rclone', k), v, k);
    // And our serialisation of it is what rclone wrote (same writer layout).
    assert.equal(ours.toString(), text);
  });
});

test('hand-written quirks (quoted keys and values, ":" separator, DEFAULT keys) read as rclone reads them', { skip }, async () => {
  await withTempDir(async (home) => {
    const path = join(home, 'hand.conf');
    const text = [
      'top = level',
      '; comment',
      '[r1]',
      'type = local',
      'a = `back tick = x`',
      'b = "dq"',
      'c = """triple"""',
      'e : colon sep',
      ' f  =  padded  ',
      '`g=h` = quotedkey',
      '"i:j" = dq key',
      'k = v # not inline comment',
      'l =',
      "m = 'single'",
      'n = `x`y`',
      '',
      '[ spaced name ]',
      'type = local',
      '[r1]',
      'late = merged',
      'a = overwritten `later`',
    ].join('\n');
    await writeFile(path, text);
    const ours = ConfigFile.parse(text, path);
    const theirs = await dump(home, path);
    assert.deepEqual(Object.fromEntries(ours.sections().map((s) => [s, ours.get(s)])), theirs);
  });
});
