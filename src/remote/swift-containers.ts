// Where swift objects live: paths as container and object name, the containers known to exist
// (made on first write), and the buffered PUT that remakes a container removed behind our back.
import { log } from '../log.js';
import { SwiftError, type SwiftClient } from './swift-client.js';
import type { SwiftRemoteSettings } from './swift-options.js';

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof SwiftError && err.status === status;
}

export interface Location {
  container: string;
  /** Object name inside the container; '' for the container itself. */
  object: string;
}

export function locate(path: string): Location {
  const i = path.indexOf('/');
  return i < 0 ? { container: path, object: '' } : { container: path.slice(0, i), object: path.slice(i + 1) };
}

/** The containers one remote knows to exist, to skip a HEAD before each write. */
export class SwiftContainers {
  private readonly known = new Set<string>();
  /** Checks (and creations) under way: the transfers starting together into a new container share one. */
  private readonly ensuring = new Map<string, Promise<void>>();

  constructor(
    private readonly client: SwiftClient,
    private readonly settings: SwiftRemoteSettings,
    private readonly displayName: string,
  ) {}

  /** Notes a container seen to exist (in a listing or a HEAD). */
  add(container: string): void {
    this.known.add(container);
  }

  /** Forgets a container removed (or maybe removed) since. */
  forget(container: string): void {
    this.known.delete(container);
  }

  /** Makes the container unless it is known to exist (with storage_policy when set). */
  async ensure(container: string): Promise<void> {
    if (this.known.has(container)) return;
    let pending = this.ensuring.get(container);
    if (!pending) {
      pending = this.check(container).finally(() => this.ensuring.delete(container));
      this.ensuring.set(container, pending);
    }
    return pending;
  }

  private async check(container: string): Promise<void> {
    if (!(await this.client.headContainer(container))) {
      const headers: Record<string, string> = {};
      if (this.settings.storagePolicy) headers['X-Storage-Policy'] = this.settings.storagePolicy;
      await this.client.putContainer(container, headers);
      log.info(`${this.displayName} container ${JSON.stringify(container)} created`);
    }
    this.known.add(container);
  }

  /** PUTs a buffered body (`md5`: its MD5 if known); a container removed behind our back (404) is made again once. */
  async putBuffered(
    container: string,
    name: string,
    body: Uint8Array,
    headers: Record<string, string>,
    md5?: string,
    signal?: AbortSignal,
  ): Promise<void> {
    try {
      await this.client.putObject(container, name, body, { headers, md5, signal });
    } catch (err) {
      // E.g. an empty segments container removed by another client deleting its last large object.
      if (!isStatus(err, 404)) throw err;
      this.forget(container);
      await this.ensure(container);
      await this.client.putObject(container, name, body, { headers, md5, signal });
    }
  }
}
