import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../../src/runtime/backend.ts";

Deno.test("Identity on wasm shares memory with its input", async () => {
  await selectBackend({ backend: "wasm", threads: 1 }, "train");
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = tf.clone(x);
  assert.equal(y.dataId, x.dataId);
  assert.deepEqual(y.shape, [2, 3]);

  // The shared memory lives until the last tensor that uses it is disposed.
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6]);
  const before = tf.memory().numTensors;
  y.dispose();
  assert.equal(tf.memory().numTensors, before - 1);
});
