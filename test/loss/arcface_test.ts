import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { arcFaceLoss, marginCosine } from "../../src/loss/arcface.ts";
import { Rng } from "../../src/rng.ts";

await tf.setBackend("cpu");

const OPTIONS = { scale: 64, margin: 0.5, easyMargin: false };

function randomMatrix(rng: Rng, rows: number, cols: number): tf.Tensor2D {
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor2d(values, [rows, cols]);
}

/** Computes the unsharded loss, for TF.js autograd to give the reference gradient. */
function referenceLoss(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  labels: tf.Tensor1D,
  options = OPTIONS,
): tf.Scalar {
  const unitX = tf.div(x, tf.norm(x, 2, 1, true));
  const unitW = tf.div(w, tf.norm(w, 2, 0, true));
  const cosines = tf.matMul(unitX, unitW);
  const onehot = tf.oneHot(tf.cast(labels, "int32"), w.shape[1]);
  // The margin of the target column, written out so that autograd gives the
  // reference gradient. The branch masks come from plain values, because
  // TF.js has no gradient for comparisons.
  const values = cosines.dataSync();
  const onMainBranch = tf.tensor(
    Array.from(values, (c) => c > Math.cos(Math.PI - options.margin)),
    cosines.shape,
    "bool",
  );
  const clipped = tf.clipByValue(cosines, -1, 1);
  const sine = tf.sqrt(tf.sub(1, tf.square(clipped)));
  const margined = tf.where(
    onMainBranch,
    tf.sub(
      tf.mul(clipped, Math.cos(options.margin)),
      tf.mul(sine, Math.sin(options.margin)),
    ),
    tf.sub(clipped, options.margin * Math.sin(options.margin)),
  );
  const logits = tf.mul(
    tf.where(onehot.asType("bool"), margined, cosines),
    options.scale,
  );
  return tf.mean(tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)));
}

function maxRelativeError(
  actual: Float32Array,
  expected: Float32Array,
): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

Deno.test("marginCosine gives cos(theta + m) for a known angle", () => {
  const theta = Math.PI / 3;
  const result = marginCosine(tf.tensor1d([Math.cos(theta)]), OPTIONS);
  const value = result.dataSync()[0];
  assert.ok(Math.abs(value - Math.cos(theta + 0.5)) < 1e-6, `got ${value}`);
  result.dispose();
});

Deno.test("marginCosine falls back past pi - m", () => {
  const theta = Math.PI - 0.2;
  const result = marginCosine(tf.tensor1d([Math.cos(theta)]), OPTIONS);
  const expected = Math.cos(theta) - 0.5 * Math.sin(0.5);
  assert.ok(Math.abs(result.dataSync()[0] - expected) < 1e-6);
  result.dispose();
});

Deno.test("marginCosine easy margin leaves obtuse angles", () => {
  const options = { ...OPTIONS, easyMargin: true };
  const result = marginCosine(tf.tensor1d([Math.cos(2), Math.cos(1)]), options);
  const [obtuse, acute] = result.dataSync();
  assert.ok(Math.abs(obtuse - Math.cos(2)) < 1e-6);
  assert.ok(Math.abs(acute - Math.cos(1.5)) < 1e-6);
  result.dispose();
});

Deno.test("arcFaceLoss logit for a known angle gives the expected loss", () => {
  // Two classes at angles pi/3 (target) and pi/2 from the embedding:
  // loss = log(exp(s cos(pi/3 + m)) + exp(s cos(pi/2))) - s cos(pi/3 + m).
  const x = tf.tensor2d([[1, 0]]);
  const w = tf.tensor2d([[Math.cos(Math.PI / 3), 0], [
    Math.sin(Math.PI / 3),
    1,
  ]]);
  const labels = tf.tensor1d([0], "int32");
  const { loss, accuracy } = arcFaceLoss(x, [w], labels, OPTIONS);
  const target = 64 * Math.cos(Math.PI / 3 + 0.5);
  const other = 64 * Math.cos(Math.PI / 2);
  const expected = Math.log(Math.exp(target) + Math.exp(other)) - target;
  assert.ok(
    Math.abs(loss.dataSync()[0] - expected) < 1e-4,
    `got ${loss.dataSync()[0]}, expected ${expected}`,
  );
  assert.equal(accuracy.dataSync()[0], 1);
  tf.dispose([x, w, labels, loss, accuracy]);
});

