/**
 * The standard face verification protocol of LFW and the insightface `.bin`
 * sets: k-fold cross-validation of a distance threshold, with accuracy, VAL at
 * a target FAR, and the ROC over all pairs. It works on precomputed squared L2
 * distances between L2-normalised embeddings, one per pair in file order.
 *
 * @module
 */

import { rocCurve, type RocPoints, thinRoc } from "./roc.ts";

/** Settings of {@linkcode crossValidateVerification}. */
export interface ProtocolOptions {
  /** Number of contiguous folds; the pair count must be a multiple of it. */
  folds: number;
  /** Largest candidate threshold on squared L2 distance (4 for unit vectors). */
  thresholdMax: number;
  /** Spacing of the candidate thresholds. */
  thresholdStep: number;
  /** False accept rate at which VAL is reported, in [0, 1]. */
  farTarget: number;
  /** Upper bound on the ROC points returned for plotting. Default 500. */
  maxRocPoints?: number;
}

/** Everything the protocol measures on one set. Rates are fractions. */
export interface VerificationResult {
  /** Accuracy on each held-out fold, `[folds]`. */
  foldAccuracies: number[];
  accuracyMean: number;
  /** Population standard deviation (divisor `folds`) of `foldAccuracies`. */
  accuracyStd: number;
  /** Threshold chosen on the other folds for each held-out fold, `[folds]`. */
  foldThresholds: number[];
  thresholdMean: number;
  /** Threshold reaching `farTarget` on the other folds, `[folds]`. */
  valThresholds: number[];
  /** True accept rate on each held-out fold at its VAL threshold, `[folds]`. */
  foldVals: number[];
  /** False accept rate on each held-out fold at its VAL threshold, `[folds]`. */
  foldFars: number[];
  valMean: number;
  /** Population standard deviation of `foldVals`. */
  valStd: number;
  /** Mean false accept rate reached on the held-out folds. */
  farMean: number;
  /** Area under the ROC over all pairs. */
  auc: number;
  /** Equal error rate over all pairs. */
  eer: number;
  /** ROC over all pairs, thinned to at most `maxRocPoints` points. */
  roc: RocPoints;
}

/**
 * Builds the candidate thresholds `i * step` for `i = 0, 1, ..., n`.
 *
 * Each value is computed as `i * step` rather than by repeated addition, so
 * the grid does not drift. The last index `n` is `thresholdMax / step`
 * rounded when that quotient is within 1e-9 of an integer, so `max = 4` with
 * `step = 0.01` gives 401 thresholds ending at 4; otherwise it is rounded
 * down.
 *
 * @param thresholdMax Largest threshold; finite and non-negative.
 * @param thresholdStep Spacing; finite and positive.
 * @returns The thresholds, `[n + 1]`, increasing from 0.
 * @throws {RangeError} When either value is out of range.
 */
export function thresholdGrid(
  thresholdMax: number,
  thresholdStep: number,
): Float64Array {
  if (!Number.isFinite(thresholdMax) || thresholdMax < 0) {
    throw new RangeError(
      `Invalid thresholdMax: expected a finite number >= 0, found ${thresholdMax}`,
    );
  }
  if (!Number.isFinite(thresholdStep) || thresholdStep <= 0) {
    throw new RangeError(
      `Invalid thresholdStep: expected a finite number > 0, found ${thresholdStep}`,
    );
  }
  const quotient = thresholdMax / thresholdStep;
  const rounded = Math.round(quotient);
  const last = Math.abs(quotient - rounded) <= 1e-9 * Math.max(1, rounded)
    ? rounded
    : Math.floor(quotient);
  const thresholds = new Float64Array(last + 1);
  for (let i = 0; i <= last; i++) thresholds[i] = i * thresholdStep;
  return thresholds;
}

