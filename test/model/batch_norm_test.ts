import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { batchNormTraining } from "../../src/model/batch_norm.ts";

await tf.setBackend("cpu");

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

Deno.test("batchNormTraining matches the batch-norm formula", () => {
  const x = tf.randomNormal([3, 4, 4, 5], 1, 2, "float32", 1) as tf.Tensor4D;
  const gamma = tf.tensor1d([1, 2, 0.5, -1, 3]);
  const beta = tf.tensor1d([0, 1, -1, 0.5, 2]);
  const { y, mean, variance } = batchNormTraining(x, gamma, beta, 1e-5);
  const moments = tf.moments(x, [0, 1, 2]);
  const expected = tf.batchNorm4d(
    x,
    moments.mean as tf.Tensor1D,
    moments.variance as tf.Tensor1D,
    beta,
    gamma,
    1e-5,
  );
  assert.ok(maxDifference(y, expected) < 1e-5);
  assert.ok(maxDifference(mean, moments.mean) < 1e-6);
  assert.ok(maxDifference(variance, moments.variance) < 1e-5);
  tf.dispose([
    x,
    gamma,
    beta,
    y,
    mean,
    variance,
    moments.mean,
    moments.variance,
    expected,
  ]);
});

Deno.test("batchNormTraining gradient matches autograd", () => {
  const x = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 2) as tf.Tensor4D;
  const gamma = tf.tensor1d([1.5, -0.5, 2, 1]);
  const beta = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
  const weights = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 3);
  // A weighted sum, so every output gets a different upstream gradient.
  const loss = (
    bn: (a: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor,
  ) =>
    tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.mul(
          bn(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D),
          weights,
        ),
      )
    )([x, gamma, beta]);
  const actual = loss((a, g, b) => {
    const { y, mean, variance } = batchNormTraining(a, g, b, 1e-5);
    tf.dispose([mean, variance]);
    return y;
  });
  const expected = loss((a, g, b) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.batchNorm4d(
      a,
      mean as tf.Tensor1D,
      variance as tf.Tensor1D,
      b,
      g,
      1e-5,
    );
  });
  ["x", "gamma", "beta"].forEach((name, i) => {
    const difference = maxDifference(actual[i], expected[i]);
    assert.ok(difference < 1e-4, `d${name} differs by ${difference}`);
  });
  tf.dispose([x, gamma, beta, weights, ...actual, ...expected]);
});
