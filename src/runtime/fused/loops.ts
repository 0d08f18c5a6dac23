/**
 * The loops behind the fused training kernels, on plain float32 arrays
 * (views of the wasm heap, or the cpu backend's arrays). The formulas are in
 * batch_norm_prelu.ts and depthwise_conv2d_native_backprop_filter.ts.
 *
 * Each loop computes a range of channels [start, end), all of them by
 * default, and writes only those channels of its outputs.
 *
 * On the wasm backend, simd/loops.c runs the same loops with WebAssembly SIMD
 * when the channel count is a multiple of 4 (see simd.ts), and these serve
 * the cpu backend and the other channel counts.
 *
 * NOTE: The loops run on the calling thread. A worker thread sharing the
 * threaded build's heap and taking half the channels measured no faster on
 * 2 cores, because XNNPACK's pool threads keep the second core busy waiting
 * for work.
 *
 * @module
 */

/**
 * Computes the moments and the output (see the module doc).
 *
 * PReLU is written without a branch, as p * z + q * |z| with p = (1 + alpha)
 * / 2 and q = (1 - alpha) / 2: activations change sign at random, and a
 * branch on the sign mispredicted often enough to cost several times the
 * arithmetic. A linear unit has alpha = 1 (p = 1, q = 0), which returns z
 * exactly.
 *
 * Channels [start, end) are computed and written; the others are left
 * untouched, so two threads can share a call.
 *
 * @param y Conv output, m rows of c channels.
 * @param out Written: the output, same layout as y.
 * @param mean Written: [c].
 * @param variance Written: biased, [c].
 */
export function batchNormPreluForward(
  y: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  alpha: Float32Array | null,
  residual: Float32Array | null,
  epsilon: number,
  out: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  start = 0,
  end = gamma.length,
): void {
  const channels = gamma.length;
  const size = y.length;
  const rows = size / channels;

  // One pass over y: sums of d = y - k and of d^2, with k the channel's
  // first value. Shifting by a value of the data keeps sum(d^2) / m -
  // (sum(d) / m)^2 from cancelling when the mean is large against the spread.
  const first = new Float64Array(channels);
  const sum = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let c = start; c < end; c++) first[c] = y[c];
  for (let i = 0; i < size; i += channels) {
    for (let c = start; c < end; c++) {
      const d = y[i + c] - first[c];
      sum[c] += d;
      squares[c] += d * d;
    }
  }
  for (let c = start; c < end; c++) {
    const shiftedMean = sum[c] / rows;
    squares[c] = Math.max(0, squares[c] - sum[c] * shiftedMean);
    sum[c] = first[c] + shiftedMean;
  }

  // Per channel: the normalising scale and shift, and p, q of PReLU.
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  const p = new Float64Array(channels);
  const q = new Float64Array(channels);
  for (let c = start; c < end; c++) {
    const v = squares[c] / rows;
    mean[c] = sum[c];
    variance[c] = v;
    scale[c] = gamma[c] / Math.sqrt(v + epsilon);
    shift[c] = beta[c] - scale[c] * sum[c];
    const slope = alpha === null ? 1 : alpha[c];
    p[c] = (1 + slope) / 2;
    q[c] = (1 - slope) / 2;
  }

  if (residual === null) {
    for (let i = 0; i < size; i += channels) {
      for (let c = start; c < end; c++) {
        const z = scale[c] * y[i + c] + shift[c];
        out[i + c] = p[c] * z + q[c] * Math.abs(z);
      }
    }
  } else {
    for (let i = 0; i < size; i += channels) {
      for (let c = start; c < end; c++) {
        const z = scale[c] * y[i + c] + shift[c];
        out[i + c] = p[c] * z + q[c] * Math.abs(z) + residual[i + c];
      }
    }
  }
}

/**
 * Computes the gradients (see the module doc). The first pass writes dz into
 * `dy` and sums it, and the second turns it into dy in place. Like the
 * forward pass, it has no branch on the sign of z.
 *
 * Channels [start, end) are computed and written, as in
 * {@linkcode batchNormPreluForward}.
 *
 * @param dout Upstream gradient, m rows of c channels.
 * @param dy Written: gradient of y, same layout.
 * @param dgamma Written: [c].
 * @param dbeta Written: [c].
 * @param dalpha Written when alpha is given: [c].
 */
