import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../../src/runtime/backend.ts";
import {
  batchNormPrelu,
  hasFusedBatchNormPrelu,
  registerBatchNormPreluKernels,
} from "../../../src/runtime/fused/batch_norm_prelu.ts";
import {
  batchNormPreluBackward,
  batchNormPreluForward,
  depthwiseFilterGradient,
  type DepthwiseGeometry,
} from "../../../src/runtime/fused/loops.ts";
import { assertClose, randomValues } from "../wasm_kernels/_gradient_check.ts";

tf.env().set("IS_TEST", true);
registerBatchNormPreluKernels();

type Shape = [number, number, number, number];
/** 12 channels, which the wasm backend runs through the SIMD loops. */
const SHAPE: Shape = [3, 6, 5, 12];
/** 10 channels, not a multiple of 4: the JavaScript loops on every backend. */
const ODD_SHAPE: Shape = [3, 6, 5, 10];
const CHANNELS = SHAPE[3];

interface Variant {
  alpha: boolean;
  residual: boolean;
}
const VARIANTS: Variant[] = [
  { alpha: true, residual: false },
  { alpha: false, residual: true },
  { alpha: true, residual: true },
];

/** The unit's output, moments and every input's gradient, as arrays. */
type Outputs = Map<string, Float32Array>;

/**
 * Runs batch norm, PReLU and the residual on seeded inputs, fused or
 * composed of TF.js ops, and differentiates sum(out * upstream).
 */
function unitOutputs(
  variant: Variant,
  fused: boolean,
  shape: Shape = SHAPE,
): Outputs {
  const outputs: Outputs = new Map();
  const size = shape.reduce((a, b) => a * b, 1);
  const channels = shape[3];
  tf.tidy(() => {
    // Offset and scaled, so the moments are not those of N(0, 1).
    const y = tf.add(tf.mul(tf.tensor4d(randomValues(size, 1), shape), 3), 2);
    const gamma = tf.tensor1d(randomValues(channels, 2));
    const beta = tf.tensor1d(randomValues(channels, 3));
    const alpha = tf.tensor1d(randomValues(channels, 4));
    const residual = tf.tensor4d(randomValues(size, 5), shape);
    const upstream = tf.tensor4d(randomValues(size, 6), shape);
    const inputs = [y, gamma, beta];
    if (variant.alpha) inputs.push(alpha);
    if (variant.residual) inputs.push(residual);
    const moments: tf.Tensor[] = [];
    const run = (...args: tf.Tensor[]) => {
      const [yIn, gammaIn, betaIn, ...rest] = args;
      const alphaIn = variant.alpha ? rest.shift()! : null;
      const residualIn = variant.residual ? rest.shift()! : null;

      if (fused) {
        const result = batchNormPrelu(
          yIn as tf.Tensor4D,
          gammaIn as tf.Tensor1D,
          betaIn as tf.Tensor1D,
          alphaIn as tf.Tensor1D | null,
          residualIn as tf.Tensor4D | null,
          1e-5,
        );
        moments.push(result.mean, result.variance);
        return tf.sum(tf.mul(result.y, upstream));
      }

      // Batch norm from its formula; autograd differentiates it.
      const { mean, variance } = tf.moments(yIn, [0, 1, 2]);
      moments.push(tf.keep(mean), tf.keep(variance));
      const normalized = {
        y: tf.add(
          tf.mul(
            tf.mul(tf.sub(yIn, mean), tf.rsqrt(tf.add(variance, 1e-5))),
            gammaIn,
          ),
          betaIn,
        ),
      };
      let out: tf.Tensor = normalized.y;
      if (alphaIn) out = tf.prelu(out, alphaIn);
      if (residualIn) out = tf.add(out, residualIn);
      return tf.sum(tf.mul(out, upstream));
    };
    const { value, grads } = tf.valueAndGrads(run)(inputs);
    const names = ["y", "gamma", "beta"];
    if (variant.alpha) names.push("alpha");
    if (variant.residual) names.push("residual");
    outputs.set("value", value.dataSync() as Float32Array);
    outputs.set("mean", moments[0].dataSync() as Float32Array);
    outputs.set("variance", moments[1].dataSync() as Float32Array);
    names.forEach((name, i) =>
      outputs.set(`d${name}`, grads[i].dataSync() as Float32Array)
    );
    tf.dispose(moments);
  });
  return outputs;
}

function assertAllClose(actual: Outputs, expected: Outputs): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, values] of expected) {
    assertClose(actual.get(name)!, values, name);
  }
}

