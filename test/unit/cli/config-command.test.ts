// `cryptfs config`: the scripted subcommands run in-process through main(),
// and the wizard engine driven by scripted answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import {
  canonicalOptionValue,
  ConfigWizard,
  EndOfInputError,
  looksObscured,
  remoteReferenceProblem,
  type WizardIO,
} from '../../../src/cli/wizard.js';
import { generatePassword, MAX_PASSWORD_BITS, MIN_PASSWORD_BITS } from '../../../src/cli/password-gen.js';
import { parseKeyValues, remoteWarnings, storedSecret } from '../../../src/cli/commands/config.js';
import { ConfigStore } from '../../../src/config/config-store.js';
import { ConfigFile } from '../../../src/config/config-file.js';
import { configKeyFromPassword, decryptConfig, isEncryptedConfig } from '../../../src/config/encrypted-config.js';
import { obscure, reveal } from '../../../src/crypt/obscure.js';
import { registerBackend, type OptionSpec } from '../../../src/remote/registry.js';
import { ConfigError } from '../../../src/errors.js';
import { RemoteFactory } from '../../../src/remote/open.js';

// Every option kind the wizard must handle, declared as a backend would: the
// wizard and `config show` must follow these declarations with no code of their own.
const kindsOptions: OptionSpec[] = [
  { name: 'endpoint', help: 'Endpoint URL.\n\nRequired here.', required: true },
  { name: 'api_key', help: 'API key.', sensitive: true },
  { name: 'token', help: 'Access token.', secret: true },
  {
    name: 'mode',
    help: 'Operating mode.',
    type: 'enum',
    default: 'fast',
    exclusive: true,
    examples: [
      { value: 'fast', help: 'Go fast.' },
      { value: 'safe', help: 'Be careful.\nTakes longer.' },
    ],
  },
  { name: 'retries', help: 'How often to retry.', type: 'int', default: 3 },
  { name: 'verify', help: 'Verify uploads.', type: 'bool', default: true },
  { name: 'chunk', help: 'Chunk size.', type: 'size', default: '5Mi', advanced: true },
  { name: 'timeout', help: 'Request timeout.', type: 'duration', default: '1m', advanced: true },
  { name: 'debug_dump', help: 'Never asked.', hidden: true },
];
registerBackend({
  type: 'kinds',
  description: 'Option kinds for the config tests',
  options: kindsOptions,
  async create() {
    throw new Error('the kinds backend only declares options; nothing opens it');
  },
});

const realStderrWrite = process.stderr.write.bind(process.stderr);

async function run(
  config: string,
  argv: string[],
  stdinText?: string,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  // Log lines go to process.stderr; capture them too.
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(Buffer.from(chunk));
    return true;
  }) as typeof process.stderr.write;
  const stdin = new PassThrough();
  stdin.end(stdinText ?? '');
  try {
    const code = await main(['--config', config, ...argv], { stdout, stderr, stdin });
    return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
  } finally {
    process.stderr.write = realStderrWrite;
  }
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-config-cmd-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// No config password or overrides from the developer's shell may leak in.
for (const k of Object.keys(process.env)) if (/^(RCLONE|CRYPTFS)_/.test(k)) delete process.env[k];

function section(text: string, name: string): Record<string, string> {
  return ConfigFile.parse(text).get(name) ?? {};
}

