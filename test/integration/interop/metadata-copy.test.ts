// `cryptfs copy -M` against the real rclone 1.60 `copy -M`, on crypt over a
// local directory: modes (and as root, owners) that one writes into the crypt
// remote the other restores, and what neither was asked to keep (no -M) is not
// carried.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { describeRun, expectSuccess, rcloneSkipReason, runCryptfs, runRclone } from '../../helpers/cli.js';

const isRoot = process.geteuid?.() === 0;

describe('copy -M: cryptfs and rclone restore each other\'s modes', { skip: rcloneSkipReason() }, () => {
  let tmp: string;
  let config: string;
  const p = (...parts: string[]) => join(tmp, ...parts);
  const modeOf = async (file: string) => ((await fsp.stat(file)).mode & 0o7777).toString(8);

  before(async () => {
    tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-metadata-copy-'));
    config = p('rclone.conf');
    await fsp.writeFile(
      config,
      `[secret]\ntype = crypt\nremote = ${p('enc')}\npassword = ${obscure('metadata copy pw')}\npassword2 = ${obscure('metadata copy salt')}\n`,
    );
    await fsp.mkdir(p('src', 'sub'), { recursive: true });
    await fsp.writeFile(p('src', 'tool'), '#!/bin/sh\n');
    await fsp.chmod(p('src', 'tool'), 0o751);
    await fsp.writeFile(p('src', 'sub', 'private'), 'x');
    await fsp.chmod(p('src', 'sub', 'private'), 0o600);
    if (isRoot) await fsp.chown(p('src', 'tool'), 1234, 5678);
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('cryptfs copy -M in, rclone copy -M out', async () => {
    expectSuccess('cryptfs copy -M', await runCryptfs(['copy', '-M', p('src'), 'secret:a'], { config }));
    expectSuccess('rclone copy -M', await runRclone(['copy', '-M', 'secret:a', p('out-rclone')], { config }));
    assert.equal(await modeOf(p('out-rclone', 'tool')), '751');
    assert.equal(await modeOf(p('out-rclone', 'sub', 'private')), '600');
    if (isRoot) {
      const st = await fsp.stat(p('out-rclone', 'tool'));
      assert.deepEqual([st.uid, st.gid], [1234, 5678]);
    }
  });

  it('rclone copy -M in, cryptfs copy -M out; without -M the modes are not carried', async () => {
    expectSuccess('rclone copy -M', await runRclone(['copy', '-M', p('src'), 'secret:b'], { config }));
    const out = await runCryptfs(['copy', '--metadata', 'secret:b', p('out-cryptfs')], { config });
    assert.equal(out.code, 0, describeRun('cryptfs copy --metadata', out));
    assert.equal(await modeOf(p('out-cryptfs', 'tool')), '751');
    assert.equal(await modeOf(p('out-cryptfs', 'sub', 'private')), '600');
    expectSuccess('cryptfs copy', await runCryptfs(['copy', 'secret:b', p('out-plain')], { config }));
    assert.equal(await modeOf(p('out-plain', 'tool')), (0o666 & ~process.umask() & 0o644).toString(8));
  });
});
