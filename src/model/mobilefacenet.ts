/**
 * MobileFaceNet in TF.js (Chen et al., 2018, arXiv:1804.07573, table 1):
 * convolutions from the layer table in architecture.ts, each followed by
 * batch norm and, except for the linear layers, PReLU.
 *
 * Tensors are NHWC float32. Inputs are face crops scaled to [-1, 1] as
 * (pixel - 127.5) / 128.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config/types.ts";
import { deriveRng } from "../rng.ts";
import { type ConvUnit, mobileFaceNetUnits } from "./architecture.ts";
import {
  batchNormPrelu,
  hasFusedBatchNormPrelu,
} from "../runtime/fused/batch_norm_prelu.ts";
import { batchNormTraining } from "./batch_norm.ts";
import { pointwiseProduct } from "./pointwise.ts";

/** Batch mean and variance of one unit's conv output, from a training pass. */
export interface BatchMoments {
  /** [C] */
  mean: tf.Tensor1D;
  /** [C], biased (divided by the number of values). */
  variance: tf.Tensor1D;
  /** Values per channel the moments were taken over (N * H * W). */
  count: number;
}

/** A named weight and whether the optimiser updates it. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
  /** Weight-decay group: `head` for the layers after the global operator. */
  group: "body" | "head";
  /** Whether weight decay applies (conv weights only). */
  decay: boolean;
}

/** The PReLU slope every unit starts with (He et al., 2015). */
const PRELU_INITIAL_SLOPE = 0.25;

/**
 * Creates a variable from an initial value and frees that value: a variable
 * shares its initial tensor's buffer, which would otherwise stay allocated
 * after the first assignment.
 */
export function ownedVariable(
  initial: () => tf.Tensor,
  trainable: boolean,
): tf.Variable {
  return tf.tidy(() => tf.variable(initial(), trainable));
}

/**
 * The trainable and running weights of one unit. A trainable network has
 * batch norm after each conv. A folded one, for inference, has a conv bias
 * instead, because the batch norm's affine map is merged into weight and bias.
 */
interface UnitWeights {
  /** [k, k, in, out] for a conv, [k, k, C, 1] for a depthwise conv. */
  weight: tf.Variable;
  /** Batch-norm scale and offset, [C]; absent when folded. */
  gamma?: tf.Variable;
  beta?: tf.Variable;
  /** Running statistics for inference, [C]; absent when folded. */
  movingMean?: tf.Variable;
  movingVariance?: tf.Variable;
  /** Conv bias, [C]; present only when folded. */
  bias?: tf.Variable;
  /** PReLU slopes, [C]; absent for linear units. */
  alpha?: tf.Variable;
}

/** One unit of a folded network, as plain arrays in TF.js layouts. */
export interface FoldedUnit {
  /** [k, k, in, out] for a conv, [k, k, C, 1] for a depthwise conv. */
  weight: Float32Array;
  /** [C] */
  bias: Float32Array;
  /** [C]; required exactly for the units with PReLU. */
  alpha?: Float32Array;
}

/** Names of a unit's weights, as stored in checkpoints. */
const WEIGHT_NAMES = {
  weight: "weight",
  gamma: "bn_gamma",
  beta: "bn_beta",
  movingMean: "bn_moving_mean",
  movingVariance: "bn_moving_variance",
  bias: "bias",
  alpha: "prelu_alpha",
} as const;

/**
 * Applies a unit's convolution. A 1x1 stride-1 conv is computed as a matrix
 * product over [N * H * W, C_in], which gives the same result and a much
 * faster filter gradient on backends whose conv filter gradient is a plain
 * loop (the TF.js cpu backend).
 *
 * @param input [N, H, W, C_in]
 * @param weight [k, k, C_in, C_out], or [k, k, C, 1] for a depthwise conv.
 * @returns [N, H', W', C_out]
 */
function convolve(
  input: tf.Tensor4D,
  weight: tf.Tensor4D,
  unit: ConvUnit,
): tf.Tensor4D {
  if (unit.kind === "depthwise") {
    return tf.depthwiseConv2d(input, weight, unit.stride, unit.padding);
  }
  if (unit.kernel === 1 && unit.stride === 1) {
    const [n, h, w, c] = input.shape;
    // [N, H, W, C_in] -> [N*H*W, C_in] x [C_in, C_out] -> [N, H, W, C_out]
    const rows = tf.reshape(input, [n * h * w, c]) as tf.Tensor2D;
    const matrix = tf.reshape(weight, [c, unit.outChannels]) as tf.Tensor2D;
    return tf.reshape(pointwiseProduct(rows, matrix), [
      n,
      h,
      w,
      unit.outChannels,
    ]);
  }
  return tf.conv2d(input, weight, unit.stride, unit.padding);
}

