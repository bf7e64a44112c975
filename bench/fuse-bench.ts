// Throughput and latency of the libfuse3 binding alone (no VFS, no crypt):
// a 1 GiB file served from JS memory, read and written with dd, and 4 KiB
// random reads timed from a child process.
//
//   npx tsc -p . && node dist/bench/fuse-bench.js [--size-mib 1024] [--random-reads 20000]
//
// The programs that touch the mount run as child processes: this process's
// event loop serves the mount and must never touch it itself.
import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { FuseSession, type Attr, type FuseOps } from '../src/fuse/fuse-session.js';
import { ErrnoError } from '../src/errors.js';
import { setKernelReadAhead } from '../src/fuse/kernel-read-ahead.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const MiB = 1024 * 1024;
const size = arg('--size-mib', 1024) * MiB;
const randomReads = arg('--random-reads', 20000);
const parallelProcs = arg('--parallel', 4);

// 1 MiB of pattern, stored twice so that any read of up to 1 MiB at any
// offset is one subarray (no copy in JS).
const pattern = Buffer.alloc(2 * MiB);
for (let i = 0; i < MiB; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
pattern.copy(pattern, MiB, 0, MiB);

const t0 = BigInt(Date.now()) * 1_000_000n;
const dirAttr: Attr = { ino: 1n, mode: fsc.S_IFDIR | 0o755, nlink: 2, size: 0, atimeNs: t0, mtimeNs: t0, ctimeNs: t0 };
const files = new Map<string, Attr & { directIo: boolean }>([
  ['big', { ino: 2n, mode: fsc.S_IFREG | 0o644, size, atimeNs: t0, mtimeNs: t0, ctimeNs: t0, directIo: false }],
  // Every read of this one reaches the daemon (no page cache): for latency.
  ['direct', { ino: 3n, mode: fsc.S_IFREG | 0o644, size, atimeNs: t0, mtimeNs: t0, ctimeNs: t0, directIo: true }],
  ['sink', { ino: 4n, mode: fsc.S_IFREG | 0o644, size: 0, atimeNs: t0, mtimeNs: t0, ctimeNs: t0, directIo: false }],
]);
const byIno = new Map([...files.values()].map((f) => [f.ino, f]));
let readRequests = 0;
let readBytes = 0;
const writeSizes = new Map<number, number>();

const ops: FuseOps = {
  lookup(parent, name) {
    const f = parent === 1n ? files.get(name) : undefined;
    if (!f) throw new ErrnoError('ENOENT');
    return f;
  },
  getattr(ino) {
    if (ino === 1n) return dirAttr;
    const f = byIno.get(ino);
    if (!f) throw new ErrnoError('ENOENT');
    return f;
  },
  setattr(ino, changes) {
    const f = byIno.get(ino);
    if (!f) throw new ErrnoError('ENOENT');
    if (changes.size !== undefined) f.size = changes.size;
    return f;
  },
  open(ino, flags) {
    const f = byIno.get(ino)!;
    if (flags & fsc.O_TRUNC) f.size = 0;
    return { fh: ino, directIo: f.directIo };
  },
  read(_ino, _fh, offset, length) {
    readRequests++;
    const n = Math.max(0, Math.min(length, size - offset));
    readBytes += n;
    const start = offset % MiB;
    return pattern.subarray(start, start + n);
  },
  write(ino, _fh, data, offset) {
    writeSizes.set(data.length, (writeSizes.get(data.length) ?? 0) + 1);
    const f = byIno.get(ino)!;
    if (offset + data.length > Number(f.size)) f.size = offset + data.length;
    return data.length;
  },
  release() {},
  flush() {},
};

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr || err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; cpu: number; value: T }> {
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const value = await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, value };
}

const randomReadScript = `
import os, random, sys, time
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
blocks = size // 4096
rnd = random.Random(int(sys.argv[4]))
offs = [rnd.randrange(blocks) * 4096 for _ in range(count)]
for o in offs[:200]: os.pread(fd, 4096, o)
lat = []
t0 = time.perf_counter()
for o in offs:
    a = time.perf_counter_ns()
    if len(os.pread(fd, 4096, o)) != 4096: sys.exit('short read')
    lat.append(time.perf_counter_ns() - a)
total = time.perf_counter() - t0
lat.sort()
print(count / total, sum(lat) / len(lat) / 1000, lat[len(lat) // 2] / 1000, lat[int(len(lat) * 0.99)] / 1000)
`;

