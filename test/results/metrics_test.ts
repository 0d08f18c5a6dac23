import assert from "node:assert/strict";
import { findInvalidNumber, writeMetrics } from "../../src/results/metrics.ts";

Deno.test("findInvalidNumber names a NaN field", () => {
  assert.equal(
    findInvalidNumber({ eval: { lfw: { accuracy_mean: NaN } } }),
    "eval.lfw.accuracy_mean",
  );
});

Deno.test("findInvalidNumber accepts finite values", () => {
  assert.equal(findInvalidNumber({ a: [1, 2, { b: 0.5 }], c: "text" }), null);
});

Deno.test("writeMetrics refuses a placeholder value", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      writeMetrics(`${dir}/metrics.json`, {
        schema_version: 1,
        run_id: "r",
        profile: "smoke",
        train: undefined as never,
      }),
      (error: Error) =>
        error instanceof RangeError && error.message.includes('field "train"'),
    );
    await assert.rejects(
      Deno.stat(`${dir}/metrics.json`),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