for (const shardCount of [1, 3, 7]) {
  Deno.test(`arcFaceLoss with ${shardCount} shards matches unsharded loss and gradients`, () => {
    const rng = new Rng([1, 2, 3, shardCount]);
    const [n, d, classes] = [12, 16, 1000];
    const x = randomMatrix(rng, n, d);
    const w = randomMatrix(rng, d, classes);
    const labelValues = Int32Array.from({ length: n }, () => rng.int(classes));
    // Put two labels in the last (uneven) shard and one at a boundary.
    labelValues[0] = classes - 1;
    labelValues[1] = Math.min(Math.ceil(classes / shardCount), classes - 2);
    const labels = tf.tensor1d(labelValues, "int32");
    const shardSize = Math.ceil(classes / shardCount);
    const shards = Array.from(
      { length: shardCount },
      (_, k) =>
        tf.slice(w, [0, k * shardSize], [
          d,
          Math.min(shardSize, classes - k * shardSize),
        ]) as tf.Tensor2D,
    );

    const expected = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      referenceLoss(a as tf.Tensor2D, b as tf.Tensor2D, labels)
    );
    const [expectedDx, expectedDw] = expected([x, w]);
    const expectedLoss = referenceLoss(x, w, labels).dataSync()[0];

    const actual = tf.valueAndGrads((...inputs: tf.Tensor[]) => {
      const { loss, accuracy } = arcFaceLoss(
        inputs[0] as tf.Tensor2D,
        inputs.slice(1) as tf.Tensor2D[],
        labels,
        OPTIONS,
      );
      accuracy.dispose();
      return loss;
    });
    const { value, grads } = actual([x, ...shards]);
    const actualDw = tf.concat(grads.slice(1), 1);

    const actualLoss = value.dataSync()[0];
    const lossError = Math.abs(actualLoss - expectedLoss) / expectedLoss;
    assert.ok(lossError < 1e-5, `loss ${actualLoss}, expected ${expectedLoss}`);
    const dxError = maxRelativeError(
      grads[0].dataSync() as Float32Array,
      expectedDx.dataSync() as Float32Array,
    );
    assert.ok(dxError < 1e-5, `feature gradient relative error ${dxError}`);
    const dwError = maxRelativeError(
      actualDw.dataSync() as Float32Array,
      expectedDw.dataSync() as Float32Array,
    );
    assert.ok(dwError < 1e-5, `weight gradient relative error ${dwError}`);
    tf.dispose([
      x,
      w,
      labels,
      ...shards,
      expectedDx,
      expectedDw,
      value,
      ...grads,
      actualDw,
    ]);
  });
}

Deno.test("arcFaceLoss rejects a shard of the wrong depth", () => {
  const x = tf.zeros([2, 4]) as tf.Tensor2D;
  const w = tf.zeros([3, 5]) as tf.Tensor2D;
  const labels = tf.tensor1d([0, 1], "int32");
  assert.throws(
    () => arcFaceLoss(x, [w], labels, OPTIONS),
    (error: Error) =>
      error instanceof TypeError &&
      /shard 0 must have shape \[4, K\], got \[3, 5\]/.test(error.message),
  );
  tf.dispose([x, w, labels]);
});

Deno.test("arcFaceLoss agrees on the wasm and cpu backends", async () => {
  await import("@tensorflow/tfjs-backend-wasm");
  const rng = new Rng([5, 6, 7, 8]);
  const [n, d, classes] = [16, 8, 50];
  const x = Array.from({ length: n * d }, () => rng.normal());
  const w = Array.from({ length: d * classes }, () => rng.normal());
  const labels = Array.from({ length: n }, () => rng.int(classes));
  const run = () => {
    const embeddings = tf.tensor2d(x, [n, d]);
    const weights = tf.tensor2d(w, [d, classes]);
    const shards = [
      tf.slice(weights, [0, 0], [d, 20]),
      tf.slice(weights, [0, 20], [d, 30]),
    ] as tf.Tensor2D[];
    const labelTensor = tf.tensor1d(labels, "int32");
    const { loss, accuracy } = arcFaceLoss(
      embeddings,
      shards,
      labelTensor,
      OPTIONS,
    );
    const values = [loss.dataSync()[0], accuracy.dataSync()[0]];
    tf.dispose([embeddings, weights, ...shards, labelTensor, loss, accuracy]);
    return values;
  };
  await tf.setBackend("cpu");
  const [cpuLoss, cpuAccuracy] = run();
  await tf.setBackend("wasm");
  const [wasmLoss, wasmAccuracy] = run();
  await tf.setBackend("cpu");
  assert.ok(
    Math.abs(wasmLoss - cpuLoss) / cpuLoss < 1e-5,
    `wasm ${wasmLoss}, cpu ${cpuLoss}`,
  );
  assert.equal(wasmAccuracy, cpuAccuracy);
});
