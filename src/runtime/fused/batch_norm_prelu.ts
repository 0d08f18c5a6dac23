/**
 * Batch norm in training mode, PReLU and a residual addition as one kernel
 * pair for the wasm and cpu backends, which run them as loops over the
 * tensors' memory.
 *
 * Composed of TF.js ops, one MobileFaceNet unit's normalisation, activation
 * and residual took about a dozen passes over its activations forward and
 * backward, each a separate kernel. The loops here take two passes forward
 * (moments, then output) and two backward, and sum in float64.
 *
 * Forward, per channel c over the m = N * H * W positions:
 *
 *   mean = sum(y) / m,   var = sum((y - mean)^2) / m,   s = gamma / sqrt(var + eps),
 *   z = s * (y - mean) + beta,   out = (z > 0 ? z : alpha * z) + residual.
 *
 * Backward, with x_hat = (y - mean) / sqrt(var + eps) and dz = dout where
 * z > 0 and alpha * dout elsewhere (the convention of TF.js's PReLU gradient):
 *
 *   dalpha = sum over z <= 0 of dout * z,   dbeta = sum(dz),   dgamma = sum(dz * x_hat),
 *   dy = s * (dz - dbeta / m - x_hat * dgamma / m),   dresidual = dout.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { batchNormPreluBackward, batchNormPreluForward } from "./loops.ts";
import { simdChannels, simdLoops } from "./simd.ts";

/** Kernel name of the forward pass. */
export const BATCH_NORM_PRELU = "MobileFaceNetBatchNormPrelu";
/** Kernel name of the backward pass. */
export const BATCH_NORM_PRELU_GRAD = "MobileFaceNetBatchNormPreluGrad";

/** Backends that run the two kernels as loops over their memory. */
const LOOP_BACKENDS = ["wasm", "cpu"] as const;
type LoopBackend = typeof LOOP_BACKENDS[number];

/** Attributes of both kernels. */
interface Attrs {
  epsilon: number;
  hasAlpha: boolean;
  hasResidual: boolean;
}

/** The result of {@linkcode batchNormPrelu}. */
export interface BatchNormPreluResult {
  /** [N, H, W, C]. */
  y: tf.Tensor4D;
  /** Batch mean [C], kept out of any enclosing `tf.tidy`. */
  mean: tf.Tensor1D;
  /** Biased batch variance [C], kept out of any enclosing `tf.tidy`. */
  variance: tf.Tensor1D;
}

/**
 * Returns whether the active backend runs {@linkcode batchNormPrelu} as one
 * kernel pair. Other backends compose it of TF.js ops.
 */
export function hasFusedBatchNormPrelu(): boolean {
  const backend = tf.getBackend();
  return tf.getKernel(BATCH_NORM_PRELU, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_PRELU_GRAD, backend) !== undefined;
}

/**
 * Normalises `y` with its batch moments, scales and shifts it, applies
 * PReLU when `alpha` is given and adds `residual` when given, with a
 * gradient for every tensor input.
 *
 * Runs the fused kernels where {@linkcode hasFusedBatchNormPrelu}, so call
 * {@linkcode registerBatchNormPreluKernels} once at start-up.
 *
 * @param y Conv output [N, H, W, C].
 * @param gamma Scale [C].
 * @param beta Offset [C].
 * @param alpha PReLU slopes [C], or null for a linear unit.
 * @param residual Tensor of y's shape added last, or null.
 * @param epsilon Added to the variance.
 */