/** Applies a folded unit's conv, bias and PReLU as one fused op. */
function fusedConvolve(
  input: tf.Tensor4D,
  weights: UnitWeights,
  unit: ConvUnit,
): tf.Tensor4D {
  const args = {
    x: input,
    filter: weights.weight as tf.Tensor4D,
    strides: unit.stride,
    pad: unit.padding,
    bias: weights.bias!,
    ...(weights.alpha
      ? { activation: "prelu" as const, preluActivationWeights: weights.alpha }
      : {}),
  };
  return unit.kind === "depthwise"
    ? tf.fused.depthwiseConv2d(args)
    : tf.fused.conv2d(args);
}

/** Shape of a unit's conv weight in TF.js layout. */
function weightShape(unit: ConvUnit): [number, number, number, number] {
  return unit.kind === "depthwise"
    ? [unit.kernel, unit.kernel, unit.outChannels, 1]
    : [unit.kernel, unit.kernel, unit.inChannels, unit.outChannels];
}

/** MobileFaceNet with its weights as TF.js variables. */
export class MobileFaceNet {
  readonly config: ModelConfig;
  readonly units: readonly ConvUnit[];
  #weights: UnitWeights[];

  private constructor(
    config: ModelConfig,
    units: ConvUnit[],
    weights: UnitWeights[],
  ) {
    this.config = config;
    this.units = units;
    this.#weights = weights;
  }

