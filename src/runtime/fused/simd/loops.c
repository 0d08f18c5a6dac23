/*
 * WebAssembly SIMD loops for training on the wasm backend: batch norm in
 * training mode with PReLU and a residual (forward and backward), the filter
 * and input gradients of a depthwise convolution, and the weight gradient of
 * a 1x1 convolution. The first three are the loops of ../loops.ts and
 * ../../wasm_kernels, with the formulas there, and agree with them to float32
 * rounding.
 *
 * The module runs on the memory of the TF.js wasm backend, which it
 * imports, so every pointer below is an address in that backend's heap. It
 * owns no memory of its own: no data, no stack, no globals. Anything it needs
 * beyond its arguments lives in a scratch block that the caller allocates
 * from the backend's heap (see the *_scratch_bytes functions). build.sh
 * checks the linked module for this.
 *
 * Tensors are NHWC, read as `rows` rows of `channels` floats, with channels
 * innermost. Every loop walks the rows in memory order and the channels four
 * at a time, so `channels` must be a multiple of 4 (the caller falls back to
 * the JavaScript loops otherwise). Each loop computes and writes only the
 * channels [start, end), its last two arguments, both multiples of 4, so
 * that two threads can share a call, each with its own range. Channel ranges
 * also split the scratch, so the two threads may share it.
 *
 * Sums run in float32 vectors over blocks of at most SUM_BLOCK terms and are
 * then added to float64 totals, which keeps the rounding of a sum over a
 * million terms near that of a float64 sum.
 */

#include <wasm_simd128.h>

/* Terms added in float32 before a float32 partial sum joins its float64 total. */
#define SUM_BLOCK 64

typedef unsigned int u32;

static inline v128_t load(const float *p) { return wasm_v128_load(p); }
static inline void store(float *p, v128_t v) { wasm_v128_store(p, v); }

static inline void zero(float *p, u32 count) {
  for (u32 i = 0; i < count; i += 4) store(p + i, wasm_f32x4_splat(0.0f));
}

/* Adds float32 partial sums to float64 totals and clears the partial sums. */
static inline void flush(double *total, float *partial, u32 count) {
  for (u32 i = 0; i < count; i++) {
    total[i] += (double)partial[i];
    partial[i] = 0.0f;
  }
}

/* Bytes of scratch that bn_prelu_forward and bn_prelu_backward need. */
u32 bn_prelu_scratch_bytes(u32 channels) {
  return channels * (3 * sizeof(double) + 6 * sizeof(float));
}

/*
 * Computes the forward pass: writes the batch mean and biased variance of each channel of `y`
 * and out = prelu(scale * (y - mean) + beta) + residual, with scale = gamma /
 * sqrt(var + epsilon). The mean is subtracted before scaling, in two float32
 * parts (the rounded mean, then the rest), so that a mean large against the
 * spread cancels as little as in float64.
 *
 * The moments come from one pass over y - first, where first is the
 * channel's first value, so that a large mean does not cancel the variance.
 * PReLU is p * z + q * |z| with p = (1 + alpha) / 2 and q = (1 - alpha) / 2,
 * without a branch on the sign of z. `alpha` null means slope 1, and
 * `residual` null means no residual.
 */
