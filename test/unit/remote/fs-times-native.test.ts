// The small native helper (native/fs_times.c): its errors carry the code Node
// itself gives each errno, for every errno Node knows (callers map the code to
// the errno a FUSE request answers, so a missing name would become EIO), and
// are shaped like Node's system errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { osNative } from '../../../src/os-native.js';
import { requireTool } from '../../helpers/require-tool.js';

describe('native fs helper', { skip: requireTool('native fs addon', osNative !== undefined, 'build/Release/cryptfs_fs.node (node-gyp)') }, () => {
  const native = osNative!;

  it('names every errno Node knows as Node does', () => {
    const byName = constants.errno as Record<string, number>;
    assert.ok(Object.keys(byName).length > 70);
    for (const n of Object.values(byName)) {
      const name = native.errnoName(n);
      assert.ok(name !== undefined && byName[name] === n, `errno ${n}: ${name}`);
      // Where two names share a value, Node's errors use the one libuv gives.
      const nodeName = getSystemErrorName(-n);
      if (!nodeName.startsWith('Unknown')) assert.equal(name, nodeName, `errno ${n}`);
    }
  });

  it('names the Linux errnos Node has no constant for, and nothing else', () => {
    assert.equal(native.errnoName(121), 'EREMOTEIO');
    assert.equal(native.errnoName(122), 'EDQUOT');
    assert.equal(native.errnoName(133), 'EHWPOISON');
    assert.equal(native.errnoName(0), undefined);
    assert.equal(native.errnoName(4000), undefined);
  });

  it('throws errors shaped like Node system errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryptfs-fstimes-'));
    try {
      const fd = openSync(join(dir, 'f'), 'w');
      closeSync(fd);
      assert.throws(() => native.futimensNs(fd, 0n), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'EBADF');
        assert.equal(err.errno, -constants.errno.EBADF);
        assert.equal(err.syscall, 'futimens');
        assert.match(err.message, /^EBADF: .*, futimens$/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
