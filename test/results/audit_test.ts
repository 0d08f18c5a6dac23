import {
  evaluateEmbeddingsDump,
  readEmbeddingsDump,
} from "../../src/eval/embeddings_dump.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { EvalMetrics } from "../../src/eval/verify.ts";
import { sha256File } from "../../src/hash.ts";
import { reproduce } from "../../src/pipeline/reproduce.ts";
import { silentReporter } from "../../src/report.ts";
import {
  type AuditCheck,
  auditFailed,
  auditRun,
  renderAudit,
} from "../../src/results/audit.ts";
import { tinySmokeSettings } from "../_tiny_smoke.ts";

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

/** A finished two-step run, made once and copied by each test. */
let fresh: Promise<{ root: string; runDir: string }> | undefined;

function freshRun() {
  fresh ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "audit-" });
    globalThis.addEventListener(
      "unload",
      () => Deno.removeSync(root, { recursive: true }),
    );
    const resolved = await loadConfig(join(CONFIGS, "smoke.yaml"), [
      ...tinySmokeSettings(join(root, "cache")),
      "train.steps=2",
      "train.lr_milestones=[]",
      "train.warmup_steps=0",
      "train.log_every=1",
      "eval.folds=2",
    ]);
    const context = await reproduce({
      resolved,
      resultsDir: join(root, "results"),
      runId: "fresh",
      reporter: silentReporter,
      command: ["test"],
    });
    return { root, runDir: context.runDir };
  })();
  return fresh;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory) await copyDir(source, target);
    else await Deno.copyFile(source, target);
  }
}

/** Copies the fresh run to a new folder that the test may change. */
async function copyOfRun(): Promise<string> {
  const { root, runDir } = await freshRun();
  const copy = await Deno.makeTempDir({ dir: root, prefix: "copy-" });
  await copyDir(runDir, copy);
  return copy;
}

function byName(checks: AuditCheck[], name: string): AuditCheck {
  const check = checks.find((c) => c.check === name);
  assert.ok(check, `no check "${name}" in:\n${renderAudit("run", checks)}`);
  return check;
}

function failures(checks: AuditCheck[]): string[] {
  return checks.filter((c) => c.status === "fail").map((c) => c.check);
}

// deno-lint-ignore no-explicit-any -- the edits reach into parsed JSON.
async function editJson(path: string, edit: (value: any) => void) {
  const value = JSON.parse(await Deno.readTextFile(path));
  edit(value);
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
}

Deno.test("auditRun passes a fresh run", async () => {
  const runDir = await copyOfRun();
  const checks = await auditRun(runDir, {
    evaluateEmbeddings: async (path, protocol) =>
      evaluateEmbeddingsDump(await readEmbeddingsDump(path), protocol).metrics,
  });
  assert.deepEqual(
    checks.filter((c) => c.status !== "pass"),
    [],
    renderAudit(runDir, checks),
  );
  // The pretrained reference is checked too where its weights are fetched.
  const names = checks.map((c) => c.check).filter((name) =>
    !name.startsWith("reference.")
  );
  assert.deepEqual(names, [
    "provenance.json matches schemas/provenance.schema.json",
    "metrics.json matches schemas/metrics.schema.json",
    "config.yaml hash",
    "metrics.json hash",
    "artefact dataset.manifest",
    "artefact train.model",
    "artefact train.checkpoint_00000002",
    "artefact train.train_log",
    "artefact train.loss_plot",
    "artefact evaluate.embeddings_synthetic",
    "artefact evaluate.roc_plot_synthetic",
    "metrics.json agrees with provenance.json",
    "model counts from config.yaml",
    "training settings from config.yaml",
    "eval.synthetic from its fold accuracies",
    "pixel_baseline.synthetic from its fold accuracies",
    "eval.synthetic recomputed from embeddings",
  ]);
  assert.equal(auditFailed(checks, { requireArtifacts: true }), false);
});

Deno.test("auditRun fails on one changed checkpoint byte", async () => {
  const runDir = await copyOfRun();
  const path = join(runDir, "artifacts/checkpoints/step_00000002.safetensors");
  const recorded = await sha256File(path);
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(path, bytes);

  const checks = await auditRun(runDir);
  assert.deepEqual(failures(checks), ["artefact train.checkpoint_00000002"]);
  assert.equal(
    byName(checks, "artefact train.checkpoint_00000002").detail,
    `${path}: sha256 ${await sha256File(
      path,
    )}, provenance.json records ${recorded}`,
  );
  assert.equal(auditFailed(checks), true);
});

Deno.test("auditRun fails on an edited config", async () => {
  const runDir = await copyOfRun();
  const path = join(runDir, "config.yaml");
  const text = await Deno.readTextFile(path);
  assert.ok(text.includes("\n  steps: 2\n"), text);
  await Deno.writeTextFile(
    path,
    text.replace("\n  steps: 2\n", "\n  steps: 3\n"),
  );

  const checks = await auditRun(runDir);
  assert.deepEqual(failures(checks), [
    "config.yaml hash",
    "training settings from config.yaml",
  ]);
  assert.match(
    byName(checks, "config.yaml hash").detail,
    /^config\.yaml hashes to [0-9a-f]{64}, provenance\.json records [0-9a-f]{64}: the config was edited after the run$/,
  );
  assert.equal(
    byName(checks, "training settings from config.yaml").detail,
    "steps: metrics.json has 2, expected 3",
  );
});

