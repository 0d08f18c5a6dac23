/**
 * The verification result of one evaluation set in the form of the `eval`
 * block of `metrics.json`, and its fold table for the terminal.
 *
 * @module
 */

import {
  crossValidateVerification,
  type ProtocolOptions,
  type VerificationResult,
} from "./protocol.ts";
import type { RocPoints } from "./roc.ts";

/** Settings of {@linkcode evaluatePairs}. */
export interface EvaluatePairsOptions extends ProtocolOptions {
  /**
   * Whether the embeddings used the flip test, recorded in the metrics;
   * undefined leaves `flip` out, for embeddings of unknown origin.
   */
  flip?: boolean;
}

/**
 * The second FAR at which VAL is reported besides `farTarget`, when the set
 * is large enough (see {@linkcode hasPairsForFar}).
 */
export const SECONDARY_FAR_TARGET = 1e-4;

/**
 * One set's entry in the `eval` block of `metrics.json`. Rates are fractions;
 * the VAL key names the FAR target, such as `val_at_far_1e-3`.
 */
export type EvalMetrics =
  & {
    pairs: number;
    folds: number;
    accuracy_mean: number;
    /** Population standard deviation (divisor `folds`). */
    accuracy_std: number;
    auc: number;
    eer: number;
    /** Mean of the thresholds chosen per fold, on squared L2 distance. */
    threshold_mean: number;
    /** Absent when the embeddings' origin is unknown. */
    flip?: boolean;
    fold_accuracies: number[];
  }
  & { [key: `val_at_far_${string}`]: number };

/** Result of {@linkcode evaluatePairs}. */
export interface PairsEvaluation {
  /** The entry for `metrics.json`. */
  metrics: EvalMetrics;
  /** ROC points over all pairs for the plot; not part of `metrics.json`. */
  roc: RocPoints;
  /** Every number of the protocol, such as per-fold thresholds and VAL. */
  result: VerificationResult;
}

/**
 * Builds the metrics key of VAL at a FAR target: `val_at_far_` followed by the
 * target in exponent form, `val_at_far_1e-3` for 0.001.
 *
 * The target is first rounded to 12 significant digits, so a value such as
 * `0.1 * 0.01` (0.0010000000000000002) still gives `1e-3`.
 *
 * @param farTarget False accept rate, in [0, 1].
 * @returns The key.
 */
export function valAtFarKey(farTarget: number): `val_at_far_${string}` {
  return `val_at_far_${formatFar(farTarget)}`;
}

/**
 * Formats a false accept rate in exponent form, such as `1e-3` for 0.001,
 * after rounding it to 12 significant digits.
 *
 * @param far False accept rate, in [0, 1].
 * @returns The rate as text.
 */
export function formatFar(far: number): string {
  return Number(far.toPrecision(12)).toExponential();
}

/**
 * Returns whether a set has enough different-person pairs to measure VAL at
 * `farTarget`: the training folds of every split must hold at least
 * `1 / farTarget` of them, so that one false accept is a FAR of at most the
 * target. With fewer, the only threshold at or below the target is the one
 * that accepts no different-person pair, and VAL would measure the set's
 * size rather than the model. LFW's 3,000 different-person pairs in 10
 * folds leave 2,700 per split: enough for 1e-3, not for 1e-4.
 *
 * @param issame Whether each pair shows one person, `[P]`, in fold order.
 * @param folds Number of contiguous folds; divides P.
 * @param farTarget False accept rate, in (0, 1].
 * @returns True when every split has enough different-person pairs.
 */
export function hasPairsForFar(
  issame: readonly boolean[],
  folds: number,
  farTarget: number,
): boolean {
  const foldSize = issame.length / folds;
  let allDiff = 0;
  const diffInFold = new Array<number>(folds).fill(0);
  issame.forEach((same, i) => {
    if (!same) {
      allDiff += 1;
      diffInFold[Math.floor(i / foldSize)] += 1;
    }
  });
  return diffInFold.every((diff) => (allDiff - diff) * farTarget >= 1);
}

