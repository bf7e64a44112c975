import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMtime, formatMtimeNs, parseMtime, parseMtimeNs } from '../../../src/remote/object-store-util.js';

test("rclone's mtime text keeps nanoseconds both ways", () => {
  assert.equal(formatMtimeNs(1_620_284_889_123_456_789n), '1620284889.123456789');
  assert.equal(formatMtimeNs(1_577_934_245_500_000_000n), '1577934245.5');
  assert.equal(formatMtimeNs(1_354_040_105_000_000_000n), '1354040105');
  assert.equal(parseMtimeNs('1620284889.123456789'), 1_620_284_889_123_456_789n);
  assert.equal(parseMtimeNs('1577934245.5'), 1_577_934_245_500_000_000n);
  assert.equal(parseMtimeNs('1354040105'), 1_354_040_105_000_000_000n);
  assert.equal(parseMtimeNs('not a time'), undefined);
  assert.equal(parseMtimeNs('99999999999999999999'), undefined);
  for (const ns of [0n, 1n, 999_999_999n, 1_700_000_000_000_000_001n]) assert.equal(parseMtimeNs(formatMtimeNs(ns)), ns);
  assert.equal(formatMtime(new Date(1_620_284_889_123)), '1620284889.123');
  assert.equal(parseMtime('1620284889.123456789')?.getTime(), 1_620_284_889_123);
});
