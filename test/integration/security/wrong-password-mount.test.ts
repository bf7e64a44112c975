// The wrong-password guard at the mount: a crypt remote whose root holds names
// that do not decrypt with the configured password is not mounted for writing
// (it would look empty and new files would land beside the old data under
// another key), unless --allow-undecryptable-dir; --read-only mounts it.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from '../fuse/mount-helpers.js';
import { rcloneBinary } from '../../helpers/cli.js';

describe('cryptfs mount: wrong-password guard', { skip: fuseSkipReason() }, () => {
  let fx: CryptFixture | undefined;
  let m: Mounted | undefined;
  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  it('refuses to mount for writing when no name in the root decrypts; --read-only and the override flag mount', async () => {
    fx = await CryptFixture.create('wrongpw');
    const env = { RCLONE: rcloneBinary(), CONF: fx.config };
    const put = await sh('printf "precious" | "$RCLONE" --config "$CONF" rcat secret:data.txt', env);
    assert.equal(put.code, 0, put.stderr);
    const wrong = join(fx.root, 'wrong.conf');
    const text = await readFile(fx.config, 'utf8');
    await writeFile(wrong, text.replace(/^password = .*$/m, `password = ${obscure('not the password')}`));
    const M = join(fx.root, 'mnt');
    await assert.rejects(startMount(fx, M, [], { config: wrong }), /exited \(7\)[^]*does not decrypt with this password — wrong password\?/);
    m = await startMount(fx, M, ['--read-only'], { config: wrong });
    assert.equal(await m.unmount(), 0);
    m = await startMount(fx, M, ['--allow-undecryptable-dir'], { config: wrong });
    assert.equal(await m.unmount(), 0);
    m = undefined;
    // The right password mounts as usual, and the data is untouched.
    m = await startMount(fx, M);
    assert.equal((await sh('cat "$M/data.txt"', { M })).stdout, 'precious');
    assert.equal(await m.unmount(), 0);
    m = undefined;
  });
});
