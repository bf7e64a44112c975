#!/usr/bin/env node
// A far object store on loopback: a TCP proxy in front of the test object store that gives every
// connection a bandwidth cap per direction and added latency, so benchmarks and tests see what a
// user of a real store tens of milliseconds away sees (one connection carries a few tens of MB/s).
// No dependencies; loopback only (it listens on 127.0.0.1 and forwards only to a loopback address).
//
//   node scripts/shaping-proxy.mjs start [options]   starts it in the background, prints its port
//   node scripts/shaping-proxy.mjs stop --pid-file F stops the one started with that pid file
//   node scripts/shaping-proxy.mjs run [options]     runs it in the foreground (Ctrl-C stops)
// Options:
//   --port N          port to listen on (default 0: a free one; the chosen port is printed)
//   --upstream H:P    where to forward (default 127.0.0.1:18080, the object store)
//   --rate MBps       cap per connection and direction in MB/s (10^6 bytes; default 40; 0 = none)
//   --rtt MS          added round-trip time in ms (default 20): every chunk waits RTT/2 each way
//   --pid-file F      (start/stop) where the background proxy's pid is kept, its errors in F.log
//   --count-file F    keep {"up": bytes to the store, "down": bytes from it} for all connections in F,
//                     rewritten every 100 ms while it changes (benchmarks read it before and after)
//                     (default $TMPDIR/cryptfs-shaping-proxy.pid)
//
// Swift: the auth reply's X-Storage-Url names the real port. Point the remotes at the proxy with
// `storage_url = http://127.0.0.1:<port>/v1/AUTH_test` (both rclone and cryptfs use it in place of
// the URL of the auth reply). S3: `endpoint = http://127.0.0.1:<port>`.
//
// Model, per direction of a connection: a chunk read at time t is delivered no earlier than
// t + RTT/2, and the bytes of one direction leave one after another at `rate`, in order. What is
// queued but not yet delivered is bounded (the source is paused above it), so a fast sender is
// slowed to the cap as on a real link, and memory stays small.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
/** Chunks are paced in pieces of at most this many bytes, so a large read does not arrive in one burst. */
const PIECE = 64 * 1024;

