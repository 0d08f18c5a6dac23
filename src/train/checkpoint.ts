/**
 * Training checkpoints: every weight, classifier shard and momentum buffer
 * by name in one safetensors file, with the step, the sampler position and
 * the resolved configuration in its metadata. Written atomically, so a
 * killed run always leaves its last complete checkpoint.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { NamedArray } from "../safetensors.ts";
import { readSafetensors, writeSafetensors } from "../safetensors.ts";
import type { SamplerPosition } from "./batches.ts";
import type { ModelConfig } from "../config/types.ts";
import { MobileFaceNet } from "../model/mobilefacenet.ts";

/** Training state a checkpoint records besides the tensors. */
export interface CheckpointState {
  /** Optimiser steps completed. */
  step: number;
  position: SamplerPosition;
  configSha256: string;
  configYaml: string;
}

/** Returns the file name of the checkpoint after `step` steps. */
export function checkpointPath(dir: string, step: number): string {
  return join(dir, `step_${String(step).padStart(8, "0")}.safetensors`);
}

/** Writes the named variables and state to `path`. */
export async function saveCheckpoint(
  path: string,
  variables: { name: string; variable: tf.Variable }[],
  state: CheckpointState,
): Promise<void> {
  const arrays: NamedArray[] = [];
  for (const { name, variable } of variables) {
    arrays.push({
      name,
      shape: variable.shape,
      data: (await variable.data()) as Float32Array,
    });
  }
  await writeSafetensors(path, arrays, {
    format: "mobilefacenet-checkpoint-1",
    step: String(state.step),
    epoch: String(state.position.epoch),
    offset: String(state.position.offset),
    config_sha256: state.configSha256,
    config_yaml: state.configYaml,
  });
}

/**
 * Loads a checkpoint into the given variables.
 *
 * @throws {Error} When a variable is missing from the file or has another
 *     shape, naming both.
 */
export async function loadCheckpoint(
  path: string,
  variables: { name: string; variable: tf.Variable }[],
): Promise<CheckpointState> {
  const { arrays, metadata } = await readSafetensors(path);
  for (const { name, variable } of variables) {
    const array = arrays.get(name);
    if (!array) {
      throw new InputError(
        `Cannot load checkpoint "${path}": tensor "${name}" is missing`,
      );
    }
    if (array.shape.join(",") !== variable.shape.join(",")) {
      throw new InputError(
        `Cannot load checkpoint "${path}": tensor "${name}" has shape [${array.shape}], the model expects [${variable.shape}]: ` +
          "the file was written for other model settings; use the config.yaml of the run that trained it (--config)",
      );
    }
    tf.tidy(() =>
      variable.assign(tf.tensor(array.data as Float32Array, variable.shape))
    );
  }
  return {
    step: Number(metadata.step),
    position: {
      epoch: Number(metadata.epoch),
      offset: Number(metadata.offset),
    },
    configSha256: metadata.config_sha256,
    configYaml: metadata.config_yaml,
  };
}

/** Returns the step of a checkpoint from its file name `step_NNNNNNNN.safetensors`. */
export function checkpointStep(path: string): number {
  const match = /step_(\d{8})\.safetensors$/.exec(path);
  if (!match) {
    throw new RangeError(
      `Invalid checkpoint name "${path}": expected step_NNNNNNNN.safetensors`,
    );
  }
  return Number(match[1]);
}

/** Returns the newest checkpoint in `dir`, or null when there is none. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /^step_\d{8}\.safetensors$/.test(entry.name)) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  names.sort();
  return names.length > 0 ? join(dir, names[names.length - 1]) : null;
}

/**
 * Builds a MobileFaceNet and loads trained weights into it (the
 * `model.safetensors` a run writes, or any training checkpoint).
 *
 * The caller disposes the model.
 */
export async function loadTrainedModel(
  config: ModelConfig,
  path: string,
): Promise<MobileFaceNet> {
  const model = await MobileFaceNet.create(config, 0);
  try {
    await loadCheckpoint(
      path,
      model.namedVariables().map((v) => ({
        name: v.name,
        variable: v.variable,
      })),
    );
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/**
 * Loads trained weights as {@linkcode loadTrainedModel} does and folds batch
 * norm into the convs for inference ({@linkcode MobileFaceNet.fold}): one
 * fused conv, bias and PReLU kernel per unit instead of four ops.
 *
 * The caller disposes the model.
 */
export async function loadFoldedModel(
  config: ModelConfig,
  path: string,
): Promise<MobileFaceNet> {
  const trained = await loadTrainedModel(config, path);
  try {
    return await trained.fold();
  } finally {
    trained.dispose();
  }
}
