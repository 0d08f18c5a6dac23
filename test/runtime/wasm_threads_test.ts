import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/runtime/backend.ts";
import { registerThreadedWasmBackend } from "../../src/runtime/wasm_threads.ts";
import {
  assertClose,
  assertWasmMatchesCpu,
  randomValues,
} from "./wasm_kernels/_gradient_check.ts";

Deno.test("registerThreadedWasmBackend rejects 0 threads", async () => {
  await assert.rejects(() => registerThreadedWasmBackend(0), {
    name: "RangeError",
    message:
      "Cannot load threaded wasm backend: threads must be an integer in 1..8, got 0",
  });
});

/** Returns a 3x3 convolution of seeded data on the active backend. */
function convolution(): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(2 * 12 * 12 * 16, 21), [2, 12, 12, 16]);
    const w = tf.tensor4d(randomValues(3 * 3 * 16 * 8, 22), [3, 3, 16, 8]);
    return tf.conv2d(x, w, 1, "same").dataSync() as Float32Array;
  });
}

Deno.test({
  name: "selectBackend wasm with 2 threads runs the threaded build",
  // The pthread workers live until the backend is removed at the end.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await tf.setBackend("cpu");
    const expected = convolution();

    const info = await selectBackend({ backend: "wasm", threads: 2 }, "train");

    assert.equal(info.name, "wasm");
    assert.equal(info.threads, 2);
    assert.doesNotMatch(info.reason, /failed/);
    assertClose(convolution(), expected, "conv2d");
    for (const kind of ["conv2d", "depthwise"] as const) {
      await assertWasmMatchesCpu({
        kind,
        inputShape: [4, 28, 28, 16],
        filterShape: [3, 3, 16, kind === "conv2d" ? 24 : 1],
        strides: 2,
        pad: "same",
      });
    }
    await assert.rejects(() => registerThreadedWasmBackend(2), {
      name: "Error",
      message:
        "Cannot load threaded wasm backend: the wasm backend is already initialised",
    });
    await tf.setBackend("cpu");
    tf.removeBackend("wasm");
  },
});
