/**
 * The task entry points as a user runs them: `deno task NAME` with the
 * permissions pinned in deno.json.
 */
import assert from "node:assert/strict";

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
