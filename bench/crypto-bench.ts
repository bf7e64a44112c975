// Throughput of the crypt content cipher against raw libsodium and tweetnacl, and an
// end-to-end file → encrypt → file run (optionally vs rclone).
//
//   node dist/bench/crypto-bench.js [--size MiB] [--reps N] [--e2e-size MiB] [--rounds N] [--no-e2e] [--rclone]
//
// Data is random and lives only in memory or in a temp dir that is removed afterwards.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import nacl from 'tweetnacl';
import { BLOCK_DATA_SIZE, BLOCK_SIZE, ContentCipher } from '../src/crypt/content-cipher.js';
import { incrementNonce } from '../src/crypt/nonce.js';
import { obscure } from '../src/crypt/obscure.js';

interface Sodium {
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}
const sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const numArg = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SIZE = numArg('--size', 256) * MiB;
const E2E_SIZE = numArg('--e2e-size', 512) * MiB;
const RUN_E2E = !args.includes('--no-e2e');
const RUN_RCLONE = args.includes('--rclone');
const E2E_ROUNDS = numArg('--rounds', 5);
const REPS = numArg('--reps', 3);

const key = randomBytes(32);
const nonce = randomBytes(24);
const pool = randomBytes(4 * MiB); // source data, repeated

const mbps = (bytes: number, ns: bigint): number => bytes / (Number(ns) / 1e9) / 1e6;
const now = () => process.hrtime.bigint();

/** Throughput by wall clock and by CPU time of the whole process (all threads). */
interface Rate {
  wall: number;
  cpu: number;
}
function startTimer(): (bytes: number) => Rate {
  const wall0 = now();
  const cpu0 = process.cpuUsage();
  return (bytes) => {
    const cpu = process.cpuUsage(cpu0);
    return { wall: mbps(bytes, now() - wall0), cpu: bytes / ((cpu.user + cpu.system) / 1e6) / 1e6 };
  };
}
const fmt = (x: number) => x.toFixed(0).padStart(6);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** `total` bytes in `piece`-sized slices of the random pool. */
async function* source(total: number, piece: number): AsyncGenerator<Uint8Array> {
  for (let pos = 0; pos < total; ) {
    const start = pos % pool.length;
    const n = Math.min(piece, total - pos, pool.length - start);
    yield pool.subarray(start, start + n);
    pos += n;
  }
}

async function consume(gen: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const b of gen) n += b.length;
  return n;
}

interface SealOpen {
  seal: Rate;
  open: Rate;
}

function rawSodium(total: number): SealOpen {
  const chunks = Math.floor(total / BLOCK_DATA_SIZE);
  const plain = pool.subarray(0, BLOCK_DATA_SIZE);
  const sealed = Buffer.alloc(BLOCK_SIZE);
  const out = Buffer.alloc(BLOCK_DATA_SIZE);
  const n = Buffer.from(nonce);
  let t = startTimer();
  for (let i = 0; i < chunks; i++) {
    sodium.crypto_secretbox_easy(sealed, plain, n, key);
    incrementNonce(n);
  }
  const seal = t(chunks * BLOCK_DATA_SIZE);
  n.set(nonce);
  sodium.crypto_secretbox_easy(sealed, plain, n, key);
  t = startTimer();
  for (let i = 0; i < chunks; i++) {
    if (!sodium.crypto_secretbox_open_easy(out, sealed, n, key)) throw new Error('open failed');
  }
  const open = t(chunks * BLOCK_DATA_SIZE);
  return { seal, open };
}

function tweetnacl(total: number): SealOpen {
  const chunks = Math.floor(total / BLOCK_DATA_SIZE);
  const plain = pool.subarray(0, BLOCK_DATA_SIZE);
  let t = startTimer();
  let sealed: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < chunks; i++) sealed = nacl.secretbox(plain, nonce, key);
  const seal = t(chunks * BLOCK_DATA_SIZE);
  t = startTimer();
  for (let i = 0; i < chunks; i++) if (!nacl.secretbox.open(sealed, nonce, key)) throw new Error('open failed');
  const open = t(chunks * BLOCK_DATA_SIZE);
  return { seal, open };
}

async function cipherRun(cipher: ContentCipher, total: number, piece: number): Promise<SealOpen> {
  let t = startTimer();
  const sealedBytes = await consume(cipher.encrypt(source(total, piece), nonce));
  const seal = t(total);
  if (sealedBytes !== ContentCipher.encryptedSize(total)) throw new Error('wrong encrypted size');
  // Decrypt genuine ciphertext (64 MiB made once, read repeatedly) until `total` plaintext bytes.
  const sampleSize = Math.min(total, 64 * MiB);
  const sample = Buffer.concat(await collect(cipher.encrypt(source(sampleSize, MiB), nonce)));
  async function* cipherSource(): AsyncGenerator<Uint8Array> {
    for (let p = 0; p < sample.length; p += piece) yield sample.subarray(p, p + piece);
  }
  t = startTimer();
  let opened = 0;
  while (opened < total) opened += await consume(cipher.decrypt(cipherSource()));
  const open = t(opened);
  return { seal, open };
}

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