Deno.test("auditRun fails on a metric edited by hand", async () => {
  const runDir = await copyOfRun();
  const path = join(runDir, "metrics.json");
  let recorded = 0;
  await editJson(path, (metrics) => {
    recorded = metrics.eval.synthetic.accuracy_mean;
    metrics.eval.synthetic.accuracy_mean = 0.99;
  });

  const checks = await auditRun(runDir);
  assert.deepEqual(failures(checks), [
    "metrics.json hash",
    "eval.synthetic from its fold accuracies",
  ]);
  assert.match(
    byName(checks, "metrics.json hash").detail,
    /metrics\.json: sha256 [0-9a-f]{64}, provenance\.json records [0-9a-f]{64}$/,
  );
  assert.equal(
    byName(checks, "eval.synthetic from its fold accuracies").detail,
    `accuracy_mean: metrics.json has 0.99, expected ${
      JSON.stringify(recorded)
    }`,
  );
});

Deno.test("auditRun reports a missing artefact as absent", async () => {
  const runDir = await copyOfRun();
  await Deno.remove(join(runDir, "artifacts/model.safetensors"));

  const checks = await auditRun(runDir);
  const model = byName(checks, "artefact train.model");
  assert.equal(model.status, "absent");
  assert.match(model.detail, /"artifacts\/model\.safetensors" not found at/);
  assert.equal(auditFailed(checks), false);
  assert.equal(auditFailed(checks, { requireArtifacts: true }), true);
});

Deno.test("auditRun names a schema violation", async () => {
  const runDir = await copyOfRun();
  await editJson(join(runDir, "provenance.json"), (provenance) => {
    delete provenance.git;
  });

  const checks = await auditRun(runDir);
  assert.equal(
    byName(checks, "provenance.json matches schemas/provenance.schema.json")
      .detail,
    "(root): must have required property 'git'",
  );
  // Checks that need a valid provenance.json do not run, and the config hash
  // is still compared with the recorded one.
  assert.equal(checks.some((c) => c.check.startsWith("artefact ")), false);
  assert.equal(byName(checks, "config.yaml hash").status, "pass");
  assert.equal(auditFailed(checks), true);
});

/** Returns the synthetic set's pair embeddings, which every run stores. */
async function withEmbeddings(runDir: string): Promise<string> {
  const path = join(runDir, "artifacts/embeddings/synthetic.safetensors");
  const provenance = JSON.parse(
    await Deno.readTextFile(join(runDir, "provenance.json")),
  );
  assert.equal(
    provenance.stages.evaluate.artifacts.embeddings_synthetic.sha256,
    await sha256File(path),
  );
  return path;
}

async function recordedSynthetic(runDir: string): Promise<EvalMetrics> {
  const metrics = JSON.parse(
    await Deno.readTextFile(join(runDir, "metrics.json")),
  );
  return metrics.eval.synthetic;
}

Deno.test("auditRun passes matching recomputed embeddings", async () => {
  const runDir = await copyOfRun();
  const dump = await withEmbeddings(runDir);
  const recorded = await recordedSynthetic(runDir);
  const calls: [string, unknown][] = [];

  const checks = await auditRun(runDir, {
    evaluateEmbeddings: (path, protocol) => {
      calls.push([path, protocol]);
      return Promise.resolve(structuredClone(recorded));
    },
  });
  const check = byName(checks, "eval.synthetic recomputed from embeddings");
  assert.equal(check.status, "pass", check.detail);
  assert.deepEqual(calls, [[dump, {
    folds: 2,
    thresholdMax: 4,
    thresholdStep: 0.01,
    farTarget: 0.001,
  }]]);
});

Deno.test("auditRun names a recomputed mismatch", async () => {
  const runDir = await copyOfRun();
  await withEmbeddings(runDir);
  const recorded = await recordedSynthetic(runDir);
  const recomputed = { ...recorded, auc: recorded.auc - 0.01 };

  const checks = await auditRun(runDir, {
    evaluateEmbeddings: () => Promise.resolve(recomputed),
  });
  const check = byName(checks, "eval.synthetic recomputed from embeddings");
  assert.equal(check.status, "fail");
  assert.equal(
    check.detail,
    `auc: metrics.json has ${JSON.stringify(recorded.auc)}, expected ${
      JSON.stringify(recomputed.auc)
    }`,
  );
});

Deno.test("auditRun skips embeddings without a reader", async () => {
  const runDir = await copyOfRun();
  await withEmbeddings(runDir);
  const checks = await auditRun(runDir);
  assert.equal(
    byName(checks, "eval.synthetic recomputed from embeddings").status,
    "skipped",
  );
  assert.equal(
    byName(checks, "artefact evaluate.embeddings_synthetic").status,
    "pass",
  );
});
