/**
 * The whole pipeline into one run folder: dataset, training, evaluation and
 * results, with provenance written before any work and metrics after each
 * stage.
 *
 * @module
 */

import { basename, dirname, extname, join } from "node:path";
import type { ResolvedConfig } from "../config/load.ts";
import { sha256File } from "../hash.ts";
import { countModel, mobileFaceNetUnits } from "../model/architecture.ts";
import type { Reporter } from "../report.ts";
import { selectBackend } from "../runtime/backend.ts";
import { loadFoldedModel } from "../train/checkpoint.ts";
import type { TrainSummary } from "../train/train.ts";
import { type RunContext, saveMetrics, startRun } from "./context.ts";
import { type DatasetStageResult, runDatasetStage } from "./dataset_stage.ts";
import { evaluateSet, prepareEvalSets } from "./eval_stage.ts";
import { EvalAligner } from "./eval_align.ts";
import type { Config } from "../config/types.ts";
import type { MobileFaceNet } from "../model/mobilefacenet.ts";
import {
  assetPaths,
  assetProblems,
  requireAssets,
} from "../pretrained/assets.ts";
import { loadPretrainedMobileFaceNet } from "../pretrained/mobilefacenet.ts";
import { checkInputs } from "./preflight.ts";
import { runTrainStage } from "./train_stage.ts";

/** Options of {@linkcode reproduce}. */
export interface ReproduceOptions {
  resolved: ResolvedConfig;
  resultsDir: string;
  runId?: string;
  reporter: Reporter;
  command: string[];
}

/** Returns a path relative to the run folder when it lies inside it. */
function relativeToRun(context: RunContext, path: string): string {
  return path.startsWith(context.runDir + "/")
    ? path.slice(context.runDir.length + 1)
    : path;
}

/** Runs stage 1 and records its counts, hashes and the model's size. */
export async function datasetStep(
  context: RunContext,
): Promise<DatasetStageResult> {
  const { provenance, metrics, reporter } = context;
  const { config } = context.resolved;
  await provenance.start("dataset");
  const dataset = await runDatasetStage(config, reporter);
  const manifestPath = join(dataset.dir, "manifest.jsonl");
  provenance.provenance.dataset_manifest_sha256 =
    dataset.summary.manifest_sha256;
  await provenance.end("dataset", {
    skipped: dataset.skipped,
    artifacts: {
      manifest: { path: manifestPath, sha256: await sha256File(manifestPath) },
    },
  });
  const { by_rule } = dataset.summary;
  metrics.dataset = {
    identities_in: dataset.summary.identities_in,
    images_in: dataset.summary.images_in,
    identities_kept: dataset.summary.identities_kept,
    images_out: dataset.summary.images_out,
    by_rule: {
      sampled_350: by_rule.sampled_350,
      kept: by_rule.kept,
      kept_opened: by_rule.kept_opened,
      kept_opened_noised: by_rule.kept_opened_noised,
      dropped: by_rule.dropped,
    },
    manifest_sha256: dataset.summary.manifest_sha256,
  };
  const counts = countModel(mobileFaceNetUnits(config.model));
  metrics.model = {
    name: config.model.name,
    parameters: counts.parameters,
    multiply_adds: counts.multiplyAdds,
    embedding_size: config.model.embedding_size,
  };
  await saveMetrics(context);
  reporter.info(
    `dataset: ${dataset.summary.images_out} images of ${dataset.summary.identities_kept} identities ` +
      `(from ${dataset.summary.images_in} images of ${dataset.summary.identities_in})`,
  );
  return dataset;
}

/** One artefact's entry in provenance.json. */
type Artifact = { path: string; sha256: string };

/** Hashes a file of the run for provenance.json. */
async function artifact(context: RunContext, path: string): Promise<Artifact> {
  return { path: relativeToRun(context, path), sha256: await sha256File(path) };
}

/**
 * Lists what training wrote, by role: the final weights (`model`), every
 * checkpoint (`checkpoint_<step>`, step zero-padded to 8 digits) and the
 * training log (`train_log`) and its plot (`loss_plot`).
 */
