import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { selectBackend } from "../../../src/runtime/backend.ts";
import { registerBatchNormPreluKernels } from "../../../src/runtime/fused/batch_norm_prelu.ts";
import {
  hasPointwiseFilterGradient,
  pointwiseFilterGradient,
} from "../../../src/runtime/fused/pointwise_filter_gradient.ts";
import {
  instantiateLoops,
  simdLoops,
} from "../../../src/runtime/fused/simd.ts";
import { assertClose, randomValues } from "../wasm_kernels/_gradient_check.ts";

tf.env().set("IS_TEST", true);
registerBatchNormPreluKernels();

/**
 * Asserts that two arrays are equal bit for bit, naming the first value that
 * differs (assert.deepEqual would print a diff of every value).
 */
function assertSameValues(
  actual: tf.TypedArray,
  expected: tf.TypedArray,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const index = actual.findIndex((value, i) => !Object.is(value, expected[i]));
  assert.equal(
    index,
    -1,
    `${label}: value ${index} is ${actual[index]}, expected ${expected[index]}`,
  );
}

/** Waits until the helper thread of the SIMD loops takes calls. */
async function helperStarted(): Promise<void> {
  const loops = simdLoops(tf.backend() as BackendWasm);
  assert.ok(loops !== null, "the threaded build exposes its memory");
  for (let waited = 0; !loops.helperReady; waited += 10) {
    assert.ok(waited < 10_000, "the helper thread started within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test({
  name: "SIMD helper split keeps every bit",
  // The pthread workers and the helper thread live until the process ends.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await selectBackend({ backend: "wasm", threads: 2 }, "train");
    await helperStarted();
    const backend = tf.backend() as BackendWasm;
    const rows = 2048;
    const a = tf.tensor2d(randomValues(rows * 64, 1), [rows, 64]);
    const dy = tf.tensor2d(randomValues(rows * 32, 2), [rows, 32]);

    // Split between the helper and this thread: large enough to hand over.
    const split = pointwiseFilterGradient(a, dy);

    // One call over every channel on this thread, through an instance of
    // its own on the same memory.
    const memory = (backend.wasm as unknown as {
      wasmMemory: WebAssembly.Memory;
    }).wasmMemory;
    const loops = instantiateLoops(memory);
    const address = (t: tf.Tensor) =>
      backend.dataIdMap.get(t.dataId)!.memoryOffset;
    const whole = tf.zeros([64, 32]);
    loops.pointwise_filter_gradient(
      address(a),
      address(dy),
      address(whole),
      rows,
      64,
      32,
      0,
      64,
    );
    assertSameValues(split.dataSync(), whole.dataSync(), "dw");
    tf.dispose([a, dy, split, whole]);
  },
});

Deno.test({
  name: "pointwise gradient kernel matches product",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await selectBackend({ backend: "wasm", threads: 2 }, "train");
    await helperStarted();
    assert.equal(hasPointwiseFilterGradient(64, 128), true);
    assert.equal(hasPointwiseFilterGradient(6, 128), false);
    assert.equal(hasPointwiseFilterGradient(64, 12), false);

    const rows = 3000;
    const a = tf.tensor2d(randomValues(rows * 64, 5), [rows, 64]);
    const dy = tf.tensor2d(randomValues(rows * 128, 6), [rows, 128]);
    const kernel = pointwiseFilterGradient(a, dy);
    const product = tf.matMul(tf.transpose(a), dy);
    assert.deepEqual(kernel.shape, [64, 128]);
    assertClose(
      kernel.dataSync() as Float32Array,
      product.dataSync() as Float32Array,
      "a^T dy",
    );
    tf.dispose([a, dy, kernel, product]);
  },
});
