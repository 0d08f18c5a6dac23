/**
 * Two `reproduce` processes started at once. With the same run id, one
 * proceeds and the other stops before any work. With different ids, both
 * finish with the same results while sharing one dataset cache.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { finish, start, taskArgs, tinySets } from "./_process.ts";

function reproduceArgs(dir: string, runId: string): string[] {
  return taskArgs("reproduce", [
    "--profile",
    "smoke",
    ...tinySets(join(dir, "cache"), [
      "train.steps=4",
      "train.lr_milestones=[]",
      "train.warmup_steps=0",
      "train.checkpoint_every=2",
      "train.log_every=2",
      "eval.folds=2",
    ]),
    "--results-dir",
    join(dir, "results"),
    "--run-id",
    runId,
  ]);
}

Deno.test("reproduce twice with one run id lets one proceed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const runs = await Promise.all([
      finish(start(reproduceArgs(dir, "same"))),
      finish(start(reproduceArgs(dir, "same"))),
    ]);
    const codes = runs.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 1], runs.map((r) => r.stderr).join("\n"));
    const loser = runs.find((r) => r.code === 1)!;
    assert.equal(
      loser.stderr.trim(),
      `error: Cannot create run folder "${
        join(dir, "results/same")
      }": it already exists: choose another --run-id, or omit it for a new timestamped id`,
    );
    const metrics = JSON.parse(
      await Deno.readTextFile(join(dir, "results/same/metrics.json")),
    );
    assert.equal(metrics.run_id, "same");
    assert.equal(metrics.train.steps, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reproduce with two run ids at once gives equal runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    // Both build the same dataset into one cache folder at the same time.
    const runs = await Promise.all([
      finish(start(reproduceArgs(dir, "first"))),
      finish(start(reproduceArgs(dir, "second"))),
    ]);
    for (const result of runs) assert.equal(result.code, 0, result.stderr);
    const read = (runId: string, path: string) =>
      Deno.readFile(join(dir, "results", runId, path));
    assert.deepEqual(
      await read("first", "artifacts/model.safetensors"),
      await read("second", "artifacts/model.safetensors"),
    );
    const first = JSON.parse(
      await Deno.readTextFile(join(dir, "results/first/metrics.json")),
    );
    const second = JSON.parse(
      await Deno.readTextFile(join(dir, "results/second/metrics.json")),
    );
    assert.equal(first.run_id, "first");
    assert.equal(second.run_id, "second");
    assert.deepEqual(first.dataset, second.dataset);
    assert.deepEqual(first.eval, second.eval);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
