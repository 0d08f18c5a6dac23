/**
 * Registration of the training kernels that the TF.js 4.22 wasm backend
 * lacks, so that tf.grad and optimizers run on wasm.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { fastConv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { depthwiseConv2dNativeBackpropFilterConfig } from "./depthwise_conv2d_native_backprop_filter.ts";
import { depthwiseConv2dNativeBackpropInputConfig } from "./depthwise_conv2d_native_backprop_input.ts";
import { pointwiseFilterGradientConfig } from "../fused/pointwise_filter_gradient.ts";
import { sharedIdentityConfig } from "./identity.ts";

const TRAINING_KERNEL_CONFIGS: tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
];

/** Names of the kernels that MobileFaceNet training needs beyond stock wasm. */
export const WASM_TRAINING_KERNELS: readonly string[] = TRAINING_KERNEL_CONFIGS
  .map((config) => config.kernelName);

/** Stock wasm `Conv2DBackpropInput`, kept once it has been replaced. */
let stockConv2DBackpropInput: tf.KernelConfig | null = null;

/**
 * Registers the wasm training kernels and the SIMD weight gradient of 1x1
 * convolutions (src/runtime/fused). Replaces the stock wasm
 * `Conv2DBackpropInput` with one that is faster on 1x1 convolutions, and the
 * stock `Identity` with one that shares memory instead of copying it. Calling
 * it again does nothing, and a kernel of the same name that a later TF.js
 * release provides is kept.
 *
 * Registration does not load or initialise the wasm backend. Call it after
 * importing "@tensorflow/tfjs-backend-wasm", whose stock kernels it completes;
 * before or after the backend initialises both work.
 */
export function registerWasmTrainingKernels(): void {
  for (
    const config of [...TRAINING_KERNEL_CONFIGS, pointwiseFilterGradientConfig]
  ) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) {
      tf.registerKernel(config);
    }
  }
  const stock = tf.getKernel(tf.Conv2DBackpropInput, "wasm");
  if (stockConv2DBackpropInput === null && stock !== undefined) {
    stockConv2DBackpropInput = stock;
    tf.unregisterKernel(tf.Conv2DBackpropInput, "wasm");
    tf.registerKernel(fastConv2DBackpropInputConfig(stock));
  }
  if (!identityShared && tf.getKernel(tf.Identity, "wasm") !== undefined) {
    identityShared = true;
    tf.unregisterKernel(tf.Identity, "wasm");
    tf.registerKernel(sharedIdentityConfig);
  }
}

/** Whether the stock wasm Identity has been replaced. */
let identityShared = false;

/**
 * Lists the wasm training kernels that are not registered.
 *
 * @returns Kernel names, empty when wasm can train MobileFaceNet.
 */
export function missingWasmTrainingKernels(): string[] {
  return WASM_TRAINING_KERNELS.filter((name) =>
    tf.getKernel(name, "wasm") === undefined
  );
}
