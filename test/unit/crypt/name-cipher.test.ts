import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NameCipher,
  parseFilenameEncryptionMode,
  type FilenameEncodingName,
  type FilenameEncryptionMode,
  type NameCipherOptions,
} from '../../../src/crypt/name-cipher.js';
import { getNameEncoding } from '../../../src/crypt/name-encoding.js';
import { EmeCipher } from '../../../src/crypt/eme.js';
import { pkcs7Pad } from '../../../src/crypt/pkcs7.js';
import { ConfigError, NameDecryptError, NameTooLongError } from '../../../src/errors.js';
import { repoRoot } from '../../helpers/fixtures.js';

const root = repoRoot;
const vectors = JSON.parse(readFileSync(join(root, 'test/fixtures/rclone-crypt.json'), 'utf8'));
const upstream = vectors.a_upstream_test_vectors;
const v160 = vectors.b_rclone_1_60_1;
const FIXTURES = join(root, 'test/fixtures/rclone-1.60.1');
const ENCODINGS: FilenameEncodingName[] = ['base32', 'base64', 'base32768'];

// ---------------------------------------------------------------- keys

const DEFAULT_SALT = Buffer.from('a80df43a8fbd0308a7cab83e581f86b1', 'hex');
const keyCache = new Map<string, { nameKey: Buffer; nameTweak: Buffer }>();

/** rclone key derivation (docs/crypt-format.md §1), done here with node:crypto so the test stands alone. */
function nameKeys(password: string, password2: string): { nameKey: Buffer; nameTweak: Buffer } {
  const id = JSON.stringify([password, password2]);
  let keys = keyCache.get(id);
  if (!keys) {
    const material =
      password === ''
        ? Buffer.alloc(80)
        : scryptSync(Buffer.from(password, 'utf8'), password2 === '' ? DEFAULT_SALT : Buffer.from(password2, 'utf8'), 80, {
            N: 16384,
            r: 8,
            p: 1,
            maxmem: 64 * 1024 * 1024,
          });
    keys = { nameKey: material.subarray(32, 64), nameTweak: material.subarray(64, 80) };
    keyCache.set(id, keys);
  }
  return keys;
}

const ZERO = { nameKey: Buffer.alloc(32), nameTweak: Buffer.alloc(16) };

interface RemoteConfig {
  filename_encryption: FilenameEncryptionMode;
  filename_encoding?: FilenameEncodingName;
  directory_name_encryption?: boolean;
  suffix_effective?: string;
  password: string;
  password2?: string;
}

function cipherForRemote(remote: string): NameCipher {
  const conf = v160.remotes[remote] as RemoteConfig | undefined;
  assert.ok(conf, `remote ${remote} in the JSON`);
  return new NameCipher({
    mode: conf.filename_encryption,
    encoding: conf.filename_encoding,
    directoryNameEncryption: conf.directory_name_encryption,
    suffix: conf.suffix_effective,
    ...nameKeys(conf.password, conf.password2 ?? ''),
  });
}

function zeroCipher(opts: Partial<NameCipherOptions> = {}): NameCipher {
  return new NameCipher({ mode: 'standard', ...ZERO, ...opts });
}

/** The error a call throws, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Vector error texts carry notes in parentheses; what is left is rclone's message. */
const messageOf = (err: string) => err.replace(/ \(.*\)$/, '');

// ---------------------------------------------------------------- upstream vectors (cipher_test.go)

test('encrypt_segment_zero_key: every encoding, both directions', (t) => {
  let count = 0;
  for (const encoding of ENCODINGS) {
    const cipher = zeroCipher({ encoding });
    const list = upstream.encrypt_segment_zero_key[encoding] as { plain: string; encrypted: string }[];
    assert.ok(list.length > 0);
    for (const v of list) {
      assert.equal(cipher.encryptSegment(v.plain), v.encrypted, `${encoding} encrypt ${JSON.stringify(v)}`);
      assert.equal(cipher.decryptSegment(v.encrypted), v.plain, `${encoding} decrypt ${JSON.stringify(v)}`);
      count++;
    }
  }
  t.diagnostic(`${count} vectors`);
});