/** CPU seconds used so far by this process's threads, by thread name. */
async function threadCpu(): Promise<Map<string, number>> {
  const tick = 100; // USER_HZ
  const out = new Map<string, number>();
  for (const tid of await readdir('/proc/self/task')) {
    try {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / tick;
      const key = name === 'node' && tid === String(process.pid) ? 'js' : name;
      out.set(key, (out.get(key) ?? 0) + seconds);
    } catch {
      // thread ended
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function seqRead(mnt: string, file: string, rounds: number): Promise<string> {
  const speeds: number[] = [];
  let cpu = 0;
  let requests = 0;
  let bytes = 0;
  for (let round = 0; round < rounds; round++) {
    readRequests = 0;
    readBytes = 0;
    const r = await timed(() => run('dd', [`if=${join(mnt, file)}`, 'of=/dev/null', 'bs=1M']));
    speeds.push(size / MiB / r.seconds);
    cpu += r.cpu;
    requests += readRequests;
    bytes += readBytes;
  }
  return `median ${median(speeds).toFixed(0)} MiB/s (runs: ${speeds.map((v) => v.toFixed(0)).join(', ')})` +
    `, requests ${(bytes / requests / 1024).toFixed(0)} KiB avg, daemon CPU ${(cpu / rounds / (size / 1024 ** 3)).toFixed(2)} s/GiB`;
}

async function seqWrite(mnt: string, file: string, rounds: number): Promise<string> {
  const speeds: number[] = [];
  let cpu = 0;
  writeSizes.clear();
  for (let round = 0; round < rounds; round++) {
    const r = await timed(() => run('dd', ['if=/dev/zero', `of=${join(mnt, file)}`, 'bs=1M', `count=${size / MiB}`]));
    speeds.push(size / MiB / r.seconds);
    cpu += r.cpu;
  }
  const sizes = [...writeSizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2);
  return `median ${median(speeds).toFixed(0)} MiB/s (runs: ${speeds.map((v) => v.toFixed(0)).join(', ')})` +
    `, write sizes ${sizes.map(([s, n]) => `${s} B x${n}`).join(', ')}, daemon CPU ${(cpu / rounds / (size / 1024 ** 3)).toFixed(2)} s/GiB`;
}

async function withMount<T>(readAheadKiB: number | undefined, fn: (mnt: string, session: FuseSession) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(join(os.tmpdir(), 'cryptfs-fusebench-'));
  const mnt = join(tmp, 'mnt');
  await mkdir(mnt);
  const session = await FuseSession.mount(mnt, ops, { fsName: 'fusebench', attrTimeout: 60, entryTimeout: 60 });
  if (readAheadKiB !== undefined) await setKernelReadAhead(mnt, readAheadKiB * 1024);
  try {
    return await fn(mnt, session);
  } finally {
    await session.unmount();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const mib = size / MiB;
  const rounds = arg('--rounds', 3);
  const report = (line: string) => console.log(line);
  let proto = '';
  await withMount(undefined, async (mnt, session) => {
    const c = session.connection;
    proto = `${c.protoMajor}.${c.protoMinor}`;
    report(`max_write ${c.maxWrite}, max_readahead ${c.maxReadahead}`);
    report(`sequential read ${mib} MiB, dd bs=1M, page cache, kernel read-ahead 128 KiB: ${await seqRead(mnt, 'big', rounds)}`);
    report(`sequential read ${mib} MiB, dd bs=1M, direct_io: ${await seqRead(mnt, 'direct', rounds)}`);
    report(`sequential write ${mib} MiB, dd bs=1M, data discarded: ${await seqWrite(mnt, 'sink', rounds)}`);

    readRequests = 0;
    const one = await run('python3', ['-c', randomReadScript, join(mnt, 'direct'), String(randomReads), String(size), '1']);
    const [iops, avg, p50, p99] = one.stdout.trim().split(/\s+/).map(Number) as [number, number, number, number];
    report(
      `4 KiB random reads, 1 reader, direct_io (every read reaches JS): avg ${avg.toFixed(1)} µs, ` +
        `p50 ${p50.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs, ${iops.toFixed(0)} IOPS (${readRequests} requests seen)`,
    );
    const per = Math.ceil(randomReads / 2);
    const cpuBefore = await threadCpu();
    const wall0 = process.hrtime.bigint();
    const all = await Promise.all(
      Array.from({ length: parallelProcs }, (_, i) =>
        run('python3', ['-c', randomReadScript, join(mnt, 'direct'), String(per), String(size), String(i + 2)]),
      ),
    );
    const total = all.reduce((sum, r) => sum + Number(r.stdout.trim().split(/\s+/)[0]), 0);
    const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
    const cpuAfter = await threadCpu();
    const busy = (name: string) => (((cpuAfter.get(name) ?? 0) - (cpuBefore.get(name) ?? 0)) / wall) * 100;
    report(
      `4 KiB random reads, ${parallelProcs} parallel readers, direct_io: ${total.toFixed(0)} IOPS total` +
        ` (JS thread ${busy('js').toFixed(0)}% busy, FUSE loop thread ${busy('fuse-loop').toFixed(0)}%)`,
    );
  });
  await withMount(1024, async (mnt) => {
    report(`sequential read ${mib} MiB, dd bs=1M, page cache, readAheadKiB 1024: ${await seqRead(mnt, 'big', rounds)}`);
  });
  console.log(`\nFUSE protocol ${proto}, node ${process.version}, ${os.cpus().length} CPUs`);
}

await main();
