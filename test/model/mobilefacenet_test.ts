import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../../src/config/types.ts";
import { MobileFaceNet } from "../../src/model/mobilefacenet.ts";

await tf.setBackend("cpu");

const SMALL: ModelConfig = {
  name: "mobilefacenet",
  input_size: 32,
  width_multiplier: 0.25,
  embedding_size: 16,
  batch_norm_momentum: 0.9,
  batch_norm_epsilon: 1e-5,
};

Deno.test("MobileFaceNet maps [N, S, S, 3] to [N, D]", async () => {
  const model = await MobileFaceNet.create(SMALL, 1);
  const images = tf.randomUniform([2, 32, 32, 3], -1, 1) as tf.Tensor4D;
  const { embeddings, moments } = model.apply(images, false);
  assert.deepEqual(embeddings.shape, [2, 16]);
  assert.equal(moments.length, 0);
  tf.dispose([images, embeddings]);
  model.dispose();
});

Deno.test("MobileFaceNet initialisation depends only on the seed", async () => {
  const a = await MobileFaceNet.create(SMALL, 7);
  const b = await MobileFaceNet.create(SMALL, 7);
  const c = await MobileFaceNet.create(SMALL, 8);
  const first = a.namedVariables()[0].variable.dataSync();
  assert.deepEqual(first, b.namedVariables()[0].variable.dataSync());
  assert.notDeepEqual(first, c.namedVariables()[0].variable.dataSync());
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("MobileFaceNet returns one batch moment per conv in training", async () => {
  const model = await MobileFaceNet.create(SMALL, 1);
  const images = tf.randomUniform([4, 32, 32, 3], -1, 1) as tf.Tensor4D;
  const { embeddings, moments } = model.apply(images, true);
  assert.equal(moments.length, model.units.length);
  assert.equal(moments[0].count, 4 * 16 * 16);
  model.updateMovingStatistics(moments);
  const moving = model.namedVariables().find((v) =>
    v.name === "conv1/bn_moving_mean"
  )!;
  assert.ok(moving.variable.dataSync().some((v) => v !== 0));
  tf.dispose([images, embeddings]);
  model.dispose();
});

Deno.test("MobileFaceNet rejects a wrong input size", async () => {
  const model = await MobileFaceNet.create(SMALL, 1);
  const images = tf.zeros([1, 48, 48, 3]) as tf.Tensor4D;
  assert.throws(
    () => model.apply(images, false),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.includes(
        "expects input [N, 32, 32, 3], got [1, 48, 48, 3]",
      ),
  );
  images.dispose();
  model.dispose();
});

Deno.test("MobileFaceNet 1x1 matmul path equals conv2d", async () => {
  const model = await MobileFaceNet.create(SMALL, 3);
  const unit = model.units.findIndex((u) => u.name === "stage1/block0/expand");
  const weight =
    model.namedVariables().find((v) =>
      v.name === "stage1/block0/expand/weight"
    )!.variable;
  const input = tf.randomNormal([
    2,
    8,
    8,
    model.units[unit].inChannels,
  ]) as tf.Tensor4D;
  const expected = tf.conv2d(input, weight as tf.Tensor4D, 1, "same");
  const { outChannels } = model.units[unit];
  const actual = tf.reshape(
    tf.matMul(
      tf.reshape(input, [128, model.units[unit].inChannels]),
      tf.reshape(weight, [-1, outChannels]),
    ),
    [2, 8, 8, outChannels],
  );
  const difference = tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0];
  assert.ok(difference < 1e-5, `max difference ${difference}`);
  tf.dispose([input, expected, actual]);
  model.dispose();
});

Deno.test("fold() computes what inference with batch norm computes", async () => {
  const model = await MobileFaceNet.create(SMALL, 3);
  // Give batch norm non-trivial statistics and affine parameters.
  let k = 0;
  for (const { name, variable } of model.namedVariables()) {
    if (/bn_(gamma|beta|moving_mean|moving_variance)$/.test(name)) {
      k += 1;
      const base = name.endsWith("variance") || name.endsWith("gamma") ? 1 : 0;
      variable.assign(
        tf.add(tf.randomUniform(variable.shape, -0.3, 0.3, "float32", k), base),
      );
    }
  }
  const folded = await model.fold();
  assert.ok(folded.folded);
  assert.ok(!model.folded);
  const images = tf.randomUniform(
    [3, 32, 32, 3],
    -1,
    1,
    "float32",
    5,
  ) as tf.Tensor4D;
  const expected = model.apply(images, false).embeddings;
  const actual = folded.apply(images, false).embeddings;
  const difference = tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0];
  const scale = tf.max(tf.abs(expected)).dataSync()[0];
  assert.ok(
    difference < 1e-5 * Math.max(1, scale),
    `max difference ${difference}`,
  );
  assert.throws(() => folded.apply(images, true), /folded .* inference only/);
  tf.dispose([images, expected, actual]);
  model.dispose();
  folded.dispose();
});

Deno.test("fromFolded names the unit whose shape does not match", () => {
  assert.throws(
    () =>
      MobileFaceNet.fromFolded(SMALL, [{
        weight: new Float32Array(5),
        bias: new Float32Array(1),
      }]),
    /needs \d+ units, got 1/,
  );
});
