// Turns a remote spec (`name:path`, `/local/path`, `:backend,opt=v:path`) into a
// Remote, using the config for named remotes. Base remotes are created once per
// name and shared; a path below the base is a SubRemote over it.
import { createHash } from 'node:crypto';
import { ConfigError, DirNotFoundError, ObjectNotFoundError } from '../errors.js';
import { parseRemoteSpec } from '../config/remote-spec.js';
import { getBackend, OptionValues, type OptionSpec } from './registry.js';
import type { Remote } from './remote.js';
import { baseName, cleanPath, parentPath } from './remote.js';
import { SubRemote } from './sub-remote.js';
import { redactSpec } from './redact.js';
import { resolveSecretCommands } from './secret-command.js';
import './backends.js';

/** What the factory needs from the config layer. */
export interface RemoteConfigSource {
  /** The merged options (file + env) of a named remote, or undefined if there is no such remote. */
  remoteOptions(name: string): Record<string, string> | undefined;
  /** Backend-wide defaults from the environment (RCLONE_<TYPE>_<OPTION>), lowest precedence. */
  backendDefaults?(type: string, specs?: readonly OptionSpec[]): Record<string, string>;
}

export interface OpenedTarget {
  /** Remote rooted at the directory the spec names (or at the parent, when it names a file). */
  remote: Remote;
  /** Set when the spec names an existing file: its name inside `remote`. */
  file?: string;
}

/**
 * Option values set for every remote of one backend type, above the config file
 * and below options inline in the spec: the CLI's `--<type>-<option>` flags.
 */
export type OptionOverrides = (type: string, specs: readonly OptionSpec[]) => Record<string, string>;

export class RemoteFactory {
  private readonly bases = new Map<string, Promise<Remote>>();

  constructor(
    private readonly config: () => Promise<RemoteConfigSource>,
    private readonly overrides: OptionOverrides = () => ({}),
  ) {}

  private overridesFor(type: string): Record<string, string> {
    return this.overrides(type, getBackend(type).options);
  }

  /** Opens a spec as a remote rooted at its path. */
  async open(spec: string): Promise<Remote> {
    let parsed;
    try {
      parsed = parseRemoteSpec(spec);
      if (parsed.backendType !== undefined) getBackend(parsed.backendType);
    } catch (err) {
      // rclone 1.60.1: `Failed to create file system for ":nope:": didn't find backend called "nope"`.
      throw err instanceof ConfigError ? createFailure(spec, err) : err;
    }
    if (parsed.remoteName === undefined && parsed.backendType === undefined) {
      // A plain local path.
      return this.create('local', '', parsed.path, this.overridesFor('local'), spec);
    }
    if (parsed.backendType !== undefined) {
      // Connection string `:type,opt=value:path`: not cached, options inline.
      const type = parsed.backendType;
      return this.create(type, '', parsed.path, { ...this.overridesFor(type), ...(parsed.params ?? {}) }, spec);
    }
    const name = parsed.remoteName!;
    const cfg = await this.config();
    const options = cfg.remoteOptions(name);
    if (!options) throw new ConfigError(`didn't find section in config file`, { cause: name });
    const type = options.type;
    if (!type) throw new ConfigError(`${name}: type not set in config file`);
    const backend = getBackend(type);
    const withFlags = { ...options, ...this.overridesFor(type) };
    if (parsed.params) {
      // `name,opt=v:path` overrides options for this use only: not shared.
      return this.create(type, name, parsed.path, { ...withFlags, ...parsed.params }, spec);
    }
    if (backend.handlesRoot) return this.create(type, name, parsed.path, withFlags, spec);
    let base = this.bases.get(name);
    if (!base) {
      base = this.create(type, name, '', withFlags, `${name}:`);
      this.bases.set(name, base);
      base.catch(() => this.bases.delete(name));
    }
    const root = cleanPath(parsed.path);
    const b = await base;
    return root === '' ? b : withSubDefinition(new SubRemote(b, root, `${name}:${root}`));
  }

