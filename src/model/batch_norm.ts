/**
 * Batch normalisation in training mode with a hand-written gradient
 * (Ioffe and Szegedy, 2015, arXiv:1502.03167, section 3):
 *
 *   x_hat = (x - mean) / sqrt(var + eps),   y = gamma * x_hat + beta,
 *   dbeta = sum(dy),   dgamma = sum(dy * x_hat),
 *   dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat)),
 *
 * with sums and means over N, H and W per channel. TF.js differentiates its
 * fused batch norm by tiling the statistics to the input's shape, which made
 * the backward pass several times slower than the formula above.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/**
 * Normalises a batch with its own moments.
 *
 * @param x [N, H, W, C]
 * @param gamma [C] scale.
 * @param beta [C] offset.
 * @param epsilon Added to the variance.
 * @returns y [N, H, W, C], and the batch mean and biased variance [C], which
 *     are kept out of any enclosing `tf.tidy`; the caller disposes them.
 */
export function batchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  const apply = tf.customGrad((input, scale, offset, save) => {
    const inputs = input as tf.Tensor4D;
    const moments = tf.moments(inputs, [0, 1, 2]);
    mean = tf.keep(moments.mean as tf.Tensor1D);
    variance = tf.keep(moments.variance as tf.Tensor1D);
    const inverseStd = tf.rsqrt(tf.add(moments.variance, epsilon));
    const normalized = tf.mul(tf.sub(inputs, moments.mean), inverseStd);
    const value = tf.add(
      tf.mul(normalized, scale as tf.Tensor1D),
      offset as tf.Tensor1D,
    );
    (save as tf.GradSaveFunc)([normalized, inverseStd, scale as tf.Tensor]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xHat, invStd, g] = saved;
      const axes = [0, 1, 2];
      const dBeta = tf.sum(dy, axes);
      const dGamma = tf.sum(tf.mul(dy, xHat), axes);
      const count = dy.size / dBeta.size;
      // dx = gamma * invStd * (dy - dbeta / m - x_hat * dgamma / m)
      const centred = tf.sub(
        tf.sub(dy, tf.div(dBeta, count)),
        tf.mul(xHat, tf.div(dGamma, count)),
      );
      const dx = tf.mul(centred, tf.mul(g, invStd));
      return [dx, dGamma, dBeta];
    };
    return { value, gradFunc };
  });
  const y = apply(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: mean!, variance: variance! };
}
