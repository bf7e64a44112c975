// Writes COUNT files of random bytes under DIR, sizes uniform in [MIN, MAX] bytes, 500 per
// subdirectory (a tree like a research dataset's). The same SEED gives the same sizes.
//   node bench/lib/gen-files.mjs DIR COUNT MIN MAX [SEED]
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';

const [dir, countText, minText, maxText, seedText = '1'] = process.argv.slice(2);
const count = Number(countText);
const min = Number(minText);
const max = Number(maxText);
if (!dir || !(count >= 0) || !(min >= 0) || !(max >= min)) {
  console.error('usage: gen-files.mjs DIR COUNT MIN MAX [SEED]');
  process.exit(2);
}
let state = Number(seedText) >>> 0 || 1;
const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32); // LCG: sizes only
const pool = randomFillSync(Buffer.allocUnsafe(max + 4096));
for (let i = 0; i < count; i++) {
  const sub = join(dir, `d${String(Math.floor(i / 500)).padStart(3, '0')}`);
  if (i % 500 === 0) mkdirSync(sub, { recursive: true });
  const size = min + Math.floor(next() * (max - min + 1));
  const at = Math.floor(next() * 4096);
  if (i % 64 === 0) randomFillSync(pool);
  writeFileSync(join(sub, `f${i}.bin`), pool.subarray(at, at + size));
}
