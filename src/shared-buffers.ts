// Buffers shared by the transfers of a process, each given back once its user is done with it.
// A copy of many small files otherwise makes a buffer or two per file, and those still in use at a
// scavenge wait for a full GC, which V8 starts only once 64 MB of such memory has piled up (a
// 10,000-file copy: that much of its 209 MiB peak). Until one comes back, a buffer is made of the
// size asked for (a user that never gives them back costs what it did before); from then on, of
// the full capacity, so that a buffer given back serves any later size.

export class SharedBuffers {
  private readonly free: Buffer[] = [];
  private givenBack = false;

  constructor(
    /** Largest size asked for (a user asks for more elsewhere). */
    readonly capacity: number,
    /** Most kept for later. */
    private readonly kept = 16,
  ) {}

  /** A buffer of at least `size` (≤ capacity) bytes, its contents whatever they were. */
  take(size: number): Buffer {
    const free = this.free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i]!;
      if (buffer.length < size) continue;
      free[i] = free[free.length - 1]!;
      free.pop();
      return buffer;
    }
    return Buffer.allocUnsafeSlow(this.givenBack ? this.capacity : size);
  }

  /** Takes back a buffer of take() that nothing uses any more (wiped first by a user that must). */
  give(buffer: Buffer): void {
    this.givenBack = true;
    const free = this.free;
    if (free.length < this.kept) {
      free.push(buffer);
      return;
    }
    // Full: keep the larger ones (they serve every size).
    let smallest = 0;
    for (let i = 1; i < free.length; i++) if (free[i]!.length < free[smallest]!.length) smallest = i;
    if (free[smallest]!.length < buffer.length) free[smallest] = buffer;
  }
}
