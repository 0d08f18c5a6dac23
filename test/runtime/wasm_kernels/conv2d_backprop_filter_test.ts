import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { conv2DBackpropFilter } from "../../../src/runtime/wasm_kernels/conv2d_backprop_filter.ts";
import {
  assertClose,
  assertWasmMatchesCpu,
  type ConvCase,
  convGradients,
  randomValues,
} from "./_gradient_check.ts";

// Each case compares dx and dw of tf.conv2d on wasm with the cpu backend,
// within 1e-4 of the largest cpu magnitude.
const CASES: [string, ConvCase][] = [
  ["3x3 stride 2 same, 3 to 8 channels (first layer)", {
    kind: "conv2d",
    inputShape: [2, 16, 16, 3],
    filterShape: [3, 3, 3, 8],
    strides: 2,
    pad: "same",
  }],
  ["3x3 stride 2 same on odd input", {
    kind: "conv2d",
    inputShape: [2, 15, 13, 3],
    filterShape: [3, 3, 3, 8],
    strides: 2,
    pad: "same",
  }],
  ["1x1 stride 1 same (expansion)", {
    kind: "conv2d",
    inputShape: [2, 7, 7, 16],
    filterShape: [1, 1, 16, 32],
    strides: 1,
    pad: "same",
  }],
  ["1x1 stride 1 valid (projection)", {
    kind: "conv2d",
    inputShape: [3, 4, 4, 32],
    filterShape: [1, 1, 32, 8],
    strides: 1,
    pad: "valid",
  }],
  ["1x1 stride 2 valid", {
    kind: "conv2d",
    inputShape: [2, 9, 9, 4],
    filterShape: [1, 1, 4, 6],
    strides: 2,
    pad: "valid",
  }],
  ["3x3 stride 1 same", {
    kind: "conv2d",
    inputShape: [2, 9, 9, 5],
    filterShape: [3, 3, 5, 6],
    strides: 1,
    pad: "same",
  }],
  ["3x3 stride 2 valid", {
    kind: "conv2d",
    inputShape: [2, 10, 9, 4],
    filterShape: [3, 3, 4, 6],
    strides: 2,
    pad: "valid",
  }],
  ["3x3 stride 2 numeric pad 1", {
    kind: "conv2d",
    inputShape: [2, 9, 9, 4],
    filterShape: [3, 3, 4, 6],
    strides: 2,
    pad: 1,
  }],
  ["3x3 strides [1, 2] explicit pads", {
    kind: "conv2d",
    inputShape: [2, 8, 9, 4],
    filterShape: [3, 3, 4, 6],
    strides: [1, 2],
    pad: [[0, 0], [1, 2], [0, 1], [0, 0]],
  }],
  ["5x5 stride 3 same", {
    kind: "conv2d",
    inputShape: [1, 11, 11, 3],
    filterShape: [5, 5, 3, 4],
    strides: 3,
    pad: "same",
  }],
];

for (const [name, convCase] of CASES) {
  Deno.test(`Conv2DBackpropFilter on wasm matches cpu: ${name}`, async () => {
    await assertWasmMatchesCpu(convCase);
  });
}

Deno.test("conv2DBackpropFilter splits taps into groups", async () => {
  const convCase: ConvCase = {
    kind: "conv2d",
    inputShape: [2, 9, 9, 4],
    filterShape: [3, 3, 4, 6],
    strides: 2,
    pad: "same",
  };
  const expected = await convGradients("cpu", convCase);
  await tf.setBackend("wasm");
  const x = tf.tensor4d(randomValues(2 * 9 * 9 * 4, 1), convCase.inputShape);
  const dy = tf.tensor4d(randomValues(2 * 5 * 5 * 6, 3), [2, 5, 5, 6]);
  const backend = tf.backend();
  // 4 channels x 50 output positions: a limit of 400 elements fits 2 taps.
  const dw = conv2DBackpropFilter({
    inputs: { x, dy },
    backend,
    attrs: {
      strides: 2,
      pad: "same",
      dataFormat: "NHWC",
      filterShape: convCase.filterShape,
    },
  }, 400);
  const values = backend.readSync(dw.dataId) as Float32Array;
  backend.disposeData(dw.dataId);
  x.dispose();
  dy.dispose();

  assert.deepEqual(dw.shape, [3, 3, 4, 6]);
  assertClose(values, expected.dw, "dw");
});

Deno.test("Conv2DBackpropFilter on wasm rejects NCHW", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([1, 2, 5, 5]);
  const dy = tf.zeros([1, 3, 5, 5]);

  assert.throws(
    () =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
        strides: 1,
        pad: "same",
        dataFormat: "NCHW",
        filterShape: [3, 3, 2, 3],
      }),
    {
      name: "RangeError",
      message:
        'Cannot run Conv2DBackpropFilter on wasm: only data format "NHWC" is implemented, got "NCHW"',
    },
  );
  tf.dispose([x, dy]);
});
