// goJson: JSON as Go 1.19's encoding/json (rclone 1.60's lsjson) writes it. The escapes below are
// what rclone printed; test/integration/interop/rclone-literals.test.ts compares whole listings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goJson } from '../../../src/cli/format.js';

test("goJson escapes as Go: HTML characters, line separators, \\b and \\f; an escaped backslash stays", () => {
  assert.equal(goJson({ Path: 'a&b<c>.json' }), '{"Path":"a\\u0026b\\u003cc\\u003e.json"}');
  assert.equal(goJson('line\u2028sep\u2029'), '"line\\u2028sep\\u2029"');
  assert.equal(goJson('\b\f\n\t\r\u0001'), '"\\u0008\\u000c\\n\\t\\r\\u0001"');
  assert.equal(goJson('back\\b "q"'), '"back\\\\b \\"q\\""');
  assert.equal(goJson({ n: 1, ok: true, ü: 'é' }), '{"n":1,"ok":true,"ü":"é"}');
});
