// A fault-injecting HTTP reverse proxy for integration tests, in front of a loopback upstream (the
// test object store). It runs in the test process; the cryptfs under test (a child process) talks
// to it instead of the store:
//
//   const proxy = await FaultProxy.start({ upstream: 'http://127.0.0.1:18080', errorRate: 0.2,
//     resetRate: 0.1, latencyMs: [100, 300], seed: 42 });
//   ... endpoint = proxy.url ...
//   proxy.counters   // what it injected
//   await proxy.close();
//
// Per request, decided in this order with a seeded RNG (mulberry32, so a seed gives the same
// sequence of decisions; which request gets which decision still depends on arrival order):
//  - latency: a delay drawn uniformly from latencyMs before anything else happens;
//  - 503: the request body (if any) is read and dropped, then 503 Service Unavailable is answered
//    with an S3-style XML error body — the upstream never sees the request, so a 503 has no side
//    effect for any method (a server shedding load before doing anything);
//  - reset of the request body (requests with at least minResetBytes of body): a random part of the
//    body is forwarded, then both the client's socket and the upstream request are destroyed, so
//    the upstream gets an incomplete request and stores nothing;
//  - reset of the response body (responses with at least minResetBytes of body, any method but
//    HEAD): status, headers and a random part of the body are forwarded, then (30 ms later, so the
//    client is reading the body by then) the client's socket is destroyed mid-body.
// At most one fault per request. Auth replies carry URLs of the upstream (Swift's X-Storage-Url);
// those are rewritten to point at the proxy, and the Host header is forwarded unchanged so S3
// signatures (which cover it) stay valid.
//
// Loopback only: it listens on 127.0.0.1 and refuses an upstream that is not a loopback address.
// Bounded: maxConnections client connections, bodies streamed (never buffered), and optional caps
// on the number of each fault. close() stops it and destroys every connection it holds.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface FaultProxyOptions {
  /** Base URL of the upstream, e.g. http://127.0.0.1:18080 (must be loopback). */
  upstream: string;
  /** Fraction of requests answered 503 without forwarding (0..1). */
  errorRate?: number;
  /** Fraction of eligible requests whose upload body is cut off mid-way (0..1). */
  requestResetRate?: number;
  /** Fraction of eligible responses whose body is cut off mid-way (0..1). */
  responseResetRate?: number;
  /** Added latency per request, uniform in [min, max] ms. */
  latencyMs?: [number, number];
  /** Smallest body (bytes) eligible for a mid-body reset. */
  minResetBytes?: number;
  /** RNG seed (default 1). */
  seed?: number;
  /** Caps per fault kind (default: unlimited). */
  maxErrors?: number;
  maxRequestResets?: number;
  maxResponseResets?: number;
  /** Most client connections at once (default 256). */
  maxConnections?: number;
}

export interface FaultCounters {
  /** Requests received. */
  requests: number;
  /** Requests forwarded to the upstream (including those whose body was then cut). */
  forwarded: number;
  /** 503s answered. */
  errors: number;
  /** Upload bodies cut off mid-way. */
  requestResets: number;
  /** Response bodies cut off mid-way. */
  responseResets: number;
  /** Requests delayed (latency > 0). */
  delayed: number;
  /** Upstream failures (connection refused, ...) answered 502: not injected, a problem of the setup. */
  upstreamFailures: number;
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How long a cut-off response stays open after its last byte, before the connection breaks. */
const RESET_PAUSE_MS = 30;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

// Hop-by-hop headers are the connection's, not the message's (RFC 9110 7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

type Plan = { kind: 'error' } | { kind: 'request-reset'; fraction: number } | { kind: 'response-reset'; fraction: number } | { kind: 'pass' };

export class FaultProxy {
  readonly counters: FaultCounters = {
    requests: 0,
    forwarded: 0,
    errors: 0,
    requestResets: 0,
    responseResets: 0,
    delayed: 0,
    upstreamFailures: 0,
  };
  private readonly random: () => number;
  private readonly sockets = new Set<Socket>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly upstreamUrl: URL;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly options: FaultProxyOptions,
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.upstreamUrl = new URL(options.upstream);
  }

  /** Starts the proxy on 127.0.0.1 and a free port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const upstream = new URL(options.upstream);
    if (upstream.protocol !== 'http:' || !LOOPBACK_HOSTS.has(upstream.hostname)) {
      throw new Error(`fault proxy: upstream must be plain http on a loopback address, not ${options.upstream}`);
    }
    const server = createServer();
    const proxy = new FaultProxy(server, options);
    server.maxConnections = options.maxConnections ?? 256;
    server.on('connection', (socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req, res) => void proxy.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The proxy's base URL (http://127.0.0.1:<port>). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Faults injected so far (503s and resets). */
  get faults(): number {
    return this.counters.errors + this.counters.requestResets + this.counters.responseResets;
  }