/**
 * Runs the verification protocol on one set's pair distances and shapes the
 * result as its `metrics.json` entry.
 *
 * VAL is reported at `options.farTarget` always, and also at
 * {@linkcode SECONDARY_FAR_TARGET} when that is smaller and
 * {@linkcode hasPairsForFar} holds for it; otherwise that key is absent.
 *
 * @param distances Squared L2 distances between L2-normalised embeddings,
 *   `[P]`, in pairs-file order.
 * @param issame Whether each pair shows one person, `[P]`.
 * @param options Protocol settings, see {@linkcode crossValidateVerification},
 *   and whether the flip test was used.
 * @returns The metrics entry, the thinned ROC points and the full result.
 * @throws {TypeError} See {@linkcode crossValidateVerification}.
 * @throws {RangeError} See {@linkcode crossValidateVerification}.
 *
 * @example Metrics of two folds of four pairs
 * ```ts
 * import { evaluatePairs } from "./verify.ts";
 * const distances = new Float64Array([0.2, 0.5, 1.5, 2.0, 0.3, 0.9, 1.2, 2.5]);
 * const issame = [true, true, false, false, true, true, false, false];
 * const { metrics } = evaluatePairs(distances, issame, {
 *   folds: 2,
 *   thresholdMax: 4,
 *   thresholdStep: 0.01,
 *   farTarget: 0.001,
 *   flip: true,
 * });
 * console.log(metrics["val_at_far_1e-3"]); // 1
 * ```
 */
export function evaluatePairs(
  distances: Float64Array,
  issame: readonly boolean[],
  options: EvaluatePairsOptions,
): PairsEvaluation {
  const result = crossValidateVerification(distances, issame, options);
  const vals: Record<string, number> = {
    [valAtFarKey(options.farTarget)]: result.valMean,
  };
  if (
    SECONDARY_FAR_TARGET < options.farTarget &&
    hasPairsForFar(issame, options.folds, SECONDARY_FAR_TARGET)
  ) {
    const secondary = crossValidateVerification(distances, issame, {
      ...options,
      farTarget: SECONDARY_FAR_TARGET,
    });
    vals[valAtFarKey(SECONDARY_FAR_TARGET)] = secondary.valMean;
  }
  // Keys in the order of the metrics.json schema.
  const metrics = {
    pairs: distances.length,
    folds: options.folds,
    accuracy_mean: result.accuracyMean,
    accuracy_std: result.accuracyStd,
    ...vals,
    auc: result.auc,
    eer: result.eer,
    threshold_mean: result.thresholdMean,
    ...(options.flip === undefined ? {} : { flip: options.flip }),
    fold_accuracies: result.foldAccuracies.slice(),
  } as EvalMetrics;
  return { metrics, roc: result.roc, result };
}

/**
 * Formats the fold accuracies and their mean and standard deviation as a
 * fixed-width table of percentages with two decimals, one line per fold.
 *
 * @param metrics A set's metrics from {@linkcode evaluatePairs}.
 * @returns The table, lines separated by `\n`, without a final newline.
 *
 * @example
 * ```ts
 * import { formatFoldTable } from "./verify.ts";
 * const table = formatFoldTable({
 *   pairs: 4, folds: 2, accuracy_mean: 0.75, accuracy_std: 0.25,
 *   "val_at_far_1e-3": 0, auc: 1, eer: 0, threshold_mean: 1, flip: false,
 *   fold_accuracies: [0.5, 1],
 * });
 * console.log(table.split("\n").at(-1)); // "mean   75.00% ± 25.00%"
 * ```
 */
export function formatFoldTable(metrics: EvalMetrics): string {
  const percent = (fraction: number) =>
    `${(fraction * 100).toFixed(2).padStart(6)}%`;
  const lines = ["fold  accuracy"];
  metrics.fold_accuracies.forEach((accuracy, index) => {
    lines.push(`${String(index + 1).padStart(4)}  ${percent(accuracy)}`);
  });
  lines.push(
    `mean  ${percent(metrics.accuracy_mean)} ± ${
      (metrics.accuracy_std * 100).toFixed(2)
    }%`,
  );
  return lines.join("\n");
}

/**
 * Formats VAL at each reported FAR, AUC, EER and the mean threshold as one
 * line, with rates in percent.
 *
 * @param metrics A set's metrics from {@linkcode evaluatePairs}.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import { formatSummary } from "./verify.ts";
 * const line = formatSummary({
 *   pairs: 4, folds: 2, accuracy_mean: 0.75, accuracy_std: 0.25,
 *   "val_at_far_1e-3": 0.5, auc: 0.875, eer: 0.25, threshold_mean: 1,
 *   fold_accuracies: [0.5, 1],
 * });
 * console.log(line); // "VAL 50.00% at FAR 1e-3  AUC 0.8750  EER 25.00%  threshold 1.00"
 * ```
 */
export function formatSummary(metrics: EvalMetrics): string {
  const percent = (fraction: number) => `${(fraction * 100).toFixed(2)}%`;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(metrics)) {
    if (key.startsWith("val_at_far_") && typeof value === "number") {
      parts.push(
        `VAL ${percent(value)} at FAR ${key.slice("val_at_far_".length)}`,
      );
    }
  }
  parts.push(
    `AUC ${metrics.auc.toFixed(4)}`,
    `EER ${percent(metrics.eer)}`,
    `threshold ${metrics.threshold_mean.toFixed(2)}`,
  );
  return parts.join("  ");
}
