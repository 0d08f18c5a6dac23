import { currentForm } from "../../src/results/metrics.ts";
import assert from "node:assert/strict";
import {
  buildComparison,
  metricsDifferences,
  PAPER_ROW,
  runDifferences,
  type RunRecord,
  sortRuns,
} from "../../src/results/compare.ts";
import { renderComparisonMarkdown } from "../../src/results/compare_markdown.ts";
import type { Metrics } from "../../src/results/metrics.ts";

/** Builds a run with one evaluation set of two folds. */
function run(
  runId: string,
  options: { folds?: number[]; started?: string; imagesPerSecond?: number } =
    {},
): RunRecord {
  const folds = options.folds ?? [0.8, 0.9];
  const mean = (folds[0] + folds[1]) / 2;
  const metrics: Metrics = {
    schema_version: 1,
    run_id: runId,
    profile: "smoke",
    model: {
      name: "mobilefacenet",
      parameters: 253952,
      multiply_adds: 19304448,
      embedding_size: 64,
    },
    train: {
      steps: 300,
      effective_batch: 64,
      micro_batch: 32,
      accumulation_steps: 2,
      arcface_shards: 2,
      final_loss: 0.5,
      images_per_second: options.imagesPerSecond ?? 30,
      peak_memory_bytes: { measured: 1000 },
    },
    eval: {
      synthetic: {
        pairs: 600,
        folds: 2,
        accuracy_mean: mean,
        accuracy_std: Math.abs(folds[0] - folds[1]) / 2,
        "val_at_far_1e-3": 0.25,
        auc: 0.9,
        eer: 0.1,
        threshold_mean: 1.1,
        flip: true,
        fold_accuracies: folds,
      },
    },
  };
  return {
    dir: `results/${runId}`,
    metrics,
    provenance: {
      git: { commit: "0123456789abcdef0123456789abcdef01234567", dirty: false },
      stages: {
        train: {
          started: options.started ?? "2026-01-01T00:00:00.000Z",
          backend: { name: "wasm" },
        },
      },
    },
  };
}

Deno.test("metricsDifferences ignores run id and timing", () => {
  const a = run("a", { imagesPerSecond: 30 });
  const b = run("b", { imagesPerSecond: 31 });
  assert.deepEqual(metricsDifferences(a.metrics, b.metrics), []);
});

Deno.test("metricsDifferences names each changed leaf", () => {
  const a = run("a");
  const b = run("b", { folds: [0.8, 0.95] });
  assert.deepEqual(
    metricsDifferences(a.metrics, b.metrics).map((d) => d.path),
    [
      "eval.synthetic.accuracy_mean",
      "eval.synthetic.accuracy_std",
      "eval.synthetic.fold_accuracies[1]",
    ],
  );
});

Deno.test("metricsDifferences reports a missing block", () => {
  const a = run("a");
  const b = run("b");
  delete b.metrics.train;
  const differences = metricsDifferences(a.metrics, b.metrics);
  assert.equal(differences.length, 1);
  assert.equal(differences[0].path, "train");
  assert.equal(differences[0].run, undefined);
});

Deno.test("runDifferences is zero for identical runs", () => {
  const differences = runDifferences(run("b"), run("a"));
  assert.equal(differences.sets.synthetic.accuracy_mean, 0);
  assert.equal(differences.sets.synthetic["val_at_far_1e-3"], 0);
  assert.equal(differences.sets.synthetic.beyond_combined_std, false);
  assert.equal(differences.steps, 0);
  assert.deepEqual(differences.metrics, []);
});

Deno.test("runDifferences marks a change beyond combined std", () => {
  // Baseline std 0.05; the run's folds 0.6 and 0.64 give std 0.02 and a
  // mean 0.23 lower: |-0.23| > sqrt(0.05^2 + 0.02^2) = 0.0539.
  const differences = runDifferences(
    run("b", { folds: [0.6, 0.64] }),
    run("a"),
  );
  const synthetic = differences.sets.synthetic;
  assert.ok(Math.abs(synthetic.accuracy_mean + 0.23) < 1e-12);
  assert.ok(Math.abs(synthetic.combined_std! - Math.hypot(0.05, 0.02)) < 1e-12);
  assert.equal(synthetic.beyond_combined_std, true);
});

