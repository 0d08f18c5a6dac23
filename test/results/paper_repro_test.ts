import assert from "node:assert/strict";
import { readRuns, renderPaperRepro } from "../../src/results/paper_repro.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("renderPaperRepro derives the counts from the model", () => {
  const text = renderPaperRepro([]);
  assert.match(
    text,
    /\| parameters \| 0\.99 M \| 983,552 \(conv weights 976,000\)/,
  );
  assert.match(text, /\| multiply-adds at 112x112 \| 221 M \| 220,965,376 \|/);
  assert.match(
    text,
    /\| LFW accuracy \| 99\.55 % \| no paper-profile run yet \|/,
  );
});

/** The train block of a fake run; only its presence matters here. */
const TRAIN = {
  steps: 300,
  effective_batch: 64,
  micro_batch: 32,
  accumulation_steps: 2,
  arcface_shards: 2,
  final_loss: 0.1,
  images_per_second: 30,
  peak_memory_bytes: { measured: 1 },
};

Deno.test("renderPaperRepro skips an evaluation-only run", () => {
  const run = (runId: string, train: boolean) => ({
    runId,
    metrics: {
      schema_version: 1 as const,
      run_id: runId,
      profile: "att",
      ...(train ? { train: TRAIN } : {}),
      eval: { att: entry(train ? 0.8 : 0.99) },
    },
  });
  const text = renderPaperRepro([
    run("20260101T000000Z-att-a", true),
    run("20260102T000000Z-att-b", false),
  ]);
  assert.match(text, /`20260101T000000Z-att-a` \| att \| 80\.00 %/);
  assert.doesNotMatch(text, /att-b/);
});

Deno.test("renderPaperRepro takes the newest run of each profile", () => {
  const run = (runId: string, accuracy: number) => ({
    runId,
    metrics: {
      schema_version: 1 as const,
      run_id: runId,
      profile: "smoke",
      train: TRAIN,
      eval: {
        synthetic: {
          pairs: 600,
          folds: 10,
          accuracy_mean: accuracy,
          accuracy_std: 0.01,
          auc: 0.9,
          eer: 0.1,
          threshold_mean: 1,
          flip: true,
          fold_accuracies: [],
        },
      },
    },
  });
  const text = renderPaperRepro([
    run("20260101T000000Z-smoke-a", 0.5),
    run("20260102T000000Z-smoke-b", 0.75),
  ]);
  assert.match(
    text,
    /\| smoke \| `configs\/smoke\.yaml` \| `20260102T000000Z-smoke-b` \| synthetic \| 75\.00 % ± 1\.00 \|/,
  );
  assert.doesNotMatch(text, /smoke-a/);
});

/** Builds an evaluation entry of two folds around `accuracy`. */
function entry(accuracy: number) {
  return {
    pairs: 600,
    folds: 2,
    accuracy_mean: accuracy,
    accuracy_std: 0.01,
    auc: 0.9,
    eer: 0.1,
    threshold_mean: 1,
    flip: true,
    fold_accuracies: [accuracy - 0.01, accuracy + 0.01],
  };
}

Deno.test("renderPaperRepro reads both pixel baseline forms", () => {
  const text = renderPaperRepro([
    {
      runId: "20260101T000000Z-smoke-a",
      metrics: {
        schema_version: 1,
        run_id: "20260101T000000Z-smoke-a",
        profile: "smoke",
        train: TRAIN,
        eval: { synthetic: entry(0.8) },
        reference: { synthetic: { model: "pixels", ...entry(0.6) } },
      },
    },
    {
      runId: "20260101T000000Z-att-a",
      metrics: {
        schema_version: 1,
        run_id: "20260101T000000Z-att-a",
        profile: "att",
        train: TRAIN,
        eval: { att: entry(0.9) },
        reference: { att: { model: "pretrained", accuracy_mean: 0.97 } },
        pixel_baseline: { att: { model: "pixels", ...entry(0.7) } },
      },
    },
  ]);
  assert.match(
    text,
    /\| synthetic \| 80\.00 % ± 1\.00 \| pixels: 60\.00 % \| - \|/,
  );
  assert.match(
    text,
    /\| att \| 90\.00 % ± 1\.00 \| pixels: 70\.00 % \| pretrained: 97\.00 % \|/,
  );
});

Deno.test("renderPaperRepro takes LFW from a paper run", () => {
  const text = renderPaperRepro([{
    runId: "20260101T000000Z-paper-a",
    metrics: {
      schema_version: 1,
      run_id: "20260101T000000Z-paper-a",
      profile: "paper",
      train: TRAIN,
      model: {
        name: "mobilefacenet",
        parameters: 983552,
        multiply_adds: 220965376,
        embedding_size: 128,
      },
      eval: { lfw: entry(0.99) },
    },
  }]);
  assert.match(
    text,
    /\| LFW accuracy \| 99\.55 % \| 99\.00 % ± 1\.00 \| `20260101T000000Z-paper-a` \| `configs\/paper\.yaml` \| `deno task reproduce --profile paper` \|/,
  );
  assert.match(
    text,
    /\| parameters \| 0\.99 M \| 983,552 \(conv weights 976,000\) \| `20260101T000000Z-paper-a` \|/,
  );
});

Deno.test("paper-repro.md is what the committed run folders give", async () => {
  const expected = renderPaperRepro(await readRuns(`${ROOT}results`));
  const committed = await Deno.readTextFile(`${ROOT}paper-repro.md`);
  assert.equal(
    committed,
    expected,
    "paper-repro.md is out of date: run deno task paper-repro",
  );
});
