/**
 * The WebAssembly SIMD loops of simd/loops.c, run on the wasm backend's own
 * heap.
 *
 * The module imports the backend's memory, so it reads tensors where they
 * are and writes outputs in place, with no copy. It owns no memory of its
 * own, so the scratch it needs is allocated from the backend's heap for the
 * length of one call. simd/build.sh builds it from the C source and checks
 * both properties.
 *
 * On the threaded build, whose memory is shared, a helper thread
 * (simd_worker.ts) instantiates the same module on the same memory. The
 * weight gradient of 1x1 convolutions, which is bound by arithmetic, is
 * split by input channel between it and the calling thread, about twice as
 * fast on 2 cores. Each channel's sums run in the same order either way, so
 * the split changes no bit of the result. Until the helper has started, and
 * on the single-threaded build, the calling thread runs the whole call.
 *
 * The other loops run on the calling thread alone. Split by channel, the
 * batch-norm forward pass measured 3 to 8 times slower than whole, and the
 * depthwise gradients anywhere from 0.6 to 2.4 times the time. These loops
 * write or accumulate every row, so the likely cause is that the two threads
 * wrote neighbouring parts of the same cache lines on every row.
 *
 * The loops take channels four at a time, so they serve tensors whose
 * channel count is a multiple of 4. Callers run the JavaScript loops of
 * loops.ts for the others, and on the cpu backend.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type * as tf from "@tensorflow/tfjs";
import type { DepthwiseGeometry } from "./loops.ts";

/** A depthwise convolution's geometry, in the order of the C arguments. */
export type GeometryArguments = [
  batch: number,
  inHeight: number,
  inWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  filterHeight: number,
  filterWidth: number,
  strideHeight: number,
  strideWidth: number,
  padTop: number,
  padLeft: number,
];

/** Returns `g` as the arguments of the depthwise loops of simd/loops.c. */
export function geometryArguments(g: DepthwiseGeometry): GeometryArguments {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
  ];
}

/**
 * The functions that simd/loops.c exports, on addresses of the heap. Each
 * loop takes the channel range [start, end) it computes as its last two
 * arguments.
 */
export interface LoopsExports {
  bn_prelu_scratch_bytes(channels: number): number;
  bn_prelu_forward(
    y: number,
    gamma: number,
    beta: number,
    alpha: number,
    residual: number,
    epsilon: number,
    out: number,
    mean: number,
    variance: number,
    rows: number,
    channels: number,
    scratch: number,
    start: number,
    end: number,
  ): void;
  bn_prelu_backward(
    dout: number,
    y: number,
    gamma: number,
    beta: number,
    alpha: number,
    mean: number,
    variance: number,
    epsilon: number,
    dy: number,
    dgamma: number,
    dbeta: number,
    dalpha: number,
    rows: number,
    channels: number,
    scratch: number,
    start: number,
    end: number,
  ): void;
  depthwise_scratch_bytes(taps: number, channels: number): number;
  depthwise_filter_gradient(
    x: number,
    dy: number,
    dw: number,
    ...rest: [...GeometryArguments, scratch: number, start: number, end: number]
  ): void;
  depthwise_input_gradient(
    dy: number,
    w: number,
    dx: number,
    ...rest: [...GeometryArguments, start: number, end: number]
  ): void;
  pointwise_filter_gradient(
    a: number,
    dy: number,
    dw: number,
    rows: number,
    inChannels: number,
    outChannels: number,
    start: number,
    end: number,
  ): void;
}

/**
 * The loops by their index in the control block. Each takes a channel range,
 * and the helper thread can run any of them.
 */
export const LOOP_NAMES = [
  "bn_prelu_forward",
  "bn_prelu_backward",
  "depthwise_filter_gradient",
  "depthwise_input_gradient",
  "pointwise_filter_gradient",
] as const;

/** A loop that takes a channel range. */
export type LoopName = typeof LOOP_NAMES[number];

/**
 * Layout of the control block shared with the helper thread: int32 words,
 * then the arguments of the call as float64 (addresses and sizes are below
 * 2^32, so float64 holds them exactly).
 */
export const CONTROL = {
  /** Incremented by the calling thread for each call it hands over. */
  request: 0,
  /** Set by the helper to the request it finished. */
  done: 1,
  /** Index in LOOP_NAMES of the loop to run. */
  loop: 2,
  /** Readiness flag: 1 once the helper has instantiated the module. */
  ready: 3,
  /** Failure flag: 1 when the last call failed in the helper. */
  failed: 4,
  /** Byte offset of the float64 arguments. */
  argumentsOffset: 32,
  /** Maximum number of arguments of a loop, counting start and end. */
  maxArguments: 24,
} as const;