test('create, show, dump, file, update, password and delete on a temp config', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'sub', 'cryptfs.conf');
    let r = await run(conf, ['config', 'file']);
    assert.equal(r.out, `Configuration file doesn't exist, but cryptfs will use this path:\n${conf}\n`);

    r = await run(conf, ['config', 'create', 'disk', 'local']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '[disk]\ntype = local\n');
    r = await run(conf, ['config', 'file']);
    assert.equal(r.out, `Configuration file is stored at:\n${conf}\n`);

    // key=value and rclone's "key value" forms both work.
    r = await run(conf, ['config', 'create', 'secret', 'crypt', 'remote=disk:' + dir, 'password', 'pass one', 'password2=salt two']);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `[secret]\ntype = crypt\nremote = disk:${dir}\npassword = *** ENCRYPTED ***\npassword2 = *** ENCRYPTED ***\n`,
    );
    const stored = section(await readFile(conf, 'utf8'), 'secret');
    assert.equal(reveal(stored.password), 'pass one');
    assert.equal(reveal(stored.password2), 'salt two');

    // show: all remotes, secrets hidden; --reveal prints the file's values.
    r = await run(conf, ['config', 'show']);
    assert.equal(
      r.out,
      `[disk]\ntype = local\n\n[secret]\ntype = crypt\nremote = disk:${dir}\npassword = *** ENCRYPTED ***\npassword2 = *** ENCRYPTED ***\n\n`,
    );
    r = await run(conf, ['config', 'show', '--reveal']);
    assert.equal(r.out, await readFile(conf, 'utf8'));
    r = await run(conf, ['config', 'show', 'secret', '--reveal']);
    assert.match(r.out, new RegExp(`^password = ${stored.password}$`, 'm'));

    // dump: rclone's JSON (sorted keys, 4-space indent, values as stored).
    r = await run(conf, ['config', 'dump']);
    assert.deepEqual(JSON.parse(r.out), {
      disk: { type: 'local' },
      secret: { type: 'crypt', remote: `disk:${dir}`, password: stored.password, password2: stored.password2 },
    });
    assert.ok(r.out.startsWith('{\n    "disk": {\n        "type": "local"\n    },\n    "secret": {\n        "password": '));

    // update: a bool is canonicalised, a bad value is refused without touching the file.
    r = await run(conf, ['config', 'update', 'secret', 'directory_name_encryption=n', 'filename_encryption=OFF']);
    assert.equal(r.code, 0, r.err);
    let now = section(await readFile(conf, 'utf8'), 'secret');
    assert.equal(now.directory_name_encryption, 'false');
    assert.equal(now.filename_encryption, 'off');
    const before = await readFile(conf, 'utf8');
    r = await run(conf, ['config', 'update', 'secret', 'filename_encryption=rot13']);
    assert.equal(r.code, 1);
    assert.match(r.err, /filename_encryption: "rot13" is not one of "standard", "obfuscate", "off"/);
    assert.equal(await readFile(conf, 'utf8'), before);
    r = await run(conf, ['config', 'update', 'nosuch', 'a=b']);
    assert.equal(r.code, 1);
    assert.match(r.err, /couldn't find remote "nosuch"/);

    // password: always obscures, and only password options are accepted.
    r = await run(conf, ['config', 'password', 'secret', 'password2=new salt']);
    assert.equal(r.code, 0, r.err);
    now = section(await readFile(conf, 'utf8'), 'secret');
    assert.equal(reveal(now.password2), 'new salt');
    r = await run(conf, ['config', 'password', 'secret', 'remote=x:']);
    assert.equal(r.code, 1);
    assert.match(r.err, /"remote" is not a password option of type crypt/);

    // delete, then show of the deleted remote fails.
    r = await run(conf, ['config', 'delete', 'secret']);
    assert.equal(r.code, 0, r.err);
    r = await run(conf, ['config', 'show', 'secret']);
    assert.equal(r.code, 1);
    r = await run(conf, ['config', 'delete', 'secret']);
    assert.equal(r.code, 0);
    assert.match(r.err, /nothing deleted/);
    assert.deepEqual(ConfigFile.parse(await readFile(conf, 'utf8')).sections(), ['disk']);
  });
});

test('config show hides secret and sensitive values as the declarations say', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    const r = await run(conf, ['config', 'create', 'k', 'kinds', 'endpoint=https://x', 'api_key=AKIA123', 'token=tok', 'retries=5']);
    assert.equal(r.code, 0, r.err);
    const shown = await run(conf, ['config', 'show', 'k']);
    assert.equal(shown.out, '[k]\ntype = kinds\nendpoint = https://x\napi_key = *** ENCRYPTED ***\ntoken = *** ENCRYPTED ***\nretries = 5\n');
    assert.ok(!shown.out.includes('AKIA123'));
    const file = section(await readFile(conf, 'utf8'), 'k');
    assert.equal(file.api_key, 'AKIA123', 'sensitive values are stored plain, only hidden on show');
    assert.equal(reveal(file.token), 'tok', 'secret values are stored obscured');
    const revealed = await run(conf, ['config', 'show', 'k', '--reveal']);
    assert.match(revealed.out, /^api_key = AKIA123$/m);

    // A remote of a type this program doesn't know: keys that look secret are hidden.
    await writeFile(conf, '[gd]\ntype = drive\nclient_id = abc\nclient_secret = s3cr3t\ntoken = {"x":1}\n');
    const unknown = await run(conf, ['config', 'show']);
    assert.equal(unknown.out, '[gd]\ntype = drive\nclient_id = abc\nclient_secret = *** ENCRYPTED ***\ntoken = *** ENCRYPTED ***\n\n');
  });
});