export function batchNormPrelu(
  y: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  alpha: tf.Tensor1D | null,
  residual: tf.Tensor4D | null,
  epsilon: number,
): BatchNormPreluResult {
  const attrs: Attrs = {
    epsilon,
    hasAlpha: alpha !== null,
    hasResidual: residual !== null,
  };
  // A linear unit runs as PReLU with slope 1, which the loops compute
  // exactly, so every call has the same inputs to save for the gradient.
  const slopes = alpha ?? tf.ones(gamma.shape);
  const inputs: tf.NamedTensorMap = { y, gamma, beta, alpha: slopes };
  if (residual !== null) inputs.residual = residual;
  const [out, mean, variance] = tf.engine().runKernel(
    BATCH_NORM_PRELU,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  if (alpha === null) slopes.dispose();
  return {
    y: out as tf.Tensor4D,
    mean: tf.keep(mean as tf.Tensor1D),
    variance: tf.keep(variance as tf.Tensor1D),
  };
}

/**
 * The gradient of the forward kernel. The moments are outputs only for the
 * moving statistics; no loss depends on them, so their upstream gradients
 * are ignored.
 */
const batchNormPreluGradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_PRELU,
  inputsToSave: ["y", "gamma", "beta", "alpha"],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dout = Array.isArray(dys) ? dys[0] : dys;
    const [y, gamma, beta, alpha, mean, variance] = saved;
    const { hasAlpha, hasResidual } = attrs as unknown as Attrs;
    // One kernel gives every gradient. The engine calls each input's
    // function in a scope of its own, which would free the others, so they
    // are computed here, once, before any of those scopes.
    const [dy, dgamma, dbeta, dalpha] = tf.engine().runKernel(
      BATCH_NORM_PRELU_GRAD,
      { dy: dout, y, gamma, beta, alpha, mean, variance },
      attrs,
    ) as tf.Tensor[];
    return {
      y: () => dy,
      gamma: () => dgamma,
      beta: () => dbeta,
      ...(hasAlpha ? { alpha: () => dalpha } : {}),
      ...(hasResidual ? { residual: () => tf.clone(dout) } : {}),
    };
  },
};

/** Reads and writes tensor memory of one backend as float32 arrays. */
interface Memory {
  /** Allocates an output tensor. */
  output(shape: number[]): tf.TensorInfo;
  /** The values of a tensor, a view where the backend allows one. */
  view(info: tf.TensorInfo): Float32Array;
}

function memoryOf(backendName: LoopBackend, backend: unknown): Memory {
  if (backendName === "wasm") {
    const wasm = backend as BackendWasm;
    return {
      output: (shape) => wasm.makeOutput(shape, "float32"),
      view: (info) => wasm.typedArrayFromHeap(info) as Float32Array,
    };
  }
  const cpu = backend as {
    makeTensorInfo(
      shape: number[],
      dtype: "float32",
      values: Float32Array,
    ): tf.TensorInfo;
    data: { get(dataId: unknown): { values: Float32Array } };
  };
  return {
    output: (shape) =>
      cpu.makeTensorInfo(
        shape,
        "float32",
        new Float32Array(shape.reduce((a, b) => a * b, 1)),
      ),
    view: (info) => cpu.data.get(info.dataId).values,
  };
}

function input(
  inputs: tf.NamedTensorInfoMap,
  name: string,
  kernelName: string,
): tf.TensorInfo {
  const info = inputs[name];
  if (info === undefined || info.dtype !== "float32") {
    throw new TypeError(
      `Cannot run ${kernelName}: input "${name}" must be a float32 tensor`,
    );
  }
  return info;
}

