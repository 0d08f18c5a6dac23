/**
 * A dataset build killed with SIGKILL part-way resumes: the rerun finishes
 * only the identities without a journal record, leaves no temporary file,
 * and writes the bytes of a build never stopped.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTestPng } from "../data/_helpers.ts";
import { finish, ROOT, run, start, waitFor } from "./_process.ts";

const SCRIPT = join(ROOT, "test/robustness/_build_dataset.ts");

function buildArgs(root: string, outDir: string, workers: number): string[] {
  return [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    "--allow-ffi",
    SCRIPT,
    root,
    outDir,
    String(workers),
  ];
}

/** Counts the identity records a running build has written. */
async function records(outDir: string): Promise<number> {
  try {
    let count = 0;
    for await (const entry of Deno.readDir(join(outDir, "journal"))) {
      if (entry.name.endsWith(".json")) count++;
    }
    return count;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** Lists every path under `dir` that contains `.tmp-`. */
async function temporaryFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.name.includes(".tmp-")) found.push(path);
    if (entry.isDirectory) found.push(...await temporaryFiles(path));
  }
  return found;
}

Deno.test("buildDataset killed with SIGKILL resumes to the same bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    // 60 identities of 2 to 7 images: every rule but sampling.
    const root = join(dir, "source");
    let seed = 0;
    for (let k = 0; k < 60; k++) {
      for (let i = 1; i <= 2 + (k % 6); i++) {
        await writeTestPng(
          join(root, `id_${String(k).padStart(3, "0")}`, `${i}.png`),
          seed++,
          24,
        );
      }
    }
    const straight = await run(buildArgs(root, join(dir, "straight"), 2));
    assert.equal(straight.code, 0, straight.stderr);

    const outDir = join(dir, "stopped");
    for (const [k, target] of [12, 30].entries()) {
      const child = start(buildArgs(root, outDir, 1));
      const reached = await waitFor(
        child,
        async () => await records(outDir) >= target,
      );
      if (reached) child.kill("SIGKILL");
      const result = await finish(child);
      assert.ok(
        reached,
        `kill ${k + 1}: the build ended first: ${result.stderr}`,
      );
      assert.equal(result.signal, "SIGKILL");
    }
    const done = await records(outDir);

    const resumed = await run(buildArgs(root, outDir, 2));
    assert.equal(resumed.code, 0, resumed.stderr);
    const match = /resuming with (\d+) identities already done/.exec(
      resumed.stderr,
    );
    assert.ok(match, resumed.stderr);
    assert.equal(Number(match[1]), done);
    assert.deepEqual(await temporaryFiles(outDir), []);
    for (const name of ["manifest.jsonl", "labels.json", "summary.json"]) {
      assert.deepEqual(
        await Deno.readFile(join(outDir, name)),
        await Deno.readFile(join(dir, "straight", name)),
        name,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