test('config show prints the file values and says which environment overrides apply', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    await writeFile(conf, '[disk]\ntype = local\n');
    process.env.RCLONE_CONFIG_DISK_COPY_LINKS = 'true';
    process.env.CRYPTFS_CONFIG_ENVONLY_TYPE = 'local';
    try {
      let r = await run(conf, ['config', 'show', 'disk']);
      assert.equal(r.out, '[disk]\ntype = local\n');
      assert.match(r.err, /disk: environment variables override copy_links - config show prints the file's values/);
      r = await run(conf, ['config', 'show']);
      assert.match(r.err, /defined only by environment variables \(not shown\): envonly/);
      r = await run(conf, ['config', 'show', 'envonly']);
      assert.equal(r.out, '; defined by environment variables, not in the config file\n[envonly]\ntype = local\n');
    } finally {
      delete process.env.RCLONE_CONFIG_DISK_COPY_LINKS;
      delete process.env.CRYPTFS_CONFIG_ENVONLY_TYPE;
    }
  });
});

test('obscure rules for create/update: auto, --obscure, --no-obscure', async () => {
  const obscured = obscure('real password');
  // auto: plain text is obscured; an obscured value is stored as given.
  assert.equal(reveal(storedSecret('plain', 'auto', 't')), 'plain');
  assert.equal(storedSecret(obscured, 'auto', 't'), obscured);
  // A 128-bit generated password is valid base64url of 16 bytes: rclone would store it
  // as is (and it would reveal to ''); here it counts as plain and is obscured.
  const generated = generatePassword(128);
  assert.equal(reveal(generated), '');
  assert.equal(reveal(storedSecret(generated, 'auto', 't')), generated);
  // force obscures even an obscured value; never stores anything as given.
  assert.equal(reveal(storedSecret(obscured, 'force', 't')), obscured);
  assert.equal(storedSecret('plain', 'never', 't'), 'plain');
  assert.equal(storedSecret('', 'auto', 't'), '');

  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    await run(conf, ['config', 'create', 'disk', 'local']);
    let r = await run(conf, ['config', 'create', 'a', 'crypt', 'remote=disk:x', `password=${obscured}`, 'password2=s']);
    assert.equal(r.code, 0, r.err);
    assert.equal(section(await readFile(conf, 'utf8'), 'a').password, obscured);
    r = await run(conf, ['config', 'create', 'b', 'crypt', 'remote=disk:x', `password=${obscured}`, '--obscure', 'password2=s']);
    assert.equal(reveal(section(await readFile(conf, 'utf8'), 'b').password), obscured);
    r = await run(conf, ['config', 'update', 'b', 'password=plain', '--no-obscure']);
    assert.equal(section(await readFile(conf, 'utf8'), 'b').password, 'plain');
    r = await run(conf, ['config', 'create', 'c', 'crypt', 'remote=disk:x', 'password=p', '--obscure', '--no-obscure']);
    assert.equal(r.code, 1);
    assert.match(r.err, /can't use --obscure and --no-obscure together/);
    assert.match(r.err, /Usage:\n {2}cryptfs config create name type/);
  });
});

test('create warns about a missing password2, a missing remote and required options; --non-interactive prints JSON', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    const r = await run(conf, ['config', 'create', 'c', 'crypt', 'remote=nowhere:bucket', '--non-interactive']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /c: password2 \(the salt\) is not set: the built-in salt is shared by every user/);
    assert.match(r.err, /c: remote: there is no remote called "nowhere"/);
    assert.match(r.err, /c: required option "password" is not set/);
    assert.deepEqual(JSON.parse(r.out), { State: '', Option: null, Error: '', Result: '' });
  });
});

test('usage errors: unknown subcommand, bad name, unknown type, key without value, argument counts', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    const cases: Array<[string[], RegExp]> = [
      [['config', 'frobnicate'], /unknown command "frobnicate" for "cryptfs config"/],
      [['config', 'create', 'bad*name', 'local'], /config name contains invalid characters/],
      [['config', 'create', 'x', 'nosuchtype'], /couldn't find backend for type "nosuchtype"/],
      [['config', 'create', 'x', 'local', 'dangling'], /found key without value/],
      [['config', 'create', 'x'], /Command create needs 2 arguments minimum: you provided 1 non flag arguments: \["x"\]/],
      [['config', 'delete'], /Command delete needs 1 arguments minimum/],
      [['config', 'show', 'a', 'b'], /Command show needs 1 arguments maximum/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(conf, argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.err, re, argv.join(' '));
      assert.match(r.err, /Fatal error: /, argv.join(' '));
    }
  });
});

