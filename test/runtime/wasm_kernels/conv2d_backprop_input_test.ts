import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { assertClose, randomValues } from "./_gradient_check.ts";

/** Runs Conv2DBackpropInput on a backend and returns dx. */
async function backpropInput(
  backendName: "cpu" | "wasm",
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number,
  pad: "same" | "valid" | number,
): Promise<Float32Array> {
  await tf.setBackend(backendName);
  const x = tf.zeros(inputShape);
  const filter = tf.tensor4d(
    randomValues(filterShape.reduce((a, b) => a * b), 7),
    filterShape,
  );
  const outShape = tf.conv2d(x as tf.Tensor4D, filter, strides, pad).shape;
  const dy = tf.tensor4d(
    randomValues(outShape.reduce((a, b) => a * b), 8),
    outShape,
  );
  const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, {
    strides,
    pad,
    dataFormat: "NHWC",
    inputShape,
  }) as tf.Tensor;
  const values = dx.dataSync() as Float32Array;
  tf.dispose([x, filter, dy, dx]);
  return values;
}

for (
  const [name, filterShape, strides, pad] of [
    ["1x1 stride 1 same, by matmul", [1, 1, 12, 20], 1, "same"],
    ["1x1 stride 1 valid, by matmul", [1, 1, 12, 20], 1, "valid"],
    ["1x1 stride 1 pad 1, by the stock kernel", [1, 1, 12, 20], 1, 1],
    ["1x1 stride 2, by the stock kernel", [1, 1, 12, 20], 2, "valid"],
    ["3x3 stride 2 same, by the stock kernel", [3, 3, 12, 20], 2, "same"],
  ] as const
) {
  Deno.test(`Conv2DBackpropInput on wasm matches cpu: ${name}`, async () => {
    const inputShape: [number, number, number, number] = [2, 7, 7, 12];
    const expected = await backpropInput(
      "cpu",
      inputShape,
      [...filterShape],
      strides,
      pad,
    );
    const actual = await backpropInput(
      "wasm",
      inputShape,
      [...filterShape],
      strides,
      pad,
    );

    assertClose(actual, expected, "dx");
  });
}

Deno.test("Conv2DBackpropInput on wasm keeps the stock kernel's setup", async () => {
  await tf.setBackend("wasm");
  const kernel = tf.getKernel(tf.Conv2DBackpropInput, "wasm");

  assert.ok(kernel !== undefined);
  assert.equal(typeof kernel.setupFunc, "function");
});
