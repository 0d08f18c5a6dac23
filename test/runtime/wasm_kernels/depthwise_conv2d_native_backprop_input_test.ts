import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { assertClose, randomValues } from "./_gradient_check.ts";

// tf.grads cases for this kernel run in the backprop filter test, which
// compares dx as well. These tests call the kernel directly on each of its two
// paths: the convolution at stride 1, and the scatter for other strides, wide
// padding and global kernels.

/** Runs the kernel on a backend and returns dx. */
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
    randomValues(filterShape.reduce((a, b) => a * b), 5),
    filterShape,
  );
  const outShape =
    tf.depthwiseConv2d(x as tf.Tensor4D, filter, strides, pad).shape;
  const dy = tf.tensor4d(
    randomValues(outShape.reduce((a, b) => a * b), 6),
    outShape,
  );
  const dx = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, {
    dy,
    filter,
  }, { strides, pad, dilations: 1, inputShape }) as tf.Tensor;
  const values = dx.dataSync() as Float32Array;
  tf.dispose([x, filter, dy, dx]);
  return values;
}

const CASES: [
  string,
  [number, number, number, number],
  [number, number, number, number],
  number,
  "same" | "valid" | number,
][] = [
  ["3x3 stride 1 same, by convolution", [2, 9, 9, 5], [3, 3, 5, 1], 1, "same"],
  [
    "3x3 stride 1 valid, by convolution",
    [2, 9, 9, 5],
    [3, 3, 5, 1],
    1,
    "valid",
  ],
  ["3x3 stride 2 same, by scatter", [2, 9, 9, 5], [3, 3, 5, 1], 2, "same"],
  ["3x3 stride 1 pad 3, by scatter", [2, 9, 9, 5], [3, 3, 5, 1], 1, 3],
  ["7x7 valid global, by scatter", [2, 7, 7, 5], [7, 7, 5, 1], 1, "valid"],
  // Channel counts that are multiples of 4 scatter in the SIMD loop.
  ["3x3 stride 2 same, by SIMD scatter", [2, 9, 9, 8], [3, 3, 8, 1], 2, "same"],
  ["3x3 stride 1 pad 3, by SIMD scatter", [2, 9, 9, 8], [3, 3, 8, 1], 1, 3],
  ["7x7 valid global, by SIMD scatter", [2, 7, 7, 8], [7, 7, 8, 1], 1, "valid"],
  [
    "3x3 stride 2 same, large enough to split",
    [2, 28, 28, 32],
    [3, 3, 32, 1],
    2,
    "same",
  ],
];

for (const [name, inputShape, filterShape, strides, pad] of CASES) {
  Deno.test(`DepthwiseConv2dNativeBackpropInput on wasm matches cpu: ${name}`, async () => {
    const expected = await backpropInput(
      "cpu",
      inputShape,
      filterShape,
      strides,
      pad,
    );
    const actual = await backpropInput(
      "wasm",
      inputShape,
      filterShape,
      strides,
      pad,
    );

    assertClose(actual, expected, "dx");
  });
}

Deno.test("DepthwiseConv2dNativeBackpropInput on wasm rejects multiplier 2", async () => {
  await tf.setBackend("wasm");
  const dy = tf.zeros([1, 5, 5, 4]);
  const filter = tf.zeros([3, 3, 2, 2]);

  assert.throws(
    () =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, {
        dy,
        filter,
      }, {
        strides: 1,
        pad: "same",
        dilations: 1,
        inputShape: [1, 5, 5, 2],
      }),
    {
      name: "TypeError",
      message:
        "Cannot run DepthwiseConv2dNativeBackpropInput on wasm: only channel multiplier 1 is implemented, got filter shape [3,3,2,2]",
    },
  );
  tf.dispose([dy, filter]);
});