test('parseKeyValues follows rclone: key=value or key value, later wins', () => {
  assert.deepEqual(parseKeyValues(['a=1', 'b', '2', 'c=x=y', 'a=3']), [
    ['a', '3'],
    ['b', '2'],
    ['c', 'x=y'],
  ]);
  assert.throws(() => parseKeyValues(['a=1', 'b']), /found key without value/);
});

test('generated passwords: ceil(bits/8) random bytes as unpadded base64url', () => {
  for (const [bits, chars] of [
    [64, 11],
    [65, 12],
    [128, 22],
    [256, 43],
    [1024, 171],
  ] as const) {
    const pw = generatePassword(bits);
    assert.equal(pw.length, chars, `${bits} bits`);
    assert.match(pw, /^[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(pw, 'base64url').length, Math.ceil(bits / 8));
  }
  assert.notEqual(generatePassword(128), generatePassword(128));
  assert.throws(() => generatePassword(MIN_PASSWORD_BITS - 1), RangeError);
  assert.throws(() => generatePassword(MAX_PASSWORD_BITS + 1), RangeError);
  // The bytes come from the given source, unchanged.
  assert.equal(generatePassword(64, (n) => Buffer.alloc(n, 0xff)), '__________8');
});

test('option values are checked and canonicalised from the declaration', () => {
  const spec = (name: string) => kindsOptions.find((o) => o.name === name)!;
  assert.equal(canonicalOptionValue(spec('verify'), 'Y'), 'true');
  assert.equal(canonicalOptionValue(spec('verify'), 'false'), 'false');
  assert.throws(() => canonicalOptionValue(spec('verify'), 'maybe'), ConfigError);
  assert.throws(() => canonicalOptionValue(spec('verify'), 'constructor'), ConfigError);
  assert.equal(canonicalOptionValue(spec('retries'), '+07'), '7');
  assert.equal(canonicalOptionValue(spec('retries'), '123456789012345678901'), '123456789012345678901');
  assert.throws(() => canonicalOptionValue(spec('retries'), '1.5'), ConfigError);
  assert.equal(canonicalOptionValue(spec('chunk'), '64Mi'), '64Mi');
  assert.throws(() => canonicalOptionValue(spec('chunk'), 'big'), ConfigError);
  assert.equal(canonicalOptionValue(spec('timeout'), '1h30m'), '1h30m');
  assert.throws(() => canonicalOptionValue(spec('timeout'), 'soon'), ConfigError);
  assert.equal(canonicalOptionValue(spec('mode'), 'SAFE'), 'safe');
  assert.throws(() => canonicalOptionValue(spec('mode'), 'reckless'), /not one of "fast", "safe"/);

  const store = { hasRemote: (n: string) => n === 'disk' };
  assert.equal(remoteReferenceProblem('disk:bucket/dir', store, 'c'), undefined);
  assert.equal(remoteReferenceProblem('/srv/data', store, 'c'), undefined);
  assert.equal(remoteReferenceProblem('relative/dir', store, 'c'), undefined);
  assert.equal(remoteReferenceProblem(':local:/tmp', store, 'c'), undefined);
  assert.match(remoteReferenceProblem('nowhere:bucket', store, 'c')!, /no remote called "nowhere"/);
  assert.match(remoteReferenceProblem('c:x', { hasRemote: () => true }, 'c')!, /can't store its data in itself/);
  assert.match(remoteReferenceProblem('bad*name:x', store, 'c')!, /neither "remote:path"/);
  assert.match(remoteReferenceProblem(':nosuch:x', store, 'c')!, /didn't find backend/);

  assert.equal(looksObscured(obscure('hello')), true);
  assert.equal(looksObscured('hello'), false);
  assert.equal(looksObscured(obscure('')), false);
});

// ---------------------------------------------------------------------------------------------
// The wizard engine with scripted answers.

/** An answer typed with echo off (a password); a plain string is an ordinary line. */
interface Hidden {
  hidden: string;
}
type Answer = string | Hidden;

/** Replays answers, recording the transcript; fails if a password would be read with echo on, or vice versa. */
class ScriptedIO implements WizardIO {
  transcript = '';
  constructor(private readonly answers: Answer[]) {}

  private next(prompt: string, hidden: boolean): string | undefined {
    this.transcript += prompt;
    const a = this.answers.shift();
    if (a === undefined) return undefined;
    const isHidden = typeof a !== 'string';
    if (isHidden !== hidden) {
      throw new Error(`script out of step at ${JSON.stringify(prompt)}: expected ${isHidden ? 'a hidden' : 'an echoed'} prompt\n${this.transcript}`);
    }
    const text = typeof a === 'string' ? a : a.hidden;
    this.transcript += hidden ? '\n' : `${text}\n`;
    return text;
  }

  async readLine(prompt: string) {
    return this.next(prompt, false);
  }

  async readPassword(prompt: string) {
    return this.next(prompt, true);
  }

  write(text: string) {
    this.transcript += text;
  }

  get left(): number {
    return this.answers.length;
  }
}

async function wizardRun(
  dir: string,
  answers: Answer[],
  initial = '',
  generated: string[] = [],
): Promise<{ io: ScriptedIO; store: ConfigStore; path: string }> {
  const path = join(dir, 'w.conf');
  const store = ConfigStore.fromFile(path, ConfigFile.parse(initial), {});
  const io = new ScriptedIO(answers);
  const queue = [...generated];
  await new ConfigWizard(store, io, {
    warnings: remoteWarnings,
    generatePassword: (bits) => {
      const pw = queue.shift();
      assert.ok(pw, `unexpected password generation (${bits} bits)`);
      return pw;
    },
  }).run();
  assert.equal(io.left, 0, `answers left over:\n${io.transcript}`);
  return { io, store, path };
}

test('wizard: builds a crypt remote over a local one, re-asking after each invalid answer', async () => {
  await withTemp(async (dir) => {
    const { io, path } = await wizardRun(
      dir,
      [
        'n', // main menu (no remotes yet: n/s/q)
        'bad*name', // invalid name: asked again
        'disk',
        'local', // storage by name
        '', // Edit advanced config? (default n)
        '', // Keep? (default y)
        '', // Test it? (default y): a local directory not made yet
        'x', // not a menu letter
        'n',
        'disk', // taken: asked again
        'vault',
        '99', // no such number
        'nosuchtype', // unknown type: the whole question again
        'crypt',
        '', // remote is required: asked again
        'elsewhere:bucket', // no such remote
        'disk:' + join(dir, 'enc'),
        '2', // filename_encryption: obfuscate by number
        'perhaps', // not a boolean
        'false',
        'y', // password: type my own
        { hidden: '   ' }, // only whitespace: rejected
        { hidden: 'ｐａｓｓ１' }, // full-width: NFKC makes it pass1
        { hidden: 'pass2' }, // the confirmation differs: both asked again
        { hidden: 'pass1' },
        { hidden: 'pass1' },
        'g', // password2: generate
        '32', // below the minimum
        'abc', // not a number
        '128',
        'n', // don't use this one
        '256',
        '', // use it (default yes)
        'y', // edit advanced config
        '', // server_side_across_configs
        '', // no_data_encryption
        'base9', // filename_encoding: exclusive, refused
        'base64',
        '', // suffix
        '', // strict_names
        '', // integrity
        'y', // keep
        'y', // test it: lists the crypt remote
        'q',
      ],
      '',
      ['FIRSTgeneratedPW', 'second-generated-password-256'],
    );
    const t = io.transcript;
    assert.match(t, /Test the "disk" remote now \(list it; create the bucket or container if it is missing\)\?\ny\) Yes \(default\)\nn\) No\ny\/n> \nListing disk: \.\.\. OK \(\d+ entr(y|ies)\)\n/);
    assert.match(t, /Test the "vault" remote now .*\n.*\n.*\ny\/n> y\nListing vault: \.\.\. (OK \(0 entries\)|it does not exist yet\.)\n/);
    assert.match(t, /^No remotes found, make a new one\?\nn\) New remote\ns\) Set configuration password\nq\) Quit config\nn\/s\/q> n\n/);
    assert.match(t, /Can't use "bad\*name" as config name contains invalid characters/);
    assert.match(t, /This value must be one of the following characters: e, n, d, r, c, s, q\./);
    assert.match(t, /Remote "disk" already exists\./);
    assert.match(t, /Storage> 99\nNo choices with this number\./);
    assert.match(t, /Bad remote "nosuchtype": didn't find backend called "nosuchtype"/);
    assert.ok(!/\(memory\)/.test(t), 'the memory backend is not offered');
    assert.match(t, /\d \/ Encrypt\/Decrypt a remote\n {3}\\ \(crypt\)\n/);
    assert.match(
      t,
      /Option remote\.\nRemote to encrypt\/decrypt\.\nNormally should contain a ':' and a path, e\.g\. "myremote:path\/to\/dir",\n"myremote:bucket" or maybe "myremote:" \(not recommended\)\.\nEnter a value\.\nremote> \nThis value is required and it has no default\.\nremote> elsewhere:bucket\nCan't use "elsewhere:bucket": there is no remote called "elsewhere"/,
    );
    assert.match(
      t,
      /Option filename_encryption\.\nHow to encrypt the filenames\.\nChoose a number from below, or type in an existing string value\.\nPress Enter for the default \(standard\)\.\n {3}\/ Encrypt the filenames\.\n 1 \| See the docs for the details\.\n {3}\\ \(standard\)\n 2 \/ Very simple filename obfuscation\.\n {3}\\ \(obfuscate\)\n/,
    );
    assert.match(t, /Failed to parse "perhaps": "perhaps" is not a boolean/);
    assert.match(
      t,
      /Option password\.\nPassword or pass phrase for encryption\.\nChoose an alternative below\.\ny\) Yes, type in my own password\ng\) Generate random password\nc\) Get it from a command \(a key manager: pass, vault, secret-tool, systemd-creds\)\ny\/g\/c> y\nEnter the password:\npassword:\nYour password contains leading\/trailing whitespace - in previous versions of rclone this was stripped\nBad password: no characters in password\npassword:\nConfirm the password:\npassword:\nPasswords do not match!\nEnter the password:\n/,
    );
    assert.match(
      t,
      /Choose an alternative below\. Press Enter for the default \(n\)\.\ny\) Yes, type in my own password\ng\) Generate random password\nc\) Get it from a command \(a key manager: pass, vault, secret-tool, systemd-creds\)\nn\) No, leave this optional password blank \(default\)\ny\/g\/c\/n> g\nPassword strength in bits\.\n64 is just about memorable\n128 is secure\n1024 is the maximum\nBits> 32\nOut of range - 64 to 1024 inclusive\nBits> abc\nBad number: /,
    );
    assert.match(t, /Your password is: FIRSTgeneratedPW\nUse this password\?/);
    assert.match(t, /Your password is: second-generated-password-256\n/);
    assert.match(t, /filename_encoding> base9\nThis value must match an existing value\.\nfilename_encoding> base64\n/);
    assert.match(
      t,
      /Configuration complete\.\nOptions:\n- type: crypt\n- remote: disk:.*\/enc\n- filename_encryption: obfuscate\n- directory_name_encryption: false\n- password: \*\*\* ENCRYPTED \*\*\*\n- password2: \*\*\* ENCRYPTED \*\*\*\n- filename_encoding: base64\nKeep this "vault" remote\?\ny\) Yes this is OK \(default\)\ne\) Edit this remote\nd\) Delete this remote\ny\/e\/d> y\n/,
    );
    assert.ok(!t.includes('WARNING: password2'), 'no salt warning when password2 is set');
    assert.match(t, /Current remotes:\n\nName {17}Type\n==== {17}====\ndisk {17}local\nvault {16}crypt\n/);

    // Saved: options left at their defaults are not written; secrets are obscured;
    // the typed password was NFKC-normalised.
    const saved = ConfigFile.parse(await readFile(path, 'utf8'));
    assert.deepEqual(saved.sections(), ['disk', 'vault']);
    const v = saved.get('vault')!;
    assert.deepEqual(Object.keys(v), ['type', 'remote', 'filename_encryption', 'directory_name_encryption', 'password', 'password2', 'filename_encoding']);
    assert.equal(reveal(v.password), 'pass1');
    assert.equal(reveal(v.password2), 'second-generated-password-256');
    assert.ok(!t.includes('pass1') && !t.includes('ｐａｓｓ１'), 'typed passwords never appear in the output');
  });
});

