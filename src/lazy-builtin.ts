// Node built-ins that only some runs need, loaded on first use: child processes, worker threads,
// terminals. Node compiles a built-in's modules when it is first imported (child_process alone
// brings net, dgram and their streams), so each one a command never touches is start-up time a
// cold `cryptfs lsf` does not pay.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function childProcess(): typeof import('node:child_process') {
  return require('node:child_process') as typeof import('node:child_process');
}

export function workerThreads(): typeof import('node:worker_threads') {
  return require('node:worker_threads') as typeof import('node:worker_threads');
}

export function ttyModule(): typeof import('node:tty') {
  return require('node:tty') as typeof import('node:tty');
}
