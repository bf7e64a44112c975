// Size flags of `cryptfs mount` read as rclone 1.60.1's SizeSuffix reads them:
// a bare number is KiB (`rclone mount --vfs-cache-max-size 1024` is 1 MiB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountSize } from '../../../src/cli/commands/mount.js';

test('mount size flags: bare numbers are KiB, suffixes as SizeSuffix, b for bytes, off/-1 unlimited', () => {
  assert.equal(parseMountSize('1024', 'vfs-cache-max-size'), 1024 * 1024);
  assert.equal(parseMountSize('0', 'vfs-read-ahead'), 0);
  assert.equal(parseMountSize('16Mi', 'buffer-size'), 16 * 1024 * 1024);
  assert.equal(parseMountSize('128Ki', 'max-read-ahead'), 128 * 1024);
  assert.equal(parseMountSize('1G', 'vfs-cache-max-size'), 1024 ** 3);
  assert.equal(parseMountSize('512b', 'max-read-ahead'), 512);
  assert.equal(parseMountSize('off', 'vfs-cache-max-size'), Infinity);
  assert.equal(parseMountSize('-1', 'vfs-cache-max-size'), Infinity);
  assert.throws(() => parseMountSize('10x', 'buffer-size'), /--buffer-size/);
});
