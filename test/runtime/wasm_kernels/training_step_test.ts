import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { assertClose, randomValues } from "./_gradient_check.ts";

/**
 * Returns the loss and the filter gradients of a tiny network with the layer
 * types of MobileFaceNet: conv 3x3 stride 2 -> ReLU -> depthwise 3x3 -> 1x1
 * conv -> global depthwise 4x4 -> mean of squares.
 */
async function networkGradients(
  backendName: "cpu" | "wasm",
): Promise<Map<string, Float32Array>> {
  await tf.setBackend(backendName);
  const images = tf.tensor4d(randomValues(2 * 8 * 8 * 3, 11), [2, 8, 8, 3]);
  const filters = {
    conv: tf.variable(
      tf.tensor4d(randomValues(3 * 3 * 3 * 8, 12), [3, 3, 3, 8]),
      true,
      "conv",
    ),
    depthwise: tf.variable(
      tf.tensor4d(randomValues(3 * 3 * 8, 13), [3, 3, 8, 1]),
      true,
      "depthwise",
    ),
    pointwise: tf.variable(
      tf.tensor4d(randomValues(8 * 6, 14), [1, 1, 8, 6]),
      true,
      "pointwise",
    ),
    global: tf.variable(
      tf.tensor4d(randomValues(4 * 4 * 6, 15), [4, 4, 6, 1]),
      true,
      "global",
    ),
  };
  const { value, grads } = tf.variableGrads(() => {
    let h = tf.relu(tf.conv2d(images, filters.conv, 2, "same"));
    h = tf.depthwiseConv2d(h, filters.depthwise, 1, "same");
    h = tf.conv2d(h, filters.pointwise, 1, "same");
    h = tf.depthwiseConv2d(h, filters.global, 1, "valid");
    return tf.mean(tf.square(h));
  });
  const result = new Map<string, Float32Array>();
  result.set("loss", value.dataSync() as Float32Array);
  for (const [name, grad] of Object.entries(grads)) {
    result.set(name, grad.dataSync() as Float32Array);
  }
  tf.dispose([
    images,
    value,
    ...Object.values(filters),
    ...Object.values(grads),
  ]);
  return result;
}

Deno.test("variableGrads of a tiny network match on wasm and cpu", async () => {
  const expected = await networkGradients("cpu");
  const actual = await networkGradients("wasm");

  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  assert.equal(expected.size, 5);
  for (const [name, values] of expected) {
    assertClose(actual.get(name)!, values, name);
  }
});
