/**
 * One training step of a small MobileFaceNet with the sharded ArcFace head
 * on every backend this machine has, compared with the cpu backend.
 *
 * Tolerance, also stated in paper-repro.md: for the loss and for every
 * gradient and updated weight, the largest absolute difference from the cpu
 * result is at most 1e-3 of that tensor's largest magnitude. On top of that
 * comes 1e-6 of the largest magnitude of its kind (all gradients, or all
 * weights). The floor covers gradients that are zero up to rounding, such as
 * the batch-norm offsets of a unit whose output the next batch norm
 * re-centres. The backends sum in different orders, so results differ in
 * the last bits.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createClassifierShards } from "../../src/loss/classifier.ts";
import { MobileFaceNet } from "../../src/model/mobilefacenet.ts";
import { probeGpuAdapter, selectBackend } from "../../src/runtime/backend.ts";
import { SgdMomentum } from "../../src/train/optimizer.ts";
import {
  microBatchGradients,
  trainableWeights,
} from "../../src/train/train.ts";
import { Rng } from "../../src/rng.ts";

const RELATIVE_TOLERANCE = 1e-3;
const FLOOR_TOLERANCE = 1e-6;

/** Seeded standard normal values (without the IS_TEST set-up of the kernel tests). */
function randomValues(size: number, seed: number): Float32Array {
  const rng = new Rng([seed, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35]);
  return Float32Array.from({ length: size }, () => rng.normal());
}
const MODEL = {
  name: "mobilefacenet" as const,
  input_size: 32,
  width_multiplier: 0.25,
  embedding_size: 16,
  batch_norm_momentum: 0.9,
  batch_norm_epsilon: 1e-5,
};
const BATCH = 6;
const CLASSES = 5;

/** Runs one training step and returns its loss, gradients and updated weights by name. */
async function trainingStep(
  backend: "cpu" | "wasm" | "webgpu",
): Promise<Map<string, Float32Array>> {
  await selectBackend({ backend, threads: 0 }, "train");
  const model = await MobileFaceNet.create(MODEL, 7);
  const shards = await createClassifierShards(
    CLASSES,
    MODEL.embedding_size,
    2,
    7,
  );
  const weights = trainableWeights(model, shards, {
    weight_decay: 4e-5,
    head_weight_decay: 4e-4,
  });
  const optimizer = new SgdMomentum(weights, 0.9);

  const size = MODEL.input_size;
  const images = tf.tensor4d(
    randomValues(BATCH * size * size * 3, 31),
    [BATCH, size, size, 3],
  );
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 0], "int32");
  const result = microBatchGradients(
    model,
    shards.map((s) => s.variable as tf.Tensor as tf.Tensor2D),
    weights.map((w) => w.variable),
    { images, labels },
    { scale: 32, margin: 0.3, easyMargin: false },
  );

  const values = new Map<string, Float32Array>();
  values.set("loss", await result.value.data() as Float32Array);
  for (const w of weights) {
    const grad = result.grads[w.variable.name];
    values.set(`grad ${w.name}`, await grad.data() as Float32Array);
  }

  optimizer.accumulate(result.grads);
  model.updateMovingStatistics(result.moments);
  optimizer.step(0.1);
  for (const w of weights) {
    values.set(`weight ${w.name}`, await w.variable.data() as Float32Array);
  }

  tf.dispose([
    images,
    labels,
    result.value,
    result.accuracy,
    ...Object.values(result.grads),
  ]);
  optimizer.dispose();
  for (const s of shards) s.variable.dispose();
  model.dispose();
  return values;
}

function largest(values: Float32Array): number {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  return max;
}

function assertAgrees(
  actual: Map<string, Float32Array>,
  expected: Map<string, Float32Array>,
  backend: string,
): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  // The floor of each kind: its largest magnitude over the whole model.
  const kindScale = new Map<string, number>();
  for (const [name, want] of expected) {
    const kind = name.split(" ")[0];
    kindScale.set(kind, Math.max(kindScale.get(kind) ?? 0, largest(want)));
  }
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
    }
    const allowed = RELATIVE_TOLERANCE * largest(want) +
      FLOOR_TOLERANCE * kindScale.get(name.split(" ")[0])!;
    assert.ok(
      worst <= allowed,
      `${backend}: ${name} differs from cpu by ${worst}, more than the ${allowed} allowed`,
    );
  }
}

Deno.test({
  name: "one training step agrees with the cpu backend on wasm and WebGPU",
  // The threads of the threaded wasm build and WebGPU's device live on.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const onCpu = await trainingStep("cpu");
    // The gradients are not all zero, so the comparison can fail.
    assert.ok([...onCpu.get("grad conv1/weight")!].some((v) => v !== 0));

    assertAgrees(await trainingStep("wasm"), onCpu, "wasm");

    const adapter = await probeGpuAdapter();
    if (adapter === null) {
      console.log("skipped WebGPU: no adapter (install mesa-vulkan-drivers)");
      return;
    }
    await t.step(`webgpu on "${adapter.description}"`, async () => {
      assertAgrees(await trainingStep("webgpu"), onCpu, "webgpu");
    });
  },
});
