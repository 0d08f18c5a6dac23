/**
 * The task entry points as a user runs them: `deno task NAME` with the
 * permissions pinned in deno.json.
 */
import assert from "node:assert/strict";
import { writeEmbeddingsDump } from "../src/eval/embeddings_dump.ts";
import { goldenEmbeddings } from "./eval/_golden_embeddings.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function task(...args: string[]) {
  const output = await new Deno.Command("deno", {
    args: ["task", "--quiet", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("model:summary prints the paper's counts", async () => {
  const { code, stdout } = await task("model:summary", "--profile", "paper");
  assert.equal(code, 0);
  assert.match(stdout, /multiply-adds\s+220,965,376/);
  assert.match(stdout, /parameters \(with PReLU\)\s+983,552/);
  assert.match(stdout, /conv weights\s+976,000/);
});

Deno.test("reproduce names an unknown config key", async () => {
  const { code, stderr } = await task(
    "reproduce",
    "--profile",
    "smoke",
    "--set",
    "train.stepz=1",
  );
  assert.equal(code, 1);
  assert.match(
    stderr,
    /Invalid config key "train.stepz" in "configs\/smoke.yaml" with --set overrides: unknown key/,
  );
});

Deno.test("reproduce of the paper profile names the missing data", async () => {
  const { code, stderr } = await task("reproduce", "--profile", "paper");
  assert.equal(code, 1);
  assert.match(
    stderr,
    /dataset\.roots\[0\]\.path: "data\/trillion_pairs\/train_celebrity\/celebrity" not found/,
  );
  assert.match(stderr, /--profile smoke/);
});

Deno.test("reproduce rejects an unknown flag with the usage", async () => {
  const { code, stderr } = await task("reproduce", "--profle", "smoke");
  assert.equal(code, 1);
  assert.match(stderr, /Unknown option '--profle'/);
  assert.match(stderr, /Usage: deno task reproduce/);
});

Deno.test("make-pairs names a missing root", async () => {
  const { code, stderr } = await task(
    "make-pairs",
    "--root",
    "no/such/folder",
    "--out",
    "cache/test-make-pairs",
  );
  assert.equal(code, 1);
  assert.match(stderr, /no\/such\/folder/);
});

Deno.test("train --resume rejects a run without checkpoints untouched", async () => {
  const runId = `test-resume-${Date.now()}`;
  const dir = `${ROOT}results/${runId}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    // A run folder with a config but no checkpoint, as a run killed early leaves.
    const resolved = await new Deno.Command("deno", {
      args: [
        "eval",
        `import { loadConfig, configToYaml } from "${ROOT}src/config/load.ts";
        const r = await loadConfig("${ROOT}configs/smoke.yaml");
        await Deno.writeTextFile("${dir}/config.yaml", configToYaml(r.config));
        await Deno.writeTextFile("${dir}/provenance.json", JSON.stringify({ run_id: "${runId}", profile: "smoke", stages: {} }));`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(resolved.code, 0, new TextDecoder().decode(resolved.stderr));
    const before = await Deno.readTextFile(`${dir}/provenance.json`);
    const { code, stderr } = await task("train", "--resume", "--run-id", runId);
    assert.equal(code, 1);
    assert.match(stderr, /Cannot resume run .*: no checkpoint in/);
    assert.equal(await Deno.readTextFile(`${dir}/provenance.json`), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --resume rejects a run id with a path", async () => {
  const { code, stderr } = await task("train", "--resume", "--run-id", "../x");
  assert.equal(code, 1);
  assert.match(stderr, /Invalid run id "\.\.\/x"/);
});

Deno.test("evaluate --embeddings prints the file's metrics", async () => {
  // The task may read only the repository, so the file goes under cache/.
  const path = `cache/test-embeddings-${Date.now()}.safetensors`;
  await writeEmbeddingsDump(`${ROOT}${path}`, {
    ...goldenEmbeddings(),
    flip: true,
  });
  try {
    const { code, stdout, stderr } = await task(
      "evaluate",
      "--embeddings",
      path,
    );
    assert.equal(code, 0, stderr);
    const metrics = JSON.parse(stdout);
    assert.equal(metrics.pairs, 6000);
    assert.equal(metrics.accuracy_mean, 0.8481666666666667);
    assert.equal(metrics.flip, true);
    assert.match(stderr, /mean {3}84\.82% ± 1\.41%/);
    assert.match(stderr, /VAL 19\.03% at FAR 1e-3 {2}AUC 0\.9258/);
  } finally {
    await Deno.remove(`${ROOT}${path}`);
  }
});

Deno.test("evaluate --embeddings rejects --model", async () => {
  const { code, stderr } = await task(
    "evaluate",
    "--embeddings",
    "cache/x.safetensors",
    "--model",
    "model.safetensors",
  );
  assert.equal(code, 1);
  assert.match(
    stderr,
    /--embeddings recomputes metrics from a file and takes no --model/,
  );
});

Deno.test("evaluate --dump-embeddings needs --model", async () => {
  const { code, stderr } = await task(
    "evaluate",
    "--dump-embeddings",
    "results/x.safetensors",
  );
  assert.equal(code, 1);
  assert.match(
    stderr,
    /--dump-embeddings writes the embeddings of a model: pass --model PATH/,
  );
});

Deno.test("evaluate --dump-embeddings rejects a path outside results", async () => {
  const { code, stderr } = await task(
    "evaluate",
    "--model",
    "x.safetensors",
    "--dump-embeddings",
    "/tmp/x.safetensors",
  );
  assert.equal(code, 1);
  assert.match(
    stderr,
    /Invalid --dump-embeddings "\/tmp\/x\.safetensors": the evaluate task may write only under results\/ and cache\//,
  );
});