void bn_prelu_forward(const float *y, const float *gamma, const float *beta,
                      const float *alpha, const float *residual,
                      double epsilon, float *out, float *mean, float *variance,
                      u32 rows, u32 channels, void *scratch, u32 start, u32 end) {
  double *sum = (double *)scratch;
  double *squares = sum + channels;
  float *first = (float *)(squares + channels);
  float *partial_sum = first + channels;
  float *partial_squares = partial_sum + channels;
  float *scale = partial_squares + channels;
  float *p = scale + channels;
  float *q = p + channels;
  /* The mean as float32 mean + mean_low, to subtract it in two steps. */
  float *mean_low = partial_sum;

  for (u32 c = start; c < end; c++) {
    first[c] = y[c];
    sum[c] = 0.0;
    squares[c] = 0.0;
  }
  zero(partial_sum + start, end - start);
  zero(partial_squares + start, end - start);
  for (u32 r = 0; r < rows; r++) {
    const float *row = y + r * channels;
    for (u32 c = start; c < end; c += 4) {
      v128_t d = wasm_f32x4_sub(load(row + c), load(first + c));
      store(partial_sum + c, wasm_f32x4_add(load(partial_sum + c), d));
      store(partial_squares + c,
            wasm_f32x4_add(load(partial_squares + c), wasm_f32x4_mul(d, d)));
    }
    if ((r + 1) % SUM_BLOCK == 0 || r + 1 == rows) {
      flush(sum + start, partial_sum + start, end - start);
      flush(squares + start, partial_squares + start, end - start);
    }
  }

  for (u32 c = start; c < end; c++) {
    double shifted_mean = sum[c] / rows;
    double spread = squares[c] - sum[c] * shifted_mean;
    double v = (spread > 0.0 ? spread : 0.0) / rows;
    double m = (double)first[c] + shifted_mean;
    double s = (double)gamma[c] / __builtin_sqrt(v + epsilon);
    double slope = alpha ? (double)alpha[c] : 1.0;
    mean[c] = (float)m;
    mean_low[c] = (float)(m - (double)mean[c]);
    variance[c] = (float)v;
    scale[c] = (float)s;
    p[c] = (float)((1.0 + slope) / 2.0);
    q[c] = (float)((1.0 - slope) / 2.0);
  }

  for (u32 r = 0; r < rows; r++) {
    u32 base = r * channels;
    for (u32 c = start; c < end; c += 4) {
      v128_t centred = wasm_f32x4_sub(wasm_f32x4_sub(load(y + base + c), load(mean + c)),
                                      load(mean_low + c));
      v128_t z = wasm_f32x4_add(wasm_f32x4_mul(load(scale + c), centred), load(beta + c));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(load(p + c), z),
                                wasm_f32x4_mul(load(q + c), wasm_f32x4_abs(z)));
      if (residual) v = wasm_f32x4_add(v, load(residual + base + c));
      store(out + base + c, v);
    }
  }
}

/*
 * Computes the backward pass: with x_hat = (y - mean) / sqrt(var + epsilon), z = gamma * x_hat
 * + beta and dz = dout where z > 0 and alpha * dout elsewhere, writes
 *
 *   dalpha = sum over z <= 0 of dout * z,  dbeta = sum(dz),  dgamma = sum(dz * x_hat),
 *   dy = gamma / sqrt(var + epsilon) * (dz - dbeta / m - x_hat * dgamma / m).
 *
 * The first pass writes dz into dy and sums it, the second turns it into dy
 * in place. `alpha` null means slope 1; `dalpha` may be null.
 */