/** Returns the first index whose threshold is greater than `distance`. */
function firstAcceptingIndex(thresholds: Float64Array, distance: number) {
  let low = 0;
  let high = thresholds.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (thresholds[mid] > distance) high = mid;
    else low = mid + 1;
  }
  return low;
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Standard deviation with divisor n (ddof 0), as numpy's `std` by default. */
function populationStd(values: readonly number[]): number {
  const center = mean(values);
  let sum = 0;
  for (const value of values) sum += (value - center) ** 2;
  return Math.sqrt(sum / values.length);
}

function validateInputs(
  distances: Float64Array,
  issame: readonly boolean[],
  options: ProtocolOptions,
): void {
  const { folds, farTarget } = options;
  if (!(distances instanceof Float64Array)) {
    throw new TypeError(
      "Cannot run verification protocol: distances must be a Float64Array",
    );
  }
  if (distances.length !== issame.length) {
    throw new TypeError(
      `Cannot run verification protocol: ${distances.length} distances but ${issame.length} labels`,
    );
  }
  if (!Number.isInteger(folds) || folds < 2) {
    throw new RangeError(
      `Invalid folds: expected an integer >= 2, found ${folds}`,
    );
  }
  if (distances.length === 0 || distances.length % folds !== 0) {
    throw new RangeError(
      `Cannot run verification protocol: ${distances.length} pairs cannot be split into ${folds} equal folds`,
    );
  }
  if (!(farTarget >= 0 && farTarget <= 1)) {
    throw new RangeError(
      `Invalid farTarget: expected a number in [0, 1], found ${farTarget}`,
    );
  }
  for (let i = 0; i < distances.length; i++) {
    const distance = distances[i];
    if (!Number.isFinite(distance) || distance < 0) {
      throw new RangeError(
        `Cannot run verification protocol: distance of pair ${i} is ${distance}, expected a finite squared L2 distance >= 0`,
      );
    }
  }
  const foldSize = distances.length / folds;
  for (let fold = 0; fold < folds; fold++) {
    let same = 0;
    for (let i = fold * foldSize; i < (fold + 1) * foldSize; i++) {
      if (issame[i]) same += 1;
    }
    if (same === 0 || same === foldSize) {
      throw new RangeError(
        `Cannot run verification protocol: fold ${fold} (pairs ${
          fold * foldSize
        } to ${
          (fold + 1) * foldSize - 1
        }) has ${same} same-person pairs of ${foldSize}, but VAL and FAR need both kinds in every fold`,
      );
    }
  }
}

/**
 * Returns the threshold at which the training false accept rate reaches
 * `farTarget`, interpolated linearly between grid thresholds.
 *
 * `far[i]` is non-decreasing in `i` because a larger threshold accepts a
 * superset of pairs. Let `b` be the last index where `far[b] <= farTarget`.
 * The result moves from `thresholds[b]` towards `thresholds[b + 1]` in
 * proportion to where the target lies between `far[b]` and `far[b + 1]`. It is
 * `thresholds[b]` itself when the target equals `far[b]` or `b` is the last
 * index. So a run of equal FAR values enters a segment with its largest
 * threshold on the left, the next run enters with its smallest threshold on
 * the right, and the result lies where the training FAR steps over the target.
 *
 * This matches the `interp1d(far, thresholds, kind="slinear")` call of
 * insightface's `calculate_val`: a linear B-spline through all points in
 * threshold order, as evaluated by the scipy releases that still accepted
 * repeated x values (1.8 and earlier, by user reports). Those return NaN where
 * the target equals a repeated largest FAR, and this function returns the last
 * threshold there. Newer releases reject repeated FAR values. Their usual
 * workaround keeps the first threshold of each distinct FAR (`np.unique`),
 * which gives a smaller threshold inside a run. When the largest FAR is below
 * the target, the threshold is 0, which accepts no pair, as in `calculate_val`.
 */