/** Bytes of the control block. */
const CONTROL_BYTES = CONTROL.argumentsOffset + 8 * CONTROL.maxArguments;

/**
 * Work, in vector operations, below which a call runs on the calling thread
 * alone, because handing work to the helper and waiting for it costs tens of
 * microseconds (an estimate).
 */
const SPLIT_MIN_WORK = 1 << 17;

/** How long the calling thread waits for the helper before it gives up. */
const HELPER_TIMEOUT_MS = 60_000;

/** The parts of the backend's Emscripten module this file reads. */
interface HeapModule {
  _malloc(bytes: number): number;
  _free(address: number): void;
  /** The memory of the threaded build. */
  wasmMemory?: WebAssembly.Memory;
  /** The exports of the single-threaded build, its memory among them. */
  asm?: { memory?: WebAssembly.Memory };
}

/** Tensors of the forward kernel, with null for those the unit lacks. */
export interface ForwardTensors {
  y: tf.TensorInfo;
  gamma: tf.TensorInfo;
  beta: tf.TensorInfo;
  alpha: tf.TensorInfo | null;
  residual: tf.TensorInfo | null;
  out: tf.TensorInfo;
  mean: tf.TensorInfo;
  variance: tf.TensorInfo;
}

/** Tensors of the backward kernel, with null for those the unit lacks. */
export interface BackwardTensors {
  dout: tf.TensorInfo;
  y: tf.TensorInfo;
  gamma: tf.TensorInfo;
  beta: tf.TensorInfo;
  alpha: tf.TensorInfo | null;
  mean: tf.TensorInfo;
  variance: tf.TensorInfo;
  dy: tf.TensorInfo;
  dgamma: tf.TensorInfo;
  dbeta: tf.TensorInfo;
  dalpha: tf.TensorInfo | null;
}

/** The SIMD loops bound to one wasm backend. */
export interface SimdLoops {
  /** Runs the forward pass of batchNormPreluForward in loops.ts. */
  batchNormPreluForward(tensors: ForwardTensors, epsilon: number): void;
  /** Runs the backward pass of batchNormPreluBackward in loops.ts. */
  batchNormPreluBackward(tensors: BackwardTensors, epsilon: number): void;
  /** Computes depthwiseFilterGradient of loops.ts on whole tensors. */
  depthwiseFilterGradient(
    x: tf.TensorInfo,
    dy: tf.TensorInfo,
    dw: tf.TensorInfo,
    geometry: DepthwiseGeometry,
  ): void;
  /**
   * Computes the input gradient of a depthwise convolution by scattering dy
   * back through the filter `w`, into dx [N, H, W, C].
   */
  depthwiseInputGradient(
    dy: tf.TensorInfo,
    w: tf.TensorInfo,
    dx: tf.TensorInfo,
    geometry: DepthwiseGeometry,
  ): void;
  /**
   * Computes the weight gradient of a 1x1 convolution, a^T dy for a
   * [rows, in] and dy [rows, out], into dw [in, out]. Needs `in` a multiple
   * of 4 and `out` a multiple of 8 (see {@linkcode simdPointwiseShape}).
   */
  pointwiseFilterGradient(
    a: tf.TensorInfo,
    dy: tf.TensorInfo,
    dw: tf.TensorInfo,
  ): void;
  /**
   * Whether the helper thread has started and takes half of each large
   * weight gradient of a 1x1 convolution.
   */
  readonly helperReady: boolean;
}

/** Compiled once per variant, on first use. */
const compiled = new Map<string, WebAssembly.Module>();
/** One binding per backend memory. */
const bound = new WeakMap<WebAssembly.Memory, SimdLoops>();

/**
 * Returns whether `channels` suits the SIMD loops, which take channels four
 * at a time.
 */
export function simdChannels(channels: number): boolean {
  return channels % 4 === 0;
}

/**
 * Returns whether a 1x1 convolution from `inChannels` to `outChannels` suits
 * the SIMD weight gradient, which takes tiles of 4 input by 8 output
 * channels.
 */
export function simdPointwiseShape(
  inChannels: number,
  outChannels: number,
): boolean {
  return inChannels % 4 === 0 && outChannels % 8 === 0;
}

/**
 * Returns the SIMD loops on `backend`'s heap, or null when its Emscripten
 * module does not expose its memory (then the JavaScript loops run). The
 * first call on a shared memory starts the helper thread.
 *
 * @throws {Error} When the module file cannot be read or instantiated, naming
 *     the file.
 */
