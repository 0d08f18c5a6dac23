/**
 * The training memory plan: the peak bytes of one training step predicted
 * from the model's layer table, the micro-batch, the classifier and its
 * shards, and the choice of the largest micro-batch and fewest shards that
 * fit a device. This is what makes batch 512 fit one 11 GB card: gradient
 * accumulation bounds the activations, shards bound the logits.
 *
 * @module
 */

import type { ModelConfig } from "../config/types.ts";
import {
  type ConvUnit,
  countModel,
  mobileFaceNetUnits,
} from "../model/architecture.ts";

const FLOAT_BYTES = 4;
const GIB = 1024 ** 3;

/**
 * Bytes a training pass keeps per element of each conv unit's output, in
 * units of float32 elements: the conv output, the batch-norm statistics and
 * output, PReLU, and the intermediates TF.js keeps for the backward pass.
 * NOTE: Measured, not derived: 8.3 to 8.6 with TF.js 4.22.0 on the cpu
 * backend for inputs 32 to 112, widths 0.25 to 0.5 and micro-batches 8 to
 * 32 (tiny networks reach 10); other backends may keep more or less.
 */
export const RETAINED_FLOATS_PER_OUTPUT = 8.4;

/**
 * Float32 tensors of one shard's [micro-batch, classes] size alive at once
 * in the ArcFace forward and backward passes (cosines, logits, exponentials,
 * probabilities, masks).
 */
const LOGIT_TENSORS = 6;

/** A device's memory for training. */
export interface Device {
  name: string;
  /** Bytes available to TF.js tensors. */
  budgetBytes: number;
  description: string;
}

/**
 * Returns a named device with `reserveBytes` set aside for the runtime (CUDA
 * context, cuDNN workspaces), or a custom budget given in bytes.
 *
 * @throws {RangeError} For an unknown name or a budget that is not positive.
 */
export function deviceBudget(name: string, reserveBytes: number): Device {
  const known: Record<
    string,
    { bytes: number; description: string; reserve: boolean }
  > = {
    "gtx-1080-ti": {
      bytes: 11 * GIB,
      description: "NVIDIA GTX 1080 Ti, 11 GiB",
      reserve: true,
    },
    "h200": { bytes: 141e9, description: "NVIDIA H200, 141 GB", reserve: true },
    // The wasm backend addresses at most 4 GiB of heap.
    "cpu": { bytes: 4 * GIB, description: "wasm heap, 4 GiB", reserve: false },
  };
  const entry = known[name];
  if (entry) {
    const budgetBytes = entry.bytes - (entry.reserve ? reserveBytes : 0);
    return { name, budgetBytes, description: entry.description };
  }
  const bytes = Number(name);
  if (Number.isInteger(bytes) && bytes > 0) {
    return {
      name: "custom",
      budgetBytes: bytes,
      description: `${bytes} bytes`,
    };
  }
  throw new RangeError(
    `Unknown device "${name}": use gtx-1080-ti, h200, cpu, or a budget in bytes such as 8000000000`,
  );
}

/** The predicted peak of one training step, split by the tensors it consists of. */
export interface MemoryEstimate {
  microBatch: number;
  shards: number;
  /** Weights, batch-norm statistics, momentum, gradient sums and one gradient. */
  modelBytes: number;
  /** Class centres with their momentum, gradient sums and one gradient. */
  classifierBytes: number;
  /** Tensors kept for the backward pass of one micro-batch. */
  activationBytes: number;
  /** One shard's logits and their companions. */
  logitBytes: number;
  peakBytes: number;
}

function outputElements(units: readonly ConvUnit[]): number {
  return units.reduce(
    (sum, u) => sum + u.outputSize * u.outputSize * u.outChannels,
    0,
  );
}

/** Predicts the peak bytes of a training step. */
export function estimateMemory(
  model: Pick<
    ModelConfig,
    "input_size" | "width_multiplier" | "embedding_size"
  >,
  options: { microBatch: number; classes: number; shards: number },
): MemoryEstimate {
  const units = mobileFaceNetUnits(model);
  const counts = countModel(units);
  const trainable = counts.parameters + counts.batchNormParameters;
  const movingStatistics = counts.batchNormParameters;
  // weights and moving statistics, plus momentum, gradient sums and a gradient
  const modelBytes = FLOAT_BYTES * (trainable * 4 + movingStatistics);
  const classifierBytes = FLOAT_BYTES * 4 * options.classes *
    model.embedding_size;
  const input = options.microBatch * model.input_size * model.input_size * 3;
  const activationBytes = FLOAT_BYTES *
    (RETAINED_FLOATS_PER_OUTPUT * options.microBatch * outputElements(units) +
      input);
  const shardClasses = Math.ceil(options.classes / options.shards);
  const logitBytes = FLOAT_BYTES * LOGIT_TENSORS * options.microBatch *
    shardClasses;
  return {
    microBatch: options.microBatch,
    shards: options.shards,
    modelBytes,
    classifierBytes,
    activationBytes,
    logitBytes,
    peakBytes: Math.round(
      modelBytes + classifierBytes + activationBytes + logitBytes,
    ),
  };
}

/** A chosen micro-batch and shard count, or the reason none fits. */
export interface MemoryPlan {
  batch: number;
  classes: number;
  device: Device;
  estimate: MemoryEstimate | null;
  accumulationSteps: number | null;
}

/**
 * Chooses the largest micro-batch that divides `batch` and, for it, the
 * fewest shards (up to `maxShards`) whose predicted peak fits the device.
 *
 * @returns The plan; `estimate` is null when even a micro-batch of 1 with
 *     the most shards does not fit.
 */
export function planTraining(
  model: Pick<
    ModelConfig,
    "input_size" | "width_multiplier" | "embedding_size"
  >,
  options: {
    batch: number;
    classes: number;
    device: Device;
    maxShards?: number;
  },
): MemoryPlan {
  const maxShards = Math.min(options.maxShards ?? 64, options.classes);
  const divisors = Array.from(
    { length: options.batch },
    (_, i) => options.batch - i,
  )
    .filter((d) => options.batch % d === 0);
  for (const microBatch of divisors) {
    for (let shards = 1; shards <= maxShards; shards++) {
      const estimate = estimateMemory(model, {
        microBatch,
        classes: options.classes,
        shards,
      });
      if (estimate.peakBytes <= options.device.budgetBytes) {
        return {
          ...options,
          estimate,
          accumulationSteps: options.batch / microBatch,
        };
      }
      // More shards cannot help once the logits are a small share.
      if (estimate.logitBytes < 0.01 * estimate.peakBytes) break;
    }
  }
  return { ...options, estimate: null, accumulationSteps: null };
}

function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** Formats plans as a table, one row per class count. */
export function formatPlans(plans: MemoryPlan[]): string {
  const header = [
    "classes",
    "batch",
    "micro-batch",
    "accumulation",
    "shards",
    "model",
    "classifier",
    "activations",
    "logits",
    "peak",
    "budget",
  ];
  const rows = plans.map((p) => {
    const e = p.estimate;
    if (!e) {
      return [
        String(p.classes),
        String(p.batch),
        "does not fit",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        gib(p.device.budgetBytes),
      ];
    }
    return [
      p.classes.toLocaleString("en-US"),
      String(p.batch),
      String(e.microBatch),
      String(p.accumulationSteps),
      String(e.shards),
      gib(e.modelBytes),
      gib(e.classifierBytes),
      gib(e.activationBytes),
      gib(e.logitBytes),
      gib(e.peakBytes),
      gib(p.device.budgetBytes),
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ].join("\n");
}