test('wizard: a crypt remote without password2 is warned about; the generic declaration drives every option kind', async () => {
  await withTemp(async (dir) => {
    const { io, store } = await wizardRun(
      dir,
      [
        'n',
        'k',
        'kinds',
        'https://example', // endpoint (required)
        'KEY', // api_key: sensitive but typed in the open
        'g', // token (secret, optional): generate
        '64',
        'y',
        '', // mode: default
        '-2', // retries
        'no', // verify
        'y', // advanced
        '1x', // chunk: bad size
        '10M',
        'forever', // timeout: bad duration
        '30s',
        '', // api_key_command: a sensitive option may come from a command
        'y',
        'n', // don't test it
        'n',
        'c',
        'crypt',
        'k:',
        '',
        '',
        'g',
        '64',
        'y',
        '', // password2 left blank
        '', // no advanced
        'y',
        'n', // don't test it
        'q',
      ],
      '',
      ['tok123tok12', 'cryptpw1234'],
    );
    const t = io.transcript;
    assert.match(t, /Option endpoint\.\nEndpoint URL\.\nRequired here\.\nEnter a value\.\nendpoint> /);
    assert.match(t, /Option retries\.\nHow often to retry\.\nEnter a signed integer\. Press Enter for the default \(3\)\.\n/);
    assert.match(t, /Option verify\.\nVerify uploads\.\nEnter a boolean value \(true or false\)\. Press Enter for the default \(true\)\.\n/);
    assert.match(t, /Enter a size with suffix K,M,G,T\. Press Enter for the default \(5Mi\)\.\nchunk> 1x\nFailed to parse "1x"/);
    assert.match(t, /Enter a duration s,m,h,d,w,M,y\. Press Enter for the default \(1m\)\.\ntimeout> forever\nFailed to parse "forever"/);
    assert.match(t, / {3}\/ Be careful\.\n 2 \| Takes longer\.\n {3}\\ \(safe\)\n/);
    assert.ok(!t.includes('debug_dump'), 'hidden options are not asked');
    assert.match(t, /- api_key: KEY\n- token: \*\*\* ENCRYPTED \*\*\*\n/);
    assert.match(t, /WARNING: password2 \(the salt\) is not set: the built-in salt is shared by every user/);
    const k = store.file.get('k')!;
    assert.deepEqual(k, { type: 'kinds', endpoint: 'https://example', api_key: 'KEY', token: k.token, retries: '-2', verify: 'false', chunk: '10M', timeout: '30s' });
    assert.equal(reveal(k.token), 'tok123tok12');
    assert.equal(reveal(store.file.getValue('c', 'password')!), 'cryptpw1234');
  });
});