function parseArgs(argv) {
  const o = { command: argv[0], port: 0, upstream: '127.0.0.1:18080', rate: 40, rtt: 20, countFile: undefined, pidFile: join(tmpdir(), 'cryptfs-shaping-proxy.pid') };
  for (let i = 1; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--port': o.port = Number(value()); break;
      case '--upstream': o.upstream = value(); break;
      case '--rate': o.rate = Number(value()); break;
      case '--rtt': o.rtt = Number(value()); break;
      case '--pid-file': o.pidFile = value(); break;
      case '--count-file': o.countFile = value(); break;
      default: fail(`unknown option ${argv[i]}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) fail('--port: not a port number');
  if (!(o.rate >= 0)) fail('--rate: not a number >= 0');
  if (!(o.rtt >= 0)) fail('--rtt: not a number >= 0');
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.upstream);
  if (!m || !LOOPBACK.has(m[1])) fail(`--upstream must be a loopback host:port, not ${o.upstream}`);
  o.upstreamHost = m[1];
  o.upstreamPort = Number(m[2]);
  return o;
}

function fail(message) {
  console.error(`shaping-proxy: ${message}`);
  process.exit(2);
}

/**
 * One direction of one connection: bytes from `from` reach `to` RTT/2 later, at most `rate`
 * bytes per second, in order. Above `highWater` bytes queued, `from` is paused.
 */
function shapeDirection(from, to, { rateBps, delayMs }) {
  const queue = []; // { due, data }
  let queued = 0;
  let linkFree = 0; // when the link has sent everything handed to it so far (ms, performance clock)
  let timer;
  let ended = false;
  // About 100 ms of data at the cap, at least 256 KiB: enough to keep the link busy.
  const highWater = Math.max(256 * 1024, rateBps > 0 ? rateBps / 10 : 4 * 1024 * 1024);
  const now = () => performance.now();

  const flush = () => {
    timer = undefined;
    const t = now();
    while (queue.length > 0 && queue[0].due <= t + 0.5) {
      const { data } = queue.shift();
      queued -= data.length;
      if (!to.destroyed) to.write(data);
    }
    if (queued < highWater && from.isPaused()) from.resume();
    if (queue.length > 0) schedule();
    else if (ended && !to.destroyed) to.end();
  };
  const schedule = () => {
    if (timer !== undefined || queue.length === 0) return;
    timer = setTimeout(flush, Math.max(0, queue[0].due - now()));
  };

  from.on('data', (chunk) => {
    const arrived = now();
    for (let at = 0; at < chunk.length; at += PIECE) {
      const data = chunk.subarray(at, Math.min(chunk.length, at + PIECE));
      // The piece leaves when the link is free (or after the latency), and takes length/rate.
      const start = Math.max(arrived + delayMs, linkFree);
      const done = rateBps > 0 ? start + (data.length / rateBps) * 1000 : start;
      linkFree = done;
      queue.push({ due: done, data });
      queued += data.length;
    }
    if (queued >= highWater) from.pause();
    schedule();
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && !to.destroyed) to.end();
  });
  return () => clearTimeout(timer);
}

function serve(o) {
  const shaping = { rateBps: o.rate * 1e6, delayMs: o.rtt / 2 };
  const counts = { up: 0, down: 0 };
  let written = '';
  const writeCounts = () => {
    const text = `${JSON.stringify(counts)}\n`;
    if (text !== written) fs.writeFileSync(o.countFile, (written = text));
  };
  if (o.countFile) {
    writeCounts();
    setInterval(writeCounts, 100).unref();
  }
  // Half-open allowed on both sides: an end is passed on only after the bytes queued before it.
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ host: o.upstreamHost, port: o.upstreamPort, noDelay: true, allowHalfOpen: true });
    const stops = [shapeDirection(client, upstream, shaping), shapeDirection(upstream, client, shaping)];
    if (o.countFile) {
      client.on('data', (d) => (counts.up += d.length));
      upstream.on('data', (d) => (counts.down += d.length));
    }
    const destroy = () => {
      for (const stop of stops) stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroy);
    upstream.on('error', destroy);
    // A socket closes normally once both of its directions ended, and then both directions of the
    // connection are done; one destroyed without that takes the other with it.
    client.on('close', (hadError) => hadError && destroy());
    upstream.on('close', (hadError) => hadError && destroy());
  });
  server.on('error', (err) => fail(err.message));
  server.listen(o.port, '127.0.0.1', () => {
    console.log(server.address().port);
  });
  const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 200).unref();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function start(o) {
  const args = [fileURLToPath(import.meta.url), 'run', '--port', String(o.port), '--upstream', o.upstream, '--rate', String(o.rate), '--rtt', String(o.rtt), ...(o.countFile ? ['--count-file', o.countFile] : [])];
  // The background proxy keeps none of the caller's descriptors (a caller waiting for its output
  // to close would wait for the proxy); its errors go to <pid-file>.log.
  const log = fs.openSync(`${o.pidFile}.log`, 'a');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited with code ${code}`)));
  }).catch((err) => fail(err.message));
  child.stdout.destroy();
  child.unref();
  fs.writeFileSync(o.pidFile, `${child.pid}\n`);
  console.log(port);
}

function stop(o) {
  let pid;
  try {
    pid = Number(fs.readFileSync(o.pidFile, 'utf8').trim());
  } catch {
    return; // not running
  }
  try {
    // Only our own proxy: the pid must still run this script.
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('shaping-proxy.mjs')) process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  fs.rmSync(o.pidFile, { force: true });
  fs.rmSync(`${o.pidFile}.log`, { force: true });
}

const o = parseArgs(process.argv.slice(2));
if (o.command === 'run') serve(o);
else if (o.command === 'start') await start(o);
else if (o.command === 'stop') stop(o);
else fail('usage: shaping-proxy.mjs start|stop|run [--port N] [--upstream H:P] [--rate MBps] [--rtt MS] [--pid-file F]');
