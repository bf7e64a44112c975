// The worker side of file-hasher.ts: reads and hashes one whole local file per message.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const port = parentPort!;
// One buffer per thread, reused for every file.
const buffer = Buffer.allocUnsafe(1024 * 1024);

port.on('message', (m: { id: number; file: string; algorithm: string }) => {
  let fd: number | undefined;
  try {
    fd = openSync(m.file, 'r');
    const h = createHash(m.algorithm);
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) h.update(buffer.subarray(0, n));
    port.postMessage({ id: m.id, hex: h.digest('hex') });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ id: m.id, error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
