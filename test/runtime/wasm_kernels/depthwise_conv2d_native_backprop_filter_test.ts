import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { assertWasmMatchesCpu, type ConvCase } from "./_gradient_check.ts";

// Each case compares dx and dw of tf.depthwiseConv2d on wasm with the cpu
// backend, within 1e-4 of the largest cpu magnitude. The dx half of each case
// checks DepthwiseConv2dNativeBackpropInput as well.
const CASES: [string, ConvCase][] = [
  ["3x3 stride 1 same (depthwise layers)", {
    kind: "depthwise",
    inputShape: [2, 8, 8, 6],
    filterShape: [3, 3, 6, 1],
    strides: 1,
    pad: "same",
  }],
  ["3x3 stride 2 same (downsampling bottlenecks)", {
    kind: "depthwise",
    inputShape: [2, 8, 8, 6],
    filterShape: [3, 3, 6, 1],
    strides: 2,
    pad: "same",
  }],
  ["3x3 stride 2 same on odd input", {
    kind: "depthwise",
    inputShape: [2, 9, 7, 6],
    filterShape: [3, 3, 6, 1],
    strides: 2,
    pad: "same",
  }],
  ["3x3 stride 1 valid", {
    kind: "depthwise",
    inputShape: [2, 8, 8, 6],
    filterShape: [3, 3, 6, 1],
    strides: 1,
    pad: "valid",
  }],
  ["3x3 stride 2 numeric pad 1", {
    kind: "depthwise",
    inputShape: [2, 9, 9, 6],
    filterShape: [3, 3, 6, 1],
    strides: 2,
    pad: 1,
  }],
  ["3x3 stride 1 numeric pad 3, wider than the filter", {
    kind: "depthwise",
    inputShape: [1, 5, 5, 4],
    filterShape: [3, 3, 4, 1],
    strides: 1,
    pad: 3,
  }],
  ["3x3 strides [2, 1] explicit pads", {
    kind: "depthwise",
    inputShape: [2, 8, 9, 5],
    filterShape: [3, 3, 5, 1],
    strides: [2, 1],
    pad: [[0, 0], [0, 2], [2, 1], [0, 0]],
  }],
  ["7x7 valid global (GDConv at input 112)", {
    kind: "depthwise",
    inputShape: [3, 7, 7, 16],
    filterShape: [7, 7, 16, 1],
    strides: 1,
    pad: "valid",
  }],
  ["4x4 valid global (GDConv at input 64)", {
    kind: "depthwise",
    inputShape: [3, 4, 4, 16],
    filterShape: [4, 4, 16, 1],
    strides: 1,
    pad: "valid",
  }],
];

for (const [name, convCase] of CASES) {
  Deno.test(
    `DepthwiseConv2dNativeBackpropFilter on wasm matches cpu: ${name}`,
    async () => {
      await assertWasmMatchesCpu(convCase);
    },
  );
}

Deno.test("DepthwiseConv2dNativeBackpropFilter on wasm rejects multiplier 2", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([1, 5, 5, 2]);
  const dy = tf.zeros([1, 5, 5, 4]);

  assert.throws(
    () =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
        strides: 1,
        pad: "same",
        dilations: 1,
        filterShape: [3, 3, 2, 2],
      }),
    {
      name: "TypeError",
      message:
        "Cannot run DepthwiseConv2dNativeBackpropFilter on wasm: only channel multiplier 1 is implemented, got filter shape [3,3,2,2]",
    },
  );
  tf.dispose([x, dy]);
});

Deno.test("DepthwiseConv2dNativeBackpropFilter on wasm rejects dilation 2", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([1, 7, 7, 2]);
  const dy = tf.zeros([1, 3, 3, 2]);

  assert.throws(
    () =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
        strides: 1,
        pad: "valid",
        dilations: 2,
        filterShape: [3, 3, 2, 1],
      }),
    {
      name: "RangeError",
      message:
        "Cannot run DepthwiseConv2dNativeBackpropFilter on wasm: only dilations of 1 are implemented, got [2, 2]",
    },
  );
  tf.dispose([x, dy]);
});