export function batchNormPreluBackward(
  dout: Float32Array,
  y: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  alpha: Float32Array | null,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
  dy: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
  dalpha: Float32Array | null,
  start = 0,
  end = gamma.length,
): void {
  const channels = gamma.length;
  const size = y.length;
  const rows = size / channels;

  const inverseStd = new Float64Array(channels);
  const slope = new Float64Array(channels);
  for (let c = start; c < end; c++) {
    inverseStd[c] = 1 / Math.sqrt(variance[c] + epsilon);
    slope[c] = alpha === null ? 1 : alpha[c];
  }

  // First pass: dz into dy, and its sums.
  const sumDz = new Float64Array(channels);
  const sumDzXHat = new Float64Array(channels);
  // Twice sum(dout * min(z, 0)), as dout * (z - |z|).
  const sumAlpha = new Float64Array(channels);
  for (let i = 0; i < size; i += channels) {
    for (let c = start; c < end; c++) {
      const xHat = (y[i + c] - mean[c]) * inverseStd[c];
      const z = gamma[c] * xHat + beta[c];
      const g = dout[i + c];
      const positive = +(z > 0);
      const dz = g * (slope[c] + (1 - slope[c]) * positive);
      dy[i + c] = dz;
      sumDz[c] += dz;
      sumDzXHat[c] += dz * xHat;
      sumAlpha[c] += g * (z - Math.abs(z));
    }
  }

  const meanDz = new Float64Array(channels);
  const meanDzXHat = new Float64Array(channels);
  const factor = new Float64Array(channels);
  for (let c = start; c < end; c++) {
    meanDz[c] = sumDz[c] / rows;
    meanDzXHat[c] = sumDzXHat[c] / rows;
    factor[c] = gamma[c] * inverseStd[c];
    dgamma[c] = sumDzXHat[c];
    dbeta[c] = sumDz[c];
    if (dalpha !== null) dalpha[c] = sumAlpha[c] / 2;
  }

  // Second pass: dz to dy in place.
  for (let i = 0; i < size; i += channels) {
    for (let c = start; c < end; c++) {
      const xHat = (y[i + c] - mean[c]) * inverseStd[c];
      dy[i + c] = factor[c] * (dy[i + c] - meanDz[c] - xHat * meanDzXHat[c]);
    }
  }
}

/** Geometry of a depthwise convolution with channel multiplier 1, NHWC. */
export interface DepthwiseGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Computes the filter gradient of a depthwise convolution:
 *
 *   dw[kh, kw, c] = sum over n, oh, ow of
 *     x[n, oh * sh + kh - padTop, ow * sw + kw - padLeft, c] * dy[n, oh, ow, c],
 *
 * where taps on the padding add nothing. Channels are innermost because they
 * are contiguous in NHWC, and the sums are float64.
 *
 * @param x Input [N, H, W, C].
 * @param dy Upstream gradient [N, OH, OW, C].
 * @param dw Written: [KH, KW, C, 1], channels [start, end) only.
 */
export function depthwiseFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  g: DepthwiseGeometry,
  start = 0,
  end = g.channels,
): void {
  const channels = g.channels;
  const sums = new Float64Array(g.filterHeight * g.filterWidth * channels);
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let kh = 0; kh < g.filterHeight; kh++) {
        const ih = oh * g.strideHeight + kh - g.padTop;
        if (ih < 0 || ih >= g.inHeight) continue;
        for (let ow = 0; ow < g.outWidth; ow++) {
          const dyBase = ((n * g.outHeight + oh) * g.outWidth + ow) * channels;
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const iw = ow * g.strideWidth + kw - g.padLeft;
            if (iw < 0 || iw >= g.inWidth) continue;
            const xBase = ((n * g.inHeight + ih) * g.inWidth + iw) * channels;
            const sumBase = (kh * g.filterWidth + kw) * channels;
            for (let c = start; c < end; c++) {
              sums[sumBase + c] += x[xBase + c] * dy[dyBase + c];
            }
          }
        }
      }
    }
  }
  for (let tap = 0; tap < g.filterHeight * g.filterWidth; tap++) {
    for (let c = start; c < end; c++) {
      dw[tap * channels + c] = sums[tap * channels + c];
    }
  }
}
