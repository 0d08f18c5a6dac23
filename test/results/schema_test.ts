import assert from "node:assert/strict";
import { exists } from "../../src/fs.ts";
import { assertSchema, schemaErrors } from "../../src/results/schema.ts";

const RESULTS = new URL("../../results/", import.meta.url).pathname;

/** Returns a complete metrics.json in the current form, pixel baseline included. */
function metrics(): Record<string, unknown> {
  const entry = {
    pairs: 600,
    folds: 2,
    accuracy_mean: 0.75,
    accuracy_std: 0.05,
    "val_at_far_1e-3": 0.2,
    auc: 0.8,
    eer: 0.25,
    threshold_mean: 1.2,
    flip: true,
    fold_accuracies: [0.7, 0.8],
  };
  return {
    schema_version: 1,
    run_id: "20260101T000000Z-smoke-0123abcd",
    profile: "smoke",
    eval: { synthetic: structuredClone(entry) },
    reference: {
      synthetic: { model: "pretrained", accuracy_mean: 0.9 },
    },
    pixel_baseline: {
      synthetic: { model: "pixels", ...structuredClone(entry) },
    },
  };
}

Deno.test("schemas accept the committed run folders", async () => {
  for await (const entry of Deno.readDir(RESULTS)) {
    const dir = `${RESULTS}${entry.name}`;
    if (!entry.isDirectory || !(await exists(`${dir}/metrics.json`))) continue;
    const metricsJson = JSON.parse(
      await Deno.readTextFile(`${dir}/metrics.json`),
    );
    const provenanceJson = JSON.parse(
      await Deno.readTextFile(`${dir}/provenance.json`),
    );
    assert.deepEqual(schemaErrors("metrics", metricsJson), [], entry.name);
    assert.deepEqual(
      schemaErrors("provenance", provenanceJson),
      [],
      entry.name,
    );
  }
});

Deno.test("metrics schema accepts the current form", () => {
  assert.deepEqual(schemaErrors("metrics", metrics()), []);
});

Deno.test("metrics schema accepts VAL at FAR 1e-4", () => {
  const document = metrics() as { eval: Record<string, object> };
  Object.assign(document.eval.synthetic, { "val_at_far_1e-4": 0.1 });
  assert.deepEqual(schemaErrors("metrics", document), []);
});

Deno.test("metrics schema names an accuracy above one", () => {
  const document = metrics() as {
    eval: Record<string, { accuracy_mean: number }>;
  };
  document.eval.synthetic.accuracy_mean = 75;
  assert.deepEqual(schemaErrors("metrics", document), [
    "/eval/synthetic/accuracy_mean: must be <= 1",
  ]);
});

Deno.test("metrics schema names an unknown key", () => {
  const document = metrics() as { train_steps?: number };
  document.train_steps = 3;
  assert.deepEqual(schemaErrors("metrics", document), [
    '(root): must NOT have additional properties ("train_steps")',
  ]);
});

Deno.test("metrics schema rejects a model in pixel_baseline", () => {
  const document = metrics() as {
    pixel_baseline: Record<string, { model: string }>;
  };
  document.pixel_baseline.synthetic.model = "pretrained";
  assert.deepEqual(schemaErrors("metrics", document), [
    '/pixel_baseline/synthetic/model: must be equal to constant ("pixels")',
  ]);
});

Deno.test("metrics schema rejects a missing required field", () => {
  const document = metrics() as { eval: Record<string, { auc?: number }> };
  delete document.eval.synthetic.auc;
  assert.deepEqual(schemaErrors("metrics", document), [
    "/eval/synthetic: must have required property 'auc'",
  ]);
});

Deno.test("provenance schema names a malformed hash", () => {
  const document = {
    schema_version: 1,
    run_id: "r",
    profile: "smoke",
    git: { commit: null, dirty: null },
    deno_lock_sha256: null,
    config_sha256: "abc",
    seeds: { run: 1 },
    runtime: { deno: "2", v8: "1", typescript: "5", tfjs: "4.22.0" },
    machine: {
      platform: "linux",
      arch: "x64",
      cpu: "cpu",
      cores: 2,
      memory_bytes: 1,
    },
    command: [],
    stages: {
      train: {
        started: "2026-01-01T00:00:00.000Z",
        artifacts: { model: { path: "artifacts/model.safetensors" } },
      },
    },
  };
  assert.deepEqual(schemaErrors("provenance", document), [
    '/config_sha256: must match pattern "^[0-9a-f]{64}$"',
    "/stages/train/artifacts/model: must have required property 'sha256'",
  ]);
});

Deno.test("assertSchema names the file and the field", () => {
  const document = metrics() as { profile: string };
  document.profile = "";
  assert.throws(
    () => assertSchema("metrics", document, "results/r/metrics.json"),
    (error: Error) =>
      error instanceof TypeError &&
      error.message ===
        'Cannot write metrics "results/r/metrics.json": it does not match schemas/metrics.schema.json: /profile: must NOT have fewer than 1 characters',
  );
});
