// Sealed records against tampering, on a local disk (user.* xattrs) and the real object store (S3
// and Swift) with the real rclone
// 1.60 and a real FUSE mount: files rclone writes read in the default mode and are refused in
// strict mode; `cryptfs seal` then `cryptfs verify`; two same-size files' objects swapped with their
// metadata (a server-side copy by rclone) and without it (content swapped, records left), a 3-chunk
// file cut at a chunk boundary, a flipped byte in a record: each read fails with its cause, exits
// non-zero and writes no byte of the other file; through the mount the read fails with EIO.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { revealBytes } from '../../../src/crypt/obscure.js';
import { SEAL_METADATA_KEY, sealFromMetadata, sealToMetadata } from '../../../src/crypt/seal.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { LocalRemote } from '../../../src/remote/local.js';
import type { Remote } from '../../../src/remote/remote.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { SwiftClient } from '../../../src/remote/swift-client.js';
import { SwiftRemote } from '../../../src/remote/swift.js';
import { describeRun, runCryptfs, runRclone, expectSuccess, rcloneSkipReason } from '../../helpers/cli.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, rcloneConfigText, testS3Remote, type ObjectStore } from '../../helpers/objstore.js';
import { readAll, bytesOf } from '../../helpers/remote-contract.js';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from '../fuse/mount-helpers.js';

const store = await objectStoreAvailable();
const CHUNK = 65536;
const skip = rcloneSkipReason() ?? (store ? fuseSkipReason() : objectStoreSkipReason());

async function underlyingFor(backend: 'local' | 's3' | 'swift', s: ObjectStore): Promise<Remote> {
  if (backend === 's3') return testS3Remote(s);
  return new SwiftRemote(new SwiftClient({ authUrl: s.swift.authUrl, user: s.swift.user, key: s.swift.key }), {});
}

