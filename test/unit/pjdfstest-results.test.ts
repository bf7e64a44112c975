// The pjdfstest expected-failures rules (test/helpers/pjdfstest-results.ts): TAP reading,
// the list format, and that the list can only shrink.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExpectedListError,
  formatCases,
  judge,
  parseCases,
  parseExpectedList,
  parseTap,
  verdictProblems,
} from '../helpers/pjdfstest-results.js';

describe('pjdfstest results', () => {
  it('reads TAP: not ok fails, a not ok marked TODO passes, cases the plan announced but never reported fail', () => {
    const r = parseTap('open/00.t', '1..6\nok 1\nnot ok 2 - tried x\nnot ok 3 # TODO known\nok 4\n');
    assert.equal(r.planned, 6);
    assert.deepEqual([...r.failed].sort(), [2, 5, 6]);
    assert.deepEqual(r.failureLines, ['not ok 2 - tried x']);
    assert.equal(r.broken, undefined);
    assert.match(parseTap('x/1.t', 'ok 1\n').broken!, /no TAP plan/);
  });

  it('reads and writes case lists', () => {
    assert.deepEqual([...parseCases('1-3,6,9-10')], [1, 2, 3, 6, 9, 10]);
    assert.equal(formatCases([10, 1, 2, 3, 6, 9]), '1-3,6,9-10');
    assert.throws(() => parseCases('3-1'), ExpectedListError);
    assert.throws(() => parseCases('a'), ExpectedListError);
  });

  it('parses the list: comments, * lines, a reason required, no file twice', () => {
    const list = parseExpectedList('# comment\n\nlink/00.t  *  hard links: EPERM by design\nchmod/00.t 1-2,5  chmod not kept\n');
    assert.equal(list.get('link/00.t')!.cases, 'all');
    assert.deepEqual([...(list.get('chmod/00.t')!.cases as Set<number>)], [1, 2, 5]);
    assert.equal(list.get('chmod/00.t')!.reason, 'chmod not kept');
    assert.throws(() => parseExpectedList('chmod/00.t 1'), /line 1/);
    assert.throws(() => parseExpectedList('a/1.t 1 r\na/1.t 2 r'), /listed twice/);
  });

  it('an unlisted failure, a listed case that passes and a * file that passes whole are all problems', () => {
    const list = parseExpectedList('a/1.t 2-3 reason\nb/1.t * reason\n');
    const failsTwoAndFour = parseTap('a/1.t', '1..4\nok 1\nnot ok 2\nok 3\nnot ok 4\n');
    const v = judge(failsTwoAndFour, list.get('a/1.t'));
    assert.deepEqual(v.unexpected, [4]);
    assert.deepEqual(v.nowPassing, [3]);
    const problems = verdictProblems(v, failsTwoAndFour, list.get('a/1.t'));
    assert.match(problems[0], /cases 4 failed and are not in the expected-failures list\n {4}not ok 4/);
    assert.match(problems[1], /cases 3 now pass: remove them from the list \(line 1, leaving 2\)/);

    const exact = parseTap('a/1.t', '1..4\nok 1\nnot ok 2\nnot ok 3\nok 4\n');
    assert.deepEqual(verdictProblems(judge(exact, list.get('a/1.t')), exact, list.get('a/1.t')), []);

    const starPasses = parseTap('b/1.t', '1..2\nok 1\nok 2\n');
    assert.match(verdictProblems(judge(starPasses, list.get('b/1.t')), starPasses, list.get('b/1.t'))[0], /b\/1.t: now passes/);
    const starFailsSome = parseTap('b/1.t', '1..2\nok 1\nnot ok 2\n');
    assert.deepEqual(verdictProblems(judge(starFailsSome, list.get('b/1.t')), starFailsSome, list.get('b/1.t')), []);

    const unlisted = parseTap('c/1.t', '1..1\nnot ok 1\n');
    assert.deepEqual(judge(unlisted, undefined).unexpected, [1]);
  });
});
