import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { sha256File } from "../../src/hash.ts";
import { MissingDataError } from "../../src/pipeline/preflight.ts";
import { reproduce } from "../../src/pipeline/reproduce.ts";
import { createReporter } from "../../src/report.ts";
import { metricsDifferences } from "../../src/results/compare.ts";
import { RunExistsError } from "../../src/results/run_folder.ts";
import { tinySmokeSettings } from "../_tiny_smoke.ts";
import { pretrainedPaths } from "../_assets.ts";

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

function tinySmoke(cacheDir: string): string[] {
  return [
    ...tinySmokeSettings(cacheDir),
    "train.steps=2",
    "train.lr_milestones=[]",
    "train.warmup_steps=0",
    "train.log_every=1",
    "eval.folds=2",
  ];
}

Deno.test("reproduce writes a complete run folder and refuses to overwrite it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const reporter = createReporter({
      writer: { writeLine: (line) => lines.push(line) },
    });
    const resolved = await loadConfig(
      join(CONFIGS, "smoke.yaml"),
      tinySmoke(join(dir, "cache")),
    );
    const options = {
      resolved,
      resultsDir: join(dir, "results"),
      runId: "tiny",
      reporter,
      command: ["test"],
    };
    const context = await reproduce(options);

    for (
      const name of [
        "config.yaml",
        "provenance.json",
        "metrics.json",
        "train.jsonl",
        "loss.svg",
        "synthetic.roc.svg",
      ]
    ) {
      await Deno.stat(join(context.runDir, name));
    }
    const metrics = JSON.parse(
      await Deno.readTextFile(join(context.runDir, "metrics.json")),
    );
    assert.equal(metrics.run_id, "tiny");
    assert.equal(metrics.profile, "smoke");
    assert.equal(metrics.dataset.by_rule.dropped, 2);
    assert.equal(metrics.train.steps, 2);
    assert.equal(metrics.train.accumulation_steps, 2);
    assert.equal(metrics.eval.synthetic.pairs, 24);
    assert.equal(metrics.pixel_baseline.synthetic.model, "pixels");
    // The pretrained reference runs when `deno task assets` has fetched it.
    if (await pretrainedPaths("reproduce") === null) {
      assert.equal(metrics.reference, undefined);
    } else {
      assert.equal(metrics.reference.synthetic.model, "pretrained");
      assert.equal(metrics.reference.synthetic.pairs, 24);
    }
    const provenance = JSON.parse(
      await Deno.readTextFile(join(context.runDir, "provenance.json")),
    );
    assert.equal(provenance.config_sha256, resolved.sha256);
    assert.deepEqual(Object.keys(provenance.stages), [
      "dataset",
      "train",
      "evaluate",
    ]);
    assert.deepEqual(Object.keys(provenance.stages.train.artifacts), [
      "model",
      "checkpoint_00000002",
      "train_log",
      "loss_plot",
    ]);
    assert.deepEqual(Object.keys(provenance.stages.evaluate.artifacts), [
      "embeddings_synthetic",
      "roc_plot_synthetic",
    ]);
    assert.equal(
      provenance.metrics_sha256,
      await sha256File(join(context.runDir, "metrics.json")),
    );
    const log = (await Deno.readTextFile(join(context.runDir, "train.jsonl")))
      .trim().split("\n");
    assert.equal(log.length, 2);
    assert.deepEqual(Object.keys(JSON.parse(log[0])), [
      "step",
      "epoch",
      "lr",
      "loss",
      "accuracy",
      "images_per_second",
    ]);

    await assert.rejects(reproduce(options), RunExistsError);

    // A second run with the same inputs reuses the cached dataset.
    lines.length = 0;
    const second = await reproduce({ ...options, runId: "tiny-2" });
    assert.ok(
      lines.some((line) => line.startsWith("dataset: reusing")),
      lines.join("\n"),
    );

    // The same seed on the cpu backend gives the same metrics.json.
    const secondMetrics = JSON.parse(
      await Deno.readTextFile(join(second.runDir, "metrics.json")),
    );
    assert.deepEqual(metricsDifferences(metrics, secondMetrics), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reproduce stops before any work when data is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resolved = await loadConfig(join(CONFIGS, "paper.yaml"), [
      "dataset.roots[0].path=/nonexistent/trillion_pairs",
      "eval.sets[0].root=/nonexistent/lfw",
      "eval.sets[0].pairs=/nonexistent/lfw/pairs.txt",
    ]);
    const reporter = createReporter({ writer: { writeLine: () => {} } });
    await assert.rejects(
      reproduce({
        resolved,
        resultsDir: join(dir, "results"),
        reporter,
        command: ["test"],
      }),
      (error: Error) =>
        error instanceof MissingDataError &&
        error.message.includes(
          'dataset.roots[0].path: "/nonexistent/trillion_pairs/train_celebrity/celebrity" not found',
        ) &&
        error.message.includes(
          'dataset.roots[0].path: "/nonexistent/trillion_pairs/train_msra/msra" not found',
        ) &&
        error.message.includes("--profile smoke"),
    );
    await assert.rejects(Deno.stat(join(dir, "results")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
