/**
 * Training and inference speed of MobileFaceNet at the paper profile's size
 * (configs/paper.yaml: full width, 112x112, 128-d embedding) on each TF.js
 * backend, beside a
 * PyTorch reference measured in the same run (bench/pytorch_mobilefacenet.py
 * with /usr/bin/python3, when torch is installed).
 *
 * - Training: images per second of whole optimiser steps at batch 16 and 64:
 *   forward, the sharded ArcFace loss over `--classes` centres, backward,
 *   the moving statistics and SGD with momentum. The step is the training
 *   loop's own code (microBatchGradients, SgdMomentum). A batch that does
 *   not fit the backend's memory runs as micro-batches whose gradients are
 *   summed, with the micro-batch chosen by the memory planner.
 * - Inference: images per second at batch 64 with batch norm folded into the
 *   convs, one fused conv, bias and PReLU kernel per unit.
 *
 * Prints a table with the ratios to PyTorch and writes the figures, with the
 * git commit measured, to `results/bench/<date>-<machine>.json` (temporary
 * file, then rename).
 *
 * Usage: deno task bench:speed [--backends wasm,webgpu] [--seconds 10]
 *   [--classes 1000] [--out-dir results/bench] [--no-torch] [--no-write]
 *   [--fallback]
 *
 * A WebGPU adapter that is a software fallback (lavapipe) is skipped unless
 * `--fallback` is given.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/load.ts";
import type { ModelConfig, RuntimeConfig } from "../src/config/types.ts";
import { writeJsonAtomic } from "../src/fs.ts";
import { createClassifierShards } from "../src/loss/classifier.ts";
import { MobileFaceNet } from "../src/model/mobilefacenet.ts";
import { gitState } from "../src/results/provenance.ts";
import { type BackendInfo, selectBackend } from "../src/runtime/backend.ts";
import { deviceBudget, planTraining } from "../src/train/memory_plan.ts";
import { SgdMomentum } from "../src/train/optimizer.ts";
import { microBatchGradients, trainableWeights } from "../src/train/train.ts";

const TRAIN_BATCHES = [16, 64];
const INFER_BATCH = 64;
const SEED = 1;

interface Timing {
  batch: number;
  micro_batch?: number;
  steps: number;
  seconds: number;
  images_per_second: number;
}

interface BackendResult {
  backend: BackendInfo;
  train: Timing[];
  infer: Timing;
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    backends: { type: "string", default: "wasm,webgpu" },
    seconds: { type: "string", default: "10" },
    classes: { type: "string", default: "1000" },
    "out-dir": { type: "string", default: "results/bench" },
    "no-torch": { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    fallback: { type: "boolean", default: false },
  },
});
const minSeconds = Number(flags.seconds);
const classes = Number(flags.classes);
for (
  const [name, value] of [["--seconds", minSeconds], [
    "--classes",
    classes,
  ]] as const
) {
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench: ${name} must be a positive number, got ${value}`);
    Deno.exit(2);
  }
}

// configs/paper.yaml: full width, 112x112, 128-d, ArcFace s = 64, m = 0.5.
const { config } = await loadConfig("configs/paper.yaml");
const modelConfig: ModelConfig = config.model;
const loss = {
  scale: config.loss.scale,
  margin: config.loss.margin,
  easyMargin: config.loss.easy_margin,
};

/** Runs `step` until `minSeconds` have passed, at least twice, after one warm-up. */
async function timeRepeated(
  step: () => Promise<void>,
): Promise<{ steps: number; seconds: number }> {
  await step();
  let steps = 0;
  const start = performance.now();
  while (steps < 2 || (performance.now() - start) / 1000 < minSeconds) {
    await step();
    steps++;
  }
  return { steps, seconds: (performance.now() - start) / 1000 };
}

function seededImages(batch: number): tf.Tensor4D {
  const size = modelConfig.input_size;
  return tf.randomUniform([batch, size, size, 3], -1, 1, "float32", SEED);
}

