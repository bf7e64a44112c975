// Sealed records written by cryptfs, over local, S3 and Swift (the real server), checked against
// the sources: after `copy` (S3 multipart with crypt's first pass; Swift segments), `rcat`
// (streamed: S3 multipart then copy-in-place, Swift segments with the record in the manifest, small
// buffered PUTs), server-side `moveto`/`copyto` (re-sealed for the new path), and a write through a
// real FUSE mount. Every record states the source's size, SHA-256/MD5/SHA-1, the stored header
// nonce and the object's encrypted path; `hashsum` equals the real sha256sum/md5sum; rclone reads
// every file byte-identically and its check/cryptcheck pass.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../../../src/remote/backends.js';
import { ConfigStore } from '../../../src/config/config-store.js';
import { obscure } from '../../../src/crypt/obscure.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { RemoteFactory } from '../../../src/remote/open.js';
import type { Remote } from '../../../src/remote/remote.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { SwiftRemote } from '../../../src/remote/swift.js';
import { sealFromMetadata } from '../../../src/crypt/seal.js';
import { entryHash } from '../../../src/cli/entry-hash.js';
import { describeRun, expectSuccess, rcloneSkipReason, runCryptfs, runRclone } from '../../helpers/cli.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, rcloneConfigText, rcloneEnv, type TestContainer } from '../../helpers/objstore.js';
import { readAll } from '../../helpers/remote-contract.js';
import { requireTool, commandRuns } from '../../helpers/require-tool.js';
import { CryptFixture, forceStop, fuseSkipReason, startMount, type Mounted } from '../fuse/mount-helpers.js';

const MiB = 1024 * 1024;
const rcloneSkip = rcloneSkipReason();
const coreutilsSkip = requireTool('sha256sum/md5sum', commandRuns('sha256sum', ['--version']) && commandRuns('md5sum', ['--version']));
const store = rcloneSkip ? undefined : await objectStoreAvailable();
const hex = (alg: string, data: Buffer) => createHash(alg).update(data).digest('hex');

const roots: string[] = [];
const containers: TestContainer[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
  for (const c of containers) await c.remove().catch(() => undefined);
});

/** The crypt remote under sub-path layers. */
function cryptOf(remote: Remote): CryptRemote {
  let r = remote;
  while (r instanceof SubRemote) r = r.inner;
  assert.ok(r instanceof CryptRemote);
  return r;
}

/**
 * Asserts the record of `path` on `secret:` states exactly `plain` and the object it is kept with;
 * with `listed`, that a listing without modification times carries the same record (Swift: the
 * content type's mirror; local: the xattrs), and for Swift that it costs no HEAD.
 */
async function assertRecord(config: string, path: string, plain: Buffer, listed = false): Promise<void> {
  const factory = new RemoteFactory(() => ConfigStore.load({ path: config, env: {} }));
  try {
    const crypt = cryptOf(await factory.open('secret:'));
    const enc = crypt.encryptName(path);
    const entry = await crypt.underlying.stat(enc);
    const record = crypt.sealer.recordOf(entry.metadata);
    assert.ok(record, `${path}: a sealed record`);
    assert.equal(record.size, plain.length, `${path}: size`);
    assert.equal(record.sha256, hex('sha256', plain), `${path}: sha256`);
    assert.equal(record.md5, hex('md5', plain), `${path}: md5`);
    assert.equal(record.sha1, hex('sha1', plain), `${path}: sha1`);
    assert.equal(record.encryptedPath, enc, `${path}: encrypted path`);
    const header = await readAll(await crypt.underlying.openRead(enc, { offset: 8, length: 24 }));
    assert.deepEqual(record.headerNonce, header, `${path}: header nonce`);
    if (listed) {
      let base: Remote = crypt.underlying;
      while (base instanceof SubRemote) base = base.inner;
      let heads = 0;
      if (base instanceof SwiftRemote) {
        const client = base.client;
        const head = client.headObject.bind(client);
        // HEADs of this object (the directory may hold segmented ones, whose manifests need theirs).
        client.headObject = (...args: Parameters<typeof head>) => (args[1].endsWith(enc) && heads++, head(...args));
      }
      const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      const found = [];
      for await (const e of crypt.list(dir, { modTimes: false })) if (e.path === path) found.push(e);
      assert.equal(found.length, 1, `${path}: listed`);
      assert.equal(found[0].sealText, sealFromMetadata(entry.metadata), `${path}: the listing carries the record`);
      assert.equal(await entryHash(crypt, found[0], 'sha256'), hex('sha256', plain), `${path}: sha256 from the listing`);
      // A segmented object's manifest lists as 0 bytes: its size takes a HEAD (chunk_size is 1 MiB here).
      const segmented = base instanceof SwiftRemote && plain.length > MiB - 1024;
      assert.equal(heads, segmented ? 1 : 0, `${path}: no HEAD for a listing without modification times`);
    }
  } finally {
    await factory.closeAll();
  }
}

