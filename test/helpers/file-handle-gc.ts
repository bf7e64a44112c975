// Fails a test file that leaves a FileHandle for the garbage collector to
// close: Node then warns "Closing file descriptor N on garbage collection",
// long after (and far from) the code that forgot it. The hook forces a full
// collection once the file's tests are done, so a forgotten handle is found
// every run instead of whenever a collection happens to come.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const GC_CLOSE = /Closing file descriptor \d+ on garbage collection/;

/** Registers before/after hooks on the current file (or suite) that assert no FileHandle was closed by GC. */
export function failOnFileHandlesClosedByGc(): void {
  const closedByGc: string[] = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (GC_CLOSE.test(w.message) || w.code === 'DEP0137') closedByGc.push(w.message);
  };
  before(() => {
    process.on('warning', onWarning);
  });
  after(async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // The warning is emitted from an immediate after the collection.
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      // Kept: the check is for a warning that must NOT come, so there is no condition to poll;
      // a short real pause after the immediate lets a late one arrive.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    process.off('warning', onWarning);
    assert.deepEqual(closedByGc, [], 'FileHandles left open for the garbage collector to close');
  });
}