function thresholdAtFar(
  far: Float64Array,
  thresholds: Float64Array,
  farTarget: number,
): number {
  const last = far.length - 1;
  if (far[last] < farTarget) return 0;
  // far[0] is 0 because no distance is below the threshold 0, so b >= 0.
  let b = 0;
  while (b < last && far[b + 1] <= farTarget) b += 1;
  if (b === last || far[b] === farTarget) return thresholds[b];
  const weight = (farTarget - far[b]) / (far[b + 1] - far[b]);
  return thresholds[b] + weight * (thresholds[b + 1] - thresholds[b]);
}

/**
 * Runs the k-fold verification protocol on precomputed pair distances.
 *
 * Folds are contiguous blocks in file order: fold k contains pairs
 * `[k * P / folds, (k + 1) * P / folds)`, as scikit-learn's `KFold` without
 * shuffling. A pair is predicted same-person when its distance is strictly
 * less than the threshold (`d < t`), as insightface's `np.less`.
 *
 * Accuracy: for each held-out fold, every candidate of
 * {@linkcode thresholdGrid} is scored by its accuracy on the other folds, and
 * the smallest threshold among those with the highest accuracy is chosen (the
 * first maximum, as `np.argmax`). Correct predictions are compared as integer
 * counts, so ties are exact. The chosen threshold is then applied to the
 * held-out fold.
 *
 * VAL at FAR: for each held-out fold, the threshold where the other folds'
 * false accept rate reaches `farTarget` is interpolated between grid values
 * (see `thresholdAtFar` in this file for the rule). The true accept rate (VAL)
 * and the false accept rate are then measured on the held-out fold at that
 * threshold.
 *
 * NOTE: insightface uses `np.arange(0, 4, 0.01)` (400 values, 4 excluded) for
 * accuracy and a tenfold finer grid for VAL; this function uses one grid,
 * `thresholdMax` included, for both. The extra threshold 4 accepts every pair
 * of unit vectors except antipodal ones, so it can only be chosen when
 * accepting nearly everything maximises training accuracy.
 *
 * AUC and EER come from {@linkcode rocCurve} over all pairs, not per fold.
 *
 * @param distances Squared L2 distances between L2-normalised embeddings,
 *   `[P]`, in pairs-file order; finite and >= 0.
 * @param issame Whether each pair shows one person, `[P]`.
 * @param options Folds, threshold grid, FAR target and ROC size.
 * @returns Per-fold and summary numbers; see {@linkcode VerificationResult}.
 * @throws {TypeError} When `distances` is not a Float64Array or the lengths
 *   differ.
 * @throws {RangeError} When `P` is 0 or not a multiple of `folds`, a distance
 *   is negative or not finite, a fold lacks same-person or different-person
 *   pairs, or an option is out of range.
 *
 * @example Two folds of four pairs
 * ```ts
 * import { crossValidateVerification } from "./protocol.ts";
 * const distances = new Float64Array([0.2, 0.5, 1.5, 2.0, 0.3, 0.9, 1.2, 2.5]);
 * const issame = [true, true, false, false, true, true, false, false];
 * const result = crossValidateVerification(distances, issame, {
 *   folds: 2,
 *   thresholdMax: 4,
 *   thresholdStep: 0.01,
 *   farTarget: 0.001,
 * });
 * console.log(result.accuracyMean); // 0.875
 * ```
 */
