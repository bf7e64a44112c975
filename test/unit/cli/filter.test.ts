// rclone's filter rules: the documented pattern examples, directory rules,
// rule order, filter files, size limits, --files-from. The same trees listed
// through the real rclone: test/integration/cli/filter-rclone.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Filter, FilterError, globToDirGlobs, globToRegExp } from '../../../src/cli/filter.js';
import { parseSizeSuffix } from '../../../src/cli/stats.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-filter-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Paths are given as in rclone's docs, with a leading '/'; rules see them without. */
function matches(glob: string, path: string, ignoreCase = false): boolean {
  return globToRegExp(glob, ignoreCase).test(path.replace(/^\//, ''));
}

test('the pattern examples of rclone\'s filtering documentation', () => {
  const table: [string, string[], string[]][] = [
    ['*.jpg', ['/file.jpg', '/dir/file.jpg'], ['/file.png', '/dir/file.png']],
    ['/*.jpg', ['/file.jpg', '/file2.jpg'], ['/file.png', '/dir/file.jpg']],
    ['*.{jpg,png}', ['/file.jpg', '/dir/file.png'], ['/file.gif', '/dir/file.gif']],
    ['dir/**', ['/dir/anyfile', '/subdir/dir/subsubdir/anyfile'], ['file.png', '/subdir/file.png']],
    ['*.t?t', ['/file.txt', '/dir/file.tzt'], ['/file.qxt', '/dir/file.png']],
    ['*.[a-z]', ['/file.a', '/dir/file.b'], ['/file.0', '/dir/file.1']],
    ['*.\\?\\?\\?', ['/file.???', '/dir/file.???'], ['/file.abc', '/dir/file.def']],
    ['*.\\d\\d\\d', ['/file.012', '/dir/file.345'], ['/file.abc', '/dir/file.def']],
    ['file.jpg', ['file.jpg', 'directory/file.jpg'], ['afile.jpg', 'directory/afile.jpg']],
    ['/file.jpg', ['file.jpg'], ['afile.jpg', 'directory/file.jpg']],
    ['l?ss', ['less', 'lass'], ['floss', 'l/ss']],
    ['h[ae]llo', ['hello', 'hallo'], ['hullo']],
    ['{one,two}_potato', ['one_potato', 'two_potato'], ['three_potato', '_potato']],
    ['\\*.jpg', ['*.jpg'], ['a.jpg']],
    ['\\\\.jpg', ['\\.jpg'], ['a.jpg']],
    ['\\[one\\].jpg', ['[one].jpg'], ['o.jpg']],
    ['*\\[{JP,KR,HK}\\]*', ['game [JP] v1', 'x/[HK]'], ['game [US] v1']],
    ['[[:digit:]]*', ['1abc'], ['abc']],
  ];
  for (const [glob, yes, no] of table) {
    for (const p of yes) assert.ok(matches(glob, p), `${glob} should match ${p}`);
    for (const p of no) assert.ok(!matches(glob, p), `${glob} should not match ${p}`);
  }
  // `*` stays within a segment, `**` crosses them.
  assert.ok(!matches('/a/*', 'a/b/c'));
  assert.ok(matches('/a/**', 'a/b/c'));
  // Case: sensitive unless --ignore-case.
  assert.ok(!matches('potato', 'POTATO'));
  assert.ok(matches('potato', 'POTATO', true));
  // Non-ASCII names: `?` is one character, not one UTF-16 unit or byte.
  assert.ok(matches('?.txt', '😀.txt'));
  assert.ok(matches('caf?', 'café'));
});

test('glob errors as rclone words them', () => {
  assert.throws(() => globToRegExp('x]'), (e: unknown) => e instanceof FilterError && /mismatched '\]' in glob "x\]"/.test((e as Error).message));
  assert.throws(() => globToRegExp('[x'), /mismatched '\[' and '\]'/);
  assert.throws(() => globToRegExp('{a,{b,c}}'), /can't nest '\{' '\}' in glob/);
  assert.throws(() => globToRegExp('{a'), /mismatched '\{' and '\}'/);
  assert.throws(() => globToRegExp('a}'), /mismatched '\{' and '\}'/);
  assert.throws(() => globToRegExp('***'), /too many stars in "\*\*\*"/);
  const f = new Filter();
  assert.throws(() => f.addRule('+nospace'), /malformed rule "\+nospace"/);
});

test('directory globs implied by file globs (rclone 1.60 --dump filters)', () => {
  assert.deepEqual(globToDirGlobs('*.txt'), ['/**']);
  assert.deepEqual(globToDirGlobs('/a/b/*.txt'), ['/a/b/', '/a/', '/']);
  assert.deepEqual(globToDirGlobs('a/**/c.txt'), ['a/**/', 'a/']);
  assert.deepEqual(globToDirGlobs('{a,b}/**'), ['{a,b}/**/', '{a,b}/']);
  // A pattern list with '/' inside cannot be split: every directory may hold a match.
  assert.deepEqual(globToDirGlobs('{dir1/**,dir2/**}'), ['/**']);
});

test('rule order, implicit exclude, directory rules', () => {
  const inc = Filter.fromOptions({ include: ['/a/b/*.txt'] });
  assert.ok(inc.includeFile('a/b/x.txt', 1));
  assert.ok(!inc.includeFile('a/x.txt', 1), 'the implied "- **" excludes the rest');
  assert.ok(inc.includeDir('a') && inc.includeDir('a/b'));
  assert.ok(!inc.includeDir('c'), 'directories that cannot hold a match are not listed');

  const ex = Filter.fromOptions({ exclude: ['dir/'] });
  assert.ok(!ex.includeDir('dir') && !ex.includeDir('x/dir'));
  assert.ok(!ex.includeFile('dir/f', 1) && ex.includeFile('dirt/f', 1));

  // First match wins: the documented filter-list example.
  const list = Filter.fromOptions({ filter: ['- /dir1/', '- /dir2/', '+ *.pdf', '- **'] });
  assert.ok(list.includeFile('doc.pdf', 1) && list.includeFile('sub/doc.pdf', 1));
  assert.ok(!list.includeFile('dir1/doc.pdf', 1) && !list.includeDir('dir1') && !list.includeDir('dir2'));
  assert.ok(!list.includeFile('notes.txt', 1));

  // "!" clears what came before.
  const cleared = Filter.fromOptions({ filter: ['- *.txt', '!', '- *.md'] });
  assert.ok(cleared.includeFile('a.txt', 1) && !cleared.includeFile('a.md', 1));

  // Filter files: comments, blank lines, surrounding space.
  const rules = join(root, 'rules');
  fs.writeFileSync(rules, '# comment\n; another\n\n  - secret*.jpg  \n+ *.jpg\n- *\n');
  const ff = Filter.fromOptions({ filterFrom: [rules] });
  assert.ok(ff.includeFile('a.jpg', 1) && !ff.includeFile('secret1.jpg', 1) && !ff.includeFile('a.png', 1));
  assert.throws(() => Filter.fromOptions({ filterFrom: [join(root, 'missing')] }), /no such file or directory/);
  const exFrom = join(root, 'excludes');
  fs.writeFileSync(exFrom, '*.bak\nfile2.jpg\n');
  const ef = Filter.fromOptions({ excludeFrom: [exFrom] });
  assert.ok(!ef.includeFile('x/y.bak', 1) && !ef.includeFile('file2.jpg', 1) && ef.includeFile('file1.jpg', 1));

  assert.equal(new Filter().active, false);
  assert.equal(Filter.fromOptions({ minSize: 0 }).active, true);
});

test('size limits and --files-from', () => {
  assert.equal(parseSizeSuffix('10'), 10 * 1024, 'bare numbers are KiB');
  assert.equal(parseSizeSuffix('100B'), 100);
  assert.equal(parseSizeSuffix('1.5M'), 1.5 * 1024 * 1024);
  assert.equal(parseSizeSuffix('2Gi'), 2 * 1024 ** 3);
  assert.equal(parseSizeSuffix('off'), -1);
  assert.throws(() => parseSizeSuffix('12Q'));
  const sized = Filter.fromOptions({ minSize: 100, maxSize: 1000 });
  assert.ok(!sized.includeFile('a', 99) && sized.includeFile('a', 100) && sized.includeFile('a', 1000) && !sized.includeFile('a', 1001));

  const list = join(root, 'files');
  fs.writeFileSync(list, '# a list\n/top.txt\nsub/deep/file.bin\n\n');
  const ff = Filter.fromOptions({ filesFrom: [list] });
  assert.ok(ff.includeFile('top.txt', 1) && ff.includeFile('sub/deep/file.bin', 1) && !ff.includeFile('other', 1));
  assert.ok(ff.includeDir('sub') && ff.includeDir('sub/deep') && !ff.includeDir('elsewhere'));
  assert.throws(() => Filter.fromOptions({ filesFrom: [list], include: ['*'] }), /--files-from overrides all other filters/);
});

/** Lists a local tree through a Filter the way the march does: directory rules on descent, file rules per file. */
function filteredTree(dir: string, f: Filter, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const rel = prefix + name;
    const st = fs.statSync(join(dir, name));
    if (st.isDirectory()) {
      if (f.includeDir(rel)) out.push(...filteredTree(join(dir, name), f, `${rel}/`));
    } else if (f.includeFile(rel, st.size, st.mtime)) out.push(rel);
  }
  return out;
}