test('wizard: edit keeps existing values on Enter, rename, copy and delete', async () => {
  await withTemp(async (dir) => {
    const pw = obscure('keep me');
    const initial = `[disk]\ntype = local\n\n[c]\ntype = crypt\nremote = disk:a\npassword = ${pw}\npassword2 = ${obscure('salt')}\n`;
    const { io, store, path } = await wizardRun(dir, [
      'e',
      '2', // remotes sorted: c, disk → "disk"? no: 1 = c, 2 = disk
      '', // disk has only advanced options
      'y',
      'e',
      'c',
      '', // remote: keep disk:a
      'off', // filename_encryption
      '', // directory_name_encryption
      '', // password: keep existing (default n)
      '',
      '',
      'y',
      'r',
      'c',
      'disk', // taken
      'c2',
      'c',
      '1', // copy c2
      'c3',
      'd',
      'disk',
      'q',
    ], initial);
    const t = io.transcript;
    assert.match(t, /Select remote\.\nChoose a number from below, or type in an existing value\.\n 1 > c\n 2 > disk\nremote> 2\n/);
    assert.match(t, /Editing existing "c" remote with options:\n- type: crypt\n- remote: disk:a\n- password: \*\*\* ENCRYPTED \*\*\*\n- password2: \*\*\* ENCRYPTED \*\*\*\n\n/);
    assert.match(t, /Enter a string value\. Press Enter for the default \(disk:a\)\.\nremote> \n/);
    assert.match(t, /y\) Yes, type in my own password\ng\) Generate random password\nc\) Get it from a command \(a key manager: pass, vault, secret-tool, systemd-creds\)\nn\) No, keep existing \(default\)\ny\/g\/c\/n> \n/);
    assert.match(t, /Enter new name for "c" remote\.\nEnter name for new remote\.\nname> disk\nRemote "disk" already exists\./);
    assert.match(t, /Enter name for copy of "c2" remote\./);
    const saved = ConfigFile.parse(await readFile(path, 'utf8'));
    assert.deepEqual(saved.sections(), ['c2', 'c3']);
    assert.deepEqual(saved.get('c2'), { type: 'crypt', remote: 'disk:a', password: pw, password2: saved.get('c2')!.password2, filename_encryption: 'off' });
    assert.deepEqual(saved.get('c3'), saved.get('c2'));
    assert.equal(store.encrypted, false);
  });
});

