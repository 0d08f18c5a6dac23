/**
 * Task processes stopped part-way, on the cpu backend. The dataset task and
 * the training task are each killed with SIGKILL at five points and rerun or
 * resumed, and must end with the manifest and the weights of a run never
 * stopped. SIGINT during training must write a checkpoint and exit with
 * code 130 and the resume command.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  countFilesSince,
  finish,
  present,
  run,
  start,
  taskArgs,
  tinySets,
  waitFor,
} from "./_process.ts";

/** Returns the folder in `cacheDir` whose name starts with `prefix`. */
async function cacheEntry(cacheDir: string, prefix: string): Promise<string> {
  for await (const entry of Deno.readDir(cacheDir)) {
    if (entry.isDirectory && entry.name.startsWith(prefix)) {
      return join(cacheDir, entry.name);
    }
  }
  throw new Error(`No folder "${prefix}*" in "${cacheDir}"`);
}

/** Counts the files of this run in the cache folders named `prefix*`. */
async function countInCache(
  cacheDir: string,
  prefix: string,
  since: number,
): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(cacheDir)) {
    if (entry.isDirectory && entry.name.startsWith(prefix)) {
      count += await countFilesSince(join(cacheDir, entry.name), since);
    }
  }
  return count;
}

Deno.test("dataset killed at five points rebuilds the same manifest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const cacheDir = join(dir, "cache");
    // 40 synthetic identities at 16x16: about 700 source and 740 built files.
    const args = taskArgs("dataset", [
      "--profile",
      "smoke",
      ...tinySets(cacheDir, [
        "dataset.synthetic.train_identities=40",
        "dataset.synthetic.canvas_size=64",
      ]),
    ]);
    const straight = await run(args);
    assert.equal(straight.code, 0, straight.stderr);
    const sourceFiles = await countInCache(cacheDir, "synthetic-", 0);
    const builtFiles = await countInCache(cacheDir, "dataset-", 0);
    const expected = await Deno.readFile(
      join(await cacheEntry(cacheDir, "dataset-"), "manifest.jsonl"),
    );
    // The manifest names each source by its path, so the runs under test
    // use the same cache folder.
    await Deno.rename(cacheDir, join(dir, "straight"));

    // Each point is a share of the files the stage writes. A rerun
    // regenerates an incomplete synthetic set, so its points count the files
    // of the current run. A rerun resumes an incomplete dataset build, so its
    // points count every file in the build folder, whichever run wrote it.
    const points = [
      { prefix: "synthetic-", files: Math.round(0.3 * sourceFiles) },
      { prefix: "synthetic-", files: Math.round(0.8 * sourceFiles) },
      { prefix: "dataset-", files: Math.round(0.1 * builtFiles) },
      { prefix: "dataset-", files: Math.round(0.5 * builtFiles) },
      { prefix: "dataset-", files: Math.round(0.9 * builtFiles) },
    ];
    for (const [k, point] of points.entries()) {
      const since = Date.now();
      const child = start(args);
      const reached = await waitFor(
        child,
        async () =>
          await present(cacheDir) &&
          await countInCache(
              cacheDir,
              point.prefix,
              point.prefix === "dataset-" ? 0 : since,
            ) >= point.files,
      );
      if (reached) child.kill("SIGKILL");
      const result = await finish(child);
      assert.ok(
        reached,
        `kill point ${
          k + 1
        } (${point.files} files in ${point.prefix}*) was not reached: exit code ${result.code}`,
      );
      assert.equal(result.signal, "SIGKILL", `kill point ${k + 1}`);
    }

    const last = await run(args);
    assert.equal(last.code, 0, last.stderr);
    const manifest = await Deno.readFile(
      join(await cacheEntry(cacheDir, "dataset-"), "manifest.jsonl"),
    );
    assert.deepEqual(manifest, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train killed at five points and interrupted resumes to the same weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const resultsDir = join(dir, "results");
    const settings = tinySets(join(dir, "cache"), [
      "train.steps=40",
      "train.lr_milestones=[20]",
      "train.warmup_steps=2",
      "train.checkpoint_every=4",
      "train.log_every=2",
    ]);
    const fresh = (runId: string) =>
      taskArgs("train", [
        "--profile",
        "smoke",
        ...settings,
        "--results-dir",
        resultsDir,
        "--run-id",
        runId,
      ]);
    const resume = taskArgs("train", [
      "--resume",
      "--run-id",
      "stopped",
      "--results-dir",
      resultsDir,
    ]);
    const straight = await run(fresh("straight"));
    assert.equal(straight.code, 0, straight.stderr);

    // Each stop waits for a checkpoint the process writes itself, then for
    // a delay, so the kill lands in a step or in a checkpoint write.
    const checkpoints = join(resultsDir, "stopped/artifacts/checkpoints");
    const stops = [
      { args: fresh("stopped"), step: 4, delayMs: 0, signal: "SIGKILL" },
      { args: resume, step: 12, delayMs: 30, signal: "SIGKILL" },
      { args: resume, step: 16, delayMs: 0, signal: "SIGINT" },
      { args: resume, step: 24, delayMs: 10, signal: "SIGKILL" },
      { args: resume, step: 28, delayMs: 0, signal: "SIGKILL" },
      { args: resume, step: 36, delayMs: 5, signal: "SIGKILL" },
    ] as const;
    for (const stop of stops) {
      const child = start(stop.args);
      const name = `step_${String(stop.step).padStart(8, "0")}.safetensors`;
      const reached = await waitFor(
        child,
        () => present(join(checkpoints, name)),
      );
      if (reached) {
        await new Promise((resolve) => setTimeout(resolve, stop.delayMs));
        child.kill(stop.signal);
      }
      const result = await finish(child);
      assert.ok(reached, `no ${name} before the run ended: ${result.stderr}`);
      if (stop.signal === "SIGKILL") {
        assert.equal(result.signal, "SIGKILL", `stop at ${name}`);
        continue;
      }

      // SIGINT: the step in progress finishes and is saved.
      assert.equal(result.code, 130, result.stderr);
      const line = result.stderr.trim().split("\n").at(-1)!;
      const match =
        /^Training interrupted after step (\d+) of 40: checkpoint "(.*)" written: continue with: deno task train --resume --run-id stopped --results-dir (.*)$/
          .exec(line);
      assert.ok(match, `last line: ${line}`);
      assert.equal(match[3], resultsDir);
      assert.ok(Number(match[1]) >= stop.step);
      assert.ok(await present(match[2]), `${match[2]} is missing`);
      const provenance = JSON.parse(
        await Deno.readTextFile(join(resultsDir, "stopped/provenance.json")),
      );
      assert.equal(provenance.stages.train.error, line);
    }

    const last = await run(resume);
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(
      await Deno.readFile(
        join(resultsDir, "stopped/artifacts/model.safetensors"),
      ),
      await Deno.readFile(
        join(resultsDir, "straight/artifacts/model.safetensors"),
      ),
    );
    const steps = (await Deno.readTextFile(
      join(resultsDir, "stopped/train.jsonl"),
    )).trim().split("\n").map((line) => JSON.parse(line).step);
    assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => 2 * i + 2));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