for (const variant of VARIANTS) {
  const label = `${variant.alpha ? "PReLU" : "linear"}${
    variant.residual ? " + residual" : ""
  }`;
  Deno.test(`batchNormPrelu (${label}) on cpu matches the composed ops`, async () => {
    await tf.setBackend("cpu");
    assert.equal(hasFusedBatchNormPrelu(), true);
    assertAllClose(unitOutputs(variant, true), unitOutputs(variant, false));
  });
}

Deno.test("the loops give the same bits over channel ranges as whole", () => {
  const rows = 40;
  const arrays = (seed: number, size: number) => randomValues(size, seed);
  const y = arrays(1, rows * CHANNELS);
  const gamma = arrays(2, CHANNELS);
  const beta = arrays(3, CHANNELS);
  const alpha = arrays(4, CHANNELS);
  const dout = arrays(5, rows * CHANNELS);
  const whole = {
    out: new Float32Array(rows * CHANNELS),
    mean: new Float32Array(CHANNELS),
    variance: new Float32Array(CHANNELS),
  };
  const split = structuredClone(whole);
  const forward = (o: typeof whole, start?: number, end?: number) =>
    batchNormPreluForward(
      y,
      gamma,
      beta,
      alpha,
      null,
      1e-5,
      o.out,
      o.mean,
      o.variance,
      start,
      end,
    );
  forward(whole);
  forward(split, 0, 5);
  forward(split, 5, CHANNELS);
  assert.deepEqual(split, whole);

  const grads = () => ({
    dy: new Float32Array(rows * CHANNELS),
    dgamma: new Float32Array(CHANNELS),
    dbeta: new Float32Array(CHANNELS),
    dalpha: new Float32Array(CHANNELS),
  });
  const g1 = grads();
  const g2 = grads();
  const backward = (g: ReturnType<typeof grads>, start: number, end: number) =>
    batchNormPreluBackward(
      dout,
      y,
      gamma,
      beta,
      alpha,
      whole.mean,
      whole.variance,
      1e-5,
      g.dy,
      g.dgamma,
      g.dbeta,
      g.dalpha,
      start,
      end,
    );
  backward(g1, 0, CHANNELS);
  backward(g2, 0, 7);
  backward(g2, 7, CHANNELS);
  assert.deepEqual(g2, g1);

  const geometry: DepthwiseGeometry = {
    batch: 2,
    inHeight: 7,
    inWidth: 6,
    channels: CHANNELS,
    outHeight: 4,
    outWidth: 3,
    filterHeight: 3,
    filterWidth: 3,
    strideHeight: 2,
    strideWidth: 2,
    padTop: 1,
    padLeft: 0,
  };
  const x = arrays(6, 2 * 7 * 6 * CHANNELS);
  const dy = arrays(7, 2 * 4 * 3 * CHANNELS);
  const dwWhole = new Float32Array(9 * CHANNELS);
  const dwSplit = new Float32Array(9 * CHANNELS);
  depthwiseFilterGradient(x, dy, dwWhole, geometry);
  depthwiseFilterGradient(x, dy, dwSplit, geometry, 0, 6);
  depthwiseFilterGradient(x, dy, dwSplit, geometry, 6, CHANNELS);
  assert.deepEqual(dwSplit, dwWhole);
});

Deno.test({
  name: "batchNormPrelu on threaded wasm matches cpu",
  // The pthread workers of the threaded build live until the process ends.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await tf.setBackend("cpu");
    const variant = { alpha: true, residual: true };
    const onCpu = unitOutputs(variant, true);
    const oddOnCpu = unitOutputs(variant, true, ODD_SHAPE);

    const info = await selectBackend({ backend: "wasm", threads: 2 }, "train");
    assert.equal(info.threads, 2);
    assert.equal(info.simdLoops, true);
    const onWasm = unitOutputs(variant, true);
    const oddOnWasm = unitOutputs(variant, true, ODD_SHAPE);

    // 12 channels: the SIMD loops in float32 against the JavaScript loops in
    // float64 on cpu, equal to float32 rounding.
    assertAllClose(onWasm, onCpu);

    // 10 channels: the same JavaScript loops over the same float32 values,
    // equal on both backends. Only the test's own sum(out * upstream) runs
    // on each backend's kernels.
    assertClose(oddOnWasm.get("value")!, oddOnCpu.get("value")!, "value");
    oddOnWasm.delete("value");
    oddOnCpu.delete("value");
    assert.deepEqual(oddOnWasm, oddOnCpu);
  },
});