/** Sorted `HASH  path` lines of a coreutils tool run in `dir` over `files`. */
function coreutilsSums(tool: string, dir: string, files: string[]): string[] {
  const r = spawnSync(tool, files, { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').sort();
}

const sortedLines = (text: string) => text.trim().split('\n').filter((l) => l !== '').sort();

interface Backend {
  name: 'local' | 's3' | 'swift';
  /** The config text with the crypt remote `secret` over this backend. */
  config(dir: string): string;
}

function backends(): Backend[] {
  const cryptSection = (target: string) =>
    ['[secret]', 'type = crypt', `remote = ${target}`, `password = ${obscure('seal write password')}`, `password2 = ${obscure('seal write salt')}`, ''].join('\n');
  const list: Backend[] = [{ name: 'local', config: (dir) => cryptSection(join(dir, 'enc')) }];
  if (store) {
    // Small parts and segments, so the files here go multipart / segmented.
    const objstore = rcloneConfigText(store)
      .replace('type = swift\n', 'type = swift\nchunk_size = 1Mi\n')
      .replace('type = s3\n', 'type = s3\nchunk_size = 5Mi\nupload_cutoff = 5Mi\n');
    for (const name of ['s3', 'swift'] as const) {
      list.push({
        name,
        config: () => {
          const c = freshContainer(store, `seal-${name}`);
          containers.push(c);
          return objstore + '\n' + cryptSection(`${name}:${c.name}/data`);
        },
      });
    }
  }
  return list;
}

const skip = rcloneSkip || coreutilsSkip || (store ? false : objectStoreSkipReason());

describe('sealed records written by copy, rcat, moveto and copyto', { skip }, () => {
  for (const backend of backends()) {
    it(`over ${backend.name}: records state the sources; hashsum = sha256sum/md5sum; rclone reads everything`, async () => {
      const dir = await mkdtemp(join(tmpdir(), `seal-write-${backend.name}-`));
      roots.push(dir);
      const config = join(dir, 'rclone.conf');
      await writeFile(config, backend.config(dir));
      const env = rcloneEnv();
      const src = join(dir, 'src');
      const files: Record<string, Buffer> = {
        'a.txt': Buffer.from('hello, sealed world\n'),
        empty: Buffer.alloc(0),
        'd/mid.bin': randomBytes(300_001),
        // Past S3's 5 MiB cutoff (multipart, crypt's first pass) and Swift's 1 MiB segments.
        'd/big.bin': randomBytes(12 * MiB + 12345),
      };
      for (const [p, data] of Object.entries(files)) {
        mkdirSync(join(src, p, '..'), { recursive: true });
        writeFileSync(join(src, p), data);
      }
      expectSuccess('copy', await runCryptfs(['copy', src, 'secret:'], { config, env }));
      // Streamed: size unknown until the end.
      const streams: Record<string, Buffer> = { 'streamed-small.txt': Buffer.from('a small stream'), 'streamed-big.bin': randomBytes(7 * MiB + 3) };
      for (const [p, data] of Object.entries(streams)) {
        expectSuccess(`rcat ${p}`, await runCryptfs(['rcat', `secret:${p}`], { config, env, input: data }));
      }
      // Listings carry the records where the store allows (Swift's content type, local xattrs; not S3).
      const listed = backend.name !== 's3';
      for (const [p, data] of Object.entries({ ...files, ...streams })) await assertRecord(config, p, data, listed);

      // hashsum equals coreutils' sums of the sources.
      const names = Object.keys(files);
      const sha = expectSuccess('hashsum', await runCryptfs(['hashsum', 'sha256', 'secret:d'], { config, env }));
      assert.deepEqual(sortedLines(sha.stdout.toString()), coreutilsSums('sha256sum', join(src, 'd'), ['big.bin', 'mid.bin']));
      const md5 = expectSuccess('md5sum', await runCryptfs(['md5sum', 'secret:', '--exclude', 'streamed*'], { config, env }));
      assert.deepEqual(sortedLines(md5.stdout.toString()), coreutilsSums('md5sum', src, names));

      // lsjson --hash: rclone's listing plus each file's plaintext Hashes.
      const ours = expectSuccess('lsjson', await runCryptfs(['lsjson', '-R', '--hash', 'secret:d'], { config, env: { ...env, TZ: 'UTC' } }));
      const items = JSON.parse(ours.stdout.toString()) as Array<{ Path: string; Hashes?: Record<string, string> }>;
      for (const it of items) {
        const data = files[`d/${it.Path}`];
        assert.deepEqual(it.Hashes, { md5: hex('md5', data), sha1: hex('sha1', data), sha256: hex('sha256', data) }, `lsjson ${it.Path}`);
      }
      if (backend.name === 'local') {
        const theirs = await runRclone(['lsjson', '-R', '--hash', 'secret:d'], { config, env: { ...env, TZ: 'UTC' } });
        assert.equal(theirs.code, 0, theirs.stderr);
        const stripped = items.map(({ Hashes: _h, ...rest }) => rest);
        assert.deepEqual(stripped, JSON.parse(theirs.stdout.toString()), 'the rest as rclone lists it');
      }

      // rclone reads every cryptfs-written file byte-identically; its checks pass.
      for (const [p, data] of Object.entries({ ...files, ...streams })) {
        const cat = await runRclone(['cat', `secret:${p}`], { config, env, timeoutMs: 300_000 });
        assert.equal(cat.code, 0, describeRun(`rclone cat ${p}`, cat));
        assert.ok(cat.stdout.equals(data), `rclone cat ${p}: same bytes`);
      }
      const check = await runRclone(['check', src, 'secret:', '--one-way', '--download'], { config, env, timeoutMs: 300_000 });
      assert.equal(check.code, 0, describeRun('rclone check --download', check));
      const cryptcheck = await runRclone(['cryptcheck', src, 'secret:', '--one-way'], { config, env, timeoutMs: 300_000 });
      assert.equal(cryptcheck.code, 0, describeRun('rclone cryptcheck', cryptcheck));

      // cryptfs's own server-side moves and copies re-seal for the new path.
      expectSuccess('moveto', await runCryptfs(['moveto', 'secret:a.txt', 'secret:moved/renamed-a.txt'], { config, env }));
      await assertRecord(config, 'moved/renamed-a.txt', files['a.txt'], listed);
      expectSuccess('copyto', await runCryptfs(['copyto', 'secret:d/big.bin', 'secret:copies/big-copy.bin'], { config, env }));
      await assertRecord(config, 'copies/big-copy.bin', files['d/big.bin'], listed);
      await assertRecord(config, 'd/big.bin', files['d/big.bin'], listed);
      expectSuccess('copyto', await runCryptfs(['copyto', 'secret:d/mid.bin', 'secret:copies/mid-copy.bin'], { config, env }));
      await assertRecord(config, 'copies/mid-copy.bin', files['d/mid.bin'], listed);
      const moved = await runRclone(['cat', 'secret:moved/renamed-a.txt'], { config, env });
      assert.ok(moved.stdout.equals(files['a.txt']), describeRun('rclone cat after move', moved));

      // An object rclone wrote has no record: a blank hash, counted.
      expectSuccess('rclone copyto', await runRclone(['copyto', join(src, 'd/mid.bin'), 'secret:by-rclone.bin'], { config, env }));
      const mixed = expectSuccess('sha1sum', await runCryptfs(['sha1sum', 'secret:by-rclone.bin'], { config, env }));
      assert.equal(mixed.stdout.toString(), `${' '.repeat(40)}  by-rclone.bin\n`);
      assert.match(mixed.stderr, /NOTICE: 1 object has no sha1 hash \(no sealed record/);
    });
  }
});

const fuseSkip = fuseSkipReason() ?? rcloneSkip ?? coreutilsSkip;

describe('sealed records written through a FUSE mount', { skip: fuseSkip }, () => {
  it('files written through the mount carry records that state them; rclone reads them', async () => {
    const fx = await CryptFixture.create('seal-write');
    const mountpoint = join(fx.root, 'mnt');
    let m: Mounted | undefined;
    const small = Buffer.from('written through the mount\n');
    const big = randomBytes(3 * MiB + 777);
    try {
      m = await startMount(fx, mountpoint, ['--vfs-cache-mode', 'writes']);
      mkdirSync(join(mountpoint, 'docs'));
      writeFileSync(join(mountpoint, 'docs', 'note.txt'), small);
      writeFileSync(join(mountpoint, 'big.bin'), big);
      assert.ok(readFileSync(join(mountpoint, 'big.bin')).equals(big));
      // Renames through the mount (a file, then its directory) re-seal each moved object.
      renameSync(join(mountpoint, 'docs', 'note.txt'), join(mountpoint, 'docs', 'renamed.txt'));
      renameSync(join(mountpoint, 'docs'), join(mountpoint, 'papers'));
      assert.equal(await m.unmount(), 0, await m.log());
      m = undefined;
      await assertRecord(fx.config, 'papers/renamed.txt', small);
      await assertRecord(fx.config, 'big.bin', big);
      for (const [p, data] of [['papers/renamed.txt', small], ['big.bin', big]] as const) {
        const cat = await runRclone(['cat', `secret:${p}`], { config: fx.config });
        assert.equal(cat.code, 0, cat.stderr);
        assert.ok(cat.stdout.equals(data), `rclone cat ${p}: same bytes`);
      }
      const sums = expectSuccess('sha256sum', await runCryptfs(['sha256sum', 'secret:'], { config: fx.config }));
      assert.deepEqual(sortedLines(sums.stdout.toString()), [`${hex('sha256', big)}  big.bin`, `${hex('sha256', small)}  papers/renamed.txt`].sort());
    } finally {
      await forceStop(m);
      await fx.cleanup();
    }
  });
});
