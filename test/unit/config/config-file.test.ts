import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigFile, DEFAULT_SECTION } from '../../../src/config/config-file.js';
import { ConfigError } from '../../../src/errors.js';
import { reveal } from '../../../src/crypt/obscure.js';
import { fixturePath } from './helpers.js';

test('rclone-written config round-trips byte for byte', () => {
  const text =
    '[a]\ntype = local\n\n' +
    '[s3 store]\ntype = s3\nsecret_access_key = abc=def/ghi+jkl\nendpoint = http://127.0.0.1:9000\n\n';
  const file = ConfigFile.parse(text, 'x.conf');
  assert.equal(file.toString(), text);
  assert.deepEqual(file.sections(), ['a', 's3 store']);
  assert.equal(file.getValue('s3 store', 'secret_access_key'), 'abc=def/ghi+jkl');
});

test('values are raw strings: =, :, quotes, # and ; stay as written', () => {
  const file = ConfigFile.parse(
    [
      '[r]',
      'password = abc=def',
      'url = http://h:1/p?a=b',
      'dq = "quoted"',
      "sq = 'single'",
      'hash = v # not a comment',
      'semi = ;not a comment',
      'empty =',
      'colon_sep : value',
      '  padded key   =    padded value   ',
      'k1 = `  kept spaces  `',
      'k2 = """tri"""',
      '`a=b` = quoted key',
      '"c:d" = dq key',
    ].join('\n'),
  );
  assert.deepEqual(file.get('r'), {
    password: 'abc=def',
    url: 'http://h:1/p?a=b',
    dq: '"quoted"',
    sq: "'single'",
    hash: 'v # not a comment',
    semi: ';not a comment',
    empty: '',
    colon_sep: 'value',
    'padded key': 'padded value',
    k1: '  kept spaces  ',
    k2: 'tri',
    'a=b': 'quoted key',
    'c:d': 'dq key',
  });
});

test('set/serialise/parse is lossless for awkward values and keys', () => {
  const values = [
    '',
    ' leading',
    'trailing ',
    '\ttab\t',
    '`',
    '`starts with backtick',
    'ends with backtick`',
    '`both`',
    'in`side',
    '"""',
    '"""triple"""',
    '""""""',
    'has "double" and `tick` =:',
    '#hash',
    ';semi',
    '[bracket]',
    'a\rb',
    'trailing cr\r',
    'ünïcödé 🔑',
    '\u00a0nbsp\u00a0',
  ];
  const file = new ConfigFile();
  values.forEach((v, i) => file.set('r', `k${i}`, v));
  const keys = ['a=b', 'c:d', ' sp ', '#h', ';s', '[x', '"q', 'x"y', 'ü-key'];
  keys.forEach((k, i) => file.set('keys', k, `v${i}`));
  const back = ConfigFile.parse(file.toString());
  values.forEach((v, i) => assert.equal(back.getValue('r', `k${i}`), v, `value ${JSON.stringify(v)}`));
  keys.forEach((k, i) => assert.equal(back.getValue('keys', k), `v${i}`, `key ${JSON.stringify(k)}`));
  assert.equal(back.toString(), file.toString());
});

test('plain values are written unquoted, as rclone writes them', () => {
  const file = new ConfigFile();
  file.set('r', 'type', 'crypt');
  file.set('r', 'password', 'abc=def');
  file.set('r', 'odd', 'in`side');
  file.set('r', 'spaced', ' x ');
  assert.equal(file.toString(), '[r]\ntype = crypt\npassword = abc=def\nodd = in`side\nspaced = ` x `\n\n');
});

test('values and keys that cannot be stored are refused', () => {
  const file = new ConfigFile();
  assert.throws(() => file.set('r', 'k', 'two\nlines'), ConfigError);
  assert.throws(() => file.set('r', '', 'v'), ConfigError);
  assert.throws(() => file.set('r', 'a=`b', 'v'), ConfigError);
  assert.throws(() => file.set('', 'k', 'v'), ConfigError);
  assert.throws(() => file.set(' r', 'k', 'v'), ConfigError);
  assert.deepEqual(file.sections(), []);
});

