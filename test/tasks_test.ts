/**
 * The task entry points as a user runs them: `deno task NAME` with the
 * permissions pinned in deno.json.
 */
import assert from "node:assert/strict";
import { writeEmbeddingsDump } from "../src/eval/embeddings_dump.ts";
import { goldenEmbeddings } from "./eval/_golden_embeddings.ts";
import bibtexParse from "@orcid/bibtex-parse-js";
import { tinySmokeSettings } from "./_tiny_smoke.ts";

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

Deno.test("cite prints BibTeX that parses", async () => {
  const { code, stdout } = await task("cite");
  assert.equal(code, 0);
  const entries: {
    citationKey: string;
    entryType: string;
    entryTags: Record<string, string>;
  }[] = bibtexParse.toJSON(stdout);
  assert.deepEqual(entries.map((e) => e.citationKey), [
    "mobilefacenet_reproduced",
    "chen2018mobilefacenets",
  ]);
  const paper = entries[1].entryTags;
  assert.equal(entries[1].entryType, "inproceedings");
  assert.equal(
    paper.author,
    "Chen, Sheng and Liu, Yang and Gao, Xiang and Han, Zhen",
  );
  assert.equal(paper.year, "2018");
  assert.equal(paper.eprint, "1804.07573");
  assert.equal(entries[0].entryType, "software");
  assert.equal(
    entries[0].entryTags.title,
    "{MobileFaceNet, reproduced end to end}",
  );
});

Deno.test("compare prints the paper's row first", async () => {
  const { code, stdout } = await task("compare");
  assert.equal(code, 0);
  const lines = stdout.split("\n");
  assert.match(lines[0], /^\| run \| profile \| commit \| backend \|/);
  assert.match(lines[2], /^\| paper \(arXiv:1804\.07573\) \|/);
  assert.match(
    stdout,
    /\| 20261204T175949Z-smoke-dc69c093 \| smoke \| 2b1cfd56 \|/,
  );
});

Deno.test("compare --format json lists the runs", async () => {
  const { code, stdout } = await task("compare", "--format", "json");
  assert.equal(code, 0);
  const comparison = JSON.parse(stdout);
  assert.equal(comparison.rows[0].run_id, "paper (arXiv:1804.07573)");
  assert.ok(
    comparison.rows.some((row: { run_id: string }) =>
      row.run_id === "20261204T181107Z-att-3dba9f76"
    ),
  );
});

Deno.test("compare rejects an unknown format", async () => {
  const { code, stderr } = await task("compare", "--format", "csv");
  assert.equal(code, 1);
  assert.match(stderr, /Invalid --format "csv": use markdown or json/);
});

Deno.test("audit passes a committed run", async () => {
  const { code, stdout } = await task(
    "audit",
    "results/20261204T175949Z-smoke-dc69c093",
  );
  assert.equal(code, 0, stdout);
  assert.match(stdout, /\| config\.yaml hash \| pass \|/);
  // The model is git-ignored: absent on a fresh clone, present where the run
  // was made.
  assert.match(stdout, /\| artefact train\.model \| (absent|pass) \|/);
});

Deno.test("audit fails on a hand-edited metric", async () => {
  const runId = `test-audit-${Date.now()}`;
  const dir = `${ROOT}results/${runId}`;
  const source = `${ROOT}results/20261204T175949Z-smoke-dc69c093`;
  await Deno.mkdir(dir);
  try {
    for (const name of ["config.yaml", "provenance.json", "metrics.json"]) {
      await Deno.copyFile(`${source}/${name}`, `${dir}/${name}`);
    }
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
    metrics.eval.synthetic.accuracy_std = 0.01;
    await Deno.writeTextFile(`${dir}/metrics.json`, JSON.stringify(metrics));

    const { code, stdout } = await task("audit", `results/${runId}`);
    assert.equal(code, 1);
    assert.match(
      stdout,
      /\| eval\.synthetic from its fold accuracies \| fail \| accuracy_std: metrics\.json has 0\.01, expected 0\.132382022948737\d* \|/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reproduce --from rejects --profile", async () => {
  const { code, stderr } = await task(
    "reproduce",
    "--from",
    "results/20261204T175949Z-smoke-dc69c093",
    "--profile",
    "smoke",
  );
  assert.equal(code, 1);
  assert.match(stderr, /--from reruns the saved config\.yaml of a run/);
});

Deno.test("reproduce --from reruns to identical metrics", async () => {
  const name = `test-from-${Date.now()}`;
  const resultsDir = `results/${name}`;
  const settings = [
    ...tinySmokeSettings(`cache/${name}`),
    "train.steps=2",
    "train.lr_milestones=[]",
    "train.warmup_steps=0",
    "eval.folds=2",
  ].flatMap((setting) => ["--set", setting]);
  try {
    const first = await task(
      "reproduce",
      "--profile",
      "smoke",
      ...settings,
      "--results-dir",
      resultsDir,
      "--run-id",
      "first",
    );
    assert.equal(first.code, 0, first.stderr);

    const rerun = await task(
      "reproduce",
      "--from",
      `${resultsDir}/first`,
      "--results-dir",
      resultsDir,
      "--run-id",
      "rerun",
    );
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /\| paper \(arXiv:1804\.07573\) \|/);
    assert.match(
      rerun.stdout,
      /\| rerun \| - \| - \| - \| - \| 0\.00 \| 0\.00 \| 0 \| 0 \| 0 \| /,
    );
    assert.match(
      rerun.stdout,
      /- `rerun`: metrics\.json is identical apart from run_id and train\.images_per_second/,
    );
    const provenance = JSON.parse(
      await Deno.readTextFile(`${ROOT}${resultsDir}/rerun/provenance.json`),
    );
    assert.deepEqual(provenance.command.slice(0, 3), [
      "reproduce",
      "--from",
      `${resultsDir}/first`,
    ]);
  } finally {
    await Deno.remove(`${ROOT}${resultsDir}`, { recursive: true }).catch(
      () => {},
    );
    await Deno.remove(`${ROOT}cache/${name}`, { recursive: true }).catch(
      () => {},
    );
  }
});
