import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  missingWasmTrainingKernels,
  registerWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
} from "../../../src/runtime/wasm_kernels/register.ts";

Deno.test("WASM_TRAINING_KERNELS lists the three gradient kernels", () => {
  assert.deepEqual([...WASM_TRAINING_KERNELS].sort(), [
    "Conv2DBackpropFilter",
    "DepthwiseConv2dNativeBackpropFilter",
    "DepthwiseConv2dNativeBackpropInput",
  ]);
});

Deno.test("registerWasmTrainingKernels registers missing kernels", () => {
  assert.deepEqual(missingWasmTrainingKernels(), [...WASM_TRAINING_KERNELS]);

  registerWasmTrainingKernels();

  assert.deepEqual(missingWasmTrainingKernels(), []);
});

Deno.test("registerWasmTrainingKernels twice keeps one replacement", () => {
  registerWasmTrainingKernels();
  const replaced = tf.getKernel(tf.Conv2DBackpropInput, "wasm");

  registerWasmTrainingKernels();

  assert.equal(tf.getKernel(tf.Conv2DBackpropInput, "wasm"), replaced);
});