test('wizard: set, change and remove the configuration password (rclone format)', async () => {
  await withTemp(async (dir) => {
    const { io, path } = await wizardRun(dir, [
      'n',
      'disk',
      'local',
      '',
      '',
      'n', // don't test it
      's',
      'a',
      { hidden: 'first' },
      { hidden: 'other' },
      { hidden: 'first' },
      { hidden: 'first' },
      'q',
      'q',
    ]);
    assert.match(
      io.transcript,
      /Your configuration is not encrypted\.\nIf you add a password, you will protect your login information to cloud services\.\na\) Add Password\nq\) Quit to main menu\na\/q> a\nEnter NEW configuration password:\npassword:\nConfirm NEW configuration password:\npassword:\nPasswords do not match!\nEnter NEW configuration password:\npassword:\nConfirm NEW configuration password:\npassword:\nPassword set\nYour configuration is encrypted\.\nc\) Change Password\nu\) Unencrypt configuration\nq\) Quit to main menu\nc\/u\/q> q\n/,
    );
    const text = await readFile(path, 'utf8');
    assert.ok(isEncryptedConfig(text));
    assert.match(decryptConfig(text, configKeyFromPassword('first')), /^\[disk\]\ntype = local\n/);

    // Load it with the password, change it (NFKC applies), then remove it.
    const store = await ConfigStore.load({ path, env: { RCLONE_CONFIG_PASS: 'first' } });
    assert.equal(store.encrypted, true);
    const io2 = new ScriptedIO(['s', 'c', { hidden: 'ｓｅｃｏｎｄ' }, { hidden: 'second' }, 'q', 'q']);
    await new ConfigWizard(store, io2).run();
    assert.match(io2.transcript, /Password changed\n/);
    assert.match(decryptConfig(await readFile(path, 'utf8'), configKeyFromPassword('second')), /\[disk\]/);

    const io3 = new ScriptedIO(['s', 'u', 'q', 'q']);
    await new ConfigWizard(store, io3).run();
    assert.match(io3.transcript, /c\/u\/q> u\nYour configuration is not encrypted\./);
    assert.equal(await readFile(path, 'utf8'), '[disk]\ntype = local\n\n');
  });
});

