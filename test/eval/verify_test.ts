import assert from "node:assert/strict";
import {
  evaluatePairs,
  formatFar,
  formatFoldTable,
  formatSummary,
  hasPairsForFar,
  valAtFarKey,
} from "../../src/eval/verify.ts";

const DISTANCES = new Float64Array([0.2, 0.5, 1.5, 2.0, 0.3, 0.9, 1.2, 2.5]);
const ISSAME = [true, true, false, false, true, true, false, false];
const OPTIONS = {
  folds: 2,
  thresholdMax: 4,
  thresholdStep: 0.01,
  farTarget: 0.001,
  flip: true,
};

Deno.test("valAtFarKey names 0.001 val_at_far_1e-3", () => {
  assert.equal(valAtFarKey(0.001), "val_at_far_1e-3");
  assert.equal(valAtFarKey(1e-3), "val_at_far_1e-3");
});

Deno.test("valAtFarKey ignores rounding noise", () => {
  assert.equal(valAtFarKey(0.1 * 0.01), "val_at_far_1e-3");
});

Deno.test("valAtFarKey names other targets", () => {
  assert.equal(valAtFarKey(1e-4), "val_at_far_1e-4");
  assert.equal(valAtFarKey(0.01), "val_at_far_1e-2");
  assert.equal(valAtFarKey(0.005), "val_at_far_5e-3");
});

Deno.test("evaluatePairs keys follow the metrics.json schema", () => {
  const { metrics } = evaluatePairs(DISTANCES, ISSAME, OPTIONS);
  assert.deepEqual(Object.keys(metrics), [
    "pairs",
    "folds",
    "accuracy_mean",
    "accuracy_std",
    "val_at_far_1e-3",
    "auc",
    "eer",
    "threshold_mean",
    "flip",
    "fold_accuracies",
  ]);
});

Deno.test("evaluatePairs copies the protocol numbers", () => {
  const { metrics, result, roc } = evaluatePairs(DISTANCES, ISSAME, OPTIONS);
  assert.equal(metrics.pairs, 8);
  assert.equal(metrics.folds, 2);
  assert.equal(metrics.accuracy_mean, 0.875);
  assert.equal(metrics.accuracy_std, 0.125);
  assert.equal(metrics["val_at_far_1e-3"], result.valMean);
  assert.equal(metrics.auc, result.auc);
  assert.equal(metrics.eer, result.eer);
  assert.ok(Math.abs(metrics.threshold_mean - 0.71) < 1e-12);
  assert.equal(metrics.flip, true);
  assert.deepEqual(metrics.fold_accuracies, [1, 0.75]);
  assert.deepEqual(roc, result.roc);
  assert.ok(!("roc" in metrics));
});

Deno.test("evaluatePairs metrics survive JSON", () => {
  const { metrics } = evaluatePairs(DISTANCES, ISSAME, OPTIONS);
  assert.deepEqual(JSON.parse(JSON.stringify(metrics)), metrics);
});

Deno.test("formatFoldTable lists folds and mean", () => {
  const { metrics } = evaluatePairs(DISTANCES, ISSAME, OPTIONS);
  assert.equal(
    formatFoldTable(metrics),
    [
      "fold  accuracy",
      "   1  100.00%",
      "   2   75.00%",
      "mean   87.50% ± 12.50%",
    ].join("\n"),
  );
});

/** Fold labels: each of `folds` folds has `same` same then `diff` different. */
function foldLabels(folds: number, same: number, diff: number): boolean[] {
  const labels: boolean[] = [];
  for (let fold = 0; fold < folds; fold++) {
    for (let i = 0; i < same + diff; i++) labels.push(i < same);
  }
  return labels;
}

Deno.test("hasPairsForFar needs 1 / FAR training pairs per split", () => {
  // LFW: 10 folds of 300 + 300 leave 2,700 different pairs per split.
  const lfw = foldLabels(10, 300, 300);
  assert.equal(hasPairsForFar(lfw, 10, 1e-3), true);
  assert.equal(hasPairsForFar(lfw, 10, 1e-4), false);
  // Two folds of 10,000 different pairs leave exactly 10,000 per split.
  assert.equal(hasPairsForFar(foldLabels(2, 5, 10000), 2, 1e-4), true);
  assert.equal(hasPairsForFar(foldLabels(2, 5, 9999), 2, 1e-4), false);
});

Deno.test("evaluatePairs adds VAL at 1e-4 on a large set", () => {
  const issame = foldLabels(2, 5, 10000);
  const distances = new Float64Array(issame.length);
  issame.forEach((same, i) => {
    distances[i] = same ? 0.5 : 1 + (i % 1000) / 1000;
  });
  const { metrics } = evaluatePairs(distances, issame, {
    ...OPTIONS,
    folds: 2,
  });
  assert.deepEqual(Object.keys(metrics).slice(4, 6), [
    "val_at_far_1e-3",
    "val_at_far_1e-4",
  ]);
  assert.equal(metrics["val_at_far_1e-4"], 1);
});

Deno.test("evaluatePairs leaves out VAL at 1e-4 on LFW's size", () => {
  const issame = foldLabels(10, 300, 300);
  const distances = new Float64Array(issame.length);
  issame.forEach((same, i) => {
    distances[i] = same ? 0.5 : 1 + (i % 300) / 300;
  });
  const { metrics } = evaluatePairs(distances, issame, {
    ...OPTIONS,
    folds: 10,
  });
  assert.ok("val_at_far_1e-3" in metrics);
  assert.ok(!("val_at_far_1e-4" in metrics));
});

Deno.test("evaluatePairs leaves out flip when unknown", () => {
  const { metrics } = evaluatePairs(DISTANCES, ISSAME, {
    ...OPTIONS,
    flip: undefined,
  });
  assert.ok(!("flip" in metrics));
});

Deno.test("formatSummary lists VAL, AUC, EER and threshold", () => {
  // Every same-person distance is below every different-person one, so AUC
  // is 1 and EER 0; VAL at the tiny FAR target is 1 on both folds.
  const { metrics } = evaluatePairs(DISTANCES, ISSAME, OPTIONS);
  assert.equal(
    formatSummary(metrics),
    "VAL 100.00% at FAR 1e-3  AUC 1.0000  EER 0.00%  threshold 0.71",
  );
});

Deno.test("formatFar writes exponent form", () => {
  assert.equal(formatFar(0.001), "1e-3");
  assert.equal(formatFar(0.1 * 0.01), "1e-3");
  assert.equal(formatFar(0.0001), "1e-4");
});
