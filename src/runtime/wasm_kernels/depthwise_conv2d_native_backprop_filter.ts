/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend, which TF.js 4.22
 * lacks: the gradient of a depthwise convolution with respect to its filter,
 * used when training the depthwise layers and the global depthwise
 * convolution (GDConv) of MobileFaceNet.
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
} from "./_conv_util.ts";
import {
  depthwiseFilterGradient,
  type DepthwiseGeometry,
} from "../fused/loops.ts";
import { simdChannels, simdLoops } from "../fused/simd.ts";

/**
 * Computes dL/dW of an NHWC depthwise convolution with channel multiplier 1.
 *
 * dW[kh, kw, c] = Σ over n, oh, ow of
 * x[n, oh * sh + kh - padTop, ow * sw + kw - padLeft, c] · dy[n, oh, ow, c],
 * where taps that fall on padding contribute nothing. The loop runs on the
 * wasm heap: the SIMD loop of src/runtime/fused/simd when the channel count
 * is a multiple of 4, else `depthwiseFilterGradient` of
 * src/runtime/fused/loops.ts in JavaScript.
 *
 * @param args.inputs.x Input `[N, H, W, C]`.
 * @param args.inputs.dy Upstream gradient `[N, OH, OW, C]`.
 * @param args.attrs Strides, pad, dilations (must be 1), rounding mode and
 *     the filter shape `[KH, KW, C, 1]`.
 * @returns dW `[KH, KW, C, 1]`.
 */
export function depthwiseConv2dNativeBackpropFilter(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const kernelName = tf.DepthwiseConv2dNativeBackpropFilter;
  const x = kernelInput(kernelName, args.inputs, "x");
  const dy = kernelInput(kernelName, args.inputs, "dy");
  const attrs = args.attrs as unknown as
    & ConvGradAttrs
    & { filterShape: [number, number, number, number] };
  checkChannelMultiplier(kernelName, attrs.filterShape);
  const info = computeConvInfo(
    kernelName,
    x.shape,
    attrs.filterShape,
    attrs,
    true,
  );
  const geometry: DepthwiseGeometry = {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
  const dw = backend.makeOutput(attrs.filterShape, "float32");
  const simd = simdChannels(geometry.channels) ? simdLoops(backend) : null;
  if (simd !== null) {
    simd.depthwiseFilterGradient(x, dy, dw, geometry);
    return dw;
  }
  const xValues = float32View(backend, x);
  const dyValues = float32View(backend, dy);
  const dwValues = float32View(backend, dw);
  depthwiseFilterGradient(xValues, dyValues, dwValues, geometry);
  return dw;
}

/** Registry entry for {@linkcode depthwiseConv2dNativeBackpropFilter}. */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropFilter as tf.KernelFunc,
};
