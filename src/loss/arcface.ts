/**
 * ArcFace, the additive angular margin loss (Deng et al., 2019,
 * arXiv:1801.07698, section 2.1), with the classifier held as shards along
 * the class axis so that no tensor of size batch x classes exists at once
 * beyond one shard's logits.
 *
 * For a normalised embedding x and normalised class centres w_j,
 * cos(theta_j) = x . w_j. The target class y gets the logit
 * s * cos(theta_y + m) and every other class s * cos(theta_j); the loss is
 * the softmax cross-entropy over all classes, averaged over the batch.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** Margin settings of {@linkcode arcFaceLoss}. */
export interface ArcFaceOptions {
  /** Scale s of the logits. */
  scale: number;
  /** Additive angular margin m in radians. */
  margin: number;
  /** Apply the margin only where cos(theta) > 0, else use cos(theta). */
  easyMargin: boolean;
}

/** Loss and top-1 accuracy of one batch. */
export interface ArcFaceResult {
  /** Scalar: mean cross-entropy over the batch. */
  loss: tf.Scalar;
  /** Fraction of rows whose largest logit (margin included) is the target. */
  accuracy: tf.Scalar;
}

/** Smallest sin(theta) used when differentiating cos(theta + m). */
const MIN_SINE = 1e-6;

/**
 * Returns cos(theta + m) for the target logits, elementwise.
 *
 * cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m). Past theta + m = pi
 * the curve turns back up, which would reward a larger angle, so where
 * theta > pi - m the logit falls back to cos(theta) - m sin(m), a line that
 * keeps decreasing (the insightface form). With the easy margin the margin
 * applies only where cos(theta) > 0. Cosines are clamped to [-1, 1] first
 * because rounding can put a product of unit vectors slightly outside.
 *
 * @param cosines Any shape, cos(theta).
 */
export function marginCosine(
  cosines: tf.Tensor,
  options: ArcFaceOptions,
): tf.Tensor {
  return tf.tidy(() => {
    const { margin, easyMargin } = options;
    const cos = tf.clipByValue(cosines, -1, 1);
    const sin = tf.sqrt(tf.maximum(tf.sub(1, tf.square(cos)), 0));
    const withMargin = tf.sub(
      tf.mul(cos, Math.cos(margin)),
      tf.mul(sin, Math.sin(margin)),
    );
    if (easyMargin) return tf.where(tf.greater(cos, 0), withMargin, cos);
    const fallback = tf.sub(cos, margin * Math.sin(margin));
    return tf.where(
      tf.greater(cos, Math.cos(Math.PI - margin)),
      withMargin,
      fallback,
    );
  });
}

/** Derivative of {@linkcode marginCosine} with respect to cos(theta). */
function marginCosineSlope(
  cosines: tf.Tensor,
  options: ArcFaceOptions,
): tf.Tensor {
  return tf.tidy(() => {
    const { margin, easyMargin } = options;
    const cos = tf.clipByValue(cosines, -1, 1);
    const sin = tf.sqrt(
      tf.maximum(tf.sub(1, tf.square(cos)), MIN_SINE * MIN_SINE),
    );
    // d/dcos [cos cos(m) - sin sin(m)] = cos(m) + sin(m) cos / sin
    const slope = tf.add(
      Math.cos(margin),
      tf.mul(Math.sin(margin), tf.div(cos, sin)),
    );
    const applies = easyMargin
      ? tf.greater(cos, 0)
      : tf.greater(cos, Math.cos(Math.PI - margin));
    return tf.where(applies, slope, tf.onesLike(cos));
  });
}

/** L2-normalises the columns of a [D, K] matrix. */
function normalizeColumns(
  weights: tf.Tensor2D,
): { unit: tf.Tensor2D; norms: tf.Tensor2D } {
  // [D, K] -> [1, K]
  const norms = tf.sqrt(
    tf.maximum(tf.sum(tf.square(weights), 0, true), 1e-12),
  ) as tf.Tensor2D;
  return { unit: tf.div(weights, norms), norms };
}

