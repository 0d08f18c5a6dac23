/**
 * Stage 3 end to end on a tiny trained model: a synthetic LFW-layout set and
 * an insightface .bin set in one pass, the stored pair embeddings, their
 * provenance and the metrics recomputed from them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import {
  evaluateEmbeddingsDump,
  readEmbeddingsDump,
} from "../../src/eval/embeddings_dump.ts";
import { sha256File } from "../../src/hash.ts";
import { startRun } from "../../src/pipeline/context.ts";
import { prepareSyntheticSet } from "../../src/pipeline/dataset_stage.ts";
import {
  embeddingsCopyPath,
  evaluateStep,
  reproduce,
} from "../../src/pipeline/reproduce.ts";
import { silentReporter } from "../../src/report.ts";
import {
  encodeVerificationBin,
  gradientJpeg,
} from "../eval/_verification_bin.ts";
import { tinySmokeSettings } from "../_tiny_smoke.ts";

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

Deno.test("embeddingsCopyPath names one file per set", () => {
  assert.equal(
    embeddingsCopyPath("results/emb.safetensors", "lfw", 1),
    "results/emb.safetensors",
  );
  assert.equal(
    embeddingsCopyPath("results/emb.safetensors", "lfw", 2),
    "results/emb.lfw.safetensors",
  );
  assert.equal(
    embeddingsCopyPath("cache/emb", "cfp_fp", 3),
    "cache/emb.cfp_fp",
  );
});

Deno.test("evaluateStep evaluates a .bin set beside a pairs set", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 2 folds of 3 same-person and 3 different-person pairs, 24 JPEGs.
    const jpegs = await Promise.all(
      Array.from({ length: 24 }, (_, k) => gradientJpeg(k, 32)),
    );
    const issame = Array.from({ length: 12 }, (_, p) => p % 6 < 3);
    const binPath = join(dir, "tiny.bin");
    await Deno.writeFile(binPath, encodeVerificationBin(jpegs, issame, 2));

    const resolved = await loadConfig(join(CONFIGS, "smoke.yaml"), [
      ...tinySmokeSettings(join(dir, "cache")),
      "train.steps=2",
      "train.lr_milestones=[]",
      "train.warmup_steps=0",
      "eval.folds=2",
      `eval.sets=[{name: synthetic, synthetic: true}, {name: tiny_bin, bin: "${binPath}"}]`,
    ]);
    const resultsDir = join(dir, "results");
    const trained = await reproduce({
      resolved,
      resultsDir,
      runId: "trained",
      reporter: silentReporter,
      command: ["test"],
    });

    // Both sets in the run: metrics, ROC plots, stored embeddings.
    const metrics = JSON.parse(
      await Deno.readTextFile(join(trained.runDir, "metrics.json")),
    );
    assert.equal(metrics.eval.tiny_bin.pairs, 12);
    assert.equal(metrics.eval.tiny_bin.folds, 2);
    assert.equal(metrics.eval.tiny_bin.flip, true);
    assert.equal(metrics.eval.synthetic.pairs, 24);
    assert.ok(!("val_at_far_1e-4" in metrics.eval.tiny_bin));
    const svg = await Deno.readTextFile(
      join(trained.runDir, "tiny_bin.roc.svg"),
    );
    assert.match(svg, /<circle /);
    assert.match(svg, /VAL \d+\.\d% at FAR (0|\d\.\de[-+]\d+) \(target 1e-3\)/);
    const provenance = JSON.parse(
      await Deno.readTextFile(join(trained.runDir, "provenance.json")),
    );
    const artifacts = provenance.stages.evaluate.artifacts;
    assert.deepEqual(Object.keys(artifacts), [
      "embeddings_synthetic",
      "roc_plot_synthetic",
      "embeddings_tiny_bin",
      "roc_plot_tiny_bin",
    ]);
    for (const set of ["synthetic", "tiny_bin"]) {
      const artifact = artifacts[`embeddings_${set}`];
      assert.equal(artifact.path, `artifacts/embeddings/${set}.safetensors`);
      const path = join(trained.runDir, artifact.path);
      assert.equal(await sha256File(path), artifact.sha256);

      // The metrics recomputed from the file equal the run's, bit for bit.
      const dump = await readEmbeddingsDump(path);
      assert.equal(dump.flip, true);
      assert.equal(dump.dim, 8);
      const { metrics: recomputed } = evaluateEmbeddingsDump(dump, {
        folds: 2,
        thresholdMax: 4,
        thresholdStep: 0.01,
        farTarget: 1e-3,
      });
      assert.deepEqual(
        JSON.parse(JSON.stringify(recomputed)),
        metrics.eval[set],
      );
    }

    // The evaluate task's path: the trained model in a new run, with copies.
    const context = await startRun({
      resolved,
      resultsDir,
      runId: "evaluated",
      reporter: silentReporter,
      command: ["test"],
    });
    const copy = join(dir, "copies", "emb.safetensors");
    await evaluateStep(
      context,
      join(trained.runDir, "artifacts", "model.safetensors"),
      await prepareSyntheticSet(resolved.config, silentReporter),
      { dumpEmbeddings: copy },
    );
    for (const set of ["synthetic", "tiny_bin"]) {
      const copied = await Deno.readFile(
        join(dir, "copies", `emb.${set}.safetensors`),
      );
      const stored = await Deno.readFile(
        join(context.runDir, "artifacts", "embeddings", `${set}.safetensors`),
      );
      assert.deepEqual(copied, stored);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