void bn_prelu_backward(const float *dout, const float *y, const float *gamma,
                       const float *beta, const float *alpha,
                       const float *mean, const float *variance, double epsilon,
                       float *dy, float *dgamma, float *dbeta, float *dalpha,
                       u32 rows, u32 channels, void *scratch, u32 start, u32 end) {
  double *sum_dz = (double *)scratch;
  double *sum_dz_x_hat = sum_dz + channels;
  /* Twice sum(dout * min(z, 0)), as dout * (z - |z|). */
  double *sum_alpha = sum_dz_x_hat + channels;
  float *inverse_std = (float *)(sum_alpha + channels);
  float *slope = inverse_std + channels;
  float *partial_dz = slope + channels;
  float *partial_dz_x_hat = partial_dz + channels;
  float *partial_alpha = partial_dz_x_hat + channels;
  /* Second pass: dy = factor * (dz - mean_dz - x_hat * mean_dz_x_hat). */
  float *factor = partial_alpha + channels;
  float *mean_dz = partial_dz;
  float *mean_dz_x_hat = partial_dz_x_hat;

  for (u32 c = start; c < end; c++) {
    inverse_std[c] = (float)(1.0 / __builtin_sqrt((double)variance[c] + epsilon));
    slope[c] = alpha ? alpha[c] : 1.0f;
    sum_dz[c] = 0.0;
    sum_dz_x_hat[c] = 0.0;
    sum_alpha[c] = 0.0;
  }
  zero(partial_dz + start, end - start);
  zero(partial_dz_x_hat + start, end - start);
  zero(partial_alpha + start, end - start);

  const v128_t zeros = wasm_f32x4_splat(0.0f);
  const v128_t ones = wasm_f32x4_splat(1.0f);
  for (u32 r = 0; r < rows; r++) {
    u32 base = r * channels;
    for (u32 c = start; c < end; c += 4) {
      v128_t x_hat = wasm_f32x4_mul(
          wasm_f32x4_sub(load(y + base + c), load(mean + c)), load(inverse_std + c));
      v128_t z = wasm_f32x4_add(wasm_f32x4_mul(load(gamma + c), x_hat), load(beta + c));
      v128_t g = load(dout + base + c);
      v128_t positive = wasm_f32x4_gt(z, zeros);
      v128_t dz = wasm_f32x4_mul(g, wasm_v128_bitselect(ones, load(slope + c), positive));
      store(dy + base + c, dz);
      store(partial_dz + c, wasm_f32x4_add(load(partial_dz + c), dz));
      store(partial_dz_x_hat + c,
            wasm_f32x4_add(load(partial_dz_x_hat + c), wasm_f32x4_mul(dz, x_hat)));
      v128_t negative_part = wasm_f32x4_sub(z, wasm_f32x4_abs(z));
      store(partial_alpha + c,
            wasm_f32x4_add(load(partial_alpha + c), wasm_f32x4_mul(g, negative_part)));
    }
    if ((r + 1) % SUM_BLOCK == 0 || r + 1 == rows) {
      flush(sum_dz + start, partial_dz + start, end - start);
      flush(sum_dz_x_hat + start, partial_dz_x_hat + start, end - start);
      flush(sum_alpha + start, partial_alpha + start, end - start);
    }
  }

  for (u32 c = start; c < end; c++) {
    dgamma[c] = (float)sum_dz_x_hat[c];
    dbeta[c] = (float)sum_dz[c];
    if (dalpha) dalpha[c] = (float)(sum_alpha[c] / 2.0);
    mean_dz[c] = (float)(sum_dz[c] / rows);
    mean_dz_x_hat[c] = (float)(sum_dz_x_hat[c] / rows);
    factor[c] = (float)((double)gamma[c] * (double)inverse_std[c]);
  }

  for (u32 r = 0; r < rows; r++) {
    u32 base = r * channels;
    for (u32 c = start; c < end; c += 4) {
      v128_t x_hat = wasm_f32x4_mul(
          wasm_f32x4_sub(load(y + base + c), load(mean + c)), load(inverse_std + c));
      v128_t centred = wasm_f32x4_sub(
          wasm_f32x4_sub(load(dy + base + c), load(mean_dz + c)),
          wasm_f32x4_mul(x_hat, load(mean_dz_x_hat + c)));
      store(dy + base + c, wasm_f32x4_mul(load(factor + c), centred));
    }
  }
}

/* Flushes channels [start, end) of every tap's partial sums. */
static inline void flush_taps(double *total, float *partial, u32 taps,
                              u32 channels, u32 start, u32 end) {
  for (u32 tap = 0; tap < taps; tap++) {
    u32 first = tap * channels + start;
    flush(total + first, partial + first, end - start);
  }
}

/* Bytes of scratch that depthwise_filter_gradient needs. */
u32 depthwise_scratch_bytes(u32 taps, u32 channels) {
  return taps * channels * (sizeof(double) + sizeof(float));
}

/*
 * Computes the filter gradient of an NHWC depthwise convolution with channel
 * multiplier 1:
 *
 *   dw[kh, kw, c] = sum over n, oh, ow of
 *     x[n, oh * stride_h + kh - pad_top, ow * stride_w + kw - pad_left, c] * dy[n, oh, ow, c],
 *
 * where taps on the padding add nothing. `dw` is [kh, kw, c].
 */
