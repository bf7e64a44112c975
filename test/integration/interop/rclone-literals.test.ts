// rclone's formats that cryptfs writes from hand-written literals, checked against rclone 1.60 itself
// (issue #10, "tests that can't lie"): the unit tests pin these literals, this file pins them to
// what the real binary does. For each, rclone and cryptfs write the same source on the real loopback
// store (or a local directory), the raw result is read without the code under test (the AWS SDK's
// HEAD for S3, plain HTTP for Swift, rclone for local xattrs) and compared byte for byte, and each
// tool then reads what the other wrote:
//   - the modification time text (S3 X-Amz-Meta-Mtime, Swift X-Object-Meta-Mtime), to the nanosecond;
//   - X-Amz-Meta-Md5chksum (base64 MD5) of an S3 multipart upload from a local file;
//   - the Swift large object: X-Object-Manifest (rclone's percent-encoding) and segment names
//     `<container>_segments/<path>/<upload time>/<size>/<8-digit index>`;
//   - rclone metadata (-M) on S3: mode, uid, gid, atime, btime, mtime and user keys (local user.* xattrs);
//   - `lsjson -R -M` of a local tree (the metadata keys and value formats, Go's JSON escaping, MIME types);
//   - NAME.rclonelink objects of symlinks (-l);
//   - `md5sum` lines.
// A missing rclone or object store fails this file (skips only under --allow-skip).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { formatMtimeNs, parseMtimeNs } from '../../../src/remote/object-store-util.js';
import { encodeManifestValue } from '../../../src/remote/swift-client.js';
import { describeRun, expectSuccess, rcloneSkipReason, runCryptfs, runRclone, type RunResult } from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  rcloneConfigText,
  swiftRawHead,
  swiftRawNames,
  type TestContainer,
} from '../../helpers/objstore.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

const store = await objectStoreAvailable();
const rcloneSkip = rcloneSkipReason();

/** Modification times as rclone writes them, in the form `touch -d @...` takes: name → text. */
const TIMES: Record<string, string> = {
  whole: '1600000000',
  ns: '1600000000.123456789',
  half: '1577934245.5',
  micro: '1700000000.000001',
  'before 1970': '-1.5',
};

const md5Hex = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

function lines(r: RunResult): string[] {
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** Sets a file's (or with `link`, a symlink's own) modification time to the nanosecond, with coreutils. */
async function setMtime(file: string, seconds: string, link = false): Promise<void> {
  await run('touch', [...(link ? ['-h'] : []), '-m', '-d', `@${seconds}`, file]);
}

/** A listing's Metadata objects of `rclone/cryptfs lsjson -M` output, by path. */
function lsjsonMetadata(r: RunResult): Map<string, Record<string, string>> {
  const items = JSON.parse(r.stdout.toString('utf8')) as Array<{ Path: string; Metadata?: Record<string, string> }>;
  return new Map(items.map((i) => [i.Path, i.Metadata ?? {}]));
}

