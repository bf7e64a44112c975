// lsjson: rclone's JSON listing (one object per line inside [ ]), with --hash giving each file's
// Hashes. On a crypt remote those are the plaintext's md5/sha1/sha256 from sealed records; a file
// without a record gets no Hashes entries (as rclone leaves out a hash a remote has not got), and
// such files are counted in a NOTICE at the end.
import { readFileSync } from 'node:fs';
import { flagBool, flagNumber } from '../args.js';
import { registerCommand } from '../command.js';
import { filterFromFlags } from '../filter.js';
import { entryHash } from '../entry-hash.js';
import { goJson } from '../format.js';
import { writeOut } from '../util.js';
import { walk } from '../walk.js';
import { mapLimit } from '../../concurrency.js';
import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import { logPath } from '../../log-names.js';
import type { HashType, RemoteEntry } from '../../remote/remote.js';
import { baseName, dateToNs } from '../../remote/remote.js';
import { formatMetadataTime, type Metadata } from '../../remote/metadata.js';

/** Go's built-in types (mime package), the ones every lookup starts from. */
const BUILTIN_TYPES: Record<string, string> = {
  '.avif': 'image/avif', '.css': 'text/css; charset=utf-8', '.gif': 'image/gif', '.htm': 'text/html; charset=utf-8',
  '.html': 'text/html; charset=utf-8', '.jpeg': 'image/jpeg', '.jpg': 'image/jpeg', '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.mjs': 'text/javascript; charset=utf-8', '.pdf': 'application/pdf', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.wasm': 'application/wasm', '.webp': 'image/webp', '.xml': 'text/xml; charset=utf-8',
};

/** Where Go (mime/type_unix.go) looks on Linux: the freedesktop database first, the mime.types files only without one. */
const MIME_GLOBS = ['/usr/local/share/mime/globs2', '/usr/share/mime/globs2'];
const MIME_TYPE_FILES = ['/etc/mime.types', '/etc/apache2/mime.types', '/etc/apache/mime.types', '/etc/httpd/conf/mime.types'];

let mimeTypes: Map<string, string> | undefined;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Go's table: built-in types, then the system's (globs2: the first, highest-weight, entry of an extension wins, built-ins kept; mime.types: each entry overrides). */
function loadMimeTypes(): Map<string, string> {
  const types = new Map(Object.entries(BUILTIN_TYPES));
  // Go adds the charset to text types read from the system's files.
  const set = (ext: string, type: string) => types.set(ext.toLowerCase(), type.startsWith('text/') && !type.includes('charset') ? `${type}; charset=utf-8` : type);
  for (const file of MIME_GLOBS) {
    const text = readText(file);
    if (text === undefined) continue;
    for (const line of text.split('\n')) {
      // weight:type:*.ext[:flags]
      const [weight, type, glob] = line.split(':');
      if (!weight || weight.startsWith('#') || type === undefined || glob === undefined || !glob.startsWith('*.') || /[?*[]/.test(glob.slice(1))) continue;
      if (!types.has(glob.slice(1).toLowerCase())) set(glob.slice(1), type);
    }
    return types;
  }
  for (const file of MIME_TYPE_FILES) {
    for (const line of (readText(file) ?? '').split('\n')) {
      const [type, ...exts] = line.trim().split(/\s+/);
      if (!type || type.startsWith('#')) continue;
      for (const e of exts) {
        if (e.startsWith('#')) break;
        set(`.${e}`, type);
      }
    }
  }
  return types;
}

/** rclone's MimeTypeFromName: by extension, as Go's mime.TypeByExtension finds it; else application/octet-stream. */
function mimeTypeOf(path: string): string {
  mimeTypes ??= loadMimeTypes();
  const base = baseName(path);
  const dot = base.lastIndexOf('.');
  return (dot >= 0 && mimeTypes.get(base.slice(dot).toLowerCase())) || 'application/octet-stream';
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in the local zone. */
function jsonTime(d: Date, ns?: bigint): string {
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 19);
  const frac = ns !== undefined ? Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n) : d.getUTCMilliseconds() * 1e6;
  const zone =
    offsetMin === 0
      ? 'Z'
      : `${offsetMin < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offsetMin) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMin) % 60).padStart(2, '0')}`;
  return `${local}.${String(frac).padStart(9, '0')}${zone}`;
}

/**
 * A file's metadata as rclone prints it: with its modification time as the "mtime" key (rclone's
 * backends report it among the metadata; ours keep it as the entry's own), keys in byte order (Go's
 * encoding of a map).
 */
function printedMetadata(e: RemoteEntry): Metadata {
  const md: Metadata = { ...e.metadata, mtime: formatMetadataTime(e.mtimeNs ?? dateToNs(e.mtime)) };
  return Object.fromEntries(Object.keys(md).sort().map((k) => [k, md[k]]));
}