void depthwise_filter_gradient(const float *x, const float *dy, float *dw,
                               u32 batch, u32 in_height, u32 in_width,
                               u32 channels, u32 out_height, u32 out_width,
                               u32 filter_height, u32 filter_width,
                               u32 stride_height, u32 stride_width,
                               int pad_top, int pad_left, void *scratch,
                               u32 start, u32 end) {
  u32 taps = filter_height * filter_width;
  double *total = (double *)scratch;
  float *partial = (float *)(total + taps * channels);
  for (u32 tap = 0; tap < taps; tap++) {
    for (u32 c = start; c < end; c++) total[tap * channels + c] = 0.0;
    zero(partial + tap * channels + start, end - start);
  }

  /* Each output row adds at most out_width terms to a tap's partial sum. */
  u32 rows_per_flush = out_width >= SUM_BLOCK ? 1 : SUM_BLOCK / out_width;
  u32 rows_added = 0;
  for (u32 n = 0; n < batch; n++) {
    for (u32 oh = 0; oh < out_height; oh++) {
      for (u32 kh = 0; kh < filter_height; kh++) {
        int ih = (int)(oh * stride_height + kh) - pad_top;
        if (ih < 0 || ih >= (int)in_height) continue;
        const float *x_row = x + ((u32)n * in_height + (u32)ih) * in_width * channels;
        const float *dy_row = dy + ((u32)n * out_height + oh) * out_width * channels;
        for (u32 ow = 0; ow < out_width; ow++) {
          const float *dy_pixel = dy_row + ow * channels;
          for (u32 kw = 0; kw < filter_width; kw++) {
            int iw = (int)(ow * stride_width + kw) - pad_left;
            if (iw < 0 || iw >= (int)in_width) continue;
            const float *x_pixel = x_row + (u32)iw * channels;
            float *sums = partial + (kh * filter_width + kw) * channels;
            for (u32 c = start; c < end; c += 4) {
              store(sums + c, wasm_f32x4_add(load(sums + c),
                                             wasm_f32x4_mul(load(x_pixel + c),
                                                            load(dy_pixel + c))));
            }
          }
        }
      }
      if (++rows_added == rows_per_flush) {
        flush_taps(total, partial, taps, channels, start, end);
        rows_added = 0;
      }
    }
  }
  flush_taps(total, partial, taps, channels, start, end);
  for (u32 tap = 0; tap < taps; tap++) {
    for (u32 c = start; c < end; c++) {
      dw[tap * channels + c] = (float)total[tap * channels + c];
    }
  }
}

/*
 * Computes the input gradient of an NHWC depthwise convolution with channel
 * multiplier 1,
 * by scattering dy back: for every tap (kh, kw) inside the input,
 *
 *   dx[n, oh * stride_h + kh - pad_top, ow * stride_w + kw - pad_left, c] += dy[n, oh, ow, c] * w[kh, kw, c].
 *
 * Writes every position of dx for the channels [start, end), zero where no
 * tap lands.
 */
