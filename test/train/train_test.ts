import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { silentReporter } from "../../src/report.ts";
import { BatchSampler, type TrainingSet } from "../../src/train/batches.ts";
import { train } from "../../src/train/train.ts";
import { Rng } from "../../src/rng.ts";

await tf.setBackend("cpu");

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

/** Returns a tiny random problem: 48 images of 16x16 in 6 classes. */
function tinySet(): TrainingSet {
  const rng = new Rng([9, 8, 7, 6]);
  const count = 48;
  const size = 16;
  const images = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 6);
  return { images, labels, count, size, numClasses: 6 };
}

async function tinyConfig(steps: number) {
  return await loadConfig(join(CONFIGS, "smoke.yaml"), [
    "model.input_size=16",
    "dataset.image_size=16",
    "model.width_multiplier=0.125",
    "model.embedding_size=8",
    "train.batch_size=8",
    "train.micro_batch_size=4",
    `train.steps=${steps}`,
    "train.lr_milestones=[]",
    "train.warmup_steps=0",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "loss.shards=3",
  ]);
}

Deno.test("BatchSampler repeats its order from a position", async () => {
  const data = tinySet();
  const a = new BatchSampler(data, 5);
  await a.nextIndices(30);
  const position = a.position;
  const next = await a.nextIndices(30);
  const b = new BatchSampler(data, 5, position);
  assert.deepEqual(await b.nextIndices(30), next);
  assert.equal(position.epoch, 0);
  assert.equal(a.position.epoch, 1);
});

Deno.test("BatchSampler scales pixels to [-1, 1]", async () => {
  const data = tinySet();
  const batch = await new BatchSampler(data, 1).next(4, "flip");
  const values = batch.images.dataSync();
  assert.ok(values.every((v) => v >= -1 && v <= 1));
  assert.deepEqual(batch.images.shape, [4, 16, 16, 3]);
  tf.dispose([batch.images, batch.labels]);
});

Deno.test("train resumed from a checkpoint ends with the same weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = tinySet();
    const full = await tinyConfig(4);
    const straight = await train({
      config: full.config,
      configSha256: full.sha256,
      configYaml: "",
      data,
      artifactsDir: join(dir, "straight"),
      reporter: silentReporter,
    });
    // The interrupted run stops after step 2 and then resumes to step 4.
    await train({
      config: (await tinyConfig(2)).config,
      configSha256: full.sha256,
      configYaml: "",
      data,
      artifactsDir: join(dir, "resumed"),
      reporter: silentReporter,
    });
    const resumed = await train({
      config: full.config,
      configSha256: full.sha256,
      configYaml: "",
      data,
      artifactsDir: join(dir, "resumed"),
      reporter: silentReporter,
      resume: true,
    });
    assert.equal(resumed.resumed_from_step, 2);
    const a = await Deno.readFile(straight.model_path);
    const b = await Deno.readFile(resumed.model_path);
    assert.equal(a.length, b.length);
    assert.ok(
      a.every((byte, i) => byte === b[i]),
      "weights differ after resume",
    );
    assert.equal(straight.accumulation_steps, 2);
    assert.equal(straight.arcface_shards, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train frees every tensor it creates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resolved = await tinyConfig(2);
    const before = tf.memory().numTensors;
    await train({
      config: resolved.config,
      configSha256: resolved.sha256,
      configYaml: "",
      data: tinySet(),
      artifactsDir: dir,
      reporter: silentReporter,
    });
    assert.equal(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train refuses to resume a finished run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resolved = await tinyConfig(2);
    const options = {
      config: resolved.config,
      configSha256: resolved.sha256,
      configYaml: "",
      data: tinySet(),
      artifactsDir: dir,
      reporter: silentReporter,
    };
    await train(options);
    await assert.rejects(
      train({ ...options, resume: true }),
      (error: Error) =>
        error.name === "InputError" &&
        error.message.includes("already finished its 2 steps"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train refuses to resume without a checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resolved = await tinyConfig(2);
    await assert.rejects(
      train({
        config: resolved.config,
        configSha256: resolved.sha256,
        configYaml: "",
        data: tinySet(),
        artifactsDir: dir,
        reporter: silentReporter,
        resume: true,
      }),
      (error: Error) =>
        error.message.startsWith("Cannot resume: no checkpoint in"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train stops on a non-finite loss with the step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resolved = await tinyConfig(2);
    const data = tinySet();
    await assert.rejects(
      train({
        config: {
          ...resolved.config,
          train: { ...resolved.config.train, learning_rate: 1e30 },
        },
        configSha256: resolved.sha256,
        configYaml: "",
        data,
        artifactsDir: dir,
        reporter: silentReporter,
      }),
      (error: Error) =>
        error.name === "NonFiniteLossError" &&
        /at step 2, micro-batch 0/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
