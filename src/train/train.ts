/**
 * The training loop: MobileFaceNet with the sharded ArcFace head, SGD with
 * momentum over effective batches made of micro-batches, the step schedule,
 * seeded batches, JSON-lines logging, checkpoints and resume.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { InputError } from "../errors.ts";
import { arcFaceLoss } from "../loss/arcface.ts";
import { createClassifierShards } from "../loss/classifier.ts";
import { MobileFaceNet } from "../model/mobilefacenet.ts";
import { formatDuration } from "../progress.ts";
import type { Reporter } from "../report.ts";
import { BatchSampler, type TrainingSet } from "./batches.ts";
import {
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { SgdMomentum, type TrainableWeight } from "./optimizer.ts";
import { estimateMemory } from "./memory_plan.ts";
import { learningRateAt } from "./schedule.ts";

/** One line of `train.jsonl`. */
export interface StepRecord {
  step: number;
  epoch: number;
  lr: number;
  loss: number;
  accuracy: number;
  images_per_second: number;
}

/** Figures of a finished training run, as written to metrics.json. */
export interface TrainSummary {
  steps: number;
  effective_batch: number;
  micro_batch: number;
  accumulation_steps: number;
  arcface_shards: number;
  /** Mean loss over the last `log_every` steps (or fewer, for short runs). */
  final_loss: number;
  images_per_second: number;
  /**
   * `planned`: the memory plan's prediction for this run's micro-batch,
   * classes and shards. `measured`: bytes held by TF.js tensors, sampled
   * after each forward pass and after each gradient computation.
   * NOTE: The sample misses transient peaks inside the backward pass, so it
   * is a lower bound on the true peak.
   */
  peak_memory_bytes: { planned: number; measured: number };
  /** Path of the final weights (model only, safetensors). */
  model_path: string;
  resumed_from_step: number | null;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  config: Config;
  configSha256: string;
  configYaml: string;
  data: TrainingSet;
  /** Folder for checkpoints and the final weights. */
  artifactsDir: string;
  reporter: Reporter;
  /** Continue from the newest checkpoint in artifactsDir/checkpoints. */
  resume?: boolean;
  /**
   * Called once the checkpoint of a resumed run has loaded, with its step,
   * before any new step runs.
   */
  onResume?: (step: number) => Promise<void>;
  /**
   * Stops training once aborted: the optimiser step in progress finishes,
   * its checkpoint is written, and {@linkcode train} throws
   * {@linkcode TrainingInterruptedError}.
   */
  signal?: AbortSignal;
}

/** Training stopped on request after a complete step and its checkpoint. */
export class TrainingInterruptedError extends Error {
  /** Optimiser steps completed and saved. */
  readonly step: number;
  readonly totalSteps: number;
  /** The checkpoint of `step`. */
  readonly checkpoint: string;

  /**
   * @param resumeHint How to continue, appended after a colon when given.
   */
  constructor(
    step: number,
    totalSteps: number,
    checkpoint: string,
    resumeHint?: string,
  ) {
    super(
      `Training interrupted after step ${step} of ${totalSteps}: checkpoint "${checkpoint}" written` +
        (resumeHint === undefined ? "" : `: ${resumeHint}`),
    );
    this.name = "TrainingInterruptedError";
    this.step = step;
    this.totalSteps = totalSteps;
    this.checkpoint = checkpoint;
  }
}

/** A non-finite loss; training stops at once, keeping the last checkpoint. */
export class NonFiniteLossError extends Error {
  constructor(step: number, micro: number, loss: number, lr: number) {
    super(
      `Training stopped: loss is ${loss} at step ${step}, micro-batch ${micro}, learning rate ${lr}: ` +
        "lower train.learning_rate or loss.scale, or raise train.warmup_steps",
    );
    this.name = "NonFiniteLossError";
  }
}

/**
 * Lists the weights SGD updates, each with its weight decay: the paper's
 * `weight_decay` for the body's conv weights, `head_weight_decay` for the
 * layers after the global operator and the classifier, none for batch-norm
 * and PReLU parameters.
 */
export function trainableWeights(
  model: MobileFaceNet,
  shards: { name: string; variable: tf.Variable }[],
  config: Pick<Config["train"], "weight_decay" | "head_weight_decay">,
): TrainableWeight[] {
  return [
    ...model.namedVariables().filter((v) => v.trainable).map((v) => ({
      name: v.name,
      variable: v.variable,
      weightDecay: v.decay
        ? (v.group === "head" ? config.head_weight_decay : config.weight_decay)
        : 0,
    })),
    // The classifier comes after the global operator: the head's decay.
    ...shards.map((s) => ({
      name: s.name,
      variable: s.variable,
      weightDecay: config.head_weight_decay,
    })),
  ];
}

