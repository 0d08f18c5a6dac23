/**
 * The MobileFaceNet layer table (Chen et al., 2018, arXiv:1804.07573, table 1)
 * as plain data: one entry per convolution with its shapes, from which the
 * model is built and its parameters and multiply-adds are counted.
 *
 * @module
 */

import type { ModelConfig } from "../config/types.ts";

/** One convolution, always followed by batch norm and optionally PReLU. */
export interface ConvUnit {
  /** Path-like name, such as `stage1/block0/expand`. */
  name: string;
  /** `conv` is a full convolution, `depthwise` has one filter per channel. */
  kind: "conv" | "depthwise";
  kernel: number;
  stride: number;
  /** `same` pads like TensorFlow; `valid` is used by the global depthwise conv. */
  padding: "same" | "valid";
  inChannels: number;
  outChannels: number;
  /** Side of the square input feature map. */
  inputSize: number;
  /** Side of the square output feature map. */
  outputSize: number;
  /** False for the linear layers: bottleneck projections, GDConv, embedding. */
  prelu: boolean;
  /** Index of the unit whose input this unit's output is added to, if any. */
  residualFrom?: number;
  /** Layers after the global operator get the larger weight decay. */
  group: "body" | "head";
}

/** One row of table 1: a bottleneck stage. */
interface BottleneckStage {
  expansion: number;
  channels: number;
  repeats: number;
  stride: number;
}

/** The bottleneck stages of table 1, in order. */
const STAGES: readonly BottleneckStage[] = [
  { expansion: 2, channels: 64, repeats: 5, stride: 2 },
  { expansion: 4, channels: 128, repeats: 1, stride: 2 },
  { expansion: 2, channels: 128, repeats: 6, stride: 1 },
  { expansion: 4, channels: 128, repeats: 1, stride: 2 },
  { expansion: 2, channels: 128, repeats: 2, stride: 1 },
];

/** Channels of the first conv and the depthwise conv after it (table 1). */
const STEM_CHANNELS = 64;
/** Channels of the 1x1 conv before the global depthwise conv (table 1). */
const HEAD_CHANNELS = 512;

/** Scales a channel count by the width multiplier, keeping at least 8. */
export function scaleChannels(
  channels: number,
  widthMultiplier: number,
): number {
  return Math.max(8, Math.round(channels * widthMultiplier));
}

/** Output side of a conv with TensorFlow's `same` or `valid` padding. */
function outputSide(
  input: number,
  kernel: number,
  stride: number,
  padding: "same" | "valid",
): number {
  return padding === "same"
    ? Math.ceil(input / stride)
    : Math.floor((input - kernel) / stride) + 1;
}

/**
 * Lists the convolutions of MobileFaceNet for a model config.
 *
 * A bottleneck is a 1x1 conv expanding its input channels t times, with PReLU, a 3x3 depthwise conv with
 * the stride and PReLU, and a linear 1x1 projection; its input is added to its
 * output when the stride is 1 and the channel counts match (MobileNetV2).
 * After the stages come a 1x1 conv to 512 channels with PReLU, the linear
 * global depthwise conv (GDConv) whose kernel covers the whole 7x7 map at
 * 112x112 input, and a linear 1x1 conv to the embedding.
 *
 * @param config Input size (a multiple of 16), width multiplier, embedding size.
 * @returns The units in execution order.
 * @throws {RangeError} When the input size is not a multiple of 16.
 */
