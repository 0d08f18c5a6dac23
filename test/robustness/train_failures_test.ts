/**
 * Training under failure, in process on the cpu backend: a non-finite loss,
 * an interruption through the abort signal, and a disk that fills up while
 * a checkpoint is written. Each must keep the last complete checkpoint.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { InputError } from "../../src/errors.ts";
import { createReporter, silentReporter } from "../../src/report.ts";
import { silentWriter } from "../../src/progress.ts";
import { Rng } from "../../src/rng.ts";
import type { TrainingSet } from "../../src/train/batches.ts";
import {
  NonFiniteLossError,
  train,
  TrainingInterruptedError,
} from "../../src/train/train.ts";

await tf.setBackend("cpu");

const CONFIGS = new URL("../../configs/", import.meta.url).pathname;

/** Returns 48 random 16x16 images in 6 classes. */
function tinySet(): TrainingSet {
  const rng = new Rng([3, 1, 4, 1]);
  const images = new Uint8Array(48 * 16 * 16 * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = Int32Array.from({ length: 48 }, (_, i) => i % 6);
  return { images, labels, count: 48, size: 16, numClasses: 6 };
}

async function tinyConfig(steps: number, extra: string[] = []) {
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
    ...extra,
  ]);
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function withTempDir(body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "robustness_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("train keeps the last good checkpoint on a NaN loss", async () => {
  await withTempDir(async (dir) => {
    // A rate of 1e30 sends the weights to infinity in the first update.
    const resolved = await tinyConfig(6, [
      "train.learning_rate=1e30",
      "train.checkpoint_every=1",
    ]);
    await assert.rejects(
      train({
        config: resolved.config,
        configSha256: resolved.sha256,
        configYaml: "",
        data: tinySet(),
        artifactsDir: dir,
        reporter: silentReporter,
      }),
      (error: Error) => {
        assert.ok(error instanceof NonFiniteLossError);
        assert.equal(
          error.message,
          "Training stopped: loss is NaN at step 2, micro-batch 0, learning rate 1e+30: lower train.learning_rate or loss.scale, or raise train.warmup_steps",
        );
        return true;
      },
    );
    assert.deepEqual(await listNames(join(dir, "checkpoints")), [
      "step_00000001.safetensors",
    ]);
  });
});

Deno.test("train stops after the step in progress when aborted", async () => {
  await withTempDir(async (dir) => {
    const resolved = await tinyConfig(8);
    const options = {
      config: resolved.config,
      configSha256: resolved.sha256,
      configYaml: "",
      data: tinySet(),
    };
    await train({
      ...options,
      artifactsDir: join(dir, "straight"),
      reporter: silentReporter,
    });

    // Abort while step 3 is logged: step 3 is saved though 3 is not a
    // multiple of checkpoint_every.
    const interrupt = new AbortController();
    const reporter = createReporter({
      writer: silentWriter,
      onRecord: (record) => {
        if (record.step === 3) interrupt.abort();
      },
    });
    const artifactsDir = join(dir, "interrupted");
    const before = tf.memory().numTensors;
    await assert.rejects(
      train({ ...options, artifactsDir, reporter, signal: interrupt.signal }),
      (error: Error) => {
        assert.ok(error instanceof TrainingInterruptedError);
        assert.equal(error.step, 3);
        assert.equal(
          error.message,
          `Training interrupted after step 3 of 8: checkpoint "${
            join(artifactsDir, "checkpoints/step_00000003.safetensors")
          }" written`,
        );
        return true;
      },
    );
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    assert.deepEqual(await listNames(join(artifactsDir, "checkpoints")), [
      "step_00000002.safetensors",
      "step_00000003.safetensors",
    ]);

    await train({
      ...options,
      artifactsDir,
      reporter: silentReporter,
      resume: true,
    });
    assert.deepEqual(
      await Deno.readFile(join(artifactsDir, "model.safetensors")),
      await Deno.readFile(join(dir, "straight/model.safetensors")),
    );
  });
});

/** The message Deno gives for ENOSPC. */
const DISK_FULL = "No space left on device (os error 28)";

/**
 * Runs `body` with Deno.writeFile failing as on a full disk for every path
 * that contains `failing`, after writing half the bytes, as a disk that
 * fills up mid-write leaves them. (Writing to /dev/full would give the real
 * error but needs --allow-all.)
 */
async function withFullDisk(
  failing: string,
  body: () => Promise<void>,
): Promise<void> {
  const realWriteFile = Deno.writeFile;
  Deno.writeFile = async (path, data, options) => {
    if (!String(path).includes(failing)) {
      return await realWriteFile(path, data, options);
    }
    const bytes = data as Uint8Array;
    await realWriteFile(path, bytes.subarray(0, bytes.length >> 1), options);
    throw new Error(DISK_FULL);
  };
  try {
    await body();
  } finally {
    Deno.writeFile = realWriteFile;
  }
}

Deno.test("train on a full disk keeps the last checkpoint", async () => {
  await withTempDir(async (dir) => {
    const resolved = await tinyConfig(6);
    const options = {
      config: resolved.config,
      configSha256: resolved.sha256,
      configYaml: "",
      data: tinySet(),
      reporter: silentReporter,
    };
    await train({ ...options, artifactsDir: join(dir, "straight") });

    const artifactsDir = join(dir, "full");
    const checkpoints = join(artifactsDir, "checkpoints");
    await withFullDisk("step_00000004", async () => {
      await assert.rejects(
        train({ ...options, artifactsDir }),
        (error: Error) => {
          assert.ok(error instanceof InputError);
          assert.equal(
            error.message,
            `Cannot write file "${
              join(checkpoints, "step_00000004.safetensors")
            }": ${DISK_FULL}`,
          );
          return true;
        },
      );
    });
    // Step 2 is whole and no temporary file is left beside it.
    assert.deepEqual(await listNames(checkpoints), [
      "step_00000002.safetensors",
    ]);
    assert.deepEqual(
      await Deno.readFile(join(checkpoints, "step_00000002.safetensors")),
      await Deno.readFile(
        join(dir, "straight/checkpoints/step_00000002.safetensors"),
      ),
    );

    // With space again, the run resumes from step 2 to the same weights.
    await train({ ...options, artifactsDir, resume: true });
    assert.deepEqual(
      await Deno.readFile(join(artifactsDir, "model.safetensors")),
      await Deno.readFile(join(dir, "straight/model.safetensors")),
    );
  });
});