test('bad lines fail with the source name and line number', () => {
  const text = '# comment\n[a]\ntype = local\n\n[b]\ntype = s3\nthis line has no separator\n';
  assert.throws(
    () => ConfigFile.parse(text, '/etc/x.conf'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.startsWith('/etc/x.conf: line 7: expected "key = value"') &&
      err.message.includes('this line has no separator'),
  );
  assert.throws(() => ConfigFile.parse('[a]\n= novalue\n', 'f'), /f: line 2: expected "key = value"/);
  assert.throws(() => ConfigFile.parse('[a]\nk = `open\n', 'f'), /f: line 2: unterminated ` quote in value/);
  assert.throws(() => ConfigFile.parse('[a]\n`k = v\n', 'f'), /f: line 2: unterminated ` quote in key/);
  assert.throws(() => ConfigFile.parse('[]\nk = v\n', 'f'), /f: line 2: key outside of any section/);
});

test('comments: kept with their section or key, trailing ones kept at the end', () => {
  const text =
    '# file header\n; second\n[a]\n# about type\ntype = local\n\n[b]\n# about b\n\ntype = s3\n# trailing\n';
  const file = ConfigFile.parse(text);
  // Same layout as rclone's writer (blank lines between comments are not kept).
  const expected = '# file header\n; second\n[a]\n# about type\ntype = local\n\n[b]\n# about b\ntype = s3\n\n# trailing\n';
  assert.equal(file.toString(), expected);
  file.set('b', 'region', 'x');
  file.deleteSection('a');
  assert.equal(file.toString(), '[b]\n# about b\ntype = s3\nregion = x\n\n# trailing\n');
});

test('keys before any section go to DEFAULT, written first without a header', () => {
  const file = ConfigFile.parse('top = 1\n[a]\ntype = local\n');
  assert.deepEqual(file.sections(), [DEFAULT_SECTION, 'a']);
  assert.equal(file.getValue(DEFAULT_SECTION, 'top'), '1');
  assert.equal(file.toString(), 'top = 1\n\n[a]\ntype = local\n\n');
  const later = ConfigFile.parse('[a]\ntype = local\n[DEFAULT]\nx = y\n');
  assert.equal(later.toString(), '[a]\ntype = local\n\n[DEFAULT]\nx = y\n\n');
});

test('repeated sections merge and repeated keys overwrite in place', () => {
  const file = ConfigFile.parse('[a]\nx = 1\ny = 2\n[b]\nz = 3\n[a]\nx = 9\nw = 4\n');
  assert.deepEqual(file.sections(), ['a', 'b']);
  assert.deepEqual(file.entries('a'), [
    ['x', '9'],
    ['y', '2'],
    ['w', '4'],
  ]);
});

test('CRLF line endings, BOM and surrounding blanks are accepted', () => {
  const file = ConfigFile.parse('\ufeff[a]\r\n  type = local\r\n\r\n[ b ]\r\nk = v\r\n');
  assert.deepEqual(file.sections(), ['a', 'b']);
  assert.deepEqual(file.get('a'), { type: 'local' });
  assert.equal(file.getValue('b', 'k'), 'v');
});

test('section editing: rename keeps place and comments, copy takes values only', () => {
  const file = ConfigFile.parse('[a]\nk = 1\n# c\n[b]\nk = 2\n[c]\nk = 3\n');
  file.renameSection('b', 'bee');
  assert.deepEqual(file.sections(), ['a', 'bee', 'c']);
  assert.equal(file.toString(), '[a]\nk = 1\n\n# c\n[bee]\nk = 2\n\n[c]\nk = 3\n\n');
  file.copySection('bee', 'b2');
  assert.deepEqual(file.get('b2'), { k: '2' });
  assert.deepEqual(file.sections(), ['a', 'bee', 'c', 'b2']);
  assert.throws(() => file.renameSection('a', 'c'), ConfigError);
  assert.throws(() => file.renameSection('nope', 'x'), ConfigError);
  assert.throws(() => file.copySection('a', 'c'), ConfigError);
  assert.equal(file.deleteSection('a'), true);
  assert.equal(file.deleteSection('a'), false);
  assert.equal(file.hasSection('a'), false);
  assert.equal(file.get('a'), undefined);
  assert.equal(file.deleteKey('c', 'k'), true);
  assert.deepEqual(file.get('c'), {});
  assert.equal(file.toString(), '# c\n[bee]\nk = 2\n\n[c]\n\n[b2]\nk = 2\n\n');
});

test('get() returns a copy and keeps a "__proto__" key as data', () => {
  const file = ConfigFile.parse('[a]\n__proto__ = x\ntype = local\n');
  const opts = file.get('a')!;
  assert.equal(Object.getPrototypeOf(opts), Object.prototype);
  assert.deepEqual(Object.keys(opts), ['__proto__', 'type']);
  opts.type = 'changed';
  assert.equal(file.getValue('a', 'type'), 'local');
});

test('the rclone 1.60.1 fixture config parses with the right sections and options', () => {
  const path = fixturePath('rclone-1.60.1', 'rclone.conf');
  const text = readFileSync(path, 'utf8');
  const file = ConfigFile.parse(text, path);
  assert.deepEqual(file.sections(), [
    'std_b32',
    'std_b64',
    'std_b32768',
    'std_b32_nodir',
    'obf',
    'obf_nodir',
    'off',
    'std_defsalt',
    'nodata',
    'zero',
    'zero_b64',
    'zero_b32768',
    'zero_obf',
    'jsgen',
    'errors',
    'unicode_pw',
  ]);
  assert.deepEqual(file.get('std_b32'), {
    type: 'crypt',
    remote: 'enc/std_b32',
    filename_encryption: 'standard',
    directory_name_encryption: 'true',
    filename_encoding: 'base32',
    password: 'ZTsxJzaIJR7n5cMif98_CIDrg20JRg',
    password2: 'kSIWuq2bAR3eB-fMbprzDnt5d68BHlA',
  });
  assert.equal(file.getValue('std_defsalt', 'password2'), undefined);
  assert.equal(file.getValue('nodata', 'no_data_encryption'), 'true');
  assert.equal(reveal(file.getValue('std_b32', 'password')!), 'potato');
  assert.equal(reveal(file.getValue('unicode_pw', 'password')!), 'pässwörd 🔑 and a tail longer than sixteen bytes');
  for (const name of file.sections()) assert.equal(file.getValue(name, 'type'), 'crypt', name);
  // What rclone writes back after an edit (checked with `rclone config update`):
  // the same text minus the blank line after the header comments, which go with
  // the first section, plus a blank line after the last section.
  const expected = text.replace(/(sausage"\) unless noted\.\n(?:#.*\n)*)\n/, '$1') + '\n';
  assert.notEqual(expected, text + '\n');
  assert.equal(file.toString(), expected);
});