async function timeTraining(
  batch: number,
  microBatch: number,
): Promise<Timing> {
  const model = await MobileFaceNet.create(modelConfig, SEED);
  const shards = await createClassifierShards(
    classes,
    modelConfig.embedding_size,
    1,
    SEED,
  );
  const weights = trainableWeights(model, shards, config.train);
  const optimizer = new SgdMomentum(weights, config.train.momentum);
  const variables = weights.map((w) => w.variable);
  const shardTensors = shards.map((s) =>
    s.variable as tf.Tensor as tf.Tensor2D
  );
  const images = seededImages(microBatch);
  const labels = tf.tensor1d(
    Array.from({ length: microBatch }, (_, i) => (i * 7919) % classes),
    "int32",
  );
  const timed = await timeRepeated(async () => {
    for (let micro = 0; micro < batch / microBatch; micro++) {
      const result = microBatchGradients(
        model,
        shardTensors,
        variables,
        { images, labels },
        loss,
      );
      await result.value.data();
      optimizer.accumulate(result.grads);
      model.updateMovingStatistics(result.moments);
      tf.dispose([
        result.value,
        result.accuracy,
        ...Object.values(result.grads),
      ]);
    }
    optimizer.step(0.01);
    // Waits for the update, so the next step starts on finished weights.
    await variables[0].data();
  });
  optimizer.dispose();
  tf.dispose([images, labels, ...shardTensors]);
  model.dispose();
  return {
    batch,
    micro_batch: microBatch,
    ...timed,
    images_per_second: (batch * timed.steps) / timed.seconds,
  };
}

async function timeInference(): Promise<Timing> {
  const trained = await MobileFaceNet.create(modelConfig, SEED);
  const model = await trained.fold();
  trained.dispose();
  const images = seededImages(INFER_BATCH);
  const timed = await timeRepeated(async () => {
    const embeddings = tf.tidy(() => model.apply(images, false).embeddings);
    await embeddings.data();
    embeddings.dispose();
  });
  images.dispose();
  model.dispose();
  return {
    batch: INFER_BATCH,
    ...timed,
    images_per_second: (INFER_BATCH * timed.steps) / timed.seconds,
  };
}

/** Returns the micro-batch the memory planner picks for a backend and batch. */
function microBatchFor(backend: BackendInfo, batch: number): number {
  // The wasm heap is capped at 4 GiB; other backends are given the batch.
  if (backend.name !== "wasm") return batch;
  const plan = planTraining(modelConfig, {
    batch,
    classes,
    device: deviceBudget("cpu", 0),
  });
  return plan.estimate === null ? 1 : batch / plan.accumulationSteps!;
}

async function measureBackend(name: string): Promise<BackendResult | null> {
  const runtime: RuntimeConfig = {
    backend: name as RuntimeConfig["backend"],
    threads: 0,
  };
  let backend: BackendInfo;
  try {
    backend = await selectBackend(runtime, "train");
  } catch (error) {
    console.error(`bench: skipping ${name}: ${(error as Error).message}`);
    return null;
  }
  if (backend.fallbackAdapter && backend.name === "webgpu" && !flags.fallback) {
    console.error(
      `bench: skipping webgpu: its adapter "${backend.adapter}" is a software fallback that runs on the CPU, far slower than wasm; pass --fallback to measure it anyway`,
    );
    return null;
  }
  const train: Timing[] = [];
  for (const batch of TRAIN_BATCHES) {
    const timing = await timeTraining(batch, microBatchFor(backend, batch));
    console.error(
      `bench: ${name} train batch ${batch}: ${
        timing.images_per_second.toFixed(1)
      } images/s`,
    );
    train.push(timing);
  }
  const infer = await timeInference();
  console.error(
    `bench: ${name} infer batch ${INFER_BATCH}: ${
      infer.images_per_second.toFixed(1)
    } images/s`,
  );
  return { backend, train, infer };
}

interface TorchResult {
  version: string;
  threads: number;
  train: Timing[];
  infer: Timing;
}

