// src/crypt/sodium.ts loads sodium-native's prebuild directly (start-up time): it must be the very
// addon the package's own entry point resolves, not another copy or version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { sodiumBinding } from '../../../src/crypt/sodium.js';

test("the binding is the addon sodium-native's entry point resolves", () => {
  const viaPackage = createRequire(import.meta.url)('sodium-native') as Record<string, unknown>;
  assert.equal(sodiumBinding, viaPackage);
  assert.equal(typeof (sodiumBinding as Record<string, unknown>).crypto_secretbox_easy, 'function');
});