if (!store || rcloneSkip) {
  // Only reached under --allow-skip: counted as a skipped test with its reason.
  it("rclone's literals against rclone (needs rclone and the object store)", { skip: rcloneSkip ?? objectStoreSkipReason() }, () => {});
} else {
  const s = store;
  describe("rclone's literals against rclone (s3, swift, local)", () => {
    let tmp: string;
    let config: string;
    let bucket: TestContainer;
    let s3: S3Client;
    const p = (...parts: string[]) => join(tmp, ...parts);
    const cfg = () => ({ config, env: { TZ: 'UTC' }, timeoutMs: 180_000 });
    const rclone = async (...args: string[]) => expectSuccess(`rclone ${args.join(' ')}`, await runRclone(args, cfg()));
    const cryptfs = async (...args: string[]) => expectSuccess(`cryptfs ${args.join(' ')}`, await runCryptfs(args, cfg()));

    /** S3 user metadata from a HEAD through the AWS SDK (keys lower-case, as x-amz-meta-<key> came). */
    async function s3Head(key: string): Promise<{ metadata: Record<string, string>; etag: string }> {
      const h = await s3.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
      return { metadata: h.Metadata ?? {}, etag: h.ETag ?? '' };
    }

    async function swiftHead(object: string): Promise<Headers> {
      return (await swiftRawHead(s, bucket.name, object)) ?? assert.fail(`no Swift object ${object}`);
    }

    before(async () => {
      tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-literals-'));
      config = p('rclone.conf');
      await fsp.writeFile(config, rcloneConfigText(s), { mode: 0o600 });
      bucket = freshContainer(s, 'literals');
      s3 = new S3Client({
        endpoint: s.s3.endpoint,
        region: s.s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s.s3.accessKeyId, secretAccessKey: s.s3.secretAccessKey },
      });
      await rclone('mkdir', `s3:${bucket.name}`);
      await fsp.mkdir(p('times'));
      for (const [name, t] of Object.entries(TIMES)) {
        await fsp.writeFile(p('times', `${name}.txt`), name);
        await setMtime(p('times', `${name}.txt`), t);
      }
    });

    after(async () => {
      s3?.destroy();
      await bucket?.remove();
      if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
    });

    for (const backend of ['s3', 'swift'] as const) {
      const header = backend === 's3' ? 'X-Amz-Meta-Mtime' : 'X-Object-Meta-Mtime';
      it(`${backend}: ${header} is the same text from both tools, and each reads the other's to the nanosecond`, async () => {
        await rclone('copy', p('times'), `${backend}:${bucket.name}/mtime-${backend}-r`);
        await cryptfs('copy', p('times'), `${backend}:${bucket.name}/mtime-${backend}-c`);
        const raw = async (dir: string, name: string) =>
          backend === 's3'
            ? (await s3Head(`${dir}/${name}.txt`)).metadata.mtime
            : (await swiftHead(`${dir}/${name}.txt`)).get('x-object-meta-mtime') ?? undefined;
        for (const [name, t] of Object.entries(TIMES)) {
          const byRclone = await raw(`mtime-${backend}-r`, name);
          const byCryptfs = await raw(`mtime-${backend}-c`, name);
          assert.equal(byRclone, t, `rclone's ${header} of ${name}.txt (touched to @${t})`);
          assert.equal(byCryptfs, byRclone, `cryptfs's ${header} of ${name}.txt vs rclone's`);
          // cryptfs's own parser and formatter on rclone's text.
          const ns = parseMtimeNs(byRclone);
          assert.notEqual(ns, undefined, `cryptfs parses rclone's ${JSON.stringify(byRclone)}`);
          assert.equal(formatMtimeNs(ns!), byRclone, `cryptfs formats ${ns} as rclone does`);
        }
        // lsl prints nanoseconds: each tool shows the other's objects exactly as its own.
        const lsl = async (tool: typeof rclone, dir: string) => (await tool('lsl', `${backend}:${bucket.name}/${dir}`)).stdout.toString().split('\n').sort();
        const theirs = await lsl(rclone, `mtime-${backend}-r`);
        assert.deepEqual(await lsl(rclone, `mtime-${backend}-c`), theirs, 'rclone lsl: cryptfs-written vs rclone-written');
        assert.deepEqual(await lsl(cryptfs, `mtime-${backend}-r`), theirs, 'cryptfs lsl vs rclone lsl of rclone-written objects');
        assert.ok(theirs.some((l) => / 2020-09-13 12:26:40\.123456789 ns\.txt$/.test(l)), theirs.join('\n'));
      });
    }

    it('s3: a multipart upload from a local file stores the same X-Amz-Meta-Md5chksum; md5sum lines agree', async () => {
      await fsp.mkdir(p('md5'));
      const data = randomBytes(6 * MiB + 1);
      await fsp.writeFile(p('md5', 'big.bin'), data);
      await fsp.writeFile(p('md5', 'small.bin'), 'one part');
      const flags = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'];
      await rclone('copy', ...flags, p('md5'), `s3:${bucket.name}/md5-r`);
      await cryptfs('copy', ...flags, p('md5'), `s3:${bucket.name}/md5-c`);
      const [r, c] = [await s3Head('md5-r/big.bin'), await s3Head('md5-c/big.bin')];
      assert.match(r.etag, /-2"?$/, `rclone uploaded big.bin in 2 parts: ETag ${r.etag}`);
      assert.match(c.etag, /-2"?$/, `cryptfs uploaded big.bin in 2 parts: ETag ${c.etag}`);
      assert.equal(r.metadata.md5chksum, createHash('md5').update(data).digest('base64'), "rclone's md5chksum: base64 of the MD5");
      assert.equal(c.metadata.md5chksum, r.metadata.md5chksum, "cryptfs's md5chksum vs rclone's");
      assert.equal((await s3Head('md5-c/small.bin')).metadata.md5chksum, (await s3Head('md5-r/small.bin')).metadata.md5chksum, 'single-part: none either way');

      const sums = async (tool: typeof rclone, dir: string) => (await tool('md5sum', `s3:${bucket.name}/${dir}`)).stdout.toString().split('\n').sort();
      // Sorted as the output is (rclone prints in completion order; the big file's MD5 is of random bytes).
      const want = ['', `${md5Hex(data)}  big.bin`, `${md5Hex(Buffer.from('one part'))}  small.bin`].sort();
      assert.deepEqual(await sums(rclone, 'md5-r'), want, 'rclone md5sum of its own');
      assert.deepEqual(await sums(rclone, 'md5-c'), want, "rclone md5sum of cryptfs's (the MD5 read from md5chksum)");
      assert.deepEqual(await sums(cryptfs, 'md5-r'), want, "cryptfs md5sum of rclone's");
      assert.deepEqual(await sums(cryptfs, 'md5-c'), want, 'cryptfs md5sum of its own');
    });

    it('swift: large objects have the same X-Object-Manifest and segment names; each tool reads and deletes the other\'s', async () => {
      const name = 'x y~ü+&=%_-.bin';
      await fsp.mkdir(p('large'));
      const data = randomBytes(3 * MiB + 17);
      await fsp.writeFile(p('large', name), data);
      const size = data.length;
      const t0 = Date.now();
      await rclone('copy', '--swift-chunk-size', '1M', p('large'), `swift:${bucket.name}/large-r`);
      await cryptfs('copy', '--swift-chunk-size', '1M', p('large'), `swift:${bucket.name}/large-c`);
      const segments = `${bucket.name}_segments`;

      /** The manifest with its upload time (a seconds float) as T. */
      const template = (manifest: string) => {
        const m = /^(.*)\/([0-9]+(?:\.[0-9]+)?)\/([0-9]+)$/.exec(manifest) ?? assert.fail(`manifest ${JSON.stringify(manifest)}: no <time>/<size> at its end`);
        const ms = Number(parseMtimeNs(m[2])! / 1_000_000n);
        assert.ok(ms >= t0 - 60_000 && ms <= Date.now() + 60_000, `upload time ${m[2]} in ${manifest}`);
        return `${m[1]}/T/${m[3]}`;
      };
      const byRclone = (await swiftHead(`large-r/${name}`)).get('x-object-manifest') ?? assert.fail('rclone wrote no manifest');
      const byCryptfs = (await swiftHead(`large-c/${name}`)).get('x-object-manifest') ?? assert.fail('cryptfs wrote no manifest');
      assert.equal(template(byRclone), `${encodeManifestValue(`${segments}/large-r/${name}`)}/T/${size}`, "cryptfs's manifest encoding vs rclone's value");
      assert.equal(template(byCryptfs), template(byRclone).replace('/large-r/', '/large-c/'), `cryptfs's X-Object-Manifest ${byCryptfs} vs rclone's ${byRclone}`);

      const segTemplate = (dir: string) => async () =>
        (await swiftRawNames(s, segments, `${dir}/`)).map((n) => n.replace(/\/[0-9]+(?:\.[0-9]+)?\/([0-9]+)\/([0-9]+)$/, '/T/$1/$2').replace(`${dir}/`, 'DIR/'));
      const rcloneSegs = await segTemplate('large-r')();
      assert.deepEqual(rcloneSegs, [0, 1, 2, 3].map((i) => `DIR/${name}/T/${size}/${String(i).padStart(8, '0')}`), 'rclone\'s segment names');
      assert.deepEqual(await segTemplate('large-c')(), rcloneSegs, "cryptfs's segment names vs rclone's");

      // Each reads the other's, and deleting one's large object takes its segments (parsing its manifest).
      assert.equal(md5Hex((await cryptfs('cat', `swift:${bucket.name}/large-r/${name}`)).stdout), md5Hex(data), "cryptfs cat of rclone's");
      assert.equal(md5Hex((await rclone('cat', `swift:${bucket.name}/large-c/${name}`)).stdout), md5Hex(data), "rclone cat of cryptfs's");
      await cryptfs('delete', `swift:${bucket.name}/large-r`);
      await rclone('delete', `swift:${bucket.name}/large-c`);
      assert.deepEqual(await swiftRawNames(s, segments, 'large-r/'), [], "cryptfs deleted rclone's segments");
      assert.deepEqual(await swiftRawNames(s, segments, 'large-c/'), [], "rclone deleted cryptfs's segments");
    });

    it('-M: rclone metadata (mode, uid, gid, atime, btime, mtime, user xattrs) is the same on S3 and in lsjson -M; each restores the other\'s', async () => {
      // rclone itself puts the user key on the source file (as the xattr user.color).
      await fsp.mkdir(p('meta-seed'));
      await fsp.writeFile(p('meta-seed', 'tool.sh'), '#!/bin/sh\necho hi\n');
      await fsp.chmod(p('meta-seed', 'tool.sh'), 0o750);
      await rclone('copyto', '-M', '--metadata-set', 'color=blue', p('meta-seed', 'tool.sh'), p('meta', 'tool.sh'));
      await setMtime(p('meta', 'tool.sh'), TIMES.ns);
      // atime after ctime, so that reading the file (relatime) leaves it: both tools see the same.
      await run('touch', ['-a', '-d', `@${Math.floor(Date.now() / 1000) + 86_400}.25`, p('meta', 'tool.sh')]);

      const [theirs, ours] = [await rclone('lsjson', '-M', p('meta')), await cryptfs('lsjson', '-M', p('meta'))];
      assert.equal(ours.stdout.toString(), theirs.stdout.toString(), 'cryptfs lsjson -M vs rclone lsjson -M of a local file, byte for byte');
      const local = lsjsonMetadata(theirs).get('tool.sh') ?? assert.fail(describeRun('rclone lsjson -M', theirs));
      assert.equal(local.color, 'blue', 'rclone reads its own user.color xattr');
      assert.equal(local.mode, '100750');
      assert.equal(local.mtime, '2020-09-13T12:26:40.123456789Z');

      await rclone('copy', '-M', p('meta'), `s3:${bucket.name}/meta-r`);
      await cryptfs('copy', '-M', p('meta'), `s3:${bucket.name}/meta-c`);
      const [r, c] = [(await s3Head('meta-r/tool.sh')).metadata, (await s3Head('meta-c/tool.sh')).metadata];
      assert.deepEqual(
        Object.keys(r).sort(),
        ['atime', 'btime', 'color', 'gid', 'mode', 'mtime', 'uid'],
        `the x-amz-meta-* keys rclone wrote: ${JSON.stringify(r)}`,
      );
      assert.deepEqual(r, { ...local, mtime: TIMES.ns }, "rclone's x-amz-meta-*: lsjson -M's values, mtime as seconds");
      assert.deepEqual(c, r, "cryptfs's x-amz-meta-* vs rclone's, byte for byte");

      // Each restores the other's: mode, exact mtime, the user key as an xattr rclone reads.
      await rclone('copy', '-M', `s3:${bucket.name}/meta-c`, p('out-r'));
      await cryptfs('copy', '-M', `s3:${bucket.name}/meta-r`, p('out-c'));
      for (const out of ['out-r', 'out-c']) {
        const st = await fsp.stat(p(out, 'tool.sh'), { bigint: true });
        assert.equal((Number(st.mode) & 0o7777).toString(8), '750', `${out}: mode`);
        assert.equal(st.mtimeNs, 1_600_000_000_123_456_789n, `${out}: mtime`);
        const md = lsjsonMetadata(await rclone('lsjson', '-M', p(out))).get('tool.sh');
        assert.equal(md?.color, 'blue', `${out}: user.color as rclone reads it`);
      }
    });

    it("lsjson -R -M of a local tree prints rclone's bytes: Go's JSON escaping, MIME types, the metadata keys", async () => {
      const names = ['a&b<c>.json', 'quote"and\\back.txt', 'line\u2028sep.md', 'tool.sh', 'x.C', 'noext', 'sub/f.tar.gz', 'sub/ü é.PNG'];
      for (const n of names) {
        await fsp.mkdir(join(p('json'), n, '..'), { recursive: true });
        await fsp.writeFile(join(p('json'), n), n);
      }
      const [theirs, ours] = [await rclone('lsjson', '-R', '-M', p('json')), await cryptfs('lsjson', '-R', '-M', p('json'))];
      assert.match(theirs.stdout.toString(), /"Path":"a\\u0026b\\u003cc\\u003e\.json"/, "rclone's escaping");
      assert.equal(ours.stdout.toString(), theirs.stdout.toString(), 'cryptfs lsjson -R -M vs rclone lsjson -R -M, byte for byte');
    });

    it('-l: symlinks are NAME.rclonelink objects holding the target, the same from both tools', async () => {
      await fsp.mkdir(p('links'));
      await fsp.writeFile(p('links', 'file'), 'plain');
      await fsp.symlink('../some target ü', p('links', 'link'));
      await setMtime(p('links', 'link'), '1500000000.25', true);
      await rclone('copy', '-l', p('links'), `s3:${bucket.name}/links-r`);
      await cryptfs('copy', '-l', p('links'), `s3:${bucket.name}/links-c`);
      const names = async (dir: string) => (await swiftRawNames(s, bucket.name, `${dir}/`)).map((n) => n.slice(dir.length + 1));
      assert.deepEqual(await names('links-r'), ['file', 'link.rclonelink'], "rclone's objects");
      assert.deepEqual(await names('links-c'), await names('links-r'), "cryptfs's objects vs rclone's");
      for (const dir of ['links-r', 'links-c']) {
        assert.equal((await rclone('cat', `s3:${bucket.name}/${dir}/link.rclonelink`)).stdout.toString(), '../some target ü', `${dir}: the target`);
        assert.equal((await s3Head(`${dir}/link.rclonelink`)).metadata.mtime, '1500000000.25', `${dir}: the link's own mtime`);
      }
      await rclone('copy', '-l', `s3:${bucket.name}/links-c`, p('links-out-r'));
      await cryptfs('copy', '-l', `s3:${bucket.name}/links-r`, p('links-out-c'));
      for (const out of ['links-out-r', 'links-out-c']) {
        assert.equal(await fsp.readlink(p(out, 'link')), '../some target ü', `${out}: a symlink again`);
        assert.equal(await fsp.readFile(p(out, 'file'), 'utf8'), 'plain');
      }
    });
  });
}
