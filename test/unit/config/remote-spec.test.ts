import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRemoteName,
  formatRemotePrefix,
  isValidRemoteName,
  parseRemoteSpec,
  type RemoteSpec,
} from '../../../src/config/remote-spec.js';
import { ConfigError } from '../../../src/errors.js';

const local = (path: string): RemoteSpec => ({ remoteName: undefined, path });
const named = (remoteName: string, path: string, params?: Record<string, string>): RemoteSpec =>
  params ? { remoteName, params, path } : { remoteName, path };
const onTheFly = (backendType: string, path: string, params?: Record<string, string>): RemoteSpec =>
  params ? { remoteName: undefined, backendType, params, path } : { remoteName: undefined, backendType, path };

const table: Array<[string, RemoteSpec]> = [
  // named remotes
  ['remote:', named('remote', '')],
  ['remote:path/to/dir', named('remote', 'path/to/dir')],
  ['remote:/abs/path', named('remote', '/abs/path')],
  ['remote:path:with:colons', named('remote', 'path:with:colons')],
  ['my remote:x', named('my remote', 'x')],
  ['a.b-c_d:x', named('a.b-c_d', 'x')],
  ['a+b@c:', named('a+b@c', '')],
  ['ünï 名前:p', named('ünï 名前', 'p')],
  ['r-:x', named('r-', 'x')],
  // local paths
  ['/a/b', local('/a/b')],
  ['./x', local('./x')],
  ['relative/dir', local('relative/dir')],
  ['file.txt', local('file.txt')],
  ['dir/a:b', local('dir/a:b')],
  ['./x:y', local('./x:y')],
  ['/abs/with:colon', local('/abs/with:colon')],
  ['a\\b:c', local('a\\b:c')],
  // prefix is not a valid remote name → local path (rclone 1.60.1 errors instead)
  ['bad*name:x', local('bad*name:x')],
  [' lead:x', local(' lead:x')],
  ['trail :x', local('trail :x')],
  ['-dash:x', local('-dash:x')],
  // connection strings
  [':local:', onTheFly('local', '')],
  [':local:/tmp/x', onTheFly('local', '/tmp/x')],
  [':s3,provider=Other:bucket/key', onTheFly('s3', 'bucket/key', { provider: 'Other' })],
  [
    ':crypt,remote=/srv/enc,password=ZTsxJzaIJR7n5cMif98_CIDrg20JRg:sub/dir',
    onTheFly('crypt', 'sub/dir', { remote: '/srv/enc', password: 'ZTsxJzaIJR7n5cMif98_CIDrg20JRg' }),
  ],
  [':crypt,remote="other:enc,1",password=x:', onTheFly('crypt', '', { remote: 'other:enc,1', password: 'x' })],
  [":crypt,remote='it''s:here':p", onTheFly('crypt', 'p', { remote: "it's:here" })],
  [':crypt,remote="say ""hi""",flag:', onTheFly('crypt', '', { remote: 'say "hi"', flag: 'true' })],
  [':local,case_insensitive,nounc=false:/x', onTheFly('local', '/x', { case_insensitive: 'true', nounc: 'false' })],
  [':local,a=x"y:p', onTheFly('local', 'p', { a: 'x"y' })],
  [':local,a=:p', onTheFly('local', 'p', { a: '' })],
  // named remotes with overrides
  ['remote,filename_encoding=base64:dir', named('remote', 'dir', { filename_encoding: 'base64' })],
  ['remote,a=1,a=2:', named('remote', '', { a: '2' })],
];

test('remote spec parsing table', () => {
  for (const [spec, expected] of table) {
    assert.deepEqual(parseRemoteSpec(spec), expected, spec);
  }
});

test('malformed specs fail with rclone wording', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /can't use empty string as a path/],
    ['::', /config name can't be empty/],
    ['::x', /config name can't be empty/],
    [':local', /config name needs a trailing `:`/],
    [':bad*:x', /config name contains invalid characters/],
    [':-x:', /config name starts with `-`/],
    [':loc/al:x', /invalid characters/],
    [':local,:x', /config parameters can't be empty/],
    [':local,a-b=1:x', /config parameters may only contain/],
    [':local,a=1', /unquoted config value must end with `,` or `:`/],
    [':local,a', /config parameter must end with `,` or `:`/],
    [':local,a="x', /unterminated quoted config value/],
    [':local,a="x"y:', /expecting `:` or `,` or another quote after a quote/],
    ['a,b/c:d', /config parameters may only contain/],
    ['remote,a="x"y:', /expecting `:` or `,` or another quote after a quote/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(() => parseRemoteSpec(spec), (err: unknown) => err instanceof ConfigError && re.test(err.message), spec);
  }
});

test('the path is the exact tail of the spec', () => {
  for (const [spec, parsed] of table) {
    assert.ok(spec.endsWith(parsed.path), spec);
  }
});

test('remote name rule', () => {
  for (const ok of ['a', 'A1', 'a b', 'a-b', 'a_b', 'a.b', 'a+b', 'a@b', 'r-', 'x - y', '.a', 'a--', '_', 'ü', '名前', '1']) {
    assert.equal(isValidRemoteName(ok), true, ok);
    assert.doesNotThrow(() => checkRemoteName(ok));
  }
  for (const bad of ['', '-a', ' a', 'a ', 'a:b', 'a/b', 'a*b', 'a,b', 'a=b', 'a\tb', 'a\nb']) {
    assert.equal(isValidRemoteName(bad), false, JSON.stringify(bad));
    assert.throws(() => checkRemoteName(bad), ConfigError);
  }
  assert.throws(() => checkRemoteName('-a'), /starts with `-`/);
});

test('formatRemotePrefix rebuilds a spec that parses back the same', () => {
  for (const [spec, parsed] of table) {
    const rebuilt = formatRemotePrefix(parsed) + parsed.path;
    assert.deepEqual(parseRemoteSpec(rebuilt), parsed, `${spec} -> ${rebuilt}`);
  }
});
