// cat hands the plaintext buffers it gets to its output. The process's own stdout is done with a
// piece once its write calls back, so there the source refills its buffers; an output that keeps
// the chunks (an in-process caller's stream, as here) must get new ones, or what it collected would
// be overwritten by later bytes. Also --discard (nothing kept) reads the whole file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { runMain } from '../../helpers/run-main.js';

test('cat into a stream that keeps its chunks: every byte as written, whole and in ranges; --discard reads it all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-cat-'));
  try {
    const conf = join(dir, 'rclone.conf');
    await writeFile(conf, `[c]\ntype = crypt\nremote = ${join(dir, 'enc')}\npassword = ${obscure('pw')}\npassword2 = ${obscure('salt')}\n`);
    // Several MiB: many pieces, each of which a refilled buffer would overwrite.
    const plain = randomBytes(5 * 1024 * 1024 + 12345);
    await writeFile(join(dir, 'f.bin'), plain);
    const put = await runMain(['--config', conf, 'copy', join(dir, 'f.bin'), 'c:']);
    assert.equal(put.code, 0, put.err);
    const whole = await runMain(['--config', conf, 'cat', 'c:f.bin']);
    assert.equal(whole.code, 0, whole.err);
    assert.ok(whole.stdout.equals(plain), 'whole file');
    const part = await runMain(['--config', conf, 'cat', '--offset', '70001', '--count', String(4 * 1024 * 1024), 'c:f.bin']);
    assert.ok(part.stdout.equals(plain.subarray(70001, 70001 + 4 * 1024 * 1024)), 'range');
    const discard = await runMain(['--config', conf, 'cat', '--discard', 'c:f.bin']);
    assert.equal(discard.code, 0, discard.err);
    assert.equal(discard.stdout.length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
