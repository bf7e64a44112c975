// commands/index.ts's table (command → module) against what each module really registers: a command
// missing from the table would only be found after every module loaded (slow path), one in the wrong
// row would be "unknown".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listCommands } from '../../../src/cli/command.js';
import { COMMAND_MODULE, commandModuleNames, loadCommandModule } from '../../../src/cli/commands/index.js';
import { runMain } from '../../helpers/run-main.js';

test('each module registers exactly the commands the table gives it', async () => {
  assert.deepEqual(listCommands().map((c) => c.name), [], 'no command registered before any module loads');
  const seen = new Set<string>();
  for (const module of commandModuleNames()) {
    await loadCommandModule(module);
    const added = listCommands().map((c) => c.name).filter((n) => !seen.has(n));
    for (const n of added) seen.add(n);
    const expected = Object.keys(COMMAND_MODULE).filter((n) => COMMAND_MODULE[n] === module);
    assert.deepEqual(added.sort(), expected.sort(), `commands registered by ${module}`);
  }
  assert.deepEqual([...seen].sort(), Object.keys(COMMAND_MODULE).sort());
});

test('help, an unknown command and completion still see every command', async () => {
  const help = await runMain(['help']);
  for (const name of ['lsf', 'copy', 'mount', 'cryptcheck', 'obscure', 'sha256sum']) assert.match(help.out, new RegExp(`^  ${name} `, 'm'));
  const unknown = await runMain(['lsff']);
  assert.match(unknown.err, /unknown command "lsff"[\s\S]*lsf/);
  const completion = await runMain(['completion', 'bash']);
  assert.match(completion.out, /cryptcheck/);
});