test('decrypt_segment_errors_zero_key: rclone error texts', (t) => {
  let count = 0;
  for (const v of upstream.decrypt_segment_errors_zero_key as { encoding: string; in: string; err: string }[]) {
    const encodings = v.encoding === 'any' ? ENCODINGS : [v.encoding as FilenameEncodingName];
    for (const encoding of encodings) {
      let input: string;
      const repeated = /^'(.)' repeated (\d+) times$/.exec(v.in);
      const repeatedCp = /^U\+([0-9A-F]+) repeated (\d+) times$/.exec(v.in);
      const encodingOf = /^encoding of the \d+-byte string "(.*)"$/.exec(v.in);
      if (repeated) input = repeated[1]!.repeat(Number(repeated[2]));
      else if (repeatedCp) input = String.fromCodePoint(parseInt(repeatedCp[1]!, 16)).repeat(Number(repeatedCp[2]));
      else if (encodingOf) input = getNameEncoding(encoding).encode(Buffer.from(encodingOf[1]!));
      else throw new Error(`unknown input description ${v.in}`);
      const err = thrown(() => zeroCipher({ encoding }).decryptSegment(input));
      assert.ok(err instanceof NameDecryptError, `${encoding} ${JSON.stringify(v)} throws NameDecryptError`);
      assert.equal(err.message, messageOf(v.err), `${encoding} ${JSON.stringify(v)}`);
      count++;
    }
  }
  t.diagnostic(`${count} checks`);
});

test('encrypt_path_zero_key: paths with and without directory name encryption', (t) => {
  let count = 0;
  for (const encoding of ENCODINGS) {
    for (const [variant, list] of Object.entries(
      upstream.encrypt_path_zero_key[encoding] as Record<string, { plain: string; encrypted: string }[]>,
    )) {
      const directoryNameEncryption = variant === 'directory_name_encryption_true';
      assert.ok(directoryNameEncryption || variant === 'directory_name_encryption_false', variant);
      const cipher = zeroCipher({ encoding, directoryNameEncryption });
      for (const v of list) {
        const what: string = `${encoding} ${variant} ${JSON.stringify(v)}`;
        assert.equal(cipher.encryptFileName(v.plain), v.encrypted, `encrypt ${what}`);
        assert.equal(cipher.decryptFileName(v.encrypted), v.plain, `decrypt ${what}`);
        count++;
      }
    }
  }
  t.diagnostic(`${count} vectors`);
});

interface NonstandardVector {
  mode: FilenameEncryptionMode;
  suffix?: string;
  dir_enc?: boolean;
  plain?: string;
  encrypted?: string;
  in?: string;
  out?: string;
  err?: string;
}

function nonstandardCipher(v: NonstandardVector): NameCipher {
  // ".bin (default)" means the option is not set.
  const suffix = v.suffix === undefined || v.suffix.endsWith('(default)') ? undefined : v.suffix;
  return new NameCipher({ mode: v.mode, suffix, directoryNameEncryption: v.dir_enc ?? true, ...ZERO });
}

test('nonstandard_encrypt_zero_key: off and obfuscate', (t) => {
  const list = upstream.nonstandard_encrypt_zero_key as NonstandardVector[];
  assert.ok(list.length > 0);
  for (const v of list) {
    const cipher = nonstandardCipher(v);
    assert.equal(cipher.encryptFileName(v.plain!), v.encrypted, `encrypt ${JSON.stringify(v)}`);
    assert.equal(cipher.decryptFileName(v.encrypted!), v.plain, `decrypt ${JSON.stringify(v)}`);
  }
  t.diagnostic(`${list.length} vectors`);
});

test('nonstandard_decrypt_zero_key: off and obfuscate, including failures', (t) => {
  const list = upstream.nonstandard_decrypt_zero_key as NonstandardVector[];
  assert.ok(list.length > 0);
  for (const v of list) {
    const cipher = nonstandardCipher(v);
    if (v.err !== undefined) {
      const err = thrown(() => cipher.decryptFileName(v.in!));
      assert.ok(err instanceof NameDecryptError, `fails ${JSON.stringify(v)}`);
      // rclone 1.60.1's text for the only suffix it has, the >= 1.63 one for the others.
      const expected = cipher.suffix === '.bin' ? 'not an encrypted file - no ".bin" suffix' : 'not an encrypted file - does not match suffix';
      assert.equal(err.message, expected, JSON.stringify(v));
    } else {
      assert.equal(cipher.decryptFileName(v.in!), v.out, `decrypt ${JSON.stringify(v)}`);
    }
  }
  t.diagnostic(`${list.length} vectors`);
});

