// The logger never throws: a mount daemon logs from inside FUSE operations,
// and a log file it cannot write must not end the process.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLog, log, logFatalLine, setLogRedactor } from '../../../src/log.js';
import { redactText, rememberSecret } from '../../../src/remote/redact.js';

describe('log', () => {
  after(() => configureLog({ file: undefined, level: 'notice' }));

  it('a log file that cannot be written (directory gone) does not throw; the file is used again once it can be', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cryptfs-log-'));
    const file = join(dir, 'sub', 'mount.log');
    configureLog({ file, level: 'info' });
    assert.doesNotThrow(() => log.error('first line, directory missing'));
    assert.doesNotThrow(() => log.info('second line, directory missing'));
    assert.doesNotThrow(() => logFatalLine('Failed to mount: something'));
    await mkdir(join(dir, 'sub'));
    log.error('third line');
    assert.match(await readFile(file, 'utf8'), /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d ERROR : third line\n$/);
    await rm(dir, { recursive: true, force: true });
    assert.doesNotThrow(() => log.notice('after removal'));
  });

  it('secrets the process has seen never reach a log line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cryptfs-log-'));
    const file = join(dir, 'secret.log');
    configureLog({ file, level: 'debug' });
    setLogRedactor(redactText);
    rememberSecret('AKIA-sse-customer-key-0123456789');
    log.error('PUT failed with x-amz-server-side-encryption-customer-key: AKIA-sse-customer-key-0123456789 (500)');
    const text = await readFile(file, 'utf8');
    assert.doesNotMatch(text, /AKIA-sse-customer-key/);
    assert.match(text, /customer-key: XXX \(500\)/);
    setLogRedactor((t) => t);
    await rm(dir, { recursive: true, force: true });
  });
});
