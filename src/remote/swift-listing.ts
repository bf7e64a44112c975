// Swift's paged JSON listings: the containers of the account, the objects
// (and `subdir`s with a delimiter) of a container, a page at a time.
import type { SwiftClient } from './swift-client.js';

/** An entry of a container listing: an object, or a `subdir` when listing with a delimiter. */
export type SwiftListItem =
  | { kind: 'object'; name: string; bytes: number; hash: string; lastModified: string; contentType: string }
  | { kind: 'subdir'; name: string };

export interface SwiftContainerInfo {
  name: string;
  count: number;
  bytes: number;
  lastModified?: string;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Start after this name. */
  marker?: string;
  /** Page size (Swift caps it at 10000). */
  limit?: number;
  /** Ends the listing: the page in flight is aborted, no further one is asked for. */
  signal?: AbortSignal;
}

/** All containers of the account, paged. */
export async function* listContainers(client: SwiftClient, options: ListOptions = {}): AsyncIterable<SwiftContainerInfo> {
  let marker = options.marker;
  const limit = options.limit ?? 1000;
  for (;;) {
    const page = await client.requestAndRead(
      'GET',
      undefined,
      undefined,
      { query: { format: 'json', limit: String(limit), marker, prefix: options.prefix }, accept: [204], signal: options.signal },
      async (res) =>
        res.status === 204 ? [] : ((await res.json()) as Array<{ name: string; count: number; bytes: number; last_modified?: string }>),
    );
    for (const c of page) yield { name: c.name, count: c.count, bytes: c.bytes, lastModified: c.last_modified };
    if (page.length < limit) return;
    marker = page[page.length - 1].name;
  }
}

/**
 * Objects (and with a delimiter, `subdir`s) of a container in name order, fetched a page at
 * a time. Returns undefined pages as a thrown SwiftError with status 404 when the container is missing.
 */
export async function* listObjects(client: SwiftClient, container: string, options: ListOptions = {}): AsyncIterable<SwiftListItem> {
  let marker = options.marker;
  const limit = options.limit ?? 1000;
  for (;;) {
    const page = await client.requestAndRead(
      'GET',
      container,
      undefined,
      {
        query: { format: 'json', limit: String(limit), marker, prefix: options.prefix, delimiter: options.delimiter },
        accept: [204],
        signal: options.signal,
      },
      async (res) =>
        res.status === 204
          ? []
          : ((await res.json()) as Array<{
              name?: string;
              subdir?: string;
              bytes?: number;
              hash?: string;
              last_modified?: string;
              content_type?: string;
            }>),
    );
    for (const o of page) {
      if (o.subdir !== undefined) yield { kind: 'subdir', name: o.subdir };
      else {
        yield {
          kind: 'object',
          name: o.name ?? '',
          bytes: o.bytes ?? 0,
          hash: o.hash ?? '',
          lastModified: o.last_modified ?? '',
          contentType: o.content_type ?? '',
        };
      }
    }
    if (page.length < limit) return;
    const last = page[page.length - 1];
    marker = last.subdir ?? last.name;
  }
}