test('decrypt_dir_name_notes: identity when off; a prefixed encoding of "1" is not a multiple of the block size', () => {
  const off = new NameCipher({ mode: 'off', ...ZERO });
  assert.equal(off.decryptDirName('1/12/123.bin'), '1/12/123.bin');
  assert.equal(off.decryptDirName('.bin'), '.bin');
  assert.equal(off.encryptDirName('1/12/123'), '1/12/123');
  const nodir = zeroCipher({ directoryNameEncryption: false });
  assert.equal(nodir.decryptDirName('1/12/123'), '1/12/123');
  assert.equal(nodir.encryptDirName('1/12/123'), '1/12/123');
  for (const encoding of ENCODINGS) {
    const cipher = zeroCipher({ encoding });
    const enc = getNameEncoding(encoding);
    const valid = enc.encode(Buffer.alloc(32, 0x41));
    const prefixed = enc.encode(Buffer.concat([Buffer.from('1'), enc.decode(valid)]));
    assert.throws(() => cipher.decryptDirName(prefixed), { message: 'not a multiple of blocksize' }, encoding);
  }
});

test('roundtrip_only_zero_key', (t) => {
  const list = upstream.roundtrip_only_zero_key as { mode: FilenameEncryptionMode; in: string }[];
  assert.ok(list.length > 0);
  for (const v of list) {
    const cipher = new NameCipher({ mode: v.mode, ...ZERO });
    const encrypted = cipher.encryptFileName(v.in);
    if (v.mode !== 'off') assert.notEqual(encrypted, v.in, `changed ${JSON.stringify(v)}`);
    assert.equal(cipher.decryptFileName(encrypted), v.in, `file ${JSON.stringify(v)}`);
    assert.equal(cipher.decryptDirName(cipher.encryptDirName(v.in)), v.in, `dir ${JSON.stringify(v)}`);
  }
  t.diagnostic(`${list.length} vectors`);
});

// ---------------------------------------------------------------- rclone 1.60.1 vectors

test('name_vectors: 13 remotes × 40 names, rclone cryptdecode both directions', (t) => {
  const remotes = Object.keys(v160.name_vectors);
  assert.equal(remotes.length, 13);
  let count = 0;
  for (const remote of remotes) {
    const cipher = cipherForRemote(remote);
    const list = v160.name_vectors[remote] as {
      plain: string;
      encrypted: string;
      rclone_decrypts_back_to: string | null;
      plain_utf8_len: number;
      encrypted_utf8_len: number;
    }[];
    assert.equal(list.length, 40, remote);
    for (const v of list) {
      const what = `${remote} ${JSON.stringify(v.plain)} -> ${JSON.stringify(v.encrypted)}`;
      assert.equal(cipher.encryptFileName(v.plain), v.encrypted, `encrypt ${what}`);
      if (v.rclone_decrypts_back_to === null) {
        assert.throws(() => cipher.decryptFileName(v.encrypted), NameDecryptError, `decrypt fails ${what}`);
      } else {
        assert.equal(cipher.decryptFileName(v.encrypted), v.rclone_decrypts_back_to, `decrypt ${what}`);
      }
      // Single-segment, unversioned standard names: the length helper matches what rclone wrote.
      if (cipher.mode === 'standard' && !v.plain.includes('/') && !/-v\d{4}-/.test(v.plain)) {
        const predicted = cipher.encryptedSegmentLength(v.plain_utf8_len);
        if (cipher.encoding.name === 'base32768') assert.ok(predicted >= v.encrypted_utf8_len, `length bound ${what}`);
        else assert.equal(predicted, v.encrypted_utf8_len, `length ${what}`);
      }
      count++;
    }
  }
  t.diagnostic(`${count} names`);
});