export function mobileFaceNetUnits(
  config: Pick<
    ModelConfig,
    "input_size" | "width_multiplier" | "embedding_size"
  >,
): ConvUnit[] {
  if (config.input_size % 16 !== 0 || config.input_size <= 0) {
    throw new RangeError(
      `Cannot build MobileFaceNet: input size must be a positive multiple of 16, got ${config.input_size}`,
    );
  }
  const width = config.width_multiplier;
  const units: ConvUnit[] = [];
  let size = config.input_size;
  let channels = 3;

  const add = (
    unit:
      & Omit<ConvUnit, "inChannels" | "inputSize" | "outputSize" | "group">
      & {
        group?: "body" | "head";
      },
  ): number => {
    const outputSize = outputSide(size, unit.kernel, unit.stride, unit.padding);
    units.push({
      ...unit,
      inChannels: channels,
      inputSize: size,
      outputSize,
      group: unit.group ?? "body",
    });
    size = outputSize;
    channels = unit.outChannels;
    return units.length - 1;
  };

  const stem = scaleChannels(STEM_CHANNELS, width);
  add({
    name: "conv1",
    kind: "conv",
    kernel: 3,
    stride: 2,
    padding: "same",
    outChannels: stem,
    prelu: true,
  });
  add({
    name: "conv2_dw",
    kind: "depthwise",
    kernel: 3,
    stride: 1,
    padding: "same",
    outChannels: stem,
    prelu: true,
  });

  STAGES.forEach((stage, s) => {
    const out = scaleChannels(stage.channels, width);
    for (let r = 0; r < stage.repeats; r++) {
      const stride = r === 0 ? stage.stride : 1;
      const blockInput = units.length;
      const inChannels = channels;
      // The expansion multiplies the block's input channels (MobileNetV2).
      const hidden = inChannels * stage.expansion;
      const prefix = `stage${s + 1}/block${r}`;
      add({
        name: `${prefix}/expand`,
        kind: "conv",
        kernel: 1,
        stride: 1,
        padding: "same",
        outChannels: hidden,
        prelu: true,
      });
      add({
        name: `${prefix}/depthwise`,
        kind: "depthwise",
        kernel: 3,
        stride,
        padding: "same",
        outChannels: hidden,
        prelu: true,
      });
      const residual = stride === 1 && inChannels === out;
      add({
        name: `${prefix}/project`,
        kind: "conv",
        kernel: 1,
        stride: 1,
        padding: "same",
        outChannels: out,
        prelu: false,
        ...(residual ? { residualFrom: blockInput } : {}),
      });
    }
  });

  add({
    name: "conv_head",
    kind: "conv",
    kernel: 1,
    stride: 1,
    padding: "same",
    outChannels: scaleChannels(HEAD_CHANNELS, width),
    prelu: true,
  });
  add({
    name: "gdconv",
    kind: "depthwise",
    kernel: size,
    stride: 1,
    padding: "valid",
    outChannels: channels,
    prelu: false,
    group: "head",
  });
  add({
    name: "embedding",
    kind: "conv",
    kernel: 1,
    stride: 1,
    padding: "same",
    outChannels: config.embedding_size,
    prelu: false,
    group: "head",
  });
  return units;
}

/** Returns the number of conv weights of a unit (no bias: batch norm follows). */
export function convWeightCount(unit: ConvUnit): number {
  const perGroupInputs = unit.kind === "depthwise" ? 1 : unit.inChannels;
  return unit.kernel * unit.kernel * perGroupInputs * unit.outChannels;
}

/**
 * Returns the multiply-adds of a unit: output positions x kernel area x
 * input channels per group x output channels. Batch norm, PReLU and the
 * residual additions are not counted, as is usual for this figure.
 */
export function multiplyAdds(unit: ConvUnit): number {
  return unit.outputSize * unit.outputSize * convWeightCount(unit);
}

/** Parameter and multiply-add totals of a network. */
export interface ModelCounts {
  /** Conv weights alone. */
  convWeights: number;
  /** Conv weights plus PReLU slopes: the parameter count of the paper. */
  parameters: number;
  /** Batch-norm scales and offsets (trainable, not in the paper's count). */
  batchNormParameters: number;
  multiplyAdds: number;
}

/** Counts parameters and multiply-adds over all units. */
export function countModel(units: readonly ConvUnit[]): ModelCounts {
  let convWeights = 0;
  let slopes = 0;
  let batchNorm = 0;
  let macs = 0;
  for (const unit of units) {
    convWeights += convWeightCount(unit);
    if (unit.prelu) slopes += unit.outChannels;
    batchNorm += 2 * unit.outChannels;
    macs += multiplyAdds(unit);
  }
  return {
    convWeights,
    parameters: convWeights + slopes,
    batchNormParameters: batchNorm,
    multiplyAdds: macs,
  };
}
