/**
 * The matrix product behind a 1x1 convolution, with a gradient that
 * transposes its operands explicitly. The wasm backend of TF.js multiplies
 * transposed operands through a slow path, so `tf.matMul(a, b, true)` in the
 * default gradient cost more than the transpose plus a plain product.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import {
  hasPointwiseFilterGradient,
  pointwiseFilterGradient,
} from "../runtime/fused/pointwise_filter_gradient.ts";

/**
 * Returns rows x weights.
 *
 * @param rows [M, C_in], such as [N * H * W, C_in].
 * @param weights [C_in, C_out]
 * @returns [M, C_out]
 */
export const pointwiseProduct: (
  rows: tf.Tensor2D,
  weights: tf.Tensor2D,
) => tf.Tensor2D = tf.customGrad(
  (rows, weights, save) => {
    (save as tf.GradSaveFunc)([rows as tf.Tensor, weights as tf.Tensor]);
    return {
      value: tf.matMul(rows as tf.Tensor2D, weights as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [a, b] = saved as tf.Tensor2D[];
        // d rows = dy b^T: [M, C_out] x [C_out, C_in]
        const dRows = tf.matMul(dy as tf.Tensor2D, tf.transpose(b));
        // d weights = a^T dy: [C_in, M] x [M, C_out]. On wasm, one SIMD
        // kernel, because XNNPACK is slow on so long an inner dimension.
        const dWeights = hasPointwiseFilterGradient(b.shape[0], b.shape[1])
          ? pointwiseFilterGradient(a, dy as tf.Tensor2D)
          : tf.matMul(tf.transpose(a), dy as tf.Tensor2D);
        return [dRows, dWeights];
      },
    };
  },
) as (rows: tf.Tensor2D, weights: tf.Tensor2D) => tf.Tensor2D;
