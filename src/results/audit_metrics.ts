/**
 * The checks of `deno task audit` that re-derive metrics.json values: model
 * counts and training settings from the resolved config, each set's mean and
 * standard deviation from its fold accuracies, and, where the run dumped its
 * embeddings, every protocol figure from the embeddings.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { ProtocolOptions } from "../eval/protocol.ts";
import type { EvalMetrics } from "../eval/verify.ts";
import { countModel, mobileFaceNetUnits } from "../model/architecture.ts";
import type { Metrics } from "./metrics.ts";

/** Outcome of one check. */
export type CheckStatus = "pass" | "fail" | "absent" | "skipped";

/** One row of the audit table. */
export interface AuditCheck {
  check: string;
  status: CheckStatus;
  /** The compared values, or the mismatching values on failure. */
  detail: string;
}

/**
 * Recomputes a set's metrics from its dumped embeddings with the run's
 * protocol settings.
 *
 * @param path The embeddings file, `artifacts/embeddings/<set>.safetensors`.
 * @param protocol Folds, threshold grid and FAR target of the run's config.
 * @returns The set's entry as metrics.json records it.
 */
export type EmbeddingsEvaluator = (
  path: string,
  protocol: ProtocolOptions,
) => Promise<EvalMetrics>;

/** Largest difference accepted between a recorded and a recomputed float. */
export const TOLERANCE = 1e-9;

/** Formats a number for a detail: shortest round-trip form. */
function show(value: unknown): string {
  return JSON.stringify(value) ?? "absent";
}

/** Returns whether two values agree: numbers within TOLERANCE, others exactly. */
function agrees(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) <= TOLERANCE;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => agrees(item, b[i]));
  }
  return a === b;
}

/** Builds a check that compares named pairs of recorded and derived values. */
function compareCheck(
  check: string,
  pairs: [string, unknown, unknown][],
): AuditCheck {
  const mismatches = pairs.filter(([, recorded, derived]) =>
    !agrees(recorded, derived)
  );
  if (mismatches.length === 0) {
    return {
      check,
      status: "pass",
      detail: pairs.map(([name, recorded]) => `${name} ${show(recorded)}`)
        .join(", "),
    };
  }
  return {
    check,
    status: "fail",
    detail: mismatches.map(([name, recorded, derived]) =>
      `${name}: metrics.json has ${show(recorded)}, expected ${show(derived)}`
    ).join("; "),
  };
}

/**
 * Checks the model counts and training settings in metrics.json against
 * what the resolved config gives.
 */
export function configMetricsChecks(
  metrics: Metrics,
  config: Config,
): AuditCheck[] {
  const checks: AuditCheck[] = [];
  if (metrics.model) {
    const counts = countModel(mobileFaceNetUnits(config.model));
    checks.push(compareCheck("model counts from config.yaml", [
      ["parameters", metrics.model.parameters, counts.parameters],
      ["multiply_adds", metrics.model.multiply_adds, counts.multiplyAdds],
      [
        "embedding_size",
        metrics.model.embedding_size,
        config.model.embedding_size,
      ],
    ]));
  }
  if (metrics.train) {
    checks.push(compareCheck("training settings from config.yaml", [
      ["steps", metrics.train.steps, config.train.steps],
      [
        "effective_batch",
        metrics.train.effective_batch,
        config.train.batch_size,
      ],
    ]));
  }
  return checks;
}

/** Lists every entry of metrics.json that has fold accuracies, by label. */
function foldEntries(metrics: Metrics): [string, Partial<EvalMetrics>][] {
  return [
    ...Object.entries(metrics.eval ?? {}).map(([set, entry]) =>
      [`eval.${set}`, entry] as [string, Partial<EvalMetrics>]
    ),
    ...Object.entries(metrics.reference ?? {}).map(([set, entry]) =>
      [`reference.${set}`, entry] as [string, Partial<EvalMetrics>]
    ),
    ...Object.entries(metrics.pixel_baseline ?? {}).map(([set, entry]) =>
      [`pixel_baseline.${set}`, entry] as [string, Partial<EvalMetrics>]
    ),
  ];
}

/**
 * Checks that each entry's accuracy mean and population standard deviation
 * (divisor `folds`) are those of its fold accuracies, and that it lists one
 * accuracy per fold. A hand-edited mean or deviation fails here even when
 * no embeddings were dumped.
 */
export function foldStatisticsChecks(metrics: Metrics): AuditCheck[] {
  const checks: AuditCheck[] = [];
  for (const [label, entry] of foldEntries(metrics)) {
    const folds = entry.fold_accuracies;
    if (folds === undefined || folds.length === 0) continue;
    const mean = folds.reduce((sum, value) => sum + value, 0) / folds.length;
    const variance = folds.reduce((sum, value) =>
      sum + (value - mean) ** 2, 0) /
      folds.length;
    const pairs: [string, unknown, unknown][] = [
      ["accuracy_mean", entry.accuracy_mean, mean],
    ];
    if (entry.accuracy_std !== undefined) {
      pairs.push(["accuracy_std", entry.accuracy_std, Math.sqrt(variance)]);
    }
    if (entry.folds !== undefined) {
      pairs.push(["fold count", folds.length, entry.folds]);
    }
    checks.push(compareCheck(`${label} from its fold accuracies`, pairs));
  }
  return checks;
}

/** Protocol settings of a run's config, as the evaluate stage used them. */
export function protocolOf(config: Config): ProtocolOptions {
  return {
    folds: config.eval.folds,
    thresholdMax: config.eval.threshold_max,
    thresholdStep: config.eval.threshold_step,
    farTarget: config.eval.far_target,
  };
}

/**
 * Compares a set's recorded metrics with those recomputed from its
 * embeddings: every number and list the recorded entry has. A recorded key
 * that the recomputation does not produce is named in the detail and not
 * counted as a failure.
 */
export function embeddingsCheck(
  set: string,
  recorded: EvalMetrics | undefined,
  recomputed: EvalMetrics,
): AuditCheck {
  const check = `eval.${set} recomputed from embeddings`;
  if (recorded === undefined) {
    return {
      check,
      status: "fail",
      detail:
        `the run dumped embeddings of "${set}" but metrics.json has no eval.${set}`,
    };
  }
  const computed = recomputed as Record<string, unknown>;
  const pairs: [string, unknown, unknown][] = [];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(recorded)) {
    if (key in computed) pairs.push([key, value, computed[key]]);
    else missing.push(key);
  }
  const result = compareCheck(check, pairs);
  if (result.status === "pass") {
    result.detail = `${pairs.length} values agree within ${TOLERANCE}` +
      (missing.length > 0 ? `; not recomputed: ${missing.join(", ")}` : "");
  }
  return result;
}
