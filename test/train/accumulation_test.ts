import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { arcFaceLoss } from "../../src/loss/arcface.ts";
import { SgdMomentum } from "../../src/train/optimizer.ts";
import { Rng } from "../../src/rng.ts";

await tf.setBackend("cpu");

const OPTIONS = { scale: 16, margin: 0.3, easyMargin: false };

/**
 * Takes one SGD step (lr 1, no momentum, no decay) on a model without batch
 * norm, a linear embedding followed by two ArcFace shards, with the batch
 * split into `parts` micro-batches. Returns the weights after the step.
 */
function stepWith(
  parts: number,
  x: number[][],
  labels: number[],
  seed: number,
): Float32Array[] {
  const rng = new Rng([seed, 1, 2, 3]);
  const random = (n: number) => Array.from({ length: n }, () => rng.normal());
  const projection = tf.variable(tf.tensor2d(random(6 * 4), [6, 4]));
  const shards = [
    tf.variable(tf.tensor2d(random(4 * 5), [4, 5])),
    tf.variable(tf.tensor2d(random(4 * 3), [4, 3])),
  ];
  const weights = [projection, ...shards].map((variable, i) => ({
    name: `w${i}`,
    variable,
    weightDecay: 0,
  }));
  const optimizer = new SgdMomentum(weights, 0);
  const size = x.length / parts;
  for (let p = 0; p < parts; p++) {
    const inputs = tf.tensor2d(x.slice(p * size, (p + 1) * size));
    const target = tf.tensor1d(labels.slice(p * size, (p + 1) * size), "int32");
    const { value, grads } = tf.variableGrads(() => {
      const embeddings = tf.matMul(inputs, projection) as tf.Tensor2D;
      const { loss, accuracy } = arcFaceLoss(
        embeddings,
        shards as unknown as tf.Tensor2D[],
        target,
        OPTIONS,
      );
      accuracy.dispose();
      return loss;
    }, [projection, ...shards]);
    optimizer.accumulate(grads);
    tf.dispose([inputs, target, value, ...Object.values(grads)]);
  }
  optimizer.step(1);
  const result = [projection, ...shards].map((v) =>
    v.dataSync() as Float32Array
  );
  optimizer.dispose();
  tf.dispose([projection, ...shards]);
  return result;
}

Deno.test("accumulating 4 micro-batches equals one batch without batch norm", () => {
  const rng = new Rng([4, 4, 4, 4]);
  const x = Array.from(
    { length: 16 },
    () => Array.from({ length: 6 }, () => rng.normal()),
  );
  const labels = Array.from({ length: 16 }, () => rng.int(8));
  const whole = stepWith(1, x, labels, 9);
  const accumulated = stepWith(4, x, labels, 9);
  whole.forEach((expected, i) => {
    const worst = Math.max(
      ...expected.map((v, j) => Math.abs(v - accumulated[i][j])),
    );
    assert.ok(worst < 1e-5, `weight ${i} differs by ${worst}`);
  });
});

// NOTE: MobileFaceNet normalises each micro-batch with its own batch-norm
// moments, so on the full network accumulation differs from one large batch.