test('decode_vectors: rclone cryptdecode results (null = must fail)', (t) => {
  let count = 0;
  for (const [remote, list] of Object.entries(v160.decode_vectors as Record<string, { input: string; output: string | null }[]>)) {
    const cipher = cipherForRemote(remote);
    for (const v of list) {
      const what = `${remote} ${JSON.stringify(v)}`;
      if (v.output === null) {
        assert.throws(() => cipher.decryptFileName(v.input), NameDecryptError, what);
      } else {
        assert.equal(cipher.decryptFileName(v.input), v.output, what);
      }
      count++;
    }
  }
  t.diagnostic(`${count} vectors`);
});

// ---------------------------------------------------------------- fixture trees written by rclone

interface TreeEntry {
  path: string;
  isDir: boolean;
}

function walk(dir: string, prefix = ''): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    out.push({ path, isDir: entry.isDirectory() });
    if (entry.isDirectory()) out.push(...walk(join(dir, entry.name), path));
  }
  return out;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

test('fixture trees: stored names decrypt to the plaintext tree and re-encrypt to themselves', (t) => {
  const plainTree = walk(join(FIXTURES, 'plain'));
  const plainFiles = plainTree.filter((e) => !e.isDir).map((e) => e.path);
  const plainDirs = plainTree.filter((e) => e.isDir).map((e) => e.path);
  const remotes = readdirSync(join(FIXTURES, 'enc'));
  assert.ok(remotes.length >= 13, 'all fixture remotes present');

  // Remotes that hold something other than a copy of plain/: what the JSON says they hold.
  const expectedFiles: Record<string, string[]> = {
    unicode_pw: (v160.data_vectors.unicode_pw as { plain_path: string }[]).map((f) => f.plain_path),
    jsgen: (v160.deterministic_data.files as { name: string }[]).map((f) => f.name),
    errors: (v160.error_cases as { name: string | null }[]).flatMap((f) => (f.name === null ? [] : [f.name])),
  };
  // error_cases entries without a plaintext name are stored names that must not decrypt.
  const undecryptable: Record<string, string[]> = {
    errors: (v160.error_cases as { name: string | null; enc: string }[]).filter((f) => f.name === null).map((f) => f.enc),
  };
  assert.ok(undecryptable.errors!.length > 0);

  let count = 0;
  for (const remote of remotes) {
    const cipher = cipherForRemote(remote);
    const files: string[] = [];
    const dirs: string[] = [];
    for (const entry of walk(join(FIXTURES, 'enc', remote))) {
      const what = `${remote}: ${entry.path}`;
      if (undecryptable[remote]?.includes(entry.path)) {
        assert.throws(() => cipher.decryptFileName(entry.path), NameDecryptError, what);
        continue;
      }
      if (entry.isDir) {
        const plain = cipher.decryptDirName(entry.path);
        assert.equal(cipher.encryptDirName(plain), entry.path, `re-encrypt dir ${what}`);
        dirs.push(plain);
      } else {
        const plain = cipher.decryptFileName(entry.path);
        assert.equal(cipher.encryptFileName(plain), entry.path, `re-encrypt file ${what}`);
        files.push(plain);
      }
      count++;
    }
    if (expectedFiles[remote]) {
      assert.deepEqual(sorted(files), sorted(expectedFiles[remote]!), `${remote} file names`);
    } else {
      assert.deepEqual(sorted(files), sorted(plainFiles), `${remote} file names`);
      assert.deepEqual(sorted(dirs), sorted(plainDirs), `${remote} directory names`);
    }
  }
  t.diagnostic(`${remotes.length} remotes, ${count} stored names`);
});

// ---------------------------------------------------------------- behaviour checked against rclone 1.60.1

test('a name that is not encrypted: rclone 1.60.1 says no ".bin" suffix; another suffix gets the >= 1.63 words', () => {
  // `rclone ls -vv` 1.60.1 on an off-mode crypt: 'notenc.txt: Skipping undecryptable file name: not an encrypted file - no ".bin" suffix'.
  const bin = new NameCipher({ mode: 'off', ...ZERO });
  assert.throws(() => bin.decryptFileName('notenc.txt'), { message: 'not an encrypted file - no ".bin" suffix' });
  assert.throws(() => new NameCipher({ mode: 'obfuscate', ...ZERO }).decryptFileName('nodot'), {
    message: 'not an encrypted file - no ".bin" suffix',
  });
  const custom = new NameCipher({ mode: 'off', suffix: '.enc', ...ZERO });
  assert.throws(() => custom.decryptFileName('notenc.txt'), { message: 'not an encrypted file - does not match suffix' });
});