test('wizard: input ending mid-question drops the unsaved remote; at the menu it just quits', async () => {
  await withTemp(async (dir) => {
    const path = join(dir, 'w.conf');
    const store = ConfigStore.fromFile(path, new ConfigFile(), {});
    await assert.rejects(new ConfigWizard(store, new ScriptedIO(['n', 'half', 'crypt'])).run(), EndOfInputError);
    await assert.rejects(readFile(path), { code: 'ENOENT' });
    await new ConfigWizard(store, new ScriptedIO([])).run();
  });
});

test('cryptfs config without a terminal reads answers line by line from stdin', async () => {
  await withTemp(async (dir) => {
    const conf = join(dir, 'c.conf');
    const answers = ['n', 'disk', 'local', '', '', '', 'n', 'vault', 'crypt', `disk:${dir}/enc`, '', '', 'y', 'typed pw', 'typed pw', 'n', '', '', '', 'q'];
    const r = await run(conf, ['config'], answers.join('\n') + '\n');
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.err, /Config file ".*c\.conf" not found - using defaults/);
    assert.match(r.out, /WARNING: password2 \(the salt\) is not set/);
    const v = section(await readFile(conf, 'utf8'), 'vault');
    assert.equal(v.remote, `disk:${dir}/enc`);
    assert.equal(reveal(v.password), 'typed pw');
    assert.equal(v.password2, undefined);

    // The remote works: write through it, then read it back with the CLI.
    const factory = new RemoteFactory(() => ConfigStore.load({ path: conf, env: {} }));
    try {
      const vault = await factory.open('vault:');
      await vault.write('greeting.txt', (async function* () {
        yield Buffer.from('hello, vault\n');
      })());
    } finally {
      await factory.closeAll();
    }
    const c = await run(conf, ['cat', 'vault:greeting.txt']);
    assert.equal(c.code, 0, c.err);
    assert.equal(c.out, 'hello, vault\n');

    // Input that ends mid-remote is an error and saves nothing more.
    const before = await readFile(conf, 'utf8');
    const cut = await run(conf, ['config'], 'n\nthird\n');
    assert.equal(cut.code, 1);
    assert.match(cut.err, /input ended before the configuration was complete/);
    assert.equal(await readFile(conf, 'utf8'), before);
  });
});