async function measureTorch(threads: number): Promise<TorchResult | null> {
  const python = "/usr/bin/python3";
  const script = new URL("./pytorch_mobilefacenet.py", import.meta.url)
    .pathname;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(python, {
      args: [
        script,
        "--threads",
        String(threads),
        "--classes",
        String(classes),
        "--min-seconds",
        String(minSeconds),
        "--input-size",
        String(modelConfig.input_size),
        "--embedding",
        String(modelConfig.embedding_size),
        "--train-batch",
        ...TRAIN_BATCHES.map(String),
        "--infer-batch",
        String(INFER_BATCH),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    console.error(
      `bench: no PyTorch reference: cannot run ${python}: ${
        (error as Error).message
      }`,
    );
    return null;
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    console.error(
      `bench: no PyTorch reference: ${python} ${script} failed: ${
        stderr.split("\n").at(-1)
      } (install python3-torch for the comparison)`,
    );
    return null;
  }
  const parsed = JSON.parse(new TextDecoder().decode(output.stdout));
  return {
    version: parsed.version,
    threads: parsed.threads,
    train: parsed.train.map((t: Record<string, number>) => ({
      batch: t.batch,
      steps: t.steps,
      seconds: t.seconds,
      images_per_second: t.images_per_second,
    })),
    infer: {
      batch: parsed.infer.batch,
      steps: parsed.infer.calls,
      seconds: parsed.infer.seconds,
      images_per_second: parsed.infer.images_per_second,
    },
  };
}

function machineName(): string {
  const model = cpus()[0]?.model ?? "cpu";
  const slug = model.toLowerCase().replace(/\(r\)|\(tm\)|cpu|@.*$/g, "")
    .trim().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${slug}-${navigator.hardwareConcurrency}c`;
}

const threads = navigator.hardwareConcurrency;
const results: BackendResult[] = [];
for (const name of flags.backends.split(",").map((b) => b.trim())) {
  const result = await measureBackend(name);
  if (result !== null) results.push(result);
}
const torch = flags["no-torch"] ? null : await measureTorch(threads);

const ratio = (ours: number, theirs: number | undefined) =>
  theirs === undefined ? null : ours / theirs;
interface Row {
  backend: string;
  measure: string;
  images_per_second: number;
  ratio: number | null;
}
const rows: Row[] = results.flatMap((r): Row[] => [
  ...r.train.map((t, i) => ({
    backend: r.backend.name,
    measure: `train batch ${t.batch}` +
      (t.micro_batch !== t.batch ? ` (micro ${t.micro_batch})` : ""),
    images_per_second: t.images_per_second,
    ratio: ratio(t.images_per_second, torch?.train[i]?.images_per_second),
  })),
  {
    backend: r.backend.name,
    measure: `infer batch ${r.infer.batch}, BN folded`,
    images_per_second: r.infer.images_per_second,
    ratio: ratio(r.infer.images_per_second, torch?.infer.images_per_second),
  },
]);
if (torch !== null) {
  rows.push(
    ...torch.train.map((t) => ({
      backend: `pytorch ${torch.version}`,
      measure: `train batch ${t.batch}`,
      images_per_second: t.images_per_second,
      ratio: 1,
    })),
    {
      backend: `pytorch ${torch.version}`,
      measure: `infer batch ${torch.infer.batch}, BN folded`,
      images_per_second: torch.infer.images_per_second,
      ratio: 1,
    },
  );
}
console.log(
  `MobileFaceNet ${modelConfig.input_size}x${modelConfig.input_size}, width ${modelConfig.width_multiplier}, ${classes} classes; ${machineName()}`,
);
console.log("| backend | measure | images/s | ratio to PyTorch |");
console.log("| --- | --- | ---: | ---: |");
for (const row of rows) {
  console.log(
    `| ${row.backend} | ${row.measure} | ${
      row.images_per_second.toFixed(1)
    } | ${row.ratio === null ? "n/a" : row.ratio.toFixed(2)} |`,
  );
}

if (!flags["no-write"]) {
  const date = new Date().toISOString().slice(0, 10);
  const path = join(flags["out-dir"], `${date}-${machineName()}.json`);
  await Deno.mkdir(flags["out-dir"], { recursive: true });
  await writeJsonAtomic(path, {
    schema_version: 1,
    date: new Date().toISOString(),
    git: await gitState(),
    machine: {
      name: machineName(),
      cpu: cpus()[0]?.model ?? null,
      logical_cores: threads,
      os: `${Deno.build.os} ${Deno.build.arch}`,
      deno: Deno.version.deno,
    },
    model: {
      input_size: modelConfig.input_size,
      width_multiplier: modelConfig.width_multiplier,
      embedding_size: modelConfig.embedding_size,
      classes,
    },
    min_seconds: minSeconds,
    backends: results,
    pytorch: torch,
    ratios: rows.filter((r) => !r.backend.startsWith("pytorch")),
  });
  console.log(`written ${path}`);
}