test('obfuscate prefixes: any Go integer, int64 wrap-around, negative rotation (recorded from rclone 1.60.1)', () => {
  const cipher = new NameCipher({ mode: 'obfuscate', ...ZERO });
  // Outputs of `rclone cryptdecode zero_obf: …` (all-zero keys).
  const cases: [string, string | null][] = [
    ['-53.lipps', 'nkrru'],
    ['9223372036854775807.lipps', 'dahhk'],
    ['9223372036854775808.lipps', null],
    ['-9223372036854775808.lipps', 'spwwz'],
    ['9223372036854767647.lipps', 'OLSSV'],
    ['53.a!', 'W'],
    ['53.!', ''],
    ['+-5.abc', null],
    ['0x10.abc', null],
    ['1_0.abc', null],
    [' 5.abc', null],
    ['-1000.0123456789', '0123456789'],
    ['-1000.xyzXYZ', 'wxyWXY'],
    ['-1000.ÿ¡', 'İÒ'],
    ['-1000.ĀĂ', 'ŮŰ'],
  ];
  for (const [input, output] of cases) {
    if (output === null) {
      assert.throws(() => cipher.decryptFileName(input), { message: 'not an encrypted file - no ".bin" suffix' }, input);
    } else {
      assert.equal(cipher.decryptFileName(input), output, input);
    }
  }
});

test('version suffixes: re-written as Go formats them (recorded from rclone 1.60.1)', () => {
  const cipher = zeroCipher();
  // `rclone cryptdecode --reverse zero: …`
  const cases: [string, string][] = [
    ['1-v2001-02-03-040506-+12', '0d3nvubi0qgfvdpimegi4shks8l3dkbqs94gobgc3hf27i3eih60'],
    [
      'a-v2001-02-03-040506-123-v2001-02-03-040506-+12',
      'hob5j5n7iip0fp4mlgthn76q1ptn3qbgrd10q2ekjs36rv61ghbg-v2001-02-03-040506-012',
    ],
    [
      'a-v2001-02-03-040506-123-v2001-02-03-040506--00',
      'hob5j5n7iip0fp4mlgthn76q1ptn3qbgrd10q2ekjs36rv61ghbg-v2001-02-03-040506-000',
    ],
    ['.v-v2001-02-03-040506-123', 'qhm5j3dv393s07sfsbe079jmt4-v2001-02-03-040506-123'],
    ['-v2001-02-03-040506-123.txt', 'rtjolveqid62u9uo6oncgmid54-v2001-02-03-040506-123'],
    ['-v2001-02-03-040506-123', '-v2001-02-03-040506-123'],
    ['ı', 'k93h913m1uro32ipal3tjlcakg'],
  ];
  for (const [plain, encrypted] of cases) assert.equal(cipher.encryptFileName(plain), encrypted, plain);
  // `rclone cryptdecode zero: …`
  assert.equal(cipher.decryptFileName('p0e52nreeaj0a5ea7s64m4j72s-v2000-02-29-040506-123'), '1-v2000-02-29-040506-123');
  assert.throws(() => cipher.decryptFileName('p0e52nreeaj0a5ea7s64m4j72s-v2001-02-29-040506-123'), NameDecryptError);
  assert.throws(() => cipher.decryptFileName('p0e52nre\neaj0a5ea7s64m4j72s'), NameDecryptError);
});

test('base32: Go upper-cases ı/ſ to I/S, so they decode when the byte length still pads right (recorded from rclone 1.60.1)', () => {
  const cipher = zeroCipher();
  assert.equal(cipher.encryptFileName('n7818'), 'ipsuf0ihioi4fkisk7lcslnkt8');
  // Eight 2-byte letters: 34 bytes pad to 40, exactly as 26 ASCII characters pad to 32.
  assert.equal(cipher.decryptFileName('ıpſuf0ıhıoı4fkıſk7lcſlnkt8'), 'n7818');
  // Seven: the padding no longer lines up and rclone fails.
  assert.throws(() => cipher.decryptFileName('ipsuf0ıhıoı4fkıſk7lcſlnkt8'), NameDecryptError);
});

