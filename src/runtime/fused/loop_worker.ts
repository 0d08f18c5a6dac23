/**
 * The loop worker of loop_threads.ts: waits for a job on the shared control
 * block, runs its share of the channels on views of the shared wasm heap,
 * and reports the job done.
 *
 * @module
 */

import { parentPort } from "node:worker_threads";
import {
  CONTROL,
  LOOP_OPS,
  type LoopArray,
  MAX_ARRAYS,
} from "./loop_threads.ts";
import {
  batchNormPreluBackward,
  batchNormPreluForward,
  depthwiseFilterGradient,
  geometryFromNumbers,
} from "./loops.ts";

interface Setup {
  memory: WebAssembly.Memory;
  control: Int32Array;
  params: Float64Array;
}

type Job = (
  arrays: LoopArray[],
  scalars: number[],
  start: number,
  end: number,
) => void;

const JOBS: Record<number, Job> = {
  [LOOP_OPS.batchNormPreluForward]: (a, s, start, end) =>
    batchNormPreluForward(
      a[0]!,
      a[1]!,
      a[2]!,
      a[3],
      a[4],
      s[0],
      a[5]!,
      a[6]!,
      a[7]!,
      start,
      end,
    ),
  [LOOP_OPS.batchNormPreluBackward]: (a, s, start, end) =>
    batchNormPreluBackward(
      a[0]!,
      a[1]!,
      a[2]!,
      a[3]!,
      a[4],
      a[5]!,
      a[6]!,
      s[0],
      a[7]!,
      a[8]!,
      a[9]!,
      a[10],
      start,
      end,
    ),
  [LOOP_OPS.depthwiseFilterGradient]: (a, s, start, end) =>
    depthwiseFilterGradient(
      a[0]!,
      a[1]!,
      a[2]!,
      geometryFromNumbers(s),
      start,
      end,
    ),
};

function serve({ memory, control, params }: Setup): void {
  let seen = 0;
  for (;;) {
    while (Atomics.load(control, CONTROL.request) === seen) {
      Atomics.wait(control, CONTROL.request, seen);
    }
    seen = Atomics.load(control, CONTROL.request);
    try {
      const buffer = memory.buffer;
      const arrays: LoopArray[] = [];
      for (let i = 0; i < control[CONTROL.arrays]; i++) {
        const offset = params[2 * i];
        arrays.push(
          offset < 0
            ? null
            : new Float32Array(buffer, offset, params[2 * i + 1]),
        );
      }
      const scalars = Array.from(
        params.subarray(
          2 * MAX_ARRAYS,
          2 * MAX_ARRAYS + control[CONTROL.scalars],
        ),
      );
      JOBS[control[CONTROL.op]](
        arrays,
        scalars,
        control[CONTROL.channelStart],
        control[CONTROL.channelEnd],
      );
    } catch {
      control[CONTROL.failed] = 1;
    }
    Atomics.store(control, CONTROL.done, seen);
    Atomics.notify(control, CONTROL.done);
  }
}

parentPort!.once("message", (setup: Setup) => {
  parentPort!.postMessage("ready");
  serve(setup);
});
