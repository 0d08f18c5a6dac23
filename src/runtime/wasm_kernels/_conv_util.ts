/**
 * Helpers shared by the convolution gradient kernels of the wasm backend:
 * attribute checks, calls into kernels the wasm backend already registers,
 * and typed-array views of tensors on the wasm heap.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** Padding as TF.js convolutions accept it. */
export type ConvPad =
  | "same"
  | "valid"
  | number
  | tf.backend_util.ExplicitPadding;

/** The attributes every convolution gradient kernel here reads. */
export interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: ConvPad;
  dilations?: [number, number] | number;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Computes the geometry of an NHWC convolution and rejects what the kernels
 * here do not implement.
 *
 * @param kernelName Kernel name, used in error messages.
 * @param inShape `[batch, height, width, inChannels]`.
 * @param filterShape `[filterHeight, filterWidth, inChannels, outChannels]`,
 *     or `[filterHeight, filterWidth, channels, multiplier]` when depthwise.
 * @param attrs Kernel attributes.
 * @param depthwise Whether the convolution is depthwise.
 * @returns The TF.js convolution info, with padding resolved to numbers.
 * @throws {RangeError} When dilations are not 1 or the data format is NCHW.
 * @throws {TypeError} When a shape is not rank 4.
 */
export function computeConvInfo(
  kernelName: string,
  inShape: number[],
  filterShape: number[],
  attrs: ConvGradAttrs,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  if (inShape.length !== 4 || filterShape.length !== 4) {
    throw new TypeError(
      `Cannot run ${kernelName} on wasm: expected rank-4 input and filter shapes, got [${inShape}] and [${filterShape}]`,
    );
  }
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") {
    throw new RangeError(
      `Cannot run ${kernelName} on wasm: only data format "NHWC" is implemented, got "${attrs.dataFormat}"`,
    );
  }
  const dilations = attrs.dilations ?? 1;
  const [dilationHeight, dilationWidth] = typeof dilations === "number"
    ? [dilations, dilations]
    : dilations;
  if (dilationHeight !== 1 || dilationWidth !== 1) {
    throw new RangeError(
      `Cannot run ${kernelName} on wasm: only dilations of 1 are implemented, got [${dilationHeight}, ${dilationWidth}]`,
    );
  }
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    "channelsLast",
  );
}

/**
 * Runs a kernel that the wasm backend registers, on tensors that already
 * live on it, without going through the engine.
 *
 * The caller owns the returned tensor info and frees it with
 * `backend.disposeData(info.dataId)` unless it is the kernel's output.
 *
 * @param backend The wasm backend.
 * @param kernelName A kernel registered for the wasm backend.
 * @param inputs Named input tensors on the wasm backend.
 * @param attrs Kernel attributes.
 * @returns The single output of the kernel.
 * @throws {Error} When the kernel is not registered for the wasm backend.
 */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (kernel === undefined) {
    throw new Error(
      `Cannot run kernel "${kernelName}": it is not registered for the wasm backend`,
    );
  }
  return kernel.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
}

/**
 * Returns a float32 view of a tensor on the wasm heap.
 *
 * Growing the heap of the single-threaded build detaches the view, so a
 * kernel must allocate all of its outputs before it takes views.
 *
 * @param backend The wasm backend.
 * @param info A float32 tensor on that backend.
 * @returns A view, not a copy, of the tensor's values.
 * @throws {TypeError} When the tensor is not float32.
 */
export function float32View(
  backend: BackendWasm,
  info: tf.TensorInfo,
): Float32Array {
  if (info.dtype !== "float32") {
    throw new TypeError(
      `Cannot read tensor as float32: its dtype is "${info.dtype}"`,
    );
  }
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * Rejects a depthwise filter whose channel multiplier is not 1, the only
 * multiplier MobileFaceNet uses and the only one the kernels here implement.
 *
 * @param kernelName Kernel name, used in the error message.
 * @param filterShape `[KH, KW, C, multiplier]`.
 * @throws {TypeError} When the multiplier is not 1.
 */
export function checkChannelMultiplier(
  kernelName: string,
  filterShape: number[],
): void {
  if (filterShape[3] !== 1) {
    throw new TypeError(
      `Cannot run ${kernelName} on wasm: only channel multiplier 1 is implemented, got filter shape [${filterShape}]`,
    );
  }
}

/**
 * Returns a named kernel input.
 *
 * @param kernelName Kernel name, used in the error message.
 * @param inputs The kernel's inputs.
 * @param name Input name, such as "x" or "dy".
 * @returns The input's tensor info.
 * @throws {TypeError} When the input is missing.
 */
export function kernelInput(
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  name: string,
): tf.TensorInfo {
  const input = inputs[name];
  if (input === undefined) {
    throw new TypeError(
      `Cannot run ${kernelName} on wasm: input "${name}" is missing`,
    );
  }
  return input;
}
