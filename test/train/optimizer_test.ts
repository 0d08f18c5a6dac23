import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { SgdMomentum } from "../../src/train/optimizer.ts";

await tf.setBackend("cpu");

Deno.test("SgdMomentum follows v = mu v + g + wd w, w -= lr v", () => {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const optimizer = new SgdMomentum([{
    name: "w",
    variable: w,
    weightDecay: 0.5,
  }], 0.9);
  optimizer.accumulate({ [w.name]: tf.tensor1d([0.2, 0.4]) });
  optimizer.step(0.1);
  // g = [0.2 + 0.5, 0.4 - 1] = [0.7, -0.6]; v = g; w = [1 - 0.07, -2 + 0.06]
  const first = w.dataSync();
  assert.ok(Math.abs(first[0] - 0.93) < 1e-6);
  assert.ok(Math.abs(first[1] + 1.94) < 1e-6);
  optimizer.accumulate({ [w.name]: tf.tensor1d([0, 0]) });
  optimizer.step(0.1);
  // g = 0.5 w = [0.465, -0.97]; v = 0.9 [0.7, -0.6] + g = [1.095, -1.51]
  const second = w.dataSync();
  assert.ok(Math.abs(second[0] - (0.93 - 0.1095)) < 1e-6);
  assert.ok(Math.abs(second[1] - (-1.94 + 0.151)) < 1e-6);
  optimizer.dispose();
  w.dispose();
});

Deno.test("SgdMomentum averages accumulated micro-batch gradients", () => {
  const a = tf.variable(tf.tensor1d([0]));
  const b = tf.variable(tf.tensor1d([0]));
  const accumulated = new SgdMomentum([{
    name: "a",
    variable: a,
    weightDecay: 0,
  }], 0);
  const single = new SgdMomentum(
    [{ name: "b", variable: b, weightDecay: 0 }],
    0,
  );
  for (const g of [1, 2, 3, 6]) {
    accumulated.accumulate({ [a.name]: tf.tensor1d([g]) });
  }
  single.accumulate({ [b.name]: tf.tensor1d([3]) });
  accumulated.step(1);
  single.step(1);
  assert.equal(a.dataSync()[0], b.dataSync()[0]);
  accumulated.dispose();
  single.dispose();
  tf.dispose([a, b]);
});

Deno.test("SgdMomentum refuses a step with nothing accumulated", () => {
  const w = tf.variable(tf.tensor1d([1]));
  const optimizer = new SgdMomentum([{
    name: "w",
    variable: w,
    weightDecay: 0,
  }], 0.9);
  assert.throws(
    () => optimizer.step(0.1),
    (error: Error) =>
      error instanceof RangeError && error.message.includes("no gradients"),
  );
  optimizer.dispose();
  w.dispose();
});
