// Small files of the local remote go to the native writeSmallFiles, one thread-pool job per file
// (or per batch): the job makes every call for its file, where the plain path costs two pool round
// trips (create, rename) and makes the other calls on the event loop. Each job costs the event
// loop a wake-up of a pool thread, on a busy machine a context switch. Up to as many jobs as the
// pool has threads run at once (one at a time measured slower on a loaded machine: the files wait
// for one thread); files made ready while all are busy go together as the next batch, so a high
// --transfers pays fewer wake-ups per file and leaves pool threads for other file system calls.
import { THREAD_POOL_SIZE } from '../concurrency.js';
import { osNative, type SmallFileJob, type SmallFileStat } from '../os-native.js';

/** Most files in one batch (bounds the time one job holds a pool thread). */
const MAX_BATCH = 64;

interface Waiting {
  file: SmallFileJob;
  resolve: (stat: SmallFileStat) => void;
  reject: (err: unknown) => void;
}

export class SmallFileWriter {
  private waiting: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly writeFiles: (files: SmallFileJob[]) => Promise<Array<SmallFileStat | Error>>,
    /** Jobs on pool threads at once. */
    private readonly maxInFlight = THREAD_POOL_SIZE,
  ) {}

  /** Writes one file (in the next batch); rejects with that file's own error. */
  write(file: SmallFileJob): Promise<SmallFileStat> {
    return new Promise<SmallFileStat>((resolve, reject) => {
      this.waiting.push({ file, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight++;
      let started: Promise<Array<SmallFileStat | Error>>;
      try {
        started = this.writeFiles(batch.map((w) => w.file));
      } catch (err) {
        started = Promise.reject(err);
      }
      started
        .then(
          (results) => batch.forEach((w, i) => (results[i] instanceof Error ? w.reject(results[i]) : w.resolve(results[i] as SmallFileStat))),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}

/** Whether the writer applies owner and mode too (an addon built before it did not). */
export const smallFileWriterAppliesModes = (osNative?.writeSmallFilesVersion ?? 1) >= 2;

/** The process's writer; undefined where the native addon is not built (or is an older build without writeSmallFiles). */
export const smallFileWriter =
  typeof osNative?.writeSmallFiles === 'function' ? new SmallFileWriter((files) => osNative!.writeSmallFiles(files)) : undefined;
