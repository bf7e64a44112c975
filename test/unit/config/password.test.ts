import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NOT_ALLOWED_TO_ASK, runPasswordCommand, suppliedPassword } from '../../../src/config/password.js';
import { configKeyFromPassword, encryptConfig } from '../../../src/config/encrypted-config.js';
import { fixturePath, withTempDir } from './helpers.js';
import { requireTool } from '../../helpers/require-tool.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'prompt-child.js');
const SCRIPT = '/usr/bin/script';
const SETSID = '/usr/bin/setsid';

test('password command: first line of stdout, CR/LF stripped, run through the shell', async () => {
  assert.equal(Buffer.from(await runPasswordCommand("printf 'first line\\r\\nsecond\\n'")).toString(), 'first line');
  assert.equal(Buffer.from(await runPasswordCommand('echo "a b" | tr a-z A-Z')).toString(), 'A B');
  assert.equal(Buffer.from(await runPasswordCommand("printf 'no newline'")).toString(), 'no newline');
  await assert.rejects(runPasswordCommand('echo oops >&2; exit 2'), /password command failed: exit status 2: oops/);
  await assert.rejects(runPasswordCommand('true'), /password-command returned empty string/);
  await assert.rejects(runPasswordCommand("printf '\\nsecond'"), /password-command returned empty string/);
});

test('supplied password: command, then CRYPTFS_CONFIG_PASS, then RCLONE_CONFIG_PASS', async () => {
  const env = { CRYPTFS_CONFIG_PASS: 'ours', RCLONE_CONFIG_PASS: 'theirs' };
  assert.deepEqual(await suppliedPassword({ env }), { password: 'ours', source: 'CRYPTFS_CONFIG_PASS' });
  assert.deepEqual(await suppliedPassword({ env: { RCLONE_CONFIG_PASS: 'theirs' } }), {
    password: 'theirs',
    source: 'RCLONE_CONFIG_PASS',
  });
  const cmd = await suppliedPassword({ env, passwordCommand: 'echo cmd' });
  assert.equal(cmd?.source, 'password-command');
  assert.equal(Buffer.from(cmd!.password as Uint8Array).toString(), 'cmd');
  assert.equal(await suppliedPassword({ env: { CRYPTFS_CONFIG_PASS: '' } }), undefined);
});

/** Runs the child under a pseudo-terminal (util-linux `script`), answering prompts as they appear. */
function runInPty(args: string[], answers: Array<[RegExp, string]>): Promise<string> {
  return new Promise((resolve, reject) => {
    const cmd = [process.execPath, CHILD, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const env = { ...process.env };
    delete env.CRYPTFS_CONFIG_PASS;
    delete env.RCLONE_CONFIG_PASS;
    const child = spawn(SCRIPT, ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let seen = 0;
    // A deadline for a hung child (fails the test), not a wait.
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`timed out; output so far: ${JSON.stringify(out)}`));
    }, 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      // Answer each prompt once its text has appeared (after raw mode is on, so nothing echoes).
      while (answers.length && answers[0][0].test(out.slice(seen))) {
        const [re, reply] = answers.shift()!;
        const m = re.exec(out.slice(seen))!;
        seen += m.index + m[0].length;
        child.stdin.write(reply);
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

// Required: a missing one fails the file (skips only under --allow-skip).
const noPty = requireTool('script (util-linux)', existsSync(SCRIPT), `${SCRIPT} not found`);
const noSetsid = requireTool('setsid (util-linux)', existsSync(SETSID), `${SETSID} not found`);

test('terminal prompt: echo off, backspace and Ctrl-U edit, Enter ends', { skip: noPty }, async () => {
  const out = await runInPty(['prompt'], [[/Password:/, 'xx\u0015s3cX\u007fr3t pw\r']]);
  assert.match(out, /RESULT:"s3cr3t pw"/);
  // Nothing typed was echoed.
  assert.doesNotMatch(out.replace(/RESULT:.*/, ''), /s3c|xx/);
});

test('terminal prompt: Ctrl-C aborts', { skip: noPty }, async () => {
  const out = await runInPty(['prompt'], [[/Password:/, 'abc\u0003']]);
  assert.match(out, /ERROR:password entry interrupted/);
});

test('encrypted config on a terminal: asks, says so on a wrong password, asks again', { skip: noPty }, async () => {
  const out = await runInPty(
    ['load', fixturePath('config', 'rclone-encrypted.conf')],
    [
      [/password:/, 'not it\r'],
      [/most likely wrong password\.[\s\S]*password:/, 'fixture ｐａｓｓ ü\r'],
    ],
  );
  assert.match(out, /Enter configuration password:/);
  assert.match(out, /RESULT:\["local-files","secret","s3 store"\]/);
  assert.doesNotMatch(out, /not it|fixture/);
});

test('encrypted config with no terminal and no password: rclone\'s "not allowed to ask" error', { skip: noSetsid }, async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'enc.conf');
    await writeFile(path, encryptConfig('[a]\ntype = local\n', configKeyFromPassword('pw')));
    const env = { ...process.env };
    delete env.CRYPTFS_CONFIG_PASS;
    delete env.RCLONE_CONFIG_PASS;
    // setsid: no controlling terminal, so /dev/tty can't be opened; stdin is a pipe.
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(SETSID, ['-w', process.execPath, CHILD, 'load', path], { stdio: ['pipe', 'pipe', 'inherit'], env });
      let text = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (c: string) => (text += c));
      child.on('error', reject);
      child.on('close', () => resolve(text));
      child.stdin.end();
    });
    assert.equal(out.trim(), `ERROR:${NOT_ALLOWED_TO_ASK}`);
  });
});
