// The filter rules against the real rclone (required): the same trees listed
// through rclone with the same flags. The rules themselves: test/unit/cli/filter.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Filter, FilterError, globToDirGlobs, globToRegExp } from '../../../src/cli/filter.js';
import { parseSizeSuffix } from '../../../src/cli/stats.js';
import { rcloneBinary, rcloneSkipReason } from '../../helpers/cli.js';

const skip = rcloneSkipReason(); // rclone is required: fails without it, unless --allow-skip

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-filter-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Paths are given as in rclone's docs, with a leading '/'; rules see them without. */
function matches(glob: string, path: string, ignoreCase = false): boolean {
  return globToRegExp(glob, ignoreCase).test(path.replace(/^\//, ''));
}






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

test('the same files as rclone lists with the same filter flags', { skip }, () => {
  const tree = join(root, 'tree');
  const files = [
    'a.jpg', 'b.png', 'c.txt', 'file.jpg', 'afile.jpg', 'secret1.jpg', 'notes.md', 'big.bin', 'x.bak',
    'dir/a.jpg', 'dir/sub/b.jpg', 'dir/sub/c.txt', 'dir1/doc.pdf', 'dir2/x.pdf', 'doc.pdf', 'deep/er/doc.pdf',
    'photos/2020/a.jpg', 'photos/2021/b.JPG', 'logs/x.log', 'logs/keep/y.log', 'Ünïcödé/é.txt', 'sp ace/f i.txt',
    'a/b/x.txt', 'a/x.txt', 'a/b/c/x.txt', '[br]/x', 'one_potato', 'two_potato', 'three_potato',
  ];
  for (const f of files) {
    fs.mkdirSync(dirname(join(tree, f)), { recursive: true });
    fs.writeFileSync(join(tree, f), f === 'big.bin' ? Buffer.alloc(5000) : f);
  }
  const rules = join(root, 'list-rules');
  fs.writeFileSync(rules, '- /dir1/\n- /dir2/\n+ *.pdf\n- **\n');
  const flagSets: string[][] = [
    ['--include', '*.jpg'],
    ['--include', '/a/b/*.txt'],
    ['--exclude', 'dir/'],
    ['--exclude', '*.{jpg,png}', '--exclude', 'logs/**'],
    ['--include', 'photos/**', '--include', '*.md'],
    ['--filter', '+ *.jpg', '--filter', '- *'],
    ['--filter-from', rules],
    ['--include', '*.jpg', '--ignore-case'],
    ['--include', '{one,two}_potato'],
    ['--include', '{dir1/**,dir2/**}'],
    ['--exclude', '\\[br\\]/**', '--max-size', '1k'],
    ['--include', '**/x.txt'],
    ['--include', 'a/**/x.txt'],
    ['--exclude', '*', '--include', 'c.txt'],
    ['--min-size', '100B'],
  ];
  for (const flags of flagSets) {
    const r = spawnSync(rcloneBinary(), ['--config', '/dev/null', 'lsf', '-R', '--files-only', ...flags, tree], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const theirs = r.stdout.split('\n').filter(Boolean).sort();
    const get = (n: string) => flags.flatMap((v, i) => (flags[i - 1] === n ? [v] : []));
    const size = (n: string) => (get(n).length ? parseSizeSuffix(get(n)[0]) : -1);
    const ours = filteredTree(
      tree,
      Filter.fromOptions({
        include: get('--include'),
        exclude: get('--exclude'),
        filter: get('--filter'),
        filterFrom: get('--filter-from'),
        ignoreCase: flags.includes('--ignore-case'),
        minSize: size('--min-size'),
        maxSize: size('--max-size'),
      }),
    ).sort();
    assert.deepEqual(ours, theirs, `rclone lsf ${flags.join(' ')}`);
  }
});
