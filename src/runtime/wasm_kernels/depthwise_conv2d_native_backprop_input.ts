/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend, which TF.js 4.22
 * lacks: the gradient of a depthwise convolution with respect to its input,
 * which carries the gradient back through every depthwise layer of
 * MobileFaceNet.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  checkChannelMultiplier,
  computeConvInfo,
  type ConvGradAttrs,
  float32View,
  kernelInput,
  runWasmKernel,
} from "./_conv_util.ts";
import { simdChannels, simdLoops } from "../fused/simd.ts";

/**
 * Computes dL/dx of an NHWC depthwise convolution with channel multiplier 1.
 *
 * At stride 1 it usually runs as a depthwise convolution on the wasm backend.
 * Other strides, and global kernels such as GDConv, scatter dy back in a
 * loop.
 *
 * @param args.inputs.dy Upstream gradient `[N, OH, OW, C]`.
 * @param args.inputs.filter Filter `[KH, KW, C, 1]`.
 * @param args.attrs Strides, pad, dilations (must be 1), rounding mode and
 *     the input shape `[N, H, W, C]`.
 * @returns dx `[N, H, W, C]`.
 */
export function depthwiseConv2dNativeBackpropInput(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const kernelName = tf.DepthwiseConv2dNativeBackpropInput;
  const dy = kernelInput(kernelName, args.inputs, "dy");
  const filter = kernelInput(kernelName, args.inputs, "filter");
  const attrs = args.attrs as unknown as
    & ConvGradAttrs
    & { inputShape: [number, number, number, number] };
  checkChannelMultiplier(kernelName, filter.shape);
  const info = computeConvInfo(
    kernelName,
    attrs.inputShape,
    filter.shape,
    attrs,
    true,
  );
  const viaConvolution = backpropInputByConvolution(
    backend,
    dy,
    filter,
    info,
  );
  if (viaConvolution !== null) return viaConvolution;
  return backpropInputByScatter(backend, dy, filter, info);
}

/**
 * Computes dx at stride 1 as a depthwise convolution of dy with the filter
 * rotated by 180 degrees, so that the wasm backend's XNNPACK kernel does the
 * work. Along the height (the width is the same),
 *
 *     dx[ih] = Σ_k dy[ih + padTop - k] · w[k]
 *            = Σ_j dy'[ih + j] · w[KH - 1 - j],
 *
 * where dy' is dy padded by KH - 1 - padTop before and KH - 1 - padBottom
 * after.
 *
 * @returns dx `[N, H, W, C]`, or null when the stride is not 1, the forward
 *     padding exceeds KH - 1 or KW - 1, or the output has fewer than half as
 *     many positions as the input.
 */
function backpropInputByConvolution(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo | null {
  const { filterHeight, filterWidth, inChannels: channels } = info;
  const { top, bottom, left, right } = info.padInfo;
  const before = [filterHeight - 1 - top, filterWidth - 1 - left];
  const after = [filterHeight - 1 - bottom, filterWidth - 1 - right];
  // The convolution computes every input position from KH * KW taps, while the
  // scatter touches only the taps of real outputs. A convolution that does
  // more than twice the scatter's work, as for a global GDConv kernel, is
  // slower even on XNNPACK.
  const outPositions = info.outHeight * info.outWidth;
  if (
    info.strideHeight !== 1 || info.strideWidth !== 1 ||
    2 * outPositions < info.inHeight * info.inWidth ||
    Math.min(...before, ...after) < 0 ||
    dy.shape[1] + before[0] + after[0] - filterHeight + 1 !== info.inHeight ||
    dy.shape[2] + before[1] + after[1] - filterWidth + 1 !== info.inWidth
  ) {
    return null;
  }

  const rotated = backend.makeOutput(filter.shape, "float32");
  const weights = float32View(backend, filter);
  const rotatedWeights = float32View(backend, rotated);
  const taps = filterHeight * filterWidth;
  for (let tap = 0; tap < taps; tap++) {
    const source = (taps - 1 - tap) * channels;
    rotatedWeights.set(
      weights.subarray(source, source + channels),
      tap * channels,
    );
  }
  const dx = runWasmKernel(backend, tf.DepthwiseConv2dNative, {
    x: dy,
    filter: rotated,
  }, {
    strides: [1, 1],
    pad: [[0, 0], [before[0], after[0]], [before[1], after[1]], [0, 0]],
    dilations: [1, 1],
  });
  backend.disposeData(rotated.dataId);
  return dx;
}

/**
 * Computes dx by scattering dy back. For every tap (kh, kw) that lands inside
 * the input, dy[n, oh, ow, c] · w[kh, kw, c] is added to
 * dx[n, oh * sh + kh - padTop, ow * sw + kw - padLeft, c]. The loop runs on
 * the wasm heap, with channels innermost because they are contiguous in
 * NHWC: the SIMD loop of src/runtime/fused/simd when the channel count is a
 * multiple of 4, else in JavaScript.
 */
function backpropInputByScatter(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: channels } = info;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;

  const dx = backend.makeOutput(info.inShape, "float32");
  const simd = simdChannels(channels) ? simdLoops(backend) : null;
  if (simd !== null) {
    simd.depthwiseInputGradient(dy, filter, dx, {
      batch: batchSize,
      inHeight,
      inWidth,
      channels,
      outHeight,
      outWidth,
      filterHeight,
      filterWidth,
      strideHeight,
      strideWidth,
      padTop: top,
      padLeft: left,
    });
    return dx;
  }
  const dxValues = float32View(backend, dx);
  const dyValues = float32View(backend, dy);
  const weights = float32View(backend, filter);
  // makeOutput does not clear the memory it allocates.
  dxValues.fill(0);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const ih = oh * strideHeight + kh - top;
        if (ih < 0 || ih >= inHeight) continue;
        for (let ow = 0; ow < outWidth; ow++) {
          const dyBase = ((n * outHeight + oh) * outWidth + ow) * channels;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - left;
            if (iw < 0 || iw >= inWidth) continue;
            const dxBase = ((n * inHeight + ih) * inWidth + iw) * channels;
            const weightBase = (kh * filterWidth + kw) * channels;
            for (let c = 0; c < channels; c++) {
              dxValues[dxBase + c] += dyValues[dyBase + c] *
                weights[weightBase + c];
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Registry entry for {@linkcode depthwiseConv2dNativeBackpropInput}. */
export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropInput as tf.KernelFunc,
};