void depthwise_input_gradient(const float *dy, const float *w, float *dx,
                              u32 batch, u32 in_height, u32 in_width,
                              u32 channels, u32 out_height, u32 out_width,
                              u32 filter_height, u32 filter_width,
                              u32 stride_height, u32 stride_width, int pad_top,
                              int pad_left, u32 start, u32 end) {
  u32 positions = batch * in_height * in_width;
  for (u32 p = 0; p < positions; p++) zero(dx + p * channels + start, end - start);
  for (u32 n = 0; n < batch; n++) {
    for (u32 oh = 0; oh < out_height; oh++) {
      for (u32 kh = 0; kh < filter_height; kh++) {
        int ih = (int)(oh * stride_height + kh) - pad_top;
        if (ih < 0 || ih >= (int)in_height) continue;
        float *dx_row = dx + ((u32)n * in_height + (u32)ih) * in_width * channels;
        const float *dy_row = dy + ((u32)n * out_height + oh) * out_width * channels;
        for (u32 ow = 0; ow < out_width; ow++) {
          const float *dy_pixel = dy_row + ow * channels;
          for (u32 kw = 0; kw < filter_width; kw++) {
            int iw = (int)(ow * stride_width + kw) - pad_left;
            if (iw < 0 || iw >= (int)in_width) continue;
            float *dx_pixel = dx_row + (u32)iw * channels;
            const float *tap = w + (kh * filter_width + kw) * channels;
            for (u32 c = start; c < end; c += 4) {
              store(dx_pixel + c, wasm_f32x4_add(load(dx_pixel + c),
                                                 wasm_f32x4_mul(load(dy_pixel + c),
                                                                load(tap + c))));
            }
          }
        }
      }
    }
  }
}

/*
 * Computes the weight gradient of a 1x1 convolution, as the product a^T dy
 * summed over
 * the rows:
 *
 *   dw[i, o] = sum over r of a[r, i] * dy[r, o],
 *
 * with a [rows, in], dy [rows, out] and dw [in, out], for the input
 * channels i in [start, end). `in`, `start` and `end` must be multiples of 4
 * and `out` a multiple of 8.
 *
 * The rows (N * H * W, tens of thousands) are the long dimension. The rows
 * are taken in blocks of POINTWISE_ROWS, whose a and dy stay in cache while
 * every 4 x 8 tile of dw is computed from them in eight vector registers.
 * Each tile adds its block sum to dw, so a value is summed in float32 as in
 * a matrix product.
 */
#define POINTWISE_ROWS 64

void pointwise_filter_gradient(const float *a, const float *dy, float *dw,
                               u32 rows, u32 in, u32 out, u32 start, u32 end) {
  zero(dw + start * out, (end - start) * out);
  for (u32 r0 = 0; r0 < rows; r0 += POINTWISE_ROWS) {
    u32 r1 = r0 + POINTWISE_ROWS < rows ? r0 + POINTWISE_ROWS : rows;
    for (u32 i = start; i < end; i += 4) {
      for (u32 o = 0; o < out; o += 8) {
        float *tile = dw + i * out + o;
        v128_t s00 = load(tile), s01 = load(tile + 4);
        v128_t s10 = load(tile + out), s11 = load(tile + out + 4);
        v128_t s20 = load(tile + 2 * out), s21 = load(tile + 2 * out + 4);
        v128_t s30 = load(tile + 3 * out), s31 = load(tile + 3 * out + 4);
        for (u32 r = r0; r < r1; r++) {
          const float *a_row = a + r * in + i;
          const float *dy_row = dy + r * out + o;
          v128_t d0 = load(dy_row), d1 = load(dy_row + 4);
          v128_t a0 = wasm_v128_load32_splat(a_row);
          v128_t a1 = wasm_v128_load32_splat(a_row + 1);
          v128_t a2 = wasm_v128_load32_splat(a_row + 2);
          v128_t a3 = wasm_v128_load32_splat(a_row + 3);
          s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(a0, d0));
          s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(a0, d1));
          s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(a1, d0));
          s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(a1, d1));
          s20 = wasm_f32x4_add(s20, wasm_f32x4_mul(a2, d0));
          s21 = wasm_f32x4_add(s21, wasm_f32x4_mul(a2, d1));
          s30 = wasm_f32x4_add(s30, wasm_f32x4_mul(a3, d0));
          s31 = wasm_f32x4_add(s31, wasm_f32x4_mul(a3, d1));
        }
        store(tile, s00);
        store(tile + 4, s01);
        store(tile + out, s10);
        store(tile + out + 4, s11);
        store(tile + 2 * out, s20);
        store(tile + 2 * out + 4, s21);
        store(tile + 3 * out, s30);
        store(tile + 3 * out + 4, s31);
      }
    }
  }
}
