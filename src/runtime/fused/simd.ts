/**
 * The WebAssembly SIMD loops of simd/loops.c, run on the wasm backend's own
 * heap.
 *
 * The module imports the backend's memory, so it reads tensors where they
 * are and writes outputs in place, with no copy. It owns no memory of its
 * own, so the per-channel scratch it needs is allocated from the backend's
 * heap for the length of one call. simd/build.sh builds it from the C source and
 * checks both properties.
 *
 * The loops take channels four at a time, so they serve tensors whose
 * channel count is a multiple of 4. Callers run the JavaScript loops of
 * loops.ts for the others, and on the cpu backend.
 *
 * @module
 */

import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type * as tf from "@tensorflow/tfjs";
import type { DepthwiseGeometry } from "./loops.ts";

/** The functions that simd/loops.c exports, on addresses of the heap. */
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
  ): void;
  depthwise_scratch_bytes(taps: number, channels: number): number;
  depthwise_filter_gradient(
    x: number,
    dy: number,
    dw: number,
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
    scratch: number,
  ): void;
}

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
  /** The forward pass of batchNormPreluForward in loops.ts. */
  batchNormPreluForward(tensors: ForwardTensors, epsilon: number): void;
  /** The backward pass of batchNormPreluBackward in loops.ts. */
  batchNormPreluBackward(tensors: BackwardTensors, epsilon: number): void;
  /** depthwiseFilterGradient of loops.ts, on whole tensors. */
  depthwiseFilterGradient(
    x: tf.TensorInfo,
    dy: tf.TensorInfo,
    dw: tf.TensorInfo,
    geometry: DepthwiseGeometry,
  ): void;
}

/** Compiled once per variant, on first use. */
const compiled = new Map<string, WebAssembly.Module>();
/** One binding per backend memory, or null when it cannot be made. */
const bound = new WeakMap<WebAssembly.Memory, SimdLoops | null>();

/**
 * Returns whether `channels` suits the SIMD loops, which take channels four
 * at a time.
 */
export function simdChannels(channels: number): boolean {
  return channels % 4 === 0;
}

/**
 * Returns the SIMD loops on `backend`'s heap, or null when its Emscripten
 * module does not expose its memory (then the JavaScript loops run).
 *
 * @throws {Error} When the module file cannot be read or instantiated, naming
 *     the file: the repository is incomplete, or simd/build.sh must be run.
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
      }; rebuild them with src/runtime/fused/simd/build.sh`,
      { cause: error },
    );
  }
}

function bind(
  backend: BackendWasm,
  heap: HeapModule,
  memory: WebAssembly.Memory,
): SimdLoops {
  const loops = instantiateLoops(memory);
  const address = (info: tf.TensorInfo | null): number =>
    info === null ? 0 : backend.dataIdMap.get(info.dataId)!.memoryOffset;
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
  const rowsAndChannels = (shape: number[]): [number, number] => {
    const channels = shape[shape.length - 1];
    const size = shape.reduce((a, b) => a * b, 1);
    return [size / channels, channels];
  };

  return {
    batchNormPreluForward(t, epsilon) {
      const [rows, channels] = rowsAndChannels(t.y.shape);
      withScratch(
        loops.bn_prelu_scratch_bytes(channels),
        (scratch) =>
          loops.bn_prelu_forward(
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
          ),
      );
    },
    batchNormPreluBackward(t, epsilon) {
      const [rows, channels] = rowsAndChannels(t.y.shape);
      withScratch(
        loops.bn_prelu_scratch_bytes(channels),
        (scratch) =>
          loops.bn_prelu_backward(
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
          ),
      );
    },
    depthwiseFilterGradient(x, dy, dw, g) {
      const taps = g.filterHeight * g.filterWidth;
      withScratch(
        loops.depthwise_scratch_bytes(taps, g.channels),
        (scratch) =>
          loops.depthwise_filter_gradient(
            address(x),
            address(dy),
            address(dw),
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
            scratch,
          ),
      );
    },
  };
}
