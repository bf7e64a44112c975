// Symlinks on the local remote, as rclone's local backend: -l/--links turns a
// symlink NAME into the object NAME.rclonelink (content: the target) and back,
// -L/--copy-links follows them, and by default they are left out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRemote } from '../../../src/remote/local.js';
import { ConfigError } from '../../../src/errors.js';
import { bytesOf, listAll, readAll } from '../../helpers/remote-contract.js';

describe('local remote: symlinks', () => {
  let dir: string;
  const names = async (r: LocalRemote, d = '') => (await listAll(r, d)).map((e) => `${e.path}${e.isDir ? '/' : ''}:${e.isDir ? '' : e.size}`).sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-links-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub/file'), 'twelve bytes');
    await symlink('sub/file', join(dir, 'to-file'));
    await symlink('sub', join(dir, 'to-dir'));
    await symlink('/nonexistent/target', join(dir, 'dangling'));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('without -l or -L: symlinks are left out', async () => {
    assert.deepEqual(await names(new LocalRemote(dir, dir, { skipLinks: true })), ['sub/:']);
  });

  it('-L: symlinks are followed, dangling ones left out', async () => {
    assert.deepEqual(await names(new LocalRemote(dir, dir, { copyLinks: true })), ['sub/:', 'to-dir/:', 'to-file:12']);
  });

  it('-l: symlinks are NAME.rclonelink objects holding the target; stat, read, range read', async () => {
    const r = new LocalRemote(dir, dir, { links: true });
    assert.deepEqual(await names(r), ['dangling.rclonelink:19', 'sub/:', 'to-dir.rclonelink:3', 'to-file.rclonelink:8']);
    assert.equal((await readAll(await r.openRead('dangling.rclonelink'))).toString(), '/nonexistent/target');
    assert.equal((await readAll(await r.openRead('to-file.rclonelink', { offset: 4, length: 3 }))).toString(), 'fil');
    const st = await r.stat('to-dir.rclonelink');
    assert.equal(st.size, 3);
    // To the nanosecond (a Date from Node's float mtimeMs rounds to the millisecond, ours truncates).
    assert.equal(st.mtimeNs, (await lstat(join(dir, 'to-dir'), { bigint: true })).mtimeNs);
  });

  it('-l: writing NAME.rclonelink makes a symlink (replacing one), with the given time; delete and move act on the link', async () => {
    const r = new LocalRemote(dir, dir, { links: true });
    const mtime = new Date('2021-03-04T05:06:07Z');
    await r.write('made.rclonelink', bytesOf(Buffer.from('sub/../sub/file')), { mtime });
    assert.equal(await readlink(join(dir, 'made')), 'sub/../sub/file');
    assert.equal((await lstat(join(dir, 'made'))).mtime.getTime(), mtime.getTime());
    await r.write('made.rclonelink', bytesOf(Buffer.from('other')));
    assert.equal(await readlink(join(dir, 'made')), 'other');
    await r.move!('made.rclonelink', 'sub/moved.rclonelink');
    assert.equal(await readlink(join(dir, 'sub/moved')), 'other');
    await r.setMtime('sub/moved.rclonelink', mtime);
    assert.equal((await lstat(join(dir, 'sub/moved'))).mtime.getTime(), mtime.getTime());
    await r.delete('sub/moved.rclonelink');
    await assert.rejects(lstat(join(dir, 'sub/moved')), /ENOENT/);
    // The real file the link pointed at is untouched.
    assert.equal((await readAll(await r.openRead('sub/file'))).toString(), 'twelve bytes');
  });

  it('-l with -L is refused, as rclone', () => {
    assert.throws(() => new LocalRemote(dir, dir, { links: true, copyLinks: true }), ConfigError);
  });
});