Deno.test("runDifferences keeps a change within combined std", () => {
  // Means 0.85 and 0.86, stds 0.05 and 0.06: 0.01 < 0.078.
  const differences = runDifferences(
    run("b", { folds: [0.8, 0.92] }),
    run("a"),
  );
  assert.equal(differences.sets.synthetic.beyond_combined_std, false);
});

Deno.test("sortRuns puts the newest run last", () => {
  const older = run("z-older", { started: "2026-01-01T00:00:00.000Z" });
  const newer = run("a-newer", { started: "2026-01-02T00:00:00.000Z" });
  assert.deepEqual(
    sortRuns([newer, older]).map((r) => r.metrics.run_id),
    ["z-older", "a-newer"],
  );
});

Deno.test("buildComparison starts with the paper's row", () => {
  const comparison = buildComparison([run("a")]);
  assert.equal(comparison.rows[0], PAPER_ROW);
  assert.equal(comparison.rows[1].run_id, "a");
  assert.deepEqual(comparison.sets, ["lfw", "agedb_30", "synthetic"]);
  assert.equal(comparison.baseline, undefined);
});

Deno.test("buildComparison adds a baseline not listed", () => {
  const baseline = run("base", { started: "2025-12-31T00:00:00.000Z" });
  const comparison = buildComparison([run("a")], baseline);
  assert.deepEqual(comparison.rows.map((row) => row.run_id), [
    PAPER_ROW.run_id,
    "base",
    "a",
  ]);
  assert.equal(comparison.baseline!.run_id, "base");
  assert.deepEqual(
    comparison.baseline!.differences.map((d) => d.run_id),
    ["a"],
  );
});

Deno.test("renderComparisonMarkdown formats the rows", () => {
  const text = renderComparisonMarkdown(buildComparison([run("a")]));
  const lines = text.split("\n");
  assert.match(lines[0], /^\| run \| profile \| commit \| backend \|/);
  assert.match(
    lines[0],
    /\| synthetic accuracy % \| synthetic VAL@FAR=1e-3 % \|/,
  );
  assert.match(
    lines[2],
    /^\| paper \(arXiv:1804\.07573\) \| - \| - \| 4 GPUs \| refined MS-Celeb-1M \| - \| 512 \| 99\.55 \| - \| 96\.07 \| - \| - \| - \| 0\.99 M \| 221 M \| - \|$/,
  );
  assert.equal(
    lines[3],
    "| a | smoke | 01234567 | wasm | - | 300 | 64 | - | - | - | - | 85.00 ± 5.00 | 25.00 | 253,952 | 19,304,448 | 30.0 |",
  );
});

Deno.test("renderComparisonMarkdown shows zero differences", () => {
  const baseline = run("a");
  const text = renderComparisonMarkdown(
    buildComparison(
      [baseline, run("b", { started: "2026-01-02T00:00:00Z" })],
      baseline,
    ),
  );
  assert.match(
    text,
    /\| b \| - \| - \| - \| - \| 0\.00 \| 0\.00 \| 0 \| 0 \| 0 \| 0\.0 \|/,
  );
  assert.match(
    text,
    /- `b`: metrics.json is identical apart from run_id and train.images_per_second/,
  );
  assert.doesNotMatch(text, / \*/);
});

Deno.test("renderComparisonMarkdown marks a large change", () => {
  const baseline = run("a");
  const text = renderComparisonMarkdown(
    buildComparison([
      baseline,
      run("b", { folds: [0.6, 0.64], started: "2026-01-02T00:00:00Z" }),
    ], baseline),
  );
  assert.match(text, /\| b \| - \| - \| - \| - \| -23\.00 \* \| 0\.00 \|/);
  assert.match(
    text,
    /`eval\.synthetic\.accuracy_mean`: 0\.85\d* -> 0\.62\d*\n/,
  );
});

Deno.test("currentForm moves an older pixel reference to pixel_baseline", () => {
  const pixels = {
    model: "pixels" as const,
    pairs: 600,
    folds: 10,
    accuracy_mean: 0.6,
    accuracy_std: 0.1,
  };
  const older = {
    schema_version: 1 as const,
    run_id: "a",
    profile: "smoke",
    reference: { synthetic: pixels },
  };
  assert.deepEqual(currentForm(older), {
    schema_version: 1,
    run_id: "a",
    profile: "smoke",
    pixel_baseline: { synthetic: pixels },
  });
  const current = {
    ...older,
    reference: undefined,
    pixel_baseline: older.reference,
  };
  assert.equal(currentForm(current), current);
});