async function trainArtifacts(
  context: RunContext,
  modelPath: string,
): Promise<Record<string, Artifact>> {
  const artifacts: Record<string, Artifact> = {
    model: await artifact(context, modelPath),
  };
  const checkpointDir = join(context.artifactsDir, "checkpoints");
  const names: string[] = [];
  for await (const entry of Deno.readDir(checkpointDir)) {
    if (entry.isFile && /^step_\d{8}\.safetensors$/.test(entry.name)) {
      names.push(entry.name);
    }
  }
  for (const name of names.sort()) {
    const role = `checkpoint_${name.slice("step_".length, "step_".length + 8)}`;
    artifacts[role] = await artifact(context, join(checkpointDir, name));
  }
  artifacts.train_log = await artifact(
    context,
    join(context.runDir, "train.jsonl"),
  );
  artifacts.loss_plot = await artifact(
    context,
    join(context.runDir, "loss.svg"),
  );
  return artifacts;
}

/** Runs stage 2 on the built set and records the training figures. */
export async function trainStep(
  context: RunContext,
  datasetDir: string,
  options: { resume?: boolean } = {},
): Promise<TrainSummary> {
  const { provenance, metrics, reporter } = context;
  const { config } = context.resolved;
  const backend = await selectBackend(config.runtime, "train");
  reporter.info(`train backend: ${backend.name} (${backend.reason})`);
  await provenance.start("train");
  const summary = await runTrainStage(context, datasetDir, backend, options);
  await provenance.end("train", {
    backend: { ...backend },
    artifacts: await trainArtifacts(context, summary.model_path),
  });
  metrics.train = {
    steps: summary.steps,
    effective_batch: summary.effective_batch,
    micro_batch: summary.micro_batch,
    accumulation_steps: summary.accumulation_steps,
    arcface_shards: summary.arcface_shards,
    final_loss: summary.final_loss,
    images_per_second: summary.images_per_second,
    peak_memory_bytes: { ...summary.peak_memory_bytes },
  };
  await saveMetrics(context);
  return summary;
}

/**
 * Returns the path of one set's copy of the pair embeddings requested with
 * `--dump-embeddings FILE`: FILE itself when one set is evaluated, otherwise
 * FILE with `.<set>` inserted before its extension, such as
 * `emb.lfw.safetensors` for `emb.safetensors`.
 *
 * @param path The FILE given.
 * @param setName The set's name.
 * @param setCount Number of sets evaluated.
 */
export function embeddingsCopyPath(
  path: string,
  setName: string,
  setCount: number,
): string {
  if (setCount === 1) return path;
  const extension = extname(path);
  const stem = basename(path, extension);
  return join(dirname(path), `${stem}.${setName}${extension}`);
}

/** Options of {@linkcode evaluateStep}. */
export interface EvaluateStepOptions {
  /** `--dump-embeddings FILE`: a copy of each set's pair embeddings. */
  dumpEmbeddings?: string;
}

/** `--model pretrained`: the imported reference model instead of a file. */
export const PRETRAINED_MODEL = "pretrained";

/**
 * Loads the pretrained MobileFaceNet when its weights are in place, or
 * returns null (saying why once) so that a run without them still evaluates.
 */
async function loadReference(
  config: Config,
  reporter: Reporter,
): Promise<MobileFaceNet | null> {
  const problems = await assetProblems(config.assets.dir);
  if (problems.length > 0) {
    reporter.info(
      `no pretrained reference: ${
        problems[0]
      } (run \`deno task assets\` to evaluate it beside the trained model)`,
    );
    return null;
  }
  // assetProblems has just hashed the files, so they are not hashed again.
  return await loadPretrainedMobileFaceNet(
    assetPaths(config.assets.dir).mobilefacenet,
  );
}

/**
 * Runs stage 3: every configured set with the model at `modelPath` (or the
 * pixel reference alone when it is null), recording metrics per set and the
 * model's pair embeddings of each set as the artefact `embeddings_<set>`.
 */
