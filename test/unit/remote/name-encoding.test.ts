import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBackendName, fromBackendName } from '../../../src/remote/name-encoding.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { bytesOf, listAll } from '../../helpers/remote-contract.js';

test('control pictures map to control bytes and back; literal pictures are quoted', () => {
  assert.equal(toBackendName('a\u2404b'), 'a\x04b');
  assert.equal(fromBackendName('a\x04b'), 'a\u2404b');
  assert.equal(toBackendName('\u2421'), '\x7f');
  assert.equal(fromBackendName('x\u2404'), 'x\u201b\u2404');
  assert.equal(toBackendName('x\u201b\u2404'), 'x\u2404');
  assert.equal(toBackendName('\u2400plain'), '\u2400plain');
  for (const s of ['abc', 'a\u2401\u241f', '\u201bx', '日本']) assert.equal(fromBackendName(toBackendName(s)), s);
});

test('local stores control pictures as raw bytes, as rclone does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-enc-'));
  try {
    const r = new LocalRemote(dir);
    await r.write('n\u2404m', bytesOf(Buffer.from('x')));
    assert.deepEqual(await readdir(dir), ['n\x04m']);
    assert.deepEqual((await listAll(r, '')).map((e) => e.path), ['n\u2404m']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
