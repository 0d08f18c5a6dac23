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

Deno.test("renderPaperRepro takes the newest run of each profile", () => {
  const run = (runId: string, accuracy: number) => ({
    runId,
    metrics: {
      schema_version: 1 as const,
      run_id: runId,
      profile: "smoke",
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
    /\| smoke \| `20260102T000000Z-smoke-b` \| synthetic \| 75\.00 % ± 1\.00 \|/,
  );
  assert.doesNotMatch(text, /smoke-a/);
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