  /**
   * Builds the network with seeded initial weights.
   *
   * Conv weights are drawn from N(0, 2 / fan_in) (He et al., 2015) before
   * PReLU and from N(0, 1 / fan_in) before a linear output, where fan_in is
   * kernel area times input channels per group. Each weight has its own
   * generator, named `init/<unit>/weight`, so the values do not depend on
   * the backend or the order of creation.
   *
   * The caller owns the variables and frees them with {@linkcode dispose}.
   */
  static async create(
    config: ModelConfig,
    seed: number,
  ): Promise<MobileFaceNet> {
    const units = mobileFaceNetUnits(config);
    const weights: UnitWeights[] = [];
    for (const unit of units) {
      const perGroup = unit.kind === "depthwise" ? 1 : unit.inChannels;
      const fanIn = unit.kernel * unit.kernel * perGroup;
      const std = Math.sqrt((unit.prelu ? 2 : 1) / fanIn);
      const shape = weightShape(unit);
      const rng = await deriveRng(seed, `init/${unit.name}/weight`);
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < values.length; i++) values[i] = std * rng.normal();
      const c = unit.outChannels;
      weights.push({
        weight: ownedVariable(() => tf.tensor4d(values, shape), true),
        gamma: ownedVariable(() => tf.ones([c]), true),
        beta: ownedVariable(() => tf.zeros([c]), true),
        movingMean: ownedVariable(() => tf.zeros([c]), false),
        movingVariance: ownedVariable(() => tf.ones([c]), false),
        ...(unit.prelu
          ? {
            alpha: ownedVariable(() => tf.fill([c], PRELU_INITIAL_SLOPE), true),
          }
          : {}),
      });
    }
    return new MobileFaceNet(config, units, weights);
  }

  /**
   * Builds an inference-only network from folded weights: each conv has a
   * bias and no batch norm (the form of exported models such as TFLite
   * files, where the converter merged batch norm into the conv).
   *
   * @param units One entry per unit of `mobileFaceNetUnits(config)`.
   * @throws {TypeError} When the count, a shape or the PReLU presence does
   *     not match the architecture, naming the unit.
   */
  static fromFolded(config: ModelConfig, units: FoldedUnit[]): MobileFaceNet {
    const layout = mobileFaceNetUnits(config);
    if (units.length !== layout.length) {
      throw new TypeError(
        `a folded MobileFaceNet needs ${layout.length} units, got ${units.length}`,
      );
    }
    const weights: UnitWeights[] = [];
    try {
      layout.forEach((unit, i) => {
        const given = units[i];
        const shape = weightShape(unit);
        const size = shape.reduce((a, b) => a * b, 1);
        const c = unit.outChannels;
        const problem = given.weight.length !== size
          ? `weight has ${given.weight.length} values, expected [${shape}]`
          : given.bias.length !== c
          ? `bias has ${given.bias.length} values, expected ${c}`
          : unit.prelu !== (given.alpha !== undefined)
          ? unit.prelu
            ? "PReLU slopes are missing"
            : "the unit is linear but has PReLU slopes"
          : given.alpha !== undefined && given.alpha.length !== c
          ? `PReLU slopes have ${given.alpha.length} values, expected ${c}`
          : null;
        if (problem !== null) {
          throw new TypeError(`unit ${i} (${unit.name}): ${problem}`);
        }
        weights.push({
          weight: ownedVariable(() => tf.tensor4d(given.weight, shape), false),
          bias: ownedVariable(() => tf.tensor1d(given.bias), false),
          ...(given.alpha
            ? { alpha: ownedVariable(() => tf.tensor1d(given.alpha!), false) }
            : {}),
        });
      });
    } catch (error) {
      for (const w of weights) {
        for (const variable of Object.values(w)) variable?.dispose();
      }
      throw error;
    }
    return new MobileFaceNet(config, layout, weights);
  }

  /** Whether batch norm is folded into the convs (inference only). */
  get folded(): boolean {
    return this.#weights[0]?.bias !== undefined;
  }

  /**
   * Returns a folded copy for inference: with s = gamma / sqrt(moving
   * variance + epsilon), each output channel's conv weights are multiplied
   * by s and the bias is beta - s * moving mean. The copy computes what
   * `apply(images, false)` computes, in one op less per unit.
   */
  async fold(): Promise<MobileFaceNet> {
    return MobileFaceNet.fromFolded(this.config, await this.#foldedUnits());
  }

  /**
   * Reads the folded weights with asynchronous reads, which every backend
   * supports (WebGPU in Deno has no synchronous read).
   */
  async #foldedUnits(): Promise<FoldedUnit[]> {
    const epsilon = this.config.batch_norm_epsilon;
    const read = async (t: tf.Tensor) => await t.data() as Float32Array;
    const units: FoldedUnit[] = [];
    for (const [i, unit] of this.units.entries()) {
      const w = this.#weights[i];
      const alpha = w.alpha ? await read(w.alpha) : undefined;
      if (w.bias) {
        units.push({
          weight: await read(w.weight),
          bias: await read(w.bias),
          ...(alpha ? { alpha } : {}),
        });
        continue;
      }
      const [scaled, bias] = tf.tidy(() => {
        const scale = tf.div(
          w.gamma!,
          tf.sqrt(tf.add(w.movingVariance!, epsilon)),
        );
        // The output channel is the last axis of a conv weight and the third
        // of a depthwise weight ([k, k, C, 1]), so the scale is shaped to match.
        const scaled = unit.kind === "depthwise"
          ? tf.mul(w.weight, tf.reshape(scale, [1, 1, -1, 1]))
          : tf.mul(w.weight, scale);
        return [scaled, tf.sub(w.beta!, tf.mul(scale, w.movingMean!))];
      });
      units.push({
        weight: await read(scaled),
        bias: await read(bias),
        ...(alpha ? { alpha } : {}),
      });
      tf.dispose([scaled, bias]);
    }
    return units;
  }

  /** Lists every weight with its name, in a fixed order. */
  namedVariables(): NamedVariable[] {
    const list: NamedVariable[] = [];
    this.units.forEach((unit, i) => {
      const w = this.#weights[i];
      for (const key of Object.keys(WEIGHT_NAMES) as (keyof UnitWeights)[]) {
        const variable = w[key];
        if (!variable) continue;
        list.push({
          name: `${unit.name}/${WEIGHT_NAMES[key]}`,
          variable,
          trainable: !this.folded && key !== "movingMean" &&
            key !== "movingVariance",
          group: unit.group,
          decay: key === "weight",
        });
      }
    });
    return list;
  }

  /**
   * Runs the network.
   *
   * @param images [N, S, S, 3] NHWC float32 in [-1, 1], S = model.input_size.
   * @param training When true, batch norm normalises with the batch moments
   *     and returns them for {@linkcode updateMovingStatistics}; otherwise it
   *     uses the moving statistics.
   * @returns embeddings [N, D], not normalised, and the batch moments of each
   *     unit in training mode. The moments are kept out of any enclosing
   *     `tf.tidy`; the caller disposes them.
   * @throws {TypeError} When the input shape does not match the config.
   */
  apply(
    images: tf.Tensor4D,
    training: boolean,
  ): { embeddings: tf.Tensor2D; moments: BatchMoments[] } {
    const size = this.config.input_size;
    const [, h, w, c] = images.shape;
    if (h !== size || w !== size || c !== 3) {
      throw new TypeError(
        `MobileFaceNet expects input [N, ${size}, ${size}, 3], got [${
          images.shape.join(", ")
        }]`,
      );
    }
    if (training && this.folded) {
      throw new TypeError(
        "a folded MobileFaceNet has no batch norm and runs for inference only",
      );
    }
    const moments: BatchMoments[] = [];
    let x: tf.Tensor4D = images;
    if (training) {
      const outputs: tf.Tensor4D[] = [];
      this.units.forEach((unit, i) => {
        const residual = unit.residualFrom === undefined
          ? null
          : outputs[unit.residualFrom - 1] ?? images;
        x = this.#applyUnit(i, x, residual, true, moments);
        outputs.push(x);
      });
    } else {
      x = this.#infer(images);
    }
    // [N, 1, 1, D] -> [N, D]
    const embeddings = tf.reshape(x, [
      x.shape[0],
      this.config.embedding_size,
    ]) as tf.Tensor2D;
    return { embeddings, moments };
  }

  /**
   * Runs the units for inference, keeping only the outputs a later residual
   * connection reads. Every other activation is freed as soon as the next
   * unit has read it, so a batch needs the memory of a few layers instead of
   * all of them. Measured at 112x112 and batch 64, keeping all of them
   * exceeded the wasm backend's 4 GB heap.
   */
  #infer(images: tf.Tensor4D): tf.Tensor4D {
    const saved = new Map<number, tf.Tensor4D>();
    const needed = new Set(
      this.units.flatMap((unit) =>
        unit.residualFrom !== undefined && unit.residualFrom > 0
          ? [unit.residualFrom - 1]
          : []
      ),
    );
    let x: tf.Tensor4D = images;
    this.units.forEach((unit, i) => {
      const source = unit.residualFrom === undefined
        ? undefined
        : unit.residualFrom - 1;
      const residual = source === undefined
        ? null
        : source < 0
        ? images
        : saved.get(source)!;
      const y = tf.tidy(() => this.#applyUnit(i, x, residual, false, []));
      if (x !== images && !saved.has(i - 1)) x.dispose();
      if (source !== undefined && source >= 0) {
        saved.get(source)!.dispose();
        saved.delete(source);
      }
      if (needed.has(i)) saved.set(i, y);
      x = y;
    });
    return x;
  }

  /**
   * Applies unit `i`: conv, then batch norm (or the folded bias), PReLU and
   * the residual addition.
   */
  #applyUnit(
    i: number,
    input: tf.Tensor4D,
    residual: tf.Tensor4D | null,
    training: boolean,
    moments: BatchMoments[],
  ): tf.Tensor4D {
    const unit = this.units[i];
    const weights = this.#weights[i];
    const epsilon = this.config.batch_norm_epsilon;
    if (weights.bias) {
      // Folded: conv, bias and PReLU in one fused kernel where the backend
      // has one (wasm, webgpu, cpu and tfjs-node all do).
      const y = fusedConvolve(input, weights, unit);
      return residual === null ? y : tf.add(y, residual);
    }
    let y = convolve(input, weights.weight as tf.Tensor4D, unit);
    if (training && hasFusedBatchNormPrelu()) {
      // Batch norm, PReLU and the residual in one kernel pair.
      const fused = batchNormPrelu(
        y,
        weights.gamma! as tf.Tensor1D,
        weights.beta! as tf.Tensor1D,
        (weights.alpha ?? null) as tf.Tensor1D | null,
        residual,
        epsilon,
      );
      const [n, oh, ow] = y.shape;
      moments.push({
        mean: fused.mean,
        variance: fused.variance,
        count: n * oh * ow,
      });
      return fused.y;
    }
    if (training) {
      // Normalise with the moments over N, H and W of this batch.
      const normalized = batchNormTraining(
        y,
        weights.gamma! as tf.Tensor1D,
        weights.beta! as tf.Tensor1D,
        epsilon,
      );
      const [n, oh, ow] = y.shape;
      moments.push({
        mean: normalized.mean,
        variance: normalized.variance,
        count: n * oh * ow,
      });
      y = normalized.y;
    } else {
      y = tf.batchNorm4d(
        y,
        weights.movingMean! as tf.Tensor1D,
        weights.movingVariance! as tf.Tensor1D,
        weights.beta! as tf.Tensor1D,
        weights.gamma! as tf.Tensor1D,
        epsilon,
      );
    }
    if (weights.alpha) {
      y = tf.prelu(y, weights.alpha as unknown as tf.Tensor4D);
    }
    if (residual !== null) y = tf.add(y, residual);
    return y;
  }

  /**
   * Folds a training pass's batch moments into the moving statistics:
   * moving = momentum * moving + (1 - momentum) * batch, with the batch
   * variance made unbiased (times count / (count - 1)), and disposes them.
   */
  updateMovingStatistics(moments: BatchMoments[]): void {
    const momentum = this.config.batch_norm_momentum;
    tf.tidy(() => {
      moments.forEach((m, i) => {
        const w = this.#weights[i];
        const unbiased = m.count > 1 ? m.count / (m.count - 1) : 1;
        w.movingMean!.assign(
          tf.add(tf.mul(w.movingMean!, momentum), tf.mul(m.mean, 1 - momentum)),
        );
        w.movingVariance!.assign(
          tf.add(
            tf.mul(w.movingVariance!, momentum),
            tf.mul(m.variance, (1 - momentum) * unbiased),
          ),
        );
      });
    });
    for (const m of moments) {
      m.mean.dispose();
      m.variance.dispose();
    }
  }

  /** Frees every variable of the network. */
  dispose(): void {
    for (const { variable } of this.namedVariables()) variable.dispose();
  }
}
