// Imported by each module that calls Node's fetch, so it runs before the first call. fetch (undici)
// parses HTTP with llhttp compiled to WebAssembly, and V8 also compiles that with its optimising
// tier in the background: ~30 MiB of native memory for a moment (a bare fetch peaks at 84 MiB RSS,
// 55 MiB without), early in a copy's upload where it adds to the peak. The baseline (Liftoff) code
// is enough for what llhttp does here, response headers and length-framed bodies: the CPU time of
// a 512 MiB download was the same. It is the only WebAssembly the process runs.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
