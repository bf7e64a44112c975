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
