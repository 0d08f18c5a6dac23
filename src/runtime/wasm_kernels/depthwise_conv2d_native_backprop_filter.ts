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

/**
 * Computes dL/dW of an NHWC depthwise convolution with channel multiplier 1.
 *
 * dW[kh, kw, c] = Σ over n, oh, ow of
 * x[n, oh * sh + kh - padTop, ow * sw + kw - padLeft, c] · dy[n, oh, ow, c],
 * where taps that fall on padding contribute nothing. The loop runs on the
 * wasm heap in JavaScript, with channels innermost because they are
 * contiguous in NHWC, and sums in float64.
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
  const { batchSize, inHeight, inWidth, inChannels: channels } = info;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;

  const sums = new Float64Array(filterHeight * filterWidth * channels);
  const dw = backend.makeOutput(attrs.filterShape, "float32");
  const xValues = float32View(backend, x);
  const dyValues = float32View(backend, dy);
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
            const xBase = ((n * inHeight + ih) * inWidth + iw) * channels;
            const sumBase = (kh * filterWidth + kw) * channels;
            for (let c = 0; c < channels; c++) {
              sums[sumBase + c] += xValues[xBase + c] * dyValues[dyBase + c];
            }
          }
        }
      }
    }
  }
  float32View(backend, dw).set(sums);
  return dw;
}

/** Registry entry for {@linkcode depthwiseConv2dNativeBackpropFilter}. */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropFilter as tf.KernelFunc,
};