export function crossValidateVerification(
  distances: Float64Array,
  issame: readonly boolean[],
  options: ProtocolOptions,
): VerificationResult {
  validateInputs(distances, issame, options);
  const { folds, farTarget, maxRocPoints = 500 } = options;
  const thresholds = thresholdGrid(options.thresholdMax, options.thresholdStep);
  const thresholdCount = thresholds.length;
  const pairCount = distances.length;
  const foldSize = pairCount / folds;

  // acceptedSame[f * T + i] counts the same-person pairs of fold f with
  // distance below thresholds[i]. It is filled as a histogram of each pair's
  // first accepting threshold, then summed over i. Likewise acceptedDiff.
  const acceptedSame = new Int32Array(folds * thresholdCount);
  const acceptedDiff = new Int32Array(folds * thresholdCount);
  const sameInFold = new Int32Array(folds);
  for (let p = 0; p < pairCount; p++) {
    const fold = Math.floor(p / foldSize);
    if (issame[p]) sameInFold[fold] += 1;
    const first = firstAcceptingIndex(thresholds, distances[p]);
    if (first === thresholdCount) continue;
    if (issame[p]) acceptedSame[fold * thresholdCount + first] += 1;
    else acceptedDiff[fold * thresholdCount + first] += 1;
  }
  for (let fold = 0; fold < folds; fold++) {
    const base = fold * thresholdCount;
    for (let i = 1; i < thresholdCount; i++) {
      acceptedSame[base + i] += acceptedSame[base + i - 1];
      acceptedDiff[base + i] += acceptedDiff[base + i - 1];
    }
  }
  const totalSame = new Int32Array(thresholdCount);
  const totalDiff = new Int32Array(thresholdCount);
  for (let fold = 0; fold < folds; fold++) {
    for (let i = 0; i < thresholdCount; i++) {
      totalSame[i] += acceptedSame[fold * thresholdCount + i];
      totalDiff[i] += acceptedDiff[fold * thresholdCount + i];
    }
  }
  let allSame = 0;
  for (let fold = 0; fold < folds; fold++) allSame += sameInFold[fold];

  const foldAccuracies: number[] = [];
  const foldThresholds: number[] = [];
  const valThresholds: number[] = [];
  const foldVals: number[] = [];
  const foldFars: number[] = [];
  const trainFar = new Float64Array(thresholdCount);
  for (let fold = 0; fold < folds; fold++) {
    const base = fold * thresholdCount;
    const testSame = sameInFold[fold];
    const testDiff = foldSize - testSame;
    const trainDiff = pairCount - allSame - testDiff;

    // Best threshold on the other folds: the first index of maximum correct
    // count, where correct = accepted same + rejected different.
    let bestIndex = 0;
    let bestCorrect = -1;
    for (let i = 0; i < thresholdCount; i++) {
      const trainTruePositives = totalSame[i] - acceptedSame[base + i];
      const trainFalsePositives = totalDiff[i] - acceptedDiff[base + i];
      const correct = trainTruePositives + trainDiff - trainFalsePositives;
      if (correct > bestCorrect) {
        bestCorrect = correct;
        bestIndex = i;
      }
      trainFar[i] = trainFalsePositives / trainDiff;
    }
    const testCorrect = acceptedSame[base + bestIndex] + testDiff -
      acceptedDiff[base + bestIndex];
    foldAccuracies.push(testCorrect / foldSize);
    foldThresholds.push(thresholds[bestIndex]);

    // VAL and FAR on the held-out fold at the interpolated threshold, which
    // usually lies between grid values, so count the pairs directly.
    const valThreshold = thresholdAtFar(trainFar, thresholds, farTarget);
    let trueAccepts = 0;
    let falseAccepts = 0;
    for (let p = fold * foldSize; p < (fold + 1) * foldSize; p++) {
      if (distances[p] < valThreshold) {
        if (issame[p]) trueAccepts += 1;
        else falseAccepts += 1;
      }
    }
    valThresholds.push(valThreshold);
    foldVals.push(trueAccepts / testSame);
    foldFars.push(falseAccepts / testDiff);
  }

  const curve = rocCurve(distances, issame);
  return {
    foldAccuracies,
    accuracyMean: mean(foldAccuracies),
    accuracyStd: populationStd(foldAccuracies),
    foldThresholds,
    thresholdMean: mean(foldThresholds),
    valThresholds,
    foldVals,
    foldFars,
    valMean: mean(foldVals),
    valStd: populationStd(foldVals),
    farMean: mean(foldFars),
    auc: curve.auc,
    eer: curve.eer,
    roc: thinRoc(curve, maxRocPoints),
  };
}
