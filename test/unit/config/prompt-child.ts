// Child process for password.test.ts: runs the real terminal prompt (or a
// config load that needs it) so the test can drive it through a pseudo-terminal.
//   node prompt-child.js prompt        → prints RESULT:<json of what was typed>
//   node prompt-child.js load <path>   → prints RESULT:<json of remote names>
import { ConfigStore } from '../../../src/config/config-store.js';
import { promptHidden } from '../../../src/config/password.js';

const [mode, path] = process.argv.slice(2);
try {
  if (mode === 'prompt') {
    const typed = await promptHidden('Password:');
    process.stdout.write(`RESULT:${JSON.stringify(typed)}\n`);
  } else if (mode === 'load') {
    const store = await ConfigStore.load({ path });
    process.stdout.write(`RESULT:${JSON.stringify(store.remoteNames())}\n`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (err) {
  process.stdout.write(`ERROR:${(err as Error).message}\n`);
  process.exitCode = 1;
}