/** The local remote's way: 1 MiB read stream → encrypt → sequential FileHandle writes. */
async function fileToFile(cipher: ContentCipher, from: string, to: string): Promise<number> {
  const t = now();
  const fh = await fsp.open(to, 'w');
  try {
    for await (const chunk of cipher.encrypt(createReadStream(from, { highWaterMark: MiB }))) {
      for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
  return mbps((await fsp.stat(from)).size, now() - t);
}

async function fileDecrypt(cipher: ContentCipher, from: string, to: string): Promise<number> {
  const t = now();
  const fh = await fsp.open(to, 'w');
  let n = 0;
  try {
    for await (const chunk of cipher.decrypt(createReadStream(from, { highWaterMark: MiB }))) {
      n += chunk.length;
      for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
  return mbps(n, now() - t);
}

async function main(): Promise<void> {
  console.log(`crypt content cipher benchmark: ${SIZE / MiB} MiB per run, 64 KiB chunks, node ${process.version}`);
  const single = new ContentCipher(key);

  // Warm up (JIT).
  await consume(single.encrypt(source(16 * MiB, MiB)));

  // Repeat each measurement, interleaved, and report medians: the machine is shared.
  const runs: Record<string, () => Promise<SealOpen> | SealOpen> = {
    'raw sodium-native secretbox (64 KiB)': () => rawSodium(SIZE),
    'ContentCipher, 1 MiB source pieces': () => cipherRun(single, SIZE, MiB),
    'ContentCipher, 64 KiB source pieces': () => cipherRun(single, SIZE, 64 * 1024),
    'tweetnacl secretbox (64 KiB)': () => tweetnacl(Math.min(SIZE, 16 * MiB)),
  };
  const samples = new Map<string, SealOpen[]>();
  for (let r = 0; r < REPS; r++) {
    for (const [name, run] of Object.entries(runs)) samples.set(name, [...(samples.get(name) ?? []), await run()]);
  }
  const pick = (name: string, op: 'seal' | 'open', kind: 'wall' | 'cpu') =>
    median((samples.get(name) ?? []).map((x) => x[op][kind]));
  const rawName = Object.keys(runs)[0];
  console.log(`median of ${REPS} runs; "cpu" = MB per CPU-second of the whole process (all threads)`);
  console.log(`${'implementation'.padEnd(46)}  seal MB/s ratio  (cpu  ratio)   open MB/s ratio  (cpu  ratio)`);
  for (const name of Object.keys(runs)) {
    const cols = (['seal', 'open'] as const).map((op) => {
      const wall = pick(name, op, 'wall');
      const cpu = pick(name, op, 'cpu');
      return `${fmt(wall)}  ${(wall / pick(rawName, op, 'wall')).toFixed(2)}  (${fmt(cpu)} ${(cpu / pick(rawName, op, 'cpu')).toFixed(2)})`;
    });
    console.log(`${name.padEnd(46)}  ${cols[0]}   ${cols[1]}`);
  }

  if (!RUN_E2E) return;
  const dir = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-bench-'));
  try {
    const plainFile = join(dir, 'plain.bin');
    const fh = await fsp.open(plainFile, 'w');
    for await (const p of source(E2E_SIZE, 4 * MiB)) await fh.write(p);
    await fh.close();
    console.log(`\nend to end, ${E2E_SIZE / MiB} MiB: read file → encrypt → write file (MB/s of plaintext, wall clock)`);
    const results: Record<string, number[]> = { encrypt: [], decrypt: [] };
    for (let round = 0; round < E2E_ROUNDS; round++) {
      results.encrypt.push(await fileToFile(single, plainFile, join(dir, 'enc')));
      results.decrypt.push(await fileDecrypt(single, join(dir, 'enc'), join(dir, 'dec')));
      await Promise.all(['enc', 'dec'].map((f) => fsp.rm(join(dir, f))));
    }
    for (const [name, values] of Object.entries(results)) {
      console.log(`  ${name.padEnd(17)} median ${fmt(median(values))}   runs: ${values.map((v) => v.toFixed(0)).join(' ')}`);
    }
    if (RUN_RCLONE) {
      const conf = join(dir, 'rclone.conf');
      await fsp.writeFile(
        conf,
        `[bench]\ntype = crypt\nremote = ${join(dir, 'rclone-out')}\npassword = ${obscure('bench-password')}\n`,
      );
      await fsp.mkdir(join(dir, 'src'));
      await fsp.rename(plainFile, join(dir, 'src', 'plain.bin'));
      const t = now();
      const r = spawnSync('rclone', ['--config', conf, 'copy', join(dir, 'src'), 'bench:'], { stdio: 'inherit' });
      const dt = now() - t;
      if (r.status === 0) console.log(`  rclone copy into a local crypt remote: ${fmt(mbps(E2E_SIZE, dt))} MB/s`);
      else console.log(`  rclone copy failed (status ${r.status})`);
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

await main();
