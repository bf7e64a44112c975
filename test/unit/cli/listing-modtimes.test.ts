// Which commands ask a listing for modification times (and the metadata that comes with them). Over S3 and Swift a time is a HEAD per
// object (the listing carries only the upload time), so a command that shows none must not ask:
// `ls` of 2,000 files from a store 20 ms away took 9.8 s with a HEAD each, 0.7 s without (rclone:
// 0.4 s, no HEAD). An age filter needs them whatever the command.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRemote } from '../../../src/remote/memory.js';
import type { ListOptions, Remote, RemoteEntry } from '../../../src/remote/remote.js';
import { runMain } from '../../helpers/run-main.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-modtimes-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const conf = join(root, 'rclone.conf');
fs.writeFileSync(conf, '[mt]\ntype = memory\n');
const src = join(root, 'src');
fs.mkdirSync(join(src, 'd'), { recursive: true });
fs.writeFileSync(join(src, 'top.txt'), 'top');
fs.writeFileSync(join(src, 'd', 'inner.txt'), 'inner');

const cli = (argv: string[]) => runMain(['--config', conf, ...argv]);

/** The modTimes option of every listing of the memory remote while `argv` runs. */
async function listingsOf(argv: string[]): Promise<Array<boolean | undefined>> {
  const asked: Array<boolean | undefined> = [];
  const list = MemoryRemote.prototype.list;
  MemoryRemote.prototype.list = function (this: MemoryRemote, dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    asked.push(options?.modTimes);
    return list.call(this, dir, options);
  };
  try {
    const r = await cli(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
  } finally {
    MemoryRemote.prototype.list = list;
  }
  return asked;
}

test('commands that show no times list without them; lsl, lsf -F t and an age filter ask', async () => {
  assert.equal((await cli(['copy', src, 'mt:'])).code, 0);
  for (const argv of [['ls'], ['lsf', '-R'], ['lsd', '-R'], ['size'], ['tree'], ['delete', '--dry-run'], ['cat'], ['lsjson', '-R', '--no-modtime']]) {
    const asked = await listingsOf([...argv, 'mt:']);
    assert.ok(asked.length > 0 && asked.every((m) => m === false), `${argv.join(' ')} asked for times: ${asked}`);
  }
  for (const argv of [['lsl'], ['lsf', '-R', '-F', 'tp'], ['lsjson', '-R'], ['lsjson', '-R', '--no-modtime', '-M'], ['ls', '--max-age', '1d'], ['size', '--min-age', '1s'], ['tree', '--max-age', '1d']]) {
    const asked = await listingsOf([...argv, 'mt:']);
    assert.ok(asked.length > 0 && asked.every((m) => m !== false), `${argv.join(' ')} listed without times: ${asked}`);
  }
});

// Where a remote lists whole trees at once (S3, Swift), the walking commands take one such listing,
// as rclone's walk.ListR does, unless the depth is bounded or a directory rule prunes the tree.
test('ls, lsf -R, size, tree, md5sum and delete take one recursive listing where the remote has one', async () => {
  assert.equal((await cli(['copy', src, 'mt:'])).code, 0);
  const proto = MemoryRemote.prototype as MemoryRemote & { listRecursive?: Remote['listRecursive'] };
  const recursive: string[] = [];
  const list = proto.list; // not the one listingsOf counts
  proto.listRecursive = async function* (this: MemoryRemote, dir: string, options?: ListOptions) {
    recursive.push(dir);
    const pending = [dir];
    while (pending.length) {
      for await (const e of list.call(this, pending.shift()!, options)) {
        yield e;
        if (e.isDir) pending.push(e.path);
      }
    }
  };
  try {
    for (const argv of [['ls'], ['lsf', '-R'], ['size'], ['tree'], ['md5sum'], ['delete', '--dry-run'], ['lsjson', '-R']]) {
      recursive.length = 0;
      const asked = await listingsOf([...argv, 'mt:']);
      assert.deepEqual(recursive, [''], `${argv.join(' ')}: one recursive listing`);
      assert.equal(asked.length, 0, `${argv.join(' ')}: no listing by directories`);
    }
    for (const argv of [['size', '--exclude', '/d/**'], ['lsf', '-R', '--max-depth', '1'], ['ls', '--include', '/d/**']]) {
      recursive.length = 0;
      await listingsOf([...argv, 'mt:']);
      assert.deepEqual(recursive, [], `${argv.join(' ')}: by directories`);
    }
  } finally {
    delete proto.listRecursive;
  }
});

// A copy or sync lists without times, as rclone does, and reads a file's stored time only where it
// is used: a source file being copied gives it in its read's own response (S3/Swift: the GET's
// headers), a pair whose sizes agree has both read (a HEAD each) to compare them. Over S3 and Swift
// a HEAD per listed object cost a far copy of 2,000 small files 28.8 s against rclone's 18.1.
const STORED = new Date('2020-02-02T02:02:02.000Z');
const UPLOADED = new Date('2026-01-01T00:00:00.000Z');

/**
 * Runs `argv` with the memory remote listing as an object store does without times: each file's
 * upload time, marked mtimeUnread. Counts the memory remote's stats of files and reads with info.
 */
async function asObjectStore(argv: string[]): Promise<{ stats: string[]; infoReads: string[]; out: string; err: string }> {
  const proto = MemoryRemote.prototype;
  const { list, stat, openReadWithInfo } = proto;
  const stats: string[] = [];
  const infoReads: string[] = [];
  proto.list = async function* (this: MemoryRemote, dir: string, options?: ListOptions) {
    for await (const e of list.call(this, dir, options)) {
      yield options?.modTimes === false && !e.isDir ? { ...e, mtime: UPLOADED, metadata: undefined, mtimeUnread: true } : e;
    }
  };
  // The files' stats (a command's look at its root, which a directory is, is not one per file).
  proto.stat = async function (this: MemoryRemote, path: string) {
    const e = await stat.call(this, path);
    if (!e.isDir) stats.push(path);
    return e;
  };
  proto.openReadWithInfo = function (this: MemoryRemote, ...args: Parameters<typeof openReadWithInfo>) {
    infoReads.push(args[0]);
    return openReadWithInfo.apply(this, args);
  };
  try {
    const r = await cli(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return { stats, infoReads, out: r.out, err: r.err };
  } finally {
    Object.assign(proto, { list, stat, openReadWithInfo });
  }
}

/** A local tree of two files whose times are STORED. */
function storedTree(name: string): string {
  const dir = join(root, name);
  fs.mkdirSync(join(dir, 'd'), { recursive: true });
  fs.writeFileSync(join(dir, 'a.txt'), 'aaa');
  fs.writeFileSync(join(dir, 'd', 'b.txt'), 'bbbbb');
  for (const f of ['a.txt', 'd/b.txt']) fs.utimesSync(join(dir, f), STORED, STORED);
  return dir;
}

const mtimeOf = (path: string) => fs.statSync(path).mtime.toISOString();

for (const remote of ['mt:plain', 'mtc:']) {
  test(`copy out of ${remote} takes each time from the read, and reads times only to compare them`, async () => {
    fs.writeFileSync(conf, '[mt]\ntype = memory\n\n[mtc]\ntype = crypt\nremote = mt:enc\npassword = ' + (await cli(['obscure', 'pw'])).out.trim() + '\n');
    const src = storedTree(`stored-${remote.replace(/\W/g, '')}`);
    assert.equal((await cli(['copy', src, remote])).code, 0);
    const down = join(root, `down-${remote.replace(/\W/g, '')}`);

    // Nothing there yet: no stat at all, the stored times from the reads.
    const first = await asObjectStore(['copy', remote, down]);
    assert.deepEqual(first.stats, [], 'no stat (HEAD) for a file copied');
    assert.equal(first.infoReads.length, 2);
    assert.equal(mtimeOf(join(down, 'a.txt')), STORED.toISOString());
    assert.equal(mtimeOf(join(down, 'd', 'b.txt')), STORED.toISOString());

    // All there: the times compared are the stored ones (the upload time would have the same
    // content "updated" to it, or copied again); a stat for each pair of equal size.
    const again = await asObjectStore(['copy', '-v', remote, down]);
    assert.equal(again.stats.length, 2, `a stat per pair compared: ${again.stats}`);
    assert.match(again.err, /There was nothing to transfer/);
    assert.doesNotMatch(again.err, /Updated modification time/);
    assert.equal(mtimeOf(join(down, 'a.txt')), STORED.toISOString());

    // Sizes differ: copied without a stat for that file; --size-only compares no times at all.
    fs.writeFileSync(join(down, 'a.txt'), 'changed');
    const changed = await asObjectStore(['copy', remote, down]);
    assert.equal(changed.stats.length, 1, `only the pair of equal size: ${changed.stats}`);
    assert.equal(fs.readFileSync(join(down, 'a.txt'), 'utf8'), 'aaa');
    assert.equal(mtimeOf(join(down, 'a.txt')), STORED.toISOString());
    assert.deepEqual((await asObjectStore(['copy', '--size-only', remote, down])).stats, []);

    // The other way round: the destination's times are read only for the pairs compared.
    const back = await asObjectStore(['sync', '-v', src, remote]);
    assert.equal(back.stats.length, 2, `${back.stats}`);
    assert.match(back.err, /There was nothing to transfer/);
  });
}
