// The real `cryptfs config` wizard driven through a pseudo-terminal, checked
// against rclone 1.60 as the oracle:
//  * the CSC Allas guide's setup (a swift remote with env_auth, a crypt remote
//    over `allas:my-bucket` with name encryption and two GENERATED passwords),
//    plus a crypt remote over a local directory, then a config password; rclone
//    opens the encrypted file with that password, lists the remotes and reads
//    what cryptfs wrote through both crypt remotes;
//  * a config made by rclone (`config create … --obscure`, encrypted through
//    rclone's own wizard) used by cryptfs unchanged.
// The pseudo-terminal comes from util-linux `script`, whose output is read as a
// byte stream: prompts are matched exactly and echo (or its absence for
// passwords) is visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { scriptSkipReason } from '../../helpers/require-tool.js';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cryptfsMain,
  describeRun,
  expectSuccess,
  rcloneBinary,
  rcloneSkipReason,
  runCryptfs,
  runRclone,
  scrubbedEnv,
} from '../../helpers/cli.js';
import { ConfigFile } from '../../../src/config/config-file.js';
import { reveal } from '../../../src/crypt/obscure.js';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const skip = rcloneSkipReason() ?? scriptSkipReason();

// A prompt is a whole last line like "name> ", "e/n/d/r/c/s/q> ", "Bits> " or "password:".
const PROMPT_LINE = /(?:^|\n)([A-Za-z0-9_/]+> |password:)$/;

interface Prompt {
  /** "name", "y/n", "Storage", "password:" … */
  name: string;
  /** Everything printed since the previous prompt was answered, the prompt included. */
  block: string;
}

/** A program running on a pseudo-terminal, answered prompt by prompt. */
class PtySession {
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private cursor = 0;
  private wake: (() => void) | undefined;
  private exitCode: number | undefined;
  readonly exited: Promise<number>;

  constructor(argv: string[], env: NodeJS.ProcessEnv, cwd: string) {
    // A fixed window size and a dumb TERM keep rclone's line editor simple; cryptfs ignores both.
    const command = `stty cols 200 rows 50 2>/dev/null; exec ${argv.map(shellQuote).join(' ')}`;
    this.child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd,
      env: { ...env, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const take = (b: Buffer) => {
      this.output += b.toString('utf8').replace(/\r/g, '');
      this.notify();
    };
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        this.exitCode = code ?? -1;
        this.notify();
        resolve(this.exitCode);
      });
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The whole transcript so far. */
  get transcript(): string {
    return this.output;
  }

