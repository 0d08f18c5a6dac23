/**
 * The pipeline tasks with the permissions pinned in deno.json: they run the
 * whole pipeline inside the repository, and a write outside results/ and
 * cache/ is denied before any work.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, tinySets } from "./_process.ts";

async function task(...args: string[]) {
  const output = await new Deno.Command("deno", {
    args: ["task", "--quiet", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const TASKS = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")))
  .tasks as Record<string, string>;

/** Returns the value of `--flag=value` in a task line, or null. */
function permission(taskName: string, flag: string): string | null {
  const word = TASKS[taskName].split(" ").find((part) =>
    part === flag || part.startsWith(`${flag}=`)
  );
  if (word === undefined) return null;
  return word.includes("=") ? word.slice(flag.length + 1) : "";
}

const PIPELINE = ["reproduce", "dataset", "train", "evaluate"];

Deno.test("deno.json pins the pipeline tasks to results and cache", () => {
  for (const name of PIPELINE) {
    assert.equal(permission(name, "--allow-write"), "results,cache", name);
    assert.equal(permission(name, "--allow-read"), ".,../shared", name);
    assert.equal(permission(name, "--allow-run"), "git", name);
    assert.equal(permission(name, "--allow-net"), null, name);
  }
  for (const name of ["model:summary", "plan"]) {
    assert.equal(permission(name, "--allow-write"), null, name);
  }
  assert.equal(permission("paper-repro", "--allow-write"), ".");
});

const DENIED_HINT =
  "The pipeline tasks may read only the repository and ../shared, and write only results/ and cache/: " +
  "put the data, or a symlink to it, under data/ in the repository";

Deno.test("pipeline tasks cannot write outside results and cache", async () => {
  const outside = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    const cases = [
      ["reproduce", "--profile", "smoke", "--results-dir", outside],
      ["train", "--profile", "smoke", "--results-dir", outside],
      ["evaluate", "--profile", "smoke", "--results-dir", outside],
      [
        "dataset",
        "--profile",
        "smoke",
        "--set",
        `dataset.cache_dir=${outside}`,
      ],
    ];
    for (const args of cases) {
      const { code, stderr } = await task(...args);
      assert.equal(code, 1, `${args[0]}: ${stderr}`);
      assert.match(
        stderr,
        new RegExp(`^error: Requires write access to "${outside}`),
        args[0],
      );
      assert.ok(stderr.includes(DENIED_HINT), `${args[0]}: ${stderr}`);
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), []);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("reproduce runs with its pinned permissions", async () => {
  const id = `test-permissions-${Date.now()}`;
  const cacheDir = `cache/${id}`;
  try {
    const { code, stderr } = await task(
      "reproduce",
      "--profile",
      "smoke",
      ...tinySets(cacheDir, [
        "train.steps=2",
        "train.lr_milestones=[]",
        "train.warmup_steps=0",
        "eval.folds=2",
      ]),
      "--run-id",
      id,
    );
    assert.equal(code, 0, stderr);
    const metrics = JSON.parse(
      await Deno.readTextFile(join(ROOT, "results", id, "metrics.json")),
    );
    assert.equal(metrics.train.steps, 2);
  } finally {
    await Deno.remove(join(ROOT, "results", id), { recursive: true })
      .catch(() => {});
    await Deno.remove(join(ROOT, cacheDir), { recursive: true })
      .catch(() => {});
  }
});