/** The result of one micro-batch's forward and backward pass. */
export interface MicroBatchResult {
  /** The mean ArcFace loss. */
  value: tf.Scalar;
  /** Top-1 accuracy of the ArcFace logits without the margin. */
  accuracy: tf.Scalar;
  /** Gradient of the loss for each variable, keyed by variable name. */
  grads: tf.NamedTensorMap;
  /** Batch moments of every unit, for the moving statistics. */
  moments: ReturnType<MobileFaceNet["apply"]>["moments"];
}

/**
 * Runs MobileFaceNet and the sharded ArcFace loss on one micro-batch and
 * differentiates the loss for `variables`. `onForward` runs once the loss is
 * computed, before the backward pass. The caller disposes every tensor of
 * the result. `train` runs it, and so does the speed benchmark.
 */
export function microBatchGradients(
  model: MobileFaceNet,
  shards: tf.Tensor2D[],
  variables: tf.Variable[],
  batch: { images: tf.Tensor4D; labels: tf.Tensor1D },
  loss: { scale: number; margin: number; easyMargin: boolean },
  onForward?: () => void,
): MicroBatchResult {
  let moments: MicroBatchResult["moments"] = [];
  let accuracy: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const forward = model.apply(batch.images, true);
    moments = forward.moments;
    const result = arcFaceLoss(forward.embeddings, shards, batch.labels, loss);
    accuracy = result.accuracy;
    onForward?.();
    return result.loss;
  }, variables);
  return { value, accuracy: accuracy!, grads, moments };
}

/**
 * Trains MobileFaceNet with ArcFace and returns the summary.
 *
 * NOTE: Batch-norm statistics come from each micro-batch, not from the
 * effective batch, so accumulation matches one large batch exactly only for
 * a network without batch norm.
 *
 * @throws {NonFiniteLossError} When a micro-batch loss is NaN or infinite.
 * @throws {TrainingInterruptedError} When `options.signal` aborts before the
 *   last step.
 */