export async function evaluateStep(
  context: RunContext,
  modelPath: string | null,
  synthetic: DatasetStageResult["synthetic"],
  options: EvaluateStepOptions = {},
): Promise<void> {
  const { provenance, metrics, reporter } = context;
  const { config } = context.resolved;
  const backend = await selectBackend(config.runtime, "infer");
  reporter.info(`evaluation backend: ${backend.name} (${backend.reason})`);
  await provenance.start("evaluate");
  const sources = await prepareEvalSets(
    config,
    synthetic,
    context.artifactsDir,
    reporter,
  );
  const pretrained = modelPath === PRETRAINED_MODEL;
  const model = modelPath === null
    ? null
    : pretrained
    ? await loadPretrainedMobileFaceNet(
      (await requireAssets(config.assets.dir)).mobilefacenet,
    )
    : await loadFoldedModel(config.model, modelPath);
  // The pretrained model is the reference, unless it is the model evaluated.
  const reference = pretrained ? null : await loadReference(config, reporter);
  const aligner = config.eval.sets.some((set) => set.align === "mtcnn")
    ? await EvalAligner.load(config)
    : null;
  const artifacts: Record<string, Artifact> = {};
  try {
    for (const source of sources) {
      const result = await evaluateSet(source, {
        config,
        model,
        reference,
        aligner,
        ...(pretrained ? { modelLabel: "pretrained MobileFaceNet" } : {}),
        runDir: context.runDir,
        reporter,
        embeddingsCopyPath: options.dumpEmbeddings === undefined
          ? undefined
          : embeddingsCopyPath(
            options.dumpEmbeddings,
            source.name,
            sources.length,
          ),
      });
      if (result.embeddingsPath !== null) {
        artifacts[`embeddings_${source.name}`] = {
          path: relativeToRun(context, result.embeddingsPath),
          sha256: await sha256File(result.embeddingsPath),
        };
      }
      if (result.model) {
        (metrics.eval ??= {})[source.name] = result.model.metrics;
      }
      if (result.pixels) {
        (metrics.pixel_baseline ??= {})[source.name] = {
          model: "pixels",
          ...result.pixels.metrics,
        };
      }
      if (result.reference) {
        (metrics.reference ??= {})[source.name] = {
          model: "pretrained",
          ...result.reference.metrics,
        };
      }
      const plot = join(context.runDir, `${source.name}.roc.svg`);
      if (result.model || result.pixels) {
        artifacts[`roc_plot_${source.name}`] = await artifact(context, plot);
      }
      await saveMetrics(context);
    }
  } finally {
    model?.dispose();
    reference?.dispose();
    aligner?.dispose();
  }
  await provenance.end("evaluate", { backend: { ...backend }, artifacts });
}

/**
 * Runs every stage into a new run folder and returns its context.
 *
 * @throws {MissingDataError} Before any work, when the profile's data is missing.
 * @throws {RunExistsError} When the run folder exists.
 */
export async function reproduce(
  options: ReproduceOptions,
): Promise<RunContext> {
  const { config } = options.resolved;
  await checkInputs(config, options.resolved.profile);
  const context = await startRun(options);
  try {
    const dataset = await datasetStep(context);
    const summary = await trainStep(context, dataset.dir);
    await evaluateStep(context, summary.model_path, dataset.synthetic);
  } catch (error) {
    await context.provenance.fail(error);
    throw error;
  }
  reportStageTimes(context);
  return context;
}

/**
 * Prints the wall time of each stage, and records it as one JSON line, so
 * that runs can be compared stage by stage (provenance.json keeps the start
 * and end of each).
 */
function reportStageTimes(context: RunContext): void {
  const stages = context.provenance.stageSeconds();
  const total = stages.reduce((sum, s) => sum + s.seconds, 0);
  context.reporter.record({
    event: "stage_seconds",
    ...Object.fromEntries(stages.map((s) => [s.stage, s.seconds])),
    total,
  });
  context.reporter.info(
    `wall time by stage: ${
      stages.map((s) => `${s.stage} ${s.seconds.toFixed(1)} s`).join(", ")
    }; total ${total.toFixed(1)} s`,
  );
}
