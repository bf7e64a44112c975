// The wizard's last step against the real object store (Swift + s3api on
// loopback): it offers to test the new remote, and creates the missing
// container so that the remote works at once — as a user finishing
// `cryptfs config` for a crypt remote over a new Allas bucket would see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, runCryptfs, runRclone } from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  rcloneConfigText,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';

let store: ObjectStore | undefined;
let dir = '';
before(async () => {
  store = await objectStoreAvailable();
  dir = await mkdtemp(join(tmpdir(), 'cryptfs-wizard-objstore-'));
});
const containers: TestContainer[] = [];
after(async () => {
  for (const c of containers) await c.remove().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const backend of ['swift', 's3'] as const) {
  test(`wizard: a new crypt remote over a missing ${backend} container is tested and the container created`, async (t) => {
    if (!store) return t.skip(objectStoreSkipReason());
    const fresh = freshContainer(store, 'wiz');
    containers.push(fresh);
    const container = fresh.name;
    const conf = join(dir, `${backend}.conf`);
    await writeFile(conf, rcloneConfigText(store));
    const answers = [
      'n', // new remote (the menu lists swift and s3)
      'vault',
      'crypt',
      `${backend}:${container}`,
      '', // filename_encryption
      '', // directory_name_encryption
      'y', // password: type my own
      'wizard pw',
      'wizard pw',
      'n', // password2 blank
      '', // advanced: no
      '', // keep: yes
      '', // test it: yes (default)
      '', // create it: yes (default)
      'q',
    ];
    const r = await runCryptfs(['config'], { config: conf, input: answers.join('\n') + '\n' });
    assert.equal(r.code, 0, describeRun('cryptfs config', r));
    const out = r.stdout.toString();
    assert.match(out, /Test the "vault" remote now \(list it; create the bucket or container if it is missing\)\?/);
    assert.match(out, /Listing vault: \.\.\. it does not exist yet\.\nCreate it now\?\n/);
    assert.match(out, /Created; listing: OK \(0 entries\)\n/);
    // The container exists now (rclone sees it), and the remote works at once.
    const lsd = await runRclone(['lsd', `${backend}:`], { config: conf });
    assert.equal(lsd.code, 0, describeRun('rclone lsd', lsd));
    assert.match(lsd.stdout.toString(), new RegExp(` ${container}\\n`));
    await writeFile(join(dir, 'first.txt'), 'first file\n');
    const copy = await runCryptfs(['copy', join(dir, 'first.txt'), 'vault:'], { config: conf });
    assert.equal(copy.code, 0, describeRun('cryptfs copy', copy));
    const cat = await runRclone(['cat', 'vault:first.txt'], { config: conf });
    assert.equal(cat.stdout.toString(), 'first file\n', describeRun('rclone cat', cat));
    assert.match(await readFile(conf, 'utf8'), /\[vault\]\ntype = crypt\n/);
  });
}

test('wizard: a remote that fails its test offers to edit it', async (t) => {
  if (!store) return t.skip(objectStoreSkipReason());
  const conf = join(dir, 'bad.conf');
  await writeFile(conf, rcloneConfigText(store).replace(/^key = .*$/m, 'key = not-the-key'));
  const answers = ['n', 'vault', 'crypt', 'swift:somewhere', '', '', 'y', 'pw', 'pw', 'n', '', '', '', 'n', 'q'];
  const r = await runCryptfs(['config'], { config: conf, input: answers.join('\n') + '\n' });
  assert.equal(r.code, 0, describeRun('cryptfs config', r));
  assert.match(r.stdout.toString(), /Test failed: swift: AUTH \S+: bad credentials \(HTTP 401\)[^\n]*\nEdit the remote\?\n/);
  // Kept as it is (the user said no to editing): saved, for fixing later.
  assert.match(await readFile(conf, 'utf8'), /\[vault\]\ntype = crypt\nremote = swift:somewhere\n/);
});