test('version rule: invalid dates and versions in the extension are encrypted whole', () => {
  const cipher = zeroCipher();
  const whole = (name: string) => assert.equal(cipher.encryptFileName(name), cipher.encryptSegment(name), name);
  whole('file-v2001-13-03-040506-123.txt');
  whole('file-v2001-04-31-040506-123.txt');
  whole('file-v2001-02-03-240506-123.txt');
  whole('file-v2001-02-03-046006-123.txt');
  whole('file-v2001-02-03-040560-123.txt');
  whole('a.b-v2001-02-03-040506-123');
  // The version goes before the last '.' of the transformed text.
  const obf = new NameCipher({ mode: 'obfuscate', ...ZERO });
  const stored = obf.encryptFileName('a.b.c-v2001-02-03-040506-123.txt');
  assert.match(stored, /-v2001-02-03-040506-123\.[^.]*$/);
  assert.equal(obf.decryptFileName(stored), 'a.b.c-v2001-02-03-040506-123.txt');
  // Only the last segment carries a version.
  assert.equal(
    cipher.encryptFileName('d-v2001-02-03-040506-123/f'),
    `${cipher.encryptSegment('d-v2001-02-03-040506-123')}/${cipher.encryptSegment('f')}`,
  );
});

test('empty segments are kept (pitfall 24)', () => {
  for (const mode of ['standard', 'obfuscate'] as const) {
    const cipher = new NameCipher({ mode, ...ZERO });
    for (const path of ['a//b', 'trailing/', '/lead', '']) {
      const encrypted = cipher.encryptFileName(path);
      assert.equal(encrypted.split('/').length, path.split('/').length, `${mode} ${path}`);
      assert.equal(cipher.decryptFileName(encrypted), path, `${mode} ${path}`);
    }
  }
});

// ---------------------------------------------------------------- limits

test('NameTooLongError for a 2048-byte segment; 2047 bytes round-trip in every encoding', () => {
  for (const encoding of ENCODINGS) {
    const cipher = zeroCipher({ encoding });
    const ok = 'é'.repeat(1023) + 'x'; // 2047 UTF-8 bytes
    const encrypted = cipher.encryptFileName(`dir/${ok}`);
    assert.equal(cipher.decryptFileName(encrypted), `dir/${ok}`, encoding);

    const tooLong = 'y'.repeat(2048);
    const err = thrown(() => cipher.encryptFileName(`dir/${tooLong}`));
    assert.ok(err instanceof NameTooLongError, `${encoding}: NameTooLongError`);
    assert.equal(err.segment, tooLong);
    assert.equal(err.length, 2048);
    assert.equal(err.limit, 2047);
    assert.match(err.message, /2048 bytes, the limit is 2047/);
    assert.throws(() => cipher.encryptDirName(tooLong), NameTooLongError);
    assert.throws(() => cipher.encryptedSegmentLength(2048), NameTooLongError);
  }
  // Obfuscate and off have no EME limit.
  const long = 'z'.repeat(5000);
  const obf = new NameCipher({ mode: 'obfuscate', ...ZERO });
  assert.equal(obf.decryptFileName(obf.encryptFileName(long)), long);
});

test('encryptedSegmentLength: 143/175 bytes are the largest segments for a 255-byte remote', () => {
  const b32 = zeroCipher({ encoding: 'base32' });
  assert.equal(b32.encryptedSegmentLength(143), 231);
  assert.equal(b32.encryptedSegmentLength(144), 256);
  const b64 = zeroCipher({ encoding: 'base64' });
  assert.equal(b64.encryptedSegmentLength(175), 235);
  assert.equal(b64.encryptedSegmentLength(176), 256);
  assert.throws(() => new NameCipher({ mode: 'obfuscate', ...ZERO }).encryptedSegmentLength(10));
  assert.equal(new NameCipher({ mode: 'off', ...ZERO }).encryptedSegmentLength(10), 10);
  for (let n = 1; n < 300; n++) {
    assert.equal(b32.encryptedSegmentLength(n), b32.encryptSegment('q'.repeat(n)).length, `base32 ${n}`);
  }
});

