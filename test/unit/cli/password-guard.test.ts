// The wrong-password guard: a crypt directory whose names do not decrypt is
// reported at the default log level, and the commands that write refuse it
// (exit 7) unless --allow-undecryptable-dir is given.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { obscure } from '../../../src/crypt/obscure.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { assertPasswordFits } from '../../../src/remote/password-guard.js';
import { PasswordMismatchError } from '../../../src/errors.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { runMain } from '../../helpers/run-main.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-guard-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const store = join(root, 'store');
const emptyStore = join(root, 'empty-store');
const conf = join(root, 'rclone.conf');
fs.writeFileSync(
  conf,
  [
    `[right]\ntype = crypt\nremote = ${store}\npassword = ${obscure('the right one')}\n`,
    `[wrong]\ntype = crypt\nremote = ${store}\npassword = ${obscure('a wrong one')}\n`,
    `[fresh]\ntype = crypt\nremote = ${emptyStore}\npassword = ${obscure('a wrong one')}\n`,
  ].join('\n'),
);
const src = join(root, 'src');
fs.mkdirSync(join(src, 'sub'), { recursive: true });
fs.writeFileSync(join(src, 'a.txt'), 'alpha\n');
fs.writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n');

const cli = (argv: string[], stdin?: NodeJS.ReadableStream) => runMain(['--config', conf, ...argv], stdin);

/** Every path under `dir`, for "nothing was written" checks. */
function snapshot(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('setup: the right password writes the store', async () => {
  const r = await cli(['copy', src, 'right:']);
  assert.equal(r.code, 0, r.err);
  const ls = await cli(['lsf', '-R', 'right:']);
  assert.equal(ls.out, 'a.txt\nsub/\nsub/b.txt\n');
});

test('listing with the wrong password says so at the default log level, and still exits 0', async () => {
  const r = await cli(['lsf', 'wrong:']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  // Every entry of the store's root (a.txt's and sub's encrypted names) fails to decrypt.
  const entries = fs.readdirSync(store).length;
  assert.match(r.err, new RegExp(`NOTICE: ${entries} names in wrong: do not decrypt with this password — wrong password\\?`));
  const right = await cli(['lsf', 'right:']);
  assert.doesNotMatch(right.err, /do not decrypt/);
});

test('copy, sync, move, copyto, moveto, mkdir, rcat and touch refuse to write with the wrong password', async () => {
  const before = snapshot(store);
  const entries = fs.readdirSync(store).length;
  const refused = new RegExp(
    `${entries} names in wrong: do not decrypt with this password — wrong password\\? Refusing to write there`,
  );
  const other = join(root, 'other');
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(join(other, 'c.txt'), 'gamma\n');
  const runs: Array<[string, string[], NodeJS.ReadableStream?]> = [
    ['copy', ['copy', src, 'wrong:']],
    ['copy into a new subdirectory', ['copy', src, 'wrong:newdir/deeper']],
    ['sync', ['sync', src, 'wrong:']],
    ['move', ['move', other, 'wrong:']],
    ['copyto', ['copyto', join(src, 'a.txt'), 'wrong:renamed.txt']],
    ['moveto', ['moveto', join(other, 'c.txt'), 'wrong:c.txt']],
    ['mkdir', ['mkdir', 'wrong:made']],
    ['rcat', ['rcat', 'wrong:streamed.txt'], Readable.from([Buffer.from('delta\n')])],
    ['touch', ['touch', 'wrong:touched.txt']],
    ['dry-run copy', ['copy', '--dry-run', src, 'wrong:']],
  ];
  for (const [what, argv, stdin] of runs) {
    const r = await cli(argv, stdin);
    assert.equal(r.code, 7, `${what}: exit code\n${r.err}`);
    assert.match(r.err, refused, what);
    assert.match(r.err, /--allow-undecryptable-dir/, what);
  }
  assert.deepEqual(snapshot(store), before, 'nothing was written to the store');
  assert.ok(fs.existsSync(join(other, 'c.txt')), 'move and moveto left their source alone');
});

test('the guard looks at the nearest existing directory: a subdirectory whose names decrypt is writable', async () => {
  const r = await cli(['copy', join(src, 'a.txt'), 'right:sub/new']);
  assert.equal(r.code, 0, r.err);
  assert.equal((await cli(['lsf', 'right:sub/new'])).out, 'a.txt\n');
});

test('--allow-undecryptable-dir writes anyway, and says so', async () => {
  const r = await cli(['mkdir', '--allow-undecryptable-dir', 'wrong:allowed']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /do not decrypt with this password — wrong password\? Writing anyway as --allow-undecryptable-dir is set/);
  await cli(['rmdir', '--allow-undecryptable-dir', 'wrong:allowed']);
});

test('an empty crypt remote takes its first write with any password', async () => {
  const r = await cli(['copy', src, 'fresh:']);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /decrypt/);
});

test('assertPasswordFits: through SubRemotes, up to the nearest existing directory; not for names off or plain remotes', async () => {
  const standard: CryptRemoteOptions = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false };
  const mem = new MemoryRemote();
  const right = new CryptRemote(mem, await deriveKeys('one'), standard, 'right:');
  const wrong = new CryptRemote(mem, await deriveKeys('two'), standard, 'wrong:');
  const bytes = async function* () {
    yield Buffer.from('x');
  };
  await right.write('photos/2024/a.jpg', bytes());
  await right.write('photos/2024/b.jpg', bytes());
  await assertPasswordFits(right, 'photos/2024');
  await assertPasswordFits(new SubRemote(right, 'photos'), 'new/dir');
  await assertPasswordFits(mem, '');
  await assertPasswordFits(wrong, 'photos/2024', { allowUndecryptable: true });
  await assert.rejects(assertPasswordFits(new SubRemote(wrong, 'photos/2024'), 'x'), (err: unknown) => {
    assert.ok(err instanceof PasswordMismatchError);
    assert.equal(err.dir, '');
    assert.equal(err.undecryptable, 1);
    assert.equal(exitCodeOf(err), 7);
    assert.match(err.message, /^1 name in wrong: does not decrypt with this password — wrong password\?/);
    return true;
  });
  const namesOff = new CryptRemote(mem, await deriveKeys('three'), { ...standard, mode: 'off' }, 'off:');
  await assertPasswordFits(namesOff, '');
});
