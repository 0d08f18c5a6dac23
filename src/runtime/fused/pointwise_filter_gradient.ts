/**
 * The weight gradient of a 1x1 convolution, a^T dy, as one kernel for the
 * wasm backend.
 *
 * The rows of a and dy are the N * H * W positions, tens of thousands at
 * 112x112. As a matrix product, a^T dy has that as its inner dimension, which
 * the backend's XNNPACK product takes without blocking. In a full-size
 * training step on a 2-core machine it measured 3 to 15 GMAC/s, against
 * about 23 for the forward products. The SIMD loop of simd/loops.c blocks the rows, reads a and dy
 * without transposing either, and splits the input channels with the helper
 * thread.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { simdLoops, simdPointwiseShape } from "./simd.ts";

/** Kernel name. */
export const POINTWISE_FILTER_GRAD = "MobileFaceNetPointwiseFilterGrad";

/**
 * Returns whether the active backend computes a^T dy for a 1x1 convolution
 * from `inChannels` to `outChannels` with {@linkcode pointwiseFilterGradient}.
 * Elsewhere, compute it as a matrix product.
 *
 * @throws {Error} When the SIMD loops cannot be loaded, which the backend's
 *     selection has already reported.
 */
export function hasPointwiseFilterGradient(
  inChannels: number,
  outChannels: number,
): boolean {
  return tf.getBackend() === "wasm" &&
    tf.getKernel(POINTWISE_FILTER_GRAD, "wasm") !== undefined &&
    simdPointwiseShape(inChannels, outChannels) &&
    simdLoops(tf.backend() as BackendWasm) !== null;
}

/**
 * Computes a^T dy.
 *
 * @param a Inputs of the convolution as rows [M, in].
 * @param dy Upstream gradient as rows [M, out].
 * @returns [in, out].
 */
export function pointwiseFilterGradient(
  a: tf.Tensor2D,
  dy: tf.Tensor2D,
): tf.Tensor2D {
  return tf.engine().runKernel(POINTWISE_FILTER_GRAD, { a, dy }) as tf.Tensor2D;
}

/** Registry entry for the wasm backend. */
export const pointwiseFilterGradientConfig: tf.KernelConfig = {
  kernelName: POINTWISE_FILTER_GRAD,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend }) => {
    const wasm = backend as BackendWasm;
    const a = inputs.a as tf.TensorInfo;
    const dy = inputs.dy as tf.TensorInfo;
    const [rows, inChannels] = a.shape;
    const [dyRows, outChannels] = dy.shape;
    if (
      a.dtype !== "float32" || dy.dtype !== "float32" || a.shape.length !== 2 ||
      dy.shape.length !== 2 || rows !== dyRows ||
      !simdPointwiseShape(inChannels, outChannels)
    ) {
      throw new TypeError(
        `Cannot run ${POINTWISE_FILTER_GRAD}: expected float32 a [M, in] and dy [M, out] with in a multiple of 4 and out a multiple of 8, got a [${a.shape}] ${a.dtype} and dy [${dy.shape}] ${dy.dtype}`,
      );
    }
    const loops = simdLoops(wasm);
    if (loops === null) {
      throw new Error(
        `Cannot run ${POINTWISE_FILTER_GRAD}: the wasm backend does not expose its memory`,
      );
    }
    const dw = wasm.makeOutput([inChannels, outChannels], "float32");
    loops.pointwiseFilterGradient(a, dy, dw);
    return dw;
  },
};