export function simdLoops(backend: BackendWasm): SimdLoops | null {
  const heap = backend.wasm as unknown as HeapModule;
  const memory = heap.wasmMemory ?? heap.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let loops = bound.get(memory);
  if (loops === undefined) {
    loops = bind(backend, heap, memory);
    bound.set(memory, loops);
  }
  return loops;
}

/**
 * Instantiates simd/loops.c on `memory`: loops_shared.wasm for a shared
 * memory (the threaded build), loops.wasm for an ordinary one.
 *
 * @throws {Error} When the module file cannot be read or instantiated,
 *     naming the file.
 */
export function instantiateLoops(memory: WebAssembly.Memory): LoopsExports {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const file = shared ? "loops_shared.wasm" : "loops.wasm";
  const url = new URL(`./simd/${file}`, import.meta.url);
  try {
    let module = compiled.get(file);
    if (module === undefined) {
      module = new WebAssembly.Module(Deno.readFileSync(url));
      compiled.set(file, module);
    }
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    return instance.exports as unknown as LoopsExports;
  } catch (error) {
    throw new Error(
      `Cannot load the SIMD loops from "${url.pathname}": ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

/**
 * A helper thread that runs one channel range of a loop while the calling
 * thread runs the other, synchronised through a control block in the shared
 * heap with Atomics.
 */
class Helper {
  readonly #control: Int32Array;
  readonly #arguments: Float64Array;
  #request = 0;
  /** Whether the thread missed a call's deadline, after which it is not used. */
  #stuck = false;

  private constructor(memory: WebAssembly.Memory, address: number) {
    this.#control = new Int32Array(memory.buffer, address, 8);
    this.#arguments = new Float64Array(
      memory.buffer,
      address + CONTROL.argumentsOffset,
      CONTROL.maxArguments,
    );
  }

  /**
   * Starts the thread on a control block allocated from the heap. It stays
   * for the life of the process, unreferenced so that it does not keep the
   * process alive.
   */
  static start(memory: WebAssembly.Memory, heap: HeapModule): Helper {
    const address = heap._malloc(CONTROL_BYTES);
    if (address === 0) {
      throw new RangeError(
        `Cannot allocate ${CONTROL_BYTES} bytes on the wasm heap for the SIMD helper thread`,
      );
    }
    new Uint8Array(memory.buffer, address, CONTROL_BYTES).fill(0);
    const helper = new Helper(memory, address);
    const worker = new Worker(new URL("./simd_worker.ts", import.meta.url));
    worker.unref();
    // A helper that fails never sets `ready`, so the calling thread goes on
    // running every call itself.
    const failed = (message: string) =>
      console.error(
        `SIMD helper thread failed: ${message}: the SIMD loops run on the calling thread alone`,
      );
    worker.on("error", (error: Error) => failed(error.message));
    worker.on("message", (message: { failed?: string }) => {
      if (message.failed !== undefined) failed(message.failed);
    });
    worker.postMessage({ memory, control: address });
    return helper;
  }

  get ready(): boolean {
    return !this.#stuck && Atomics.load(this.#control, CONTROL.ready) === 1;
  }

  /** Hands `loop` over channels [start, end) to the thread. */
  begin(loop: LoopName, args: number[], start: number, end: number): void {
    this.#arguments.set([...args, start, end]);
    Atomics.store(this.#control, CONTROL.loop, LOOP_NAMES.indexOf(loop));
    this.#request = (this.#request + 1) | 0;
    Atomics.store(this.#control, CONTROL.request, this.#request);
    Atomics.notify(this.#control, CONTROL.request);
  }

  /**
   * Waits until the thread has finished the call that {@linkcode begin}
   * handed over.
   *
   * @throws {Error} When the call failed in the thread or the thread did not
   *     finish it in time.
   */
  finish(loop: LoopName): void {
    const deadline = performance.now() + HELPER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.#control, CONTROL.done);
      if (done === this.#request) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        this.#stuck = true;
        throw new Error(
          `SIMD helper thread timed out after ${HELPER_TIMEOUT_MS} ms in ${loop}: later calls run on the calling thread alone`,
        );
      }
      Atomics.wait(this.#control, CONTROL.done, done, left);
    }
    if (Atomics.load(this.#control, CONTROL.failed) !== 0) {
      throw new Error(
        `SIMD helper thread failed in ${loop}: see its message above`,
      );
    }
  }
}

function bind(
  backend: BackendWasm,
  heap: HeapModule,
  memory: WebAssembly.Memory,
): SimdLoops {
  const loops = instantiateLoops(memory);
  const helper = memory.buffer instanceof SharedArrayBuffer
    ? Helper.start(memory, heap)
    : null;

  const address = (info: tf.TensorInfo | null): number => {
    if (info === null) return 0;
    const data = backend.dataIdMap.get(info.dataId);
    if (data === undefined) {
      throw new Error(
        `Cannot run the SIMD loops on a tensor of shape [${info.shape}]: its data was disposed`,
      );
    }
    return data.memoryOffset;
  };
  const withScratch = (bytes: number, run: (scratch: number) => void) => {
    const scratch = heap._malloc(bytes);
    if (scratch === 0) {
      throw new RangeError(
        `Cannot allocate ${bytes} bytes of scratch on the wasm heap for the SIMD loops`,
      );
    }
    try {
      run(scratch);
    } finally {
      heap._free(scratch);
    }
  };

  // Runs `loop` over channels [0, channels) on this thread.
  const run = (loop: LoopName, args: number[], channels: number) => {
    (loops[loop] as (...values: number[]) => void)(...args, 0, channels);
  };
  // Runs `loop` over channels [0, channels), splitting them at a multiple of
  // 4 between the helper and this thread when the call is large enough.
  const runSplit = (
    loop: LoopName,
    args: number[],
    channels: number,
    work: number,
  ) => {
    const split = Math.floor(channels / 8) * 4;
    const fn = loops[loop] as (...values: number[]) => void;
    if (
      helper === null || !helper.ready || split === 0 ||
      work < SPLIT_MIN_WORK
    ) {
      fn(...args, 0, channels);
      return;
    }
    helper.begin(loop, args, split, channels);
    try {
      fn(...args, 0, split);
    } catch (error) {
      // The helper still writes to the heap: wait for it, but report this
      // thread's error, not a second one from the helper.
      try {
        helper.finish(loop);
      } catch {
        // Reported through `error`.
      }
      throw error;
    }
    helper.finish(loop);
  };
  const rowsAndChannels = (shape: number[]): [number, number] => {
    const channels = shape[shape.length - 1];
    const size = shape.reduce((a, b) => a * b, 1);
    return [size / channels, channels];
  };

  return {
    get helperReady() {
      return helper?.ready ?? false;
    },
    batchNormPreluForward(t, epsilon) {
      const [rows, channels] = rowsAndChannels(t.y.shape);
      withScratch(
        loops.bn_prelu_scratch_bytes(channels),
        (scratch) =>
          run(
            "bn_prelu_forward",
            [
              address(t.y),
              address(t.gamma),
              address(t.beta),
              address(t.alpha),
              address(t.residual),
              epsilon,
              address(t.out),
              address(t.mean),
              address(t.variance),
              rows,
              channels,
              scratch,
            ],
            channels,
          ),
      );
    },
    batchNormPreluBackward(t, epsilon) {
      const [rows, channels] = rowsAndChannels(t.y.shape);
      withScratch(
        loops.bn_prelu_scratch_bytes(channels),
        (scratch) =>
          run(
            "bn_prelu_backward",
            [
              address(t.dout),
              address(t.y),
              address(t.gamma),
              address(t.beta),
              address(t.alpha),
              address(t.mean),
              address(t.variance),
              epsilon,
              address(t.dy),
              address(t.dgamma),
              address(t.dbeta),
              address(t.dalpha),
              rows,
              channels,
              scratch,
            ],
            channels,
          ),
      );
    },
    depthwiseFilterGradient(x, dy, dw, g) {
      const taps = g.filterHeight * g.filterWidth;
      withScratch(
        loops.depthwise_scratch_bytes(taps, g.channels),
        (scratch) =>
          run(
            "depthwise_filter_gradient",
            [
              address(x),
              address(dy),
              address(dw),
              ...geometryArguments(g),
              scratch,
            ],
            g.channels,
          ),
      );
    },
    depthwiseInputGradient(dy, w, dx, g) {
      run(
        "depthwise_input_gradient",
        [
          address(dy),
          address(w),
          address(dx),
          ...geometryArguments(g),
        ],
        g.channels,
      );
    },
    pointwiseFilterGradient(a, dy, dw) {
      const [rows, inChannels] = a.shape;
      const outChannels = dy.shape[1];
      runSplit(
        "pointwise_filter_gradient",
        [
          address(a),
          address(dy),
          address(dw),
          rows,
          inChannels,
          outChannels,
        ],
        inChannels,
        // Each multiply-add of 4 products is one unit of work.
        rows * inChannels * outChannels / 4,
      );
    },
  };
}
