import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { probeGpuAdapter, selectBackend } from "../../src/runtime/backend.ts";

// Keeps the cpu backend's advice to install tfjs-node out of test output.
tf.env().set("IS_TEST", true);

Deno.test("selectBackend rejects negative threads", async () => {
  await assert.rejects(
    () => selectBackend({ backend: "cpu", threads: -1 }, "train"),
    {
      name: "RangeError",
      message:
        "Cannot select backend: runtime.threads must be a non-negative integer, got -1",
    },
  );
});

Deno.test("selectBackend rejects an unknown backend name", async () => {
  await assert.rejects(
    () =>
      selectBackend(
        { backend: "webgl" as "cpu", threads: 1 },
        "infer",
      ),
    {
      name: "RangeError",
      message:
        'Cannot select backend: unknown runtime.backend "webgl": use auto, webgpu, wasm, cpu or tensorflow',
    },
  );
});

Deno.test("selectBackend cpu activates cpu", async () => {
  const info = await selectBackend({ backend: "cpu", threads: 0 }, "train");

  assert.equal(info.name, "cpu");
  assert.equal(info.requested, "cpu");
  assert.equal(info.version, tf.version.tfjs);
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("selectBackend wasm with 1 thread can train", async () => {
  const info = await selectBackend({ backend: "wasm", threads: 1 }, "train");

  assert.equal(info.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(info.threads, 1);
  assert.equal(info.simd, true);
  // The single-threaded build's ordinary memory takes loops.wasm.
  assert.equal(info.simdLoops, true);
  const dw = tf.tidy(() => {
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const gradient = tf.grad((w: tf.Tensor) =>
      tf.depthwiseConv2d(x, w as tf.Tensor4D, 1, "same").sum()
    );
    return gradient(tf.ones([3, 3, 2, 1])).dataSync();
  });
  // The centre tap multiplies all 16 input positions, and a corner tap 9.
  assert.equal(dw[(1 * 3 + 1) * 2], 16);
  assert.equal(dw[0], 9);
});

Deno.test("selectBackend auto follows the adapter probe", async () => {
  const adapter = await probeGpuAdapter();

  const info = await selectBackend({ backend: "auto", threads: 0 }, "train");

  assert.equal(info.requested, "auto");
  assert.equal(tf.getBackend(), info.name);
  if (adapter === null) {
    assert.equal(info.name, "wasm");
    assert.match(info.reason, /^No WebGPU adapter is available/);
  } else if (adapter.fallback) {
    assert.equal(info.name, "wasm");
    assert.equal(info.adapter, adapter.description);
    assert.equal(info.fallbackAdapter, true);
    assert.match(info.reason, /software fallback/);
  } else {
    assert.equal(info.name, "webgpu");
    assert.equal(info.fallbackAdapter, false);
  }
  if (info.name === "wasm") {
    // The previous test initialised wasm on one thread.
    assert.equal(info.threads, 1);
    assert.match(info.reason, /already initialised/);
  }
});

Deno.test("selectBackend webgpu reports the adapter", async () => {
  const adapter = await probeGpuAdapter();
  const selection = selectBackend({ backend: "webgpu", threads: 0 }, "infer");

  if (adapter === null) {
    await assert.rejects(() => selection, {
      message:
        'Cannot initialise TF.js backend "webgpu": no WebGPU adapter is available (navigator.gpu is missing or requestAdapter() returned null)',
    });
    return;
  }
  const info = await selection;
  assert.equal(info.name, "webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  assert.equal(info.adapter, adapter.description);
  assert.equal(info.fallbackAdapter, adapter.fallback);
});

const tfjsNodeInstalled = await import("@tensorflow/tfjs-node").then(
  () => true,
  () => false,
);

Deno.test({
  name: "selectBackend tensorflow says how to install tfjs-node",
  ignore: tfjsNodeInstalled,
  fn: async () => {
    await assert.rejects(
      () => selectBackend({ backend: "tensorflow", threads: 0 }, "train"),
      (error: Error) => {
        assert.match(
          error.message,
          /^Cannot initialise TF\.js backend "tensorflow": neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/,
        );
        assert.match(
          error.message,
          /deno add npm:@tensorflow\/tfjs-node@4\.22\.0/,
        );
        return true;
      },
    );
  },
});
