// The worker side of hash-worker.ts: hashes the chunks it is sent, job by job, off the main thread.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

type Message =
  | { op: 'start'; id: number; algorithms: string[] }
  | { op: 'data'; id: number; chunk: Uint8Array }
  | { op: 'end'; id: number }
  | { op: 'abort'; id: number };

const jobs = new Map<number, Hash[]>();
const port = parentPort!;

port.on('message', (m: Message) => {
  switch (m.op) {
    case 'start':
      jobs.set(m.id, m.algorithms.map((a) => createHash(a)));
      break;
    case 'data': {
      for (const h of jobs.get(m.id) ?? []) h.update(m.chunk);
      // The buffer goes back to be filled again (no fresh allocation per chunk).
      port.postMessage({ op: 'ack', id: m.id, bytes: m.chunk.byteLength, buffer: m.chunk.buffer }, [m.chunk.buffer as ArrayBuffer]);
      break;
    }
    case 'end': {
      const hashes = jobs.get(m.id) ?? [];
      jobs.delete(m.id);
      port.postMessage({ op: 'digest', id: m.id, hex: hashes.map((h) => h.digest('hex')) });
      break;
    }
    case 'abort':
      jobs.delete(m.id);
      break;
  }
});