// ---------------------------------------------------------------- options and odd input

test('off mode suffix option (>= 1.63 rules)', () => {
  const make = (suffix?: string) => new NameCipher({ mode: 'off', suffix, ...ZERO });
  assert.equal(make().encryptFileName('a/b'), 'a/b.bin');
  assert.equal(make('jpg').encryptFileName('a/b'), 'a/b.jpg');
  assert.equal(make('NONE').encryptFileName('a/b'), 'a/b');
  assert.equal(make('none').decryptFileName('a/b'), 'a/b');
  assert.throws(() => make('none').decryptFileName(''), NameDecryptError);
  assert.throws(() => make().decryptFileName('a/b.BIN'), NameDecryptError);
});

test('obfuscation works on code points and passes lone surrogates through as "!." (pitfall 27)', () => {
  const cipher = new NameCipher({ mode: 'obfuscate', ...ZERO });
  const emoji = 'x😀y';
  const stored = cipher.encryptFileName(emoji);
  const sum = [...emoji].reduce((s, ch) => s + ch.codePointAt(0)!, 0) % 256;
  assert.ok(stored.startsWith(`${sum}.`), stored);
  assert.equal([...stored.slice(stored.indexOf('.') + 1)].length, 3, 'three code points out');
  assert.equal(cipher.decryptFileName(stored), emoji);
  const lone = 'bad\uD800name';
  assert.equal(cipher.encryptFileName(lone), `!.${lone}`);
  assert.equal(cipher.decryptFileName(`!.${lone}`), lone);
});

test('standard decryption does not validate UTF-8 (pitfall 23): invalid bytes decode as U+FFFD', () => {
  // Encrypt raw non-UTF-8 bytes the way rclone does for a Go string holding them.
  const raw = Buffer.from([0x66, 0xff, 0x67, 0xc3]);
  const stored = getNameEncoding('base32').encode(new EmeCipher(ZERO.nameKey).encrypt(ZERO.nameTweak, pkcs7Pad(16, raw)));
  assert.equal(zeroCipher().decryptFileName(stored), 'f\uFFFDg\uFFFD');
});

test('a wrong key: names fail to decrypt with NameDecryptError, never a crash', () => {
  const right = cipherForRemote('std_b32');
  const wrong = zeroCipher();
  let failures = 0;
  for (let i = 0; i < 200; i++) {
    const stored = right.encryptFileName(`name-${i}.txt`);
    const err = thrown(() => wrong.decryptFileName(stored));
    if (err !== undefined) {
      assert.ok(err instanceof NameDecryptError, String(err));
      failures++;
    }
  }
  assert.ok(failures > 180, `${failures}/200 failed`);
});

test('option parsing and validation', () => {
  assert.equal(parseFilenameEncryptionMode('Obfuscate'), 'obfuscate');
  assert.throws(() => parseFilenameEncryptionMode('rot13'), ConfigError);
  assert.throws(() => new NameCipher({ mode: 'standard', nameKey: Buffer.alloc(16), nameTweak: Buffer.alloc(16) }), RangeError);
  assert.throws(() => new NameCipher({ mode: 'standard', nameKey: Buffer.alloc(32), nameTweak: Buffer.alloc(8) }), RangeError);
});

test('speed: a thousand names encrypt and decrypt in milliseconds', (t) => {
  const cipher = cipherForRemote('std_b32');
  const names = Array.from({ length: 1000 }, (_, i) => `directory ${i % 10}/file number ${i}.txt`);
  const start = process.hrtime.bigint();
  const stored = names.map((n) => cipher.encryptFileName(n));
  const mid = process.hrtime.bigint();
  const back = stored.map((s) => cipher.decryptFileName(s));
  const end = process.hrtime.bigint();
  assert.deepEqual(back, names);
  const encMs = Number(mid - start) / 1e6;
  const decMs = Number(end - mid) / 1e6;
  t.diagnostic(`1000 two-segment paths: encrypt ${encMs.toFixed(1)} ms, decrypt ${decMs.toFixed(1)} ms`);
  assert.ok(encMs < 1000 && decMs < 1000, `encrypt ${encMs} ms, decrypt ${decMs} ms`);
});