/**
 * Computes the ArcFace loss over class shards.
 *
 * The forward pass visits one shard at a time and merges the per-row
 * log-sum-exp across shards (running maximum and sum of exponentials), so
 * the loss is the exact softmax cross-entropy over all classes. The backward
 * pass recomputes each shard's logits from the saved embeddings and weights,
 * forms softmax(z) - onehot with the merged normaliser, and returns that
 * shard's weight gradient, again with only one shard's logits alive.
 *
 * @param embeddings [N, D] float32, not necessarily normalised; the gradient
 *     flows through the normalisation.
 * @param shards Class centres [D, K_k] per shard; shard k contains classes
 *     offset_k .. offset_k + K_k - 1 in order. Not necessarily normalised.
 * @param labels [N] int32 class indices in [0, sum K_k).
 * @returns loss and accuracy; the caller disposes them.
 * @throws {TypeError} On mismatched shapes or an empty shard list.
 */
export function arcFaceLoss(
  embeddings: tf.Tensor2D,
  shards: tf.Tensor2D[],
  labels: tf.Tensor1D,
  options: ArcFaceOptions,
): ArcFaceResult {
  if (shards.length === 0) {
    throw new TypeError(
      "arcFaceLoss needs at least one classifier shard, got 0",
    );
  }
  const [n, d] = embeddings.shape;
  for (const [k, shard] of shards.entries()) {
    if (shard.shape[0] !== d) {
      throw new TypeError(
        `arcFaceLoss: shard ${k} must have shape [${d}, K], got [${
          shard.shape.join(", ")
        }]`,
      );
    }
  }
  if (labels.shape[0] !== n) {
    throw new TypeError(
      `arcFaceLoss: expected ${n} labels, got ${labels.shape[0]}`,
    );
  }
  const offsets: number[] = [];
  let total = 0;
  for (const shard of shards) {
    offsets.push(total);
    total += shard.shape[1];
  }
  const { scale } = options;
  let accuracy: tf.Scalar | undefined;

  // Logits of one shard: [N, D] x [D, K_k] -> [N, K_k], margin on the target.
  const shardLogits = (
    unitEmbeddings: tf.Tensor2D,
    unitWeights: tf.Tensor2D,
    k: number,
  ) => {
    const cosines = tf.matMul(unitEmbeddings, unitWeights);
    const local = tf.sub(labels, offsets[k]);
    // [N, K_k]; rows whose target lies in another shard are all zero.
    const isTarget = tf.oneHot(tf.cast(local, "int32"), unitWeights.shape[1])
      .asType("bool");
    const logits = tf.mul(
      tf.where(isTarget, marginCosine(cosines, options), cosines),
      scale,
    );
    return { cosines, isTarget, logits: logits as tf.Tensor2D };
  };

  const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const x = args[0] as tf.Tensor2D;
    const weights = args.slice(1, -1) as tf.Tensor2D[];
    const unitEmbeddings = tf.div(
      x,
      tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-12)),
    ) as tf.Tensor2D;

    // Merge log-sum-exp over shards: lse = max + log(sum exp(z - max)).
    let runningMax = tf.fill([n, 1], -Infinity) as tf.Tensor2D;
    let runningSum = tf.zeros([n, 1]) as tf.Tensor2D;
    let targetLogit = tf.zeros([n]) as tf.Tensor1D;
    let bestLogit = tf.fill([n], -Infinity) as tf.Tensor1D;
    let bestIsTarget = tf.zeros([n]) as tf.Tensor1D;
    weights.forEach((w, k) => {
      const next = tf.tidy(() => {
        const { unit } = normalizeColumns(w);
        const { isTarget, logits } = shardLogits(unitEmbeddings, unit, k);
        const shardMax = tf.max(logits, 1, true);
        const newMax = tf.maximum(runningMax, shardMax);
        // Shift by the running maximum: every exponent is then <= 0, so exp
        // cannot overflow whatever the scale.
        const newSum = tf.add(
          tf.mul(runningSum, tf.exp(tf.sub(runningMax, newMax))),
          tf.sum(tf.exp(tf.sub(logits, newMax)), 1, true),
        );
        // [N, K_k] -> [N]: the target logit where this shard owns the target.
        const shardTarget = tf.sum(
          tf.where(isTarget, logits, tf.zerosLike(logits)),
          1,
        );
        const target = tf.add(targetLogit, shardTarget);
        const shardBest = tf.max(logits, 1);
        // 1 where this shard owns the target and the target logit is its
        // largest, else 0. Kept in float32: with bool tensors here the wasm
        // backend of TF.js 4.22.0 overwrote the merged maximum.
        const owns = tf.sum(tf.cast(isTarget, "float32"), 1);
        const shardBestIsTarget = tf.mul(
          owns,
          tf.cast(tf.greaterEqual(shardTarget, shardBest), "float32"),
        );
        const better = tf.greater(shardBest, bestLogit);
        return [
          newMax,
          newSum,
          target,
          tf.where(better, shardBest, bestLogit),
          tf.where(better, shardBestIsTarget, bestIsTarget),
        ] as tf.Tensor[];
      });
      tf.dispose([
        runningMax,
        runningSum,
        targetLogit,
        bestLogit,
        bestIsTarget,
      ]);
      [runningMax, runningSum, targetLogit, bestLogit, bestIsTarget] = next as [
        tf.Tensor2D,
        tf.Tensor2D,
        tf.Tensor1D,
        tf.Tensor1D,
        tf.Tensor1D,
      ];
    });
    // [N, 1] -> [N]
    const logSumExp = tf.reshape(tf.add(runningMax, tf.log(runningSum)), [
      n,
    ]) as tf.Tensor1D;
    const value = tf.mean(tf.sub(logSumExp, targetLogit)) as tf.Scalar;
    accuracy = tf.keep(tf.mean(bestIsTarget) as tf.Scalar);
    save([x, unitEmbeddings, logSumExp, ...weights]);

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xSaved, unitSaved, lse, ...ws] = saved as tf.Tensor2D[];
      // d(mean loss)/dz = (softmax(z) - onehot) / N, times the incoming dy.
      const rowScale = tf.div(dy, n);
      let dUnit = tf.zerosLike(unitSaved) as tf.Tensor2D;
      const weightGrads: tf.Tensor[] = [];
      ws.forEach((w, k) => {
        const [dW, dUnitNext] = tf.tidy(() => {
          const { unit, norms } = normalizeColumns(w);
          const { cosines, isTarget, logits } = shardLogits(unitSaved, unit, k);
          const probabilities = tf.exp(tf.sub(logits, tf.reshape(lse, [n, 1])));
          const dLogits = tf.mul(
            tf.sub(probabilities, tf.cast(isTarget, "float32")),
            rowScale,
          );
          // z = s * f(cos): dL/dcos = dL/dz * s * f'(cos), f' = 1 off target.
          const slope = tf.where(
            isTarget,
            marginCosineSlope(cosines, options),
            tf.onesLike(cosines),
          );
          const dCos = tf.mul(tf.mul(dLogits, slope), scale) as tf.Tensor2D;
          // cos = x_hat W_hat: [N, K] x [K, D] and [D, N] x [N, K].
          const dUnitShard = tf.matMul(dCos, unit, false, true);
          const dUnitWeights = tf.matMul(unitSaved, dCos, true, false);
          // Through w_hat = w / |w|: dw = (dw_hat - w_hat <w_hat, dw_hat>) / |w|.
          const radial = tf.sum(tf.mul(unit, dUnitWeights), 0, true);
          const dWeights = tf.div(
            tf.sub(dUnitWeights, tf.mul(unit, radial)),
            norms,
          );
          return [dWeights, tf.add(dUnit, dUnitShard)];
        });
        dUnit.dispose();
        dUnit = dUnitNext as tf.Tensor2D;
        weightGrads.push(dW);
      });
      // Through x_hat = x / |x|, row by row.
      const dx = tf.tidy(() => {
        const norms = tf.sqrt(
          tf.maximum(tf.sum(tf.square(xSaved), 1, true), 1e-12),
        );
        const radial = tf.sum(tf.mul(unitSaved, dUnit), 1, true);
        return tf.div(tf.sub(dUnit, tf.mul(unitSaved, radial)), norms);
      });
      dUnit.dispose();
      return [dx, ...weightGrads];
    };
    return { value, gradFunc };
  })(embeddings, ...shards) as tf.Scalar;

  return { loss, accuracy: accuracy! };
}
