/**
 * `Conv2DBackpropFilter` for the wasm backend, which TF.js 4.22 lacks: the
 * gradient of a 2D convolution with respect to its filter, used when training
 * every regular convolution of MobileFaceNet.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  computeConvInfo,
  type ConvGradAttrs,
  float32View,
  kernelInput,
  runWasmKernel,
} from "./_conv_util.ts";

/**
 * Maximum number of floats in one im2col buffer. Larger problems split the
 * filter taps into groups, so memory stays bounded.
 */
const MAX_COLUMN_ELEMENTS = 1 << 24;

/**
 * Computes dL/dW of an NHWC convolution.
 *
 * With M = N * OH * OW, the im2col matrix `cols` is `[M, KH * KW * Cin]`, and
 * dW = colsᵀ · dy with dy as `[M, Cout]`. The kernel writes colsᵀ directly,
 * so the product needs no transpose. That matters because the TF.js 4.22
 * wasm matmul with `transposeA` took 1.6 s against 0.14 s for the plain
 * product of [576, 50176] x [50176, 64] (2-core x86-64), and its transpose of
 * large tensors is slower than this loop. The rows of colsᵀ · dy are already
 * in the `[KH, KW, Cin, Cout]` order of the filter.
 *
 * @param args.inputs.x Input `[N, H, W, Cin]`.
 * @param args.inputs.dy Upstream gradient `[N, OH, OW, Cout]`.
 * @param args.attrs Strides, pad, data format, rounding mode and the filter
 *     shape `[KH, KW, Cin, Cout]`.
 * @param maxColumnElements Largest im2col buffer, in floats, before the taps
 *     are split into groups.
 * @returns dW `[KH, KW, Cin, Cout]`.
 */
export function conv2DBackpropFilter(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
  maxColumnElements: number = MAX_COLUMN_ELEMENTS,
): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const kernelName = tf.Conv2DBackpropFilter;
  const x = kernelInput(kernelName, args.inputs, "x");
  const dy = kernelInput(kernelName, args.inputs, "dy");
  const attrs = args.attrs as unknown as
    & ConvGradAttrs
    & { filterShape: [number, number, number, number] };
  const info = computeConvInfo(
    kernelName,
    x.shape,
    attrs.filterShape,
    attrs,
    false,
  );
  const { batchSize, outHeight, outWidth, inChannels, outChannels } = info;
  const taps = info.filterHeight * info.filterWidth;
  const rows = batchSize * outHeight * outWidth;
  const tapsPerGroup = Math.max(
    1,
    Math.min(taps, Math.floor(maxColumnElements / (inChannels * rows))),
  );

  const dw = backend.makeOutput(attrs.filterShape, "float32");
  // [N, OH, OW, Cout] -> [M, Cout]
  const dy2D = runWasmKernel(backend, tf.Reshape, { x: dy }, {
    shape: [rows, outChannels],
  });
  for (let firstTap = 0; firstTap < taps; firstTap += tapsPerGroup) {
    const groupTaps = Math.min(tapsPerGroup, taps - firstTap);
    const colsT = backend.makeOutput(
      [groupTaps * inChannels, rows],
      "float32",
    );
    writeColumnsTransposed(
      float32View(backend, x),
      float32View(backend, colsT),
      info,
      firstTap,
      groupTaps,
    );
    // [groupTaps * Cin, M] x [M, Cout] -> [groupTaps * Cin, Cout]
    const product = runWasmKernel(backend, tf.BatchMatMul, {
      a: colsT,
      b: dy2D,
    }, { transposeA: false, transposeB: false });
    float32View(backend, dw).set(
      float32View(backend, product),
      firstTap * inChannels * outChannels,
    );
    backend.disposeData(product.dataId);
    backend.disposeData(colsT.dataId);
  }
  backend.disposeData(dy2D.dataId);
  return dw;
}

/**
 * Writes rows `firstTap * Cin` to `(firstTap + groupTaps) * Cin` of colsᵀ:
 * row `tap * Cin + c` holds, for every output position m = (n, oh, ow), the
 * input value x[n, oh * sh + kh - padTop, ow * sw + kw - padLeft, c] that
 * filter tap (kh, kw) multiplies, or 0 where the tap falls on padding.
 */
function writeColumnsTransposed(
  x: Float32Array,
  colsT: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  firstTap: number,
  groupTaps: number,
): void {
  const { batchSize, inHeight, inWidth, inChannels } = info;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  const rows = batchSize * outHeight * outWidth;
  const xStep = strideWidth * inChannels;
  for (let g = 0; g < groupTaps; g++) {
    const tap = firstTap + g;
    const kh = Math.floor(tap / info.filterWidth);
    const kw = tap % info.filterWidth;
    const tapBase = g * inChannels * rows;
    // Output columns whose input column iw = ow * sw + kw - padLeft exists.
    const owBegin = Math.min(
      outWidth,
      Math.max(0, Math.ceil((left - kw) / strideWidth)),
    );
    const owEnd = Math.max(
      owBegin,
      Math.min(
        outWidth,
        Math.floor((inWidth - 1 + left - kw) / strideWidth) + 1,
      ),
    );
    for (let n = 0; n < batchSize; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const rowStart = (n * outHeight + oh) * outWidth;
        const ih = oh * strideHeight + kh - top;
        const insideRow = ih >= 0 && ih < inHeight;
        const xRowBase = ((n * inHeight + ih) * inWidth +
          owBegin * strideWidth + kw - left) * inChannels;
        for (let c = 0; c < inChannels; c++) {
          const out = tapBase + c * rows + rowStart;
          if (!insideRow) {
            colsT.fill(0, out, out + outWidth);
            continue;
          }
          colsT.fill(0, out, out + owBegin);
          let xIndex = xRowBase + c;
          for (let ow = owBegin; ow < owEnd; ow++, xIndex += xStep) {
            colsT[out + ow] = x[xIndex];
          }
          colsT.fill(0, out + owEnd, out + outWidth);
        }
      }
    }
  }
}

/** Registry entry for {@linkcode conv2DBackpropFilter}. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: (args) => conv2DBackpropFilter(args),
};