function forwardConfig(backendName: LoopBackend): tf.KernelConfig {
  return {
    kernelName: BATCH_NORM_PRELU,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { epsilon, hasAlpha, hasResidual } = attrs as unknown as Attrs;
      const memory = memoryOf(backendName, backend);
      const y = input(inputs, "y", BATCH_NORM_PRELU);
      const channels = y.shape[y.shape.length - 1];
      // Every output first: allocating can move the wasm heap.
      const out = memory.output(y.shape);
      const mean = memory.output([channels]);
      const variance = memory.output([channels]);
      const simd = backendName === "wasm" && simdChannels(channels)
        ? simdLoops(backend as BackendWasm)
        : null;
      if (simd !== null) {
        simd.batchNormPreluForward({
          y,
          gamma: input(inputs, "gamma", BATCH_NORM_PRELU),
          beta: input(inputs, "beta", BATCH_NORM_PRELU),
          alpha: hasAlpha ? input(inputs, "alpha", BATCH_NORM_PRELU) : null,
          residual: hasResidual
            ? input(inputs, "residual", BATCH_NORM_PRELU)
            : null,
          out,
          mean,
          variance,
        }, epsilon);
        return [out, mean, variance];
      }
      const arrays = [
        memory.view(y),
        memory.view(input(inputs, "gamma", BATCH_NORM_PRELU)),
        memory.view(input(inputs, "beta", BATCH_NORM_PRELU)),
        hasAlpha ? memory.view(input(inputs, "alpha", BATCH_NORM_PRELU)) : null,
        hasResidual
          ? memory.view(input(inputs, "residual", BATCH_NORM_PRELU))
          : null,
        memory.view(out),
        memory.view(mean),
        memory.view(variance),
      ] as const;
      batchNormPreluForward(
        arrays[0],
        arrays[1],
        arrays[2],
        arrays[3],
        arrays[4],
        epsilon,
        arrays[5],
        arrays[6],
        arrays[7],
      );
      return [out, mean, variance];
    },
  };
}

function backwardConfig(backendName: LoopBackend): tf.KernelConfig {
  return {
    kernelName: BATCH_NORM_PRELU_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { epsilon, hasAlpha } = attrs as unknown as Attrs;
      const memory = memoryOf(backendName, backend);
      const name = BATCH_NORM_PRELU_GRAD;
      const y = input(inputs, "y", name);
      const channels = y.shape[y.shape.length - 1];
      const dy = memory.output(y.shape);
      const dgamma = memory.output([channels]);
      const dbeta = memory.output([channels]);
      const dalpha = hasAlpha ? memory.output([channels]) : null;
      const outputs = dalpha === null
        ? [dy, dgamma, dbeta]
        : [dy, dgamma, dbeta, dalpha];
      const simd = backendName === "wasm" && simdChannels(channels)
        ? simdLoops(backend as BackendWasm)
        : null;
      if (simd !== null) {
        simd.batchNormPreluBackward({
          dout: input(inputs, "dy", name),
          y,
          gamma: input(inputs, "gamma", name),
          beta: input(inputs, "beta", name),
          alpha: hasAlpha ? input(inputs, "alpha", name) : null,
          mean: input(inputs, "mean", name),
          variance: input(inputs, "variance", name),
          dy,
          dgamma,
          dbeta,
          dalpha,
        }, epsilon);
        return outputs;
      }
      const arrays = [
        memory.view(input(inputs, "dy", name)),
        memory.view(y),
        memory.view(input(inputs, "gamma", name)),
        memory.view(input(inputs, "beta", name)),
        hasAlpha ? memory.view(input(inputs, "alpha", name)) : null,
        memory.view(input(inputs, "mean", name)),
        memory.view(input(inputs, "variance", name)),
        memory.view(dy),
        memory.view(dgamma),
        memory.view(dbeta),
        dalpha === null ? null : memory.view(dalpha),
      ] as const;
      batchNormPreluBackward(
        arrays[0],
        arrays[1],
        arrays[2],
        arrays[3],
        arrays[4],
        arrays[5],
        arrays[6],
        epsilon,
        arrays[7],
        arrays[8],
        arrays[9],
        arrays[10],
      );
      return outputs;
    },
  };
}

/**
 * Registers the two kernels for the wasm and cpu backends. Calling it again
 * does nothing.
 */
export function registerBatchNormPreluKernels(): void {
  if (
    !tf.getGradient(BATCH_NORM_PRELU)
  ) tf.registerGradient(batchNormPreluGradConfig);
  for (const backendName of LOOP_BACKENDS) {
    for (const config of [forwardConfig, backwardConfig]) {
      const kernel = config(backendName);
      if (tf.getKernel(kernel.kernelName, backendName) === undefined) {
        tf.registerKernel(kernel);
      }
    }
  }
}
