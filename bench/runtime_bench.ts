/**
 * Forward plus backward time of the convolution layers of MobileFaceNet, at
 * batch 16 and input 112x112, on the wasm backend (with the training kernels
 * of src/runtime/wasm_kernels) and on the cpu backend.
 *
 * Run: deno bench --allow-read --allow-env --allow-sys --allow-ffi
 * bench/runtime_bench.ts. WASM_THREADS=2 runs wasm on the threaded build, and
 * BENCH_CPU=0 skips the cpu cases, which take minutes (the 1x1 layer alone
 * took 84 to 199 s per iteration on a 2-core x86-64).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/runtime/backend.ts";

tf.env().set("IS_TEST", true);
const wasmThreads = Number(Deno.env.get("WASM_THREADS") ?? "1");
const runCpu = Deno.env.get("BENCH_CPU") !== "0";
const wasm = await selectBackend(
  { backend: "wasm", threads: wasmThreads },
  "train",
);

/** One layer: its input and filter shapes, and which gradients it needs. */
interface Layer {
  name: string;
  kind: "conv2d" | "depthwise";
  /** `[N, H, W, Cin]`. */
  inputShape: [number, number, number, number];
  /** `[KH, KW, Cin, Cout]`, or `[KH, KW, C, 1]` when depthwise. */
  filterShape: [number, number, number, number];
  strides: number;
  pad: "same" | "valid";
  /** False for the first layer, whose input is the image. */
  inputGradient: boolean;
}

const LAYERS: Layer[] = [
  {
    name: "conv 3x3/2 3->64 @112",
    kind: "conv2d",
    inputShape: [16, 112, 112, 3],
    filterShape: [3, 3, 3, 64],
    strides: 2,
    pad: "same",
    inputGradient: false,
  },
  {
    name: "depthwise 3x3/1 64 @56",
    kind: "depthwise",
    inputShape: [16, 56, 56, 64],
    filterShape: [3, 3, 64, 1],
    strides: 1,
    pad: "same",
    inputGradient: true,
  },
  {
    name: "conv 1x1 64->128 @56",
    kind: "conv2d",
    inputShape: [16, 56, 56, 64],
    filterShape: [1, 1, 64, 128],
    strides: 1,
    pad: "same",
    inputGradient: true,
  },
  {
    name: "depthwise 3x3/2 128 @56",
    kind: "depthwise",
    inputShape: [16, 56, 56, 128],
    filterShape: [3, 3, 128, 1],
    strides: 2,
    pad: "same",
    inputGradient: true,
  },
  {
    name: "GDConv 7x7 valid 512 @7",
    kind: "depthwise",
    inputShape: [16, 7, 7, 512],
    filterShape: [7, 7, 512, 1],
    strides: 1,
    pad: "valid",
    inputGradient: true,
  },
];

function convolve(layer: Layer, x: tf.Tensor, w: tf.Tensor): tf.Tensor4D {
  const x4D = x as tf.Tensor4D;
  const w4D = w as tf.Tensor4D;
  return layer.kind === "conv2d"
    ? tf.conv2d(x4D, w4D, layer.strides, layer.pad)
    : tf.depthwiseConv2d(x4D, w4D, layer.strides, layer.pad);
}

for (const layer of LAYERS) {
  for (const backendName of ["wasm", "cpu"]) {
    const label = backendName === "wasm"
      ? `wasm (${wasm.threads} thread${wasm.threads === 1 ? "" : "s"})`
      : "cpu";
    Deno.bench({
      name: `${layer.name} forward+backward, ${label}`,
      group: layer.name,
      baseline: backendName === "wasm",
      ignore: backendName === "cpu" && !runCpu,
      n: backendName === "cpu" ? 1 : 10,
      warmup: backendName === "cpu" ? 0 : 1,
      async fn(b) {
        await tf.setBackend(backendName);
        const x = tf.randomNormal(layer.inputShape);
        const w = tf.randomNormal(layer.filterShape);
        const dy = tf.randomNormal(convolve(layer, x, w).shape);
        const differentiated = layer.inputGradient ? [x, w] : [w];

        b.start();
        const gradients = tf.grads((...inputs: tf.Tensor[]) =>
          convolve(
            layer,
            layer.inputGradient ? inputs[0] : x,
            inputs[inputs.length - 1],
          )
        )(differentiated, dy);
        for (const gradient of gradients) await gradient.data();
        b.end();

        tf.dispose([x, w, dy, ...gradients]);
      },
    });
  }
}