export async function train(options: TrainOptions): Promise<TrainSummary> {
  const { config, data, reporter } = options;
  const trainConfig = config.train;
  const checkpointDir = join(options.artifactsDir, "checkpoints");
  const microBatch = trainConfig.micro_batch_size;
  const accumulationSteps = trainConfig.batch_size / microBatch;
  if (data.size !== config.model.input_size) {
    throw new TypeError(
      `Cannot train: images are ${data.size}x${data.size}, model.input_size is ${config.model.input_size}`,
    );
  }

  // model, classifier shards and optimiser, all seeded
  const model = await MobileFaceNet.create(config.model, config.seed);
  const shards = await createClassifierShards(
    data.numClasses,
    config.model.embedding_size,
    config.loss.shards,
    config.seed,
  );
  const trainable = trainableWeights(model, shards, trainConfig);
  const optimizer = new SgdMomentum(trainable, trainConfig.momentum);
  const checkpointed = [
    ...model.namedVariables().map((v) => ({
      name: v.name,
      variable: v.variable,
    })),
    ...shards,
    ...optimizer.velocities(),
  ];

  let startStep = 0;
  let sampler = new BatchSampler(data, config.seed);
  let resumedFrom: number | null = null;
  if (options.resume) {
    const latest = await latestCheckpoint(checkpointDir);
    if (latest === null) {
      throw new InputError(
        `Cannot resume: no checkpoint in "${checkpointDir}": start the run without --resume`,
      );
    }
    const state = await loadCheckpoint(latest, checkpointed);
    if (state.configSha256 !== options.configSha256) {
      throw new InputError(
        `Cannot resume from "${latest}": it was written with config ${
          state.configSha256.slice(0, 8)
        }, ` +
          `this run's config is ${
            options.configSha256.slice(0, 8)
          }: resume with the run's own config.yaml`,
      );
    }
    if (state.step >= trainConfig.steps) {
      throw new InputError(
        `Cannot resume from "${latest}": the run already finished its ${trainConfig.steps} steps`,
      );
    }
    startStep = state.step;
    await options.onResume?.(state.step);
    resumedFrom = state.step;
    sampler = new BatchSampler(data, config.seed, state.position);
    reporter.info(`resumed from ${latest} at step ${startStep}`);
  }

  const variableList = trainable.map((w) => w.variable);
  const shardTensors = shards.map((s) =>
    s.variable as tf.Tensor as tf.Tensor2D
  );
  const lossOptions = {
    scale: config.loss.scale,
    margin: config.loss.margin,
    easyMargin: config.loss.easy_margin,
  };
  const totalSteps = trainConfig.steps;
  const recentLosses: number[] = [];
  let peakBytes = 0;
  let imagesSeen = 0;
  let window = {
    loss: 0,
    accuracy: 0,
    count: 0,
    images: 0,
    start: performance.now(),
  };
  const runStart = performance.now();

  const save = async (step: number) => {
    await saveCheckpoint(checkpointPath(checkpointDir, step), checkpointed, {
      step,
      position: sampler.position,
      configSha256: options.configSha256,
      configYaml: options.configYaml,
    });
  };

  for (let step = startStep; step < totalSteps; step++) {
    // set the learning rate of this step
    const lr = learningRateAt(step, trainConfig);

    // forward and backward over the micro-batches, summing gradients
    let stepLoss = 0;
    let stepAccuracy = 0;
    for (let micro = 0; micro < accumulationSteps; micro++) {
      const batch = await sampler.next(
        microBatch,
        `train/flip/step${step}/micro${micro}`,
      );
      const { value, accuracy: accuracyTensor, grads, moments: keptMoments } =
        microBatchGradients(
          model,
          shardTensors,
          variableList,
          batch,
          lossOptions,
          () => peakBytes = Math.max(peakBytes, tf.memory().numBytes),
        );
      peakBytes = Math.max(peakBytes, tf.memory().numBytes);
      const loss = (await value.data())[0];
      const accuracy = (await accuracyTensor.data())[0];
      if (!Number.isFinite(loss)) {
        tf.dispose([
          value,
          accuracyTensor,
          batch.images,
          batch.labels,
          ...Object.values(grads),
        ]);
        for (const m of keptMoments) tf.dispose([m.mean, m.variance]);
        // Steps are reported counted from 1, as in train.jsonl.
        throw new NonFiniteLossError(step + 1, micro, loss, lr);
      }
      optimizer.accumulate(grads);
      model.updateMovingStatistics(keptMoments);
      tf.dispose([
        value,
        accuracyTensor,
        batch.images,
        batch.labels,
        ...Object.values(grads),
      ]);
      stepLoss += loss / accumulationSteps;
      stepAccuracy += accuracy / accumulationSteps;
    }

    // apply the mean gradient of the effective batch
    optimizer.step(lr);
    imagesSeen += trainConfig.batch_size;
    recentLosses.push(stepLoss);
    if (recentLosses.length > trainConfig.log_every) recentLosses.shift();
    window.loss += stepLoss;
    window.accuracy += stepAccuracy;
    window.count += 1;
    window.images += trainConfig.batch_size;

    // log every log_every steps and at the end
    const done = step + 1;
    if (done % trainConfig.log_every === 0 || done === totalSteps) {
      const seconds = (performance.now() - window.start) / 1000;
      const record: StepRecord = {
        step: done,
        epoch: sampler.position.epoch,
        lr,
        loss: window.loss / window.count,
        accuracy: window.accuracy / window.count,
        images_per_second: window.images / seconds,
      };
      reporter.record({ ...record });
      const elapsed = (performance.now() - runStart) / 1000;
      const eta = ((totalSteps - done) * elapsed) / (done - startStep);
      reporter.info(
        `step ${done}/${totalSteps}  loss ${record.loss.toFixed(3)}  acc ${
          (100 * record.accuracy).toFixed(1)
        }%  ` +
          `lr ${lr}  ${record.images_per_second.toFixed(1)} img/s  eta ${
            formatDuration(eta)
          }`,
      );
      window = {
        loss: 0,
        accuracy: 0,
        count: 0,
        images: 0,
        start: performance.now(),
      };
    }

    // checkpoint every checkpoint_every steps and at the end
    const checkpointDue = done % trainConfig.checkpoint_every === 0 ||
      done === totalSteps;
    if (checkpointDue) await save(done);

    // stop here when interrupted, with this step checkpointed
    if (options.signal?.aborted && done < totalSteps) {
      if (!checkpointDue) await save(done);
      optimizer.dispose();
      tf.dispose(shardTensors);
      model.dispose();
      throw new TrainingInterruptedError(
        done,
        totalSteps,
        checkpointPath(checkpointDir, done),
      );
    }
  }

  const modelPath = join(options.artifactsDir, "model.safetensors");
  await saveCheckpoint(
    modelPath,
    model.namedVariables().map((v) => ({ name: v.name, variable: v.variable })),
    {
      step: totalSteps,
      position: sampler.position,
      configSha256: options.configSha256,
      configYaml: options.configYaml,
    },
  );
  const seconds = (performance.now() - runStart) / 1000;
  optimizer.dispose();
  tf.dispose(shardTensors);
  model.dispose();
  return {
    steps: totalSteps,
    effective_batch: trainConfig.batch_size,
    micro_batch: microBatch,
    accumulation_steps: accumulationSteps,
    arcface_shards: shards.length,
    final_loss: recentLosses.reduce((a, b) => a + b, 0) /
      Math.max(1, recentLosses.length),
    images_per_second: imagesSeen / seconds,
    peak_memory_bytes: {
      planned: estimateMemory(config.model, {
        microBatch,
        classes: data.numClasses,
        shards: shards.length,
      }).peakBytes,
      measured: peakBytes,
    },
    model_path: modelPath,
    resumed_from_step: resumedFrom,
  };
}
