/**
 * The helper thread of the SIMD loops (see simd.ts). It instantiates
 * simd/loops.c on the wasm backend's shared memory, then waits on the control
 * block for calls, runs each over the channel range it is given, and marks it
 * done.
 *
 * @module
 */

import { parentPort } from "node:worker_threads";
import {
  CONTROL,
  instantiateLoops,
  LOOP_NAMES,
  type LoopsExports,
} from "./simd.ts";

interface Start {
  memory: WebAssembly.Memory;
  control: number;
}

parentPort!.once("message", ({ memory, control: address }: Start) => {
  let loops: LoopsExports;
  try {
    loops = instantiateLoops(memory);
  } catch (error) {
    // Never ready, so the calling thread runs every call itself.
    parentPort!.postMessage({ failed: (error as Error).message });
    return;
  }
  const control = new Int32Array(memory.buffer, address, 8);
  const args = new Float64Array(
    memory.buffer,
    address + CONTROL.argumentsOffset,
    CONTROL.maxArguments,
  );
  // Read before `ready` is set: the calling thread sends no request until
  // then, so a first request cannot be taken for one already seen.
  let seen = Atomics.load(control, CONTROL.request);
  Atomics.store(control, CONTROL.ready, 1);

  // Waits on the value it last saw, so a request made between the check and
  // the wait is not missed.
  for (;;) {
    Atomics.wait(control, CONTROL.request, seen);
    const request = Atomics.load(control, CONTROL.request);
    if (request === seen) continue;
    seen = request;
    const name = LOOP_NAMES[Atomics.load(control, CONTROL.loop)];
    try {
      const fn = loops[name] as (...values: number[]) => void;
      // The length of an exported wasm function is its parameter count.
      fn(...args.subarray(0, fn.length));
      Atomics.store(control, CONTROL.failed, 0);
    } catch (error) {
      console.error(
        `SIMD helper thread: ${name} failed on request ${request}: ${error}`,
      );
      Atomics.store(control, CONTROL.failed, 1);
    }
    Atomics.store(control, CONTROL.done, request);
    Atomics.notify(control, CONTROL.done);
  }
});