for (const backend of ['local', 's3', 'swift'] as const) {
  describe(`sealed records over ${backend} (seal-verify)`, { skip }, () => {
    let fx: CryptFixture;
    let crypt: CryptRemote;
    let under: Remote;
    let target: string;
    const files = { a: randomBytes(200_000), b: randomBytes(200_000), c: randomBytes(3 * CHUNK) };
    const config = () => fx.config;
    const cryptfs = (...args: string[]) => runCryptfs(args, { config: config() });
    const enc = (name: string) => crypt.encryptFilePath(name);
    /** A read that must fail: non-zero exit, nothing on stdout, `cause` in the message. */
    const refused = async (args: string[], cause: RegExp) => {
      const r = await cryptfs(...args);
      assert.notEqual(r.code, 0, describeRun(args.join(' '), r));
      assert.equal(r.stdout.length, 0, 'no byte of any file on stdout');
      assert.match(r.stderr, cause);
      return r;
    };
    const reads = async (name: keyof typeof files, ...flags: string[]) => {
      const r = expectSuccess(`cat ${name}`, await cryptfs('cat', ...flags, `secret:${name}.bin`));
      assert.ok(r.stdout.equals(files[name]), `${name}.bin reads as itself`);
    };
    /** The object's ciphertext and record text, to put back after a tampering test. */
    const snapshot = async (name: string) => ({
      data: await readAll(await under.openRead(enc(name))),
      record: sealFromMetadata((await under.stat(enc(name))).metadata)!,
    });
    const putObject = async (name: string, data: Buffer, record: string) => {
      await under.write(enc(name), bytesOf(data), { size: data.length });
      await under.setMetadata!(enc(name), sealToMetadata(record));
    };

    before(async () => {
      const container = backend === 'local' ? undefined : freshContainer(store!, `sealv-${backend}`);
      fx = container
        ? await CryptFixture.create(`seal-verify-${backend}`, {
            configText: rcloneConfigText(store!),
            target: `${backend}:${container.name}/data`,
            cleanup: () => container.remove(),
          })
        : await CryptFixture.create('seal-verify-local');
      target = container ? `${backend}:${container.name}/data` : fx.remoteDir;
      const text = await fsp.readFile(fx.config, 'utf8');
      const secret = text.slice(text.indexOf('[secret]'));
      const pw = /^password = (.*)$/m.exec(secret)![1];
      const pw2 = /^password2 = (.*)$/m.exec(secret)![1];
      // The same crypt remote with integrity = strict in the config file.
      await fsp.appendFile(fx.config, `\n[strict]\ntype = crypt\nremote = ${target}\npassword = ${pw}\npassword2 = ${pw2}\nintegrity = strict\n`);
      const keys = await deriveKeys(revealBytes(pw), revealBytes(pw2));
      under = container ? new SubRemote(await underlyingFor(backend, store!), `${container.name}/data`) : new LocalRemote(fx.remoteDir);
      crypt = new CryptRemote(under, keys, { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false });
      const src = join(fx.root, 'src');
      await fsp.mkdir(src);
      for (const [name, data] of Object.entries(files)) await fsp.writeFile(join(src, `${name}.bin`), data);
      expectSuccess('rclone copy', await runRclone(['copy', src, 'secret:'], { config: fx.config }));
    });
    after(async () => {
      await fx?.cleanup();
    });

    it('rclone-written files read in the default mode, and are refused in strict (config option, flag, env)', async () => {
      await reads('a');
      await refused(['cat', 'strict:a.bin'], /file is not sealed: a\.bin/);
      await refused(['cat', '--crypt-integrity', 'strict', 'secret:a.bin'], /file is not sealed/);
      const env = await runCryptfs(['cat', 'secret:a.bin'], { config: config(), env: { RCLONE_CRYPT_INTEGRITY: 'strict' } });
      assert.notEqual(env.code, 0, describeRun('cat with RCLONE_CRYPT_INTEGRITY=strict', env));
      const v = await cryptfs('verify', 'secret:');
      assert.equal(v.code, 0, describeRun('verify', v));
      assert.match(v.stderr, /0 sealed files, 3 unsealed files, 0 files moved elsewhere, 0 mismatched files/);
      assert.notEqual((await cryptfs('verify', 'strict:')).code, 0, 'verify of a strict remote fails on unsealed files');
    });

    it('seal (after --dry-run) adds records; verify counts them; rclone still reads every file byte-identically', async () => {
      const dry = expectSuccess('seal --dry-run', await cryptfs('seal', '--dry-run', 'secret:'));
      assert.match(dry.stderr, /3 files to seal/);
      assert.equal(sealFromMetadata((await under.stat(enc('a.bin'))).metadata), undefined, '--dry-run wrote nothing');
      const sealed = expectSuccess('seal', await cryptfs('seal', 'secret:'));
      assert.match(sealed.stderr, /3 files sealed, 0 already sealed/);
      const v = expectSuccess('verify --download', await cryptfs('verify', '--download', 'strict:'));
      assert.match(v.stderr, /3 sealed files, 0 unsealed files, 0 files moved elsewhere, 0 mismatched files/);
      for (const name of ['a', 'b', 'c'] as const) {
        await reads(name, '--crypt-integrity', 'strict');
        const r = expectSuccess('rclone cat', await runRclone(['cat', `secret:${name}.bin`], { config: config() }));
        assert.ok(r.stdout.equals(files[name]), `rclone reads sealed ${name}.bin as before`);
      }
    });

    it('two same-size objects swapped with their metadata (rclone server-side copies): both names fail', async () => {
      const u = (name: string) => `${target}/${enc(name)}`;
      // rclone copies a local file's xattrs only with -M; S3/Swift server-side copies keep metadata anyway.
      // --ignore-times: the two files have the same size and may have the same mtime (written in one tick).
      const rc = async (...args: string[]) =>
        expectSuccess(args.join(' '), await runRclone([...args, '--ignore-times', ...(backend === 'local' ? ['-M'] : [])], { config: config() }));
      await rc('copyto', u('a.bin'), `${target}/swap-tmp`);
      await rc('copyto', u('b.bin'), u('a.bin'));
      await rc('moveto', `${target}/swap-tmp`, u('b.bin'));
      await refused(['cat', 'secret:a.bin'], /content does not belong to this name: a\.bin \(sealed for "b\.bin", which still exists/);
      await refused(['cat', 'secret:b.bin'], /content does not belong to this name: b\.bin/);
      await refused(['cat', '--offset', String(CHUNK + 7), 'secret:b.bin'], /content does not belong to this name/);
      const out = join(fx.root, `copied-${randomBytes(3).toString('hex')}`);
      const cp = await cryptfs('copy', 'secret:', out);
      assert.notEqual(cp.code, 0, describeRun('copy', cp));
      assert.equal(await fsp.readFile(join(out, 'a.bin')).catch(() => undefined), undefined, 'copy wrote no a.bin');
      const v = await cryptfs('verify', 'secret:');
      assert.notEqual(v.code, 0);
      assert.match(v.stderr, /1 sealed file, 0 unsealed files, 0 files moved elsewhere, 2 mismatched files/);
      // Swapped back, both read again.
      await rc('copyto', u('a.bin'), `${target}/swap-tmp`);
      await rc('copyto', u('b.bin'), u('a.bin'));
      await rc('moveto', `${target}/swap-tmp`, u('b.bin'));
      await reads('a');
      await reads('b');
    });

    it('content swapped, records left in place: both names fail', async () => {
      const a = await snapshot('a.bin');
      const b = await snapshot('b.bin');
      await putObject('a.bin', b.data, a.record);
      await putObject('b.bin', a.data, b.record);
      await refused(['cat', 'secret:a.bin'], /content does not belong to this name: a\.bin \(its header is not the one sealed for this name/);
      await refused(['cat', 'secret:b.bin'], /content does not belong to this name: b\.bin/);
      await putObject('a.bin', a.data, a.record);
      await putObject('b.bin', b.data, b.record);
      await reads('a');
    });

    it('a 3-chunk file cut at a chunk boundary, record kept: "file was truncated"', async () => {
      const c = await snapshot('c.bin');
      await putObject('c.bin', c.data.subarray(0, 32 + 2 * (CHUNK + 16)), c.record);
      await refused(['cat', 'secret:c.bin'], /file was truncated: c\.bin \(131072 bytes, sealed as 196608\)/);
      const v = await cryptfs('verify', 'secret:c.bin');
      assert.notEqual(v.code, 0);
      assert.match(v.stderr, /file was truncated/);
      await putObject('c.bin', c.data, c.record);
      await reads('c');
    });

    it('a flipped byte in the record: "sealed record is not valid"', async () => {
      const a = await snapshot('a.bin');
      const i = 30;
      const flipped = a.record.slice(0, i) + (a.record[i] === 'x' ? 'y' : 'x') + a.record.slice(i + 1);
      await under.setMetadata!(enc('a.bin'), { [SEAL_METADATA_KEY]: flipped });
      await refused(['cat', 'secret:a.bin'], /sealed record is not valid: a\.bin/);
      await under.setMetadata!(enc('a.bin'), sealToMetadata(a.record));
      await reads('a');
    });

    it('a move by rclone keeps the old record: reads with a NOTICE in default, fails in strict; seal re-seals it', async () => {
      const rc = async (...args: string[]) => expectSuccess(args.join(' '), await runRclone(args, { config: config() }));
      await rc('moveto', 'secret:c.bin', 'secret:moved.bin');
      const r = expectSuccess('cat moved', await cryptfs('cat', 'secret:moved.bin'));
      assert.ok(r.stdout.equals(files.c));
      assert.match(r.stderr, /NOTICE: moved\.bin: moved elsewhere: sealed for "c\.bin", which no longer exists/);
      await refused(['cat', 'strict:moved.bin'], /file was moved elsewhere without being re-sealed: moved\.bin/);
      const v = expectSuccess('verify', await cryptfs('verify', 'secret:'));
      assert.match(v.stderr, /2 sealed files, 0 unsealed files, 1 file moved elsewhere, 0 mismatched files/);
      assert.match(expectSuccess('seal', await cryptfs('seal', 'secret:')).stderr, /1 file sealed, 2 already sealed/);
      assert.ok(expectSuccess('cat strict', await cryptfs('cat', 'strict:moved.bin')).stdout.equals(files.c));
      await rc('moveto', 'secret:moved.bin', 'secret:c.bin');
      expectSuccess('seal', await cryptfs('seal', 'secret:'));
    });

    it(`rclone overwriting a sealed file: ${backend === 'local' ? 'in place, the old record stays: an error until seal --force' : 'the upload replaces the metadata: unsealed'}`, async () => {
      const rc = async (...args: string[]) => expectSuccess(args.join(' '), await runRclone(args, { config: config() }));
      await rc('copyto', '--ignore-times', join(fx.root, 'src', 'b.bin'), 'secret:a.bin');
      if (backend === 'local') {
        await refused(['cat', 'secret:a.bin'], /content does not belong to this name: a\.bin \(its header is not the one sealed for this name/);
        assert.match(expectSuccess('seal --force', await cryptfs('seal', '--force', 'secret:a.bin')).stderr, /re-sealing \(--force\)/);
        assert.ok(expectSuccess('cat', await cryptfs('cat', 'strict:a.bin')).stdout.equals(files.b));
      } else {
        assert.ok(expectSuccess('cat', await cryptfs('cat', 'secret:a.bin')).stdout.equals(files.b));
        await refused(['cat', 'strict:a.bin'], /file is not sealed/);
      }
      await rc('copyto', '--ignore-times', join(fx.root, 'src', 'a.bin'), 'secret:a.bin');
      expectSuccess('seal --force', await cryptfs('seal', '--force', 'secret:a.bin'));
      await reads('a', '--crypt-integrity', 'strict');
    });

    it('files cryptfs writes, copies and moves (server-side) read in strict mode; a copy of one is not mistaken for a swap', async () => {
      expectSuccess('copyto', await cryptfs('copyto', join(fx.root, 'src', 'b.bin'), 'secret:w/b.bin'));
      expectSuccess('copyto (server-side)', await cryptfs('copyto', 'secret:w/b.bin', 'secret:w/copy.bin'));
      expectSuccess('moveto (server-side)', await cryptfs('moveto', 'secret:w/b.bin', 'secret:w/moved.bin'));
      for (const name of ['w/copy.bin', 'w/moved.bin']) {
        const r = expectSuccess(`cat ${name}`, await cryptfs('cat', `strict:${name}`));
        assert.ok(r.stdout.equals(files.b), name);
        assert.doesNotMatch(r.stderr, /moved elsewhere/);
      }
      const v = expectSuccess('verify', await cryptfs('verify', 'strict:w'));
      assert.match(v.stderr, /2 sealed files, 0 unsealed files, 0 files moved elsewhere, 0 mismatched files/);
      // A crypt remote rooted at the encrypted w/ reads the same records (their paths end with its paths).
      const text = await fsp.readFile(fx.config, 'utf8');
      const strict = text.slice(text.indexOf('[strict]'));
      await fsp.appendFile(fx.config, `\n[lower]\n${strict.replace('[strict]\n', '').replace(/^remote = .*$/m, `remote = ${target}/${crypt.encryptDirPath('w')}`)}\n`);
      assert.ok(expectSuccess('cat lower', await cryptfs('cat', 'lower:copy.bin')).stdout.equals(files.b));
      assert.match(expectSuccess('verify lower', await cryptfs('verify', 'lower:')).stderr, /2 sealed files, 0 unsealed files/);
      expectSuccess('purge', await cryptfs('purge', 'secret:w'));
    });

    it('through a FUSE mount a swapped file fails with EIO and hands out no bytes; the others read', async () => {
      const a = await snapshot('a.bin');
      const b = await snapshot('b.bin');
      await putObject('a.bin', b.data, a.record);
      const M = join(fx.root, `mnt-seal-verify-${randomBytes(3).toString('hex')}`);
      let m: Mounted | undefined;
      try {
        m = await startMount(fx, M, ['--vfs-cache-mode', 'full']);
        const r = await sh(`cat "$M/a.bin" > "$T/out-a" || echo "status $?"; wc -c < "$T/out-a"; cmp "$M/c.bin" "$T/src/c.bin" && echo c-ok`, { M, T: fx.root });
        assert.match(r.stderr, /a\.bin: Input\/output error/, r.stderr);
        assert.match(r.stdout, /status 1\n0\nc-ok\n/, r.stdout);
        assert.match(await m.log(), /content does not belong to this name: a\.bin/);
        assert.equal(await m.unmount(), 0);
      } finally {
        await forceStop(m);
        await putObject('a.bin', a.data, a.record);
      }
    });
  });
}