  /** Stops listening and destroys every client and upstream connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await done;
  }

  private plan(req: IncomingMessage): Plan {
    const o = this.options;
    const c = this.counters;
    const roll = this.random();
    // Always draw the fraction so the sequence of draws does not depend on the request's kind.
    const fraction = 0.05 + 0.9 * this.random();
    const errorRate = o.errorRate ?? 0;
    if (roll < errorRate) return c.errors < (o.maxErrors ?? Infinity) ? { kind: 'error' } : { kind: 'pass' };
    const rest = (roll - errorRate) / (1 - errorRate || 1);
    const bodyBytes = Number(req.headers['content-length'] ?? 0);
    const minBytes = o.minResetBytes ?? 1024;
    if (bodyBytes >= minBytes && rest < (o.requestResetRate ?? 0) && c.requestResets < (o.maxRequestResets ?? Infinity)) {
      return { kind: 'request-reset', fraction };
    }
    // Whether the response is long enough is only known once its headers arrive.
    if (req.method !== 'HEAD' && this.random() < (o.responseResetRate ?? 0)) return { kind: 'response-reset', fraction };
    return { kind: 'pass' };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const plan = this.plan(req);
    const [min, max] = this.options.latencyMs ?? [0, 0];
    const delay = min + (max - min) * this.random();
    if (delay > 0) {
      this.counters.delayed++;
      await new Promise((r) => setTimeout(r, delay));
    }
    if (this.closed) {
      req.socket.destroy();
      return;
    }
    if (plan.kind === 'error') {
      this.counters.errors++;
      // Read the upload first, as a server refusing after the body would: the client gets the
      // answer rather than a broken pipe.
      req.resume();
      req.once('end', () => {
        const body =
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>' +
          '<Message>fault proxy: injected 503</Message><RequestId>fault-proxy</RequestId></Error>';
        res.writeHead(503, {
          'Content-Type': 'application/xml',
          'Content-Length': req.method === 'HEAD' ? '0' : String(Buffer.byteLength(body)),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    this.forward(req, res, plan);
  }

  private forward(req: IncomingMessage, res: ServerResponse, plan: Plan): void {
    this.counters.forwarded++;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    const upstream = httpRequest({
      host: this.upstreamUrl.hostname.replace(/^\[|\]$/g, ''),
      port: this.upstreamUrl.port || 80,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
    });
    const abandon = () => {
      upstream.destroy();
      req.socket.destroy();
    };
    // The client went away before the answer was complete: stop the upstream request too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });

    upstream.on('error', (err) => {
      if (res.headersSent || req.socket.destroyed) return;
      this.counters.upstreamFailures++;
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`fault proxy: upstream failed: ${err.message}\n`);
    });

    upstream.on('response', (up) => this.relayResponse(req, res, up, plan, abandon));

    if (plan.kind === 'request-reset') {
      const total = Number(req.headers['content-length']);
      let left = Math.floor(total * plan.fraction);
      this.counters.requestResets++;
      req.on('data', (chunk: Buffer) => {
        if (left <= 0) return;
        const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (left <= 0) {
          upstream.write(piece, () => abandon());
          return;
        }
        if (!upstream.write(piece)) {
          req.pause();
          upstream.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        if (left > 0) abandon();
      });
      return;
    }
    req.pipe(upstream);
  }

  private relayResponse(req: IncomingMessage, res: ServerResponse, up: IncomingMessage, plan: Plan, abandon: () => void): void {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = k === 'x-storage-url' || k === 'location' ? this.rewriteUrl(v) : v;
    }
    const length = Number(up.headers['content-length'] ?? NaN);
    const cut =
      plan.kind === 'response-reset' && req.method !== 'HEAD' && Number.isFinite(length) && length >= (this.options.minResetBytes ?? 1024)
        ? Math.floor(length * plan.fraction)
        : undefined;
    res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
    if (cut === undefined) {
      up.pipe(res);
      return;
    }
    this.counters.responseResets++;
    let left = cut;
    up.on('data', (chunk: Buffer) => {
      if (left <= 0) return;
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (left > 0) {
        if (!res.write(piece)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
        return;
      }
      // Let the last piece reach the client and the client start on the body (a connection that
      // dies mid-transfer, not one that never answered), then break it.
      res.write(piece, () => setTimeout(abandon, RESET_PAUSE_MS));
    });
    // Only reached when the body ended before the cut (then nothing was held back).
    up.on('end', () => {
      if (left > 0) abandon();
    });
  }

  /** An upstream URL in a header, pointed at the proxy instead. */
  private rewriteUrl(value: string | string[]): string | string[] {
    if (Array.isArray(value)) return value.map((v) => this.rewriteUrl(v) as string);
    try {
      const u = new URL(value);
      if (u.host !== this.upstreamUrl.host) return value;
      u.host = `127.0.0.1:${this.port}`;
      return u.toString().replace(/\/$/, value.endsWith('/') ? '/' : '');
    } catch {
      return value; // relative Location
    }
  }
}
