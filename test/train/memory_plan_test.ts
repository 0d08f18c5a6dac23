import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { silentReporter } from "../../src/report.ts";
import { Rng } from "../../src/rng.ts";
import {
  deviceBudget,
  estimateMemory,
  planTraining,
} from "../../src/train/memory_plan.ts";
import { train } from "../../src/train/train.ts";

await tf.setBackend("cpu");

const PAPER_MODEL = {
  input_size: 112,
  width_multiplier: 1,
  embedding_size: 128,
};
const GIB = 1024 ** 3;

for (const classes of [26_928, 85_742, 180_855]) {
  Deno.test(`planTraining fits batch 512 with ${classes} classes in a GTX 1080 Ti`, () => {
    const device = deviceBudget("gtx-1080-ti", GIB);
    const plan = planTraining(PAPER_MODEL, { batch: 512, classes, device });
    assert.ok(plan.estimate !== null);
    assert.ok(plan.estimate.peakBytes <= 10 * GIB);
    assert.equal(512 % plan.estimate.microBatch, 0);
    assert.equal(plan.accumulationSteps! * plan.estimate.microBatch, 512);
  });
}

Deno.test("planTraining adds shards when the logits do not fit", () => {
  const model = { input_size: 16, width_multiplier: 0.125, embedding_size: 8 };
  const one = estimateMemory(model, {
    microBatch: 64,
    classes: 1_000_000,
    shards: 1,
  });
  const device = {
    name: "custom",
    budgetBytes: one.peakBytes - 1,
    description: "test",
  };
  const plan = planTraining(model, { batch: 64, classes: 1_000_000, device });
  assert.equal(plan.estimate!.microBatch, 64);
  assert.ok(plan.estimate!.shards > 1);
});

Deno.test("planTraining reports a model that cannot fit", () => {
  const device = { name: "custom", budgetBytes: 1000, description: "test" };
  const plan = planTraining(PAPER_MODEL, { batch: 512, classes: 100, device });
  assert.equal(plan.estimate, null);
});

Deno.test("deviceBudget rejects an unknown device", () => {
  assert.throws(
    () => deviceBudget("tpu", 0),
    (error: Error) =>
      error instanceof RangeError &&
      error.message.includes('Unknown device "tpu"'),
  );
});

Deno.test("estimateMemory is within 20 % of the measured peak", async () => {
  const resolved = await loadConfig(
    join(new URL("../../configs/", import.meta.url).pathname, "smoke.yaml"),
    [
      "model.input_size=32",
      "dataset.image_size=32",
      "model.width_multiplier=0.25",
      "model.embedding_size=16",
      "train.batch_size=16",
      "train.micro_batch_size=8",
      "train.steps=2",
      "train.lr_milestones=[]",
      "train.warmup_steps=0",
      "loss.shards=2",
    ],
  );
  const rng = new Rng([3, 1, 4, 1]);
  const count = 64;
  const images = Uint8Array.from(
    { length: count * 32 * 32 * 3 },
    () => rng.int(256),
  );
  const labels = Int32Array.from({ length: count }, (_, i) => i % 40);
  const dir = await Deno.makeTempDir();
  try {
    const summary = await train({
      config: resolved.config,
      configSha256: resolved.sha256,
      configYaml: "",
      data: { images, labels, count, size: 32, numClasses: 40 },
      artifactsDir: dir,
      reporter: silentReporter,
    });
    const { planned, measured } = summary.peak_memory_bytes;
    const error = Math.abs(planned - measured) / measured;
    console.log(
      `planned ${planned} bytes, measured ${measured} bytes (${
        (100 * error).toFixed(1)
      } % apart)`,
    );
    assert.ok(error < 0.2, `planned ${planned}, measured ${measured}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
