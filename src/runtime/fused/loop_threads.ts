/**
 * A second thread for the per-channel loops of the wasm training kernels
 * (batch norm + PReLU, the depthwise filter gradient).
 *
 * XNNPACK runs convolutions and matrix products on every thread of the
 * threaded wasm build, but a kernel written in JavaScript runs on the calling
 * thread alone, which left the other core idle for about a third of a
 * training step. The threaded build keeps its heap in a shared
 * `WebAssembly.Memory`, so a worker can read and write the same tensors: the
 * calling thread loops over the first half of the channels while the worker
 * loops over the second, and the results do not depend on the split, because
 * each channel is computed by one thread in one order.
 *
 * The worker waits on an `Atomics` word between jobs, so a job starts within
 * microseconds. It is a `node:worker_threads` worker, unreferenced so that it
 * never keeps the process alive, the way the XNNPACK threads of the threaded
 * build are started (a web `Worker` created after those threads never
 * started here).
 *
 * @module
 */

import { Worker } from "node:worker_threads";

/** Loops that the worker runs; the numbers go through shared memory. */
export const LOOP_OPS = {
  batchNormPreluForward: 1,
  batchNormPreluBackward: 2,
  depthwiseFilterGradient: 3,
} as const;
export type LoopOp = keyof typeof LOOP_OPS;

/** Int32 slots of the control block. */
export const CONTROL = {
  /** Incremented by the caller to start a job. */
  request: 0,
  /** Set by the worker to the request number it finished. */
  done: 1,
  /** The op number, or 0 to stop. */
  op: 2,
  /** 1 when the job threw; its message is not passed back. */
  failed: 3,
  /** First and end channel of the worker's share. */
  channelStart: 4,
  channelEnd: 5,
  /** Number of array and scalar slots used. */
  arrays: 6,
  scalars: 7,
} as const;
export const CONTROL_INTS = 8;
/** Float64 slots: byte offset and length of each array, then the scalars. */
export const MAX_ARRAYS = 16;
export const MAX_SCALARS = 16;

/** A float32 array on the shared heap, or null for an absent input. */
export type LoopArray = Float32Array | null;

interface Pool {
  worker: Worker;
  /** Resolves once the worker waits for jobs. */
  started: Promise<void>;
  memory: WebAssembly.Memory;
  control: Int32Array;
  params: Float64Array;
  /** Set once the worker has the memory and waits for jobs. */
  ready: boolean;
}

let pool: Pool | null = null;
let enabled = true;
let sharedJobs = 0;

/** Jobs shared with the worker since the process started. */
export function sharedLoopJobs(): number {
  return sharedJobs;
}

/**
 * Allows or forbids the worker; the wasm backend allows it when it runs on
 * more than one thread. Forbidding it closes a running worker.
 */
export function setLoopThreadsEnabled(allow: boolean): void {
  enabled = allow;
  if (!allow) closeLoopThreads();
}

/**
 * Runs `loop` over channels [0, channels), splitting the range with the
 * worker when every array lives in `memory` and the memory is shared.
 *
 * @param memory The wasm heap, or null where tensors are not on one (the cpu
 *     backend), which runs the whole range on the calling thread.
 * @param op Which loop the worker runs for its share.
 * @param arrays The loop's arrays, in the order the worker passes them.
 * @param scalars The loop's number arguments, in order.
 * @param channels Size of the channel range.
 * @param loop Runs the loop over [start, end) on the calling thread.
 * @throws {Error} When the worker's share failed.
 */
export function splitChannels(
  memory: WebAssembly.Memory | null,
  op: LoopOp,
  arrays: LoopArray[],
  scalars: number[],
  channels: number,
  loop: (start: number, end: number) => void,
): void {
  const shared = memory !== null &&
    memory.buffer instanceof SharedArrayBuffer &&
    arrays.every((a) => a === null || a.buffer === memory.buffer);
  if (!enabled || !shared || channels < 2) {
    loop(0, channels);
    return;
  }
  const threads = openPool(memory!);
  if (!threads.ready) {
    // The worker starts while this thread is free to take its message.
    loop(0, channels);
    return;
  }
  const half = Math.ceil(channels / 2);
  const { control, params } = threads;
  arrays.forEach((array, i) => {
    params[2 * i] = array === null ? -1 : array.byteOffset;
    params[2 * i + 1] = array === null ? -1 : array.length;
  });
  scalars.forEach((value, i) => params[2 * MAX_ARRAYS + i] = value);
  control[CONTROL.op] = LOOP_OPS[op];
  control[CONTROL.failed] = 0;
  control[CONTROL.channelStart] = half;
  control[CONTROL.channelEnd] = channels;
  control[CONTROL.arrays] = arrays.length;
  control[CONTROL.scalars] = scalars.length;
  const request = Atomics.add(control, CONTROL.request, 1) + 1;
  sharedJobs++;
  Atomics.notify(control, CONTROL.request);
  try {
    loop(0, half);
  } finally {
    while (Atomics.load(control, CONTROL.done) !== request) {
      Atomics.wait(control, CONTROL.done, Atomics.load(control, CONTROL.done));
    }
  }
  if (control[CONTROL.failed] !== 0) {
    throw new Error(
      `The loop thread failed in ${op}: rerun with runtime.threads set to 1 to see the error`,
    );
  }
}

function openPool(memory: WebAssembly.Memory): Pool {
  if (pool !== null && pool.memory === memory) return pool;
  closeLoopThreads();
  const control = new Int32Array(
    new SharedArrayBuffer(CONTROL_INTS * Int32Array.BYTES_PER_ELEMENT),
  );
  const params = new Float64Array(
    new SharedArrayBuffer(
      (2 * MAX_ARRAYS + MAX_SCALARS) * Float64Array.BYTES_PER_ELEMENT,
    ),
  );
  const worker = new Worker(new URL("./loop_worker.ts", import.meta.url));
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => markStarted = resolve);
  const opened: Pool = {
    worker,
    started,
    memory,
    control,
    params,
    ready: false,
  };
  // Referenced until it starts, so that a caller can wait for it.
  worker.once("message", () => {
    worker.unref();
    opened.ready = true;
    markStarted();
  });
  worker.postMessage({ memory, control, params });
  pool = opened;
  return opened;
}

/**
 * Starts the worker for a wasm heap and waits until it takes jobs, so that
 * the first kernels already share their loops. Without this call the worker
 * starts on the first split, and splits run on the calling thread alone until
 * it is ready.
 *
 * @param memory The shared heap of the threaded wasm build.
 */
export async function startLoopThreads(
  memory: WebAssembly.Memory,
): Promise<void> {
  if (!enabled || !(memory.buffer instanceof SharedArrayBuffer)) return;
  await openPool(memory).started;
}

/** Stops the worker, if one runs; the next split starts a new one. */
export function closeLoopThreads(): void {
  if (pool === null) return;
  pool.worker.terminate();
  pool = null;
}
