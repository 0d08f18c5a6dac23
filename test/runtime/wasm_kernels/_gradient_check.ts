/**
 * Shared set-up for the wasm kernel tests: the wasm backend with the training
 * kernels, seeded random tensors, gradients of one convolution on a chosen
 * backend, and a tolerance check against the cpu backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { Rng } from "../../../src/rng.ts";
import { registerWasmTrainingKernels } from "../../../src/runtime/wasm_kernels/register.ts";
import type { ConvPad } from "../../../src/runtime/wasm_kernels/_conv_util.ts";

registerWasmTrainingKernels();
// Keeps the cpu backend's advice to install tfjs-node out of test output.
tf.env().set("IS_TEST", true);

/**
 * Tolerance of every wasm-versus-cpu comparison: the largest absolute
 * difference may be at most this fraction of the largest magnitude in the cpu
 * result.
 */
export const RELATIVE_TOLERANCE = 1e-4;

/** One convolution whose gradients are compared across backends. */
export interface ConvCase {
  kind: "conv2d" | "depthwise";
  /** `[N, H, W, Cin]`. */
  inputShape: [number, number, number, number];
  /** `[KH, KW, Cin, Cout]`, or `[KH, KW, C, 1]` when depthwise. */
  filterShape: [number, number, number, number];
  strides: number | [number, number];
  pad: ConvPad;
}

/** Gradients of sum(conv(x, w) * dy) with respect to x and w. */
export interface ConvGradients {
  dx: Float32Array;
  dw: Float32Array;
}

/**
 * Returns `size` standard normal floats drawn from a generator seeded with
 * `seed`.
 */
export function randomValues(size: number, seed: number): Float32Array {
  const rng = new Rng([seed, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35]);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.normal();
  return values;
}

/** Applies the convolution of a case. */
export function convolve(
  convCase: ConvCase,
  x: tf.Tensor4D,
  w: tf.Tensor4D,
): tf.Tensor4D {
  return convCase.kind === "conv2d"
    ? tf.conv2d(x, w, convCase.strides, convCase.pad)
    : tf.depthwiseConv2d(x, w, convCase.strides, convCase.pad);
}

/**
 * Computes dx and dw of a case on a backend with tf.grads, from the same
 * seeded x, w and upstream gradient dy on every backend.
 */
export async function convGradients(
  backendName: "cpu" | "wasm",
  convCase: ConvCase,
): Promise<ConvGradients> {
  await tf.setBackend(backendName);
  return tf.tidy(() => {
    const x = tf.tensor4d(
      randomValues(sizeOf(convCase.inputShape), 1),
      convCase.inputShape,
    );
    const w = tf.tensor4d(
      randomValues(sizeOf(convCase.filterShape), 2),
      convCase.filterShape,
    );
    const y = convolve(convCase, x, w);
    const dy = tf.tensor4d(randomValues(y.size, 3), y.shape);
    const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
      convolve(convCase, x as tf.Tensor4D, w as tf.Tensor4D)
    )([x, w], dy);
    return {
      dx: dx.dataSync() as Float32Array,
      dw: dw.dataSync() as Float32Array,
    };
  });
}

/**
 * Asserts that `actual` matches `expected` within a fraction of the largest
 * magnitude in `expected`.
 *
 * @param options.tolerance The fraction, {@linkcode RELATIVE_TOLERANCE} by
 *     default.
 * @param options.floor The least magnitude the fraction is taken of, for
 *     arrays that are near zero; 0 by default.
 * @throws {Error} When the lengths differ or a value is out of tolerance.
 */
export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  options: { tolerance?: number; floor?: number } = {},
): void {
  const { tolerance = RELATIVE_TOLERANCE, floor = 0 } = options;
  if (actual.length !== expected.length) {
    throw new Error(
      `${label}: expected ${expected.length} values, got ${actual.length}`,
    );
  }
  let scale = floor;
  for (const value of expected) scale = Math.max(scale, Math.abs(value));
  const limit = tolerance * scale;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    if (!(difference <= limit)) {
      throw new Error(
        `${label}: value ${i} is ${actual[i]}, expected ${
          expected[i]
        } within ${limit} (${tolerance} of max |expected| ${scale})`,
      );
    }
  }
}

/**
 * Asserts that dx and dw of a case agree between the wasm and cpu backends.
 */
export async function assertWasmMatchesCpu(convCase: ConvCase): Promise<void> {
  const expected = await convGradients("cpu", convCase);
  const actual = await convGradients("wasm", convCase);
  assertClose(actual.dw, expected.dw, "dw");
  assertClose(actual.dx, expected.dx, "dx");
}

function sizeOf(shape: number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}