  private async create(
    type: string,
    name: string,
    root: string,
    raw: Record<string, string>,
    spec: string,
  ): Promise<Remote> {
    const backend = getBackend(type);
    const cfg = type === 'local' && name === '' ? undefined : await this.config();
    const merged = { ...(cfg?.backendDefaults?.(type, backend.options) ?? {}), ...raw };
    try {
      const options = new OptionValues(backend.options, merged, name, await resolveSecretCommands(backend.options, merged, name));
      const wrapped: string[] = [];
      const remote = await backend.create({
        name,
        root: backend.handlesRoot ? root : '',
        options,
        openRemote: async (s) => {
          const inner = await this.open(s);
          wrapped.push(inner.definitionId ?? inner.displayName);
          return inner;
        },
      });
      remote.definitionId = definitionDigest(type, backend.handlesRoot ? cleanPath(root) : '', backend.options, merged, wrapped);
      const cleaned = cleanPath(root);
      if (backend.handlesRoot || cleaned === '') return remote;
      return withSubDefinition(new SubRemote(remote, cleaned, redactSpec(spec)));
    } catch (err) {
      throw err instanceof ConfigError ? createFailure(spec, err) : err;
    }
  }

  /**
   * Opens a spec that may name a file, as rclone's NewFs does: if the path is an
   * existing file, the remote is rooted at its parent and `file` names it.
   */
  async openTarget(spec: string): Promise<OpenedTarget> {
    const remote = await this.open(spec);
    let isFile = false;
    try {
      isFile = !(await remote.stat('')).isDir;
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError || err instanceof DirNotFoundError)) throw err;
    }
    if (!isFile) return { remote };
    const { parentSpec, leaf } = splitSpec(spec);
    return { remote: await this.open(parentSpec), file: leaf };
  }

  async closeAll(): Promise<void> {
    for (const p of this.bases.values()) {
      const r = await p.catch(() => undefined);
      await r?.close?.().catch(() => undefined);
    }
    this.bases.clear();
  }
}

/** rclone's "Failed to create file system for SPEC: …" (once; the spec redacted, it may carry secrets inline). */
function createFailure(spec: string, err: ConfigError): ConfigError {
  if (err.message.startsWith('Failed to create file system')) return err;
  return new ConfigError(`Failed to create file system for ${JSON.stringify(redactSpec(spec))}: ${err.message}`, { cause: err });
}

/** `name:a/b/c` → { parentSpec: 'name:a/b', leaf: 'c' }; works for local paths too. */
export function splitSpec(spec: string): { parentSpec: string; leaf: string } {
  const trimmed = spec.replace(/\/+$/, '');
  const parsed = parseRemoteSpec(trimmed);
  const path = parsed.path.replace(/\/+$/, '');
  const leaf = baseName(path);
  const prefix = trimmed.slice(0, trimmed.length - path.length);
  const parent = parentPath(path);
  const parentSpec = prefix + (parent === '' && path.startsWith('/') ? '/' : parent);
  return { parentSpec: parentSpec === '' ? '.' : parentSpec, leaf };
}

/**
 * A digest of a remote's definition: type, root, the options that are not
 * secrets (secrets are left out so that no hash of a password is ever written
 * anywhere), and the definitions of the remotes it wraps.
 */
function definitionDigest(
  type: string,
  root: string,
  specs: readonly OptionSpec[],
  values: Record<string, string>,
  wrapped: string[],
): string {
  const secret = new Set(specs.filter((o) => o.secret).map((o) => o.name));
  const options = Object.keys(values)
    .filter((k) => !secret.has(k) && k !== 'type' && values[k] !== '')
    .sort()
    .map((k) => [k, values[k]]);
  return createHash('sha256').update(JSON.stringify({ type, root, options, wrapped })).digest('hex');
}

/** A SubRemote's definition: its inner remote's, rooted at its base. */
function withSubDefinition(sub: SubRemote): SubRemote {
  const inner = sub.inner.definitionId ?? sub.inner.displayName;
  sub.definitionId = createHash('sha256').update(JSON.stringify({ inner, base: sub.base })).digest('hex');
  return sub;
}