  /** Waits for the next prompt. */
  async prompt(timeoutMs = 20_000): Promise<Prompt> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const unread = this.output.slice(this.cursor);
      const m = PROMPT_LINE.exec(unread);
      if (m) {
        this.cursor = this.output.length;
        const line = m[1];
        return { name: line.endsWith('> ') ? line.slice(0, -2) : line, block: unread };
      }
      if (this.exitCode !== undefined) {
        throw new Error(`program exited (${this.exitCode}) while a prompt was expected; output:\n${unread}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no prompt within ${timeoutMs} ms; output so far:\n${unread}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for the prompt `name` (failing on any other) and types `answer` + Enter. */
  async answer(name: string, answer: string): Promise<Prompt> {
    const p = await this.prompt();
    if (p.name !== name) throw new Error(`expected prompt ${JSON.stringify(name)}, got ${JSON.stringify(p.name)}:\n${p.block}`);
    this.type(answer);
    return p;
  }

  type(answer: string): void {
    this.child.stdin.write(`${answer}\r`);
  }

  /** Sends raw keys (control characters, escape sequences) without Enter. */
  keys(raw: string): void {
    this.child.stdin.write(raw);
  }

  async finish(timeoutMs = 20_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.child.stdin.end();
    }
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }
}

/** Answers the remaining questions of one remote: `answers` by prompt name, Enter for the rest. */
async function answerOptions(s: PtySession, answers: Record<string, string>): Promise<string> {
  for (;;) {
    const p = await s.prompt();
    if (p.name === 'y/n' && p.block.includes('Edit advanced config?')) {
      s.type('n');
      continue;
    }
    if (p.name === 'y/e/d') {
      s.type('y');
      // Then "Test the remote now?": only when asked to (these remotes have no server to list).
      const t = await s.prompt();
      if (t.name !== 'y/n' || !t.block.includes('Test the')) throw new Error(`expected the test question:\n${t.block}`);
      s.type(answers.test ?? 'n');
      return p.block;
    }
    s.type(answers[p.name] ?? '');
  }
}

/** Generates a password at the y/g(/n) menu and returns what the wizard showed. */
async function generated(s: PtySession, menu: string, bits: number): Promise<string> {
  await s.answer(menu, 'g');
  await s.answer('Bits', String(bits));
  const confirm = await s.answer('y/n', 'y');
  const m = /Your password is: (\S+)\n/.exec(confirm.block);
  assert.ok(m, `no generated password shown:\n${confirm.block}`);
  return m[1];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-config-wizard-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the wizard on a terminal builds the Allas setup; rclone opens the encrypted config and reads through it', { skip }, async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'cryptfs.conf');
    const configPassword = 'Allas salasana ä 1';
    const s = new PtySession([process.execPath, cryptfsMain(), '--config', conf, 'config'], scrubbedEnv(), dir);
    let allasPassword: string, allasSalt: string, localSalt: string;
    try {
      // The swift remote, credentials from the environment (OS_* as Allas' allas_conf sets them).
      await s.answer('n/s/q', 'n');
      await s.answer('name', 'allas');
      const storage = await s.answer('Storage', 'swift');
      assert.match(storage.block, /Choose a number from below, or type in your own value\.\n/);
      assert.match(storage.block, / \/ Encrypt\/Decrypt a remote\n {3}\\ \(crypt\)\n/);
      assert.match(storage.block, /\\ \(swift\)\n/);
      assert.ok(!storage.block.includes('(memory)'));
      const swiftSummary = await answerOptions(s, { env_auth: 'true' });
      assert.match(swiftSummary, /Configuration complete\.\nOptions:\n- type: swift\n- env_auth: true\nKeep this "allas" remote\?/);

      // The crypt remote over allas:my-bucket: standard names, encrypted directory names, two generated passwords.
      await s.answer('e/n/d/r/c/s/q', 'n');
      await s.answer('name', 'allas-crypt');
      await s.answer('Storage', 'crypt');
      await s.answer('remote', 'allas:my-bucket');
      await s.answer('filename_encryption', '');
      await s.answer('directory_name_encryption', '');
      allasPassword = await generated(s, 'y/g/c', 128);
      allasSalt = await generated(s, 'y/g/c/n', 128);
      const cryptSummary = await answerOptions(s, {});
      assert.match(
        cryptSummary,
        /- type: crypt\n- remote: allas:my-bucket\n- password: \*\*\* ENCRYPTED \*\*\*\n- password2: \*\*\* ENCRYPTED \*\*\*\nKeep this "allas-crypt" remote\?/,
      );

      // A local remote and a crypt remote over it, so that rclone can read data without a server.
      await s.answer('e/n/d/r/c/s/q', 'n');
      await s.answer('name', 'disk');
      await s.answer('Storage', 'local');
      await answerOptions(s, {});
      await s.answer('e/n/d/r/c/s/q', 'n');
      await s.answer('name', 'localcrypt');
      await s.answer('Storage', 'crypt');
      // A remote that does not exist is refused on the terminal too.
      const refused = await s.answer('remote', 'nowhere:x');
      assert.match(refused.block, /Enter a value\.\nremote> $/);
      const again = await s.answer('remote', `disk:${join(dir, 'enc')}`);
      assert.match(again.block, /^nowhere:x\nCan't use "nowhere:x": there is no remote called "nowhere"/);
      await s.answer('filename_encryption', '2');
      await s.answer('directory_name_encryption', 'false');
      // A typed password, with full-width letters that NFKC turns into ASCII.
      await s.answer('y/g/c', 'y');
      await s.answer('password:', 'Ｌｏｃａｌ-pw');
      await s.answer('password:', 'Ｌｏｃａｌ-pw');
      localSalt = await generated(s, 'y/g/c/n', 256);
      await answerOptions(s, {});

      // The configuration password: rclone's s) menu.
      await s.answer('e/n/d/r/c/s/q', 's');
      await s.answer('a/q', 'a');
      await s.answer('password:', configPassword);
      await s.answer('password:', configPassword);
      const done = await s.answer('c/u/q', 'q');
      assert.match(done.block, /Password set\nYour configuration is encrypted\.\n/);
      const menu = await s.answer('e/n/d/r/c/s/q', 'q');
      assert.match(
        menu.block,
        /Name {17}Type\n==== {17}====\nallas {16}swift\nallas-crypt {10}crypt\ndisk {17}local\nlocalcrypt {11}crypt\n/,
      );
      assert.equal(await s.finish(), 0, s.transcript);
    } finally {
      s.kill();
    }

    // Typed passwords were never echoed; each generated one was shown exactly once.
    const transcript = s.transcript;
    for (const secret of [configPassword, 'Ｌｏｃａｌ-pw', 'Local-pw']) assert.ok(!transcript.includes(secret), secret);
    for (const pw of [allasPasswordOf(transcript, 0), allasPasswordOf(transcript, 1)]) {
      assert.equal(transcript.split(pw).length - 1, 1, `${pw} shown once`);
    }

    // The file is in rclone's encrypted format and rclone opens it with the same password.
    const text = await readFile(conf, 'utf8');
    assert.match(text, /^# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n/);
    const pass = { RCLONE_CONFIG_PASS: configPassword };
    const remotes = expectSuccess('rclone listremotes', await runRclone(['listremotes'], { config: conf, env: pass }));
    assert.equal(remotes.stdout.toString(), 'allas:\nallas-crypt:\ndisk:\nlocalcrypt:\n');
    const wrong = await runRclone(['listremotes', '--ask-password=false'], { config: conf, env: { RCLONE_CONFIG_PASS: 'wrong' } });
    assert.notEqual(wrong.code, 0, describeRun('rclone with a wrong password', wrong));

    // What rclone decrypted holds the passwords the wizard showed, obscured.
    const shown = expectSuccess('rclone config show', await runRclone(['config', 'show'], { config: conf, env: pass }));
    const plain = ConfigFile.parse(shown.stdout.toString());
    assert.deepEqual(plain.get('allas'), { type: 'swift', env_auth: 'true' });
    const ac = plain.get('allas-crypt')!;
    assert.equal(ac.remote, 'allas:my-bucket');
    assert.equal(reveal(ac.password), allasPassword);
    assert.equal(reveal(ac.password2), allasSalt);
    const lc = plain.get('localcrypt')!;
    assert.equal(reveal(lc.password), 'Local-pw', 'typed password stored NFKC-normalised');
    assert.equal(reveal(lc.password2), localSalt);
    assert.equal(lc.filename_encryption, 'obfuscate');
    assert.equal(lc.directory_name_encryption, 'false');
    for (const pw of [ac.password, ac.password2]) {
      const r = expectSuccess('rclone reveal', await runRclone(['reveal', '--', pw], { config: conf }));
      assert.ok([allasPassword, allasSalt].includes(r.stdout.toString().trim()));
    }

    // cryptfs writes through localcrypt; rclone lists and reads it.
    const content = 'written by cryptfs, read by rclone\n'.repeat(100);
    await writeFile(join(dir, 'hello.txt'), content);
    const cpass = { CRYPTFS_CONFIG_PASS: configPassword };
    expectSuccess('cryptfs copyto', await runCryptfs(['copyto', join(dir, 'hello.txt'), 'localcrypt:docs/hello.txt'], { config: conf, env: cpass }));
    const lsd = expectSuccess('rclone lsd', await runRclone(['lsd', 'localcrypt:'], { config: conf, env: pass }));
    assert.match(lsd.stdout.toString(), / docs\n$/);
    const ls = expectSuccess('rclone ls', await runRclone(['ls', 'localcrypt:'], { config: conf, env: pass }));
    assert.equal(ls.stdout.toString(), `${String(content.length).padStart(9)} docs/hello.txt\n`);
    const cat = expectSuccess('rclone cat', await runRclone(['cat', 'localcrypt:docs/hello.txt'], { config: conf, env: pass }));
    assert.equal(cat.stdout.toString(), content);

    // The Allas crypt remote with its bucket redirected to a local directory (no swift server
    // needed): names and data written by cryptfs are what rclone expects.
    const local = { RCLONE_CONFIG_ALLAS_TYPE: 'local' };
    expectSuccess(
      'cryptfs copyto allas-crypt',
      await runCryptfs(['copyto', join(dir, 'hello.txt'), 'allas-crypt:dir/hello.txt'], { config: conf, cwd: dir, env: { ...cpass, ...local } }),
    );
    const als = expectSuccess('rclone ls allas-crypt', await runRclone(['ls', 'allas-crypt:'], { config: conf, cwd: dir, env: { ...pass, ...local } }));
    assert.equal(als.stdout.toString(), `${String(content.length).padStart(9)} dir/hello.txt\n`);
    const rdecode = expectSuccess(
      'rclone cryptdecode --reverse',
      await runRclone(['cryptdecode', '--reverse', 'allas-crypt:', 'dir/hello.txt', 'x'], { config: conf, cwd: dir, env: { ...pass, ...local } }),
    );
    const cdecode = expectSuccess(
      'cryptfs cryptdecode --reverse',
      await runCryptfs(['cryptdecode', '--reverse', 'allas-crypt:', 'dir/hello.txt', 'x'], { config: conf, cwd: dir, env: { ...cpass, ...local } }),
    );
    assert.equal(cdecode.stdout.toString(), rdecode.stdout.toString());
    assert.match(rdecode.stdout.toString(), /^dir\/hello\.txt \t [a-v0-9]{26}\/[a-v0-9]{26}\n/);
  });
});

/** The n-th "Your password is: …" in a transcript. */
function allasPasswordOf(transcript: string, n: number): string {
  const all = [...transcript.matchAll(/Your password is: (\S+)\n/g)].map((m) => m[1]);
  assert.ok(all[n], `generated password #${n} not found`);
  return all[n];
}

test('a config written and encrypted by rclone is used by cryptfs unchanged', { skip }, async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'rclone.conf');
    const configPassword = 'rclone made this';
    expectSuccess('rclone config create disk', await runRclone(['config', 'create', 'disk', 'local'], { config: conf }));
    expectSuccess(
      'rclone config create rc',
      await runRclone(
        ['config', 'create', 'rc', 'crypt', `remote=disk:${join(dir, 'renc')}`, 'password=rclone pw', 'password2=rclone salt', 'filename_encoding=base64', '--obscure'],
        { config: conf },
      ),
    );

    // Encrypt it with rclone's own wizard, on a terminal.
    const r = new PtySession([rcloneBinary(), '--config', conf, 'config'], scrubbedEnv(), dir);
    try {
      await r.answer('e/n/d/r/c/s/q', 's');
      await r.answer('a/q', 'a');
      await r.answer('password:', configPassword);
      await r.answer('password:', configPassword);
      await r.answer('c/u/q', 'q');
      await r.answer('e/n/d/r/c/s/q', 'q');
      assert.equal(await r.finish(), 0, r.transcript);
    } finally {
      r.kill();
    }
    const encrypted = await readFile(conf, 'utf8');
    assert.match(encrypted, /RCLONE_ENCRYPT_V0:\n/);

    // rclone stores a file; cryptfs lists and reads it with the same config and password.
    const content = 'stored by rclone 1.60\n'.repeat(50);
    await writeFile(join(dir, 'plain.txt'), content);
    const pass = { RCLONE_CONFIG_PASS: configPassword };
    expectSuccess('rclone copyto', await runRclone(['copyto', join(dir, 'plain.txt'), 'rc:a/b.txt'], { config: conf, env: pass }));
    for (const env of [pass, { CRYPTFS_CONFIG_PASS: configPassword }]) {
      const ls = expectSuccess('cryptfs ls', await runCryptfs(['ls', 'rc:'], { config: conf, env }));
      assert.equal(ls.stdout.toString(), `${String(content.length).padStart(9)} a/b.txt\n`);
      const cat = expectSuccess('cryptfs cat', await runCryptfs(['cat', 'rc:a/b.txt'], { config: conf, env }));
      assert.equal(cat.stdout.toString(), content);
    }
    const wrong = await runCryptfs(['ls', 'rc:'], { config: conf, env: { RCLONE_CONFIG_PASS: 'nope' } });
    assert.equal(wrong.code, 1, describeRun('cryptfs with a wrong password', wrong));

    // config show/dump read it as rclone does (show hides the secrets).
    const show = expectSuccess('cryptfs config show rc', await runCryptfs(['config', 'show', 'rc'], { config: conf, env: pass }));
    // (rclone writes the keys of a created remote in map order, so compare as a section.)
    assert.match(show.stdout.toString(), /^\[rc\]\ntype = crypt\n/);
    assert.deepEqual(ConfigFile.parse(show.stdout.toString()).get('rc'), {
      type: 'crypt',
      filename_encoding: 'base64',
      password: '*** ENCRYPTED ***',
      password2: '*** ENCRYPTED ***',
      remote: `disk:${join(dir, 'renc')}`,
    });
    const ours = expectSuccess('cryptfs config dump', await runCryptfs(['config', 'dump'], { config: conf, env: pass }));
    const theirs = expectSuccess('rclone config dump', await runRclone(['config', 'dump'], { config: conf, env: pass }));
    assert.deepEqual(JSON.parse(ours.stdout.toString()), JSON.parse(theirs.stdout.toString()));

    // The cryptfs wizard asks for the password on the terminal and shows rclone's remotes;
    // quitting leaves the file exactly as rclone wrote it.
    const c = new PtySession([process.execPath, cryptfsMain(), '--config', conf, 'config'], scrubbedEnv(), dir);
    try {
      const ask = await c.answer('password:', configPassword);
      assert.match(ask.block, /Enter configuration password:\npassword:$/);
      const menu = await c.answer('e/n/d/r/c/s/q', 'q');
      assert.match(menu.block, /Name {17}Type\n==== {17}====\ndisk {17}local\nrc {19}crypt\n/);
      assert.equal(await c.finish(), 0, c.transcript);
    } finally {
      c.kill();
    }
    assert.ok(!c.transcript.includes(configPassword), 'the config password is not echoed');
    assert.equal(sha256(await readFile(conf, 'utf8')), sha256(encrypted), 'cryptfs left the config file unchanged');
  });
});

test('terminal line editing: Backspace, Ctrl-U and arrow keys; Ctrl-C abandons the unsaved remote', { skip }, async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    await writeFile(conf, '[disk]\ntype = local\n');
    const before = await readFile(conf, 'utf8');
    const s = new PtySession([process.execPath, cryptfsMain(), '--config', conf, 'config'], scrubbedEnv(), dir);
    try {
      await s.answer('e/n/d/r/c/s/q', 'n');
      // "vaulx" ⌫ "t", an arrow key, then Ctrl-U wipes "junk" on the next line.
      let p = await s.prompt();
      assert.equal(p.name, 'name');
      s.keys('vaulx\u007ft\u001b[D');
      s.type('');
      p = await s.answer('Storage', 'junk\u0015crypt');
      assert.match(p.block, /^vaulx\x08 \x08t\n/, 'echo shows the edit');
      await s.answer('remote', 'disk:enc');
      await s.prompt();
      s.keys('\u0003');
      assert.equal(await s.finish(), 1);
    } finally {
      s.kill();
    }
    assert.match(s.transcript, /\^C\n/);
    assert.match(s.transcript, /interrupted; unsaved changes were dropped/);
    assert.equal(await readFile(conf, 'utf8'), before, 'nothing was saved');
  });
});
