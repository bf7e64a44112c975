// fetch-setup.ts: with it imported first, a process's first fetch does not compile llhttp's
// WebAssembly with the optimising tier, whose ~30 MiB of native memory would add to peak RSS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runModuleScript } from '../helpers/module-script.js';

/** Peak RSS (VmHWM, KiB) of a process that makes one fetch, with or without fetch-setup first. */
async function peakAfterFetch(url: string, withSetup: boolean): Promise<number> {
  const setup = new URL('../../src/fetch-setup.js', import.meta.url).href;
  const { code, stdout } = await runModuleScript(
    `${withSetup ? `await import(${JSON.stringify(setup)});` : ''}
    const { readFileSync } = await import('node:fs');
    await (await fetch(${JSON.stringify(url)})).text();
    // The background compilation runs on after the answer: wait for the process to settle.
    await new Promise((r) => setTimeout(r, 600));
    console.log(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);`,
  );
  assert.equal(code, 0);
  return Number(stdout.trim());
}

test('fetch-setup: the first fetch of a process costs ~30 MiB less peak memory with it', { timeout: 60_000 }, async () => {
  const server = createServer((_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    const without = await peakAfterFetch(url, false);
    const withSetup = await peakAfterFetch(url, true);
    assert.ok(without - withSetup > 12 * 1024, `peak ${withSetup} KiB with, ${without} KiB without`);
  } finally {
    server.close();
  }
});
