import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinPath, parentPath, baseName, cleanPath } from '../../src/remote/remote.js';

test('remote path helpers', () => {
  assert.equal(joinPath('a', '', 'b'), 'a/b');
  assert.equal(parentPath('a/b/c'), 'a/b');
  assert.equal(parentPath('c'), '');
  assert.equal(baseName('a/b/c'), 'c');
  assert.equal(cleanPath('/a//b/./c/'), 'a/b/c');
});