registerCommand({
  name: 'lsjson',
  use: 'remote:path',
  short: 'List directories and objects in the path in JSON format.',
  long:
    'List directories and objects in the path in JSON format.\n\n' +
    'With --hash each file carries its hashes; on a crypt remote these are the\nplaintext hashes its sealed record states (files without one have none).',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'recursive', short: 'R', type: 'bool', help: 'Recurse into the listing' },
    { name: 'hash', type: 'bool', help: 'Include hashes in the output (may take longer)' },
    { name: 'hash-type', type: 'string', help: 'Show only this hash type (md5, sha1, sha256)' },
    { name: 'no-modtime', type: 'bool', help: "Don't read the modification time (can speed things up)" },
    { name: 'no-mimetype', type: 'bool', help: "Don't read the mime type (can speed things up)" },
    { name: 'files-only', type: 'bool', help: 'Show only files in the listing' },
    { name: 'dirs-only', type: 'bool', help: 'Show only directories in the listing' },
    { name: 'metadata', short: 'M', type: 'bool', help: 'Add metadata to the listing' },
  ],
  async run(ctx, [spec]) {
    const { remote, file } = await ctx.factory.openTarget(spec);
    const given = flagNumber(ctx.flags, 'max-depth');
    const maxDepth = given >= 0 ? given : flagBool(ctx.flags, 'recursive') ? -1 : 1;
    const showHash = flagBool(ctx.flags, 'hash');
    const only = ((ctx.flags['hash-type'] as string | undefined) ?? '').toLowerCase();
    const hashTypes: HashType[] = only ? (remote.features.hashes.includes(only as HashType) ? [only as HashType] : []) : remote.features.hashes;
    const [filesOnly, dirsOnly] = [flagBool(ctx.flags, 'files-only'), flagBool(ctx.flags, 'dirs-only')];
    const [noModTime, noMimeType, withMetadata] = [flagBool(ctx.flags, 'no-modtime'), flagBool(ctx.flags, 'no-mimetype'), flagBool(ctx.flags, 'metadata')];
    let withoutHash = 0;

    const item = async (e: RemoteEntry): Promise<string> => {
      const out: Record<string, unknown> = { Path: e.path, Name: baseName(e.path), Size: e.size };
      if (!noMimeType) out.MimeType = e.isDir ? 'inode/directory' : mimeTypeOf(e.path);
      out.ModTime = noModTime ? '0001-01-01T00:00:00Z' : jsonTime(e.mtime, e.mtimeNs);
      out.IsDir = e.isDir;
      if (!e.isDir && showHash) {
        const hashes: Record<string, string> = {};
        for (const t of hashTypes) {
          try {
            const h = await entryHash(remote, e, t);
            if (h) hashes[t] = h;
          } catch (err) {
            log.error(`${logPath(e.path)}: Failed to read hash: ${errorMessage(err)}`);
          }
        }
        if (Object.keys(hashes).length > 0) out.Hashes = hashes;
        else if (hashTypes.length > 0) withoutHash++;
      }
      if (!e.isDir && withMetadata && e.metadata && Object.keys(e.metadata).length > 0) out.Metadata = printedMetadata(e);
      return goJson(out);
    };

    await writeOut(ctx.stdout, '[\n');
    let first = true;
    const emit = async (entries: RemoteEntry[]) => {
      const lines = await mapLimit(entries, Math.max(1, flagNumber(ctx.flags, 'checkers')), item);
      for (const line of lines) {
        await writeOut(ctx.stdout, first ? line : `,\n${line}`);
        first = false;
      }
    };
    if (file !== undefined) {
      await emit([{ ...(await remote.stat(file)), path: file }]);
    } else {
      let batch: RemoteEntry[] = [];
      // --no-modtime without --metadata: over S3 or Swift no HEAD per object (as rclone's).
      const modTimes = !noModTime || withMetadata;
      for await (const e of walk(remote, '', { maxDepth, concurrency: flagNumber(ctx.flags, 'checkers'), signal: ctx.signal, filter: filterFromFlags(ctx.flags), modTimes })) {
        if ((filesOnly && e.isDir) || (dirsOnly && !e.isDir)) continue;
        batch.push(e);
        if (batch.length >= 256) {
          await emit(batch);
          batch = [];
        }
      }
      await emit(batch);
    }
    await writeOut(ctx.stdout, first ? ']\n' : '\n]\n');
    if (withoutHash > 0) {
      log.notice(`${withoutHash} ${withoutHash === 1 ? 'file has' : 'files have'} no hash (on a crypt remote: no sealed record)`);
    }
  },
});
