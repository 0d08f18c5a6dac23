import assert from "node:assert/strict";
import {
  evaluatePairs,
  formatFoldTable,
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
