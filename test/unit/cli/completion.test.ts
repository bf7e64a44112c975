// `cryptfs completion`: scripts generated from the declarations; the bash one
// parses, registers itself and completes commands and flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from '../../helpers/run-main.js';
import { CompletionNameError, completionScript, type CompletionModel } from '../../../src/cli/completion.js';
import { listCommands } from '../../../src/cli/command.js';
import { globalFlags } from '../../../src/cli/global-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'cryptfs-completion-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

async function script(shell: string): Promise<string> {
  const r = await runMain(['completion', shell]);
  assert.equal(r.code, 0, r.err);
  return r.out;
}

function bash(source: string, commands: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `completion-${Math.random().toString(36).slice(2)}.bash`);
  writeFileSync(file, source);
  const r = spawnSync('bash', ['--noprofile', '--norc', '-c', `source ${JSON.stringify(file)}\n${commands}`], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the bash completion offers for a command line whose last word is being typed. */
function complete(source: string, words: string[]): string[] {
  const array = words.map((w) => `'${w}'`).join(' ');
  const r = bash(source, `COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _cryptfs; printf '%s\\n' "\${COMPREPLY[@]}"`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash: the script passes bash -n and, sourced, `complete -p cryptfs` shows it', async () => {
  const source = await script('bash');
  const file = join(dir, 'cryptfs.bash');
  writeFileSync(file, source);
  const syntax = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  const r = bash(source, 'complete -p cryptfs');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'complete -o default -F _cryptfs cryptfs');
});

test('bash: completes command names, global flags and a command\'s own flags', async () => {
  const source = await script('bash');
  assert.deepEqual(complete(source, ['cryptfs', 'ls']).sort(), ['ls', 'lsd', 'lsf', 'lsjson', 'lsl']);
  assert.ok(complete(source, ['cryptfs', '']).includes('completion'));
  assert.deepEqual(complete(source, ['cryptfs', 'ls', '--max-d']), ['--max-depth']);
  assert.deepEqual(complete(source, ['cryptfs', '--config', 'x.conf', 'cat', '--he']).sort(), ['--head', '--help']);
  assert.deepEqual(complete(source, ['cryptfs', '--vers']), ['--version']);
  assert.deepEqual(complete(source, ['cryptfs', 'ls', '--vers']), [], '--version is root-only');
  assert.deepEqual(complete(source, ['cryptfs', 'completion', 'z']), ['zsh']);
});

test('every visible command and every flag declaration appears in all three scripts', async () => {
  const scripts = { bash: await script('bash'), zsh: await script('zsh'), fish: await script('fish') };
  for (const c of listCommands().filter((c) => !c.hidden)) {
    for (const [shell, text] of Object.entries(scripts)) {
      assert.match(text, new RegExp(`\\b${c.name}\\b`), `${shell}: command ${c.name}`);
      for (const f of (c.flags ?? []).filter((f) => !f.hidden)) assert.ok(text.includes(f.name), `${shell}: ${c.name} --${f.name}`);
    }
  }
  for (const f of globalFlags.filter((f) => !f.hidden)) {
    for (const [shell, text] of Object.entries(scripts)) assert.ok(text.includes(f.name), `${shell}: global --${f.name}`);
  }
  assert.match(scripts.zsh, /^#compdef cryptfs\n/);
  assert.match(scripts.fish, /complete -c cryptfs -n '__fish_seen_subcommand_from cat' -l head -r -d /);
  // zsh and fish are checked for syntax where installed.
  for (const shell of ['zsh', 'fish'] as const) {
    const file = join(dir, `cryptfs.${shell}`);
    writeFileSync(file, scripts[shell]);
    const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
    if (r.error) continue; // not installed here
    assert.equal(r.status, 0, `${shell} -n: ${r.stderr}`);
  }
});

test('generated from the model: a new command and flag complete without further code', () => {
  const model: CompletionModel = {
    program: 'cryptfs',
    commands: [{ name: 'frobnicate', short: "Frobnicates (it's new)", flags: [{ name: 'wobble', type: 'int', help: 'How much' }] }],
    globalFlags: [{ name: 'config', type: 'string', help: 'Config file' }],
    rootFlags: [],
  };
  const source = completionScript('bash', model);
  assert.equal(bash(source, 'true').status, 0);
  assert.deepEqual(complete(source, ['cryptfs', 'frob']), ['frobnicate']);
  assert.deepEqual(complete(source, ['cryptfs', 'frobnicate', '--wob']), ['--wobble']);
  assert.match(completionScript('fish', model), /-d 'Frobnicates \(it\\'s new\)'/);
  assert.match(completionScript('zsh', model), /'frobnicate:Frobnicates \(it'\\''s new\)'/);
});

test('a name that would need quoting in generated code is refused; an unknown shell is a usage error', async () => {
  const bad: CompletionModel = {
    program: 'cryptfs',
    commands: [{ name: 'x;rm', short: '', flags: [] }],
    globalFlags: [],
    rootFlags: [],
  };
  assert.throws(() => completionScript('bash', bad), CompletionNameError);
  const r = await runMain(['completion', 'tcsh']);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown shell "tcsh": use one of bash, zsh, fish/);
});
